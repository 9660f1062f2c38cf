"""System messages (created, joined, left) travel through the inbox: in order with sends, stored once."""
from __future__ import annotations

import pytest

from pipelines.messages.drain import drain_inbox
from pipelines.messages.submit import submit_message, submit_system
from pipelines.people import directory
from schemas.common import new_id, utcnow
from schemas.documents import GroupMember
from schemas.errors import ApiError, Code
from schemas.payloads import ConversationCreate, MessageSend
from tests.conftest import make_conversation, make_user


@pytest.fixture
def people(store):
    alice, bob, carol = (make_user(store, n) for n in ("alice", "bob", "carol"))
    return alice, bob, carol, make_conversation(store, [alice, bob])


def drain(conv_id, store, inbox, notifier):
    return drain_inbox(conv_id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)


def announce(inbox):
    return lambda conv_id, actor, action, data: submit_system(inbox, lambda c: None, conv_id, actor, action, data)


def stored(store, conv_id):
    return list(store.db.messages.find({"convId": conv_id}).sort("seq", 1))


def test_a_system_message_takes_its_seq_between_the_sends(store, inbox, notifier, emitter, people):
    alice, bob, carol, conv = people
    submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId="a", content="hi"))
    submit_system(inbox, lambda c: None, conv.id, alice, "member_joined",
                  {"userId": carol.id, "username": "carol", "by": "alice"})
    submit_message(store, inbox, lambda c: None, bob, MessageSend(convId=conv.id, clientId="b", content="@carol yo"))
    drain(conv.id, store, inbox, notifier)

    docs = stored(store, conv.id)
    assert [(m["seq"], m["type"]) for m in docs] == [(1, "text"), (2, "system"), (3, "text")]
    system = docs[1]
    assert system["content"] == "alice added carol" and system["senderId"] == alice.id
    assert system["metadata"] == {"systemAction": "member_joined",
                                  "systemData": {"userId": carol.id, "username": "carol", "by": "alice"}}
    assert [d["seq"] for d, _ in emitter.of("message:new")] == [1, 2, 3]
    assert emitter.of("mention:new") == []  # carol is not a member: no mention, and system text is never parsed


def test_a_redelivered_system_entry_is_stored_once(store, inbox, notifier, people):
    alice, _, _, conv = people
    submit_system(inbox, lambda c: None, conv.id, alice, "conversation_created",
                  {"userId": alice.id, "username": "alice", "title": "general"})
    [(entry_id, entry)] = inbox.claim(conv.id, 10)
    drain(conv.id, store, inbox, notifier)
    inbox.append(conv.id, entry, max_backlog=100)  # the same entry again, as after a redelivery
    drain(conv.id, store, inbox, notifier)
    assert [(m["seq"], m["content"]) for m in stored(store, conv.id)] == [(1, 'alice created the conversation "general"')]


def test_the_actor_may_already_have_left(store, inbox, notifier, people):
    alice, bob, _, conv = people
    store.conversations.remove_conversation_member(conv.id, bob.id)
    submit_system(inbox, lambda c: None, conv.id, bob, "member_left", {"userId": bob.id, "username": "bob"})
    drain(conv.id, store, inbox, notifier)
    [doc] = stored(store, conv.id)
    assert doc["content"] == "bob left" and doc["metadata"]["systemAction"] == "member_left"


def test_authors_have_read_what_they_wrote_others_have_not(store, inbox, notifier, people):
    alice, bob, _, conv = people
    for i in range(3):
        submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId=f"m{i}", content="x"))
    drain(conv.id, store, inbox, notifier)
    assert store.conversations.get_conversation_member(conv.id, alice.id).lastReadSeq == 3
    assert store.conversations.get_conversation_member(conv.id, bob.id).lastReadSeq == 0
    unread = {c["id"]: c["unread"] for c in directory.list_conversations(store, bob)}
    assert unread[conv.id] == 3


def test_membership_changes_announce_themselves(store, inbox, notifier, emitter, people):
    alice, bob, carol, conv = people
    store.groups.insert_group_member(GroupMember(id=new_id(), groupId=conv.groupId, userId=carol.id, role="MEMBER",
                                          joinedAt=utcnow()))
    created = directory.do_create_conversation(store, notifier, announce(inbox), alice, conv.groupId,
                                               ConversationCreate(title="plans", members=["bob"]))
    directory.do_add_conversation_member(store, notifier, announce(inbox), alice, created["id"], "carol")
    directory.do_remove_conversation_member(store, notifier, announce(inbox), carol, created["id"], carol.id)
    drain(created["id"], store, inbox, notifier)

    assert [(m["metadata"]["systemAction"], m["content"]) for m in stored(store, created["id"])] == [
        ("conversation_created", 'alice created the conversation "plans"'),
        ("member_joined", "alice added carol"),
        ("member_left", "carol left")]
    assert [room for _, room in emitter.of("conversation:joined")] == [f"user:{carol.id}"]
    assert emitter.of("conversation:left") == [({"convId": created["id"], "userId": carol.id, "by": carol.id},
                                                 f"user:{carol.id}")]
    assert store.conversations.get_conversation_member(created["id"], carol.id) is None


def test_only_the_creator_or_a_group_admin_removes_someone_else(store, inbox, notifier, people):
    alice, bob, _, conv = people
    with pytest.raises(ApiError) as refused:
        directory.do_remove_conversation_member(store, notifier, announce(inbox), bob, conv.id, alice.id)
    assert refused.value.code == Code.FORBIDDEN
    assert store.conversations.get_conversation_member(conv.id, alice.id) is not None and inbox.pending(conv.id) == 0
    with pytest.raises(ApiError) as missing:
        directory.do_remove_conversation_member(store, notifier, announce(inbox), alice, conv.id, "0" * 24)
    assert missing.value.code == Code.NOT_FOUND and inbox.pending(conv.id) == 0
    directory.do_remove_conversation_member(store, notifier, announce(inbox), alice, conv.id, bob.id)  # the creator may
    assert store.conversations.get_conversation_member(conv.id, bob.id) is None
