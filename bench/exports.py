"""Exports: speed and memory of the worker side on 100,000 messages, end to end through the API, and chat
latency while an export runs on the embedded default.

Two parts (``--part worker|api|all``):

* ``worker``: the export pipeline (``pipelines.exports.job.run_export``, the real writers, the real S3Blobs on
  a real moto server) in this process, on an embedded store seeded directly with a realistic
  conversation (lengths from a few words to 2,000 characters, 10 % replies with their quote, 20 % with
  reactions, 2 % edited, 1 % deleted, a system message every 1,000). Measured per format: the time from
  the request (``do_request_export``) to ``export:ready``, and the growth of the process's peak RSS
  (``VmHWM`` reset through ``/proc/self/clear_refs`` before each run, minus the RSS then): what a prefork
  ``exports`` worker would see. The PDF renders in this process (``DirectExecutor``, as in a prefork
  worker).
* ``api``: a spawned embedded server (``python -m app``: eventlet, the in-process worker pool, moto), a
  conversation seeded over REST, each format requested over REST and timed to ``export:ready`` on the
  requester's socket; then bench/loadgen.py's open-loop latency scenario (its own population and
  machinery, reused, not copied) at ``--rate`` msg/s, ``--pairs`` pairs of windows on the same server
  for each of ``--formats`` (default ``pdf``), alternating (without, with; with, without; ...) and a last
  one without: with exports of the seeded conversation in that format running back to back, or none.
  A window in which the machine's other processes used more than 10 % of a core is marked disturbed
  (the server's own children are not others: its CPU children by name, the forks it ran and reaped
  meanwhile, the embedded exports' ``run_forked``, as ``forks``). ``--api-messages`` sizes the
  conversation: from ``EXPORT_FORK_MIN_MESSAGES`` (10,000) the embedded server walks it in a fork;
  ``--server-env EXPORT_FORK_MIN_MESSAGES=0`` (or a huge value) compares the two ways on one size.
  Reported per format: the ratio of the median p99 with exports to the median p99 without (target <= 2)
  over every window and over the undisturbed ones (the verdict: UNKNOWN when either side has none), and
  the median against the best and the worst window without.

Usage: .venv/bin/python bench/exports.py --part all     (results: bench/results/exports.json)
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.load import checks, clients, harness, loops, options, targets  # noqa: E402
from bench.load.report import RESULTS_DIR, code_version, machine_info  # noqa: E402

OUT = RESULTS_DIR / "exports.json"
TARGETS = {"json_s": 5.0, "csv_s": 5.0, "json_csv_rss_mb": 50.0, "pdf10k_s": 10.0, "pdf10k_rss_mb": 150.0,
           "p99_ratio": 2.0}
WORDS = ("le la les un une et est pour dans avec the and of to in meeting demain projet review merci "
         "ok bien sûr 👍 voilà release deploy bug fix test café équipe réunion").split()


def now() -> float:
    return time.perf_counter()


# -- worker part ---------------------------------------------------------------------------------------------
def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")


def text_of(rnd: random.Random) -> str:
    kind = rnd.random()
    n = rnd.randint(1, 10) if kind < 0.6 else rnd.randint(10, 70) if kind < 0.9 else rnd.randint(70, 330)
    return " ".join(rnd.choice(WORDS) for _ in range(n))


def seed(store, conv, users, n: int, rnd: random.Random) -> None:
    """n messages straight into the store, in chunks (the API would take minutes for 100,000)."""
    from schemas.common import new_id, utcnow
    from schemas.documents import Edit, Message, MessageMetadata, Quote, Reaction, SenderInfo
    from datetime import timedelta

    start = utcnow() - timedelta(seconds=n * 30)
    recent: list[Message] = []
    chunk = []
    for seq in range(1, n + 1):
        sender = users[rnd.randrange(len(users))]
        at = start + timedelta(seconds=seq * 30)
        meta, extra = MessageMetadata(), {}
        if seq % 1000 == 1:
            meta = MessageMetadata(systemAction="member_joined", systemData={"username": sender.username})
            extra["type"] = "system"
        elif recent and rnd.random() < 0.1:
            parent = recent[rnd.randrange(len(recent))]
            meta = MessageMetadata(replyTo=parent.id, quote=Quote.of(parent))
        if rnd.random() < 0.2:
            extra["reactions"] = [Reaction(userId=users[rnd.randrange(len(users))].id, emoji=rnd.choice("👍❤😂🎉"), at=at)
                                  for _ in range(rnd.randint(1, 3))]
        if rnd.random() < 0.02:
            extra.update(isEdited=True, editedAt=at, editHistory=[Edit(content=text_of(rnd), replacedAt=at)])
        if rnd.random() < 0.01:
            extra.update(isDeleted=True, deletedAt=at, deletedBy=sender.id)
        m = Message(id=new_id(), convId=conv.id, seq=seq, clientId=f"s{seq}", senderId=sender.id,
                    senderInfo=SenderInfo.of(sender), content=text_of(rnd), metadata=meta, createdAt=at,
                    updatedAt=at, **extra)
        recent = (recent + [m])[-50:]
        chunk.append(m.to_mongo())
        if len(chunk) == 5000:
            store.db.messages.insert_many(chunk)
            chunk = []
    if chunk:
        store.db.messages.insert_many(chunk)
    store.db.conversations.update_one({"_id": conv.id}, {"$set": {"lastSeq": n}})


def worker_part(args) -> dict[str, Any]:
    from datetime import timedelta

    from infra.blobs import S3Blobs
    from infra.embedded.mongo import embedded_client
    from infra.embedded.s3_server import MotoS3Server
    from infra.storage import Store
    from infra.executor import DirectExecutor
    from pipelines.exports.files import ExportSettings
    from pipelines.exports.job import ExportIO, run_export
    from pipelines.exports.requests import do_request_export
    from pipelines.events import Notifier
    from schemas.payloads import ExportCreate
    from tests.conftest import make_conversation, make_user
    from tests.fakes import RecordingEmitter

    rnd = random.Random(11)
    store = Store(embedded_client()["bench"])
    store.ensure_indexes()
    users = [make_user(store, f"user{i}", fname=f"First{i}", lname="Last") for i in range(12)]
    big, small = make_conversation(store, users, "big"), make_conversation(store, users, "ten thousand")
    t = now()
    seed(store, big, users, args.messages, rnd)
    seed(store, small, users, args.pdf_messages, rnd)
    seeded = round(now() - t, 1)
    print(f"[worker] seeded {args.messages} + {args.pdf_messages} messages in {seeded} s", flush=True)
    s3 = MotoS3Server().start()
    try:
        blobs = S3Blobs(endpoint_url=s3.url, bucket="bench-exports", access_key_id="test", secret_access_key="test")
        blobs.ensure_bucket(["http://127.0.0.1"])
        emitter = RecordingEmitter()
        settings = ExportSettings(ttl=timedelta(hours=48), for_members=False, batch=500, lease_seconds=60,
                                  presign_seconds=300)
        io = ExportIO(store=store, blobs=blobs, notifier=Notifier(emitter), settings=settings,
                      executor=DirectExecutor())
        runs = {}
        plan = [("json", big, args.messages), ("csv", big, args.messages), ("pdf", small, args.pdf_messages)]
        if args.pdf_full:
            plan.append(("pdf", big, args.messages))
        for fmt, conv, n in plan:
            _reset_peak()
            base = _rss_kb("VmRSS")
            t = now()
            job = do_request_export(store, lambda _id: None, settings, users[0], conv.id,
                                    ExportCreate.model_validate({"format": fmt, "language": "fr",
                                                                 "timezone": "Europe/Paris"}))
            result = run_export(job.id, io)
            elapsed = now() - t
            assert result.status == "done", result
            assert any(d["id"] == job.id for d, _ in emitter.of("export:ready"))
            peak = _rss_kb("VmHWM")
            name = f"{fmt}_{n // 1000}k"
            runs[name] = {"messages": result.messages, "seconds": round(elapsed, 2), "bytes": result.size,
                          "rss_growth_mb": round((peak - base) / 1024, 1), "rss_before_mb": round(base / 1024, 1)}
            print(f"[worker] {name}: {runs[name]}", flush=True)
        return {"seed_seconds": seeded, "runs": runs}
    finally:
        s3.stop()


# -- api part --------------------------------------------------------------------------------------------------
async def api_part(args) -> dict[str, Any]:
    import aiohttp
    import socketio

    server = harness.SpawnedServer(RESULTS_DIR / "exports.server.log", harness.server_env(args.server_env))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        await server.start(http)
        print(f"[api] server on {server.url}", flush=True)
        try:
            api = harness.Api(http, server.url)
            tag = secrets.token_hex(3)
            token, _ = await api.token(f"exp{tag}")
            btoken, _ = await api.token(f"mem{tag}")
            group = await api.create_group(token, f"exports {tag}")
            await api.add_group_member(token, group, f"mem{tag}")
            conv = await api.create_conversation(token, group, "bench export", [f"mem{tag}"])
            rnd = random.Random(5)
            t = now()

            async def send(i: int) -> None:
                await api._post(f"/api/conversations/{conv}/messages",
                                {"clientId": f"b{i}", "content": text_of(rnd)}, token if i % 2 else btoken)
            await harness.bounded_gather(40, (send(i) for i in range(args.api_messages)))
            while len(await api.stored(token, conv)) < args.api_messages + 1:
                await asyncio.sleep(0.5)
            print(f"[api] seeded {args.api_messages} messages over REST in {now() - t:.1f} s", flush=True)
            sio = socketio.AsyncClient(reconnection=False)
            ready: dict[str, float] = {}
            sio.on("export:ready", lambda data: ready.setdefault(data["id"], now()))
            await sio.connect(server.url, auth={"token": token}, transports=["websocket"])

            async def export(fmt: str) -> tuple[float, float]:
                """One export, from its request to its export:ready: (when it was requested, how long)."""
                t0 = now()
                job = await api._post(f"/api/conversations/{conv}/exports", {"format": fmt}, token)
                while job["id"] not in ready:
                    await asyncio.sleep(0.01)
                return t0, ready[job["id"]] - t0

            timings = {fmt: round((await export(fmt))[1], 2) for fmt in ("json", "csv", "pdf")}
            print(f"[api] request -> export:ready on {args.api_messages} messages: {timings}", flush=True)

            async def latency_window(fmt: str | None) -> dict:
                la = options.parse_args(["--url", server.url, "--scenario", "latency", "--rate", str(args.rate),
                                    "--duration", str(args.duration), "--warmup", "3"])
                tracker = clients.Tracker(run_id=secrets.token_hex(3))
                pop = await clients.build_population(api, server.url, http, tracker, la.senders, la.receivers,
                                                la.conversations)
                cpu = harness.CpuMeter(server.proc.pid)
                t_start = now() + 0.05
                t_begin, t_end = t_start + la.warmup, t_start + la.warmup + la.duration
                cpu_task = asyncio.create_task(loops.cpu_over(cpu, t_begin, t_end))
                done_exports = []

                async def exports_loop():
                    while now() < t_end:
                        done_exports.append(await export(fmt))
                loop_task = asyncio.create_task(exports_loop()) if fmt else None
                await loops.open_loop(pop.senders, la.rate, t_start, t_begin, t_end, loops.sends(tracker, loops.payload(la.message_size)))
                res = await checks.check_sends(la, api, tracker, pop, t_begin, t_end)
                by_second = checks.latency_by_second(tracker, pop, t_begin, t_end)
                if loop_task:
                    await loop_task
                await harness.bounded_gather(200, (c.sio.disconnect() for c in tracker.clients if c.sio.connected))
                lat, used = res["latency"], await cpu_task
                began_at = time.strftime("%H:%M:%S", time.localtime(time.time() - (now() - t_begin)))
                out = {"format": fmt, "began_at": began_at, "latency": lat,
                       "exactly_once": checks.exactly_once(res["verify"]),
                       "cpu_percent_of_one_core": used, "exports_done": len(done_exports),
                       # each export: when it was requested (seconds into the window) and how long it took
                       "exports": [(round(t0 - t_begin, 2), round(d, 2)) for t0, d in done_exports],
                       "latency_by_second": by_second,
                       "disturbed": used.get("others", 0.0) > targets.CHAT_QUIET_OTHERS_PERCENT}
                print(f"[api] latency {'with ' + fmt if fmt else 'without'} exports (from {began_at}): p50 {lat['p50_ms']} "
                      f"p99 {lat['p99_ms']} max {lat['max_ms']} ms; exports {len(done_exports)}; cpu {used}"
                      + (" DISTURBED" if out["disturbed"] else ""), flush=True)
                print("[api]   p99 ms by second: " + " ".join(str(b["p99_ms"]) for b in by_second)
                      + "\n[api]   ack p99 by second: " + " ".join(str(b["ack_p99_ms"]) for b in by_second)
                      + ("\n[api]   exports (requested at s, took s): " + " ".join(f"{t}+{d}" for t, d in out["exports"])
                         if fmt else ""), flush=True)
                return out

            # Windows alternate on the same server, and the comparison is of medians: this machine moves a
            # window's p99 by 4x with nothing changed, so one baseline against one window says little.
            plan = [w for i in range(args.pairs) for fmt in args.formats
                    for w in ((None, fmt) if i % 2 == 0 else (fmt, None))] + [None]
            windows = [await latency_window(fmt) for fmt in plan]
            await sio.disconnect()
            return {"messages": args.api_messages, "request_to_ready_s": timings, "rate": args.rate,
                    "windows": windows, "by_format": {fmt: compare(windows, fmt) for fmt in args.formats}}
        finally:
            server.stop()


def compare(windows: list[dict], fmt: str) -> dict[str, Any]:
    """p99 with exports of ``fmt`` against p99 without, over every window and over the undisturbed ones."""
    def p99s(windows, f):
        return [w["latency"]["p99_ms"] for w in windows if w["format"] == f]

    def ratio(with_, without):
        return round(statistics.median(with_) / statistics.median(without), 2) if with_ and without else None
    quiet = [w for w in windows if not w["disturbed"]]
    with_, without = p99s(windows, fmt), p99s(windows, None)
    quiet_ratio = ratio(p99s(quiet, fmt), p99s(quiet, None))
    return {"p99_median_with_ms": round(statistics.median(with_), 2),
            "p99_median_without_ms": round(statistics.median(without), 2),
            "p99_ratio_of_medians": ratio(with_, without),
            "p99_ratio_vs_best_without": round(statistics.median(with_) / min(without), 2),
            "p99_ratio_vs_worst_without": round(statistics.median(with_) / max(without), 2),
            "p99_ratio_of_medians_undisturbed": quiet_ratio,
            "target_met": None if quiet_ratio is None else quiet_ratio <= TARGETS["p99_ratio"]}


# -- report ------------------------------------------------------------------------------------------------------
def report(results: dict[str, Any]) -> None:
    rows = []
    w = results.get("worker", {}).get("runs", {})
    for name, r in w.items():
        rows.append((f"worker {name}", f"{r['seconds']} s", f"{r['rss_growth_mb']} MB", f"{r['bytes'] / 1e6:.1f} MB"))
    a = results.get("api")
    if a:
        for fmt, s in a["request_to_ready_s"].items():
            rows.append((f"api {fmt} {a['messages']} msgs", f"{s} s", "", ""))
        for i, win in enumerate(a["windows"], 1):
            lat = win["latency"]
            rows.append((f"latency {i} with {win['format'] or 'no'} exports @{a['rate']}/s",
                         f"p99 {lat['p99_ms']} ms", f"p50 {lat['p50_ms']} ms",
                         f"{win['exports_done']} exports" + (" DISTURBED" if win["disturbed"] else "")))
        for fmt, c in a["by_format"].items():
            rows.append((f"{fmt}: p99 median with / median without", f"{c['p99_median_with_ms']} ms",
                         f"{c['p99_median_without_ms']} ms", f"ratio {c['p99_ratio_of_medians']}"))
            rows.append((f"{fmt}: median with / best, worst without", f"{c['p99_ratio_vs_best_without']}",
                         f"{c['p99_ratio_vs_worst_without']}", ""))
            verdict = {True: "PASS", False: "FAIL", None: "UNKNOWN"}[c["target_met"]]
            rows.append((f"{fmt}: the same, undisturbed windows only", f"ratio {c['p99_ratio_of_medians_undisturbed']}",
                         f"target <= {TARGETS['p99_ratio']}", verdict))
    width = max(len(r[0]) for r in rows) if rows else 10
    print("\n== exports ==")
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:>14}  {r[2]:>12}  {r[3]:>14}")


def _formats(value: str) -> list[str]:
    formats = value.split(",")
    if unknown := set(formats) - {"json", "csv", "pdf"}:
        raise argparse.ArgumentTypeError(f"unknown format(s): {', '.join(sorted(unknown))}")
    return formats


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["worker", "api", "all"], default="all")
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--pdf-messages", type=int, default=10_000)
    p.add_argument("--no-pdf-full", dest="pdf_full", action="store_false", help="skip the 100,000-message PDF")
    p.add_argument("--api-messages", type=int, default=3_000)
    p.add_argument("--rate", type=float, default=100)
    p.add_argument("--duration", type=float, default=15)
    p.add_argument("--pairs", type=int, default=3, help="latency windows without/with exports, alternating")
    p.add_argument("--formats", type=_formats, default=["pdf"],
                   help="the formats exported back to back in the windows with exports, comma-separated")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the spawned server (repeatable), e.g. EXPORT_FORK=false")
    args = p.parse_args(argv)
    results: dict[str, Any] = {"machine": machine_info(), "code": code_version(), "targets": TARGETS,
                               "args": vars(args)}
    if args.part in ("worker", "all"):
        results["worker"] = worker_part(args)
    if args.part in ("api", "all"):
        results["api"] = asyncio.run(api_part(args))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    previous = json.loads(OUT.read_text()) if OUT.exists() else {}
    OUT.write_text(json.dumps({**previous, **results}, indent=1, ensure_ascii=False))
    report(results)
    print(f"\nresults: {OUT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
