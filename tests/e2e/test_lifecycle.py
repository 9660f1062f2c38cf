"""The content lifecycle end to end: a member deletes a message with an image, and every reader honours it
(history, gallery, download, a reply's quote, a notification's body); after the grace the S3 objects are
gone. A real server with its workers and beat, real sockets, moto's S3 over HTTP."""
from __future__ import annotations

import pytest

from bench.thumbnails import photo_jpeg
from tests.e2e.harness import Api, make_conversation, own_system, two_members_and_an_outsider, wait_until
from tests.e2e.test_exports import _objects
from tests.e2e.test_media import complete, upload

pytestmark = pytest.mark.e2e


def test_a_deleted_message_takes_its_image_quote_and_notification_body_everywhere(clients):
    # A grace of about a second, and a purge every second, so that the test sees the objects go.
    with own_system(MEDIA_DELETE_GRACE_MINUTES="0.02", MEDIA_PURGE_EVERY_SECONDS="1") as system:
        alice, bob, _, conv, a, b, _ = two_members_and_an_outsider(system, clients)
        created = upload(alice, conv["id"], photo_jpeg((640, 480)), "image/jpeg", "holiday.jpg")
        complete(alice, created["id"])
        media_id = created["id"]
        wait_until(lambda: alice.ok("GET", f"/api/media/{media_id}")["status"] == "ready", 30, what="the photo")
        assert a.call("message:send", {"convId": conv["id"], "clientId": "photo", "content": f"@{bob.username} the secret",
                                       "attachments": [media_id]})["ok"]
        [photo] = b.wait_for("message:new")
        assert b.call("message:send", {"convId": conv["id"], "clientId": "reply", "content": "wow",
                                       "replyTo": photo["id"]})["ok"]
        reply = wait_until(lambda: [m for m in a.got("message:new") if m["clientId"] == "reply"], 10,
                           what="the reply")[0]
        assert reply["metadata"]["quote"]["excerpt"] == f"@{bob.username} the secret"
        mention = wait_until(lambda: bob.ok("GET", "/api/notifications")["notifications"], 10, what="the mention")[0]
        assert "the secret" in mention["body"]
        s3_prefix = f"media/{conv['id']}/{media_id}/"
        assert len(_objects(system, s3_prefix)[0]) == 3   # original, small, large

        assert a.call("message:delete", {"messageId": photo["id"]})["ok"]

        def quote_deleted():
            return [m for m in b.got("message:updated") if m["id"] == reply["id"] and m["metadata"]["quote"]["deleted"]]
        [updated] = wait_until(quote_deleted, 10, what="the reply's quote to say deleted")
        assert updated["metadata"]["quote"]["excerpt"] == "" and "secret" not in str(updated)
        history = bob.ok("GET", f"/api/conversations/{conv['id']}/messages")["messages"]
        gone = next(m for m in history if m["id"] == photo["id"])
        assert gone["isDeleted"] and gone["content"] == "" and "files" not in gone["metadata"]
        assert "secret" not in str(history)
        assert bob.ok("GET", f"/api/conversations/{conv['id']}/media")["media"] == []
        for path in (f"/api/media/{media_id}/content", f"/api/media/{media_id}/content?variant=small",
                     f"/api/media/{media_id}"):
            r = bob.call("GET", path, allow_redirects=False)
            assert r.status_code == 410 and r.json()["error"]["code"] == "gone", (path, r.text)
        r = bob.call("POST", f"/api/media/{media_id}/likes")
        assert r.status_code == 410, r.text
        [told] = [n for n in bob.ok("GET", "/api/notifications")["notifications"] if n["id"] == mention["id"]]
        assert told["body"] == "" and told["data"]["deleted"] is True
        r = bob.call("POST", f"/api/messages/{photo['id']}/reminders", json={"at": "2099-01-01T10:00:00Z"})
        assert r.status_code == 410, r.text

        # After the grace, beat's purge deletes the original and its renditions from S3.
        wait_until(lambda: _objects(system, s3_prefix)[0] == [], 20, 0.2, what="the S3 objects to be purged")


def test_a_file_and_a_comment_are_deleted_on_their_own(system, clients):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    created = upload(alice, conv["id"], b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
                     "application/pdf", "notes.pdf")
    complete(alice, created["id"])
    media_id = created["id"]
    wait_until(lambda: alice.ok("GET", f"/api/media/{media_id}")["status"] in ("ready", "failed"), 30, what="the file")
    comment = bob.call("POST", f"/api/media/{media_id}/comments", json={"content": "thanks"}).json()
    r = alice.call("DELETE", f"/api/media/{media_id}/comments/{comment['id']}")
    assert r.status_code == 204, r.text   # alice administers the group: a moderator's deletion
    assert alice.ok("GET", f"/api/media/{media_id}")["commentCount"] == 0
    log = alice.ok("GET", f"/api/groups/{conv['groupId']}/moderation/log")["entries"]
    assert [e["action"] for e in log if e["targetId"] == media_id] == ["comment_deleted"]
    r = bob.call("DELETE", f"/api/media/{media_id}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
    assert alice.call("DELETE", f"/api/media/{media_id}").status_code == 204
    r = bob.call("GET", f"/api/media/{media_id}/content", allow_redirects=False)
    assert r.status_code == 410 and r.json()["error"]["code"] == "gone"
    assert alice.call("DELETE", f"/api/media/{media_id}").status_code == 410
