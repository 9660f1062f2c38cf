"""Edit and delete over real sockets: queued, then message:updated to the room; deleted content hidden."""
from __future__ import annotations

import pytest

from tests.e2e.harness import two_members_and_an_outsider, wait_until

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
