"""The ``connections`` scenario: N authenticated sockets opened while two clients keep chatting, then
round trips with every socket open."""
from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

from bench.load.clients import Client, Tracker
from bench.load.harness import (
    Api,
    CpuMeter,
    bounded_gather,
    now,
    psutil,
    raise_nofile_limit,
)
from bench.load.report import latency_summary, percentile


async def make_users(args, api: Api, run: str) -> tuple[list[str], str]:
    """The users sharing the sockets (tokens), all in one group, and the ping conversation of the first two."""
    n_users = max(2, min(args.conn_users, args.connections))
    names = [f"b{run}c{i}" for i in range(n_users)]
    admin_token, _ = await api.token(f"b{run}admin")
    tokens = [t for t, _ in await bounded_gather(16, (api.token(n) for n in names))]
    group_id = await api.create_group(admin_token, f"bench {run} connections")
    await bounded_gather(16, (api.add_group_member(admin_token, group_id, n) for n in names))
    conv_id = await api.create_conversation(admin_token, group_id, f"bench {run} ping", names[:2])
    return tokens, conv_id


class Storm:
    """User 0 sending to user 1 at ``rate`` msg/s on an open-loop schedule while the other sockets connect:
    live traffic must survive a connection storm (a reconnect wave after a deploy looks like this)."""

    def __init__(self, tracker: Tracker, a: Client, b: Client, rate: float) -> None:
        self.tracker, self.a, self.b, self.rate = tracker, a, b, rate
        self.stop = asyncio.Event()
        self.task: asyncio.Task | None = None

    def ids(self, n: int) -> list[str]:
        return [f"{self.tracker.run_id}:storm:{k}" for k in range(n)]

    async def chatter(self) -> int:
        k, t0 = 0, now()
        while not self.stop.is_set():
            cid = f"{self.tracker.run_id}:storm:{k}"
            await self.a.send(cid, "storm", now(), lambda resp=None, _cid=cid: self.tracker.on_ack(_cid, resp))
            k += 1
            with contextlib.suppress(asyncio.TimeoutError):  # open-loop schedule, ends early when told
                await asyncio.wait_for(self.stop.wait(), max(0.0, t0 + k / self.rate - now()))
        return k

    def start(self) -> None:
        if self.rate > 0:
            self.task = asyncio.create_task(self.chatter())

    async def finish(self, api: Api, conv_id: str, grace: float) -> dict[str, Any]:
        """Stop sending, let the last ones arrive, and check every acked one reached user 1 once."""
        storm: dict[str, Any] = {"rate": self.rate}
        if not self.task:
            return storm
        self.stop.set()
        storm_sent = await self.task
        storm_ids = self.ids(storm_sent)
        sent, b = self.tracker.sent, self.b
        deadline = now() + grace  # let the last ones arrive
        while now() < deadline and any(cid not in b.seen for cid in storm_ids if sent[cid].ack_ok):
            await asyncio.sleep(0.05)
        acked = [cid for cid in storm_ids if sent[cid].ack_ok]
        stored = {cid for _, cid in await api.stored(b.token, conv_id)}
        storm.update(stored=sum(1 for cid in storm_ids if cid in stored),
                     missing_but_stored=sum(1 for cid in acked if cid not in b.seen and cid in stored))
        storm.update(sent=storm_sent, acked_ok=len(acked), delivered=sum(1 for cid in acked if cid in b.seen),
                     missing=sum(1 for cid in acked if cid not in b.seen), duplicates=b.duplicates,
                     latency=latency_summary([b.seen[cid] - sent[cid].t_send for cid in acked if cid in b.seen]))
        return storm


async def open_all(clients: list[Client], url: str, concurrency: int) -> tuple[list[bool], Counter, list[float]]:
    """Connect every client, ``concurrency`` handshakes in flight: which made it, the errors, connect times."""
    errors: Counter = Counter()
    connect_times: list[float] = []

    async def open_one(c: Client) -> bool:
        t = now()
        try:
            await c.connect(url, timeout=60)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors[f"{type(exc).__name__}: {exc}"[:120]] += 1
            return False
        connect_times.append(now() - t)
        return True

    ok = await bounded_gather(concurrency, (open_one(c) for c in clients))
    return ok, errors, connect_times


async def round_trips(tracker: Tracker, a: Client, b: Client, pings: int) -> dict[str, Any]:
    """Round trips with every socket open and the storm over: one at a time, user 0 -> user 1."""
    samples = []
    for i in range(pings):
        cid = f"{tracker.run_id}:ping:{i}"
        t = now()
        await a.send(cid, "ping", t, lambda resp=None, _cid=cid: tracker.on_ack(_cid, resp))
        deadline = t + 10
        while cid not in b.seen and now() < deadline:
            await asyncio.sleep(0.001)
        if cid in b.seen:
            samples.append(b.seen[cid] - t)
    return {"ok": len(samples) == pings, "sent": pings, "received": len(samples), **latency_summary(samples)}


QUIET = 0.3   # the machine's CPU, in cores, under which the set-up counts as settled
SETTLE_MAX = 20.0


async def settle() -> float:
    """Wait (at most SETTLE_MAX) until the machine is quiet: the set-up's users each joined the group, which
    the server announces to the group's sockets in the background, and the storm is to measure connects,
    not the tail of that. Returns the seconds waited."""
    t0, last = now(), CpuMeter.machine_time()
    while last is not None and now() - t0 < SETTLE_MAX:
        await asyncio.sleep(0.5)
        current = CpuMeter.machine_time()
        if current is None or (current - last) / 0.5 < QUIET:
            break
        last = current
    return now() - t0


class Rss:
    """The spawned server's resident memory (its process only), read every ``every`` seconds while it runs:
    the figure before the sockets open, and the peak."""

    def __init__(self, server, every: float = 0.5) -> None:
        self.server, self.every = server, every
        self.before = self.peak = self.read()
        self.task = asyncio.create_task(self.watch()) if server is not None else None

    def read(self) -> int | None:
        if self.server is None:
            return None
        with contextlib.suppress(psutil.Error):
            return self.server.memory_info().rss
        return None

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self.peak = max(self.peak or 0, self.read() or 0)

    def figures(self, sockets: int) -> dict[str, Any] | None:
        if self.task is not None:
            self.task.cancel()
        if not self.before or not self.peak:
            return None
        return {"before_mib": round(self.before / 2**20, 1), "peak_mib": round(self.peak / 2**20, 1),
                "kib_per_socket": round((self.peak - self.before) / 1024 / max(1, sockets), 1)}


async def scenario_connections(args, api: Api, url: str, http, tracker: Tracker, cpu: CpuMeter) -> dict:
    soft, hard = raise_nofile_limit()
    t0 = now()
    tokens, conv_id = await make_users(args, api, tracker.run_id)
    setup_seconds = now() - t0
    settle_seconds = await settle()
    # Users are reused round-robin (a user may hold many sockets, like several tabs): what is tested is
    # the number of sockets. Clients 0 and 1 are users 0 and 1, the two members of the ping conversation.
    # Only client 1 records message:new as a receiver.
    clients = [Client(tracker, tokens[i % len(tokens)], 0, conv_id, "receiver" if i == 1 else "sender", i, http)
               for i in range(args.connections)]
    # Clients 0 and 1 connect and subscribe first, and keep chatting while the other sockets connect.
    a, b = clients[0], clients[1]
    for c in (a, b):
        await c.connect(url)
        await c.subscribe()
    storm = Storm(tracker, a, b, args.storm_rate)
    storm.start()
    rss = Rss(cpu.server)
    cpu.begin()
    t_open = now()
    ok, errors, connect_times = await open_all(clients[2:], url, args.connect_concurrency)
    open_seconds = now() - t_open
    connected = [c for c, good in zip(clients, [True, True] + ok) if good]
    # session:ready is the server's proof that it handled the authenticated connect completely.
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in connected)), 30)
    ready = sum(1 for c in connected if c.ready.is_set())
    await asyncio.sleep(args.hold)
    still = sum(1 for c in connected if c.sio.connected)
    memory = rss.figures(len(connected))
    server_fds = None
    if cpu.server is not None:
        with contextlib.suppress(psutil.Error):
            server_fds = cpu.server.num_fds()
    health_status, health = await api.healthz()
    storm_figures = await storm.finish(api, conv_id, args.grace)
    round_trip = await round_trips(tracker, a, b, args.pings)
    cpu_pct = cpu.end()
    ct = sorted(connect_times)
    return {
        "requested": args.connections, "users": len(tokens), "setup_seconds": round(setup_seconds, 2),
        "settle_seconds": round(settle_seconds, 2), "server_rss": memory,
        "nofile_limit_loadgen": [soft, hard],
        "connected": len(connected), "session_ready": ready, "still_connected_after_hold": still,
        "hold_seconds": args.hold, "failed": sum(errors.values()), "errors": dict(errors.most_common(5)),
        "open_seconds": round(open_seconds, 2),
        "connects_per_s": round(len(connect_times) / max(open_seconds, 1e-9), 1),
        "connect_p50_ms": round(percentile(ct, 50) * 1000, 1) if ct else None,
        "connect_p99_ms": round(percentile(ct, 99) * 1000, 1) if ct else None,
        "server_open_fds": server_fds, "healthz_while_open": [health_status, health],
        "round_trip": round_trip, "storm_traffic": storm_figures, "cpu_percent_of_one_core": cpu_pct,
        "disconnects_before_end": sum(c.disconnects for c in connected),
    }
