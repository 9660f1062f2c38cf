"""Export files at rest: what sealing costs an export and its download, plain and sealed side by side.

The export pipeline (``pipelines.exports.job.run_export``, the real writers, the real S3Blobs on a real
moto server) in this process, on one embedded store seeded with bench/exports.py's realistic conversation,
twice (the same messages in two conversations), read by two Stores over the same database: one without
master keys exporting the first (plain: the file as written, the presigned URL), one with ENCRYPT_ALL
exporting the second (the file sealed on its way to S3, downloaded opened through ``open_export_file``,
as the ``/file`` route streams it). Runs alternate (plain, sealed, sealed, plain,
...) ``--repeats`` times per format. Measured per format and mode: the median time from the request to
``done``, the stored object's size, and the median time to read the whole file back (plain: the object
from S3; sealed: the object from S3, opened). The messages are stored plain in both (what sealing them
costs is bench/encryption.py's): the difference is the file's sealing and opening alone.

Usage: .venv/bin/python bench/sealed_exports.py --messages 100000   (results: bench/results/sealed_exports.json)
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.exports import seed  # noqa: E402
from bench.load.report import RESULTS_DIR, code_version, machine_info, print_table  # noqa: E402

OUT = RESULTS_DIR / "sealed_exports.json"


def run_once(store, io, settings, user, conv_id: str, fmt: str) -> tuple[float, float, int, int]:
    """(seconds to done, seconds to read the file back, stored bytes, plain bytes)."""
    from pipelines.exports.job import run_export
    from pipelines.exports.requests import do_request_export, open_export_file
    from schemas.payloads import ExportCreate

    began = time.perf_counter()
    job = do_request_export(store, lambda _id: None, settings, user, conv_id, ExportCreate.model_validate({"format": fmt}))
    result = run_export(job.id, io)
    made = time.perf_counter() - began
    assert result.status == "done", result
    export = store.exports.get_export(job.id)
    stored = io.blobs.head(export.key).size
    began = time.perf_counter()
    if export.sealed:
        size = sum(len(c) for c in open_export_file(store, io.blobs, export).chunks)
    else:
        body = io.blobs.open_read(export.key)
        size = sum(len(c) for c in iter(lambda: body.read(1 << 16), b""))
    read = time.perf_counter() - began
    assert size == export.size
    io.blobs.delete(export.key)
    return made, read, stored, size


def measure(args) -> dict[str, Any]:
    from infra.blobs import S3Blobs
    from infra.crypto import LocalMasterKeys
    from infra.embedded.mongo import embedded_client
    from infra.embedded.s3_server import MotoS3Server
    from infra.executor import DirectExecutor
    from infra.storage import Store
    from pipelines.events import Notifier
    from pipelines.exports.files import ExportSettings
    from pipelines.exports.job import ExportIO
    from tests.conftest import make_conversation, make_user
    from tests.fakes import RecordingEmitter

    db = embedded_client()["bench"]
    plain = Store(db)
    plain.ensure_indexes()
    sealed = Store(db, LocalMasterKeys(LocalMasterKeys.generate("bench-1")), encrypt_all=True)
    users = [make_user(plain, f"user{i}", fname=f"First{i}", lname="Last") for i in range(12)]
    convs = {"plain": make_conversation(plain, users, "plain bench"), "sealed": make_conversation(plain, users, "sealed bench")}
    for conv in convs.values():
        seed(plain, conv, users, args.messages, random.Random(11))
    print(f"seeded {args.messages} messages", flush=True)
    s3 = MotoS3Server().start()
    try:
        blobs = S3Blobs(endpoint_url=s3.url, bucket="bench-sealed", access_key_id="test", secret_access_key="test")
        blobs.ensure_bucket(["http://127.0.0.1"])
        settings = ExportSettings(ttl=timedelta(hours=48), for_members=False, batch=500, lease_seconds=60,
                                  presign_seconds=300)
        ios = {name: ExportIO(store=store, blobs=blobs, notifier=Notifier(RecordingEmitter()), settings=settings,
                              executor=DirectExecutor()) for name, store in (("plain", plain), ("sealed", sealed))}
        runs: dict[str, dict[str, list]] = {}
        for fmt in args.formats:
            for i in range(args.repeats):
                for mode in (("plain", "sealed") if i % 2 == 0 else ("sealed", "plain")):
                    made, read, stored, size = run_once(ios[mode].store, ios[mode], settings, users[0], convs[mode].id,
                                                           fmt)
                    r = runs.setdefault(f"{fmt} {mode}", {"made_s": [], "read_s": [], "stored": stored, "plain": size})
                    r["made_s"].append(round(made, 3))
                    r["read_s"].append(round(read, 3))
                    print(f"{fmt} {mode}: made {made:.2f} s, read back {read:.2f} s, {stored} bytes stored", flush=True)
    finally:
        s3.stop()
    summary = {}
    for fmt in args.formats:
        p, s = runs[f"{fmt} plain"], runs[f"{fmt} sealed"]
        summary[fmt] = {
            "made_median_s": {"plain": round(statistics.median(p["made_s"]), 3), "sealed": round(statistics.median(s["made_s"]), 3)},
            "read_median_s": {"plain": round(statistics.median(p["read_s"]), 3), "sealed": round(statistics.median(s["read_s"]), 3)},
            "made_ratio": round(statistics.median(s["made_s"]) / statistics.median(p["made_s"]), 3),
            "read_ratio": round(statistics.median(s["read_s"]) / statistics.median(p["read_s"]), 3),
            "bytes": {"plain": p["stored"], "sealed": s["stored"], "overhead": s["stored"] - p["stored"]}}
    return {"messages": args.messages, "repeats": args.repeats, "runs": runs, "summary": summary}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--formats", nargs="+", default=["json", "csv"], choices=["json", "csv", "pdf"])
    args = p.parse_args(argv)
    results = {"machine": machine_info(), "code": code_version(), **measure(args)}
    rows = []
    for fmt, s in results["summary"].items():
        rows += [(f"{fmt}: request to done, median plain / sealed",
                  f"{s['made_median_s']['plain']} s / {s['made_median_s']['sealed']} s (x{s['made_ratio']})"),
                 (f"{fmt}: whole file read back, median plain / sealed",
                  f"{s['read_median_s']['plain']} s / {s['read_median_s']['sealed']} s (x{s['read_ratio']})"),
                 (f"{fmt}: bytes in S3 plain / sealed",
                  f"{s['bytes']['plain']} / {s['bytes']['sealed']} (+{s['bytes']['overhead']})")]
    print_table(f"sealed exports: {args.messages} messages, {args.repeats} runs each, alternating", rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    print(f"results: {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
