"""Periodic upkeep (seeds 000 and 002): repair what drifted, apply each group's retention, expire notifications.

Each job is bounded per run, idempotent (a second run finds nothing to fix), logs what it did and
returns it as a small result, which beat's task result and the log show.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from infra.store import Store
from pipelines.events import Notifier
from pipelines.messages.lifecycle import purge_archived, retire_files
from pipelines.policy.access import check_group_manager
from schemas.common import new_id
from schemas.documents import ActivityLog, RetentionPolicy, User
from schemas.payloads import RetentionUpdate

log = logging.getLogger(__name__)


@dataclass
class RepairResult:
    last_seq_fixed: dict[str, tuple[int, int]] = field(default_factory=dict)   # convId -> (was, now)
    members_removed: list[tuple[str, str]] = field(default_factory=list)      # (convId, userId) not in the group
    drains_scheduled: list[str] = field(default_factory=list)                 # inboxes with entries, no drain
    expired_notifications: int = 0
    conversations_checked: int = 0

    def summary(self) -> dict:
        return {k: (len(v) if isinstance(v, (dict, list)) else v) for k, v in asdict(self).items()}


def repair(store: Store, *, stranded_inboxes: Callable[[], list[str]], enqueue_drain: Callable[[str], None],
           now: datetime, batch: int = 500, max_conversations: int = 100_000) -> RepairResult:
    """Find and fix inconsistencies:
    - a conversation whose ``lastSeq`` is behind its newest stored message (a drain that died between
      storing and recording it): moved forward, so unread counts and catch-up see the message;
    - members of a conversation who are no longer members of its group (a removal cut short): removed;
    - inboxes holding entries with no drain scheduled or running (a lost task): a drain is enqueued.
    """
    result = RepairResult()
    after = None
    while result.conversations_checked < max_conversations:
        convs = store.conversations_page(after, batch)
        if not convs:
            break
        for conv in convs:
            result.conversations_checked += 1
            newest = store.newest_message(conv.id)
            if newest is not None and newest.seq > conv.lastSeq:
                if store.repair_last_seq(conv.id, newest.seq, newest.createdAt):
                    result.last_seq_fixed[conv.id] = (conv.lastSeq, newest.seq)
            for member in store.members_outside_group(conv, 1000):
                if store.remove_conversation_member(conv.id, member.userId):
                    result.members_removed.append((conv.id, member.userId))
        after = convs[-1].id
    for conv_id in stranded_inboxes():
        enqueue_drain(conv_id)
        result.drains_scheduled.append(conv_id)
    result.expired_notifications = store.delete_expired_notifications(now, 10_000)
    for conv_id, (was, fixed) in result.last_seq_fixed.items():
        log.warning("repair: conversation %s lastSeq %d -> %d", conv_id, was, fixed)
    for conv_id, user_id in result.members_removed:
        log.warning("repair: removed %s from conversation %s (no longer in its group)", user_id, conv_id)
    for conv_id in result.drains_scheduled:
        log.warning("repair: inbox of %s had entries and no drain: drain enqueued", conv_id)
    log.info("repair: %s", result.summary())
    return result


# -- retention -----------------------------------------------------------------------------------
def get_retention(store: Store, user: User, group_id: str) -> dict:
    check_group_manager(store, user, group_id)
    policy = store.retention_policy(group_id)
    return policy.public() if policy else {"groupId": group_id, "days": None, "maxMessages": None, "updatedAt": None}


def do_set_retention(store: Store, user: User, group_id: str, update: RetentionUpdate, now: datetime) -> dict:
    """Group admins set the group's retention; the next retention run applies it."""
    check_group_manager(store, user, group_id)
    policy = RetentionPolicy(id=group_id, days=update.days, maxMessages=update.maxMessages, updatedBy=user.id,
                             updatedAt=now)
    store.put_retention_policy(policy)
    store.log_activity(ActivityLog(id=new_id(), userId=user.id, action="retention", resource="group",
                                   resourceId=group_id, changes=update.model_dump(), timestamp=now, groupId=group_id))
    return policy.public()


@dataclass
class RetentionResult:
    archived: dict[str, int] = field(default_factory=dict)   # convId -> messages moved to messages_archive
    groups: int = 0
    files: int = 0                                            # files of archived messages deleted


def apply_retention(store: Store, notifier: Notifier, *, now: datetime, batch: int = 500,
                    max_per_conversation: int = 50_000) -> RetentionResult:
    """Move messages older than the group's ``days`` or beyond the newest ``maxMessages`` of a conversation
    to ``messages_archive`` (copy, then delete: a run cut short is finished by the next). The newest
    message of a conversation always stays live, so seq allocation and catch-up never look at the archive.
    This is the lifecycle's purge (pipelines.lifecycle): a deleted message's content does not reach the
    archive, and the files of the messages moved are deleted (their S3 objects go after the grace)."""
    result = RetentionResult()
    for policy in store.retention_policies_all(10_000):
        if policy.days is None and policy.maxMessages is None:
            continue
        result.groups += 1
        before = now - timedelta(days=policy.days) if policy.days else None
        for conv in store.conversations_of_group(policy.id, 100_000):
            keep_from = conv.lastSeq  # never the newest message
            below = keep_from
            if policy.maxMessages:
                below = min(below, conv.lastSeq - policy.maxMessages + 1)
            cut_by_count = below if policy.maxMessages else None
            moved = 0
            while moved < max_per_conversation:
                docs = store.messages_to_archive(conv.id, below_seq=cut_by_count, before=before, limit=batch)
                docs = [d for d in docs if d["seq"] < keep_from]
                if not docs:
                    break
                purge_archived(docs)
                moved += store.archive_messages(docs)
                result.files += retire_files(store, notifier, docs, now)
            if moved:
                result.archived[conv.id] = moved
                log.info("retention: %d messages of %s archived", moved, conv.id)
    return result

