"""The roll-up gives the loop back between conversations: in the embedded default it runs on the web
process's loop, so each conversation's reads and writes must be a slice of their own (bench/rollups.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pipelines.analytics.rollup import do_rebuild, do_rollup
from schemas.common import new_id
from schemas.documents import Message, SenderInfo
from tests.conftest import make_conversation, make_user

NOW = datetime(2026, 6, 10, 12, tzinfo=timezone.utc)


def _seed(store, conv, user, n: int) -> None:
    """n messages of the conversation over the last few hours, lastSeq and lastMessageAt as a drain sets them."""
    at = [NOW - timedelta(minutes=10 * (n - i)) for i in range(n)]
    store.db.messages.insert_many([Message(id=new_id(), convId=conv.id, seq=i + 1, clientId=new_id(),
                                           senderId=user.id, senderInfo=SenderInfo.of(user), content="x",
                                           createdAt=at[i], updatedAt=at[i]).to_mongo() for i in range(n)])
    store.db.conversations.update_one({"_id": conv.id}, {"$set": {"lastSeq": n, "lastMessageAt": at[-1]}})


def test_rollup_pauses_before_each_conversation_and_its_write(store):
    user = make_user(store, "slices")
    convs = [make_conversation(store, [user], title=f"c{i}") for i in range(5)]
    for conv in convs:
        _seed(store, conv, user, 3)  # far fewer messages than the fold's own pause interval
    calls: list[int] = []

    def pause() -> None:
        calls.append(len(store.analytics.all_days()))  # what was written when the loop was given back

    first = do_rebuild(store, NOW, pause=pause)
    # before each conversation's read and before its write
    assert first.conversations == 5 and len(calls) == 10
    assert calls == sorted(calls) and calls[0] == 0 and calls[-1] > 0  # between conversations, not after all
    calls.clear()
    later = do_rollup(store, NOW + timedelta(minutes=1), pause=pause)
    assert later.conversations == 5 and len(calls) == 10
    assert sum(d.messages for d in store.analytics.all_days()) == 15
