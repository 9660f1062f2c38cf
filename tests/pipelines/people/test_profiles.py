"""Profile changes: the user at once, then their messages' senderInfo in bounded batches, never an older profile."""
from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines.messages.drain import drain_inbox
from pipelines.messages.submit import submit_message
from pipelines.people.profiles import do_update_profile, sync_sender_info
from schemas.common import new_id, utcnow
from schemas.documents import Message, SenderInfo
from schemas.payloads import MessageSend, ProfileUpdate
from tests.conftest import make_conversation, make_user


@pytest.fixture
def people(store):
    alice, bob = make_user(store, "alice", fname="Alice"), make_user(store, "bob")
    convs = [make_conversation(store, [alice, bob], title=t) for t in ("one", "two")]  # two groups
    start = utcnow()
    for n in range(23):  # alice: 23 messages; four share each createdAt, so batches end inside ties
        _message(store, convs[n % 2], n + 1, alice, start - timedelta(seconds=n // 4))
    for n in range(10):
        _message(store, convs[0], 100 + n, bob, start)
    return alice, bob, convs


def _message(store, conv, seq, user, at):
    store.messages.insert_message(Message(id=new_id(), convId=conv.id, seq=seq, clientId=f"c{seq}", senderId=user.id,
                                 senderInfo=SenderInfo.of(user), content="x", createdAt=at, updatedAt=at))


def infos(store, user) -> list[dict]:
    return [m["senderInfo"] for m in store.db.messages.find({"senderId": user.id})]


def change(store, user, **fields):
    """The web side of PATCH /api/me; returns the updated user and the user ids it enqueued."""
    queued = []
    return do_update_profile(store, queued.append, user, ProfileUpdate(**fields)), queued


def sync(store, notifier, user_id, **kw):
    return sync_sender_info(user_id, store=store, notifier=notifier, enqueue_sync=lambda u: None, **kw)


def test_the_change_answers_the_new_user_and_enqueues_one_sync(store, people):
    alice, _, _ = people
    updated, queued = change(store, alice, fname="Alicia", avatarUrl="https://img.example/a.png")
    assert (updated.fname, updated.lname, updated.avatarUrl) == ("Alicia", "", "https://img.example/a.png")
    assert store.users.get_user(alice.id).fname == "Alicia" and queued == [alice.id]
    assert store.db.activity_logs.count_documents({"userId": alice.id, "action": "update"}) == 1
    for same in ({"fname": "Alicia"}, {}):  # nothing changes: no write, no sync
        assert change(store, updated, **same) == (updated, [])
        assert store.users.get_user(alice.id).updatedAt == updated.updatedAt


def test_sync_rewrites_all_the_users_messages_in_bounded_batches(store, notifier, emitter, people, monkeypatch):
    alice, bob, convs = people
    writes = []
    real = store.messages.set_sender_info
    monkeypatch.setattr(store.messages, "set_sender_info", lambda ids, info: writes.append(len(ids)) or real(ids, info))
    updated, _ = change(store, alice, fname="Alicia", lname="Liddell")

    result = sync(store, notifier, alice.id, batch=5)

    assert writes == result.batches == [5, 5, 5, 5, 3] and result.updated == 23
    assert all(i == SenderInfo.of(updated).model_dump() for i in infos(store, alice))
    assert all(i == SenderInfo.of(bob).model_dump() for i in infos(store, bob))  # others untouched
    assert sorted(room for _, room in emitter.of("user:updated")) == sorted(f"group:{c.groupId}" for c in convs)
    assert all(data["user"]["lname"] == "Liddell" for data, _ in emitter.of("user:updated"))
    again = sync(store, notifier, alice.id, batch=5)  # redelivered: nothing is stale any more
    assert (again.updated, again.batches) == (0, [])


def test_a_late_or_redelivered_task_never_writes_an_older_profile(store, notifier, people):
    alice, _, _ = people
    first, queued = change(store, alice, fname="One")
    second, more = change(store, first, fname="Two")
    for user_id in more + queued:  # the later change's task runs first, the earlier one after it
        sync(store, notifier, user_id, batch=4)
    assert {i["fname"] for i in infos(store, alice)} == {"Two"}


def test_a_change_during_a_sync_is_not_overwritten_by_it(store, notifier, people, monkeypatch):
    """Another worker syncs a newer change between our read of the profile and our first write."""
    alice, _, _ = people
    change(store, alice, fname="Old")
    real = store.messages.set_sender_info

    def newer_sync_first(ids, info):
        monkeypatch.setattr(store.messages, "set_sender_info", real)
        change(store, store.users.get_user(alice.id), fname="New")
        sync(store, notifier, alice.id, batch=50)
        return real(ids, info)  # then our (now older) write lands

    monkeypatch.setattr(store.messages, "set_sender_info", newer_sync_first)
    result = sync(store, notifier, alice.id, batch=5)
    assert result.passes == 2
    assert {i["fname"] for i in infos(store, alice)} == {"New"}


def test_a_profile_that_keeps_changing_hands_over_to_a_follow_up_task(store, notifier, emitter, people, monkeypatch):
    alice, _, _ = people
    change(store, alice, fname="Start")
    real = store.messages.set_sender_info
    renames = iter(range(100))

    def rename_each_write(ids, info):
        change(store, store.users.get_user(alice.id), fname=f"Name{next(renames)}")
        return real(ids, info)

    monkeypatch.setattr(store.messages, "set_sender_info", rename_each_write)
    follow_ups = []
    result = sync_sender_info(alice.id, store=store, notifier=notifier, enqueue_sync=follow_ups.append,
                              batch=50, max_passes=2)
    assert result.continued and result.passes == 2 and follow_ups == [alice.id]
    assert emitter.of("user:updated") == []  # not done yet: the follow-up will say so


def test_a_message_stored_while_a_sync_ran_gets_the_new_profile(store, inbox, notifier, people, monkeypatch):
    """The drain read the sender before the change, and stores after the change's sync has finished."""
    alice, _, convs = people
    real = store.messages.insert_message

    def change_and_sync_then_insert(message):
        monkeypatch.setattr(store.messages, "insert_message", real)
        change(store, store.users.get_user(alice.id), fname="Changed")
        sync(store, notifier, alice.id)
        real(message)

    monkeypatch.setattr(store.messages, "insert_message", change_and_sync_then_insert)
    conv = convs[0]
    store.db.conversations.update_one({"_id": conv.id}, {"$set": {"lastSeq": 200}})
    submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId="late", content="hi"))
    drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)
    assert store.db.messages.find_one({"clientId": "late"})["senderInfo"]["fname"] == "Changed"
