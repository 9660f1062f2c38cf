"""Export jobs, claimed through a lease."""
from __future__ import annotations

from typing import Any

from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel, ReturnDocument
from pymongo.database import Database

from infra.storage.lease import Lease
from infra.storage.repository import Repository, newest_first
from schemas.documents import Export


class ExportsRepo(Repository):
    INDEXES = {
        # Exports: a requester's jobs newest first; the clean-up's two questions (done ones past their expiry,
        # running ones whose lease ran out); the records go a while after they ended (purgeAt, TTL).
        "exports": [
            IndexModel([("requestedBy", ASC), ("_id", DESC)], name="requestedBy_id"),
            IndexModel([("status", ASC), ("expiresAt", ASC)], name="status_expiresAt"),
            IndexModel([("status", ASC), ("lease.until", ASC)], name="status_leaseUntil"),
            # The sweeper's question: jobs queued since before a time (never picked up).
            IndexModel([("status", ASC), ("updatedAt", ASC)], name="status_updatedAt"),
            IndexModel([("purgeAt", ASC)], name="purgeAt_ttl", expireAfterSeconds=0),
        ],
    }

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.exports = db["exports"]
        self.lease = Lease(self.exports, token="owner", until="until", within="lease")

    def insert_export(self, export: Export) -> None:
        self.exports.insert_one(export.to_mongo())

    def get_export(self, export_id: str) -> Export | None:
        doc = self.exports.find_one({"_id": export_id})
        return Export.from_mongo(doc) if doc else None

    def exports_of_user(self, user_id: str, *, before: str | None, limit: int) -> tuple[list[Export], bool]:
        query: dict[str, Any] = {"requestedBy": user_id}
        return newest_first(self.exports, query, Export, before=before, limit=limit)

    def claim_export(self, export_id: str, owner: str, now, until) -> Export | None:
        """queued -> running, or a running job whose lease ran out (its worker died) taken over; None when
        the job is finished or another worker holds a live lease. One conditional update: two
        deliveries of the same task cannot both win."""
        doc = self.lease.claim(
            {"_id": export_id, "$or": [{"status": "queued"}, {"status": "running", **self.lease.ran_out(now)}]},
            owner, until, changes={"status": "running", "startedAt": now, "updatedAt": now})
        return Export.from_mongo(doc) if doc else None

    def renew_export(self, export_id: str, owner: str, until, changes: dict[str, Any]) -> bool:
        """Extend our lease (with progress and the like); False when the job is no longer ours to run
        (cancelled, or taken over after our lease ran out)."""
        return self.lease.renew({"_id": export_id, "status": "running"}, owner, until, changes)

    def end_export(self, export_id: str, owner: str, changes: dict[str, Any], *, status: str = "running") -> Export | None:
        """The lease holder's last word (done, failed, or back to queued for a retry); None when the job
        was cancelled or taken over meanwhile."""
        doc = self.lease.finish_and_read({"_id": export_id, "status": status}, owner, {**changes, **self.lease.ended()})
        return Export.from_mongo(doc) if doc else None

    def set_export(self, export_id: str, changes: dict[str, Any], *, statuses: tuple[str, ...]) -> Export | None:
        """Change a job in one of ``statuses``; the job as it was before (None: it was in none of them)."""
        doc = self.exports.find_one_and_update({"_id": export_id, "status": {"$in": list(statuses)}},
                                               {"$set": changes}, return_document=ReturnDocument.BEFORE)
        return Export.from_mongo(doc) if doc else None

    def exports_past_expiry(self, now, limit: int) -> list[Export]:
        return [Export.from_mongo(d) for d in
                self.exports.find({"status": "done", "expiresAt": {"$lte": now}}).limit(limit)]

    def stale_queued_exports(self, before, limit: int) -> list[Export]:
        """Jobs still queued (never picked up, or put back by a retry that never came) since before ``before``."""
        return [Export.from_mongo(d) for d in
                self.exports.find({"status": "queued", "updatedAt": {"$lt": before}}).limit(limit)]

    def settle_export(self, export: Export, changes: dict[str, Any]) -> Export | None:
        """Change the job as read (same status, updatedAt and lease: nobody moved it since), for the sweeper."""
        lease = {"lease.until": export.lease.until} if export.lease else {"lease": None}
        doc = self.exports.find_one_and_update(
            {"_id": export.id, "status": export.status, "updatedAt": export.updatedAt, **lease},
            {"$set": changes}, return_document=ReturnDocument.AFTER)
        return Export.from_mongo(doc) if doc else None

    def exports_with_stale_lease(self, now, limit: int) -> list[Export]:
        return [Export.from_mongo(d) for d in
                self.exports.find({"status": "running", "lease.until": {"$lt": now}}).limit(limit)]
