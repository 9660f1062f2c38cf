"""pipelines/people/direct.py: one direct conversation per pair (made once, the same one afterwards, from
either side, even under concurrent requests), in the oldest shared group, listed apart with the other
person, and the refusals: oneself, an unknown user, no shared group, a ban."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from pipelines.people.direct import do_start_direct
from pipelines.people.directory import do_add_conversation_member, list_conversations
from schemas.common import new_id, utcnow
from schemas.documents import Group, GroupMember, Sanction
from schemas.errors import ApiError, Code
from schemas.payloads import DirectConversationCreate
from tests.conftest import make_user


def group(store, name, *users, age=0):
    at = utcnow() - timedelta(days=age)
    grp = Group(id=new_id(), name=name, createdBy=users[0].id, createdAt=at)
    store.groups.insert_group(grp, GroupMember(id=new_id(), groupId=grp.id, userId=users[0].id, role="GROUP_ADMIN",
                                               joinedAt=at))
    for u in users[1:]:
        store.groups.insert_group_member(GroupMember(id=new_id(), groupId=grp.id, userId=u.id, role="MEMBER",
                                                     joinedAt=at))
    return grp


@pytest.fixture
def people(store):
    w = type("W", (), {})()
    w.alice, w.bob, w.carol = (make_user(store, n, fname=n.title()) for n in ("alice", "bob", "carol"))
    w.newer = group(store, "newer", w.alice, w.bob, age=1)
    w.older = group(store, "older", w.bob, w.alice, age=5)
    w.other = group(store, "other", w.carol)
    return w


def start(store, notifier, user, username):
    return do_start_direct(store, notifier, user, DirectConversationCreate(username=username))


def test_the_pair_has_one_conversation_whoever_asks(people, store, notifier, emitter):
    made = start(store, notifier, people.alice, "bob")
    assert made.created and set(made.joined) == {people.alice.id, people.bob.id}
    conv = made.conversation
    assert conv["kind"] == "direct" and conv["groupId"] == people.older.id       # the oldest shared group
    assert conv["peer"]["username"] == "bob" and "directKey" not in conv
    assert conv["title"] == "Bob"                                    # titled by the other person, for each
    assert set(store.conversations.get_conversation(conv["id"]).title.split(", ")) == {"alice", "bob"}  # stored
    # bob hears of it in his own room, with alice as the other person
    [(event, data, room)] = emitter.events
    assert (event, room, data["peer"]["username"]) == ("conversation:joined", f"user:{people.bob.id}", "alice")
    again, back = start(store, notifier, people.alice, "bob"), start(store, notifier, people.bob, "alice")
    assert not again.created and not back.created and again.conversation["id"] == back.conversation["id"] == conv["id"]
    assert again.joined == [] and len(emitter.events) == 1
    assert store.db.conversations.count_documents({"kind": "direct"}) == 1


def test_concurrent_requests_store_one(people, store, notifier):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: start(store, notifier, *((people.alice, "bob") if i % 2 else
                                                                    (people.bob, "alice"))), range(16)))
    assert sum(r.created for r in results) == 1
    assert len({r.conversation["id"] for r in results}) == 1
    assert store.db.conversations.count_documents({"kind": "direct"}) == 1
    assert store.db.conversation_members.count_documents({"convId": results[0].conversation["id"]}) == 2


def test_a_lost_race_reads_the_stored_one(people, store, notifier, monkeypatch):
    """Both requests read no conversation, both try to store one: the unique directKey refuses the second."""
    first = start(store, notifier, people.alice, "bob")
    real = store.conversations.get_direct
    calls = []

    def stale_first(key):
        calls.append(key)
        return real(key) if len(calls) > 1 else None
    monkeypatch.setattr(store.conversations, "get_direct", stale_first)
    late = start(store, notifier, people.bob, "alice")
    assert not late.created and late.conversation["id"] == first.conversation["id"] and len(calls) == 2


def test_the_list_shows_it_apart_with_the_other_person(people, store, notifier):
    made = start(store, notifier, people.alice, "bob")
    for me, peer in ((people.alice, "bob"), (people.bob, "alice")):
        [conv] = [c for c in list_conversations(store, me) if c["id"] == made.conversation["id"]]
        assert conv["kind"] == "direct" and conv["peer"]["username"] == peer and conv["title"] == peer.title()
        assert sorted(conv["directUserIds"]) == sorted([people.alice.id, people.bob.id])


@pytest.mark.parametrize("username, code, status", [
    ("alice", Code.DIRECT_SELF, 400), ("nobody", Code.NOT_FOUND, 404), ("carol", Code.NOT_A_MEMBER, 403)])
def test_refusals(people, store, notifier, username, code, status):
    with pytest.raises(ApiError) as refused:
        start(store, notifier, people.alice, username)
    assert (refused.value.code, refused.value.status) == (code, status)
    assert store.db.conversations.count_documents({}) == 0


def test_leaving_the_group_loses_it_and_coming_back_restores_it(people, store, notifier):
    made = start(store, notifier, people.alice, "bob")
    conv_id, group_id = made.conversation["id"], made.conversation["groupId"]
    store.groups.remove_group_member(group_id, people.alice.id)   # they still share "newer"
    with pytest.raises(ApiError) as refused:
        start(store, notifier, people.bob, "alice")
    assert refused.value.code == Code.NOT_A_MEMBER and store.db.conversations.count_documents({}) == 1
    now = utcnow()
    store.moderation.put_sanction("bans", Sanction(id=Sanction.key(group_id, people.alice.id), groupId=group_id,
                                                   userId=people.alice.id, username="alice", reason="spam",
                                                   by=people.bob.id, byName="bob", createdAt=now))
    with pytest.raises(ApiError) as banned:
        start(store, notifier, people.alice, "bob")
    assert banned.value.code == Code.BANNED
    store.db.bans.delete_many({})
    store.groups.insert_group_member(GroupMember(id=new_id(), groupId=group_id, userId=people.alice.id, role="MEMBER",
                                                 joinedAt=now))
    back = start(store, notifier, people.alice, "bob")
    assert back.conversation["id"] == conv_id and back.joined == [people.alice.id]
    assert store.conversations.get_conversation_member(conv_id, people.alice.id) is not None


def test_nobody_else_is_added_to_it(people, store, notifier):
    made = start(store, notifier, people.alice, "bob")
    store.groups.insert_group_member(GroupMember(id=new_id(), groupId=made.conversation["groupId"],
                                                 userId=people.carol.id, role="MEMBER", joinedAt=utcnow()))
    with pytest.raises(ApiError) as refused:
        do_add_conversation_member(store, notifier, lambda *a: None, people.alice, made.conversation["id"], "carol")
    assert refused.value.code == Code.FORBIDDEN
    assert store.conversations.get_conversation_member(made.conversation["id"], people.carol.id) is None
