"""How the web front, the pipelines and the tasks queue work: one function per task, publishing it by name.

Each message carries ids and short values only. The queue comes from the task's name through the routes
(workers/celery_app.py), so no module here imports a task, and no worker module imports another.
"""
from __future__ import annotations

from typing import Any

from infra.runtime import get_runtime
from schemas.tasks import NotificationRequest, ReviewRequest
from workers.celery_app import celery


def _send(name: str, *args: Any, countdown: float | None = None) -> None:
    celery.send_task(name, args=list(args), countdown=countdown)


# -- messages ------------------------------------------------------------------------------------------
def enqueue_drain(conv_id: str) -> None:
    """What the web front calls after appending to a conversation's inbox."""
    _send("messages.drain", conv_id)


def enqueue_profile_sync(user_id: str) -> None:
    """What the web front calls after changing a user's profile."""
    _send("messages.sync_profile", user_id)


# -- moderation ----------------------------------------------------------------------------------------
def enqueue_reviews(requests: list[ReviewRequest]) -> None:
    _send("moderation.open_reviews", [r.model_dump(mode="json") for r in requests])


def enqueue_decision(review_id: str) -> None:
    _send("moderation.apply_decision", review_id)


def enqueue_block(group_id: str, conv_id: str, sender_id: str, client_id: str, match: str) -> None:
    _send("moderation.record_block", group_id, conv_id, sender_id, client_id, match)


# -- media and exports ---------------------------------------------------------------------------------
def enqueue_process(media_id: str) -> None:
    _send("media.process", media_id)


def enqueue_run(export_id: str) -> None:
    _send("exports.run", export_id)


# -- notifications, scheduled messages, digests --------------------------------------------------------
def enqueue_notify(*requests: NotificationRequest) -> None:
    """What other pipelines call (exports' export_ready, moderation's decisions): one task, ids and short text."""
    if requests:
        _send("notifications.create", [r.model_dump(mode="json") for r in requests])


def enqueue_from_messages(conv_id: str, message_ids: list[str]) -> None:
    _send("notifications.from_messages", conv_id, message_ids)


def send_due_flag(conv_id: str) -> str:
    """Set while a conversation's send_due task is queued or running (the task clears it when it ends)."""
    return f"scheduled:queued:{conv_id}"


def enqueue_send_due(conv_id: str) -> None:
    """One send_due task per conversation at a time (a flag with the lease as expiry): a tick that finds
    the conversation already queued adds nothing. A duplicate would be harmless, only wasted."""
    rt = get_runtime()
    if rt.redis.set(send_due_flag(conv_id), 1, nx=True, ex=rt.settings.scheduled_lease_seconds):
        _send("notifications.send_due", conv_id)


def enqueue_digest(digest_id: str, attempt: int = 0, countdown: float | None = None) -> None:
    """One email for one digest; a retry comes ``countdown`` seconds later (``attempt`` is only for the log)."""
    _send("notifications.send_digest", digest_id, attempt, countdown=countdown)
