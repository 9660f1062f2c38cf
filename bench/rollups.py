"""Chat latency while the analytics roll-ups run, against without, side by side (issue 24, "Speed", third
target: p99 at 100 msg/s with roll-ups <= 1.5 x without).

Each run is a fresh embedded default (``python -m bench.seeded_app``: ``python -m app`` whose store first
receives bench/history.py's history, ``--messages`` (100,000) over ``--days`` (365) in one group of 20
conversations, and then one roll-up up to now, ``--prime``, so that every window sees the beat's increments
rather than the first roll-up of a whole year; both runs of a pair get the same history and the same
priming). The only difference between the two runs of a pair is the roll-up's beat interval
(``--interval-setting``, ANALYTICS_ROLLUP_EVERY_SECONDS): ``--rollup-every`` (1) s *with*, ``--idle-every``
(one day) *without*. In the embedded default the store is in the web process, so the roll-up runs there, as
a Celery task of the in-process worker pool sent by the in-process beat: exactly what a deployment without
MongoDB runs. Then bench/loadgen.py's latency scenario (its population, open loop and checks, imported):
``--rate`` (100) msg/s for ``--warmup`` + ``--duration`` (3 + 20) s, latency from each send's scheduled time
to ``message:new`` at another member. ``--pairs`` (3) pairs, the order alternating (without, with; with,
without; ...).

Reported per run: p50/p95/p99/max, lost and duplicates, the server's loop probe (a static GET every 20 ms:
a long round trip is a stall of the web process's loop), the CPU of the server and of every other process
(a window where others took more than 10 % of a core is marked disturbed), and from the server's output
(``--trace``) how many roll-ups ran in the window and how long the longest held the process. Per pair the
ratio p99(with) / p99(without); the median of the ratios is judged against 1.5 (over every pair, and over
the undisturbed ones). ``--profile`` records py-spy on each *with* run's server over its window.

Usage: .venv/bin/python bench/rollups.py [--pairs 3] [--messages 100000] [--profile]
Prints a table; writes bench/results/rollups.json and the servers' logs beside it (git-ignored).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.load import checks, clients, harness, loops, options, targets  # noqa: E402
from bench.load.report import RESULTS_DIR, code_version, latency_summary, machine_info, write_json  # noqa: E402
from bench.media import probe_rtt  # noqa: E402

RESULTS = RESULTS_DIR / "rollups.json"
TARGET_P99_RATIO = 1.5
ROLLUP = "pipelines.analytics.rollup:do_rollup"
TASK = ROLLUP  # workers/notifications.py calls it through its module
now = harness.now


def server_argv(args) -> tuple[str, ...]:
    argv = ["-m", "bench.seeded_app", "--messages", str(args.messages), "--days", str(args.days)]
    if args.prime:
        argv += ["--prime", args.prime]
    for spec in args.trace:
        argv += ["--trace", spec]
    return tuple(argv)


def before(text: str, wall: float) -> str:
    """The log's lines stamped before ``wall`` (with the unstamped lines that follow them, a traceback's):
    what the server logged before it was asked to stop (Redis is stopped first, and the listeners say so)."""
    kept = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            if time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) >= wall:
                break
        kept.append(line)
    return "\n".join(kept)


def server_output(path: Path, wall_begin: float, wall_end: float, wall_stop: float) -> dict[str, Any]:
    """What the seeded server printed: its history (``bench-seeded``), the traced calls that began in the
    window (``bench-trace``: count, longest, total seconds), and the log's error counts before the stop."""
    text = path.read_text(errors="replace")
    seeded, calls = {}, []
    for line in text.splitlines():
        if line.startswith("bench-seeded "):
            seeded = json.loads(line.split(" ", 1)[1])
            seeded.pop("conversation_ids", None)
        elif line.startswith("bench-trace "):
            _, name, wall, seconds = line.split()
            if wall_begin <= float(wall) < wall_end:
                calls.append(float(seconds))
    return {"seeded": seeded, "traced_in_window": {"calls": len(calls),
                                                   "max_s": round(max(calls), 3) if calls else None,
                                                   "total_s": round(sum(calls), 3)},
            **harness.log_counts(before(text, wall_stop))}


async def profile_at(server: harness.SpawnedServer, name: str, t_begin: float, duration: float,
                     into: list) -> None:
    """py-spy from the window's beginning (``--idle``: a blocked call shows too), raw collapsed stacks to
    results/<name>.pyspy.txt; appends (the process, the file) to ``into``."""
    await harness.sleep_until(t_begin)
    out = RESULTS_DIR / f"{name}.pyspy.txt"
    spy = Path(sys.executable).with_name("py-spy")
    proc = subprocess.Popen([str(spy), "record", "--pid", str(server.proc.pid), "--idle", "--nonblocking",
                             "--rate", "200", "--format", "raw", "--duration", str(int(duration)),
                             "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    into.append((proc, str(out.relative_to(REPO_ROOT))))


async def window(args, http: aiohttp.ClientSession, server: harness.SpawnedServer, name: str,
                 profile: bool) -> dict[str, Any]:
    """loadgen's latency open loop on the server, with the loop probe and the CPU meter."""
    la = options.parse_args(["--url", server.url, "--scenario", "latency", "--rate", str(args.rate),
                             "--duration", str(args.duration), "--warmup", str(args.warmup)])
    tracker = clients.Tracker(run_id=secrets.token_hex(3))
    api = harness.Api(http, server.url)
    try:
        pop = await clients.build_population(api, server.url, http, tracker, la.senders, la.receivers,
                                             la.conversations)
        cpu = harness.CpuMeter(server.proc.pid)
        t_start = now() + 0.05
        t_begin, t_end = t_start + la.warmup, t_start + la.warmup + la.duration
        wall_begin = time.time() + (t_begin - now())
        cpu_task = asyncio.create_task(loops.cpu_over(cpu, t_begin, t_end))
        probe_task = asyncio.create_task(probe_rtt(http, server.url, t_begin, t_end, args.probe_interval))
        spy: list = []
        spy_task = asyncio.create_task(profile_at(server, name, t_begin, la.duration, spy)) if profile else None
        max_lag = await loops.open_loop(pop.senders, la.rate, t_start, t_begin, t_end,
                                        loops.sends(tracker, loops.payload(la.message_size)))
        res = await checks.check_sends(la, api, tracker, pop, t_begin, t_end)
        res.update(wall_begin=wall_begin, wall_end=wall_begin + la.duration,
                   max_schedule_lag_ms=round(max_lag * 1000, 2), cpu_percent_of_one_core=await cpu_task,
                   server_loop_probe=latency_summary(await probe_task),
                   latency_by_second=checks.latency_by_second(tracker, pop, t_begin, t_end))
        if spy_task:
            await spy_task
            await asyncio.get_running_loop().run_in_executor(None, spy[0][0].wait)
            res["profile"] = spy[0][1]
        return res
    finally:
        with contextlib.suppress(Exception):
            await harness.bounded_gather(200, (c.sio.disconnect() for c in tracker.clients if c.sio.connected))


async def run(args, http: aiohttp.ClientSession, with_rollups: bool, pair: int) -> dict[str, Any]:
    """One fresh seeded server and one window on it."""
    label = "with" if with_rollups else "without"
    name = f"rollups.{label}.p{pair}"
    env = {"JWT_SECRET": "bench-" + "x" * 40, "LOG_LEVEL": "WARNING",
           args.interval_setting: str(args.rollup_every if with_rollups else args.idle_every),
           **harness.server_env(args.server_env)}
    server = harness.SpawnedServer(RESULTS_DIR / f"{name}.server.log", env, argv=server_argv(args))
    print(f"[p{pair} {label}] starting a server on {server.url} ({args.messages} messages to seed)", flush=True)
    t = now()
    await server.start(http, timeout=args.start_timeout)
    started = round(now() - t, 1)
    try:
        res = await window(args, http, server, name, args.profile and with_rollups)
    finally:
        wall_stop = time.time()
        stop = await asyncio.get_running_loop().run_in_executor(None, server.stop)
    res["server"] = {"start_seconds": started, "stop": stop, "log": str(server.log_path.relative_to(REPO_ROOT)),
                     **server_output(server.log_path, res["wall_begin"], res["wall_end"], wall_stop)}
    res["disturbed"] = res["cpu_percent_of_one_core"].get("others", 0.0) > targets.CHAT_QUIET_OTHERS_PERCENT
    lat, v, tr = res["latency"], res["verify"], res["server"]["traced_in_window"]
    print(f"[p{pair} {label}] p50 {lat['p50_ms']} p99 {lat['p99_ms']} max {lat['max_ms']} ms (n={lat['samples']}); "
          f"lost {v['lost_messages']}, duplicates {v['duplicates']}; probe p99 {res['server_loop_probe']['p99_ms']} "
          f"max {res['server_loop_probe']['max_ms']} ms; roll-ups in window {tr['calls']} (longest {tr['max_s']} s, "
          f"total {tr['total_s']} s); cpu {res['cpu_percent_of_one_core']}"
          + (" DISTURBED" if res["disturbed"] else ""), flush=True)
    print(f"[p{pair} {label}] p99 ms by second: " + " ".join(str(b["p99_ms"]) for b in res["latency_by_second"]),
          flush=True)
    return res


def median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 3) if xs else None


def summarize(pairs: list[dict]) -> dict[str, Any]:
    ratios = [p["p99_ratio"] for p in pairs if p["p99_ratio"] is not None]
    quiet = [p["p99_ratio"] for p in pairs if p["p99_ratio"] is not None and not p["disturbed"]]
    side = lambda k, f: median([p["runs"][k]["latency"][f] for p in pairs])  # noqa: E731
    return {"median_p99_ratio": median(ratios), "median_p99_ratio_quiet_pairs": median(quiet),
            "median_p50_ms": {k: side(k, "p50_ms") for k in ("without", "with")},
            "median_p99_ms": {k: side(k, "p99_ms") for k in ("without", "with")},
            "exactly_once": all(p["exactly_once"] for p in pairs),
            "rollups_ran": all(p["runs"]["with"]["server"]["traced_in_window"]["calls"] > 0 for p in pairs),
            "target_met": (median(ratios) <= TARGET_P99_RATIO and all(p["exactly_once"] for p in pairs))
            if ratios else None}


async def measure(args) -> dict[str, Any]:
    pairs = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:
        for p in range(1, args.pairs + 1):
            order = (False, True) if p % 2 else (True, False)
            runs = {("with" if w else "without"): await run(args, http, w, p) for w in order}
            p99 = {k: v["latency"]["p99_ms"] for k, v in runs.items()}
            pairs.append({"pair": p, "order": ["with" if w else "without" for w in order], "runs": runs,
                          "p99_ratio": round(p99["with"] / p99["without"], 2) if p99["without"] else None,
                          "exactly_once": all(checks.exactly_once(v["verify"]) for v in runs.values()),
                          "disturbed": any(v["disturbed"] for v in runs.values())})
    return {"pairs": pairs, "summary": summarize(pairs)}


def print_report(doc: dict) -> None:
    a = doc["args"]
    print(f"\n== chat latency at {a['rate']} msg/s ({a['warmup']} s warm-up + {a['duration']} s), without vs with "
          f"roll-ups every {a['rollup_every']} s, on {a['messages']} messages over {a['days']} days ==")
    head = (f"{'pair':<5}{'run':<9}{'p50':>9}{'p99':>9}{'max':>9}{'lost':>6}{'probe p99':>11}{'probe max':>11}"
            f"{'roll-ups':>10}{'longest s':>11}{'others %':>10}{'p99 ratio':>11}")
    print(head + "   (ms)\n" + "-" * len(head))
    for p in doc["pairs"]:
        for name in p["order"]:
            x = p["runs"][name]
            lat, pr, tr = x["latency"], x["server_loop_probe"], x["server"]["traced_in_window"]
            print(f"{p['pair']:<5}{name:<9}{lat['p50_ms']:>9}{lat['p99_ms']:>9}{lat['max_ms']:>9}"
                  f"{x['verify']['lost_messages']:>6}{pr['p99_ms']:>11}{pr['max_ms']:>11}{tr['calls']:>10}"
                  f"{str(tr['max_s']):>11}{x['cpu_percent_of_one_core'].get('others', 0.0):>10}"
                  f"{(str(p['p99_ratio']) if name == p['order'][-1] else ''):>11}"
                  + ("  disturbed" if x["disturbed"] else ""))
    s = doc["summary"]
    print(f"median p50 without / with: {s['median_p50_ms']['without']} / {s['median_p50_ms']['with']} ms; "
          f"median p99 without / with: {s['median_p99_ms']['without']} / {s['median_p99_ms']['with']} ms")
    print(f"median p99 ratio {s['median_p99_ratio']} (undisturbed pairs: {s['median_p99_ratio_quiet_pairs']}); "
          f"exactly once: {s['exactly_once']}; roll-ups ran in every 'with' window: {s['rollups_ran']}; "
          f"target <= {TARGET_P99_RATIO}: " + {True: "PASS", False: "FAIL", None: "UNKNOWN"}[s["target_met"]])


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pairs", type=int, default=3, help="pairs of runs without/with, order alternating")
    p.add_argument("--rate", type=float, default=100.0, help="offered msg/s of the latency open loop")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--messages", type=int, default=100_000, help="history seeded in each server")
    p.add_argument("--days", type=int, default=365, help="the history's span, up to now")
    p.add_argument("--interval-setting", default="ANALYTICS_ROLLUP_EVERY_SECONDS")
    p.add_argument("--rollup-every", type=float, default=1.0, help="beat interval of the roll-up, with")
    p.add_argument("--idle-every", type=float, default=86400.0, help="beat interval of the roll-up, without")
    p.add_argument("--prime", default=ROLLUP, help="module:function(store, now) run once after seeding ('' none)")
    p.add_argument("--trace", action="append", default=None,
                   help=f"module:function whose calls the server reports (repeatable; default {TASK})")
    p.add_argument("--start-timeout", type=float, default=300.0, help="seconds for seeding and start-up")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the spawned servers (repeatable)")
    p.add_argument("--profile", action="store_true", help="py-spy on each 'with' run's server over its window")
    p.add_argument("--probe-interval", type=float, default=0.02, help="seconds between static GETs (loop probe)")
    args = p.parse_args(argv)
    args.trace = args.trace if args.trace is not None else [TASK]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    harness.raise_nofile_limit()
    m = machine_info()
    print(f"machine: {m['nproc']} cpus ({m['cpu_model']}), load {m['loadavg_at_start']}", flush=True)
    doc: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": m, "code": code_version(),
                           "args": vars(args), "target_p99_ratio_max": TARGET_P99_RATIO,
                           **asyncio.run(measure(args))}
    write_json(RESULTS, doc)
    print_report(doc)
    print(f"\n({RESULTS.relative_to(REPO_ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
