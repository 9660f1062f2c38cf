"""The ``messages`` queue: store accepted sends in order, then announce them."""
from __future__ import annotations

import logging
from dataclasses import asdict

from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

from infra.runtime import get_runtime
from pipelines import messages
from workers.celery_app import celery

log = logging.getLogger(__name__)

TRANSIENT = (messages.TransientError, ConnectionFailure, RedisConnectionError, RedisTimeoutError)


@celery.task(name="messages.drain", acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True,
             retry_backoff_max=30, max_retries=10)
def drain(conv_id: str) -> dict:
    """Store every pending send of one conversation (see pipelines.messages.drain_inbox)."""
    rt = get_runtime()
    result = messages.drain_inbox(conv_id, store=rt.store, inbox=rt.inbox, notifier=rt.notifier,
                                  enqueue_drain=enqueue_drain, batch=rt.settings.inbox_batch,
                                  budget_seconds=rt.settings.inbox_budget_ms / 1000,
                                  linger_ms=rt.settings.inbox_linger_ms)
    if result.duplicates or result.rejected:
        log.info("drained %s: stored %d, duplicates %d, rejected %d", conv_id, len(result.stored),
                 result.duplicates, result.rejected)
    return asdict(result)


def enqueue_drain(conv_id: str) -> None:
    """What the web front calls after appending to a conversation's inbox."""
    drain.apply_async(args=[conv_id])
