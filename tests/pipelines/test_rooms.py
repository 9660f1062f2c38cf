"""The sockets of one web process: room moves wait for a socket still joining its rooms, a session ends
once, and after missed moves each socket leaves the rooms its user's memberships no longer justify."""
from __future__ import annotations

from pipelines.people.rooms import LocalSockets
from tests.conftest import make_conversation, make_user


def test_a_move_reaches_the_users_sockets_and_waits_for_one_still_joining(store):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    local, moved = LocalSockets(), []
    local.connect("a1", alice, 200.0)
    assert local.joined("a1") == []
    local.connect("a2", alice, 200.0)                                    # still joining its rooms
    local.connect("b1", bob, 200.0)
    order = {"userId": alice.id, "room": "group:g", "enter": False}
    local.apply(order, lambda sid, o: moved.append((sid, o["room"])))
    assert moved == [("a1", "group:g")]                                  # b1 is bob's; a2 waits
    assert local.joined("a2") == [order]                                 # applied after its snapshot's rooms
    assert sorted(local.live()) == sorted([(alice.id, "a1"), (alice.id, "a2"), (bob.id, "b1")])
    assert local.disconnect("a1") == alice and local.user("a1") is None and local.disconnect("a1") is None


def test_an_expired_session_ends_once(store):
    alice = make_user(store, "alice")
    local = LocalSockets()
    local.connect("a1", alice, 100.0)
    local.connect("a2", alice, 200.0)
    assert local.expired("a1", 150.0) and not local.expired("a2", 150.0) and not local.expired("gone", 150.0)
    assert [(e.sid, e.reason) for e in local.sessions_to_end(store, 150.0)] == [("a1", "token_expired")]
    assert local.sessions_to_end(store, 150.0) == []                     # told and disconnected once


def test_after_missed_moves_each_socket_leaves_what_its_users_memberships_do_not_justify(store):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    kept = make_conversation(store, [alice, bob], title="kept")
    left = make_conversation(store, [alice, bob], title="left")
    store.conversations.remove_conversation_member(left.id, bob.id)
    local = LocalSockets()
    local.connect("a1", alice, 200.0)
    local.connect("b1", bob, 200.0)
    local.connect("b2", bob, 200.0)
    rooms = [f"conv:{kept.id}", f"conv:{left.id}", "b1"]
    assert local.rooms_to_leave(store, {"a1": rooms, "b1": rooms}) == {"a1": [], "b1": [f"conv:{left.id}"],
                                                                       "b2": []}
