"""Edit and delete over real sockets: queued, then message:updated to the room; deleted content hidden."""
from __future__ import annotations

import pytest

from tests.e2e.harness import Api, make_conversation, two_members_and_an_outsider, wait_until

pytestmark = pytest.mark.e2e


def test_edit_then_delete_reach_the_room(system, clients):
    alice, bob, carol, conv, a, b, c = two_members_and_an_outsider(system, clients)
    a.call("message:send", {"convId": conv["id"], "clientId": "e1", "content": "tpyo"})
    [msg] = b.wait_for("message:new")

    ack = a.call("message:edit", {"messageId": msg["id"], "content": "typo fixed"})
    assert ack == {"ok": True, "messageId": msg["id"], "status": "queued"}
    [edited] = b.wait_for("message:updated")
    assert (edited["content"], edited["isEdited"]) == ("typo fixed", True)
    assert [e["content"] for e in edited["editHistory"]] == ["tpyo"]

    refused = b.call("message:edit", {"messageId": msg["id"], "content": "not mine"})
    assert refused["error"]["code"] == "forbidden"
    assert b.call("message:delete", {"messageId": msg["id"]})["error"]["code"] == "forbidden"
    assert a.call("message:delete", {"messageId": msg["id"]})["ok"]
    deleted = b.wait_for("message:updated", 2)[-1]
    assert (deleted["isDeleted"], deleted["deletedBy"], deleted["content"]) == (True, alice.id, "")
    wait_until(lambda: bob.chat(conv["id"])[0]["isDeleted"])
    stored = bob.chat(conv["id"])[0]
    assert stored["content"] == "" and stored["editHistory"] == []
    assert c.got("message:updated") == []


def test_a_moderator_sees_deleted_content_and_a_member_gets_nothing(system):
    alice, bob, mod = Api(system), Api(system), Api(system)
    group, conv = make_conversation(alice, bob)  # mod moderates the group without being in the conversation
    alice.ok("POST", f"/api/groups/{group['id']}/members", json={"username": mod.username, "role": "MODERATOR"})
    path = f"/api/conversations/{conv['id']}/messages"
    alice.ok("POST", path, json={"clientId": "d1", "content": "regrettable"})
    [sent] = wait_until(lambda: bob.chat(conv["id"]), what="the stored message")
    a = alice.socket()  # deletes travel over the socket (message:delete)
    try:
        assert a.call("message:delete", {"messageId": sent["id"]})["ok"]
    finally:
        a.close()
    wait_until(lambda: bob.chat(conv["id"])[0]["isDeleted"], what="the delete")

    moderated = [m for m in mod.ok("GET", path, params={"view": "moderation"})["messages"] if m["type"] != "system"]
    assert (moderated[0]["content"], moderated[0]["deletedBy"]) == ("regrettable", alice.id)
    assert bob.chat(conv["id"])[0]["content"] == ""  # the default view still hides it
    refused = bob.call("GET", path, params={"view": "moderation"})
    assert refused.status_code == 403 and refused.json() == {"error": refused.json()["error"]}
    assert refused.json()["error"]["code"] == "forbidden"
