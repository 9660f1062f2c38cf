"""Read receipts over real sockets: the mark moves forward, the room hears it, unread counts follow."""
from __future__ import annotations

import time

import pytest

from tests.e2e.harness import two_members_and_an_outsider

pytestmark = pytest.mark.e2e


def test_read_receipts_reach_the_room_and_update_unread(system, clients):
    alice, bob, carol, conv, a, b, c = two_members_and_an_outsider(system, clients)
    for i in range(4):
        a.call("message:send", {"convId": conv["id"], "clientId": f"r{i}", "content": f"m{i}"})
    b.wait_for("message:new", 4)

    assert b.call("message:read", {"convId": conv["id"], "seq": 3}) == {"ok": True, "convId": conv["id"], "seq": 3}
    assert a.wait_for("message:read")[0] == {"convId": conv["id"], "userId": bob.id, "seq": 3}
    [listed] = bob.ok("GET", "/api/conversations")["conversations"]
    assert (listed["lastSeq"], listed["lastReadSeq"], listed["unread"]) == (5, 3, 2)  # seq 1: the system message
    [own] = alice.ok("GET", "/api/conversations")["conversations"]
    assert (own["lastReadSeq"], own["unread"]) == (5, 0)  # an author has read what they wrote

    assert b.call("message:read", {"convId": conv["id"], "seq": 1})["seq"] == 3  # never backwards
    bad = b.call("message:read", {"convId": conv["id"], "seq": 0})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_payload"
    refused = c.call("message:read", {"convId": conv["id"], "seq": 2})
    assert refused["error"]["code"] == "forbidden"
    time.sleep(0.3)
    assert len(a.got("message:read")) == 1 and c.got("message:read") == []
