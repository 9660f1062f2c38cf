"""Data keys of encryption at rest (infra.crypto): one per conversation, stored wrapped by a master key."""
from __future__ import annotations

from typing import Any, Iterator

from bson.binary import Binary
from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel

from infra.storage.repository import Repository, insert_once


class KeysRepo(Repository):
    INDEXES = {
        "data_keys": [
            # A scope's (a conversation's) keys, newest version first; unique so two first writes racing
            # cannot both make one.
            IndexModel([("scope", ASC), ("version", DESC)], name="scope_version", unique=True),
            # The rotation's walk (the keys a retired master key still wraps, in _id order) and its status
            # (how many keys per master key id: a covered count on the index's first field).
            IndexModel([("masterKeyId", ASC), ("_id", ASC)], name="masterKeyId_id"),
            # The keys whose conversation's earlier texts are still to seal (pipelines.upkeep.sealing): those
            # without sealedAt (a null key in this index).
            IndexModel([("sealedAt", ASC)], name="sealedAt"),
        ],
    }

    def __init__(self, db) -> None:
        super().__init__(db)
        self.data_keys = db["data_keys"]

    def find_key(self, key_id: str) -> dict[str, Any] | None:
        return self.data_keys.find_one({"_id": key_id})

    def current_key(self, scope: str) -> dict[str, Any] | None:
        return self.data_keys.find_one({"scope": scope}, sort=[("version", DESC)])

    def insert_key(self, doc: dict[str, Any]) -> bool:
        return insert_once(self.data_keys, doc)

    def all_keys(self, batch: int = 500) -> Iterator[dict[str, Any]]:
        """Every data key, in _id order (the rotation's walk)."""
        return self.data_keys.find({}).sort("_id", ASC).batch_size(batch)

    def rewrap(self, key_id: str, master_id: str, wrapped: bytes, was: str | None = None) -> bool:
        """Store a data key wrapped again; with ``was``, only if it is still wrapped by that master key (two
        rotations at once: one writes, the other changes nothing). True when it was written."""
        query = {"_id": key_id} if was is None else {"_id": key_id, "masterKeyId": was}
        result = self.data_keys.update_one(query, {"$set": {"masterKeyId": master_id, "wrapped": Binary(wrapped)}})
        return result.modified_count == 1

    def count_by_master(self) -> dict[str, int]:
        """How many data keys each master key id wraps."""
        rows = self.data_keys.aggregate([{"$sort": {"masterKeyId": 1}}, {"$project": {"_id": 0, "masterKeyId": 1}},
                                         {"$group": {"_id": "$masterKeyId", "keys": {"$sum": 1}}}])
        return {row["_id"]: row["keys"] for row in rows}

    def keys_wrapped_by(self, master_id: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        """A batch of the data keys ``master_id`` wraps, in _id order after ``after`` (masterKeyId_id)."""
        query: dict[str, Any] = {"masterKeyId": master_id}
        if after is not None:
            query["_id"] = {"$gt": after}
        return list(self.data_keys.find(query).sort([("masterKeyId", ASC), ("_id", ASC)]).limit(limit))

    # -- the sealing walk (pipelines.upkeep.sealing) and search ------------------------------------------
    def scopes_with_keys(self, scopes: list[str]) -> set[str]:
        """Those of ``scopes`` (conversation ids) that have a data key: one read of the scope index."""
        if not scopes:
            return set()
        return {d["scope"] for d in self.data_keys.find({"scope": {"$in": scopes}}, {"_id": 0, "scope": 1})}

    def keys_to_seal(self, limit: int) -> list[dict[str, Any]]:
        """Data keys whose conversation may still hold texts stored before it had the key."""
        return list(self.data_keys.find({"sealedAt": None}, {"wrapped": 0}).limit(limit))

    def set_seal_progress(self, key_id: str, progress: dict[str, Any]) -> None:
        """Where the walk of the key's conversation stands (kept between runs)."""
        self.data_keys.update_one({"_id": key_id}, {"$set": {"sealWalk": progress}})

    def mark_sealed(self, key_id: str, at) -> None:
        self.data_keys.update_one({"_id": key_id}, {"$set": {"sealedAt": at}})
