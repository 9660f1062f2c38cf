"""Every task's reliability options, in one table: which errors are transient (retried with backoff) and how
often each queue's tasks retry. Any other exception is permanent: the task fails once and is logged.

Every task is ``acks_late``: a worker that dies mid-task leaves its message unacknowledged, and the broker
hands it out again (``task_reject_on_worker_lost``, workers/celery_app.py). Tasks are idempotent, so a
redelivery or a retry finishes the job instead of doing it twice.
"""
from __future__ import annotations

from typing import Any, Callable

from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

from infra.blobs import StorageUnavailable
from infra.executor import WorkerDied
from infra.kms import KeyServiceUnavailable
from infra.scanner import ScannerUnavailable
from pipelines.exports.job import MAX_ATTEMPTS as EXPORT_MAX_ATTEMPTS
from pipelines.media.remote import RemoteUnavailable
from pipelines.messages.writer import TransientError
from workers.celery_app import celery

# MongoDB or Redis briefly away (connection failures, Redis timeouts), a drain that lost its lock or met a
# concurrent seq, a KMS that did not answer (encryption at rest with ENCRYPTION_KMS_KEY_ID): worth a retry on
# every queue.
TRANSIENT = (TransientError, ConnectionFailure, RedisConnectionError, RedisTimeoutError, KeyServiceUnavailable)
# Where files are made: also S3 away (botocore's endpoint and connection errors, 5xx and throttling reach us
# as StorageUnavailable, infra/blobs.py), clamd away (ScannerUnavailable), a CPU child that died (WorkerDied),
# a GIF provider failing for now (RemoteUnavailable: the copy counts its fetches and refuses past its bound).
TRANSIENT_MEDIA = (*TRANSIENT, StorageUnavailable, ScannerUnavailable, WorkerDied, RemoteUnavailable)
TRANSIENT_EXPORTS = (StorageUnavailable, *TRANSIENT, WorkerDied)
# SMTP is not listed: the mailer sorts its failures (infra/mailer.py) and a digest counts its own attempts
# and queues its retry for ``retryAt`` (pipelines/notifications/digests.py), so the task never raises them.

# Per queue (a task's name starts with its queue's): what is retried, how often, and how long the backoff
# grows (doubling from 1 s, jittered, up to retry_backoff_max seconds).
OPTIONS: dict[str, dict[str, Any]] = {
    "messages": dict(autoretry_for=TRANSIENT, retry_backoff_max=30, max_retries=10),
    "moderation": dict(autoretry_for=TRANSIENT, retry_backoff_max=30, max_retries=10),
    "notifications": dict(autoretry_for=TRANSIENT, retry_backoff_max=30, max_retries=10),
    # When the retries run out the file is left processing, and the sweeper ends it (pipelines/upkeep/sweeper.py).
    "media": dict(autoretry_for=TRANSIENT_MEDIA, retry_backoff_max=60, max_retries=8),
    # The job's lease decides whether a redelivery works (the first run died: its lease ran out) or returns
    # at once (it is still running, past the visibility timeout).
    "exports": dict(autoretry_for=TRANSIENT_EXPORTS, retry_backoff_max=60, max_retries=EXPORT_MAX_ATTEMPTS),
}


def task(name: str) -> Callable[[Callable[..., Any]], Any]:
    """``@task("media.process")``: a Celery task of that name with its queue's reliability options."""
    return celery.task(name=name, acks_late=True, retry_backoff=True, **OPTIONS[name.partition(".")[0]])
