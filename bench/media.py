"""Media speed: upload throughput through the API against plain boto3, and chat latency while images are processed.

Two measurements (issue 10, "Speed", targets 2 and 3), each side by side in one run:

1. **Upload throughput.** ``--upload-mib`` (100) MiB, a ``application/zip`` file (``PK\\x03\\x04`` then random
   bytes, so the worker's verification passes), through the whole upload API as the page does it:
   ``POST /api/uploads``, ``POST /api/uploads/{id}/part-urls``, the presigned part PUTs straight to S3 with
   ``--concurrency`` (4) in flight, ``POST /api/uploads/{id}/complete``, then until the uploader's socket
   hears ``media:updated`` (the page's way; ``GET /api/media/{id}`` every ``--poll`` s is only a safety net)
   that the media worker has completed the multipart upload from S3's ListParts, checked its
   size and first bytes and says ``ready``. Against ``upload_fileobj`` of the same bytes to the same S3
   endpoint with boto3's default ``TransferConfig`` (8 MiB parts, 10 threads) and with that config at the
   API's concurrency. The endpoint and bucket are read from the server's own presigned part URLs (the
   embedded default's moto, a child of the server). Each round runs the three in one order, the next round
   in the reverse order; MiB/s of each, ratio API / boto3 per round and the medians (target >= 0.8 against
   the default config). Objects are deleted after each upload (moto keeps them in memory).
2. **Chat latency while images are processed.** On the embedded default (``python -m app`` with loadgen's
   ``SPAWN_ENV``, a fresh server per run), bench/loadgen.py's latency scenario: its open loop at ``--rate``
   (100) msg/s for ``--warmup`` + ``--duration`` (3 + 20) s, latency from the scheduled send time. Once with
   nothing else, once while ``--images`` (20) 12-megapixel JPEGs (``bench/thumbnails.py``'s
   ``photo_jpeg()``: q90, EXIF orientation 6, GPS) are uploaded through the API by another user of another
   conversation (all started at the window's start, ``--concurrency`` PUTs in flight) and processed by the
   media worker (metadata, small + large WebP, original without GPS). Rounds alternate the order. Reported:
   p50/p95/p99/max of each, p99(with) / p99(without) (target <= 2), how long the images took to be
   ``ready``, and the server's event-loop stalls seen from outside: a ``GET /static/favicon.svg`` every
   ``--probe-interval`` s (a static file: nothing but the web process's loop answers it), its round trip's
   p99 and max. loadgen's schedule lag and this process's own loop lag say how much is the load generator.
   Each run also prints, for every second of the window, the p99 of send -> ``message:new`` and of send ->
   ack (the socket handler's part alone): which phase of the images the slow ones fall in, and whether
   they waited for the web process's loop (the ack is late too) or further down the pipeline.

CPU of this process, of the server with its children (redis-server, moto, the CPU child) and of every other
process of the machine (``others``) is recorded per upload and per run: an upload round in which others used
more than 25 % of a core, or a chat window in which they used more than 10 %, is marked disturbed.

Usage: .venv/bin/python bench/media.py [--only upload|chat] [--upload-rounds 3] [--chat-rounds 2]
Prints tables; writes bench/results/media.json (git-ignored) and the servers' logs beside it.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import socketio

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.load import checks, clients, harness, loops, options, targets  # noqa: E402
from bench.load.report import RESULTS_DIR, code_version, latency_summary, machine_info  # noqa: E402
from bench.thumbnails import photo_jpeg  # noqa: E402

MiB = 1 << 20
RESULTS = RESULTS_DIR / "media.json"
TARGET_RATIO, TARGET_P99_RATIO = 0.8, 2.0
DONE = ("ready", "failed", "quarantined")
now = harness.now


# -- the upload API, as the page uses it ---------------------------------------------------------------
class UploadClient:
    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self.http, self.base, self.token, self.headers = http, base, token, {"Authorization": f"Bearer {token}"}
        self.done: dict[str, asyncio.Future] = {}  # media id -> its final media:updated payload
        self.steps: dict[str, dict[str, float]] = {}  # media id -> step -> when its media:updated arrived
        self.sio: socketio.AsyncClient | None = None

    async def connect(self) -> None:
        """The uploader's socket, as the page has: the worker's ``media:updated`` says when a file is done
        (polling ``GET /api/media`` for 20 files would itself be a load on the server)."""
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=self.http)
        self.sio.on("media:updated", self._on_media)
        await self.sio.connect(self.base, auth={"token": self.token}, transports=["websocket"], wait_timeout=30)

    def _on_media(self, data: dict) -> None:
        seen = self.steps.setdefault(data.get("id", ""), {})
        for name, step in (data.get("processingSteps") or {}).items():
            if isinstance(step, dict) and step.get("status") in ("done", "skipped", "failed"):
                seen.setdefault(name, now())
        fut = self._future(data.get("id", ""))
        if data.get("status") in DONE and not fut.done():
            fut.set_result((now(), data))

    def _future(self, media_id: str) -> asyncio.Future:
        return self.done.setdefault(media_id, asyncio.get_running_loop().create_future())

    async def close(self) -> None:
        if self.sio and self.sio.connected:
            await self.sio.disconnect()

    async def _json(self, method: str, path: str, body: dict | None = None, expect: int = 200) -> dict:
        async with self.http.request(method, f"{self.base}{path}", json=body, headers=self.headers) as r:
            data = await r.json(content_type=None)
            if r.status != expect:
                raise RuntimeError(f"{method} {path} -> {r.status}: {data}")
            return data

    async def send(self, conv_id: str, filename: str, data: bytes, mime: str, concurrency: int) -> dict[str, Any]:
        """Create, part URLs, the PUTs (``concurrency`` in flight), complete (202): the client's part."""
        t0 = now()
        up = await self._json("POST", "/api/uploads", {"convId": conv_id, "filename": filename, "size": len(data),
                                                        "mimeType": mime}, expect=201)
        n, size = up["partCount"], up["partSize"]
        urls: dict[str, str] = {}
        for first in range(1, n + 1, 100):  # the API hands out at most 100 per call
            batch = list(range(first, min(n, first + 99) + 1))
            urls.update((await self._json("POST", f"/api/uploads/{up['id']}/part-urls", {"parts": batch}))["urls"])
        slots = asyncio.Semaphore(concurrency)

        async def put(k: int) -> None:
            async with slots:
                async with self.http.put(urls[str(k)], data=data[(k - 1) * size:k * size]) as r:
                    if r.status != 200:
                        raise RuntimeError(f"PUT part {k} -> {r.status}: {(await r.text())[:300]}")
                    await r.read()

        await asyncio.gather(*(put(k) for k in range(1, n + 1)))
        t_put = now()
        await self._json("POST", f"/api/uploads/{up['id']}/complete", {}, expect=202)
        parsed = urlsplit(urls["1"])
        bucket, key = parsed.path.lstrip("/").split("/", 1)
        return {"id": up["id"], "parts": n, "part_size": size, "t0": t0, "t_put": t_put, "t_complete": now(),
                "endpoint": f"{parsed.scheme}://{parsed.netloc}", "bucket": bucket, "key": key}

    async def wait_ready(self, sent: dict[str, Any], poll: float, timeout: float = 300.0) -> float:
        """When the worker said the media is done (``media:updated``); ``GET /api/media/{id}`` every ``poll``
        s only in case the event was missed. Raises unless it ended ``ready``."""
        fut = self._future(sent["id"])
        while not fut.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(fut), poll)
                break
            media = await self._json("GET", f"/api/media/{sent['id']}")
            if media["status"] in DONE and not fut.done():
                fut.set_result((now(), media))
            if now() - sent["t0"] > timeout:
                raise RuntimeError(f"media {sent['id']} still {media['status']} after {timeout:.0f}s")
        t_done, media = fut.result()
        if media["status"] != "ready":
            raise RuntimeError(f"media {sent['id']} ended {media['status']}: {media.get('error')}")
        return t_done

    async def upload(self, conv_id: str, filename: str, data: bytes, mime: str, concurrency: int,
                     poll: float) -> dict[str, Any]:
        sent = await self.send(conv_id, filename, data, mime, concurrency)
        t_done = await self.wait_ready(sent, poll)
        t0 = sent["t0"]
        return {**sent, "seconds": t_done - t0, "puts_done_at_s": round(sent["t_put"] - t0, 3),
                "complete_202_at_s": round(sent["t_complete"] - t0, 3),
                "step_events_at_s": {k: round(t - t0, 3) for k, t in self.steps.get(sent["id"], {}).items()},
                "ready_at_s": round(t_done - t0, 3)}


async def uploader(api: harness.Api, http: aiohttp.ClientSession, base: str, name: str) -> tuple[UploadClient, str]:
    """A user with a conversation of its own (a group of one) to upload into."""
    token, _ = await api.token(name)
    group = await api.create_group(token, f"{name} media")
    conv = await api.create_conversation(token, group, f"{name} files", [])
    client = UploadClient(http, base, token)
    await client.connect()
    return client, conv


def zip_bytes(size: int) -> bytes:
    return b"PK\x03\x04" + os.urandom(size - 4)


def s3_client(endpoint: str):
    import boto3
    from botocore.config import Config

    # moto accepts any credentials; path-style as the app uses it. Everything else is boto3's default.
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(s3={"addressing_style": "path"}))


def boto3_upload(s3, bucket: str, key: str, data: bytes, max_concurrency: int | None) -> float:
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig() if max_concurrency is None else TransferConfig(max_concurrency=max_concurrency)
    t0 = now()
    s3.upload_fileobj(io.BytesIO(data), bucket, key, ExtraArgs={"ContentType": "application/zip"}, Config=config)
    return now() - t0


# -- 1. upload throughput ------------------------------------------------------------------------------
async def measure_uploads(args, http: aiohttp.ClientSession) -> dict[str, Any]:
    server = harness.SpawnedServer(RESULTS_DIR / "media-upload.server.log", harness.server_env(args.server_env))
    print(f"[upload] starting server on {server.url}", flush=True)
    await server.start(http)
    loop = asyncio.get_running_loop()
    rounds: list[dict[str, Any]] = []
    client = None
    try:
        api = harness.Api(http, server.url)
        client, conv = await uploader(api, http, server.url, f"up{secrets.token_hex(3)}")
        cpu = harness.CpuMeter(server.proc.pid)
        # Warm-up (not counted): one small upload each way, so that connections, the worker's first task and
        # boto3's client are not charged to the first round.
        warm = await client.upload(conv, "warm.zip", zip_bytes(16 * MiB), "application/zip", args.concurrency,
                                   args.poll)
        endpoint, bucket = warm["endpoint"], warm["bucket"]
        s3 = s3_client(endpoint)
        await loop.run_in_executor(None, boto3_upload, s3, bucket, "bench/warm", zip_bytes(16 * MiB), None)
        for key in (warm["key"], "bench/warm"):
            s3.delete_object(Bucket=bucket, Key=key)
        print(f"[upload] S3 endpoint {endpoint} bucket {bucket} (from the server's part URLs)", flush=True)
        data = zip_bytes(args.upload_mib * MiB)
        mib = len(data) / MiB
        methods = ["api", "boto3_default", f"boto3_c{args.concurrency}"]
        for r in range(1, args.upload_rounds + 1):
            order = methods if r % 2 else methods[::-1]
            row: dict[str, Any] = {"round": r, "order": order}
            for m in order:
                cpu.begin()
                if m == "api":
                    res = await client.upload(conv, f"bench-{r}.zip", data, "application/zip", args.concurrency,
                                              args.poll)
                    seconds, key = res["seconds"], res["key"]
                    row["api_detail"] = {k: res[k] for k in ("parts", "part_size", "puts_done_at_s",
                                                             "complete_202_at_s", "step_events_at_s", "ready_at_s")}
                else:
                    key = f"bench/{m}-{r}"
                    seconds = await loop.run_in_executor(None, boto3_upload, s3, bucket, key, data,
                                                         None if m == "boto3_default" else args.concurrency)
                row[m] = {"seconds": round(seconds, 3), "mib_per_s": round(mib / seconds, 1),
                          "cpu_percent_of_one_core": cpu.end()}
                await loop.run_in_executor(None, lambda k=key: s3.delete_object(Bucket=bucket, Key=k))
            for m in methods[1:]:
                row[f"ratio_vs_{m}"] = round(row["api"]["mib_per_s"] / row[m]["mib_per_s"], 3)
            row["others_max_percent"] = max(row[m]["cpu_percent_of_one_core"].get("others", 0.0) for m in methods)
            row["disturbed"] = row["others_max_percent"] > targets.QUIET_OTHERS_PERCENT
            rounds.append(row)
            print(f"[upload] round {r} ({', '.join(order)}): " + ", ".join(
                f"{m} {row[m]['mib_per_s']} MiB/s" for m in methods) + f"; ratio {row['ratio_vs_boto3_default']}"
                f" / {row[f'ratio_vs_{methods[2]}']}; others {row['others_max_percent']} %"
                + (" DISTURBED" if row["disturbed"] else ""), flush=True)
    finally:
        if client:
            await client.close()
        stop = await loop.run_in_executor(None, server.stop)
    med = lambda xs: round(statistics.median(xs), 3) if xs else None  # noqa: E731
    quiet = [r for r in rounds if not r["disturbed"]]
    summary = {f"median_{m}_mib_per_s": med([r[m]["mib_per_s"] for r in rounds]) for m in methods}
    for m in methods[1:]:
        summary[f"median_ratio_vs_{m}"] = med([r[f"ratio_vs_{m}"] for r in rounds])
        summary[f"median_ratio_vs_{m}_quiet_rounds"] = med([r[f"ratio_vs_{m}"] for r in quiet])
    summary["target_met"] = (summary["median_ratio_vs_boto3_default"] or 0) >= TARGET_RATIO
    return {"bytes": len(data), "concurrency": args.concurrency, "endpoint": endpoint, "bucket": bucket,
            "methods": methods, "rounds": rounds, "summary": summary,
            "server_log": {"path": str(server.log_path.relative_to(REPO_ROOT)),
                           **harness.log_counts(server.log_path.read_text(errors="replace")), "stop": stop}}


# -- 2. chat latency while images are processed --------------------------------------------------------
async def probe_rtt(http: aiohttp.ClientSession, base: str, t_begin: float, t_end: float,
                    interval: float) -> list[float]:
    """Round trips of a static GET on the web process: a long one is a stall of its event loop."""
    samples: list[float] = []
    await harness.sleep_until(t_begin)
    while (t := now()) < t_end:
        async with http.get(f"{base}/static/favicon.svg") as r:
            await r.read()
        samples.append(now() - t)
        await asyncio.sleep(max(0.0, interval - (now() - t)))
    return samples


async def upload_images(client: UploadClient, conv: str, jpeg: bytes, n: int, concurrency: int, poll: float,
                        t_at: float) -> dict[str, Any]:
    """``n`` uploads of the photo, all started at ``t_at``, at most ``concurrency`` files sending at once (one
    part each), as the page does; each is then awaited until its ``media:updated`` says ``ready``."""
    await harness.sleep_until(t_at)
    t0 = now()
    sem = asyncio.Semaphore(concurrency)

    completed: list[float] = []

    async def one(i: int) -> float:
        async with sem:
            sent = await client.send(conv, f"photo-{i}.jpg", jpeg, "image/jpeg", 1)
        completed.append(sent["t_complete"] - t0)
        return await client.wait_ready(sent, poll)

    ends = sorted(t - t0 for t in await asyncio.gather(*(one(i) for i in range(n))))
    return {"images": n, "bytes_each": len(jpeg), "all_uploaded_s": round(max(completed), 2),
            "first_ready_s": round(ends[0], 2),
            "median_ready_s": round(statistics.median(ends), 2), "all_ready_s": round(ends[-1], 2),
            "t_all_ready": t0 + ends[-1]}


async def chat_run(args, http: aiohttp.ClientSession, jpeg: bytes, with_images: bool, round_no: int) -> dict:
    """One fresh embedded server, loadgen's latency open loop, and (``with_images``) the photos at once."""
    label = "with_images" if with_images else "without"
    server = harness.SpawnedServer(RESULTS_DIR / f"media-chat.{label}.r{round_no}.server.log", harness.server_env(args.server_env))
    print(f"[chat r{round_no} {label}] starting server on {server.url}", flush=True)
    await server.start(http)
    la = options.parse_args(["--url", server.url, "--scenario", "latency", "--rate", str(args.rate),
                        "--duration", str(args.duration), "--warmup", str(args.warmup)])
    tracker = clients.Tracker(run_id=secrets.token_hex(3))
    loop = asyncio.get_running_loop()
    client = None
    try:
        api = harness.Api(http, server.url)
        client, conv = await uploader(api, http, server.url, f"img{tracker.run_id}")
        cpu = harness.CpuMeter(server.proc.pid)
        pop = await clients.build_population(api, server.url, http, tracker, la.senders, la.receivers, la.conversations)
        # As loadgen's scenario_latency, plus the images at the window's start and the two lag probes.
        t_start = now() + 0.05
        t_begin, t_end = t_start + la.warmup, t_start + la.warmup + la.duration
        cpu_task = asyncio.create_task(loops.cpu_over(cpu, t_begin, t_end))
        probe_task = asyncio.create_task(probe_rtt(http, server.url, t_begin, t_end, args.probe_interval))
        lag_task = asyncio.create_task(harness.loop_lag(t_begin, t_end))
        images_task = asyncio.create_task(upload_images(client, conv, jpeg, args.images, args.concurrency,
                                                        args.poll, t_begin)) if with_images else None
        spy = await start_profile(args, server, label, round_no, t_begin, la.duration) if args.profile else None
        max_lag = await loops.open_loop(pop.senders, la.rate, t_start, t_begin, t_end,
                                     loops.sends(tracker, loops.payload(la.message_size)))
        res = await checks.check_sends(la, api, tracker, pop, t_begin, t_end)
        res["latency_by_second"] = checks.latency_by_second(tracker, pop, t_begin, t_end)
        res.update(offered_rate=la.rate, max_schedule_lag_ms=round(max_lag * 1000, 2),
                   cpu_percent_of_one_core=await cpu_task,
                   server_loop_probe=latency_summary(await probe_task),
                   loadgen_loop_lag=latency_summary(await lag_task))
        if images_task:
            images = await images_task
            images["all_ready_within_window"] = images.pop("t_all_ready") <= t_end
            res["images"] = images
        if spy:
            await loop.run_in_executor(None, spy[0].wait)
            res["profile"] = spy[1]
    finally:
        with contextlib.suppress(Exception):
            if client:
                await client.close()
            await harness.bounded_gather(200, (c.sio.disconnect() for c in tracker.clients if c.sio.connected))
        stop = await loop.run_in_executor(None, server.stop)
    log_text = server.log_path.read_text(errors="replace")
    cut = log_text.find(" app: stopping")
    res["server_log"] = {"path": str(server.log_path.relative_to(REPO_ROOT)),
                         **harness.log_counts(log_text[:cut if cut >= 0 else None]), "stop": stop}
    res["disturbed"] = res["cpu_percent_of_one_core"].get("others", 0.0) > targets.CHAT_QUIET_OTHERS_PERCENT
    v = res["verify"]
    lat, probe = res["latency"], res["server_loop_probe"]
    print(f"[chat r{round_no} {label}] latency p50 {lat['p50_ms']} p95 {lat['p95_ms']} p99 {lat['p99_ms']} "
          f"max {lat['max_ms']} ms (n={lat['samples']}); lost {v['lost_messages']}, duplicates {v['duplicates']}; "
          f"loop probe p99 {probe['p99_ms']} max {probe['max_ms']} ms; "
          + (f"{res['images']['images']} images ready in {res['images']['all_ready_s']} s; " if with_images else "")
          + f"cpu {res['cpu_percent_of_one_core']}" + (" DISTURBED" if res["disturbed"] else ""), flush=True)
    print(f"[chat r{round_no} {label}] p99 ms by second: "
          + " ".join(str(b["p99_ms"]) for b in res["latency_by_second"]), flush=True)
    print(f"[chat r{round_no} {label}] ack p99 ms by second: "
          + " ".join(str(b["ack_p99_ms"]) for b in res["latency_by_second"]), flush=True)
    return res


async def start_profile(args, server: harness.SpawnedServer, label: str, round_no: int, t_begin: float,
                        duration: float):
    """py-spy on the server and its children over the window (``--idle``: a blocked call shows too), raw
    collapsed stacks to bench/results/media-chat.<label>.r<N>.pyspy.txt."""
    import subprocess

    out = RESULTS_DIR / f"media-chat.{label}.r{round_no}.pyspy.txt"
    await harness.sleep_until(t_begin)
    spy = Path(sys.executable).with_name("py-spy")
    proc = subprocess.Popen([str(spy), "record", "--pid", str(server.proc.pid), "--subprocesses", "--idle",
                             "--nonblocking", "--rate", "200", "--format", "raw", "--duration", str(int(duration)),
                             "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return proc, str(out.relative_to(REPO_ROOT))


async def measure_chat(args, http: aiohttp.ClientSession) -> dict[str, Any]:
    t = now()
    jpeg = photo_jpeg()
    print(f"[chat] photo: 4000x3000 JPEG q90, orientation 6 + GPS, {len(jpeg) / 1e6:.2f} MB (made in "
          f"{now() - t:.1f}s)", flush=True)
    rounds = []
    for r in range(1, args.chat_rounds + 1):
        order = (False, True) if r % 2 else (True, False)
        runs = {("with_images" if w else "without"): await chat_run(args, http, jpeg, w, r) for w in order}
        p99 = {k: v["latency"]["p99_ms"] for k, v in runs.items()}
        ratio = round(p99["with_images"] / p99["without"], 2) if p99["without"] else None
        ok = all(checks.exactly_once(v["verify"]) for v in runs.values())
        rounds.append({"round": r, "order": [("with_images" if w else "without") for w in order], "runs": runs,
                       "p99_ratio": ratio, "exactly_once": ok,
                       "disturbed": any(v["disturbed"] for v in runs.values())})
    ratios = [r["p99_ratio"] for r in rounds if r["p99_ratio"] is not None]
    quiet = [r["p99_ratio"] for r in rounds if r["p99_ratio"] is not None and not r["disturbed"]]
    median = statistics.median(ratios) if ratios else None
    return {"rate": args.rate, "warmup": args.warmup, "duration": args.duration, "images": args.images,
            "photo_bytes": len(jpeg), "rounds": rounds,
            "summary": {"median_p99_ratio": median, "median_p99_ratio_quiet_rounds":
                        statistics.median(quiet) if quiet else None,
                        # judged on the quiet rounds only; None when there was none
                        "target_met": (statistics.median(quiet) <= TARGET_P99_RATIO
                                       and all(r["exactly_once"] for r in rounds)) if quiet else None}}


# -- report --------------------------------------------------------------------------------------------
def print_uploads(u: dict) -> None:
    m = u["methods"]
    print(f"\n== upload throughput: {u['bytes'] / MiB:.0f} MiB, API with {u['concurrency']} PUTs in flight vs "
          f"boto3 upload_fileobj (S3 {u['endpoint']}) ==")
    head = f"{'round':<6}{'order':<34}" + "".join(f"{x + ' MiB/s':>20}" for x in m) \
        + f"{'API/default':>13}{'API/c' + str(u['concurrency']):>10}{'others %':>10}"
    print(head + "\n" + "-" * len(head))
    for r in u["rounds"]:
        print(f"{r['round']:<6}{','.join(r['order']):<34}" + "".join(f"{r[x]['mib_per_s']:>20}" for x in m)
              + f"{r['ratio_vs_' + m[1]]:>13}{r['ratio_vs_' + m[2]]:>10}{r['others_max_percent']:>10}"
              + ("  disturbed" if r["disturbed"] else ""))
    s = u["summary"]
    print(f"{'median':<40}" + "".join(f"{s[f'median_{x}_mib_per_s']:>20}" for x in m)
          + f"{s['median_ratio_vs_' + m[1]]:>13}{s['median_ratio_vs_' + m[2]]:>10}")
    for r in u["rounds"]:
        print(f"API round {r['round']}, seconds from create: {r['api_detail']}")
    print(f"target API / boto3 default >= {TARGET_RATIO}: {'PASS' if s['target_met'] else 'FAIL'}")


def print_chat(c: dict) -> None:
    print(f"\n== chat latency at {c['rate']} msg/s ({c['warmup']} s warm-up + {c['duration']} s), without vs while "
          f"{c['images']} 12-MP JPEGs are uploaded and processed ==")
    head = (f"{'round':<6}{'run':<13}{'p50':>10}{'p95':>10}{'p99':>10}{'max':>10}{'lost':>6}{'probe p99':>11}"
            f"{'probe max':>11}{'sched lag':>11}{'images ready':>14}{'others %':>10}")
    print(head + "   (ms)\n" + "-" * len(head))
    for r in c["rounds"]:
        for name in r["order"]:
            x = r["runs"][name]
            lat, pr = x["latency"], x["server_loop_probe"]
            img = x.get("images")
            print(f"{r['round']:<6}{name:<13}{lat['p50_ms']:>10}{lat['p95_ms']:>10}{lat['p99_ms']:>10}{lat['max_ms']:>10}"
                  f"{x['verify']['lost_messages']:>6}{pr['p99_ms']:>11}{pr['max_ms']:>11}{x['max_schedule_lag_ms']:>11}"
                  f"{(str(img['all_ready_s']) + ' s') if img else '-':>14}"
                  f"{x['cpu_percent_of_one_core'].get('others', 0.0):>10}" + ("  disturbed" if x["disturbed"] else ""))
        print(f"{'':<6}p99 with / without = {r['p99_ratio']}; exactly once: {r['exactly_once']}")
    s = c["summary"]
    print(f"median p99 ratio {s['median_p99_ratio']} (quiet rounds: {s['median_p99_ratio_quiet_rounds']}); "
          f"target <= {TARGET_P99_RATIO} (quiet rounds): "
          + {True: "PASS", False: "FAIL", None: "UNKNOWN (no quiet round)"}[s["target_met"]])


async def main_async(args) -> int:
    harness.raise_nofile_limit()
    m = machine_info()
    print(f"machine: {m['nproc']} cpus ({m['cpu_model']}), python {m['python']}, load {m['loadavg_at_start']}",
          flush=True)
    doc: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": m, "code": code_version(),
                           "server_env": harness.server_env(args.server_env), "targets": {"upload_ratio_min": TARGET_RATIO,
                                                                   "chat_p99_ratio_max": TARGET_P99_RATIO}}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:
        if args.only in (None, "upload"):
            doc["upload"] = await measure_uploads(args, http)
        if args.only in (None, "chat"):
            doc["chat"] = await measure_chat(args, http)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2))
    if "upload" in doc:
        print_uploads(doc["upload"])
    if "chat" in doc:
        print_chat(doc["chat"])
    print(f"\n({RESULTS.relative_to(REPO_ROOT)})")
    return 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--only", choices=("upload", "chat"), help="run one measurement only")
    p.add_argument("--upload-mib", type=int, default=100)
    p.add_argument("--upload-rounds", type=int, default=3, help="rounds of API, boto3 default, boto3 at --concurrency")
    p.add_argument("--concurrency", type=int, default=4, help="PUTs in flight (the page's), boto3's second config")
    p.add_argument("--poll", type=float, default=1.0,
                   help="seconds between GET /api/media/{id}, in case a media:updated was missed")
    p.add_argument("--chat-rounds", type=int, default=2, help="pairs without/with images, order alternating")
    p.add_argument("--rate", type=float, default=100.0, help="offered msg/s of the latency open loop")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--images", type=int, default=20)
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the spawned servers (repeatable), e.g. WORKER_CONCURRENCY=48")
    p.add_argument("--profile", action="store_true",
                   help="py-spy record (pip install py-spy into the venv) on each chat run's server over its window")
    p.add_argument("--probe-interval", type=float, default=0.02, help="seconds between static GETs (loop probe)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
