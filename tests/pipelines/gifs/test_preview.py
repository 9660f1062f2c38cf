"""The preview proxy: it serves only previews a search produced, fetched from the provider's media hosts by
this server, typed by their bytes, cached; everything else is refused with its code."""
from __future__ import annotations

import pytest

from pipelines.gifs.preview import serve_preview, sniff
from pipelines.gifs.search import PREVIEW_PATH, preview_token, search_gifs
from schemas.errors import ApiError, Code
from schemas.payloads import parse_gif_search
from tests.pipelines.gifs.world import config


def shown_token(w, cfg, q: str) -> str:
    answer = search_gifs(w.store, w.redis, cfg, w.alice, parse_gif_search({"q": q, "convId": w.conv.id}))
    return answer.gifs[0].previewUrl[len(PREVIEW_PATH):]


def refused(call) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def test_a_searched_preview_is_served_typed_by_its_bytes_and_cached(w):
    cfg = config(w)
    token = shown_token(w, cfg, "happy")
    first = serve_preview(w.redis, cfg, token)
    assert first.content_type == "image/webp" and first.data[8:12] == b"WEBP"
    assert first.max_age == cfg.cache_seconds
    again = serve_preview(w.redis, cfg, token)
    assert again.data == first.data and again.content_type == first.content_type
    assert w.server.media_requests == ["/media/happycat/small.webp"]      # fetched once


def test_without_a_cache_each_preview_is_fetched(w):
    cfg = config(w, gif_cache_seconds=0)
    token = shown_token(w, cfg, "happy")
    serve_preview(w.redis, cfg, token)
    serve_preview(w.redis, cfg, token)
    assert len(w.server.media_requests) == 2


def test_a_url_never_offered_is_refused(w):
    cfg = config(w)
    shown_token(w, cfg, "happy")
    # A real provider URL, even on the media host, that no search showed: no token of it was registered.
    never = preview_token(w.server.media_url("sadcat", "small.webp"))
    assert refused(lambda: serve_preview(w.redis, cfg, never)).code == Code.NOT_FOUND
    assert w.server.media_requests == []


def test_a_preview_that_redirects_to_another_host_is_refused(w):
    cfg = config(w)
    error = refused(lambda: serve_preview(w.redis, cfg, shown_token(w, cfg, "elsewhere")))
    assert error.code == Code.INVALID_GIF and "127.0.0.1" in error.message
    assert w.server.media_requests == ["/media/elsewhere/original.gif"]


def test_a_preview_that_is_not_an_image_is_refused(w):
    cfg = config(w)
    error = refused(lambda: serve_preview(w.redis, cfg, shown_token(w, cfg, "liar")))
    assert error.code == Code.INVALID_GIF and "not an image" in error.message


def test_an_oversized_preview_is_refused(w):
    cfg = config(w, gif_preview_max_bytes=64 * 1024)
    error = refused(lambda: serve_preview(w.redis, cfg, shown_token(w, cfg, "huge")))
    assert error.code == Code.INVALID_GIF and "larger than 65536 bytes" in error.message


def test_a_slow_preview_is_unavailable(w):
    cfg = config(w, gif_fetch_timeout_seconds=0.5)
    w.server.slow_seconds = 2.0
    error = refused(lambda: serve_preview(w.redis, cfg, shown_token(w, cfg, "slow")))
    assert error.code == Code.GIF_UNAVAILABLE and "in time" in error.message


def test_a_provider_on_a_private_address_is_refused_unless_allowed(w):
    cfg = config(w, gif_allow_private=False)
    error = refused(lambda: serve_preview(w.redis, cfg, shown_token(w, cfg, "happy")))
    assert error.code == Code.INVALID_GIF and "public address" in error.message
    assert w.server.media_requests == []


def test_a_media_host_outside_the_providers_is_refused(w):
    cfg = config(w, gif_media_hosts="media.example.org")
    error = refused(lambda: serve_preview(w.redis, cfg, shown_token(w, cfg, "happy")))
    assert error.code == Code.INVALID_GIF and "media hosts" in error.message


@pytest.mark.parametrize("data, kind", [(b"GIF89a...", "image/gif"), (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
                                        (b"\x89PNG\r\n\x1a\n..", "image/png"), (b"\xff\xd8\xff\xe0", "image/jpeg"),
                                        (b"\0\0\0\x18ftypmp42", "video/mp4"), (b"<svg onload=x>", None),
                                        (b"<html>", None)])
def test_the_type_is_read_from_the_bytes(data, kind):
    assert sniff(data) == kind
