"""Which sockets of a web process must end (expired tokens, deactivated or deleted users), and which rooms they
leave after missed room moves."""
from __future__ import annotations

from pipelines.people.sessions import rooms_to_leave, sessions_to_end
from tests.conftest import make_conversation, make_user


def test_expired_tokens_and_deactivated_or_deleted_users_end_their_sockets_once(store):
    alice, bob, carol = make_user(store, "alice"), make_user(store, "bob"), make_user(store, "carol")
    ghost = make_user(store, "ghost")
    store.db.users.delete_one({"_id": ghost.id})                    # deleted since it connected
    users = {"a1": alice, "a2": alice, "b1": bob, "c1": carol, "g1": ghost}
    expires = {"a1": 100.0, "a2": 200.0, "b1": 200.0, "c1": 100.0, "g1": 200.0}
    store.db.users.update_one({"_id": bob.id}, {"$set": {"active": False}})
    ended = sessions_to_end(store, users, expires, now=150.0)
    assert sorted((e.sid, e.reason) for e in ended) == [("a1", "token_expired"), ("b1", "deactivated"),
                                                       ("c1", "token_expired"), ("g1", "deactivated")]
    assert all(e.message for e in ended)
    assert sessions_to_end(store, {"a2": alice}, {"a2": 200.0}, now=199.9) == []
    assert sessions_to_end(store, {}, {}, now=150.0) == []


def test_after_missed_room_moves_a_socket_leaves_exactly_the_rooms_no_membership_justifies(store):
    admin, bob = make_user(store, "admin"), make_user(store, "bob")
    kept = make_conversation(store, [admin, bob], title="kept")
    gone = make_conversation(store, [admin, bob], title="gone")      # another group, bob banned from it
    left = make_conversation(store, [admin, bob], title="left")
    store.groups.set_group_role(kept.groupId, bob.id, "MODERATOR")
    store.groups.remove_group_member(gone.groupId, bob.id)
    store.conversations.remove_conversation_member(left.id, bob.id)
    rooms = ["user:" + bob.id, "sid-1", f"conv:{kept.id}", f"group:{kept.groupId}", f"mod:{kept.groupId}",
             f"conv:{gone.id}", f"group:{gone.groupId}", f"mod:{gone.groupId}", f"conv:{left.id}", "mod:all"]
    stale = rooms_to_leave(store, bob, {"sid-1": rooms, "sid-2": [f"conv:{kept.id}"]})
    assert stale == {"sid-1": [f"conv:{gone.id}", f"group:{gone.groupId}", f"mod:{gone.groupId}", f"conv:{left.id}",
                               "mod:all"], "sid-2": []}
    store.groups.set_group_role(kept.groupId, bob.id, "MEMBER")                # demoted meanwhile
    assert rooms_to_leave(store, bob, {"s": [f"mod:{kept.groupId}", f"group:{kept.groupId}"]}) == \
        {"s": [f"mod:{kept.groupId}"]}
