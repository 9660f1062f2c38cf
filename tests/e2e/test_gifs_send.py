"""A GIF send end to end: the real server (its embedded workers, Redis, moto S3 over HTTP) pointed at the local
provider server (tests/gif_provider.py) as Giphy. A search over REST offers GIFs; ``message:send {gif}`` over
the socket delivers a message at once whose file becomes ready; its original is the provider's bytes copied
into S3, served from S3; the provider going away afterwards changes nothing for the message."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.harness import Api, make_conversation, own_system, wait_until
from tests.e2e.test_media import complete, upload
from tests.gif_provider import _RENDITIONS, CATALOGUE, GifProviderServer, animated_gif, media_file
from tests.servers import session_s3_server

pytestmark = pytest.mark.e2e
HAPPYCAT = next(gif for gif in CATALOGUE if gif.name == "happycat")


@pytest.fixture
def provider():
    """A provider server of this test's own: it is stopped mid-test (the provider deleting everything)."""
    server = GifProviderServer().start()
    yield server
    server.stop()


def _latest(client, client_id: str):
    seen = [m for m in client.got("message:new") + client.got("message:updated") if m["clientId"] == client_id]
    return seen[-1] if seen else None


def test_a_chosen_gif_is_copied_into_s3_and_outlives_the_provider(provider, clients):
    with own_system(**provider.env("giphy")) as system:
        alice, bob = Api(system), Api(system)
        _, conv = make_conversation(alice, bob)
        a, b = alice.socket(), bob.socket()
        clients.extend([a, b])
        for s in (a, b):
            s.wait_for("session:ready")
            assert s.call("conv:subscribe", {"convId": conv["id"]})["ok"]

        # An id no search of alice's showed is refused, and nothing is delivered.
        refused = a.call("message:send", {"convId": conv["id"], "clientId": "nope", "gif": {"id": "giphy:happycat"}})
        assert refused["ok"] is False and refused["error"]["code"] == "invalid_gif", refused

        found = alice.ok("GET", f"/api/gifs/search?q=happy&convId={conv['id']}&limit=5")
        assert found["provider"] == "giphy" and "giphy:happycat" in [g["id"] for g in found["gifs"]]
        ack = a.call("message:send", {"convId": conv["id"], "clientId": "gif1", "gif": {"id": "giphy:happycat"}})
        assert ack["ok"] and ack["status"] == "queued", ack

        [new] = b.wait_for("message:new")
        [file] = new["metadata"]["files"]
        assert new["type"] == "media" and file["gif"] == {"provider": "giphy", "title": HAPPYCAT.title}
        ready = wait_until(lambda: (m := _latest(b, "gif1")) and m["metadata"]["files"][0]["status"] == "ready" and m,
                           30, what="the GIF's copy to be ready")
        summary = ready["metadata"]["files"][0]
        assert summary["animated"] is True and set(summary["variants"]) == {"small", "large"}
        assert provider.media_requests, "the worker fetched the file from the provider"
        # The REST send takes a GIF the same way (here one the same search showed).
        found = alice.ok("GET", f"/api/gifs/search?q=cat&convId={conv['id']}&limit=5")
        assert "giphy:sadcat" in [g["id"] for g in found["gifs"]]
        r = alice.call("POST", f"/api/conversations/{conv['id']}/messages",
                       json={"clientId": "gif2", "gif": {"id": "giphy:sadcat"}})
        assert r.status_code == 202, r.text
        wait_until(lambda: (m := _latest(b, "gif2")) and m["metadata"]["files"][0]["status"] == "ready", 30,
                   what="the REST send's GIF to be ready")

        provider.stop()   # the provider deletes the GIF (and everything else)

        media = bob.ok("GET", f"/api/media/{file['mediaId']}")
        assert media["status"] == "ready" and "source" not in media
        copies = {media_file(HAPPYCAT, r)[0] for r, spec in _RENDITIONS.items() if spec[3] == media["mimeType"]}
        for variant in ("original", "small"):
            r = bob.call("GET", f"/api/media/{file['mediaId']}/content?variant={variant}", allow_redirects=False)
            assert r.status_code == 302, r.text
            location = urlsplit(r.headers["Location"])
            assert f"{location.scheme}://{location.netloc}" == session_s3_server().url   # S3, not the provider
            got = requests.get(r.headers["Location"], timeout=10)
            assert got.status_code == 200 and got.content
            if variant == "original":
                assert got.content in copies   # the provider's bytes, byte for byte
        history = bob.ok("GET", f"/api/conversations/{conv['id']}/messages")["messages"]
        [shown] = [m for m in history if m["clientId"] == "gif1"]
        assert shown["metadata"]["files"][0]["status"] == "ready"
        assert _latest(b, "nope") is None


def test_without_a_provider_a_library_gif_is_copied_inside_s3(clients):
    """Offline (no key: the group's library): an animated upload becomes ready, is found by its name, and a
    send of it carries a copy of its own (S3's CopyObject), which stays when the first file is deleted."""
    with own_system(GIF_PROVIDER="library") as system:
        alice, bob = Api(system), Api(system)
        _, conv = make_conversation(alice, bob)
        b = bob.socket()
        clients.append(b)
        b.wait_for("session:ready")
        assert b.call("conv:subscribe", {"convId": conv["id"]})["ok"]
        data = animated_gif(80, 60, (30, 160, 220), frames=5)
        created = upload(alice, conv["id"], data, "image/gif", "dancing-penguin.gif")
        complete(alice, created["id"])
        wait_until(lambda: alice.ok("GET", f"/api/media/{created['id']}")["status"] == "ready", 30,
                   what="the upload to be ready")
        assert alice.ok("GET", f"/api/media/{created['id']}")["animated"] is True

        found = bob.ok("GET", f"/api/gifs/search?q=penguin&convId={conv['id']}")
        assert found["provider"] == "library" and [g["id"] for g in found["gifs"]] == [f"library:{created['id']}"]
        ack = b.call("message:send", {"convId": conv["id"], "clientId": "lib1",
                                      "gif": {"id": f"library:{created['id']}"}})
        assert ack["ok"], ack
        ready = wait_until(lambda: (m := _latest(b, "lib1")) and m["metadata"]["files"][0]["status"] == "ready" and m,
                           30, what="the library GIF's copy to be ready")
        copy_id = ready["metadata"]["files"][0]["mediaId"]
        assert copy_id != created["id"] and ready["metadata"]["files"][0]["gif"]["provider"] == "library"
        assert alice.call("DELETE", f"/api/media/{created['id']}").status_code in (200, 204)
        r = alice.call("GET", f"/api/media/{copy_id}/content?variant=original", allow_redirects=False)
        assert r.status_code == 302 and requests.get(r.headers["Location"], timeout=10).content == data
