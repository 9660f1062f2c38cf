"""Typing over real sockets: to the room's other members only, ending by stop or by itself, rate-limited."""
from __future__ import annotations

import time

import pytest

from tests.e2e.harness import Api, make_conversation, two_members_and_an_outsider, wait_until

pytestmark = pytest.mark.e2e


def test_typing_reaches_the_other_members_only_and_expires(system, clients):
    alice, bob, carol, conv, a, b, c = two_members_and_an_outsider(system, clients)
    expected = {"convId": conv["id"], "userId": alice.id}

    assert a.call("typing:start", {"convId": conv["id"]}) == {"ok": True, "convId": conv["id"]}
    assert a.call("typing:start", {"convId": conv["id"]})["ok"]  # a refresh, not broadcast again
    assert b.wait_for("typing:start") == [expected]
    assert a.call("typing:stop", {"convId": conv["id"]})["ok"]
    assert b.wait_for("typing:stop") == [expected]

    a.call("typing:start", {"convId": conv["id"]})
    b.wait_for("typing:start", 2)
    started = time.monotonic()
    b.wait_for("typing:stop", 2, timeout=5)  # no stop sent: it ends by itself (TTL 1 s in tests)
    assert time.monotonic() - started >= 0.8

    assert c.call("typing:start", {"convId": conv["id"]})["error"]["code"] == "forbidden"
    time.sleep(0.2)
    assert a.got("typing:start") == [] and c.got("typing:start") == []  # not echoed, not leaked
    assert len(b.got("typing:start")) == 2


def test_typing_is_rate_limited_per_user(system, clients):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    a = alice.socket()
    clients.append(a)
    a.wait_for("session:ready")
    acks = [a.call("typing:start", {"convId": conv["id"]}) for _ in range(22)]
    assert all(ack["ok"] for ack in acks[:20])
    assert acks[20]["ok"] is False and acks[20]["error"]["code"] == "rate_limited"


def test_disconnect_ends_typing(system, clients):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    a, b = alice.socket(), bob.socket()
    clients.extend([a, b])
    for s in (a, b):
        s.wait_for("session:ready")
        s.call("conv:subscribe", {"convId": conv["id"]})
    a.call("typing:start", {"convId": conv["id"]})
    b.wait_for("typing:start")
    a.close()
    wait_until(lambda: b.got("typing:stop"), 0.9, what="typing:stop at disconnect, before the TTL")
