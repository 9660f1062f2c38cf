"""The ``media`` queue: complete, verify, scan and process uploaded files; clean up what was abandoned.

CPU-bound steps (Pillow, PDF and audio parsing) go through the runtime's executor: in production this role
runs Celery's prefork pool and the call is direct; in the embedded default it runs in a child process, so
the web process's sockets are not stalled.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta

from infra.embedded.cpu import CpuWorkerDied
from infra.runtime import get_runtime
from pipelines.messages import lifecycle
from pipelines.media.cleanup import do_cleanup
from pipelines.media.job import Processing, process_media
from pipelines.upkeep import sweeper
from schemas.common import utcnow
from workers.celery_app import celery
from workers.messages import TRANSIENT

log = logging.getLogger(__name__)

# Redelivered if the worker dies (acks late); retried while S3, the scanner or a CPU child is away. When the
# retries run out the file is left processing, and the sweeper ends it (pipelines.sweeper).
TRANSIENT_MEDIA = (*TRANSIENT, *Processing.transient, CpuWorkerDied)
RELIABLE = dict(acks_late=True, autoretry_for=TRANSIENT_MEDIA, retry_backoff=True, retry_backoff_max=60,
                max_retries=8)


def processing() -> Processing:
    rt = get_runtime()
    return Processing(store=rt.store, blobs=rt.blobs, notifier=rt.notifier, scanner=rt.scanner,
                      executor=rt.executor, transient=TRANSIENT_MEDIA)


@celery.task(name="media.process", **RELIABLE)
def process(media_id: str) -> dict:
    """Run the media's processing steps that are not done yet (see pipelines.media.job.process_media)."""
    result = process_media(media_id, processing())
    log.info("media %s: %s after %s", media_id, result.status, ",".join(result.ran) or "nothing to do")
    return asdict(result)


def enqueue_process(media_id: str) -> None:
    process.apply_async(args=[media_id])


@celery.task(name="media.cleanup", **RELIABLE)
def cleanup() -> dict:
    """Beat: abort abandoned multipart uploads, drop expired upload records, delete orphaned objects."""
    rt = get_runtime()
    report = do_cleanup(rt.store, rt.blobs)
    if any(report.values()):
        log.info("media clean-up: %s", report)
    return report


@celery.task(name="media.sweep", **RELIABLE)
def sweep() -> dict:
    """Beat: files stuck uploading or processing queued again once, then failed (pipelines.sweeper)."""
    s = get_runtime().settings
    report = sweeper.sweep_media(processing(), enqueue_process, now=utcnow(),
                                 processing_timeout=timedelta(seconds=s.media_processing_timeout_seconds),
                                 upload_ttl=timedelta(minutes=s.upload_ttl_minutes))
    if report.done:
        log.info("media sweep: %s", report.done)
    return report.done


@celery.task(name="media.purge", **RELIABLE)
def purge() -> dict:
    """Beat: delete the S3 objects of files deleted at least MEDIA_DELETE_GRACE_MINUTES ago."""
    rt = get_runtime()
    result = lifecycle.purge_deleted_media(rt.store, rt.blobs, now=utcnow(),
                                           grace=timedelta(minutes=rt.settings.media_delete_grace_minutes))
    if result.purged:
        log.info("media purge: %s", asdict(result))
    return asdict(result)
