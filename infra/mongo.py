"""The MongoDB database: one Store per process and database, with its indexes ensured once."""
from __future__ import annotations

import threading
from typing import Callable

import pymongo
from pymongo.database import Database

from infra.config import Settings
from infra.crypto import MasterKeys
from infra.storage import Store

_lock = threading.Lock()
_stores: dict[str, Store] = {}


def get_store(key: str, open_database: Callable[[], Database], master: MasterKeys | None = None,
              encrypt_all: bool = False) -> Store:
    """The process's Store for ``key`` (a URL, or "embedded"): on the first call, on ``open_database()``,
    with its indexes ensured."""
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = Store(open_database(), master, encrypt_all)
            store.ensure_indexes()
        return store


def server_database(settings: Settings) -> Database:
    """The database on the MongoDB server at MONGO_URL."""
    client = pymongo.MongoClient(settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000,
                                 appname="chat-pipeline")
    return client[settings.mongo_db]
