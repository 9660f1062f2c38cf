"""What every repository shares: its database and the indexes it declares for its collections."""
from __future__ import annotations

from typing import ClassVar

from pymongo import IndexModel
from pymongo.database import Database


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
