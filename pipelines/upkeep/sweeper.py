"""The sweeper: every record with a status reaches a final state within a stated bound.

Beat runs it (workers/beat.py: ``media.sweep``, ``exports.sweep``, ``notifications.sweep``). Each
function here takes one kind of record, finds those stale in a non-final state (nothing moved them for
longer than their bound: a worker was killed, an enqueue failed after the record was written, a task's
retries ran out) and either finishes them or fails them with a reason the user sees (the record's
``error {code, message}`` and the usual event or notification). At most ``limit`` records per kind per
run. Every change is a conditional update on the record as it was read, so a worker that moved it
meanwhile wins, and a second sweeper changes nothing twice. The table of records, states and bounds:
docs/architecture.md, "Bounded jobs".
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from infra.blobs import Blobs
from infra.storage import Store
from pipelines.events import Notifier
from pipelines.exports import cleanup as export_cleanup
from pipelines.exports.job import MAX_ATTEMPTS
from pipelines.media import job as media_job
from pipelines.notifications import digests
from pipelines.scheduling.scheduled import tell_failed
from schemas.errors import Code
from schemas.tasks import NotificationRequest

log = logging.getLogger(__name__)

REQUEUES = 1      # a stuck job is queued again this many times, then failed


@dataclass
class SweepReport:
    """What one run did, by kind of record: ``{"requeued": n, "failed": n, ...}``."""
    done: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.done[what] = self.done.get(what, 0) + n


# -- media ------------------------------------------------------------------------------------------
def sweep_media(io: media_job.Processing, enqueue_process: Callable[[str], None], *, now: datetime,
                processing_timeout: timedelta, upload_ttl: timedelta, limit: int = 200) -> SweepReport:
    """``processing`` with no step recorded for ``processing_timeout`` (the task was lost, or its retries
    ran out): queued again once, then ``failed`` (``processing_timeout``), its objects deleted, its quota
    returned once, ``media:updated`` sent. ``uploading`` past ``upload_ttl + processing_timeout`` (the
    upload record is gone, or the completion died before moving it on): completed ones go on to
    processing; abandoned ones are deleted and their quota returned."""
    report = SweepReport()
    for item in io.store.media.stale_media("processing", now - processing_timeout, limit):
        if item.requeues < REQUEUES:
            if io.store.media.settle_media(item, {"requeues": item.requeues + 1, "updatedAt": now}):
                enqueue_process(item.id)
                report.count("requeued")
        elif media_job.do_fail_stale(io, item, "processing_timeout",
                                   f"processing did not finish within {_human(processing_timeout)}, "
                                   "even after it was queued again"):
            report.count("failed")
    for item in io.store.media.stale_media("uploading", now - upload_ttl - processing_timeout, limit):
        upload = io.store.media.get_upload(item.id)
        if upload is not None and upload.status == "completed":   # completed, then the worker died
            if io.store.media.settle_media(item, {"status": "processing", "updatedAt": now}):
                enqueue_process(item.id)
                report.count("completed")
            continue
        if upload is not None and upload.status == "uploading":
            io.blobs.abort_multipart(upload.key, upload.s3UploadId)
        if io.store.media.settle_media(item, {"updatedAt": now}):   # ours: nobody moved it since the read
            io.store.media.delete_media(item.id)
            io.store.media.return_quota(item.uploadedBy, item.id)
            report.count("abandoned")
    return report


# -- exports ----------------------------------------------------------------------------------------
def sweep_exports(store: Store, blobs: Blobs, notifier: Notifier, enqueue_run: Callable[[str], None], *,
                  now: datetime, queued_timeout: timedelta, limit: int = 200) -> SweepReport:
    """``queued`` for ``queued_timeout`` (never picked up: the enqueue failed after the record was
    written, the task was lost, or its retries ran out) and ``running`` with a lease that ran out (its
    worker died): queued again once, then ``failed`` (``export_not_started`` / ``export_stalled``) with
    ``export:failed``. A running job past ``MAX_ATTEMPTS`` claims fails at once (``too_many_attempts``)."""
    report = SweepReport()
    stuck = [(e, "export_not_started", f"the export was not started within {_human(queued_timeout)}")
             for e in store.exports.stale_queued_exports(now - queued_timeout, limit)]
    # (a stalled job queued again gets ``queued_timeout`` to be taken, like a new one)
    stuck += [(e, "export_stalled", "the worker running the export stopped") for e in
              store.exports.exports_with_stale_lease(now, limit) if e.requeues < REQUEUES or e.updatedAt < now - queued_timeout]
    for export, code, message in stuck:
        if export.attempts >= MAX_ATTEMPTS:
            code, message = "too_many_attempts", f"the export was started {export.attempts} times without finishing"
        elif export.requeues < REQUEUES:
            if store.exports.settle_export(export, {"requeues": export.requeues + 1, "updatedAt": now}):
                enqueue_run(export.id)
                report.count("requeued")
            continue
        else:
            message += ", even after it was queued again"
        if export_cleanup.do_fail_stale(store, blobs, notifier, export, code, message, now):
            report.count("failed")
    return report


# -- digests ----------------------------------------------------------------------------------------
def sweep_digests(store: Store, enqueue_digest: Callable[[str], None], *, now: datetime, lease: timedelta,
                  max_attempts: int, limit: int = 200) -> SweepReport:
    """Open digests past their ``retryAt`` by more than a lease (their task was lost, or their worker died
    holding the claim): queued again while attempts remain (the claim counts them: the cap holds), else
    ``failed`` with the last reason."""
    report = SweepReport()
    for digest in store.digests.stale_digests(now - lease, limit):
        if digest.attempts < max_attempts:
            enqueue_digest(digest.id)
            report.count("requeued")
            continue
        reason = digest.error or "the last attempt was interrupted"
        if digests.record_failure(store, digest, now, f"gave up after {digest.attempts} attempts: {reason}"[:500]):
            report.count("failed")
    return report


# -- scheduled messages -----------------------------------------------------------------------------
def sweep_scheduled(store: Store, notifier: Notifier, notify: Callable[[list[NotificationRequest]], None], *,
                    now: datetime, bound: timedelta, limit: int = 200) -> SweepReport:
    """Items still pending (or claimed by a worker whose lease ran out) more than ``bound`` after their
    ``sendAt`` (the dispatcher fails late ones itself; these are the ones it never reached): ``failed``
    (``scheduled_late``) with a ``scheduled_failed`` notification."""
    report = SweepReport()
    for status in ("pending", "claimed"):
        for item in store.scheduled.stale_scheduled(status, now - bound, limit):
            if status == "claimed" and item.claimedUntil is not None and item.claimedUntil >= now:
                continue   # a live claim: its holder finishes it
            message = f"it could not be sent within {_human(bound)} of its time"
            failed = store.scheduled.fail_stale_scheduled(item, now, {"code": str(Code.SCHEDULED_LATE), "message": message})
            if failed is not None:
                tell_failed(store, notifier, notify, failed, Code.SCHEDULED_LATE, message)
                report.count("failed")
    return report


# -- notifications ------------------------------------------------------------------------------------
def sweep_notifications(store: Store, notifier: Notifier, *, now: datetime, bound: timedelta,
                        limit: int = 500) -> SweepReport:
    """Notifications left ``pending`` for ``bound`` (stored, then the task died before emitting them and
    was never redelivered): emitted now and marked ``sent`` (the client dedupes by id). Without this they
    would be in no list (lists show sent, delivered and read ones) until they expire."""
    report = SweepReport()
    for n in store.notifications.stale_pending_notifications(now - bound, limit):
        if store.notifications.mark_notification_sent(n.id, now, token=None):  # never claimed (not scheduled)
            notifier.notify_notification_new(n.model_copy(update={"status": "sent", "sentAt": now}))
            report.count("sent")
    return report


# -- the notifications queue's one sweep ----------------------------------------------------------------
def sweep_notifications_queue(store: Store, notifier: Notifier, enqueue_digest: Callable[[str], None],
                              notify: Callable[[list[NotificationRequest]], None], *, now: datetime,
                              lease: timedelta, max_attempts: int, scheduled_bound: timedelta) -> SweepReport:
    """Digests, scheduled messages and stored notifications in one run, reported together (the scheduled
    messages' counts prefixed ``scheduled_``, the notifications' ``notifications_``)."""
    report = sweep_digests(store, enqueue_digest, now=now, lease=lease, max_attempts=max_attempts)
    report.done.update({f"scheduled_{k}": v for k, v in sweep_scheduled(
        store, notifier, notify, now=now, bound=scheduled_bound).done.items()})
    report.done.update({f"notifications_{k}": v for k, v in sweep_notifications(
        store, notifier, now=now, bound=lease).done.items()})
    return report


def _human(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 60} min" if seconds >= 120 else f"{seconds} s"
