"""A group's realistic history written straight into a store: what a roll-up walks in a benchmark.

``seed_history(store, messages=100_000, days=365)`` makes one group of ``users`` members (the first its admin)
with ``conversations`` conversations, and ``messages`` messages spread over the last ``days`` days up to now:
more on weekdays than at weekends, most of them in working hours, senders from a skewed distribution (a few
people write most), conversations likewise, lengths from a word to a few hundred characters, 10 % replies
with their quote, 1 % deleted, a few edited. Seqs follow ``createdAt`` in each conversation and
``lastSeq`` and ``lastMessageAt`` are set (as the drains set them), so the chat and the repair job see a consistent conversation. Inserted in chunks (the
API would take minutes for 100,000 and could not date them a year back).
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

WORDS = ("le la les un une et est pour dans avec the and of to in meeting demain projet review merci "
         "ok bien sûr 👍 voilà release deploy bug fix test café équipe réunion").split()
# Share of a day's messages in each UTC hour: quiet at night, busy 8-18.
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 13, 10, 13, 15, 15, 13, 10, 7, 5, 4, 3, 2, 1]
CHUNK = 5000


def text_of(rnd: random.Random) -> str:
    kind = rnd.random()
    n = rnd.randint(1, 10) if kind < 0.6 else rnd.randint(10, 70) if kind < 0.9 else rnd.randint(70, 330)
    return " ".join(rnd.choice(WORDS) for _ in range(n))


def timestamps(rnd: random.Random, n: int, days: int, end: datetime) -> list[datetime]:
    """``n`` times over the ``days`` days ending at ``end``, weekdays three times as busy as weekends and
    hours by HOUR_WEIGHTS; none after ``end``, sorted."""
    first = (end - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    day_list = [first + timedelta(days=d) for d in range(days)]
    day_weights = [1 if d.weekday() >= 5 else 3 for d in day_list]
    out = []
    for day in rnd.choices(day_list, day_weights, k=n):
        t = day + timedelta(hours=rnd.choices(range(24), HOUR_WEIGHTS)[0], seconds=rnd.random() * 3600)
        out.append(t if t <= end else end - timedelta(seconds=rnd.random() * 3600))
    return sorted(out)


def _people(store, rnd: random.Random, users: int, conversations: int, now: datetime):
    from schemas.common import new_id
    from schemas.documents import Conversation, ConversationMember, Group, GroupMember, User

    tag = f"{rnd.randrange(16 ** 6):06x}"
    people = [User(id=new_id(), username=f"hist{tag}u{i}", createdAt=now, updatedAt=now) for i in range(users)]
    store.db.users.insert_many([u.to_mongo() for u in people])
    group = Group(id=new_id(), name=f"history {tag}", createdBy=people[0].id, createdAt=now)
    store.groups.insert_group(group, GroupMember(id=new_id(), groupId=group.id, userId=people[0].id,
                                                 role="GROUP_ADMIN", joinedAt=now))
    for u in people[1:]:
        store.groups.insert_group_member(GroupMember(id=new_id(), groupId=group.id, userId=u.id, role="MEMBER",
                                                     joinedAt=now))
    convs = []
    for c in range(conversations):
        members = rnd.sample(people[1:], k=min(len(people) - 1, rnd.randint(5, 20))) + [people[0]]
        conv = Conversation(id=new_id(), groupId=group.id, title=f"topic {c}", createdBy=people[0].id,
                            createdAt=now)
        store.conversations.insert_conversation(conv, [ConversationMember(
            id=new_id(), convId=conv.id, userId=u.id, groupId=group.id, joinedAt=now) for u in members])
        convs.append((conv, members))
    return people, group, convs


def _message(rnd: random.Random, conv, members: list, seq: int, at: datetime, recent: list):
    from schemas.common import new_id
    from schemas.documents import Edit, Message, MessageMetadata, Quote, SenderInfo

    # A few members write most: weight 1/rank.
    sender = rnd.choices(members, [1 / (k + 1) for k in range(len(members))])[0]
    meta, extra = MessageMetadata(), {}
    if recent and rnd.random() < 0.1:
        parent = recent[rnd.randrange(len(recent))]
        meta = MessageMetadata(replyTo=parent.id, quote=Quote.of(parent))
    if rnd.random() < 0.02:
        extra.update(isEdited=True, editedAt=at, editHistory=[Edit(content=text_of(rnd), replacedAt=at)])
    if rnd.random() < 0.01:
        extra.update(isDeleted=True, deletedAt=at, deletedBy=sender.id)
    return Message(id=new_id(), convId=conv.id, seq=seq, clientId=f"h{seq}", senderId=sender.id,
                   senderInfo=SenderInfo.of(sender), content=text_of(rnd), metadata=meta, createdAt=at,
                   updatedAt=at, **extra)


def seed_history(store, *, messages: int = 100_000, days: int = 365, users: int = 50, conversations: int = 20,
                 seed: int = 24, now: datetime | None = None) -> dict[str, Any]:
    """Write the history; returns what was made (group id, conversation ids, counts, first and last time)."""
    rnd = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    _, group, convs = _people(store, rnd, users, conversations, now)
    conv_weights = [1 / (k + 1) for k in range(len(convs))]
    seqs = [0] * len(convs)
    last_at: list[datetime | None] = [None] * len(convs)
    recent: list[list] = [[] for _ in convs]
    times = timestamps(rnd, messages, days, now)
    chunk: list[dict] = []
    for at in times:
        c = rnd.choices(range(len(convs)), conv_weights)[0]
        seqs[c] += 1
        m = _message(rnd, convs[c][0], convs[c][1], seqs[c], at, recent[c])
        recent[c] = (recent[c] + [m])[-50:]
        last_at[c] = at
        chunk.append(m.to_mongo())
        if len(chunk) == CHUNK:
            store.db.messages.insert_many(chunk)
            chunk = []
    if chunk:
        store.db.messages.insert_many(chunk)
    for (conv, _), last, at in zip(convs, seqs, last_at):
        store.db.conversations.update_one({"_id": conv.id}, {"$set": {"lastSeq": last, "lastMessageAt": at}})
    return {"group_id": group.id, "conversation_ids": [c.id for c, _ in convs], "messages": messages,
            "days": days, "users": users, "first": times[0].isoformat() if times else None,
            "last": times[-1].isoformat() if times else None}
