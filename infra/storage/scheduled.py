"""Scheduled messages: each conversation's queue, claimed through a lease. Their text is sealed in an
encrypted conversation (infra.storage.sealing) and opened on every read: the dispatcher sends it through the
inbox in clear, like a send (Redis, transient)."""
from __future__ import annotations

from typing import Any

import pymongo
from pymongo import ASCENDING as ASC, IndexModel, ReturnDocument
from pymongo.database import Database

from infra.crypto import Vault
from infra.storage.lease import Lease
from infra.storage.repository import Repository, newest_first
from infra.storage.sealing import Opened, is_plain, open_text, seal_in_clear, seal_text
from schemas.documents import SCHEDULED_OPEN, ScheduledMessage


class ScheduledRepo(Repository):
    INDEXES = {
        "scheduled_messages": [
            # The dispatcher: what is due, by status (pending, or claimed with an expired lease).
            IndexModel([("status", ASC), ("sendAt", ASC)], name="status_sendAt"),
            # A conversation's queue in order: the head is the only one that may go.
            IndexModel([("convId", ASC), ("status", ASC), ("sendAt", ASC), ("_id", ASC)], name="convId_status_sendAt"),
            # The sender's own list, and one scheduled message per (sender, conversation, clientId).
            IndexModel([("senderId", ASC), ("convId", ASC), ("clientId", ASC)], name="sender_conv_clientId",
                       unique=True),
            IndexModel([("senderId", ASC), ("status", ASC)], name="senderId_status"),
        ],
    }

    def __init__(self, db: Database, vault: Vault | None = None) -> None:
        super().__init__(db)
        self.scheduled_messages = db["scheduled_messages"]
        self.lease = Lease(self.scheduled_messages)
        self.vault = vault
        self._model = Opened(ScheduledMessage, self._opened)

    def _opened(self, doc: dict[str, Any]) -> dict[str, Any]:
        doc["content"] = open_text(self.vault, doc.get("convId"), doc.get("content"))
        return doc

    def insert_scheduled(self, item: ScheduledMessage) -> tuple[ScheduledMessage, bool]:
        """Idempotent on (sender, conversation, clientId): a retried create returns the first one."""
        try:
            doc = item.to_mongo()
            doc["content"] = seal_text(self.vault, item.convId, item.content)
            self.scheduled_messages.insert_one(doc)
            return item, True
        except pymongo.errors.DuplicateKeyError:
            doc = self.scheduled_messages.find_one({"senderId": item.senderId, "convId": item.convId,
                                                    "clientId": item.clientId})
            return self._model.from_mongo(doc), False

    def get_scheduled(self, item_id: str) -> ScheduledMessage | None:
        doc = self.scheduled_messages.find_one({"_id": item_id})
        return self._model.from_mongo(doc) if doc else None

    def count_open_scheduled(self, sender_id: str) -> int:
        return sum(self.scheduled_messages.count_documents({"senderId": sender_id, "status": s}) for s in SCHEDULED_OPEN)

    def scheduled_of_sender(self, sender_id: str, conv_id: str, *, before: str | None, limit: int
                            ) -> tuple[list[ScheduledMessage], bool]:
        query: dict[str, Any] = {"senderId": sender_id, "convId": conv_id}
        return newest_first(self.scheduled_messages, query, self._model, before=before, limit=limit)

    def update_pending_scheduled(self, item_id: str, sender_id: str, changes: dict[str, Any]) -> ScheduledMessage | None:
        """Edit or cancel, only while nobody has claimed it (so a send in progress is never changed under it)."""
        if changes.get("content"):
            found = self.scheduled_messages.find_one({"_id": item_id}, {"convId": 1})
            changes = {**changes, "content": seal_text(self.vault, found and found["convId"], changes["content"])}
        doc = self.scheduled_messages.find_one_and_update({"_id": item_id, "senderId": sender_id, "status": "pending"},
                                                          {"$set": changes}, return_document=ReturnDocument.AFTER)
        return self._model.from_mongo(doc) if doc else None

    def due_scheduled_conversations(self, now, limit: int) -> list[str]:
        """Conversations whose queue has something due, or a claim whose lease ran out."""
        convs: dict[str, None] = {}
        for doc in self.scheduled_messages.find({"status": "pending", "sendAt": {"$lte": now}},
                                                {"convId": 1}).limit(limit):
            convs[doc["convId"]] = None
        for doc in self.scheduled_messages.find({"status": "claimed", "claimedUntil": {"$lt": now}},
                                                {"convId": 1}).limit(limit):
            convs[doc["convId"]] = None
        return list(convs)

    def scheduled_queue(self, conv_id: str, now, limit: int) -> list[ScheduledMessage]:
        """The conversation's open items (pending or claimed) due by ``now``, in queue order (sendAt, then
        id), at most ``limit``. Only the first may be claimed (see pipelines.scheduling)."""
        items = []
        for status in SCHEDULED_OPEN:
            docs = self.scheduled_messages.find({"convId": conv_id, "status": status, "sendAt": {"$lte": now}})
            items += [self._model.from_mongo(d) for d in docs.sort([("sendAt", ASC), ("_id", ASC)]).limit(limit)]
        return sorted(items, key=lambda i: (i.sendAt, i.id))[:limit]

    def claim_scheduled(self, item: ScheduledMessage, now, lease_until, token: str) -> ScheduledMessage | None:
        """Take the item as read (pending, or claimed with an expired lease): one dispatcher wins. (One
        conditional update_one: the claimed item is built here rather than read back.)"""
        query: dict[str, Any] = {"_id": item.id, "status": item.status}
        if item.status == "claimed":
            query["claimedUntil"] = item.claimedUntil
        changes = {"status": "claimed", "updatedAt": now}
        if not self.lease.claim_as_read(query, token, lease_until, changes=changes):
            return None
        return item.model_copy(update={**changes, **self.lease.held(token, lease_until), "attempts": item.attempts + 1})

    def finish_scheduled(self, item: ScheduledMessage, token: str, status: str, at, **fields) -> ScheduledMessage | None:
        """claimed -> sent/failed (or back to pending), by the claim's holder only."""
        changes = {"status": status, "updatedAt": at, **self.lease.ended(), **fields}
        if not self.lease.finish({"_id": item.id, "status": "claimed"}, token, changes):
            return None
        return item.model_copy(update=changes)

    def stale_scheduled(self, status: str, due_before, limit: int) -> list[ScheduledMessage]:
        """Open items (``status`` pending or claimed) due before ``due_before``: past every bound of delivery."""
        docs = self.scheduled_messages.find({"status": status, "sendAt": {"$lt": due_before}}).limit(limit)
        return [self._model.from_mongo(d) for d in docs]

    def fail_stale_scheduled(self, item: ScheduledMessage, at, error: dict[str, str]) -> ScheduledMessage | None:
        """Fail the item as read (same status and claim: nobody took it since), for the sweeper."""
        changes = {"status": "failed", "error": error, "claimedUntil": None, "updatedAt": at}
        if self.scheduled_messages.update_one(
                {"_id": item.id, "status": item.status, "claimToken": item.claimToken,
                 "claimedUntil": item.claimedUntil}, {"$set": changes}).modified_count != 1:
            return None
        return item.model_copy(update=changes)

    def seal_stored(self, conv_id: str, limit: int) -> int:
        """Seal the texts of the conversation's scheduled messages stored in clear (pipelines.upkeep.sealing);
        how many were found (fewer than ``limit``: none is left)."""
        if self.vault is None or not self.vault.encrypted(conv_id):
            return 0
        return seal_in_clear(self.scheduled_messages, {"convId": conv_id, "content": {"$type": "string", "$ne": ""}},
                             lambda d: {"content": self.vault.seal(conv_id, d["content"])} if is_plain(d["content"])
                             else {}, limit)
