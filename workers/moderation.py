"""The ``moderation`` queue: review items opened by the filter, the effects of moderators' decisions, and
the record (and escalation) of blocked messages."""
from __future__ import annotations

import logging

from infra.runtime import get_runtime
from pipelines.moderation import sanctions
from pipelines.moderation import reviews
from pipelines.messages.submit import submit_entry
from schemas.tasks import ReviewRequest
from workers.celery_app import celery
from workers.messages import RELIABLE, enqueue_drain
from workers.notifications import enqueue_notify

log = logging.getLogger(__name__)


@celery.task(name="moderation.open_reviews", **RELIABLE)
def open_reviews(requests: list[dict]) -> list[str | None]:
    """The filter flagged, masked or held sends or edits (a drain batch's): open or grow their review items."""
    rt = get_runtime()
    items = [reviews.do_open_review(rt.store, rt.notifier, ReviewRequest.model_validate(r)) for r in requests]
    return [item.id if item else None for item in items]


def enqueue_reviews(requests: list[ReviewRequest]) -> None:
    open_reviews.apply_async(args=[[r.model_dump(mode="json") for r in requests]])


@celery.task(name="moderation.apply_decision", **RELIABLE)
def apply_decision(review_id: str) -> str | None:
    """A moderator decided: deliver, reject or delete, then tell the moderators and log it."""
    rt = get_runtime()

    def submit(conv_id, entry):
        submit_entry(rt.inbox, enqueue_drain, conv_id, entry)

    status = reviews.do_apply_decision(rt.store, rt.notifier, submit, review_id, tell=enqueue_notify)
    log.info("review %s: %s applied", review_id, status)
    return status


def enqueue_decision(review_id: str) -> None:
    apply_decision.apply_async(args=[review_id])


@celery.task(name="moderation.record_block", **RELIABLE)
def record_block(group_id: str, conv_id: str, sender_id: str, client_id: str, match: str) -> bool:
    """Log a blocked message; mute its sender if the group's escalation says so."""
    rt = get_runtime()
    return sanctions.do_record_block(rt.store, rt.notifier, group_id, conv_id, sender_id, client_id, match,
                                      tell=enqueue_notify)


def enqueue_block(group_id: str, conv_id: str, sender_id: str, client_id: str, match: str) -> None:
    record_block.apply_async(args=[group_id, conv_id, sender_id, client_id, match])
