"""Each group's retention: set by its admins, applied on beat by moving old messages to the archive (the
content lifecycle's purge). Bounded per run and idempotent: a run cut short is finished by the next."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.messages.lifecycle import purge_archived, retire_files
from pipelines.policy.access import check_group_manager
from schemas.common import new_id
from schemas.documents import ActivityLog, RetentionPolicy, User
from schemas.payloads import RetentionUpdate

log = logging.getLogger(__name__)


def get_retention(store: Store, user: User, group_id: str) -> dict:
    check_group_manager(store, user, group_id)
    policy = store.upkeep.retention_policy(group_id)
    return policy.public() if policy else {"groupId": group_id, "days": None, "maxMessages": None, "updatedAt": None}


def do_set_retention(store: Store, user: User, group_id: str, update: RetentionUpdate, now: datetime) -> dict:
    """Group admins set the group's retention; the next retention run applies it."""
    check_group_manager(store, user, group_id)
    policy = RetentionPolicy(id=group_id, days=update.days, maxMessages=update.maxMessages, updatedBy=user.id,
                             updatedAt=now)
    store.upkeep.put_retention_policy(policy)
    store.audit.log_activity(ActivityLog(id=new_id(), userId=user.id, action="retention", resource="group",
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
    This is the lifecycle's purge (pipelines.messages.lifecycle): a deleted message's content does not reach the
    archive, and the files of the messages moved are deleted (their S3 objects go after the grace)."""
    result = RetentionResult()
    for policy in store.upkeep.retention_policies_all(10_000):
        if policy.days is None and policy.maxMessages is None:
            continue
        result.groups += 1
        before = now - timedelta(days=policy.days) if policy.days else None
        for conv in store.upkeep.conversations_of_group(policy.id, 100_000):
            keep_from = conv.lastSeq  # never the newest message
            below = keep_from
            if policy.maxMessages:
                below = min(below, conv.lastSeq - policy.maxMessages + 1)
            cut_by_count = below if policy.maxMessages else None
            moved = 0
            while moved < max_per_conversation:
                docs = store.upkeep.messages_to_archive(conv.id, below_seq=cut_by_count, before=before, limit=batch)
                docs = [d for d in docs if d["seq"] < keep_from]
                if not docs:
                    break
                purge_archived(docs)
                moved += store.upkeep.archive_messages(docs)
                result.files += retire_files(store, notifier, docs, now)
            if moved:
                result.archived[conv.id] = moved
                log.info("retention: %d messages of %s archived", moved, conv.id)
    return result

