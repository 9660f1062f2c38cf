"""The ``messages`` queue: store accepted sends in order, then announce them; copy profile changes into messages."""
from __future__ import annotations

import logging
from dataclasses import asdict

from celery.worker import state as worker_state
from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

from infra.runtime import get_runtime
from pipelines.messages.drain import drain_inbox
from pipelines.messages.writer import TransientError
from pipelines.people import profiles
from pipelines.moderation.screening import Screening
from workers.celery_app import celery

log = logging.getLogger(__name__)

TRANSIENT = (TransientError, ConnectionFailure, RedisConnectionError, RedisTimeoutError)
# Redelivered if the worker dies (acks_late); retried with backoff while a service is briefly away.
RELIABLE = dict(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=30, max_retries=10)


@celery.task(name="messages.drain", **RELIABLE)
def drain(conv_id: str) -> dict:
    """Store every pending send of one conversation (see pipelines.messages.drain_inbox), through the
    group's content filter."""
    rt = get_runtime()
    result = drain_inbox(conv_id, store=rt.store, inbox=rt.inbox, notifier=rt.notifier,
                         enqueue_drain=enqueue_drain, batch=rt.settings.inbox_batch,
                         budget_seconds=rt.settings.inbox_budget_ms / 1000,
                         linger_ms=rt.settings.inbox_linger_ms, screening=_screening(),
                         on_stored=_enqueue_notifications,
                         may_linger=lambda: nothing_waits_for_a_slot(drain.request.hostname))
    if result.duplicates or result.rejected or result.held:
        log.info("drained %s: stored %d, duplicates %d, rejected %d, held %d", conv_id, len(result.stored),
                 result.duplicates, result.rejected, result.held)
    return asdict(result)


def nothing_waits_for_a_slot(hostname: str | None) -> bool:
    """Whether no task this worker has taken from the broker is waiting for a pool slot: a lingering
    drain holds one, and gives it up as soon as another task needs it."""
    try:
        return not any(r.hostname == hostname and r not in worker_state.active_requests
                       for r in worker_state.reserved_requests)
    except RuntimeError:  # the set changed under us (another thread took a task): assume one waits
        return False


def _screening() -> Screening:
    from workers import moderation as queue  # the moderation queue's module imports this one

    rt = get_runtime()
    return Screening(cache=rt.filter_cache, open_reviews=queue.enqueue_reviews, record_block=queue.enqueue_block)


def _enqueue_notifications(conv_id: str, message_ids: list[str]) -> None:
    from workers import notifications  # the notifications queue's module imports this one

    notifications.enqueue_from_messages(conv_id, message_ids)


def enqueue_drain(conv_id: str) -> None:
    """What the web front calls after appending to a conversation's inbox."""
    drain.apply_async(args=[conv_id])


@celery.task(name="messages.sync_profile", **RELIABLE)
def sync_profile(user_id: str) -> dict:
    """Copy a user's current profile into their messages' senderInfo (see pipelines.profiles)."""
    rt = get_runtime()
    result = profiles.sync_sender_info(user_id, store=rt.store, notifier=rt.notifier,
                                       enqueue_sync=enqueue_profile_sync, batch=rt.settings.profile_sync_batch)
    log.info("profile of %s synced: %d messages in %d batches, %d pass(es)", user_id, result.updated,
             len(result.batches), result.passes)
    return asdict(result)


def enqueue_profile_sync(user_id: str) -> None:
    """What the web front calls after changing a user's profile."""
    sync_profile.apply_async(args=[user_id])
