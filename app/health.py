"""GET /healthz: can this web process reach Redis, MongoDB and S3, and is a worker consuming?"""
from __future__ import annotations

from flask import Blueprint, jsonify

from infra.runtime import get_runtime
from workers.celery_app import celery

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():
    rt = get_runtime()
    report = {}
    for name, probe in (("redis", rt.redis.ping), ("mongo", rt.store.ping), ("s3", lambda: rt.blobs.ping()),
                        ("workers", _workers)):
        try:
            probe()
            report[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - report, do not raise
            report[name] = f"error: {type(exc).__name__}: {exc}"[:300]
    status = 200 if all(v == "ok" for v in report.values()) else 503
    return jsonify(report), status


def _workers() -> None:
    replies = celery.control.broadcast("ping", reply=True, timeout=0.5, limit=1)
    if not replies:
        raise RuntimeError("no worker answered a ping within 0.5 s")
