"""Edits and deletes: who may, through the inbox in order, history kept, soft deletes hidden from members."""
from __future__ import annotations

import pytest

from pipelines.messages.drain import drain_inbox
from pipelines.messages.history import read_history
from pipelines.messages.submit import submit_change, submit_message
from schemas.common import utcnow
from schemas.errors import ApiError, Code
from schemas.payloads import HistoryWindow, MessageSend
from tests.conftest import make_conversation, make_user


@pytest.fixture
def chat(store, inbox, notifier):
    alice, bob, mod = (make_user(store, n) for n in ("alice", "bob", "mod"))
    conv = make_conversation(store, [alice, bob, mod])
    store.db.group_members.update_one({"groupId": conv.groupId, "userId": mod.id}, {"$set": {"role": "MODERATOR"}})
    submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId="m", content="first"))
    drain(store, inbox, notifier, conv)
    return alice, bob, mod, conv, store.db.messages.find_one({"convId": conv.id})["_id"]


def drain(store, inbox, notifier, conv):
    return drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)


def test_the_author_edits_and_the_history_keeps_the_previous_content(store, inbox, notifier, emitter, chat):
    alice, _, _, conv, mid = chat
    submit_change(store, inbox, lambda c: None, alice, mid, content="second")
    submit_change(store, inbox, lambda c: None, alice, mid, content="third")
    assert drain(store, inbox, notifier, conv).changed == 2
    message = store.messages.get_message(mid)
    assert (message.content, message.isEdited) == ("third", True)
    assert [e.content for e in message.editHistory] == ["first", "second"]
    assert [d["content"] for d, _ in emitter.of("message:updated")] == ["second", "third"]


def test_an_edit_queued_behind_its_message_applies_after_it_is_stored(store, inbox, notifier, chat):
    alice, _, _, conv, mid = chat
    submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId="n", content="x"))
    submit_change(store, inbox, lambda c: None, alice, mid, content="edited")
    result = drain(store, inbox, notifier, conv)
    assert result.stored == [2] and result.changed == 1


def test_a_redelivered_edit_or_delete_changes_nothing_twice(store, chat):
    alice, _, _, conv, mid = chat
    assert store.messages.edit_message(mid, "again", utcnow()) is not None
    assert store.messages.edit_message(mid, "again", utcnow()) is None  # the same edit delivered twice
    assert [e.content for e in store.messages.get_message(mid).editHistory] == ["first"]
    assert store.messages.delete_message(mid, alice.id, utcnow()) is not None
    assert store.messages.delete_message(mid, alice.id, utcnow()) is None


@pytest.mark.parametrize("who, kind, allowed", [
    ("bob", "edit", False), ("mod", "edit", False), ("bob", "delete", False),
    ("alice", "delete", True), ("mod", "delete", True),
])
def test_who_may_edit_or_delete(store, inbox, notifier, chat, who, kind, allowed):
    alice, bob, mod, conv, mid = chat
    user = {"alice": alice, "bob": bob, "mod": mod}[who]
    content = "changed" if kind == "edit" else None
    # The author, alice, as a plain member: a moderator may delete her message (a group admin's is refused
    # as outranked: tests/pipelines/policy/test_authority.py).
    store.db.group_members.update_one({"groupId": conv.groupId, "userId": alice.id}, {"$set": {"role": "MEMBER"}})
    if not allowed:
        with pytest.raises(ApiError) as err:
            submit_change(store, inbox, lambda c: None, user, mid, content=content)
        assert err.value.code == Code.FORBIDDEN and inbox.pending(conv.id) == 0
        assert store.db.activity_logs.count_documents({"userId": user.id, "action": "denied"}) == 1
        return
    submit_change(store, inbox, lambda c: None, user, mid, content=content)
    drain(store, inbox, notifier, conv)
    message = store.messages.get_message(mid)
    assert message.isDeleted and message.deletedBy == user.id
    assert message.content == "first"  # kept for moderators and exports
    public = message.public()
    assert public["content"] == "" and public["isDeleted"] is True


def test_a_deleted_message_cannot_be_edited_or_deleted_again(store, inbox, notifier, chat):
    alice, _, _, conv, mid = chat
    submit_change(store, inbox, lambda c: None, alice, mid)
    drain(store, inbox, notifier, conv)
    with pytest.raises(ApiError) as err:
        submit_change(store, inbox, lambda c: None, alice, mid, content="resurrect")
    assert err.value.code == Code.NOT_FOUND


MODERATION = HistoryWindow(None, None, 10, view="moderation")


@pytest.fixture
def edited_then_deleted(store, inbox, notifier, chat):
    alice, bob, mod, conv, mid = chat
    submit_change(store, inbox, lambda c: None, alice, mid, content="second")
    submit_change(store, inbox, lambda c: None, alice, mid)
    drain(store, inbox, notifier, conv)
    return chat


@pytest.mark.parametrize("who", ["mod", "alice", "root"])  # MODERATOR, GROUP_ADMIN, system ADMIN (no member)
def test_the_moderation_view_shows_deleted_content(store, edited_then_deleted, who):
    alice, bob, mod, conv, mid = edited_then_deleted
    user = {"mod": mod, "alice": alice, "root": make_user(store, "root", role="ADMIN")}[who]
    [message] = read_history(store, user, conv.id, MODERATION).messages
    shown = message.for_moderators()
    assert (shown["isDeleted"], shown["deletedBy"], shown["content"]) == (True, alice.id, "second")
    assert [e["content"] for e in shown["editHistory"]] == ["first"]
    # The default view is unchanged: members see the deleted message without its content.
    [member_view] = read_history(store, bob, conv.id, HistoryWindow(None, None, 10)).messages
    assert (member_view.public()["content"], member_view.public()["editHistory"]) == ("", [])


def test_members_and_other_groups_moderators_are_refused_the_moderation_view(store, edited_then_deleted):
    alice, bob, mod, conv, mid = edited_then_deleted
    elsewhere = make_user(store, "elsewhere")
    other = make_conversation(store, [elsewhere])  # elsewhere is GROUP_ADMIN of another group
    for user in (bob, elsewhere):
        with pytest.raises(ApiError) as err:
            read_history(store, user, conv.id, MODERATION)
        assert err.value.code == Code.FORBIDDEN
        assert store.db.activity_logs.count_documents({"userId": user.id, "action": "denied",
                                                    "resourceId": conv.id}) == 1
    assert len(read_history(store, elsewhere, other.id, MODERATION).messages) == 0
