"""The ``notifications`` queue runs four capabilities' tasks, in sections below: stored notifications
(created by any pipeline), scheduled messages and reminders as they fall due, email digests, and the
periodic upkeep that beat triggers (workers/beat.py).

They share one queue and one Procfile role because each task is short and I/O-bound; their task names all
start with ``notifications.``, which is what routes them here (workers/celery_app.py).
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta

from infra.runtime import get_runtime
from pipelines.analytics import rollup as analytics
from pipelines.notifications import digests
from pipelines.notifications import stored as notifications
from pipelines.policy.gate import Gate
from pipelines.scheduling import scheduled as scheduling
from pipelines.upkeep import repair as upkeep_repair
from pipelines.upkeep.retention import apply_retention
from pipelines.upkeep import sweeper
from schemas.common import utcnow
from schemas.tasks import NotificationRequest
from workers.enqueue import enqueue_digest, enqueue_drain, enqueue_send_due, send_due_flag
from workers.reliability import task

log = logging.getLogger(__name__)


def _is_online(user_ids: list[str]) -> dict[str, bool]:
    return {uid: status.online for uid, status in get_runtime().presence.status(user_ids).items()}


def notify_now(requests: list[NotificationRequest]) -> notifications.NotifyResult:
    """do_notify with this process's store, notifier and settings (for tasks of this module)."""
    rt = get_runtime()
    return notifications.do_notify(rt.store, rt.notifier, requests, now=utcnow(), ttl_days=rt.settings.notification_ttl_days,
                                   default_delay=rt.settings.email_default_delay_minutes)


# -- stored notifications --------------------------------------------------------------------------
@task("notifications.create")
def create(requests: list[dict]) -> list[str]:
    """Any pipeline tells users something (export_ready, moderation, added...): see enqueue_notify."""
    return notify_now([NotificationRequest.model_validate(r) for r in requests]).stored


@task("notifications.from_messages")
def from_messages(conv_id: str, message_ids: list[str]) -> dict:
    """A stored batch (the drain queues one task per batch): mentions, replies, direct messages."""
    rt = get_runtime()
    result = notifications.notify_from_messages(
        rt.store, rt.notifier, conv_id, message_ids, now=utcnow(), ttl_days=rt.settings.notification_ttl_days,
        default_delay=rt.settings.email_default_delay_minutes, is_online=_is_online,
        email_enabled=rt.mailer is not None, minute=timedelta(seconds=rt.settings.email_minute_seconds))
    return {"notified": len(result.notified), "skipped": result.skipped, "missed": len(result.missed)}


# -- scheduled messages and reminders (beat: every DISPATCH_EVERY_SECONDS) -------------------------
@task("notifications.dispatch_due")
def dispatch_due() -> dict:
    """Claim due reminders and emit them; hand each conversation with due scheduled messages to send_due.
    Never an ETA task: what is due is in the database, and this runs every few seconds."""
    rt = get_runtime()
    now = utcnow()
    result = notifications.dispatch_due_reminders(rt.store, rt.notifier, now=now,
                                                  lease_seconds=rt.settings.scheduled_lease_seconds)
    result.conversations = scheduling.dispatch_due_scheduled(rt.store, enqueue_send_due, now=now)
    return {"reminders": result.reminders, "dropped": result.dropped, "conversations": len(result.conversations)}


@task("notifications.send_due")
def send_due(conv_id: str) -> dict:
    """Send one conversation's due scheduled messages through its inbox (see pipelines.scheduling)."""
    rt = get_runtime()
    try:
        result = scheduling.send_due(conv_id, store=rt.store, inbox=rt.inbox, notifier=rt.notifier,
                                     enqueue_drain=enqueue_drain, notify=notify_now, clock=utcnow, limits=rt.scheduling_limits,
                                     gate=Gate(rt.store, filters=rt.filter_cache))
    finally:
        rt.redis.delete(send_due_flag(conv_id))
    if result.more:
        enqueue_send_due(conv_id)
    if result.failed or result.deferred:
        log.info("scheduled messages of %s: sent %d, failed %d, deferred %s", conv_id, len(result.sent),
                 len(result.failed), result.deferred)
    return {"sent": len(result.sent), "failed": len(result.failed), "blocked": result.blocked}


# -- email digests ---------------------------------------------------------------------------------
@task("notifications.sweep_email")
def sweep_email() -> dict:
    """Close due email windows into digests and queue them (beat: every EMAIL_SWEEP_EVERY_SECONDS)."""
    rt = get_runtime()
    result = digests.sweep_email_windows(rt.store, enqueue_digest, now=utcnow(),
                                         default_delay=rt.settings.email_default_delay_minutes,
                                         minute=timedelta(seconds=rt.settings.email_minute_seconds))
    return {"digests": len(result.digests)}


def delivery() -> digests.Delivery:
    """EMAIL_MAX_RETRIES retries after the first attempt, EMAIL_RETRY_BACKOFF_SECONDS doubled each time (a
    countdown kept under the broker's visibility timeout, so that a waiting task is never redelivered)."""
    s = get_runtime().settings
    return digests.Delivery(
        lease_seconds=s.scheduled_lease_seconds, max_attempts=s.email_max_retries + 1, app_url=s.app_url,
        mail_from=s.mail_from,
        backoff=lambda attempts: min(s.email_retry_backoff_seconds * 2 ** (attempts - 1), s.broker_visibility_timeout / 2))


@task("notifications.send_digest")
def send_digest(digest_id: str, attempt: int = 0) -> dict:
    """One email for one digest. A 5xx answer fails it at once; a 4xx or SMTP away: one task queued for the
    digest's ``retryAt``. The attempts are counted on the digest (``attempt`` is only for the log)."""
    rt = get_runtime()
    result = digests.deliver_digest(rt.store, rt.mailer, lambda uid: _is_online([uid]).get(uid, False), digest_id,
                                    now=utcnow(), default_delay=rt.settings.email_default_delay_minutes,
                                    delivery=delivery())
    if result.status == "retry":
        countdown = max(0.0, (result.retry_at - utcnow()).total_seconds())
        log.info("digest %s: %s; retry %d in %.1f s", digest_id, result.reason, attempt + 1, countdown)
        enqueue_digest(digest_id, attempt + 1, countdown=countdown)
    return asdict(result)


# -- upkeep (beat) ---------------------------------------------------------------------------------
@task("notifications.sweep")
def sweep() -> dict:
    """Digests whose task was lost or whose worker died queued again (or failed when their attempts ran out);
    scheduled messages that no dispatcher reached failed; notifications stored but never emitted sent."""
    rt = get_runtime()
    s = rt.settings
    report = sweeper.sweep_notifications_queue(
        rt.store, rt.notifier, enqueue_digest, notify_now, now=utcnow(), lease=timedelta(seconds=s.scheduled_lease_seconds),
        max_attempts=delivery().max_attempts, scheduled_bound=scheduled_bound(s))
    if report.done:
        log.info("notifications sweep: %s", report.done)
    return report.done


def scheduled_bound(s) -> timedelta:
    """How late a scheduled message may still be open: the dispatcher fails it past the lateness allowed, and
    a claim lasts a lease; past both (twice the lease, and a tick) nobody will send it."""
    return timedelta(seconds=s.scheduled_max_lateness_seconds + 2 * s.scheduled_lease_seconds
                     + s.dispatch_every_seconds)


@task("notifications.repair")
def repair() -> dict:
    """lastSeq behind the messages, members outside their group, stranded inboxes, expired notifications."""
    rt = get_runtime()
    return upkeep_repair.repair(rt.store, stranded_inboxes=rt.inbox.stranded, enqueue_drain=enqueue_drain,
                         now=utcnow()).summary()


@task("notifications.retention")
def retention() -> dict:
    """Each group's retention: old messages moved to messages_archive, their files deleted."""
    rt = get_runtime()
    result = apply_retention(rt.store, rt.notifier, now=utcnow())
    return {"groups": result.groups, "archived": sum(result.archived.values()), "files": result.files}


# -- analytics roll-ups (beat: every ANALYTICS_ROLLUP_EVERY_SECONDS) --------------------------------
@task("notifications.analytics_rollup")
def analytics_rollup() -> dict:
    """The daily roll-ups of what changed since the last run (pipelines/analytics/rollup.py)."""
    rt = get_runtime()
    result = analytics.do_rollup(rt.store, utcnow(), overlap_days=rt.settings.analytics_overlap_days,
                                 pause=rt.executor.give_way)
    return {"since": result.since.isoformat() if result.since else None, "conversations": result.conversations,
            "days": result.days, "messages": result.messages}
