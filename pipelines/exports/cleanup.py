"""The exports' clean-up (beat): files past their expiry deleted, and the sweeper's end for a job stuck
queued or running."""
from __future__ import annotations

import logging
from datetime import datetime

from infra.blobs import Blobs, StorageUnavailable
from infra.metrics import EXPORT_FAILURES
from infra.storage import Store
from pipelines.events import Notifier
from pipelines.exports.files import PURGE_AFTER, file_key
from schemas.common import utcnow
from schemas.documents import Export

log = logging.getLogger(__name__)


def do_expire(store: Store, blobs: Blobs, *, now=None, limit: int = 500) -> dict[str, int]:
    """Files past their expiry are deleted and their jobs marked expired. (Jobs stuck queued or running
    are the sweeper's: ``pipelines.sweeper.sweep_exports``.)"""
    now = now or utcnow()
    expired = 0
    for export in store.exports.exports_past_expiry(now, limit):
        if store.exports.set_export(export.id, {"status": "expired", "key": None, "updatedAt": now},
                            statuses=("done",)) is not None:
            if export.key:
                blobs.delete(export.key)
            expired += 1
    return {"expired": expired}


def do_fail_stale(store: Store, blobs: Blobs, notifier: Notifier, export: Export, code: str, message: str,
                  now: datetime) -> Export | None:
    """The sweeper's end for a job stuck queued or running: failed with the reason, if nothing moved it
    since it was read (None otherwise); its upload aborted, export:failed sent."""
    failed = store.exports.settle_export(export, {"status": "failed", "error": {"code": code, "message": message},
                                          "lease": None, "uploadId": None, "key": None, "finishedAt": now,
                                          "purgeAt": now + PURGE_AFTER, "updatedAt": now})
    if failed is None:
        return None
    EXPORT_FAILURES.labels(code).inc()
    notifier.notify_export_failed(failed, code, message)
    try:
        if export.uploadId:
            blobs.abort_multipart(file_key(export), export.uploadId)
        blobs.delete(file_key(export))
    except StorageUnavailable:   # logged: the job is failed all the same
        log.warning("export %s: its partial upload stays (S3 away)", export.id)
    return failed
