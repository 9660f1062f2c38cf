"""PATCH /api/me end to end: the new user at once; the worker updates the user's messages, then the
user's groups hear user:updated (and nobody else)."""
from __future__ import annotations

import time

import pytest

from tests.e2e.harness import Api, make_conversation, wait_until

pytestmark = pytest.mark.e2e


def test_profile_change_reaches_history_and_the_groups(system, clients):
    alice, bob, stranger = Api(system), Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    path = f"/api/conversations/{conv['id']}/messages"
    alice.ok("POST", path, json={"clientId": "p1", "content": "bonjour"})
    wait_until(lambda: bob.chat(conv["id"]), what="the stored message")
    b, s = bob.socket(), stranger.socket()
    clients.extend([b, s])
    b.wait_for("session:ready")
    s.wait_for("session:ready")

    refused = alice.call("PATCH", "/api/me", json={"username": "someone_else"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_payload"
    me = alice.ok("PATCH", "/api/me", json={"fname": "Alicia", "avatarUrl": "https://img.example/alicia.png"})
    assert (me["username"], me["fname"], me["avatarUrl"]) == (alice.username, "Alicia", "https://img.example/alicia.png")

    [event] = b.wait_for("user:updated")
    assert event["user"]["id"] == alice.id and event["user"]["fname"] == "Alicia"
    [message] = bob.chat(conv["id"])
    assert message["senderInfo"] == {"username": alice.username, "fname": "Alicia", "lname": "",
                                     "avatarUrl": "https://img.example/alicia.png"}
    time.sleep(0.3)
    assert s.got("user:updated") == []  # not in any of alice's groups
