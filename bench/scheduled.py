"""10,000 scheduled messages due in the same second, on the embedded default (spawned ``python -m app``).

Reports: how long after the due time the last one arrived (target: all within 30 s), that each arrived
exactly once and none before its sendAt, and the chat latency meanwhile (a ping-pong pair in another
conversation measuring send -> message:new, the whole time). Results: bench/results/scheduled.json.

Usage: .venv/bin/python bench/scheduled.py [--messages 10000] [--conversations 100] [--lead 40]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.load.harness import Api, bounded_gather, on_spawned_server  # noqa: E402
from bench.load.report import latency_summary, table_text  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


async def main(args) -> dict:
    return await on_spawned_server("scheduled", {"DISPATCH_EVERY_SECONDS": "1"},
                                   lambda url, http: run(args, url, http), connections=200)


async def make_people(api: Api, args) -> dict:
    """The owner's group: a watcher and the senders in ``--conversations`` conversations, and a ping-pong pair."""
    tokens = {name: (await api.token(name))[0] for name in ("owner", "watcher", "ping", "pong")}
    owner = tokens["owner"]
    group = await api.create_group(owner, "bench")
    senders = [f"sender{i:02d}" for i in range(args.senders)]   # at most SCHEDULED_PER_USER_LIMIT pending each
    sender_tokens = [(await api.token(n))[0] for n in senders]
    for name in ("watcher", "ping", "pong", *senders):
        await api.add_group_member(owner, group, name)
    convs = [await api.create_conversation(owner, group, f"c{i}", ["watcher", *senders])
             for i in range(args.conversations)]
    chat = await api.create_conversation(owner, group, "ping-pong", ["ping", "pong"])
    return {**tokens, "senders": sender_tokens, "convs": convs, "chat": chat}


async def watch(url: str, token: str, convs: list[str]) -> tuple[socketio.AsyncClient, dict[str, list[float]]]:
    """A socket subscribed to every conversation, noting each scheduled message's arrival times."""
    arrivals: dict[str, list[float]] = {}
    sock = socketio.AsyncClient(reconnection=False)

    @sock.on("message:new")
    async def on_new(m):
        if m["clientId"].startswith("s-"):
            arrivals.setdefault(m["clientId"], []).append(time.time())

    await sock.connect(url, auth={"token": token}, transports=["websocket"])
    for c in convs:
        await sock.call("conv:subscribe", {"convId": c})
    return sock, arrivals


async def create_all(http: aiohttp.ClientSession, url: str, people: dict, n: int,
                     due: datetime) -> tuple[dict[str, float], float]:
    """``n`` scheduled messages spread over the second after ``due``: their send times, and how long it took."""
    send_at: dict[str, float] = {}

    async def create(i: int) -> None:
        headers = {"Authorization": f"Bearer {people['senders'][i % len(people['senders'])]}"}
        client_id = f"s-{i}"
        at = due + timedelta(microseconds=(i * 997) % 1_000_000)
        send_at[client_id] = at.timestamp()
        conv = people["convs"][i % len(people["convs"])]
        async with http.post(f"{url}/api/conversations/{conv}/scheduled-messages", headers=headers,
                             json={"clientId": client_id, "content": f"scheduled {i}", "sendAt": at.isoformat()}) as r:
            if r.status != 201:
                raise RuntimeError(f"create -> {r.status}: {await r.text()}")

    t0 = time.time()
    await bounded_gather(64, [create(i) for i in range(n)])
    return send_at, time.time() - t0


class PingPong:
    """Ping-pong in another conversation, a send every 50 ms: (wall time, latency s) of each arrival."""

    def __init__(self) -> None:
        self.a, self.b = socketio.AsyncClient(reconnection=False), socketio.AsyncClient(reconnection=False)
        self.pending: dict[str, float] = {}
        self.samples: list[tuple[float, float]] = []
        self.stop = asyncio.Event()
        self.b.on("message:new", self.on_pong)

    async def on_pong(self, m) -> None:
        t = self.pending.pop(m["clientId"], None)
        if t is not None:
            self.samples.append((time.time(), time.perf_counter() - t))

    async def start(self, url: str, people: dict) -> None:
        for sock, token in ((self.a, people["ping"]), (self.b, people["pong"])):
            await sock.connect(url, auth={"token": token}, transports=["websocket"])
            await sock.call("conv:subscribe", {"convId": people["chat"]})
        self.task = asyncio.create_task(self.pinger(people["chat"]))

    async def pinger(self, chat: str) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            cid = f"p-{n}"
            self.pending[cid] = time.perf_counter()
            await self.a.call("message:send", {"convId": chat, "clientId": cid, "content": "ping"})
            await asyncio.sleep(0.05)

    async def end(self) -> None:
        self.stop.set()
        await self.task
        for sock in (self.a, self.b):
            await sock.disconnect()


async def run(args, url: str, http: aiohttp.ClientSession) -> dict:
    people = await make_people(Api(http, url), args)
    watcher_sock, arrivals = await watch(url, people["watcher"], people["convs"])
    # Everything due within one second, lead seconds from now (time to create them all first).
    due = datetime.now(timezone.utc) + timedelta(seconds=args.lead)
    send_at, created_in = await create_all(http, url, people, args.messages, due)
    if time.time() > due.timestamp():
        raise RuntimeError(f"creating took {created_in:.1f}s, past the due time: raise --lead")
    # Ping-pong from now until the last scheduled message arrived.
    chat = PingPong()
    await chat.start(url, people)
    deadline = due.timestamp() + 1 + args.timeout
    while time.time() < deadline and len(arrivals) < args.messages:
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)   # anything arriving twice arrives now
    await chat.end()
    await watcher_sock.disconnect()

    last = max((t[0] for t in arrivals.values()), default=None)
    during = [lat for wall, lat in chat.samples if due.timestamp() <= wall <= (last or deadline)]
    before = [lat for wall, lat in chat.samples if wall < due.timestamp()]
    early = sum(1 for cid, ts in arrivals.items() if ts[0] < send_at[cid] - 0.001)
    return {
        "messages": args.messages, "conversations": args.conversations, "senders": args.senders, "created_in_s": round(created_in, 1),
        "delivered": len(arrivals), "duplicates": sum(len(t) - 1 for t in arrivals.values()), "early": early,
        "missing": args.messages - len(arrivals),
        "last_arrival_after_due_s": round(last - due.timestamp(), 2) if last else None,
        "within_30s": bool(last and last - due.timestamp() <= 30 and len(arrivals) == args.messages),
        "chat_latency_during": latency_summary(during),
        "chat_latency_idle": latency_summary(before),
    }


def table(r: dict) -> str:
    d, i = r["chat_latency_during"], r["chat_latency_idle"]
    rows = [("scheduled messages", r["messages"]), ("conversations", r["conversations"]),
            ("delivered / missing / duplicates / early", f'{r["delivered"]} / {r["missing"]} / {r["duplicates"]} / {r["early"]}'),
            ("last arrival after due (s)", r["last_arrival_after_due_s"]), ("all within 30 s", r["within_30s"]),
            ("chat p50 / p99 / max ms, before due (while 10k are created)", f'{i["p50_ms"]} / {i["p99_ms"]} / {i["max_ms"]} (n={i["samples"]})'),
            ("chat p50 / p99 / max ms, during", f'{d["p50_ms"]} / {d["p99_ms"]} / {d["max_ms"]} (n={d["samples"]})')]
    return table_text(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--senders", type=int, default=20, help="each may have 500 pending (the default limit)")
    parser.add_argument("--lead", type=float, default=40.0, help="seconds from now to the due time")
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(table(result))
    (RESULTS / "scheduled.json").write_text(json.dumps(result, indent=2))
