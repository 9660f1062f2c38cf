"""The ``exports`` queue: make a conversation's export file (JSON, CSV, PDF) and clean up expired ones.

The PDF renders where it does not hold up the chat: directly in this role's prefork pool; in a child
process in the embedded default, where a long walk through the in-memory store also runs in a fork of it.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta

from infra.runtime import get_runtime
from pipelines.exports import job
from pipelines.exports.cleanup import do_expire
from pipelines.upkeep import sweeper
from schemas.common import iso, utcnow
from schemas.tasks import NotificationRequest
from workers.enqueue import enqueue_notify, enqueue_run
from workers.reliability import TRANSIENT_EXPORTS, task

log = logging.getLogger(__name__)


def export_io() -> job.ExportIO:
    rt = get_runtime()
    return job.ExportIO(store=rt.store, blobs=rt.blobs, notifier=rt.notifier, settings=rt.export_settings,
                        executor=rt.executor, notify_ready=notify_export_ready, transient=TRANSIENT_EXPORTS)


def notify_export_ready(export) -> None:
    """The ``export_ready`` notification (the notifications queue; one per export, by its key), for a
    requester who was not there to see ``export:ready``."""
    enqueue_notify(NotificationRequest(
        userId=export.requestedBy, type="export_ready", key=f"export:{export.id}",
        title=f"Your {export.format.upper()} export is ready",
        body=f"Download it before {iso(export.expiresAt)}.",
        data={"exportId": export.id, "convId": export.convId, "format": export.format}))


@task("exports.run")
def run(export_id: str) -> dict:
    """Make the export's file (see pipelines.exports.job.run_export); a second delivery does nothing."""
    result = job.run_export(export_id, export_io())
    log.info("export %s: %s%s", export_id, result.status, "" if result.ran else f" ({result.reason})")
    return asdict(result)


@task("exports.expire")
def expire() -> dict:
    """Beat (every few minutes): delete files past EXPORT_TTL_HOURS."""
    rt = get_runtime()
    report = do_expire(rt.store, rt.blobs)
    if any(report.values()):
        log.info("exports clean-up: %s", report)
    return report


@task("exports.sweep")
def sweep() -> dict:
    """Beat: jobs stuck queued, or running without a live worker, queued again once, then failed."""
    rt = get_runtime()
    report = sweeper.sweep_exports(rt.store, rt.blobs, rt.notifier, enqueue_run, now=utcnow(),
                                   queued_timeout=timedelta(seconds=rt.settings.export_queued_timeout_seconds))
    if report.done:
        log.info("exports sweep: %s", report.done)
    return report.done
