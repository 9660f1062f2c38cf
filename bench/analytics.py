"""Analytics roll-ups: the roll-up of a 100,000-message group (target <= 5 s) and of one day's increment
(target <= 1 s), on the embedded store, in this process.

The store is seeded directly: one group of ``--conversations`` conversations and ``--users`` members,
``--messages`` messages over the ``--days`` days before today (each conversation's times increasing with
its seqs, as the drain stores them; runs by one sender, 5 % media, 1 % deleted, a system note now and then,
a few exports). Measured:

* ``full``: ``do_rebuild`` (every conversation's days from all its messages), ``--repeat`` times (median);
  the first incremental run ever (no mark yet) is the same work;
* ``increment``: one more day of ``--day-messages`` messages stored (default: the group's mean day, and
  ``--busy-day`` too), then beat's ``do_rollup``: the conversations that changed, their last two days
  computed again whole (ANALYTICS_OVERLAP_DAYS=1). Each repetition adds the next day.
* ``report``: the route's work for a year (``group_report`` over 366 days of roll-ups), for reference.

``--profile`` prints cProfile's top functions of one full roll-up.

Usage: .venv/bin/python bench/analytics.py            (results: bench/results/analytics.json)
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import time
from datetime import datetime, time as dtime, timedelta, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.load.report import RESULTS_DIR, code_version, machine_info, print_table, verdict, write_json  # noqa: E402
from infra.embedded.mongo import embedded_client  # noqa: E402
from infra.storage import Store  # noqa: E402
from pipelines.analytics.report import group_report  # noqa: E402
from pipelines.analytics.rollup import do_rebuild, do_rollup  # noqa: E402
from pipelines.exports.files import ExportSettings  # noqa: E402
from schemas.common import new_id  # noqa: E402
from schemas.documents import Conversation, ConversationMember, Group, GroupMember, Message, SenderInfo, User  # noqa: E402
from schemas.payloads import AnalyticsQuery  # noqa: E402

OUT = RESULTS_DIR / "analytics.json"
TARGETS = {"full_s": 5.0, "increment_s": 1.0}


class World:
    """The seeded group: its store, conversations (with their next seq), members, and the clock."""

    def __init__(self, store: Store, users: list[User], group: Group, convs: list[Conversation]) -> None:
        self.store, self.users, self.group, self.convs = store, users, group, convs
        self.seq = {c.id: 0 for c in convs}
        self.sender = {c.id: users[0] for c in convs}


def build(args, rnd: random.Random) -> World:
    store = Store(embedded_client()["bench_analytics"])
    store.ensure_indexes()
    created = datetime.now(timezone.utc) - timedelta(days=args.days + 2)
    users = [User(id=new_id(), username=f"user{i}", createdAt=created, updatedAt=created) for i in range(args.users)]
    store.db.users.insert_many([u.to_mongo() for u in users])
    group = Group(id=new_id(), name="bench", createdBy=users[0].id, createdAt=created)
    store.groups.insert_group(group, GroupMember(id=new_id(), groupId=group.id, userId=users[0].id,
                                                 role="GROUP_ADMIN", joinedAt=created))
    convs = []
    for i in range(args.conversations):
        conv = Conversation(id=new_id(), groupId=group.id, title=f"c{i}", createdBy=users[0].id, createdAt=created)
        store.conversations.insert_conversation(conv, [ConversationMember(id=new_id(), convId=conv.id, userId=u.id,
                                                                          groupId=group.id, joinedAt=created)
                                                       for u in users])
        convs.append(conv)
    return World(store, users, group, convs)


def add_messages(world: World, rnd: random.Random, n: int, start: datetime, end: datetime) -> None:
    """``n`` messages spread over [start, end), each conversation's times increasing with its seqs."""
    span = (end - start).total_seconds()
    times = sorted(start + timedelta(seconds=rnd.random() * span) for _ in range(n))
    per_conv: dict[str, list[dict]] = {c.id: [] for c in world.convs}
    exports = []
    for at in times:
        conv = world.convs[rnd.randrange(len(world.convs))]
        world.seq[conv.id] += 1
        if rnd.random() < 0.45:
            world.sender[conv.id] = world.users[rnd.randrange(len(world.users))]
        sender = world.sender[conv.id]
        roll = rnd.random()
        kind = "image" if roll < 0.05 else "system" if roll < 0.051 else "text"
        per_conv[conv.id].append(Message(
            id=new_id(), convId=conv.id, seq=world.seq[conv.id], clientId=new_id(), senderId=sender.id,
            senderInfo=SenderInfo.of(sender), type=kind, content="hello there", isDeleted=rnd.random() < 0.01,
            createdAt=at, updatedAt=at).to_mongo())
        if rnd.random() < 0.0005:
            exports.append({"_id": new_id(), "convId": conv.id, "createdAt": at})
    for conv_id, docs in per_conv.items():
        for i in range(0, len(docs), 5000):
            world.store.db.messages.insert_many(docs[i:i + 5000])
        if docs:
            world.store.conversations.advance_conversation(conv_id, world.seq[conv_id], docs[-1]["createdAt"])
    if exports:
        world.store.db.exports.insert_many(exports)


CPU: list[float] = []   # each timed call's CPU seconds in this process (steadier than wall time on a shared machine)


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    began, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - began, result


def run(args) -> dict:
    rnd = random.Random(24)
    world = build(args, rnd)
    today = datetime.combine(datetime.now(timezone.utc).date(), dtime(0), tzinfo=timezone.utc)
    history_start = today - timedelta(days=args.days)
    began = time.perf_counter()
    add_messages(world, rnd, args.messages, history_start, today)
    seeded_s = time.perf_counter() - began
    store = world.store

    full = []
    for i in range(args.repeat):
        seconds, result = timed(do_rebuild, store, today + timedelta(minutes=5))
        full.append(seconds)
    full_cpu = statistics.median(CPU)
    profile_text = None
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(do_rebuild, store, today + timedelta(minutes=5))
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
        profile_text = out.getvalue()
    full_result = result

    increments: dict[str, list[float]] = {}
    day = today
    for label, n in (("mean day", args.day_messages or args.messages // args.days), ("busy day", args.busy_day)):
        increments[f"{label} ({n} messages)"] = []
        for _ in range(args.repeat):
            add_messages(world, rnd, n, day, day + timedelta(days=1))
            day += timedelta(days=1)
            seconds, inc = timed(do_rollup, store, day + timedelta(minutes=5))
            increments[f"{label} ({n} messages)"].append(seconds)

    query = AnalyticsQuery(start=(day - timedelta(days=366)).date(), end=day.date(), tz="Europe/Paris")
    settings = ExportSettings(ttl=timedelta(hours=1), for_members=False, batch=500, lease_seconds=30, presign_seconds=60)
    admin = world.users[0]
    report_s = statistics.median(timed(group_report, store, admin, world.group.id, query, settings)[0]
                                 for _ in range(args.repeat))

    full_median = statistics.median(full)
    mean_label = next(iter(increments))
    inc_median = statistics.median(increments[mean_label])
    rows = [("seeded", f"{args.messages:,} messages, {args.conversations} conversations, {args.users} members, "
                       f"{args.days} days ({seeded_s:.1f} s)"),
            ("full roll-up (rebuild)", f"median {full_median:.2f} s of {[round(s, 2) for s in full]}; "
                                       f"(CPU {full_cpu:.2f} s); {full_result.days} day documents  target <= {TARGETS['full_s']} s  "
                                       f"{verdict(full_median <= TARGETS['full_s'])}")]
    for label, values in increments.items():
        rows.append((f"increment, {label}", f"median {statistics.median(values) * 1000:.0f} ms of "
                                            f"{[round(v * 1000) for v in values]} ms  target <= "
                                            f"{TARGETS['increment_s']} s  "
                                            f"{verdict(statistics.median(values) <= TARGETS['increment_s'])}"))
    rows.append(("report, a year of the group (route work)", f"median {report_s * 1000:.0f} ms"))
    rows.append(("load average (1, 5, 15 min)", " ".join(f"{v:.1f}" for v in os.getloadavg())))
    print_table("Analytics roll-ups on the embedded store", rows)
    if profile_text:
        print(profile_text)
    doc = {"targets": TARGETS, "args": vars(args), "machine": machine_info(), "code": code_version(),
           "full_s": full, "full_median_s": full_median, "full_cpu_median_s": full_cpu,
           "loadavg_at_end": os.getloadavg(), "day_documents": full_result.days,
           "increments_s": increments, "increment_median_s": inc_median, "report_year_s": report_s,
           "pass": {"full": full_median <= TARGETS["full_s"], "increment": inc_median <= TARGETS["increment_s"]}}
    write_json(OUT, doc)
    print(f"results: {OUT}")
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--day-messages", type=int, default=0, help="a day's increment (default: the mean day)")
    parser.add_argument("--busy-day", type=int, default=5000, help="a busier day's increment")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
