"""Reactions over real sockets: message:updated reaches the room, bad emoji are refused."""
from __future__ import annotations

import threading

import pytest

from tests.e2e.harness import Api, make_conversation, wait_until

pytestmark = pytest.mark.e2e


def test_reactions_from_many_members_at_once(system, clients):
    owner = Api(system)
    members = [Api(system) for _ in range(6)]
    _, conv = make_conversation(owner, *members)
    o = owner.socket()
    clients.append(o)
    o.wait_for("session:ready")
    o.call("conv:subscribe", {"convId": conv["id"]})
    o.call("message:send", {"convId": conv["id"], "clientId": "p", "content": "react to me"})
    [msg] = o.wait_for("message:new")
    sockets = [m.socket() for m in members]
    clients.extend(sockets)

    def go(s):
        s.wait_for("session:ready")
        for emoji in ("👍", "🎉", "👍"):
            assert s.call("reaction:add", {"messageId": msg["id"], "emoji": emoji})["ok"]

    threads = [threading.Thread(target=go, args=(s,)) for s in sockets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = owner.chat(conv["id"])[0]
    assert sorted((r["userId"], r["emoji"]) for r in stored["reactions"]) == \
        sorted((m.id, e) for m in members for e in ("👍", "🎉"))
    wait_until(lambda: len(o.got("message:updated")) == 12, what="one message:updated per change")
    assert o.got("message:updated")[-1]["id"] == msg["id"]

    bad = sockets[0].call("reaction:add", {"messageId": msg["id"], "emoji": ":+1:"})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_emoji"
    assert sockets[0].call("reaction:remove", {"messageId": msg["id"], "emoji": "🎉"})["ok"]
    wait_until(lambda: len(o.got("message:updated")) == 13, what="message:updated after a removal")
