"""The messages repository's search query: words and stems looked up exactly, the prefix as an escaped,
anchored literal, the retired text index dropped; and, on a real MongoDB, the plan it runs."""
from __future__ import annotations

import os
import uuid

import pytest
from bson.regex import Regex
from pymongo import IndexModel, TEXT

from infra.embedded.mongo import embedded_client
from infra.storage import Store, WordMatch
from schemas.common import utcnow
from schemas.documents import Message, SenderInfo

CONVS = ["c" * 24, "d" * 24]


def fill(store: Store, words_of: list[list[str]]) -> None:
    now = utcnow()
    store.db.messages.insert_many([
        Message(id=uuid.uuid4().hex[:24], convId=CONVS[n % 2], seq=n // 2 + 1, clientId=f"m{n}", senderId="e" * 24,
                senderInfo=SenderInfo(username="ann"), content=" ".join(w), words=w, language="english",
                createdAt=now, updatedAt=now).to_mongo() for n, w in enumerate(words_of)])


def contents(store: Store, words: list[WordMatch], excluded=(), convs=CONVS, **kw) -> list[str]:
    return [m.content for m in store.messages.search(convs, words, list(excluded), across=len(convs) > 1, limit=50,
                                                     **kw).messages]


@pytest.fixture
def store() -> Store:
    s = Store(embedded_client()["search"])
    s.ensure_indexes()
    fill(s, [["a+b", "x"], ["aab", "x"], ["checkout", ":en:checkout"], ["check", ":en:check", "x"]])
    return s


def test_a_prefix_is_a_literal_not_a_pattern(store):
    assert contents(store, [WordMatch((), prefix="a+")]) == ["a+b x"]
    assert contents(store, [WordMatch((), prefix="che")], convs=[CONVS[0]]) == ["checkout :en:checkout"]


def test_every_word_must_match_and_exclusions_hold(store):
    assert contents(store, [WordMatch(("x",)), WordMatch((), prefix="ch")]) == ["check :en:check x"]
    assert contents(store, [WordMatch(("x",))], excluded=["aab"], convs=[CONVS[0]]) == ["a+b x"]
    # A stem is stored behind ":" (a delimiter no word holds): a prefix never reaches it.
    assert contents(store, [WordMatch((), prefix="en")]) == []


def test_a_search_needs_a_word(store):
    with pytest.raises(ValueError):
        contents(store, [])


def test_the_retired_text_index_is_dropped():
    store = Store(embedded_client()["retired"])
    store.db.messages.create_indexes([IndexModel([("convId", 1), ("content", TEXT)], name="convId_content_text")])
    store.ensure_indexes()
    names = set(store.db.messages.index_information())
    assert "convId_content_text" not in names and "convId_words_seq" in names


needs_mongo = pytest.mark.skipif(not os.environ.get("MONGO_URL"), reason="needs a real MongoDB: set MONGO_URL")


@pytest.mark.mongo
@needs_mongo
def test_mongodb_runs_the_search_on_its_index():
    import pymongo

    client = pymongo.MongoClient(os.environ["MONGO_URL"], tz_aware=True)
    name = f"chat_test_{uuid.uuid4().hex[:8]}"
    try:
        store = Store(client[name])
        store.ensure_indexes()
        fill(store, [["a+b", "x"], ["aab", "x"], ["checkout", ":en:checkout"], ["check", ":en:check", "x"]])
        assert contents(store, [WordMatch((), prefix="a+")]) == ["a+b x"]
        assert contents(store, [WordMatch(("x",)), WordMatch((), prefix="ch")]) == ["check :en:check x"]
        query = {"convId": {"$in": CONVS}, "isDeleted": False, "type": {"$ne": "system"},
                 "$and": [{"words": {"$in": ["x", Regex("^ch")]}}]}
        plan = store.db.messages.find(query).sort("_id", -1).limit(5).explain()["queryPlanner"]["winningPlan"]
        assert "convId_words_seq" in str(plan) and "COLLSCAN" not in str(plan)
    finally:
        client.drop_database(name)
