"""The GIF routes over HTTP (contract v3), against a real Redis and the local provider server: the answer's
shape, the preview proxy's headers, and each refusal as its status and code."""
from __future__ import annotations

import pytest

from app.auth import issue_token
from app.web import create_app
from infra.config import get_settings, use_settings
from infra.runtime import get_runtime
from schemas.common import new_id
from tests.conftest import make_conversation, make_user
from tests.gif_provider import gif_provider, gif_provider_server  # noqa: F401
from tests.pipelines.gifs.world import gif_settings


@pytest.fixture
def world(redis_server, gif_provider):
    before = get_settings()
    try:
        settings = gif_settings(gif_provider, "giphy").model_copy(update={"redis_url": redis_server.url})
        client = create_app(settings).test_client()
        store = get_runtime().store
        store.ensure_indexes()
        tag = new_id()[-6:]
        alice, carol = make_user(store, f"alice-{tag}"), make_user(store, f"carol-{tag}")
        conv = make_conversation(store, [alice])
        yield {"client": client, "server": gif_provider, "conv": conv, "alice": alice, "carol": carol}
    finally:
        use_settings(before)


def get(world, path, who="alice"):
    headers = {"Authorization": f"Bearer {issue_token(world[who])}"} if who else {}
    return world["client"].get(path, headers=headers)


def test_search_trending_and_a_preview_over_http(world):
    conv = world["conv"].id
    r = get(world, f"/api/gifs/search?q=happy&convId={conv}&limit=5")
    assert r.status_code == 200, r.json
    assert r.json["provider"] == "giphy"
    gif = r.json["gifs"][0]
    assert gif["id"] == "giphy:happycat" and gif["previewUrl"].startswith("/api/gifs/preview/")
    assert world["server"].base_url not in r.get_data(as_text=True)          # no provider URL reaches a client
    preview = get(world, gif["previewUrl"])
    assert preview.status_code == 200
    assert preview.headers["Content-Type"] == "image/webp" and preview.data[8:12] == b"WEBP"
    assert preview.headers["Cache-Control"] == "private, max-age=300"
    assert preview.headers["X-Content-Type-Options"] == "nosniff"
    r = get(world, f"/api/gifs/trending?convId={conv}")
    assert r.status_code == 200 and len(r.json["gifs"]) == 3


@pytest.mark.parametrize("path, status, code", [
    ("/api/gifs/search?q=&convId={conv}", 400, "invalid_query"),
    ("/api/gifs/search?q=cat&convId={conv}&limit=99", 400, "invalid_limit"),
    ("/api/gifs/search?q=cat", 400, "invalid_payload"),
    ("/api/gifs/trending?convId={conv}&q=cat", 400, "invalid_payload"),
    ("/api/gifs/preview/not-a-token-of-ours-at-all", 404, "not_found"),
    ("/api/gifs/preview/x", 404, "not_found")])
def test_bad_requests_are_refused_with_their_code(world, path, status, code):
    r = get(world, path.format(conv=world["conv"].id))
    assert (r.status_code, r.json["error"]["code"]) == (status, code)
    assert world["server"].api_requests == [] and world["server"].media_requests == []


def test_who_may_search(world):
    conv = world["conv"].id
    assert get(world, f"/api/gifs/search?q=cat&convId={conv}", who=None).status_code == 401
    r = get(world, f"/api/gifs/search?q=cat&convId={conv}", who="carol")
    assert (r.status_code, r.json["error"]["code"]) == (403, "forbidden")


def test_a_provider_failure_is_a_502_with_its_reason(world):
    world["server"].fail("rate_limited")
    r = get(world, f"/api/gifs/search?q=cat&convId={world['conv'].id}")
    assert r.status_code == 502 and r.json["error"]["code"] == "gif_unavailable"
    assert "rate limiting" in r.json["error"]["message"] and r.headers["Retry-After"] == "7"
