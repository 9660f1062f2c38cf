"""The ``moderation`` queue: review items opened by the filter, the effects of moderators' decisions, and
the record (and escalation) of blocked messages."""
from __future__ import annotations

import logging

from infra.runtime import get_runtime
from pipelines.messages.submit import submit_entry
from pipelines.moderation import reviews
from pipelines.moderation.sanctions import do_record_block
from schemas.tasks import ReviewRequest
from workers.enqueue import enqueue_drain, enqueue_notify
from workers.reliability import task

log = logging.getLogger(__name__)


@task("moderation.open_reviews")
def open_reviews(requests: list[dict]) -> list[str | None]:
    """The filter flagged, masked or held sends or edits (a drain batch's): open or grow their review items."""
    rt = get_runtime()
    items = [reviews.do_open_review(rt.store, rt.notifier, ReviewRequest.model_validate(r)) for r in requests]
    return [item.id if item else None for item in items]


@task("moderation.apply_decision")
def apply_decision(review_id: str) -> str | None:
    """A moderator decided: deliver, reject or delete, then tell the moderators and log it."""
    rt = get_runtime()

    def submit(conv_id, entry):
        submit_entry(rt.inbox, enqueue_drain, conv_id, entry)

    status = reviews.do_apply_decision(rt.store, rt.notifier, submit, review_id, tell=enqueue_notify)
    log.info("review %s: %s applied", review_id, status)
    return status


@task("moderation.record_block")
def record_block(group_id: str, conv_id: str, sender_id: str, client_id: str, match: str) -> bool:
    """Log a blocked message; mute its sender if the group's escalation says so."""
    rt = get_runtime()
    return do_record_block(rt.store, rt.notifier, group_id, conv_id, sender_id, client_id, match,
                           tell=enqueue_notify)
