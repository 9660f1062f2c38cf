"""Scheduled messages: exactly once, in each conversation's order, never early, never stale, through the inbox."""
from __future__ import annotations

import queue
import random
import threading
from datetime import timedelta

import pytest

from pipelines.messages.drain import drain_inbox
from pipelines.notifications.stored import do_notify
from pipelines.scheduling import scheduled as scheduling
from schemas.common import new_id, utcnow
from schemas.documents import ScheduledMessage
from schemas.errors import ApiError, Code
from schemas.payloads import ScheduledMessageCreate, ScheduledMessageUpdate
from tests.conftest import make_conversation, make_user

LIMITS = scheduling.Limits(lease_seconds=30, max_lateness_seconds=300)


class SerialStore:
    """The store with each method call atomic, like the single MongoDB operation each claim is.

    mongomock's find_one_and_update is a find then an update, not atomic across OS threads (under
    eventlet, in production's embedded store, green threads never switch inside it); a real server
    makes each operation atomic, which is all the claim relies on."""

    def __init__(self, store) -> None:
        self._store, self._lock = store, threading.RLock()

    def __getattr__(self, name):
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def locked(*args, **kwargs):
            with self._lock:
                return attr(*args, **kwargs)
        return locked


def schedule(store, conv, user, send_at, client_id=None, content="later"):
    now = utcnow()
    item = ScheduledMessage(id=new_id(), convId=conv.id, senderId=user.id, clientId=client_id or new_id(),
                            content=content, sendAt=send_at, createdAt=now, updatedAt=now)
    store.scheduled.insert_scheduled(item)
    return item


def sender(store, inbox, notifier, clock=utcnow, limits=LIMITS):
    def notify(requests):
        do_notify(store, notifier, requests, now=utcnow(), ttl_days=30)

    def send(conv_id):
        return scheduling.send_due(conv_id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None,
                                   notify=notify, clock=clock, limits=limits)
    return send


def drain_all(store, inbox, notifier, conv_ids):
    for conv_id in conv_ids:
        drain_inbox(conv_id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None,
                    budget_seconds=60)


def stored(store, conv_id):
    return [m for m in store.messages.history(conv_id, before=None, after=0, limit=10_000).messages if m.type != "system"]


def test_two_beats_and_four_workers_deliver_1000_due_messages_once_in_order(store, inbox, notifier):
    users = [make_user(store, f"user{i}") for i in range(4)]
    convs = [make_conversation(store, users, title=f"c{i}") for i in range(20)]
    now = utcnow()
    rng = random.Random(12)
    due, future, stale = {}, [], []
    for i in range(1000):
        conv = convs[i % len(convs)]
        item = schedule(store, conv, users[i % 4], now - timedelta(milliseconds=rng.randrange(0, 20_000)),
                        client_id=f"due-{i}")
        due.setdefault(conv.id, []).append(item)
    for i in range(40):  # not yet due, and due long ago: neither may be sent
        future.append(schedule(store, convs[i % 20], users[0], now + timedelta(hours=1), client_id=f"future-{i}"))
        stale.append(schedule(store, convs[i % 20], users[1], now - timedelta(hours=1), client_id=f"stale-{i}"))

    safe = SerialStore(store)
    tasks: queue.Queue = queue.Queue()
    send = sender(safe, inbox, notifier)
    stop = threading.Event()

    def beat():
        while not stop.is_set():  # a tick every 20 ms (beat's is seconds): the two overlap all the time
            scheduling.dispatch_due_scheduled(safe, tasks.put, now=utcnow())
            stop.wait(0.02)

    def worker():
        while not stop.is_set():
            try:
                conv_id = tasks.get(timeout=0.05)
            except queue.Empty:
                continue
            send(conv_id)

    threads = [threading.Thread(target=beat) for _ in range(2)] + [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        deadline = utcnow() + timedelta(seconds=60)
        while store.scheduled.due_scheduled_conversations(utcnow(), 10) and utcnow() < deadline:
            threading.Event().wait(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    drain_all(store, inbox, notifier, [c.id for c in convs])
    for conv in convs:
        expected = [i.clientId for i in sorted(due[conv.id], key=lambda i: (i.sendAt, i.id))]
        assert [m.clientId for m in stored(store, conv.id)] == expected  # once each, in sendAt order
    assert all(store.scheduled.get_scheduled(i.id).status == "sent" for items in due.values() for i in items)
    assert all(store.scheduled.get_scheduled(i.id).status == "pending" for i in future)  # none early
    for item in stale:  # none stale: failed, and the sender was told
        doc = store.scheduled.get_scheduled(item.id)
        assert doc.status == "failed" and doc.error["code"] == Code.SCHEDULED_LATE
    failed = [d for d, _ in notifier.emitter.of("notification:new") if d["type"] == "scheduled_failed"]
    assert len(failed) == len(stale)


def test_a_worker_killed_after_claiming_is_replaced_once_its_lease_expires(store, inbox, notifier):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    now = utcnow()
    first = schedule(store, conv, alice, now - timedelta(seconds=1), client_id="a")
    second = schedule(store, conv, alice, now, client_id="b")
    # A worker claims the head and submits it, then dies before marking it sent.
    claimed = store.scheduled.claim_scheduled(first, now, now + timedelta(seconds=LIMITS.lease_seconds), "dead-worker")
    from pipelines.messages.submit import submit_message
    from schemas.payloads import MessageSend
    submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId="a", content="later"))
    assert claimed.status == "claimed"
    # While the lease runs, nobody else sends anything of that conversation (order: the head is held).
    result = sender(store, inbox, notifier)(conv.id)
    assert result.blocked and result.sent == []
    # After the lease: re-claimed, submitted again with the same clientId, then the next one.
    later = sender(store, inbox, notifier, clock=lambda: utcnow() + timedelta(seconds=LIMITS.lease_seconds + 1))
    assert later(conv.id).sent == [first.id, second.id]
    drain_all(store, inbox, notifier, [conv.id])
    assert [m.clientId for m in stored(store, conv.id)] == ["a", "b"]  # stored once each
    assert store.scheduled.get_scheduled(first.id).attempts == 2


def test_a_sender_who_left_gets_scheduled_failed_and_nothing_is_sent(store, inbox, notifier):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    item = schedule(store, conv, bob, utcnow() - timedelta(seconds=1))
    store.conversations.remove_conversation_member(conv.id, bob.id)
    result = sender(store, inbox, notifier)(conv.id)
    assert result.failed == [item.id] and inbox.pending(conv.id) == 0
    doc = store.scheduled.get_scheduled(item.id)
    assert doc.status == "failed" and doc.error["code"] == Code.NOT_A_MEMBER
    [(note, room)] = notifier.emitter.of("notification:new")
    assert note["type"] == "scheduled_failed" and room == f"user:{bob.id}" and note["data"]["scheduledId"] == item.id


def test_a_muted_sender_is_refused_at_send_time(store, inbox, notifier):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    item = schedule(store, conv, bob, utcnow() - timedelta(seconds=1))
    store.conversations.set_muted_until(conv.groupId, bob.id, utcnow() + timedelta(minutes=5))
    sender(store, inbox, notifier)(conv.id)
    assert store.scheduled.get_scheduled(item.id).error["code"] == Code.MUTED and inbox.pending(conv.id) == 0


def test_create_checks_time_zone_membership_and_changes_nothing_when_refused(store):
    alice, bob, carol = make_user(store, "alice"), make_user(store, "bob"), make_user(store, "carol")
    conv = make_conversation(store, [alice, bob])
    now = utcnow()

    def create(user, **fields):
        body = {"clientId": "c1", "content": "hi", "sendAt": (now + timedelta(hours=1)).isoformat(), **fields}
        return scheduling.do_schedule(store, user, conv.id, ScheduledMessageCreate(**body), now=now, limits=LIMITS)

    for fields, code in [({"sendAt": (now - timedelta(seconds=1)).isoformat()}, Code.INVALID_TIME),
                         ({"sendAt": (now + timedelta(days=400)).isoformat()}, Code.INVALID_TIME),
                         ({"sendAt": "tomorrow at nine"}, Code.INVALID_TIME),
                         ({"sendAt": "2099-01-01T09:00:00"}, Code.INVALID_TIME),   # naive, no zone
                         ({"sendAt": "2099-01-01T09:00:00", "timeZone": "Europe/Atlantis"}, Code.INVALID_TIME_ZONE)]:
        with pytest.raises(ApiError) as err:
            create(alice, **fields)
        assert err.value.code == code, fields
    with pytest.raises(ApiError) as err:
        create(carol)
    assert err.value.code == Code.NOT_A_MEMBER
    assert store.scheduled.scheduled_of_sender(alice.id, conv.id, before=None, limit=10) == ([], False)
    # A local time in a zone: stored in UTC. A retried create is the same item.
    paris = now.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")) + timedelta(hours=2)
    item, created = create(alice, sendAt=paris.replace(tzinfo=None).isoformat(timespec="seconds"),
                           timeZone="Europe/Paris")
    again, created_again = create(alice, sendAt=(now + timedelta(hours=5)).isoformat())
    assert created and not created_again and again.id == item.id
    assert abs((item.sendAt - paris).total_seconds()) < 1


def test_only_the_sender_edits_or_cancels_and_only_while_pending(store, notifier):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    item = schedule(store, conv, alice, utcnow() + timedelta(hours=1))
    with pytest.raises(ApiError) as err:   # someone else's: 404, as if it did not exist
        scheduling.do_update_scheduled(store, notifier, bob, item.id, ScheduledMessageUpdate(content="mine"),
                                       now=utcnow(), limits=LIMITS)
    assert err.value.code == Code.NOT_FOUND
    with pytest.raises(ApiError) as err:
        scheduling.do_cancel_scheduled(store, notifier, bob, item.id, now=utcnow())
    assert err.value.code == Code.NOT_FOUND and store.scheduled.get_scheduled(item.id).status == "pending"
    # Refused like every other "not yours" (policy.access.check_owner), without saying it exists.
    assert store.db.activity_logs.count_documents({"userId": bob.id, "action": "denied", "resource": "scheduled",
                                                "resourceId": item.id}) == 2
    edited = scheduling.do_update_scheduled(store, notifier, alice, item.id, ScheduledMessageUpdate(content="new"),
                                            now=utcnow(), limits=LIMITS)
    assert edited.content == "new"
    scheduling.do_cancel_scheduled(store, notifier, alice, item.id, now=utcnow())
    with pytest.raises(ApiError) as err:
        scheduling.do_cancel_scheduled(store, notifier, alice, item.id, now=utcnow())
    assert err.value.code == Code.INVALID_STATE
    assert store.scheduled.due_scheduled_conversations(utcnow() + timedelta(hours=2), 10) == []
