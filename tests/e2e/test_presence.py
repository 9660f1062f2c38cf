"""Presence over real sockets: several tabs per user, only the user's groups hear of it."""
from __future__ import annotations

import time

import pytest
import redis
import socketio

from tests.e2e.harness import Api, Client, make_conversation, own_system, two_members_and_an_outsider, wait_until

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


def test_a_socket_the_registry_lost_still_leaves_the_room_of_a_conversation_it_was_removed_from(system, clients):
    """Room moves reach the web process that holds the socket, whatever the presence registry knows."""
    alice, bob, _, conv, a, b, _ = two_members_and_an_outsider(system, clients)
    registry = redis.Redis.from_url(system.redis_url)
    assert registry.delete(f"presence:sockets:{bob.id}") == 1  # as after a Redis outage longer than the TTL
    assert alice.call("DELETE", f"/api/conversations/{conv['id']}/members/{bob.id}").status_code == 204
    assert a.call("message:send", {"convId": conv["id"], "clientId": "after-removal", "content": "not for bob"})["ok"]
    wait_until(lambda: any(m.get("clientId") == "after-removal" for m in a.got("message:new")), what="alice's echo")
    time.sleep(0.3)  # the room's other sockets got it in the same emit
    assert [m for m in b.got("message:new") if m.get("clientId") == "after-removal"] == []


def test_a_socket_is_re_registered_checked_then_disconnected_when_its_token_expires():
    """PRESENCE_TTL_SECONDS=3: the web process's loop runs every second. The token lives 8 s."""
    with own_system(JWT_TTL_SECONDS="8", PRESENCE_TTL_SECONDS="3") as system:
        alice = Api(system)
        tab = alice.socket()
        try:
            tab.wait_for("session:ready")
            registry = redis.Redis.from_url(system.redis_url)
            key = f"presence:sockets:{alice.id}"
            wait_until(lambda: registry.zcard(key) == 1, what="alice's socket registered")
            registry.delete(key, "presence:all")                 # Redis came back empty
            wait_until(lambda: registry.zcard(key) == 1 and registry.zcard("presence:all") == 1, timeout=5,
                       what="the socket registered again by its web process's heartbeat")
            registry.client_kill_filter(_type="pubsub")             # subscriptions dropped: orders may be missed
            wait_until(lambda: "socket orders: subscribed again; 1 sockets checked, 0 rooms left"
                       in system.log_path.read_text(), what="the rooms checked once subscribed again")
            assert tab.sio.connected and tab.got("session:expired") == []
            expired = tab.wait_for("session:expired", timeout=15)[0]
            assert expired["reason"] == "token_expired" and expired["message"]
            wait_until(lambda: not tab.sio.connected, what="the server's disconnect")
            wait_until(lambda: registry.zcard(key) == 0 and registry.hget("presence:last_seen", alice.id),
                       what="alice offline")
            refused = Client(system, alice.token, connect=False)
            with pytest.raises(socketio.exceptions.ConnectionError):
                refused.sio.connect(system.url, auth={"token": alice.token}, transports=["websocket"], wait_timeout=5)
            assert refused.connect_error["data"]["reason"] == "token expired"
            log = system.log_path.read_text()
            assert "were missing from Redis; registered again" in log
        finally:
            tab.close()


def test_a_socket_whose_token_expired_is_refused_before_its_web_process_disconnects_it():
    """The loop that disconnects expired sessions runs every 200 s here: each event checks the expiry itself."""
    with own_system(JWT_TTL_SECONDS="3", PRESENCE_TTL_SECONDS="600") as system:
        alice = Api(system)
        _, conv = make_conversation(alice)
        tab = alice.socket()
        try:
            tab.wait_for("session:ready")
            assert tab.call("message:send", {"convId": conv["id"], "clientId": "before", "content": "hi"})["ok"]
            time.sleep(3.5)
            assert tab.sio.connected  # not yet disconnected by the loop
            ack = tab.call("message:send", {"convId": conv["id"], "clientId": "after", "content": "late"})
            assert ack["ok"] is False and ack["error"]["code"] == "unauthorized"
            assert "expired" in ack["error"]["message"]
        finally:
            tab.close()
