"""The activity log: the audit trail and a group's moderation log."""
from __future__ import annotations

import logging
from typing import Any

import pymongo
from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel
from pymongo.database import Database

from infra.storage.repository import Repository, insert_once, newest_first
from schemas.documents import ActivityLog

log = logging.getLogger(__name__)


class AuditRepo(Repository):
    INDEXES = {
        "activity_logs": [
            IndexModel([("userId", ASC), ("timestamp", DESC)], name="userId_timestamp"),
            IndexModel([("resource", ASC), ("resourceId", ASC), ("timestamp", DESC)], name="resource_timestamp"),
            # A group's moderation log, newest first (entries without groupId are not moderation actions).
            IndexModel([("groupId", ASC), ("_id", DESC)], name="groupId_id"),
            # An entry recorded by a task that may be redelivered carries a key derived from what it records.
            IndexModel([("key", ASC)], name="key", unique=True, sparse=True),
        ],
    }

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.activity_logs = db["activity_logs"]

    def log_activity(self, entry: ActivityLog) -> None:
        try:
            self.activity_logs.insert_one(entry.to_mongo())
        except pymongo.errors.PyMongoError:  # the audit trail must never break the action it records
            log.exception("could not write activity log %s", entry.action)

    def moderation_log(self, group_id: str, *, before: str | None, limit: int) -> tuple[list[ActivityLog], bool]:
        query: dict[str, Any] = {"groupId": group_id}
        return newest_first(self.activity_logs, query, ActivityLog, before=before, limit=limit)

    def insert_activity_once(self, entry: ActivityLog) -> bool:
        """With a ``key`` derived from what it records, a redelivered task writes the entry once (its id
        stays an ObjectId: the log is read in id order, which is time order)."""
        return insert_once(self.activity_logs, entry.to_mongo())

    def count_activity(self, resource: str, resource_id: str, action: str, group_id: str, since) -> int:
        """How often ``action`` happened to that resource in the group since then (the resource_timestamp
        index bounds it to the resource's own recent entries)."""
        return self.activity_logs.count_documents({"resource": resource, "resourceId": resource_id,
                                                   "timestamp": {"$gte": since}, "action": action,
                                                   "groupId": group_id})
