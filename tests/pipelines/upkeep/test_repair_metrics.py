"""What the repair job found and fixed, counted by kind of inconsistency; a second run counts nothing; expired
notifications (housekeeping) are not counted."""
from __future__ import annotations

from pipelines.messages.submit import submit_message
from pipelines.upkeep.repair import KINDS, repair
from schemas.common import utcnow
from schemas.payloads import MessageSend
from tests.conftest import make_conversation, make_user
from tests.metric_samples import sample
from tests.pipelines.notifications.test_stored import post


def counted() -> dict[str, tuple[float, float]]:
    return {k: (sample("chat_repair_found_total", kind=k), sample("chat_repair_fixed_total", kind=k)) for k in KINDS}


def delta(before: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    return {k: (found - before[k][0], fixed - before[k][1]) for k, (found, fixed) in counted().items()}


def test_each_kind_found_and_fixed_is_counted_and_a_second_run_counts_nothing(store, inbox):
    alice, bob, carol = (make_user(store, n) for n in ("alice", "bob", "carol"))
    conv = make_conversation(store, [alice, bob, carol])
    for i in range(3):
        post(store, conv, alice, f"m{i}")
    store.db.conversations.update_one({"_id": conv.id}, {"$set": {"lastSeq": 1}})   # a drain died before recording it
    store.db.group_members.delete_one({"groupId": conv.groupId, "userId": carol.id})  # a removal cut short
    store.db.messages.update_many({"convId": conv.id, "seq": {"$lte": 2}}, {"$unset": {"words": 1}})  # older messages
    submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId="x", content="hi"))
    inbox.unschedule_and_claim(conv.id, 1)   # its drain task was lost and the flag expired
    before = counted()
    repair(store, stranded_inboxes=inbox.stranded, enqueue_drain=lambda c: None, now=utcnow())
    assert delta(before) == {"last_seq": (1, 1), "members_outside_group": (1, 1), "stranded_inbox": (1, 1),
                             "search_words": (2, 2)}
    inbox._scheduled.add(conv.id)   # the drain is scheduled now
    before = counted()
    repair(store, stranded_inboxes=inbox.stranded, enqueue_drain=lambda c: None, now=utcnow())
    assert delta(before) == dict.fromkeys(KINDS, (0, 0))


def test_a_fix_another_writer_made_first_is_found_not_fixed(store, inbox, monkeypatch):
    alice = make_user(store, "alice")
    conv = make_conversation(store, [alice])
    post(store, conv, alice, "m")
    store.db.conversations.update_one({"_id": conv.id}, {"$set": {"lastSeq": 0}})
    monkeypatch.setattr(store.upkeep, "repair_last_seq", lambda *a: False)   # a drain moved it meanwhile
    before = counted()
    repair(store, stranded_inboxes=lambda: [], enqueue_drain=lambda c: None, now=utcnow())
    assert delta(before)["last_seq"] == (1, 0)
