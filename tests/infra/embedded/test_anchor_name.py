"""The speed anchor (../shared/tools/bare_chat.py) imports the embedded store as
``infra.embedded_mongo.embedded_client``; without that name it silently measures plain mongomock instead."""
import pymongo
import pytest

from infra.embedded_mongo import embedded_client


def test_the_anchor_gets_the_embedded_store_with_its_unique_indexes():
    messages = embedded_client().chat.messages
    messages.create_index([("convId", 1), ("clientId", 1)], unique=True)
    messages.insert_one({"convId": "c", "clientId": "k", "seq": 1})
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        messages.insert_one({"convId": "c", "clientId": "k", "seq": 2})
    assert type(messages.database.client._store).__name__ == "_ServerStore"
