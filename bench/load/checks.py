"""What a scenario checks once sending stops: every acked send delivered exactly once to each receiver
of its conversation and stored, every reaction and read announced once, and the window's rates."""
from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from bench.load.clients import Population, Tracker, describe
from bench.load.harness import Api, now
from bench.load.report import latency_summary


async def settle(done, progress, grace: float, cap: float) -> dict[str, Any]:
    """Wait until ``done()``, or until ``progress()`` has not changed for ``grace`` seconds (something
    still arriving keeps us waiting, up to ``cap``). Returns how long that took."""
    t0 = now()
    last_progress, last_count = t0, None
    while True:
        await asyncio.sleep(0.1)
        t = now()
        if done():
            return {"drain_seconds": round(t - t0, 2), "complete": True}
        if progress() != last_count:
            last_count, last_progress = progress(), t
        if t - last_progress > grace or t - t0 > cap:
            return {"drain_seconds": round(t - t0, 2), "complete": False}


async def wait_for_delivery(tracker: Tracker, pop: Population, grace: float, cap: float) -> dict[str, Any]:
    """After the last send: wait until every acked message reached every receiver of its conversation,
    or until nothing new arrived for ``grace`` seconds (a backlog still draining keeps us waiting, up to
    ``cap``)."""
    receivers_of = pop.receivers_of()
    expected = lambda: sum(len(receivers_of.get(s.conv, ())) for s in tracker.sent.values() if s.ack_ok)  # noqa: E731
    delivered = lambda: sum(len(r.seen) for r in pop.receivers)  # noqa: E731
    return await settle(lambda: delivered() >= expected()
                        and not any(s.ack_ok is None for s in tracker.sent.values()),
                        delivered, grace, cap)


async def check_storage(api: Api, pop: Population, tracker: Tracker, missing: set[str]) -> dict[str, Any]:
    """What the database holds, so a missing delivery can be told apart: stored but never announced to
    the socket (lost between the worker and the client) or never stored (lost in the pipeline)."""
    stored: Counter = Counter()
    gaps = 0
    for conv, conv_id in enumerate(pop.conv_ids):
        token = next(r.token for r in pop.receivers if r.conv == conv)
        rows = await api.stored(token, conv_id)
        seqs = [seq for seq, _ in rows]
        gaps += sum(1 for x, y in zip(seqs, seqs[1:]) if y != x + 1) + (1 if seqs and seqs[0] != 1 else 0)
        stored.update(cid for _, cid in rows)
    acked = [cid for cid, s in tracker.sent.items() if s.ack_ok]
    return {"stored_messages": sum(stored.values()),
            "acked_not_stored": sum(1 for cid in acked if cid not in stored),
            "stored_more_than_once": sum(1 for n in stored.values() if n > 1),
            "seq_gaps": gaps,
            "missing_but_stored": sum(1 for cid in missing if cid in stored)}


def verify(tracker: Tracker, pop: Population) -> dict[str, Any]:
    """Exactly once per receiver of the conversation, for every acknowledged send."""
    receivers_of = pop.receivers_of()
    acked = [cid for cid, s in tracker.sent.items() if s.ack_ok]
    missing_pairs = 0
    lost: set[str] = set()  # acked, and missing at one receiver or more
    for cid in acked:
        miss = sum(1 for r in receivers_of[tracker.sent[cid].conv] if cid not in r.seen)
        missing_pairs += miss
        if miss:
            lost.add(cid)
    unexpected = sum(1 for r in pop.receivers for cid in r.seen
                     if cid not in tracker.sent or not tracker.sent[cid].ack_ok)
    labelled = {}
    if any(s.label for s in tracker.sent.values()):
        labelled["masked_deliveries"] = masked_deliveries(tracker, pop)
    return {
        "sent": len(tracker.sent),
        "acked_ok": len(acked),
        "ack_errors": dict(tracker.ack_errors),
        "no_ack": sum(1 for s in tracker.sent.values() if s.ack_ok is None),
        "rejected_events": dict(tracker.rejected),
        "expected_deliveries": sum(len(receivers_of[tracker.sent[c].conv]) for c in acked),
        "deliveries": sum(len(r.seen) for r in pop.receivers),
        "missing_deliveries": missing_pairs,
        "lost_messages": len(lost),
        "lost_ids": sorted(lost),
        "duplicates": sum(r.duplicates for r in pop.receivers),
        "foreign_conversation": sum(r.foreign for r in pop.clients),
        "out_of_order": sum(r.out_of_order for r in pop.receivers),
        "delivered_without_ok_ack": unexpected,
        "sender_echoes": sum(s.echoes for s in pop.senders),
        "disconnects": sum(c.disconnects for c in pop.clients),
        **labelled,
    }


def masked_deliveries(tracker: Tracker, pop: Population) -> dict[str, int]:
    """The moderation scenario's texts as they arrived, by clientId: with the rules, each delivery of a
    "masked" text must carry the mask and no other text may; without them, none may."""
    expected = got = wrong = 0
    for r in pop.receivers:
        for cid in r.seen:
            s = tracker.sent.get(cid)
            should = tracker.masking and s is not None and s.label == "masked"
            expected += should
            got += should and cid in r.masked
            wrong += not should and cid in r.masked
    return {"expected": expected, "masked": got, "masked_wrongly": wrong}


def window_figures(tracker: Tracker, pop: Population, t_begin: float, t_end: float) -> dict[str, Any]:
    """Rates over [t_begin, t_end] and the latency of messages sent in it, plus a per-second series."""
    span = t_end - t_begin
    deliveries_in = 0
    latencies: list[float] = []
    for r in pop.receivers:
        for cid, t in r.seen.items():
            if t_begin <= t < t_end:
                deliveries_in += 1
            s = tracker.sent.get(cid)
            if s is not None and t_begin <= s.t_send < t_end:
                latencies.append(t - s.t_send)
    messages_in = sum(1 for t in tracker.first_delivery.values() if t_begin <= t < t_end)
    acks_in = sum(1 for s in tracker.sent.values() if s.t_ack is not None and t_begin <= s.t_ack < t_end)
    sends_in = sum(1 for s in tracker.sent.values() if t_begin <= s.t_send < t_end)
    seconds = max(1, int(span))
    per_second = [0] * seconds
    for t in tracker.first_delivery.values():
        k = int(t - t_begin)
        if 0 <= k < seconds:
            per_second[k] += 1
    ack_lat = sorted(s.t_ack - s.t_send for s in tracker.sent.values()
                     if s.t_ack is not None and t_begin <= s.t_send < t_end)
    return {
        "window_seconds": round(span, 2),
        "sends_per_s": round(sends_in / span, 1),
        "acks_per_s": round(acks_in / span, 1),
        "messages_delivered_per_s": round(messages_in / span, 1),
        "deliveries_per_s": round(deliveries_in / span, 1),
        "latency": latency_summary(latencies),
        "ack_latency": latency_summary(ack_lat),
        "messages_delivered_per_second_series": per_second,
        # Sent in the window but not yet delivered anywhere when the window closed: the server's queue.
        "backlog_at_window_end": sum(1 for cid, s in tracker.sent.items()
                                     if s.t_send < t_end and tracker.first_delivery.get(cid, t_end) >= t_end),
    }


def latency_by_second(tracker: Tracker, pop, t_begin: float, t_end: float) -> list[dict]:
    """p50, p99 and max of send -> message:new for the messages sent in each second of the window, and
    of send -> ack, to see which phase of the background work the slow deliveries fall in, and whether they
    waited for the web process's loop (the ack is late too) or further down the pipeline."""
    seconds = int(t_end - t_begin + 0.999)
    buckets: list[list[float]] = [[] for _ in range(seconds)]
    acks: list[list[float]] = [[] for _ in range(seconds)]   # send -> ack: the socket handler's part
    for r in pop.receivers:
        for cid, t in r.seen.items():
            s = tracker.sent.get(cid)
            if s is not None and t_begin <= s.t_send < t_end:
                buckets[int(s.t_send - t_begin)].append(t - s.t_send)
    for s in tracker.sent.values():
        if s.t_ack is not None and t_begin <= s.t_send < t_end:
            acks[int(s.t_send - t_begin)].append(s.t_ack - s.t_send)
    return [{"second": i, **{k: v for k, v in latency_summary(b).items() if k in ("p50_ms", "p99_ms", "max_ms")},
             "ack_p99_ms": latency_summary(a)["p99_ms"]}
            for i, (b, a) in enumerate(zip(buckets, acks))]


async def check_sends(args, api: Api, tracker: Tracker, pop: Population, t_begin: float, t_end: float) -> dict:
    """After the last send: wait for the deliveries, check them exactly once and in storage; the rates
    and latencies of the steady window."""
    drain = await wait_for_delivery(tracker, pop, args.grace, args.drain_cap)
    checked = verify(tracker, pop)
    checked["storage"] = await check_storage(api, pop, tracker, set(checked.pop("lost_ids")))
    return {"setup_seconds": round(pop.setup_seconds, 2), **window_figures(tracker, pop, t_begin, t_end),
            "drain": drain, "verify": checked, "population": describe(pop)}


async def check_ops(args, tracker: Tracker, pop: Population, t_begin: float, t_end: float) -> dict:
    """Reactions and read receipts: rates over the window, the mix actually sent, and each change
    announced to every socket of its conversation exactly once: one message:updated per acked reaction
    (each is a real change, see MixedEvents.react), one message:read per distinct mark a reader's acks
    report (an ack reports the mark after the call, so the values it moved to are exactly the marks).
    The one exception: the server moves an author's mark to their own newest message without an event
    (docs/api.md), so a mark at one of the reader's own seqs may have been reached silently; those are
    counted apart, as announcements that may or may not come."""
    members = Counter(c.conv for c in pop.clients)

    def expected(optional: bool = False) -> dict[str, int]:
        marks: dict[tuple[int, int], set[int]] = {}
        for op in tracker.ops:
            if op.ok and op.kind == "message:read":
                marks.setdefault((op.conv, op.reader), set()).add(op.mark)
        reads = sum(len({m for m in ms if (m in pop.senders[reader].own_seqs) == optional}) * members[conv]
                    for (conv, reader), ms in marks.items())
        if optional:
            return {"message:read": reads}
        return {"message:updated": sum(members[op.conv] for op in tracker.ops
                                       if op.ok and op.kind != "message:read"),
                "message:read": reads}

    received = lambda: sum((c.changes for c in pop.clients), Counter())  # noqa: E731
    settled = await settle(lambda: all(op.ok is not None for op in tracker.ops)
                           and all(received()[e] >= n for e, n in expected().items()),
                           lambda: sum(received().values()), args.grace, args.drain_cap)
    got = received()
    span = t_end - t_begin
    in_window = lambda t: t is not None and t_begin <= t < t_end  # noqa: E731
    sent = Counter(op.kind for op in tracker.ops if in_window(op.t_send))
    sent["message:send"] = sum(1 for s in tracker.sent.values() if in_window(s.t_send))
    acked_ok = Counter(op.kind for op in tracker.ops if op.ok and in_window(op.t_ack))
    acks = sum(1 for op in tracker.ops if in_window(op.t_ack)) + sum(
        1 for s in tracker.sent.values() if in_window(s.t_ack))
    return {
        "event_mix_percent": {k: round(100 * v / max(1, sum(sent.values())), 1) for k, v in sorted(sent.items())},
        "reactions_acked_ok_per_s": round((acked_ok["reaction:add"] + acked_ok["reaction:remove"]) / span, 1),
        "reads_acked_ok_per_s": round(acked_ok["message:read"] / span, 1),
        "events_acked_per_s": round(acks / span, 1),
        "ack_latency": latency_summary([op.t_ack - op.t_send for op in tracker.ops
                                        if in_window(op.t_send) and op.t_ack is not None]),
        "sent": len(tracker.ops), "acked_ok": sum(1 for op in tracker.ops if op.ok),
        "no_ack": sum(1 for op in tracker.ops if op.ok is None),
        "announced": {e: {"expected": n, "maybe": expected(optional=True).get(e, 0), "received": got[e]}
                      for e, n in expected().items()},
        "settle": settled,
    }


def exactly_once(v: dict) -> bool:
    """Every send acked, and every acked one delivered once to each receiver of its conversation only
    (a send never acked is in no other count: it must not pass unseen)."""
    return v["no_ack"] == 0 and v["missing_deliveries"] == 0 and v["duplicates"] == 0 \
        and v["foreign_conversation"] == 0


def changes_announced(m: dict) -> bool:
    """Every reaction and read acked, and announced once to every socket of its conversation."""
    return m["no_ack"] == 0 and all(a["expected"] <= a["received"] <= a["expected"] + a["maybe"]
                                    for a in m["announced"].values())


def masking_ok(v: dict) -> bool:
    m = v.get("masked_deliveries")
    return m is None or (m["masked"] == m["expected"] and m["masked_wrongly"] == 0)
