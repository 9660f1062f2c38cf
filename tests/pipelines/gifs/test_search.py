"""GIF search and trending through a provider (the local Giphy/Tenor server): what is asked of the provider
(rating, language, key), what the member sees (the proxy's preview URLs only), the Redis cache, the offers
remembered, and each failure as ``gif_unavailable`` with its reason."""
from __future__ import annotations

import logging

import pytest

from pipelines.gifs.offers import find_offer
from pipelines.gifs.search import PREVIEW_PATH, preview_url, search_gifs
from schemas.errors import ApiError, Code
from schemas.payloads import parse_gif_search, parse_gif_trending
from tests.gif_provider import GIPHY_KEY, TENOR_KEY
from tests.pipelines.gifs.world import config


def search(w, cfg, q, who=None, conv=None, limit=None):
    args = {"q": q, "convId": (conv or w.conv).id}
    if limit:
        args["limit"] = str(limit)
    return search_gifs(w.store, w.redis, cfg, who or w.alice, parse_gif_search(args))


def trending(w, cfg, who=None):
    return search_gifs(w.store, w.redis, cfg, who or w.alice, parse_gif_trending({"convId": w.conv.id}))


def refused(call) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def test_a_giphy_search_answers_the_proxys_previews_never_the_providers(w):
    answer = search(w, config(w), "cat")
    public = answer.public()
    assert public["provider"] == "giphy"
    assert [g["id"] for g in public["gifs"]] == ["giphy:happycat", "giphy:sadcat"]
    assert public["gifs"][0]["title"] == "happy cat dancing"
    assert set(public["gifs"][0]) == {"id", "title", "width", "height", "previewUrl"}
    for gif in public["gifs"]:
        assert gif["previewUrl"].startswith(PREVIEW_PATH)
        assert "localhost" not in gif["previewUrl"] and gif["width"] > 0
        # The token stands for the provider's preview, registered for the proxy.
        assert preview_url(w.redis, gif["previewUrl"][len(PREVIEW_PATH):]).startswith(w.server.base_url + "/media/")
    path, args = w.server.api_requests[0]
    assert path == "/v1/gifs/search"
    assert args == {"api_key": GIPHY_KEY, "q": "cat", "limit": "24", "offset": "0", "rating": "g", "lang": "en"}


@pytest.mark.parametrize("rating", ["g", "pg", "pg-13", "r"])
def test_the_groups_rating_is_passed_to_giphy(w, rating):
    w.store.groups.set_group_settings(w.conv.groupId, {"gifRating": rating})
    ids = [g.id for g in search(w, config(w), "dancing party night").gifs]
    assert w.server.api_requests[0][1]["rating"] == rating
    # The provider filtered what is above the rating: pg-13 "spicy dancing" only from pg-13 up.
    assert ("giphy:spicydance" in ids) == (rating in ("pg-13", "r"))


@pytest.mark.parametrize("rating, contentfilter", [("g", "high"), ("pg", "medium"), ("pg-13", "low"), ("r", "off")])
def test_the_groups_rating_is_tenors_content_filter(w, rating, contentfilter):
    w.store.groups.set_group_settings(w.conv.groupId, {"gifRating": rating})
    answer = search(w, config(w, "tenor"), "party")
    assert answer.provider == "tenor"
    path, args = w.server.api_requests[0]
    assert path == "/v2/search"
    assert args == {"key": TENOR_KEY, "q": "party", "limit": "24", "contentfilter": contentfilter, "locale": "en"}
    assert ("tenor:wildparty" in [g.id for g in answer.gifs]) == (rating == "r")


def test_the_members_language_is_passed(w):
    w.store.db.users.update_one({"_id": w.bob.id}, {"$set": {"language": "fr"}})
    bob = w.store.users.get_user(w.bob.id)
    search(w, config(w), "cat", who=bob)
    assert w.server.api_requests[0][1]["lang"] == "fr"


@pytest.mark.parametrize("provider, path", [("giphy", "/v1/gifs/trending"), ("tenor", "/v2/featured")])
def test_trending(w, provider, path):
    answer = trending(w, config(w, provider))
    assert w.server.api_requests[0][0] == path
    assert [g.id for g in answer.gifs] == [f"{provider}:happycat", f"{provider}:sadcat", f"{provider}:thumbsup"]
    assert all(g.previewUrl.startswith(PREVIEW_PATH) for g in answer.gifs)


def test_the_same_search_is_answered_from_the_cache(w):
    cfg = config(w)
    first = search(w, cfg, "happy cat").public()
    again = search(w, cfg, "  Happy   CAT ", who=w.bob).public()
    assert again == first
    assert w.server.api_count("/search") == 1
    # Another limit, another rating: asked again.
    search(w, cfg, "happy cat", limit=5)
    w.store.groups.set_group_settings(w.conv.groupId, {"gifRating": "pg"})
    search(w, cfg, "happy cat")
    assert w.server.api_count("/search") == 3


def test_without_a_cache_each_search_asks(w):
    cfg = config(w, gif_cache_seconds=0)
    search(w, cfg, "cat")
    search(w, cfg, "cat")
    assert w.server.api_count("/search") == 2


def test_an_offered_gif_is_remembered_for_its_user_only(w):
    search(w, config(w), "thumbs")
    offer = find_offer(w.redis, w.alice.id, "giphy:thumbsup")
    assert offer is not None and offer.provider == "giphy" and offer.title == "thumbs up great job"
    # The file to copy is the provider's own (the send fetches it), the preview too (the proxy fetches it).
    assert offer.mediaUrl.startswith(w.server.base_url) and offer.mime == "image/webp"
    assert offer.previewUrl.startswith(w.server.base_url)
    assert find_offer(w.redis, w.alice.id, "giphy:happycat") is None       # never shown to alice
    assert find_offer(w.redis, w.bob.id, "giphy:thumbsup") is None         # shown to alice, not bob


def test_a_cached_answer_is_remembered_for_whoever_gets_it(w):
    cfg = config(w)
    search(w, cfg, "thumbs")
    search(w, cfg, "thumbs", who=w.bob)
    assert find_offer(w.redis, w.bob.id, "giphy:thumbsup") is not None


def test_only_members_search(w):
    cfg = config(w)
    error = refused(lambda: search(w, cfg, "cat", who=w.carol))
    assert error.code == Code.FORBIDDEN
    error = refused(lambda: search(w, cfg, "cat", conv=type(w.conv)(**{**w.conv.model_dump(), "id": "f" * 24})))
    assert error.code == Code.NOT_FOUND
    assert w.server.api_requests == []


def test_searches_are_rate_limited_per_user(w):
    cfg = config(w, rate="2/minute", gif_cache_seconds=0)
    search(w, cfg, "cat")
    search(w, cfg, "cat")
    error = refused(lambda: search(w, cfg, "cat"))
    assert error.code == Code.RATE_LIMITED and "GIF searches" in error.message and error.details["retryAfter"] >= 1
    search(w, cfg, "cat", who=w.bob)            # another user's own window
    assert w.server.api_count() == 3


@pytest.mark.parametrize("mode, words", [
    ("unauthorized", "refused this server's API key (401)"), ("forbidden", "refused this server's API key (403)"),
    ("error", "failed (500)"), ("garbage", "not its API"), ("slow", "did not answer in time")])
@pytest.mark.parametrize("provider", ["giphy", "tenor"])
def test_each_provider_failure_is_gif_unavailable_with_its_reason(w, caplog, provider, mode, words):
    w.server.fail(mode)
    w.server.slow_seconds = 1.5
    cfg = config(w, provider, gif_fetch_timeout_seconds=0.5)
    with caplog.at_level(logging.DEBUG):
        error = refused(lambda: search(w, cfg, "cat"))
    assert error.code == Code.GIF_UNAVAILABLE and error.status == 502
    assert words in error.message and provider in error.message
    ours = [r.getMessage() for r in caplog.records if r.name != "werkzeug"]    # (werkzeug: the provider's own log)
    assert any(f"GIF provider {provider}" in m for m in ours)
    assert mode == "slow" or any("key=[redacted]" in m for m in ours)     # urllib3's request line, key cut
    assert not [m for m in ours if GIPHY_KEY in m or TENOR_KEY in m] and GIPHY_KEY not in error.message
    # Nothing cached, nothing offered: the next search asks again.
    w.server.reset()
    assert [g.id for g in search(w, cfg, "cat").gifs] == [f"{provider}:happycat", f"{provider}:sadcat"]


def test_a_wrong_key_is_refused_by_the_provider_and_said(w):
    cfg = config(w, giphy_api_key="not-the-key")
    error = refused(lambda: search(w, cfg, "cat"))
    assert error.code == Code.GIF_UNAVAILABLE and "API key (401)" in error.message


def test_a_rate_limit_keeps_the_providers_retry_hint(w):
    w.server.fail("rate_limited", times=1)
    error = refused(lambda: search(w, config(w), "cat"))
    assert error.code == Code.GIF_UNAVAILABLE and "rate limiting" in error.message
    assert error.details == {"provider": "giphy", "retryAfter": 7}


def test_an_unreachable_provider_is_unavailable(w):
    cfg = config(w, giphy_api_url="http://localhost:9")
    error = refused(lambda: search(w, cfg, "cat"))
    assert error.code == Code.GIF_UNAVAILABLE and "cannot be reached" in error.message


@pytest.mark.parametrize("args, code", [
    ({"q": "   "}, Code.INVALID_QUERY), ({"q": "x" * 51}, Code.INVALID_QUERY), ({"q": "cat", "limit": "0"}, Code.INVALID_LIMIT),
    ({"q": "cat", "limit": "51"}, Code.INVALID_LIMIT), ({"q": "cat", "limit": "ten"}, Code.INVALID_LIMIT),
    ({"q": "cat", "convId": "nope"}, Code.INVALID_PAYLOAD), ({"q": "cat", "offset": "3"}, Code.INVALID_PAYLOAD)])
def test_bad_queries_are_refused_with_their_code(w, args, code):
    error = refused(lambda: parse_gif_search({"convId": w.conv.id, **args}))
    assert error.code == code


def test_a_query_of_fifty_characters_after_trimming_is_fine(w):
    assert parse_gif_search({"convId": w.conv.id, "q": "  " + "x" * 50 + "  "}).q == "x" * 50
