"""The activity log: the audit trail and a group's moderation log.

An entry about a conversation's content (a report's reason, a blocked message's match, a decision's note)
is recorded with that conversation (``convId``, a stored field the model does not carry): its reason is
sealed with the conversation's key when it is encrypted, and opened on every read (infra.storage.sealing).
Entries about a group or a person (mutes, bans, roles) have no conversation and stay in clear."""
from __future__ import annotations

import logging
from typing import Any

import pymongo
from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel
from pymongo.database import Database

from infra.crypto import Vault
from infra.storage.repository import Repository, insert_once, newest_first
from infra.storage.sealing import Opened, is_plain, open_text, seal_in_clear, seal_text
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
            # The entries about a conversation's content, for the walk that seals what was stored before it
            # was encrypted (only those entries have the field).
            IndexModel([("convId", ASC)], name="convId", sparse=True),
        ],
    }

    def __init__(self, db: Database, vault: Vault | None = None) -> None:
        super().__init__(db)
        self.activity_logs = db["activity_logs"]
        self.vault = vault
        self._model = Opened(ActivityLog, self._opened)

    def _opened(self, doc: dict[str, Any]) -> dict[str, Any]:
        meta = doc.get("metadata") or {}
        if doc.get("convId") and isinstance(meta.get("reason"), bytes):
            meta["reason"] = open_text(self.vault, doc["convId"], meta["reason"])
        return doc

    def log_activity(self, entry: ActivityLog) -> None:
        try:
            self.activity_logs.insert_one(entry.to_mongo())
        except pymongo.errors.PyMongoError:  # the audit trail must never break the action it records
            log.exception("could not write activity log %s", entry.action)

    def moderation_log(self, group_id: str, *, before: str | None, limit: int) -> tuple[list[ActivityLog], bool]:
        query: dict[str, Any] = {"groupId": group_id}
        return newest_first(self.activity_logs, query, self._model, before=before, limit=limit)

    def insert_activity_once(self, entry: ActivityLog, conv_id: str | None = None) -> bool:
        """With a ``key`` derived from what it records, a redelivered task writes the entry once (its id
        stays an ObjectId: the log is read in id order, which is time order). ``conv_id``: the conversation
        whose content the entry's reason quotes (sealed with its key)."""
        doc = entry.to_mongo()
        if conv_id:
            doc["convId"] = conv_id
            doc["metadata"]["reason"] = seal_text(self.vault, conv_id, doc["metadata"].get("reason"))
        return insert_once(self.activity_logs, doc)

    def seal_stored(self, conv_id: str, limit: int) -> int:
        """Seal the reasons of the conversation's entries stored in clear (pipelines.upkeep.sealing); how many
        were found (fewer than ``limit``: none is left)."""
        if self.vault is None or not self.vault.encrypted(conv_id):
            return 0
        return seal_in_clear(self.activity_logs, {"convId": conv_id, "metadata.reason": {"$type": "string", "$ne": ""}},
                             lambda d: {"metadata.reason": self.vault.seal(conv_id, d["metadata"]["reason"])}
                             if is_plain(d["metadata"]["reason"]) else {}, limit)

    def count_activity(self, resource: str, resource_id: str, action: str, group_id: str, since) -> int:
        """How often ``action`` happened to that resource in the group since then (the resource_timestamp
        index bounds it to the resource's own recent entries)."""
        return self.activity_logs.count_documents({"resource": resource, "resourceId": resource_id,
                                                   "timestamp": {"$gte": since}, "action": action,
                                                   "groupId": group_id})
