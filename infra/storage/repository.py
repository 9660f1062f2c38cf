"""What every repository shares: its database and the indexes it declares for its collections."""
from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import pymongo
from pymongo import DESCENDING as DESC, IndexModel
from pymongo.collection import Collection
from pymongo.database import Database

M = TypeVar("M")  # a schemas.documents model (from_mongo)


class Repository:
    """One area's collections and queries. Each query is served by one of the indexes declared in
    ``INDEXES`` (collection name -> its indexes; no collection scans) and takes a bounded number of
    documents."""

    INDEXES: ClassVar[dict[str, list[IndexModel]]] = {}

    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure_indexes(self) -> None:
        for name, models in self.INDEXES.items():
            self.db[name].create_indexes(models)


def insert_once(collection: Collection, doc: dict[str, Any]) -> bool:
    """Insert unless a unique index already holds its key (a retry, a redelivery): False then."""
    try:
        collection.insert_one(doc)
        return True
    except pymongo.errors.DuplicateKeyError:
        return False


def newest_first(collection: Collection, query: dict[str, Any], model: type[M], *, before: str | None,
                 limit: int) -> tuple[list[M], bool]:
    """One page of ``query``'s documents, newest first by _id (ObjectIds grow with time), older than
    ``before`` (the last id of the previous page), and whether more remain."""
    if before:
        query["_id"] = {"$lt": before}
    docs = list(collection.find(query).sort("_id", DESC).limit(limit + 1))
    return [model.from_mongo(d) for d in docs[:limit]], len(docs) > limit
