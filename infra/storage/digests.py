"""Email digests: the windows that collect a user's events, and the digests claimed through a lease."""
from __future__ import annotations

from typing import Any

import pymongo
from pymongo import ASCENDING as ASC, IndexModel
from pymongo.database import Database

from infra.storage.lease import Lease
from infra.storage.repository import Repository, insert_once
from schemas.documents import Digest, EmailWindow


class DigestsRepo(Repository):
    INDEXES = {
        "email_windows": [IndexModel([("dueAt", ASC)], name="dueAt")],
        # The sweep's question: open digests to look at again (pending: the next attempt is due; claimed: the
        # lease ran out), by ``retryAt``.
        "digests": [IndexModel([("status", ASC), ("retryAt", ASC)], name="status_retryAt")],
    }

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.email_windows = db["email_windows"]
        self.digests = db["digests"]
        self.notification_settings = db["notification_settings"]
        self.lease = Lease(self.digests)  # while claimed, retryAt is the lease's end too

    def touch_email_window(self, user_id: str, at, due_at) -> None:
        """Open the user's window at ``at`` (due at ``due_at``), or record the event in the open one. The
        notification tasks of consecutive batches can run in either order, so an event earlier than the
        window's opening moves it back (and its due time): the digest covers from the earliest event."""
        for _ in range(2):  # two first events at once: one inserts, the other updates
            try:
                self.email_windows.update_one(
                    {"_id": user_id}, {"$setOnInsert": {"userId": user_id},
                                       "$min": {"openedAt": at, "dueAt": due_at},
                                       "$max": {"lastEventAt": at}}, upsert=True)
                return
            except pymongo.errors.DuplicateKeyError:
                continue

    def due_email_windows(self, now, limit: int) -> list[EmailWindow]:
        docs = self.email_windows.find({"dueAt": {"$lte": now}}).sort("dueAt", ASC).limit(limit)
        return [EmailWindow.from_mongo(d) for d in docs]

    def close_email_window(self, window: EmailWindow, up_to, next_due) -> bool:
        """The window as read is closed by a digest covering it up to ``up_to``: deleted if no event came
        after that, otherwise moved on to start there (the next digest covers what came later). False if
        it changed meanwhile."""
        if self.email_windows.delete_one({"_id": window.id, "openedAt": window.openedAt,
                                          "lastEventAt": {"$lte": up_to}}).deleted_count:
            return True
        return self.email_windows.update_one(
            {"_id": window.id, "openedAt": window.openedAt},
            {"$set": {"openedAt": up_to, "dueAt": next_due}}).modified_count == 1

    def insert_digest_once(self, digest: Digest) -> bool:
        return insert_once(self.digests, digest.to_mongo())

    def get_digest(self, digest_id: str) -> Digest | None:
        doc = self.digests.find_one({"_id": digest_id})
        return Digest.from_mongo(doc) if doc else None

    def claim_digest(self, digest_id: str, now, lease_until, token: str, max_attempts: int) -> Digest | None:
        """pending and due (``retryAt`` passed), or claimed by a worker whose lease ran out -> claimed by
        ``token``, one attempt more; never past ``max_attempts``. The attempt count lives here, so the
        cap holds whatever the number of tasks that carry the digest (redeliveries, the sweep's resends)."""
        doc = self.lease.claim(
            {"_id": digest_id, "attempts": {"$lt": max_attempts}, "status": {"$in": ["pending", "claimed"]},
             "$or": [{"retryAt": {"$lte": now}}, {"retryAt": None}]},  # (None: a digest made before retryAt)
            token, lease_until, changes={"status": "claimed", "retryAt": lease_until, "updatedAt": now})
        return Digest.from_mongo(doc) if doc else None

    def finish_digest(self, digest_id: str, token: str, status: str, at, **fields) -> bool:
        """The claim holder's last word (sent, skipped, failed); False when the claim is no longer its own."""
        return self.lease.finish({"_id": digest_id, "status": "claimed"}, token,
                                 {"status": status, "updatedAt": at, **self.lease.ended(), "retryAt": None, **fields})

    def release_digest(self, digest_id: str, token: str, error: str, at, retry_at) -> bool:
        """A failed attempt that will be retried: claimable again from ``retry_at``, the reason kept."""
        return self.lease.release({"_id": digest_id, "status": "claimed"}, token,
                                  {"status": "pending", "retryAt": retry_at, "error": error, "updatedAt": at})

    def stale_digests(self, older_than, limit: int) -> list[Digest]:
        """Open digests to look at again: pending since before ``older_than`` (their task was lost) or
        claimed with a lease that ran out before it (their worker died)."""
        docs = []
        for status in ("pending", "claimed"):
            docs += list(self.digests.find({"status": status, "retryAt": {"$lt": older_than}}).limit(limit))
        return [Digest.from_mongo(d) for d in docs[:limit]]

    def fail_stale_digest(self, digest: Digest, at, error: str) -> bool:
        """Fail a digest as read (same status and retryAt: nobody moved it since), for the sweeper."""
        return self.digests.update_one(
            {"_id": digest.id, "status": digest.status, "retryAt": digest.retryAt},
            {"$set": {"status": "failed", "error": error, "claimedUntil": None, "retryAt": None, "updatedAt": at}}
        ).modified_count == 1

    def record_email_outcome(self, user_id: str, up_to, outcome: dict[str, Any]) -> None:
        self.notification_settings.update_one({"_id": user_id}, {"$max": {"emailedUpTo": up_to},
                                                                 "$set": {"lastEmail": outcome}}, upsert=True)
