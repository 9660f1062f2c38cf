"""Read marks move forward only, and unread counts are what a member has not read."""
from __future__ import annotations

import pytest

from pipelines.messages.drain import drain_inbox
from pipelines.messages.receipts import do_mark_read
from pipelines.messages.submit import submit_message
from pipelines.people.directory import list_conversations
from schemas.errors import ApiError, Code
from schemas.payloads import MessageSend, ReadUpTo
from tests.conftest import make_conversation, make_user


@pytest.fixture
def chat(store, inbox, notifier):
    alice, bob, eve = (make_user(store, n) for n in ("alice", "bob", "eve"))
    conv = make_conversation(store, [alice, bob])
    for i in range(5):
        submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId=f"m{i}", content="x"))
    drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)
    return alice, bob, eve, conv


def unread(store, user, conv):
    [entry] = [c for c in list_conversations(store, user) if c["id"] == conv.id]
    return entry["unread"]


def test_the_mark_moves_forward_only_and_each_move_is_announced(store, notifier, emitter, chat):
    _, bob, _, conv = chat
    assert unread(store, bob, conv) == 5
    assert do_mark_read(store, notifier, bob, ReadUpTo(convId=conv.id, seq=3)) == 3
    assert unread(store, bob, conv) == 2
    assert do_mark_read(store, notifier, bob, ReadUpTo(convId=conv.id, seq=2)) == 3  # never backwards
    assert do_mark_read(store, notifier, bob, ReadUpTo(convId=conv.id, seq=3)) == 3
    assert unread(store, bob, conv) == 2
    assert do_mark_read(store, notifier, bob, ReadUpTo(convId=conv.id, seq=99)) == 5  # at most the newest
    assert unread(store, bob, conv) == 0
    assert emitter.of("message:read") == [({"convId": conv.id, "userId": bob.id, "seq": 3}, f"conv:{conv.id}"),
                                          ({"convId": conv.id, "userId": bob.id, "seq": 5}, f"conv:{conv.id}")]


def test_a_non_member_cannot_mark(store, notifier, emitter, chat):
    _, _, eve, conv = chat
    with pytest.raises(ApiError) as err:
        do_mark_read(store, notifier, eve, ReadUpTo(convId=conv.id, seq=1))
    assert err.value.code == Code.FORBIDDEN and emitter.of("message:read") == []
