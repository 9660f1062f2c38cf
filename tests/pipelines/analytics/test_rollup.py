"""The roll-ups against counts computed directly from the messages: random traffic over five weeks across
the DST changes of Europe and the US, deleted and system messages, media, exports, late writes, edits and
deletions after a roll-up; beat's incremental runs give the same documents as a rebuild."""
from __future__ import annotations

import math
import random
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from pipelines.analytics.report import build_report
from pipelines.analytics.rollup import do_rebuild, do_rollup, fold_conversation
from schemas.common import new_id
from schemas.documents import Conversation, Message, SenderInfo
from schemas.payloads import AnalyticsQuery
from tests.conftest import make_conversation, make_user

START = datetime(2026, 3, 1, tzinfo=timezone.utc)   # US DST on 8 March, Europe's on 29 March
END = datetime(2026, 4, 6, tzinfo=timezone.utc)
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo")


def _traffic(rng: random.Random, conv: Conversation, users, exports: list[dict]) -> list[Message]:
    """One conversation's messages, in seq order with increasing times: runs by one sender, gaps from
    seconds to two days, a few images, files, system notes and deletions."""
    out, at, sender = [], START + timedelta(minutes=rng.randint(0, 600)), rng.choice(users)
    while at < END:
        if rng.random() < 0.55:
            sender = rng.choice(users)
        kind = rng.choices(["text", "image", "file", "system"], [85, 7, 5, 3])[0]
        metadata = {"files": [{"mediaId": new_id()}]} if kind == "file" else {}
        out.append(Message(id=new_id(), convId=conv.id, seq=len(out) + 1, clientId=new_id(), senderId=sender.id,
                           senderInfo=SenderInfo.of(sender), type=kind, content="x", metadata=metadata,
                           isDeleted=rng.random() < 0.1, createdAt=at, updatedAt=at))
        if rng.random() < 0.01:
            exports.append({"_id": new_id(), "convId": conv.id, "createdAt": at + timedelta(seconds=1)})
        gap = rng.choices([rng.uniform(1, 120), rng.uniform(60, 7200), rng.uniform(3600, 30 * 3600)],
                          [60, 30, 10])[0] if rng.random() < 0.99 else rng.uniform(24 * 3600, 50 * 3600)
        at += timedelta(milliseconds=int(gap * 1000))
    return out


@pytest.fixture
def world(store):
    rng = random.Random(24)
    users = [make_user(store, f"user{i}") for i in range(6)]
    convs = [make_conversation(store, users, title=f"c{i}") for i in range(2)]
    # Two more conversations in the first one's group: a group's figures are its conversations' summed.
    for i in range(2):
        extra = make_conversation(store, users, title=f"g{i}")
        store.db.conversations.update_one({"_id": extra.id}, {"$set": {"groupId": convs[0].groupId}})
        convs.append(extra.model_copy(update={"groupId": convs[0].groupId}))
    exports: list[dict] = []
    messages = {c.id: _traffic(rng, c, rng.sample(users, 4), exports) for c in convs}
    return {"rng": rng, "users": users, "convs": convs, "messages": messages, "exports": exports}


def _insert_until(store, world, until: datetime, inserted: dict[str, int], exports_done: set[str]) -> None:
    for conv in world["convs"]:
        msgs, n = world["messages"][conv.id], inserted.get(conv.id, 0)
        while n < len(msgs) and msgs[n].createdAt < until:
            store.messages.insert_message(msgs[n])
            store.conversations.advance_conversation(conv.id, msgs[n].seq, msgs[n].createdAt)
            n += 1
        inserted[conv.id] = n
    for e in world["exports"]:
        if e["createdAt"] < until and e["_id"] not in exports_done:
            store.db.exports.insert_one(dict(e))
            exports_done.add(e["_id"])


def _dump(store) -> list[dict]:
    return [d.model_dump(exclude={"updatedAt"}) for d in store.analytics.all_days()]


def _run_incrementally(store, world) -> None:
    """Beat every 6 to 30 hours; the sends of the 30 seconds before each run are stored just after it
    (late writes: accepted before the run, stored after); an edit and a deletion of old messages midway."""
    rng, inserted, exports_done = world["rng"], {}, set()
    tick, edited = START, False
    while tick < END + timedelta(days=1):
        tick += timedelta(hours=rng.uniform(6, 30))
        _insert_until(store, world, tick - timedelta(seconds=30), inserted, exports_done)
        do_rollup(store, tick)
        _insert_until(store, world, tick, inserted, exports_done)
        if not edited and tick > START + timedelta(days=20):
            first = world["messages"][world["convs"][0].id]
            store.messages.edit_message(first[3].id, "edited", tick)
            store.messages.delete_message(first[5].id, "someone", tick)
            edited = True
    _insert_until(store, world, END + timedelta(days=3), inserted, exports_done)
    do_rollup(store, END + timedelta(days=3))


def _expected(store, world, conv_ids: list[str], start: date, end: date, zone: str) -> dict:
    """The report computed straight from the stored messages, by definition (docs/analytics.md)."""
    tz = ZoneInfo(zone)
    per_day = defaultdict(lambda: {"messages": 0, "senders": set(), "media": 0})
    senders, heat, samples, media = Counter(), [[0] * 24 for _ in range(7)], [], 0
    for conv_id in conv_ids:
        msgs = [m for m in store.db.messages.find({"convId": conv_id}).sort("seq", 1) if m["type"] != "system"]
        for i, m in enumerate(msgs):
            at = m["createdAt"].replace(tzinfo=timezone.utc) if m["createdAt"].tzinfo is None else m["createdAt"]
            if not start <= at.date() <= end:
                continue
            day = per_day[at.date().isoformat()]
            day["messages"] += 1
            day["senders"].add(m["senderId"])
            is_media = m["type"] in ("image", "file", "media") or bool(m.get("metadata", {}).get("files"))
            day["media"] += is_media
            media += is_media
            senders[m["senderId"]] += 1
            local = at.astimezone(tz)
            heat[local.weekday()][local.hour] += 1
            answer = next((n for n in msgs[i + 1:] if n["senderId"] != m["senderId"]), None)
            if answer is not None:
                wait = answer["createdAt"] - m["createdAt"]
                if wait <= timedelta(hours=24):
                    samples.append(int(wait.total_seconds()))
    exports = sum(1 for e in store.db.exports.find({"convId": {"$in": conv_ids}})
                  if start <= e["createdAt"].date() <= end)
    dates = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    samples.sort()
    return {
        "days": [{"date": d, "messages": per_day[d]["messages"], "activeMembers": len(per_day[d]["senders"]),
                  "media": per_day[d]["media"]} for d in dates],
        "totals": {"messages": sum(senders.values()), "activeMembers": len(senders), "media": media,
                   "exports": exports},
        "firstResponse": {"medianSeconds": statistics.median(samples) if samples else None,
                          "p90Seconds": samples[math.ceil(0.9 * len(samples)) - 1] if samples else None,
                          "samples": len(samples)},
        "heatmap": heat,
        "top": sorted(senders.items(), key=lambda kv: (-kv[1], kv[0]))[:10],
    }


def _check(store, world, conv_ids, days, start, end, zone):
    got = build_report(store, days, AnalyticsQuery(start=start, end=end, tz=zone), zone)
    want = _expected(store, world, conv_ids, start, end, zone)
    assert want["totals"]["messages"] > 0
    for key in ("days", "totals", "firstResponse", "heatmap"):
        assert got[key] == want[key], key
    assert [(p["userId"], p["messages"]) for p in got["topPosters"]] == want["top"]
    assert all(p["username"].startswith("user") for p in got["topPosters"])


@pytest.mark.parametrize("zone", ZONES)
def test_the_incremental_roll_ups_match_the_messages_and_the_rebuild(store, world, zone):
    _run_incrementally(store, world)
    incremental = _dump(store)
    assert sum(d["messages"] for d in incremental) > 1000
    assert sum(d["exports"] for d in incremental) > 0
    do_rebuild(store, END + timedelta(days=4))
    assert _dump(store) == incremental

    group, lone = world["convs"][0].groupId, world["convs"][1]
    in_group = [c.id for c in world["convs"] if c.groupId == group]
    for start, end in ((START.date(), END.date()), (date(2026, 3, 7), date(2026, 3, 30))):
        _check(store, world, in_group, store.analytics.days_of_group(group, start.isoformat(), end.isoformat()),
               start, end, zone)
        _check(store, world, [lone.id], store.analytics.days_of_conversation(lone.id, start.isoformat(),
                                                                             end.isoformat()), start, end, zone)


def test_deleted_messages_count_and_edits_or_deletions_after_a_roll_up_change_nothing(store, world):
    _run_incrementally(store, world)
    conv = world["convs"][1]
    before = _dump(store)
    deleted = store.db.messages.count_documents({"convId": conv.id, "isDeleted": True, "type": {"$ne": "system"}})
    assert deleted > 0
    sent = store.db.messages.count_documents({"convId": conv.id, "type": {"$ne": "system"}})
    assert sum(d["messages"] for d in before if d["convId"] == conv.id) == sent
    last = world["messages"][conv.id][-1]
    store.messages.delete_message(last.id, "someone", END + timedelta(days=5))
    store.messages.edit_message(world["messages"][conv.id][-2].id, "changed", END + timedelta(days=5))
    do_rollup(store, END + timedelta(days=5))
    assert _dump(store) == before


def test_a_first_response_is_the_next_message_by_someone_else_within_24_hours():
    t = datetime(2026, 5, 1, 23, 0, tzinfo=timezone.utc)
    msgs = [{"seq": 1, "senderId": "a", "createdAt": t, "type": "text"},
            {"seq": 2, "senderId": "a", "createdAt": t + timedelta(minutes=10), "type": "text"},
            {"seq": 3, "senderId": "x", "createdAt": t + timedelta(minutes=20), "type": "system"},
            {"seq": 4, "senderId": "b", "createdAt": t + timedelta(minutes=90), "type": "image"},
            {"seq": 5, "senderId": "a", "createdAt": t + timedelta(hours=24, minutes=91), "type": "text"}]
    days, counted = fold_conversation("c", "g", msgs, [t], t)
    assert counted == 4
    first, second, third = days
    # 1 and 2 answered by 4 (90 and 80 minutes: on 1 May, their day); 4 answered 24 h 1 min later: no
    # sample; 5 never answered; the system note is neither counted nor an answer.
    assert (first.date, first.messages, first.responses, first.exports, first.lastSeq) == \
        ("2026-05-01", 2, [4800, 5400], 1, 2)
    assert (second.date, second.messages, second.media, second.responses, second.senders) == \
        ("2026-05-02", 1, 1, [], {"b": 1})
    assert second.hours[0] == 1 and sum(second.hours) == 1
    assert (third.date, third.messages, third.media, third.responses, third.lastSeq) == ("2026-05-03", 1, 0, [], 5)
