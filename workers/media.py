"""The ``media`` queue: complete, verify, scan and process uploaded files; clean up what was abandoned.

CPU-bound steps (Pillow, PDF and audio parsing) run where they do not hold up the chat: directly in this
role's prefork pool; in a child process in the embedded default.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta

from infra.gifs import fetch_policy, giphy, tenor
from infra.runtime import get_runtime
from pipelines.messages import lifecycle
from pipelines.media.cleanup import do_cleanup
from pipelines.media.job import Processing, process_media
from pipelines.media.remote import RemoteFetch
from pipelines.upkeep import sweeper
from schemas.common import utcnow
from workers.enqueue import enqueue_process
from workers.reliability import TRANSIENT_MEDIA, task

log = logging.getLogger(__name__)


def processing() -> Processing:
    rt = get_runtime()
    return Processing(store=rt.store, blobs=rt.blobs, notifier=rt.notifier, scanner=rt.scanner,
                      executor=rt.executor, transient=TRANSIENT_MEDIA, remote=remote_fetch(rt.settings))


def remote_fetch(settings) -> RemoteFetch:
    """Where GIF sends' files may come from: each provider's media hosts and GIF_MEDIA_HOSTS (a GIF offered
    before a change of GIF_PROVIDER is still copied from where it was offered)."""
    providers = {"giphy": fetch_policy(settings, giphy.Giphy), "tenor": fetch_policy(settings, tenor.Tenor)}
    return RemoteFetch(providers=providers, quota_bytes=settings.upload_quota_bytes)


@task("media.process")
def process(media_id: str) -> dict:
    """Run the media's processing steps that are not done yet (see pipelines.media.job.process_media)."""
    result = process_media(media_id, processing())
    log.info("media %s: %s after %s", media_id, result.status, ",".join(result.ran) or "nothing to do")
    return asdict(result)


@task("media.cleanup")
def cleanup() -> dict:
    """Beat: abort abandoned multipart uploads, drop expired upload records, delete orphaned objects."""
    rt = get_runtime()
    report = do_cleanup(rt.store, rt.blobs)
    if any(report.values()):
        log.info("media clean-up: %s", report)
    return report


@task("media.sweep")
def sweep() -> dict:
    """Beat: files stuck uploading or processing queued again once, then failed (pipelines.sweeper)."""
    s = get_runtime().settings
    report = sweeper.sweep_media(processing(), enqueue_process, now=utcnow(),
                                 processing_timeout=timedelta(seconds=s.media_processing_timeout_seconds),
                                 upload_ttl=timedelta(minutes=s.upload_ttl_minutes))
    if report.done:
        log.info("media sweep: %s", report.done)
    return report.done


@task("media.purge")
def purge() -> dict:
    """Beat: delete the S3 objects of files deleted at least MEDIA_DELETE_GRACE_MINUTES ago."""
    rt = get_runtime()
    result = lifecycle.purge_deleted_media(rt.store, rt.blobs, now=utcnow(),
                                           grace=timedelta(minutes=rt.settings.media_delete_grace_minutes))
    if result.purged:
        log.info("media purge: %s", asdict(result))
    return asdict(result)
