"""The ``exports`` queue: make a conversation's export file (JSON, CSV, PDF) and clean up expired ones.

The PDF is rendered through ``infra.embedded.cpu.run_cpu``: in production this role runs Celery's prefork pool
and the call is direct; in the embedded default it runs in a child process, so the web process's
sockets are not stalled by reportlab. There the store is the web process's memory, so a long walk
through the conversation (``EXPORT_FORK_MIN_MESSAGES``) runs in a fork of it (``infra.embedded.cpu.run_forked``),
not on its event loop.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta

from infra.embedded.cpu import CpuWorkerDied, run_cpu, run_forked
from infra.runtime import get_runtime
from pipelines.exports import jobs as exports
from pipelines.upkeep import sweeper
from schemas.common import iso, utcnow
from schemas.tasks import NotificationRequest
from workers.celery_app import celery
from workers.notifications import enqueue_notify
from workers.messages import TRANSIENT


log = logging.getLogger(__name__)

exports.add_transient(*TRANSIENT, CpuWorkerDied)
# Redelivered if the worker dies (acks late): the job's lease decides whether the redelivery works (the
# first run died: its lease ran out) or returns at once (it is still running, past the visibility timeout).
RELIABLE = dict(acks_late=True, autoretry_for=exports.TRANSIENT_EXPORT, retry_backoff=True, retry_backoff_max=60,
                max_retries=exports.MAX_ATTEMPTS)


def export_io() -> exports.ExportIO:
    rt = get_runtime()
    return exports.ExportIO(store=rt.store, blobs=rt.blobs, notifier=rt.notifier, settings=rt.export_settings,
                            run_cpu=run_cpu, notify_ready=notify_export_ready,
                            # (only where the store is this process's memory)
                            run_on_snapshot=None if rt.settings.mongo_url else run_forked)


def notify_export_ready(export) -> None:
    """The ``export_ready`` notification (the notifications queue; one per export, by its key), for a
    requester who was not there to see ``export:ready``."""
    enqueue_notify(NotificationRequest(
        userId=export.requestedBy, type="export_ready", key=f"export:{export.id}",
        title=f"Your {export.format.upper()} export is ready",
        body=f"Download it before {iso(export.expiresAt)}.",
        data={"exportId": export.id, "convId": export.convId, "format": export.format}))


@celery.task(name="exports.run", **RELIABLE)
def run(export_id: str) -> dict:
    """Make the export's file (see pipelines.exports.run_export); a second delivery does nothing."""
    result = exports.run_export(export_id, export_io())
    log.info("export %s: %s%s", export_id, result.status, "" if result.ran else f" ({result.reason})")
    return asdict(result)


def enqueue_run(export_id: str) -> None:
    run.apply_async(args=[export_id])


@celery.task(name="exports.expire", **RELIABLE)
def expire() -> dict:
    """Beat (every few minutes): delete files past EXPORT_TTL_HOURS."""
    rt = get_runtime()
    report = exports.do_expire(rt.store, rt.blobs)
    if any(report.values()):
        log.info("exports clean-up: %s", report)
    return report


@celery.task(name="exports.sweep", **RELIABLE)
def sweep() -> dict:
    """Beat: jobs stuck queued, or running without a live worker, queued again once, then failed."""
    rt = get_runtime()
    report = sweeper.sweep_exports(rt.store, rt.blobs, rt.notifier, enqueue_run, now=utcnow(),
                                   queued_timeout=timedelta(seconds=rt.settings.export_queued_timeout_seconds))
    if report.done:
        log.info("exports sweep: %s", report.done)
    return report.done
