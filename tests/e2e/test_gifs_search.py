"""GIF search through the real system (`python -m app`) against the local provider server: the answer and
its previews over HTTP, the cache shared by the web process's requests, a provider failure as a 502, and
the default system (no key) answering from the group's library."""
from __future__ import annotations

import pytest

from tests.e2e.harness import Api, make_conversation, own_system
from tests.gif_provider import GIPHY_KEY, gif_provider, gif_provider_server  # noqa: F401

pytestmark = pytest.mark.e2e


def test_search_and_previews_through_the_running_system(gif_provider):
    with own_system(**gif_provider.env("giphy")) as system:
        alice, bob, carol = Api(system), Api(system), Api(system)
        _, conv = make_conversation(alice, bob)
        answer = bob.ok("GET", "/api/gifs/search", params={"q": "dancing", "convId": conv["id"]})
        assert answer["provider"] == "giphy"
        assert [g["id"] for g in answer["gifs"]] == ["giphy:happycat"]     # the group's default rating, g
        assert gif_provider.api_requests[-1][1]["rating"] == "g"
        preview = bob.call("GET", answer["gifs"][0]["previewUrl"])
        assert preview.status_code == 200 and preview.headers["Content-Type"] == "image/webp"
        assert preview.content[8:12] == b"WEBP" and preview.headers["X-Content-Type-Options"] == "nosniff"

        again = alice.ok("GET", "/api/gifs/search", params={"q": "Dancing ", "convId": conv["id"]})
        assert again == answer and gif_provider.api_count("/search") == 1      # from Redis

        outsider = carol.call("GET", "/api/gifs/search", params={"q": "cat", "convId": conv["id"]})
        assert outsider.status_code == 403 and outsider.json()["error"]["code"] == "forbidden"
        gif_provider.fail("error")
        failed = bob.call("GET", "/api/gifs/trending", params={"convId": conv["id"]})
        assert failed.status_code == 502 and failed.json()["error"]["code"] == "gif_unavailable"
        assert GIPHY_KEY not in system.log_path.read_text()


def test_without_a_key_the_picker_searches_the_groups_library(system):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    answer = bob.ok("GET", "/api/gifs/search", params={"q": "party", "convId": conv["id"]})
    assert answer == {"provider": "library", "gifs": []}
    trending = bob.ok("GET", "/api/gifs/trending", params={"convId": conv["id"]})
    assert trending == {"provider": "library", "gifs": []}
