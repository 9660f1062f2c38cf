"""Which sockets of a web process must end: expired tokens, deactivated or deleted users."""
from __future__ import annotations

from pipelines.sessions import sessions_to_end
from tests.conftest import make_user


def test_expired_tokens_and_deactivated_or_deleted_users_end_their_sockets_once(store):
    alice, bob, carol = make_user(store, "alice"), make_user(store, "bob"), make_user(store, "carol")
    ghost = make_user(store, "ghost")
    store.users.delete_one({"_id": ghost.id})                    # deleted since it connected
    users = {"a1": alice, "a2": alice, "b1": bob, "c1": carol, "g1": ghost}
    expires = {"a1": 100.0, "a2": 200.0, "b1": 200.0, "c1": 100.0, "g1": 200.0}
    store.users.update_one({"_id": bob.id}, {"$set": {"active": False}})
    ended = sessions_to_end(store, users, expires, now=150.0)
    assert sorted((e.sid, e.reason) for e in ended) == [("a1", "token_expired"), ("b1", "deactivated"),
                                                       ("c1", "token_expired"), ("g1", "deactivated")]
    assert all(e.message for e in ended)
    assert sessions_to_end(store, {"a2": alice}, {"a2": 200.0}, now=199.9) == []
    assert sessions_to_end(store, {}, {}, now=150.0) == []
