"""Beat's schedule, in one place: what runs periodically, and how often (docs/notifications.md).

Every entry is a short task that reads what is due from the database; nothing relies on a task ETA
(a countdown longer than the broker's visibility timeout is redelivered again and again on Redis).
Two beats running by mistake only send each task twice: each one claims its work in the database.
"""
from __future__ import annotations

from infra.config import Settings


def beat_schedule(s: Settings) -> dict:
    return {
        # Due scheduled messages and reminders: claimed with a lease, sent once.
        # (A tick not taken within 30 s is dropped: the next one does the same work.)
        "dispatch-due": {"task": "notifications.dispatch_due", "schedule": s.dispatch_every_seconds,
                         "options": {"expires": 30}},
        # Offline users' email windows that are due: one digest each.
        "email-sweep": {"task": "notifications.sweep_email", "schedule": s.email_sweep_every_seconds},
        # lastSeq behind the messages, members outside their group, stranded inboxes, expired notifications.
        "repair": {"task": "notifications.repair", "schedule": s.repair_every_seconds},
        # Each group's retention: old messages to messages_archive.
        "retention": {"task": "notifications.retention", "schedule": s.retention_every_seconds},
        # Abandoned multipart uploads aborted, expired upload records dropped, orphaned objects deleted.
        "media-cleanup": {"task": "media.cleanup", "schedule": s.media_cleanup_every_seconds,
                          "options": {"expires": 600}},
        # Deleted files' S3 objects, once MEDIA_DELETE_GRACE_MINUTES have passed.
        "media-purge": {"task": "media.purge", "schedule": s.media_purge_every_seconds, "options": {"expires": 600}},
        # Export files past EXPORT_TTL_HOURS deleted.
        "exports-expire": {"task": "exports.expire", "schedule": 300, "options": {"expires": 300}},
        # Analytics: the daily roll-ups of what changed since the last run (docs/analytics.md).
        "analytics-rollup": {"task": "notifications.analytics_rollup", "schedule": s.analytics_rollup_every_seconds,
                             "options": {"expires": s.analytics_rollup_every_seconds}},
        # The sweeper (pipelines/upkeep/sweeper.py): records stuck in a non-final state queued again or failed,
        # one task per queue (files, exports; digests and scheduled messages).
        **{f"sweep-{queue}": {"task": f"{queue}.sweep", "schedule": s.sweep_every_seconds,
                              "options": {"expires": s.sweep_every_seconds}}
           for queue in ("media", "exports", "notifications")},
    }
