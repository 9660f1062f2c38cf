"""The ``messages`` queue: store accepted sends in order, then announce them; copy profile changes into messages."""
from __future__ import annotations

import logging
from dataclasses import asdict

from celery.worker import state as worker_state

from infra.runtime import get_runtime
from pipelines.messages.drain import drain_inbox
from pipelines.moderation.screening import Screening
from pipelines.people.profiles import sync_sender_info
from workers.enqueue import (enqueue_block, enqueue_drain, enqueue_from_messages, enqueue_profile_sync,
                             enqueue_reviews)
from workers.reliability import task

log = logging.getLogger(__name__)


@task("messages.drain")
def drain(conv_id: str) -> dict:
    """Store every pending send of one conversation (see pipelines.messages.drain.drain_inbox), through the
    group's content filter."""
    rt = get_runtime()
    screening = Screening(cache=rt.filter_cache, open_reviews=enqueue_reviews, record_block=enqueue_block)
    result = drain_inbox(conv_id, store=rt.store, inbox=rt.inbox, notifier=rt.notifier,
                         enqueue_drain=enqueue_drain, batch=rt.settings.inbox_batch,
                         budget_seconds=rt.settings.inbox_budget_ms / 1000,
                         linger_ms=rt.settings.inbox_linger_ms, screening=screening,
                         on_stored=enqueue_from_messages,
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


@task("messages.sync_profile")
def sync_profile(user_id: str) -> dict:
    """Copy a user's current profile into their messages' senderInfo (see pipelines.people.profiles)."""
    rt = get_runtime()
    result = sync_sender_info(user_id, store=rt.store, notifier=rt.notifier, enqueue_sync=enqueue_profile_sync,
                              batch=rt.settings.profile_sync_batch)
    log.info("profile of %s synced: %d messages in %d batches, %d pass(es)", user_id, result.updated,
             len(result.batches), result.passes)
    return asdict(result)
