"""The write gate end to end: writes that are not messages meet the same checks as messages, against the real
server (its worker, redis-server, moto S3)."""
from __future__ import annotations

import pytest

from bench.thumbnails import photo_jpeg
from tests.e2e.harness import Api, make_conversation, wait_until
from tests.e2e.test_media import complete, upload

pytestmark = pytest.mark.e2e


def test_comments_albums_and_captions_go_through_the_gate(system):
    alice, bob, eve = Api(system), Api(system), Api(system)
    group, conv = make_conversation(alice, bob)
    photo = upload(alice, conv["id"], photo_jpeg((64, 48)), "image/jpeg", "beach.jpg")
    complete(alice, photo["id"])
    path = f"/api/media/{photo['id']}"
    wait_until(lambda: alice.ok("GET", path)["status"] == "ready", 30, what="the photo processed")
    assert bob.call("POST", f"{path}/comments", json={"content": "superbe"}).status_code == 201

    # A muted member's comment: refused, saying until when.
    mute = alice.ok("POST", f"/api/groups/{group['id']}/mutes", json={"username": bob.username, "minutes": 30,
                                                                      "reason": "flood"})
    r = bob.call("POST", f"{path}/comments", json={"content": "et encore"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "muted")
    assert r.json()["error"]["details"]["until"] == mute["until"]
    # Someone outside the conversation: not a member.
    r = eve.call("POST", f"{path}/comments", json={"content": "hello"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_a_member")
    assert [c["content"] for c in alice.ok("GET", path)["comments"]] == ["superbe"]

    # The group's filter, with the message path's folding: a blocked word in an album's name, a masked
    # one in a caption.
    for pattern, action in (("zorglub", "block"), ("zut", "mask")):
        alice.ok("POST", f"/api/groups/{group['id']}/filters", json={"kind": "word", "pattern": pattern,
                                                                     "action": action})
    r = alice.call("POST", f"/api/conversations/{conv['id']}/albums", json={"name": "Vacances ZÖRGLUB"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "content_blocked")
    assert r.json()["error"]["details"]["field"] == "name"
    assert alice.ok("GET", f"/api/conversations/{conv['id']}/albums")["albums"] == []
    captioned = alice.ok("PATCH", path, json={"caption": "zut, la marée"})
    assert captioned["caption"] == "•••, la marée"
    r = bob.call("PATCH", path, json={"caption": "mine"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "muted")
