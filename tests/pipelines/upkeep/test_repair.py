"""The repair job fixes what drifted, and a second run finds nothing."""
from __future__ import annotations

from pipelines.messages.submit import submit_message
from pipelines.upkeep.repair import repair
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
