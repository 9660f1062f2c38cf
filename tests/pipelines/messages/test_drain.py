"""pipelines.messages without Redis, Celery or a server: the embedded store, a memory inbox, a recording emitter."""
from __future__ import annotations

import threading

import pytest

from pipelines.messages.drain import LINGER_SLICE_MS, drain_inbox
from pipelines.messages.history import read_history
from pipelines.messages.submit import submit_message
from pipelines.messages.writer import _insert
from schemas.documents import ConversationMember
from schemas.errors import ApiError, Code
from schemas.payloads import HistoryWindow, MessageSend
from tests.conftest import make_conversation, make_user


def send(conv, client_id, content="hi", **kw) -> MessageSend:
    return MessageSend(convId=conv.id, clientId=client_id, content=content, **kw)


@pytest.fixture
def people(store):
    alice, bob, eve = (make_user(store, n) for n in ("alice", "bob", "eve"))
    conv = make_conversation(store, [alice, bob])
    return alice, bob, eve, conv


def drain(conv, store, inbox, notifier):
    return drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None, batch=7)


def test_drain_stores_in_inbox_order_with_gapless_seq_then_announces(store, inbox, notifier, emitter, people):
    alice, bob, _, conv = people
    queued = []
    for i in range(20):
        user = (alice, bob)[i % 2]
        submit_message(store, inbox, queued.append, user, send(conv, f"c{i}", f"message {i}"))
    assert queued == [conv.id] and inbox.pending(conv.id) == 20  # one drain scheduled for the burst

    result = drain(conv, store, inbox, notifier)

    assert result.stored == list(range(1, 21))
    stored = list(store.db.messages.find({"convId": conv.id}).sort("seq", 1))
    assert [m["content"] for m in stored] == [f"message {i}" for i in range(20)]
    assert [m["senderInfo"]["username"] for m in stored[:2]] == ["alice", "bob"]
    announced = emitter.of("message:new")
    assert [d["seq"] for d, _ in announced] == list(range(1, 21))
    assert {room for _, room in announced} == {f"conv:{conv.id}"}
    assert inbox.pending(conv.id) == 0
    assert store.conversations.get_conversation(conv.id).lastSeq == 20
    submit_message(store, inbox, queued.append, alice, send(conv, "later"))
    assert queued == [conv.id, conv.id]  # the drain re-armed the schedule: the next send enqueues again


def test_full_backlog_refuses_the_send_and_stores_nothing_of_it(store, inbox, notifier, people):
    alice, _, _, conv = people
    for i in range(3):
        submit_message(store, inbox, lambda c: None, alice, send(conv, f"b{i}"), max_backlog=3)
    with pytest.raises(ApiError) as err:
        submit_message(store, inbox, lambda c: None, alice, send(conv, "b3"), max_backlog=3)
    assert err.value.code == Code.RATE_LIMITED and err.value.status == 429
    assert inbox.pending(conv.id) == 3
    drain(conv, store, inbox, notifier)
    assert [m["clientId"] for m in store.db.messages.find({"convId": conv.id})] == ["b0", "b1", "b2"]


def test_a_drain_out_of_time_hands_over_to_a_follow_up_task(store, inbox, notifier, people):
    alice, _, _, conv = people
    for i in range(30):
        submit_message(store, inbox, lambda c: None, alice, send(conv, f"t{i}"))
    follow_ups = []
    result = drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=follow_ups.append,
                         batch=10, budget_seconds=0)
    assert result.continued and result.stored == list(range(1, 11)) and follow_ups == [conv.id]
    assert inbox.pending(conv.id) == 20
    rest = drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=follow_ups.append)
    assert rest.stored == list(range(11, 31)) and not rest.continued


def test_a_retry_of_an_announced_message_answers_the_retrying_socket_only(store, inbox, notifier, emitter, people):
    alice, _, _, conv = people
    for _ in range(2):  # a client retry before the first was stored: same clientId
        submit_message(store, inbox, lambda c: None, alice, send(conv, "retry-1", "once"), {"sid": "sock-a"})
    drain(conv, store, inbox, notifier)
    submit_message(store, inbox, lambda c: None, alice, send(conv, "retry-1", "once"), {"sid": "sock-b"})
    submit_message(store, inbox, lambda c: None, alice, send(conv, "retry-1", "once"))  # by REST: no socket
    result = drain(conv, store, inbox, notifier)

    assert store.db.messages.count_documents({"convId": conv.id}) == 1
    assert result.stored == [] and result.duplicates == 2
    announced = emitter.of("message:new")
    assert len({d["id"] for d, _ in announced}) == 1
    assert [room for _, room in announced] == [f"conv:{conv.id}", "sock-a", "sock-b", f"user:{alice.id}"]


def test_redelivered_drain_changes_nothing(store, inbox, notifier, people):
    alice, _, _, conv = people
    submit_message(store, inbox, lambda c: None, alice, send(conv, "a"))
    first = drain(conv, store, inbox, notifier)
    second = drain(conv, store, inbox, notifier)
    assert first.stored == [1] and second.stored == [] and second.duplicates == 0
    assert store.db.messages.count_documents({}) == 1


def test_drain_that_died_after_storing_resumes_without_duplicates_or_gaps(store, inbox, notifier, emitter, people):
    alice, _, _, conv = people
    for i in range(5):
        submit_message(store, inbox, lambda c: None, alice, send(conv, f"k{i}"))
    drain(conv, store, inbox, notifier)
    # A worker stored two more messages and died before recording lastSeq or clearing its inbox entries.
    for i in (5, 6):
        submit_message(store, inbox, lambda c: None, alice, send(conv, f"k{i}"))
    entries = inbox.claim(conv.id, 10)
    for n, (_, entry) in enumerate(entries, start=6):
        _insert(store, conv.id, n, entry, alice)
    submit_message(store, inbox, lambda c: None, alice, send(conv, "k7"))

    result = drain(conv, store, inbox, notifier)

    assert result.duplicates == 2 and result.stored == [8]
    assert [m["seq"] for m in store.db.messages.find({"convId": conv.id}).sort("seq", 1)] == list(range(1, 9))
    # Nobody had heard 6 and 7: the room hears them now, once, in order, and every seq exactly once.
    to_room = [d["seq"] for d, room in emitter.of("message:new") if room == f"conv:{conv.id}"]
    assert to_room == list(range(1, 9))
    assert store.conversations.get_conversation(conv.id).lastSeq == 8


def test_a_drain_that_died_before_announcing_only_duplicates_catches_lastseq_up(store, inbox, notifier, emitter,
                                                                                people):
    alice, _, _, conv = people
    submit_message(store, inbox, lambda c: None, alice, send(conv, "d1"))
    (_, entry), = inbox.claim(conv.id, 10)
    _insert(store, conv.id, 1, entry, alice)  # stored, then the worker died: not announced, lastSeq 0
    drain(conv, store, inbox, notifier)
    assert [room for _, room in emitter.of("message:new")] == [f"conv:{conv.id}"]
    assert store.conversations.get_conversation(conv.id).lastSeq == 1
    # So a later retry of it is now answered to the sender alone.
    submit_message(store, inbox, lambda c: None, alice, send(conv, "d1"), {"sid": "sock"})
    drain(conv, store, inbox, notifier)
    assert [room for _, room in emitter.of("message:new")] == [f"conv:{conv.id}", "sock"]


def test_stale_last_seq_is_resynchronised_from_the_messages(store, inbox, notifier, people):
    alice, _, _, conv = people
    submit_message(store, inbox, lambda c: None, alice, send(conv, "x1"))
    drain(conv, store, inbox, notifier)
    store.db.conversations.update_one({"_id": conv.id}, {"$set": {"lastSeq": 0}})  # behind the truth
    submit_message(store, inbox, lambda c: None, alice, send(conv, "x2"))
    assert drain(conv, store, inbox, notifier).stored == [2]


def test_locked_out_drain_leaves_the_work_to_the_holder(store, inbox, notifier, people):
    alice, _, _, conv = people
    submit_message(store, inbox, lambda c: None, alice, send(conv, "a"))
    with inbox.drain_lock(conv.id) as held:
        assert held is not None
        result = drain(conv, store, inbox, notifier)
    assert result.locked_out and result.stored == []
    assert store.db.messages.count_documents({}) == 0 and inbox.pending(conv.id) == 1


def test_sender_removed_while_queued_is_rejected_not_stored(store, inbox, notifier, emitter, people):
    alice, _, _, conv = people
    submit_message(store, inbox, lambda c: None, alice, send(conv, "gone"))
    store.db.conversation_members.delete_one({"convId": conv.id, "userId": alice.id})

    result = drain(conv, store, inbox, notifier)

    assert result.rejected == 1 and store.db.messages.count_documents({}) == 0
    [(data, room)] = emitter.of("message:rejected")
    assert room == f"user:{alice.id}" and data == {"clientId": "gone", "convId": conv.id,
                                                   "code": "not_a_member", "reason": data["reason"]}
    assert inbox.pending(conv.id) == 0


@pytest.mark.parametrize("who, conv_id, code", [("eve", None, Code.NOT_A_MEMBER), ("alice", "0" * 24, Code.NOT_FOUND)])
def test_submit_refuses_and_queues_nothing(store, inbox, people, who, conv_id, code):
    alice, _, eve, conv = people
    queued = []
    user = {"alice": alice, "eve": eve}[who]
    with pytest.raises(ApiError) as err:
        submit_message(store, inbox, queued.append, user,
                       send(conv, "c1").model_copy(update={"convId": conv_id or conv.id}))
    assert err.value.code == code
    assert queued == [] and inbox.pending(conv.id) == 0 and inbox.pending("0" * 24) == 0
    if code == Code.FORBIDDEN:  # refusals are audited
        assert store.db.activity_logs.count_documents({"userId": eve.id, "action": "denied"}) == 1


def test_reply_to_must_be_a_message_of_the_same_conversation(store, inbox, notifier, people):
    alice, bob, _, conv = people
    other = make_conversation(store, [alice, bob], "other")
    submit_message(store, inbox, lambda c: None, alice, send(other, "o1"))
    drain(other, store, inbox, notifier)
    foreign_parent = store.db.messages.find_one({"convId": other.id})["_id"]
    with pytest.raises(ApiError) as err:
        submit_message(store, inbox, lambda c: None, alice, send(conv, "r1", replyTo=foreign_parent))
    assert err.value.code == Code.NOT_FOUND and inbox.pending(conv.id) == 0


def test_concurrent_drainers_keep_seq_gapless_and_each_senders_order(store, inbox, notifier, people):
    """Several threads append and drain the same conversation at once (a concurrent worker pool)."""
    alice, bob, _, conv = people
    senders = [alice, bob]
    per_sender = 60

    def produce(user):
        for i in range(per_sender):
            submit_message(store, inbox, lambda c: None, user, send(conv, f"{user.username}-{i:03d}"))

    def consume(stop):
        while not stop.is_set() or inbox.pending(conv.id):
            drain(conv, store, inbox, notifier)

    stop = threading.Event()
    consumers = [threading.Thread(target=consume, args=(stop,)) for _ in range(4)]
    producers = [threading.Thread(target=produce, args=(u,)) for u in senders]
    for t in consumers + producers:
        t.start()
    for t in producers:
        t.join()
    stop.set()
    for t in consumers:
        t.join()

    stored = list(store.db.messages.find({"convId": conv.id}).sort("seq", 1))
    assert [m["seq"] for m in stored] == list(range(1, 2 * per_sender + 1))
    for user in senders:
        mine = [m["clientId"] for m in stored if m["senderId"] == user.id]
        assert mine == [f"{user.username}-{i:03d}" for i in range(per_sender)]


def test_history_windows(store, inbox, notifier, people):
    alice, bob, eve, conv = people
    for i in range(7):
        submit_message(store, inbox, lambda c: None, alice, send(conv, f"h{i}"))
    drain(conv, store, inbox, notifier)

    def seqs(before=None, after=None, limit=3):
        page = read_history(store, bob, conv.id, HistoryWindow(before, after, limit))
        return [m.seq for m in page.messages], page.has_more

    assert seqs() == ([5, 6, 7], True)
    assert seqs(before=5) == ([2, 3, 4], True)
    assert seqs(before=2) == ([1], False)
    assert seqs(after=4) == ([5, 6, 7], False)
    assert seqs(after=1) == ([2, 3, 4], True)
    assert seqs(after=7) == ([], False)
    with pytest.raises(ApiError) as err:
        read_history(store, eve, conv.id, HistoryWindow(None, None, 3))
    assert err.value.code == Code.FORBIDDEN


def test_a_lingering_drain_takes_new_sends_without_new_tasks(store, inbox, notifier, people):
    alice, _, _, conv = people
    queued = []
    submit_message(store, inbox, queued.append, alice, send(conv, "first"))
    results = []
    drainer = threading.Thread(target=lambda: results.append(drain_inbox(
        conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=queued.append,
        linger_ms=400, budget_seconds=5)))
    drainer.start()
    wait = threading.Event()
    wait.wait(0.1)
    submit_message(store, inbox, queued.append, alice, send(conv, "during-linger"))
    drainer.join()
    assert results[0].stored == [1, 2]
    assert queued == [conv.id]  # only the first send scheduled a task
    submit_message(store, inbox, queued.append, alice, send(conv, "after"))
    assert queued == [conv.id, conv.id]  # the drain unscheduled itself when it stopped


@pytest.mark.parametrize("slot_wanted", [False, True])
def test_a_lingering_drain_waits_in_slices_and_stops_when_its_slot_is_wanted(store, inbox, notifier, people,
                                                                             slot_wanted):
    alice, _, _, conv = people
    submit_message(store, inbox, lambda c: None, alice, send(conv, "only"))
    waits, asked = [], []
    advance = inbox.advance

    def recording_advance(conv_id, done_ids, after_id, count, block_ms):
        waits.append(block_ms)
        return advance(conv_id, done_ids, after_id, count, block_ms)

    def may_linger():
        asked.append(1)
        return not slot_wanted

    inbox.advance = recording_advance
    result = drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None,
                         linger_ms=250, budget_seconds=5, may_linger=may_linger)
    assert result.stored == [1]
    # Each slice is waited only if the worker has no task waiting for a slot; without one, a read that
    # waits for nothing still deletes what was stored.
    assert waits == ([None] if slot_wanted else [LINGER_SLICE_MS, LINGER_SLICE_MS, 50])
    assert len(asked) == (2 if slot_wanted else 3)  # (asked again once the read found nothing)
    assert inbox.status(conv.id) == (0, False)


def test_send_scheduled_while_the_holder_finishes_is_not_stranded(store, inbox, notifier, people):
    """A send arrives just after the holder's last read (so it sets the flag and enqueues a task);
    that task is locked out; the holder, seeing the flag set again after releasing the lock, drains
    once more."""
    alice, _, _, conv = people
    queued = []
    last_read = inbox.unschedule_and_claim

    def last_read_then_a_send_arrives(conv_id, count):
        entries = last_read(conv_id, count)
        submit_message(store, inbox, queued.append, alice, send(conv, "late"))
        # The late send's task runs now, while the holder still holds the lock: locked out.
        assert drain(conv, store, inbox, notifier).locked_out
        inbox.unschedule_and_claim = last_read
        return entries

    inbox.unschedule_and_claim = last_read_then_a_send_arrives
    submit_message(store, inbox, lambda c: None, alice, send(conv, "early"))
    result = drain(conv, store, inbox, notifier)
    assert queued == [conv.id] and result.stored == [1, 2]
    assert [m["clientId"] for m in store.db.messages.find({"convId": conv.id}).sort("seq", 1)] == ["early", "late"]
    assert inbox.status(conv.id) == (0, False)


def test_a_reply_carries_a_short_quote_of_its_parent(store, inbox, notifier, emitter, people):
    alice, bob, _, conv = people
    long_text = "Bonjour à tous, " * 20
    submit_message(store, inbox, lambda c: None, alice, send(conv, "parent", long_text))
    drain(conv, store, inbox, notifier)
    parent = store.db.messages.find_one({"convId": conv.id, "clientId": "parent"})
    submit_message(store, inbox, lambda c: None, bob, send(conv, "reply", "oui !", replyTo=parent["_id"]))
    drain(conv, store, inbox, notifier)

    reply = store.db.messages.find_one({"convId": conv.id, "clientId": "reply"})
    quote = reply["metadata"]["quote"]
    assert reply["metadata"]["replyTo"] == parent["_id"]
    assert (quote["messageId"], quote["seq"], quote["senderId"], quote["username"]) == (parent["_id"], 1, alice.id, "alice")
    assert len(quote["excerpt"]) <= 140 and quote["excerpt"].endswith("…")
    assert long_text.startswith(quote["excerpt"][:-1])
    announced = emitter.of("message:new")[-1][0]
    assert announced["metadata"]["quote"]["excerpt"] == quote["excerpt"]


def test_mentions_are_parsed_server_side_into_member_ids_and_notified(store, inbox, notifier, emitter, people):
    alice, bob, eve, conv = people  # eve is not a member
    carol = make_user(store, "carol.b")
    store.conversations.insert_conversation_member(ConversationMember(id="c" * 24, convId=conv.id, userId=carol.id,
                                                        groupId=conv.groupId, joinedAt=conv.createdAt))
    text = "hi @Bob and @carol.b, not @eve nor @nobody, mail bob@example.com, me @alice"
    submit_message(store, inbox, lambda c: None, alice, send(conv, "men", text))
    drain(conv, store, inbox, notifier)

    stored = store.db.messages.find_one({"clientId": "men"})
    assert stored["metadata"]["mentions"] == sorted([bob.id, carol.id])
    mentioned = emitter.of("mention:new")
    assert sorted(room for _, room in mentioned) == sorted([f"user:{bob.id}", f"user:{carol.id}"])
    assert all(data["id"] == stored["_id"] for data, _ in mentioned)


def test_a_message_without_mentions_stores_none(store, inbox, notifier, emitter, people):
    alice, _, _, conv = people
    submit_message(store, inbox, lambda c: None, alice, send(conv, "plain", "no one here, just an @ sign"))
    drain(conv, store, inbox, notifier)
    assert "mentions" not in store.db.messages.find_one({"clientId": "plain"})["metadata"]
    assert emitter.of("mention:new") == []
