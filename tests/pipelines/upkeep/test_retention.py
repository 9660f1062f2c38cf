"""Retention archives old and excess messages, once, and exports still read both."""
from __future__ import annotations

from datetime import timedelta

from pipelines.upkeep.retention import apply_retention, do_set_retention
from schemas.common import utcnow
from schemas.payloads import RetentionUpdate
from tests.conftest import make_conversation, make_user
from tests.pipelines.notifications.test_stored import post


def test_retention_moves_old_and_excess_messages_to_the_archive_and_exports_read_both(store, notifier):
    alice = make_user(store, "alice")
    conv = make_conversation(store, [alice, make_user(store, "bob")])
    old = utcnow() - timedelta(days=40)
    for i in range(5):
        post(store, conv, alice, f"old {i}", at=old)
    for i in range(200):
        post(store, conv, alice, f"new {i}")
    do_set_retention(store, alice, conv.groupId, RetentionUpdate(days=30, maxMessages=150), utcnow())
    result = apply_retention(store, notifier, now=utcnow())
    assert result.archived == {conv.id: 55}   # 5 older than 30 days, then down to the newest 150
    live = store.messages.history(conv.id, before=None, after=0, limit=1000).messages
    assert len(live) == 150 and live[0].seq == 56
    assert apply_retention(store, notifier, now=utcnow()).archived == {}   # idempotent
    assert [m.seq for m in store.messages.iter_conversation_messages(conv.id)] == list(range(1, 206))
