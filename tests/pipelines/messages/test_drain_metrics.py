"""One message's way, measured by the drain: accepted → taken by a drain (drain lag), accepted → stored, stored →
its message:new handed to the message queue; each stored message observed once."""
from __future__ import annotations

from datetime import timedelta

from pipelines.messages.drain import drain_inbox
from pipelines.messages.submit import submit_message
from schemas.common import utcnow
from schemas.payloads import MessageSend
from schemas.tasks import InboxEntry
from tests.conftest import make_conversation, make_user
from tests.metric_samples import sample

SERIES = ("chat_message_store_seconds", "chat_message_broadcast_seconds", "chat_drain_lag_seconds")


def counts() -> dict[str, float]:
    return {name: sample(f"{name}_count") for name in SERIES}


def drain(conv, store, inbox, notifier):
    return drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None, batch=7)


def test_a_drain_of_n_messages_observes_each_once_and_a_retry_is_not_stored_again(store, inbox, notifier):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    before = counts()
    for i in range(20):
        submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId=f"c{i}", content=f"m{i}"))
    assert len(drain(conv, store, inbox, notifier).stored) == 20
    assert {k: v - before[k] for k, v in counts().items()} == dict.fromkeys(SERIES, 20)

    # A client's retry of a stored message: taken by a drain (lag), but neither stored nor broadcast again.
    submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId="c3", content="m3"))
    assert drain(conv, store, inbox, notifier).duplicates == 1
    assert {k: v - before[k] for k, v in counts().items()} == {
        "chat_message_store_seconds": 20, "chat_message_broadcast_seconds": 20, "chat_drain_lag_seconds": 21}


def test_the_wait_in_the_inbox_is_measured_from_the_entrys_acceptance(store, inbox, notifier):
    alice = make_user(store, "alice")
    conv = make_conversation(store, [alice])
    lag_sum, store_sum = sample("chat_drain_lag_seconds_sum"), sample("chat_message_store_seconds_sum")
    under_a_second = sample("chat_drain_lag_seconds_bucket", le="1.0")
    accepted = utcnow() - timedelta(seconds=3)   # the send waited 3 s (workers behind)
    inbox.append(conv.id, InboxEntry(senderId=alice.id, clientId="late", content="late", receivedAt=accepted),
                 max_backlog=10)
    assert drain(conv, store, inbox, notifier).stored == [1]
    assert 3 <= sample("chat_drain_lag_seconds_sum") - lag_sum < 60
    assert 3 <= sample("chat_message_store_seconds_sum") - store_sum < 60
    assert sample("chat_drain_lag_seconds_bucket", le="1.0") == under_a_second   # in the 5 s bucket, not below 1 s
