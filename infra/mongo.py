"""The MongoDB database: a real server from MONGO_URL, else the embedded in-memory one (one per process)."""
from __future__ import annotations

import logging
import threading

import pymongo
from pymongo.database import Database

from infra.config import Settings
from infra.store import Store

log = logging.getLogger(__name__)
_lock = threading.Lock()
_stores: dict[str, Store] = {}


def get_store(settings: Settings) -> Store:
    """One Store per process and URL, with its indexes ensured."""
    key = settings.mongo_url or "embedded"
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = Store(_database(settings))
            store.ensure_indexes()
        return store


def _database(settings: Settings) -> Database:
    if settings.mongo_url:
        client = pymongo.MongoClient(settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000,
                                     appname="chat-pipeline")
        return client[settings.mongo_db]
    from infra.embedded.mongo import embedded_client
    log.warning("MONGO_URL is not set: using the embedded in-memory store. "
                "Data will NOT survive a restart; web and workers run in one process.")
    return embedded_client()[settings.mongo_db]
