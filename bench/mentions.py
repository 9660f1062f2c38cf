"""A message mentioning 200 members: every notification:new within 1 s p99 (embedded default, spawned).

200 members of one conversation are connected (one socket each, not subscribed to the conversation:
the notification reaches them in their own room); a sender posts ``--rounds`` messages each mentioning
all of them, one at a time. Latency: send -> notification:new at each member. Results: bench/results/mentions.json.

Usage: .venv/bin/python bench/mentions.py [--members 200] [--rounds 5]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import aiohttp
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.load.harness import Api, bounded_gather, on_spawned_server  # noqa: E402
from bench.load.report import latency_summary, table_text  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


async def main(args) -> dict:
    return await on_spawned_server("mentions", {}, lambda url, http: run(args, url, http))


async def run(args, url: str, http: aiohttp.ClientSession) -> dict:
    api = Api(http, url)
    sender, _ = await api.token("sender")
    names = [f"member{i:03d}" for i in range(args.members)]
    tokens = await bounded_gather(32, [api.token(n) for n in names])
    group = await api.create_group(sender, "bench")
    await bounded_gather(16, [api.add_group_member(sender, group, n) for n in names])
    conv = await api.create_conversation(sender, group, "everyone", names)
    arrivals: dict[str, list[float]] = {}   # clientId -> arrival times
    socks = []

    def listener(sock):
        @sock.on("notification:new")
        async def on_new(n):
            if n["type"] == "mention":
                arrivals.setdefault(n["data"]["messageId"], []).append(time.perf_counter())

    async def connect(token):
        sock = socketio.AsyncClient(reconnection=False)
        listener(sock)
        await sock.connect(url, auth={"token": token}, transports=["websocket"])
        socks.append(sock)

    await bounded_gather(32, [connect(t) for t, _ in tokens])
    author = socketio.AsyncClient(reconnection=False)
    stored: dict[str, str] = {}   # clientId -> messageId

    @author.on("message:new")
    async def on_message(m):
        stored[m["clientId"]] = m["id"]

    await author.connect(url, auth={"token": sender}, transports=["websocket"])
    await author.call("conv:subscribe", {"convId": conv})
    content = " ".join(f"@{n}" for n in names)
    latencies: list[float] = []
    per_round = []
    for r in range(args.rounds):
        cid = f"m-{r}"
        t = time.perf_counter()
        await author.call("message:send", {"convId": conv, "clientId": cid, "content": content})
        deadline = time.time() + 10
        while time.time() < deadline and (cid not in stored or len(arrivals.get(stored[cid], [])) < args.members):
            await asyncio.sleep(0.005)
        got = arrivals.get(stored.get(cid, ""), [])
        lat = [a - t for a in got]
        latencies += lat
        per_round.append({"received": len(got), "max_ms": round(max(lat) * 1000, 1) if lat else None})
        await asyncio.sleep(0.5)
    await asyncio.sleep(1)
    for s in socks + [author]:
        await s.disconnect()
    summary = latency_summary(latencies)
    return {"members": args.members, "rounds": args.rounds, "expected": args.members * args.rounds,
            "received": len(latencies), "duplicates": sum(len(v) - args.members for v in arrivals.values() if len(v) > args.members),
            "latency": summary, "per_round": per_round, "p99_within_1s": (summary["p99_ms"] or 1e9) <= 1000}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(main(args))
    lat = result["latency"]
    rows = [("members mentioned per message", result["members"]), ("messages", result["rounds"]),
            ("notification:new received / expected", f'{result["received"]} / {result["expected"]}'),
            ("send -> notification:new p50 / p95 / p99 / max ms",
             f'{lat["p50_ms"]} / {lat["p95_ms"]} / {lat["p99_ms"]} / {lat["max_ms"]}'),
            ("p99 within 1 s", result["p99_within_1s"])]
    print(table_text(rows))
    (RESULTS / "mentions.json").write_text(json.dumps(result, indent=2))
