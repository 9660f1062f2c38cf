"""The write gate end to end: writes that are not messages meet the same checks as messages, against the real
server (its worker, redis-server, moto S3)."""
from __future__ import annotations

import pytest

from bench.thumbnails import photo_jpeg
from tests.e2e.harness import Api, make_conversation, own_system, wait_until
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


def test_an_edit_loop_is_refused_past_its_rate_and_holds_nobody_back():
    with own_system(EDIT_RATE_LIMIT="3/10 seconds", TEXT_RATE_LIMIT="5/minute") as system:
        alice, bob = Api(system), Api(system)
        _, conv = make_conversation(alice, bob)
        a = alice.socket()
        try:
            a.wait_for("session:ready")
            assert a.call("message:send", {"convId": conv["id"], "clientId": "m", "content": "v0"})["ok"]
            mid = wait_until(lambda: alice.chat(conv["id"]), what="the message")[0]["id"]
            acks = [a.call("message:edit", {"messageId": mid, "content": f"v{i}"}) for i in range(1, 5)]
            assert [x["ok"] for x in acks] == [True, True, True, False]
            assert acks[3]["error"]["code"] == "rate_limited" and 1 <= acks[3]["error"]["details"]["retryAfter"] <= 10
            r = bob.call("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": "b", "content": "hi"})
            assert r.status_code == 202
            wait_until(lambda: [m["content"] for m in alice.chat(conv["id"])] == ["v3", "hi"], what="v3, then bob's")
            # Names and titles have theirs: the sixth text write of the minute (make_conversation made a group
            # and a conversation) is refused over REST.
            for i in range(3):
                assert alice.call("POST", "/api/groups", json={"name": f"g{i}"}).status_code == 201
            r = alice.call("POST", "/api/groups", json={"name": "one too many"})
            assert (r.status_code, r.json()["error"]["code"]) == (429, "rate_limited")
            assert int(r.headers["Retry-After"]) >= 1
        finally:
            a.close()
