"""Presence over real sockets: several tabs per user, only the user's groups hear of it."""
from __future__ import annotations

import time

import pytest

from tests.e2e.harness import Api, make_conversation, wait_until

pytestmark = pytest.mark.e2e


def test_online_with_the_first_tab_offline_after_the_last(system, clients):
    alice, bob, stranger = Api(system), Api(system), Api(system)
    group, _ = make_conversation(alice, bob)
    watcher, outsider = alice.socket(), stranger.socket()
    clients.extend([watcher, outsider])
    watcher.wait_for("session:ready")

    def bob_seen():
        return [(u["userId"], u["status"]) for u in watcher.got("presence:update") if u["userId"] == bob.id]

    def status():
        return {p["userId"]: p for p in alice.ok("GET", f"/api/groups/{group['id']}/presence")["presence"]}

    assert status()[bob.id]["status"] == "offline"
    tab1 = bob.socket()
    wait_until(lambda: bob_seen() == [(bob.id, "online")], what="bob online")
    tab2 = bob.socket()
    tab2.wait_for("session:ready")
    assert status()[bob.id]["status"] == "online"
    tab1.close()
    time.sleep(0.3)
    assert bob_seen() == [(bob.id, "online")]        # a tab is still open
    tab2.close()
    wait_until(lambda: bob_seen() == [(bob.id, "online"), (bob.id, "offline")], what="bob offline")
    offline = [u for u in watcher.got("presence:update") if u["userId"] == bob.id][-1]
    assert offline["lastSeen"] and status()[bob.id] == {"userId": bob.id, "status": "offline",
                                                         "lastSeen": offline["lastSeen"]}
    assert outsider.got("presence:update") == []     # not in bob's group
    assert stranger.call("GET", f"/api/groups/{group['id']}/presence").status_code == 403
