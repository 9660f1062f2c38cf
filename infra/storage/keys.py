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

    def rewrap(self, key_id: str, master_id: str, wrapped: bytes) -> None:
        self.data_keys.update_one({"_id": key_id}, {"$set": {"masterKeyId": master_id, "wrapped": Binary(wrapped)}})

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
