"""Stored notifications (their due reminders claimed through a lease) and each user's notification settings.

Encryption at rest (docs/security.md): the ``body`` of a notification about a conversation (``data.convId``:
mentions, replies, reminders, a scheduled message's failure, an export's readiness) is sealed with that
conversation's key on write and opened on every read, so pipelines and events see plain text. A notification
without a conversation (``added``, ``moderation``: group-level, written by the server) stays plain. Titles are
built from names and conversation titles (metadata), never from what was written."""
from __future__ import annotations

from typing import Any

import pymongo
from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel, ReturnDocument
from pymongo.database import Database

from infra.crypto import Vault
from infra.storage.lease import Lease
from infra.storage.repository import Repository
from schemas.documents import UNREAD, Notification, NotificationSettings


class NotificationsRepo(Repository):
    INDEXES = {
        # Notifications and scheduling (seed 001 notifications; docs/notifications.md).
        "notifications": [
            IndexModel([("userId", ASC), ("status", ASC), ("createdAt", DESC)], name="userId_status_created"),
            IndexModel([("scheduledFor", ASC)], name="scheduledFor"),
            # The dispatcher's question: due reminders still pending (scheduledFor alone keeps sent ones too).
            IndexModel([("status", ASC), ("scheduledFor", ASC)], name="status_scheduledFor"),
            # One notification per fact (a redelivered task stores nothing twice).
            IndexModel([("key", ASC)], name="key", unique=True),
            # A message's notifications (mentions, replies, reminders), redacted when it is deleted.
            IndexModel([("data.messageId", ASC)], name="data_messageId", sparse=True),
            # TTL: MongoDB deletes a notification once expiresAt passes (its monitor runs about once a minute,
            # so every read also filters expiresAt > now itself).
            IndexModel([("expiresAt", ASC)], name="auto_expire", expireAfterSeconds=0),
            # The bodies of a conversation still stored plain (written before it had a key), for the walk
            # that seals them (``plain_notifications``); a sealed body is binary, outside the filter.
            IndexModel([("data.convId", ASC)], name="data_convId_plainBody",
                       partialFilterExpression={"body": {"$gt": ""}}),
        ],
    }

    def __init__(self, db: Database, vault: Vault | None = None) -> None:
        super().__init__(db)
        self.vault = vault
        self.notifications = db["notifications"]
        self.notification_settings = db["notification_settings"]
        self.lease = Lease(self.notifications)  # a due reminder's dispatcher

    def insert_notification(self, n: Notification) -> Notification:
        """Store it unless its key exists; either way return the stored one (idempotent)."""
        try:
            self.notifications.insert_one(self._sealed(n.to_mongo()))
            return n
        except pymongo.errors.DuplicateKeyError:
            doc = self.notifications.find_one({"key": n.key})
            return self._opened(doc) if doc else n

    def _sealed(self, doc: dict[str, Any]) -> dict[str, Any]:
        conv_id = (doc.get("data") or {}).get("convId")
        if self.vault is not None and conv_id and doc.get("body"):
            doc["body"] = self.vault.seal(conv_id, doc["body"])
        return doc

    def _opened(self, doc: dict[str, Any]) -> Notification:
        """The model of a stored notification, its body opened (every read goes through here)."""
        conv_id = (doc.get("data") or {}).get("convId")
        if self.vault is not None and conv_id:
            doc["body"] = self.vault.open(conv_id, doc.get("body", ""))
        return Notification.from_mongo(doc)

    def get_notification(self, notification_id: str) -> Notification | None:
        doc = self.notifications.find_one({"_id": notification_id})
        return self._opened(doc) if doc else None

    def plain_notifications(self, conv_id: str, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` notifications of the conversation whose body is still stored plain: ``{_id, body}``."""
        return list(self.notifications.find({"data.convId": conv_id, "body": {"$gt": ""}},
                                            {"_id": 1, "body": 1}).limit(limit))

    def seal_notification_body(self, notification_id: str, conv_id: str, plain: str) -> bool:
        """Replace a plain body by its sealed value, unless it changed since it was read (redacted)."""
        return self.notifications.update_one({"_id": notification_id, "body": plain},
                                             {"$set": {"body": self.vault.seal(conv_id, plain)}}).modified_count == 1

    def mark_notification_sent(self, notification_id: str, at, *, token: str | None) -> bool:
        """pending -> sent (emitted), only by the holder of the claim ``token``: the dispatcher of a due
        reminder, or None for a notification nobody claims (sent when stored, or resent by the sweeper)."""
        return self.lease.finish({"_id": notification_id, "status": "pending"}, token,
                                 {"status": "sent", "sentAt": at, "updatedAt": at})

    def notifications_of_user(self, user_id: str, statuses: tuple[str, ...], now, *, before: Notification | None,
                              limit: int) -> tuple[list[Notification], bool]:
        """Newest first (createdAt, then id), never expired ones; ``before``: the last one of the previous page."""
        query: dict[str, Any] = {"userId": user_id, "status": {"$in": list(statuses)}, "expiresAt": {"$gt": now}}
        if before is not None:
            query["$or"] = [{"createdAt": {"$lt": before.createdAt}},
                            {"createdAt": before.createdAt, "_id": {"$lt": before.id}}]
        docs = list(self.notifications.find(query).sort([("createdAt", DESC), ("_id", DESC)]).limit(limit + 1))
        return [self._opened(d) for d in docs[:limit]], len(docs) > limit

    def count_unread(self, user_id: str, now) -> int:
        return sum(self.notifications.count_documents({"userId": user_id, "status": s, "expiresAt": {"$gt": now}})
                   for s in UNREAD)

    def own_live_notifications(self, user_id: str, ids: list[str], now) -> list[Notification]:
        """Those of ``ids`` that are the user's and not expired (one point read each)."""
        found = []
        for i in dict.fromkeys(ids):
            doc = self.notifications.find_one({"_id": i, "userId": user_id, "expiresAt": {"$gt": now}})
            if doc:
                found.append(self._opened(doc))
        return found

    def mark_notifications(self, user_id: str, ids: list[str] | None, to: str, at, now) -> int:
        """sent -> delivered, or sent/delivered -> read, for the user's own (``ids``, or all unread ones).
        Conditional on the status, so a move never goes backwards and doing it twice changes nothing."""
        field = {"delivered": "deliveredAt", "read": "readAt"}[to]
        sources = ["sent"] if to == "delivered" else list(UNREAD)
        update = {"$set": {"status": to, field: at, "updatedAt": at}}
        if ids is None:
            return sum(self.notifications.update_many({"userId": user_id, "status": s, "expiresAt": {"$gt": now}},
                                                      update).modified_count for s in sources)
        return sum(self.notifications.update_one({"_id": i, "userId": user_id, "status": {"$in": sources}},
                                                 update).modified_count for i in dict.fromkeys(ids))

    def claim_due_notification(self, now, lease_until, token: str) -> Notification | None:
        """A due scheduled notification (a reminder) nobody holds, with a lease on it for ``token`` and one
        attempt more; None when none is due."""
        doc = self.lease.claim({"status": "pending", "scheduledFor": {"$lte": now}, **self.lease.free(now)},
                               token, lease_until, sort=[("scheduledFor", ASC)])
        return self._opened(doc) if doc else None

    def stale_pending_notifications(self, before, limit: int) -> list[Notification]:
        """Notifications stored but never marked sent (their task died after the insert and was not
        redelivered), created before ``before``; not the scheduled ones (reminders: the dispatcher's)."""
        docs = self.notifications.find({"status": "pending", "scheduledFor": None, "createdAt": {"$lt": before}})
        return [self._opened(d) for d in docs.limit(limit)]

    def drop_claimed_notification(self, notification_id: str, token: str) -> None:
        """A due reminder that no longer applies (the user left, the message is gone), by its claim holder."""
        self.lease.drop({"_id": notification_id, "status": "pending"}, token)

    def redact_message_notifications(self, message_id: str, at) -> tuple[int, int]:
        """A deleted message: its pending reminders are dropped (none will fire), the bodies of its other
        notifications emptied. (dropped, redacted)."""
        dropped = self.notifications.delete_many({"data.messageId": message_id, "status": "pending",
                                                  "type": "reminder"}).deleted_count
        redacted = self.notifications.update_many(
            {"data.messageId": message_id, "data.deleted": {"$ne": True}},
            {"$set": {"body": "", "data.deleted": True, "updatedAt": at}}).modified_count
        return dropped, redacted

    def notifications_since(self, user_id: str, types: tuple[str, ...], since, up_to, now, limit: int
                            ) -> list[Notification]:
        """The user's unread notifications of those types created in (since, up_to], oldest first."""
        docs = self.notifications.find({"userId": user_id, "status": {"$in": list(UNREAD)}, "type": {"$in": list(types)},
                                         "createdAt": {"$gt": since, "$lte": up_to}, "expiresAt": {"$gt": now}})
        return [self._opened(d) for d in docs.sort("createdAt", ASC).limit(limit)]

    def delete_expired_notifications(self, now, limit: int) -> int:
        """What the TTL monitor does on MongoDB (the embedded store has none): bounded per call."""
        ids = [d["_id"] for d in self.notifications.find({"expiresAt": {"$lte": now}}, {"_id": 1}).limit(limit)]
        return self.notifications.delete_many({"_id": {"$in": ids}}).deleted_count if ids else 0

    def notification_settings_of(self, user_id: str, default_delay: int) -> NotificationSettings:
        doc = self.notification_settings.find_one({"_id": user_id})
        return NotificationSettings.from_mongo(doc) if doc else NotificationSettings(
            id=user_id, emailDelayMinutes=default_delay)

    def update_notification_settings(self, user_id: str, changes: dict[str, Any], default_delay: int
                                     ) -> NotificationSettings:
        doc = self.notification_settings.find_one_and_update(
            {"_id": user_id}, {"$set": changes} if changes else {"$setOnInsert": {"emailDelayMinutes": default_delay}},
            upsert=True, return_document=ReturnDocument.AFTER)
        if "emailDelayMinutes" not in doc:
            doc = self.notification_settings.find_one_and_update(
                {"_id": user_id, "emailDelayMinutes": None}, {"$set": {"emailDelayMinutes": default_delay}},
                return_document=ReturnDocument.AFTER) or doc
        return NotificationSettings.from_mongo(doc)
