"""The load generator's driver: runs the scenarios asked for (on a spawned server each, or one given by
URL), writes each result's JSON and prints its table."""
from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.load.clients import Tracker
from bench.load.compare import compare_with_baseline, moderation_summary
from bench.load.harness import (
    Api,
    CpuMeter,
    SpawnedServer,
    bounded_gather,
    log_counts,
    now,
    raise_nofile_limit,
    server_env,
)
from bench.load.options import parse_args
from bench.load.report import (
    REPO_ROOT,
    RESULTS_DIR,
    code_version,
    machine_info,
    print_table,
    write_json,
)
from bench.load.scenarios import RUNNERS, SCENARIOS
from bench.load.tables import rounds_summary, scenario_rows
from bench.load.targets import TARGETS


def params_of(args, name: str) -> dict[str, Any]:
    common = {"duration": args.duration, "warmup": args.warmup, "message_size": args.message_size,
              "grace": args.grace, "history": args.history}
    pop = {"senders": args.senders, "receivers": args.receivers, "conversations": args.conversations}
    if name == "throughput":
        return {**pop, **common, "window": args.window}
    if name == "mixed":
        return {**pop, **common, "window": args.window, "reaction_share": args.reaction_share,
                "read_share": args.read_share}
    if name == "latency":
        return {**pop, **common, "rate": args.rate}
    if name.startswith("moderation"):
        return {**pop, **{k: v for k, v in common.items() if k != "message_size"}, "window": args.window,
                "hit_share": args.hit_share, "texts": "bench/corpus.py send_texts"}
    if name == "typing":
        return {**pop, **common, "window": args.window, "typing_load_rate": args.typing_load_rate,
                "reaction_share": args.reaction_share, "read_share": args.read_share,
                "typing_period": args.typing_period, "typing_timeout": args.typing_timeout}
    return {"connections": args.connections, "conn_users": args.conn_users, "hold": args.hold,
            "pings": args.pings, "connect_concurrency": args.connect_concurrency, "storm_rate": args.storm_rate,
            "grace": args.grace}


async def run_one(name: str, args, http: aiohttp.ClientSession, stem: str, baseline: dict | None) -> dict:
    tracker = Tracker(run_id=secrets.token_hex(3))
    server: SpawnedServer | None = None
    extra_env = server_env(args.server_env)
    if args.worker_concurrency:
        extra_env["WORKER_CONCURRENCY"] = str(args.worker_concurrency)
    try:
        if args.spawn:
            # --history N: the server's store already holds N messages, left to the collector as a store that
            # grew while serving would be (bench/seeded_app.py --grown).
            argv = ("-m", "bench.seeded_app", "--messages", str(args.history), "--grown") if args.history else ("-m", "app")
            server = SpawnedServer(RESULTS_DIR / f"{stem}.server.log", extra_env, argv=argv)
            print(f"[{name}] starting server on {server.url} (log {server.log_path.relative_to(REPO_ROOT)})",
                  flush=True)
            t = now()
            await server.start(http, timeout=90.0 + args.history / 1000)
            print(f"[{name}] healthy after {now() - t:.1f}s", flush=True)
            url = server.url
        else:
            url = args.url.rstrip("/")
        api = Api(http, url)
        cpu = CpuMeter(server.proc.pid if server else None)
        print(f"[{name}] running (warm-up {args.warmup}s, window {args.duration}s)" if name != "connections"
              else f"[{name}] opening {args.connections} sockets", flush=True)
        res = await RUNNERS[name](args, api, url, http, tracker, cpu)
        if name == "mixed":
            res["comparison"] = compare_with_baseline(baseline, res)
    finally:
        # Close our sockets before the server goes (and always with --url, where the server stays up).
        with contextlib.suppress(Exception):
            await bounded_gather(200, (c.sio.disconnect() for c in tracker.clients if c.sio.connected))
        if server:
            stop_info = await asyncio.get_running_loop().run_in_executor(None, server.stop)
    if server:
        # The server's own complaints during the run (tracebacks, lock expiry, retries) are evidence;
        # what it logs once told to stop is counted apart.
        log_text = server.log_path.read_text(errors="replace")
        cut = log_text.find(" app: stopping")
        cut = len(log_text) if cut < 0 else cut
        res["server_log"] = {"path": str(server.log_path.relative_to(REPO_ROOT)), **log_counts(log_text[:cut]),
                             "after_stop": log_counts(log_text[cut:]), "stop": stop_info}
    out = RESULTS_DIR / f"{stem}.json"
    doc = {"scenario": name, "file": str(out.relative_to(REPO_ROOT)), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "target": "spawn" if args.spawn else url, "params": params_of(args, name), "server_env": extra_env,
           "machine": machine_info(), "code": code_version(), "targets": TARGETS, "results": res}
    write_json(out, doc)
    print_table(f"== {name} ==  ({out.relative_to(REPO_ROOT)})", scenario_rows(name, res))
    if "server_log" in res:
        sl = res["server_log"]
        print(f"server log: {sl['path']}  until stop: errors={sl['errors']} (redis publish retries "
              f"{sl['publish_retries']}, pubsub listener drops {sl['pubsub_listen_drops']}) "
              f"warnings={sl['warnings']} tracebacks={sl['tracebacks']}; after stop: errors="
              f"{sl['after_stop']['errors']} tracebacks={sl['after_stop']['tracebacks']}; stop: {sl['stop']}",
              flush=True)
    return doc


async def main_async(args) -> int:
    # mixed is measured against a throughput run of the same round, so asking for it runs both.
    names = SCENARIOS if args.scenario == "all" else ("throughput", "mixed") if args.scenario == "mixed" \
        else (args.scenario,)
    raise_nofile_limit()
    m = machine_info()
    print(f"machine: {m['nproc']} cpus ({m['cpu_model']}), python {m['python']}; "
          f"{'fresh spawned system per scenario' if args.spawn else 'target ' + args.url}", flush=True)
    # limit=0: websocket connections hold their connector slot for life; the default cap of 100 would
    # silently queue the 101st socket.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        docs = []
        pairs: list[dict[str, dict]] = []  # the moderation scenario's runs, by round
        prefix = f"{args.name}-" if args.name else ""
        for round_no in range(1, args.repeat + 1):
            baseline = None
            suffix = f".r{round_no}" if args.repeat > 1 else ""
            for name in names:
                if name == "moderation":
                    # Without rules, then with them; the other way round in even rounds, to cancel drift.
                    pair = {}
                    for variant in ("none", "rules") if round_no % 2 else ("rules", "none"):
                        pair[variant] = await run_one(f"moderation:{variant}", args, http,
                                                      f"{prefix}moderation.{variant}{suffix}", None)
                    pairs.append(pair)
                    continue
                docs.append(await run_one(name, args, http, f"{prefix}{name}{suffix}", baseline))
                if name == "throughput":
                    baseline = docs[-1]
        if args.repeat > 1 and docs:
            print_table(f"== {args.repeat} rounds ==", rounds_summary(docs))
        if pairs:
            write_moderation_summary(args, pairs, RESULTS_DIR / f"{prefix}moderation.json")
    return 0


def write_moderation_summary(args, pairs: list[dict[str, dict]], out: Path) -> None:
    summary, rows = moderation_summary(pairs)
    first = pairs[0]["none"]
    doc = {"scenario": "moderation", "file": str(out.relative_to(REPO_ROOT)),
           "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "target": first["target"],
           "params": first["params"], "server_env": first["server_env"], "rules": "bench/corpus.py group_rules "
           "(200 word, 20 regex)", "machine": machine_info(), "code": code_version(), "targets": TARGETS,
           "results": summary}
    write_json(out, doc, ensure_ascii=False)
    print_table(f"== moderation: throughput with 220 rules vs none, {len(pairs)} round(s) ==  "
                f"({out.relative_to(REPO_ROOT)})", rows)


def main(argv=None) -> int:
    args = parse_args(argv)
    loop = asyncio.new_event_loop()
    task = loop.create_task(main_async(args))
    # SIGTERM cancels like Ctrl-C does, so the finally blocks stop a spawned server either way.
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return loop.run_until_complete(task)
    except (KeyboardInterrupt, asyncio.CancelledError):
        task.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(task)
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        loop.close()
