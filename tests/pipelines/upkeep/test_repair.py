"""The repair job fixes what drifted, and a second run finds nothing."""
from __future__ import annotations

from pipelines.messages.submit import submit_message
from pipelines.upkeep.repair import backfill_search_words, repair
from schemas.common import utcnow
from schemas.payloads import MessageSend
from tests.conftest import make_conversation, make_user
from tests.pipelines.notifications.test_stored import post


def test_repair_fixes_last_seq_strays_and_stranded_inboxes_once(store, inbox):
    alice, bob, carol = (make_user(store, n) for n in ("alice", "bob", "carol"))
    conv = make_conversation(store, [alice, bob, carol])
    for i in range(3):
        post(store, conv, alice, f"m{i}")
    store.db.conversations.update_one({"_id": conv.id}, {"$set": {"lastSeq": 1}})   # a drain died before recording it
    store.db.group_members.delete_one({"groupId": conv.groupId, "userId": carol.id})  # removal cut short
    submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId="x", content="hi"))
    inbox.unschedule_and_claim(conv.id, 1)   # its drain task was lost and the flag expired
    drains = []
    result = repair(store, stranded_inboxes=inbox.stranded, enqueue_drain=drains.append, now=utcnow())
    assert result.last_seq_fixed == {conv.id: (1, 3)} and store.conversations.get_conversation(conv.id).lastSeq == 3
    assert result.members_removed == [(conv.id, carol.id)] and store.conversations.get_conversation_member(conv.id, carol.id) is None
    assert drains == [conv.id]
    inbox._scheduled.add(conv.id)   # the drain is scheduled now
    again = repair(store, stranded_inboxes=inbox.stranded, enqueue_drain=drains.append, now=utcnow())
    assert again.summary() == {**again.summary(), "last_seq_fixed": 0, "members_removed": 0, "drains_scheduled": 0}


def test_repair_gives_older_messages_their_search_words_once_resuming_between_runs(store, inbox):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    for i in range(5):
        post(store, conv, alice, f"the checkout {i} is down")
    store.db.messages.update_many({"convId": conv.id}, {"$unset": {"words": 1, "language": 1}})   # stored before search kept words
    run = lambda: repair(store, stranded_inboxes=lambda: [], enqueue_drain=lambda c: None, now=utcnow(), batch=2)
    first = run()   # 10 batches of 2: the whole walk
    assert first.search_words_given == 5
    assert store.db.messages.count_documents({"convId": conv.id, "words": {"$exists": False}}) == 0
    assert store.upkeep.walk_cursor("search-words") == store.upkeep.DONE
    store.db.messages.update_one({"convId": conv.id, "seq": 1}, {"$unset": {"words": 1}})
    assert run().search_words_given == 0   # the walk is done: it is not made again


def test_the_search_words_walk_goes_on_where_the_last_run_stopped(store):
    alice = make_user(store, "alice")
    conv = make_conversation(store, [alice])
    for i in range(5):
        post(store, conv, alice, f"deployed {i}")
    store.db.messages.update_many({}, {"$unset": {"words": 1}})
    assert [backfill_search_words(store, batch=1, batches=2) for _ in range(4)] == [2, 2, 1, 0]
    assert store.db.messages.count_documents({"words": {"$exists": False}}) == 0
