"""Search: members only, newest first, paginated by seq; deleted and system messages never match."""
from __future__ import annotations

import pytest

from pipelines.messages.drain import drain_inbox
from pipelines.messages.history import search_messages
from pipelines.messages.submit import submit_change, submit_message
from schemas.common import new_id, utcnow
from schemas.documents import Message, MessageMetadata, SenderInfo
from schemas.errors import ApiError, Code
from schemas.payloads import MessageSend, SearchQuery
from tests.conftest import make_conversation, make_user


@pytest.fixture
def chat(store, inbox, notifier):
    alice, bob, eve = (make_user(store, n) for n in ("alice", "bob", "eve"))
    conv = make_conversation(store, [alice, bob])

    def say(*contents: str) -> None:
        for text in contents:
            submit_message(store, inbox, lambda c: None, alice,
                           MessageSend(convId=conv.id, clientId=new_id(), content=text))
        drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)

    def change(seq: int, content: str | None = None) -> None:
        """Edit (content) or delete the message of that seq, through the inbox like a client would."""
        mid = store.db.messages.find_one({"convId": conv.id, "seq": seq})["_id"]
        submit_change(store, inbox, lambda c: None, alice, mid, content=content)
        drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)

    return alice, bob, eve, conv, say, change


def seqs(store, user, conv, text, before=None, limit=20) -> tuple[list[int], bool]:
    page = search_messages(store, user, conv.id, SearchQuery(text=text, before=before, limit=limit))
    return [m.seq for m in page.messages], page.has_more


def test_newest_first_and_paginated_with_before(store, chat):
    alice, bob, _, conv, say, _ = chat
    say(*[f"réunion numéro {i}" if i % 2 else f"autre sujet {i}" for i in range(1, 15)])  # matches: odd seqs
    assert seqs(store, bob, conv, "reunions", limit=3) == ([13, 11, 9], True)
    assert seqs(store, bob, conv, "reunions", before=9, limit=3) == ([7, 5, 3], True)
    assert seqs(store, bob, conv, "reunions", before=3, limit=3) == ([1], False)
    assert seqs(store, bob, conv, "reunions") == ([13, 11, 9, 7, 5, 3, 1], False)


def test_deleted_messages_never_match_not_even_by_their_edit_history(store, chat):
    alice, bob, _, conv, say, change = chat
    say("le code secret est banane", "banane flambée", "rien")
    change(2)                       # deleted: its content stays stored, but is not searchable
    change(3, "plus de fruit ici")  # edited: the old content lives on in editHistory only
    change(1, "le code secret a changé")
    assert store.messages.get_message(store.db.messages.find_one({"seq": 2})["_id"]).content == "banane flambée"
    assert seqs(store, bob, conv, "banane") == ([], False)
    assert seqs(store, bob, conv, "rien") == ([], False)
    assert seqs(store, bob, conv, "fruit") == ([3], False)
    assert seqs(store, bob, conv, "code") == ([1], False)
    change(3)
    assert seqs(store, bob, conv, "fruit") == ([], False)


def test_system_messages_never_match(store, chat):
    alice, bob, _, conv, say, _ = chat
    say("bienvenue à tous")
    now = utcnow()
    store.messages.insert_message(Message(id=new_id(), convId=conv.id, seq=2, clientId="sys-1", senderId=alice.id,
                                 senderInfo=SenderInfo.of(alice), type="system", content="bienvenue à bob",
                                 metadata=MessageMetadata(systemAction="user_joined"), createdAt=now, updatedAt=now))
    assert seqs(store, bob, conv, "bienvenue") == ([1], False)


def test_only_members_search_and_refusals_are_logged(store, chat):
    alice, _, eve, conv, say, _ = chat
    say("réunion demain")
    with pytest.raises(ApiError) as err:
        seqs(store, eve, conv, "reunion")
    assert err.value.code == Code.FORBIDDEN
    assert store.db.activity_logs.count_documents({"userId": eve.id, "action": "denied", "resourceId": conv.id}) == 1
    with pytest.raises(ApiError) as err:
        search_messages(store, alice, new_id(), SearchQuery(text="reunion", before=None, limit=5))
    assert err.value.code == Code.NOT_FOUND


def test_another_conversation_is_never_searched(store, chat):
    alice, bob, _, conv, say, _ = chat
    say("réunion ici")
    other = make_conversation(store, [alice, bob], title="other")
    store.messages.insert_message(Message(id=new_id(), convId=other.id, seq=1, clientId="o", senderId=alice.id,
                                 senderInfo=SenderInfo.of(alice), content="réunion ailleurs",
                                 createdAt=utcnow(), updatedAt=utcnow()))
    page = search_messages(store, bob, conv.id, SearchQuery(text="reunion", before=None, limit=5))
    assert [m.content for m in page.messages] == ["réunion ici"]
