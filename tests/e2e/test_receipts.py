"""Read receipts over real sockets: the mark moves forward, the room hears it, unread counts follow."""
from __future__ import annotations

import time

import pytest

from tests.e2e.harness import Api, make_conversation

pytestmark = pytest.mark.e2e


def test_read_receipts_reach_the_room_and_update_unread(system, clients):
    alice, bob, carol = Api(system), Api(system), Api(system)
    group, conv = make_conversation(alice, bob)
    alice.ok("POST", f"/api/groups/{group['id']}/members", json={"username": carol.username})
    a, b, c = alice.socket(), bob.socket(), carol.socket()
    clients.extend([a, b, c])
    for s in (a, b):
        s.wait_for("session:ready")
        assert s.call("conv:subscribe", {"convId": conv["id"]})["ok"]
    c.wait_for("session:ready")
    for i in range(4):
        a.call("message:send", {"convId": conv["id"], "clientId": f"r{i}", "content": f"m{i}"})
    b.wait_for("message:new", 4)

    assert b.call("message:read", {"convId": conv["id"], "seq": 3}) == {"ok": True, "convId": conv["id"], "seq": 3}
    assert a.wait_for("message:read")[0] == {"convId": conv["id"], "userId": bob.id, "seq": 3}
    [listed] = bob.ok("GET", "/api/conversations")["conversations"]
    assert (listed["lastSeq"], listed["lastReadSeq"], listed["unread"]) == (4, 3, 1)

    assert b.call("message:read", {"convId": conv["id"], "seq": 1})["seq"] == 3  # never backwards
    bad = b.call("message:read", {"convId": conv["id"], "seq": 0})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_payload"
    refused = c.call("message:read", {"convId": conv["id"], "seq": 2})
    assert refused["error"]["code"] == "forbidden"
    time.sleep(0.3)
    assert len(a.got("message:read")) == 1 and c.got("message:read") == []
