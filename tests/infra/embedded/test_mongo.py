"""The embedded store's hash indexes return exactly what plain mongomock returns, only faster."""
from __future__ import annotations

import random
import threading
import time

import mongomock
import pytest
from bson.regex import Regex
from pymongo.errors import DuplicateKeyError

from infra.embedded.mongo import embedded_client


def _pair():
    plain = mongomock.MongoClient()["t"]["m"]
    indexed = embedded_client()["t"]["m"]
    for coll in (plain, indexed):
        coll.create_index([("convId", 1), ("seq", 1)], unique=True)
        coll.create_index([("tag", 1)])
        coll.create_index([("convId", 1), ("tag", 1)])  # (an array index once a tag is a list)
    return plain, indexed


def test_random_operations_agree_with_plain_mongomock():
    plain, indexed = _pair()
    rnd = random.Random(7)
    for step in range(700):
        op = rnd.random()
        conv, seq = f"c{rnd.randrange(6)}", rnd.randrange(40)
        if op < 0.45:
            # (now and then a fractional, float, boolean or missing seq: integer ranges must find what
            # they match, and only that; arrays of tags are looked for by equality on a tag)
            value = rnd.choice([seq] * 8 + [seq + 0.5, float(seq), bool(seq % 2), None])
            doc = {"_id": step, "convId": conv, "seq": value, "tag": rnd.choice(["a", "b", None, ["x", "y"]])}
            outcomes = []
            for coll in (plain, indexed):
                try:
                    coll.insert_one(dict(doc))
                    outcomes.append("ok")
                except DuplicateKeyError:
                    outcomes.append("dup")
            assert outcomes[0] == outcomes[1]
        elif op < 0.55:  # many documents, no unique key touched: the result is order-independent
            update = rnd.choice([{"$set": {"tag": "b"}}, {"$unset": {"tag": ""}}, {"$set": {"tag": ["x"]}}])
            assert plain.update_many({"convId": conv, "seq": {"$gte": seq}}, update).modified_count == \
                indexed.update_many({"convId": conv, "seq": {"$gte": seq}}, update).modified_count
        elif op < 0.6:  # one document moved to another bucket, maybe onto a taken unique key
            target = {"_id": rnd.randrange(step + 1)}
            update = rnd.choice([{"$set": {"convId": f"c{rnd.randrange(6)}"}}, {"$inc": {"seq": 1}}])
            results = []
            for coll in (plain, indexed):
                try:
                    results.append(coll.update_one(target, update).modified_count)
                except DuplicateKeyError:
                    results.append("dup")
            assert results[0] == results[1]
        elif op < 0.7:
            assert plain.delete_many({"convId": conv, "seq": seq}).deleted_count == \
                indexed.delete_many({"convId": conv, "seq": seq}).deleted_count
        for query in ({"convId": conv}, {"convId": conv, "seq": seq}, {"tag": "a"}, {"tag": None},
                      {"tag": "x"}, {"convId": conv, "seq": {"$lt": seq}},
                      # bounded integer ranges (answered by point lookups per integer)
                      {"convId": conv, "seq": {"$gte": seq, "$lte": seq + 7}},
                      {"convId": conv, "seq": {"$gt": seq - 3, "$lt": seq + 3}},
                      {"convId": conv, "seq": {"$gte": seq, "$lt": seq}},
                      # a batch of point lookups by _id (the hash map of _id)
                      {"_id": {"$in": [seq, step, seq * 3, float(seq), True]}},
                      {"_id": {"$in": [seq, step - 1]}, "convId": conv},
                      # a list of values for an index's first field (the buckets of those values)
                      {"convId": {"$in": [conv, "c1", conv]}}, {"convId": {"$in": [conv]}, "seq": {"$lt": seq}},
                      {"tag": {"$in": ["a", None]}}, {"tag": {"$in": ["x"]}}, {"convId": {"$in": []}},
                      # $in of strings and anchored regexes, screened before the filter
                      {"convId": conv, "tag": {"$in": ["y", Regex("^a")]}},
                      {"convId": {"$in": [conv, "c2"]}, "$and": [{"tag": {"$in": ["x"]}}, {"tag": {"$in": ["y"]}}]},
                      {"convId": conv, "$and": [{"tag": {"$in": [Regex("^b"), "a"]}}, {"tag": {"$nin": ["a"]}}]}):
            assert list(plain.find(query).sort("_id", 1)) == list(indexed.find(query).sort("_id", 1)), query
        # A limited read (copies only what it returns) gives the slice of the unlimited one.
        skip, limit = rnd.randrange(3), rnd.choice([1, 2, 5, -1])
        page = {"convId": conv, "seq": {"$gte": seq // 2}}
        everything = list(indexed.find(page).sort([("seq", -1), ("_id", 1)]))
        assert list(indexed.find(page).sort([("seq", -1), ("_id", 1)]).skip(skip).limit(limit)) == \
            everything[skip:skip + abs(limit)]


def test_unique_insert_and_lookup_do_not_scan_the_collection(monkeypatch):
    """With 10,000 documents, a unique insert and a point lookup examine a handful of them."""
    import infra.embedded.mongo as em

    coll = embedded_client()["t"]["m"]
    coll.create_index([("convId", 1), ("seq", 1)], unique=True)
    coll.insert_many([{"convId": f"c{i % 100}", "seq": i} for i in range(10_000)])
    examined = []
    monkeypatch.setattr(em, "filter_applies", lambda f, d: examined.append(d) or _applies(f, d))

    coll.insert_one({"convId": "hot", "seq": 1})
    assert coll.find_one({"convId": "c7", "seq": 7})["seq"] == 7
    assert len(list(coll.find({"convId": "c7"}))) == 100
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"convId": "c7", "seq": 7})
    # 1 (insert's unique check) + 1 (point lookup) + 100 (the conversation) + 2 (duplicate check)
    assert len(examined) <= 110, len(examined)


def test_a_bounded_integer_range_examines_only_its_documents(monkeypatch):
    """Exports read a conversation 500 seqs at a time: each window costs its own documents only."""
    import infra.embedded.mongo as em

    coll = embedded_client()["t"]["m"]
    coll.create_index([("convId", 1), ("seq", 1)], unique=True)
    coll.insert_many([{"convId": "c", "seq": i} for i in range(1, 20_001)] + [{"convId": "c", "seq": 7.5}])
    examined = []
    monkeypatch.setattr(em, "filter_applies", lambda f, d: examined.append(d) or _applies(f, d))
    window = list(coll.find({"convId": "c", "seq": {"$gte": 501, "$lte": 1000}}).sort("seq", 1))
    assert [d["seq"] for d in window] == list(range(501, 1001))
    # The window's documents match by construction: only the one fractional seq kept aside is examined.
    assert [d["seq"] for d in examined] == [7.5]
    assert [d["seq"] for d in coll.find({"convId": "c", "seq": {"$gt": 7, "$lt": 8}})] == [7.5]


def _applies(f, d):
    from mongomock.filtering import filter_applies
    return filter_applies(f, d)


def test_a_limited_read_copies_only_the_documents_it_returns(monkeypatch):
    coll = embedded_client()["t"]["m"]
    coll.create_index([("convId", 1), ("seq", 1)], unique=True)
    coll.insert_many([{"convId": "c", "seq": i} for i in range(500)])
    copies = []
    original = mongomock.collection.Collection._copy_only_fields
    monkeypatch.setattr(mongomock.collection.Collection, "_copy_only_fields",
                        lambda self, doc, *a: copies.append(doc["seq"]) or original(self, doc, *a))
    newest = list(coll.find({"convId": "c"}).sort("seq", -1).limit(50))
    assert [d["seq"] for d in newest] == list(range(499, 449, -1))
    assert sorted(copies) == list(range(450, 500))
    assert coll.find_one({"convId": "c", "seq": 7})["seq"] == 7


def test_a_read_returns_copies_with_their_time_zone():
    """Reads share nothing mutable with the store, and every datetime, however deep, comes back in UTC."""
    from datetime import datetime, timezone

    coll = embedded_client()["t"]["m"]
    coll.create_index([("convId", 1), ("seq", 1)], unique=True)
    at = datetime(2026, 12, 1, 12, 30)
    coll.insert_one({"convId": "c", "seq": 1, "at": at, "edits": [{"at": at, "tags": ["a"]}], "meta": {"at": [at]}})
    for read in (lambda: coll.find_one({"convId": "c", "seq": 1}),
                 lambda: list(coll.find({"convId": "c", "seq": {"$gte": 1, "$lte": 3}}))[0],
                 lambda: coll.find({"convId": "c"}, {"edits": {"$slice": 1}, "at": 1}).next()):
        doc = read()
        assert doc["at"] == at.replace(tzinfo=timezone.utc) and doc["at"].utcoffset().total_seconds() == 0
        assert doc["edits"][0]["at"].tzinfo is not None
        doc["edits"][0]["tags"].append("changed")
        doc["edits"].append({"at": at})
        if "meta" in doc:
            assert doc["meta"]["at"][0].tzinfo is not None
            doc["meta"]["at"].clear()
    stored = coll.find_one({"convId": "c", "seq": 1})
    assert stored["edits"] == [{"at": at.replace(tzinfo=timezone.utc), "tags": ["a"]}]
    assert stored["meta"] == {"at": [at.replace(tzinfo=timezone.utc)]}
    assert coll._store._documents[stored["_id"]]["at"].tzinfo is None  # stored as mongomock stores it


@pytest.mark.parametrize("write", ["find_one_and_update", "update_one"])
def test_a_conditional_write_is_atomic_between_threads(monkeypatch, write):
    # mongomock finds, then writes by _id: a pause between the two (here a slow find) let two threads
    # both pass {status: "pending"}. Under the collection's lock exactly one does, as on MongoDB.
    coll = embedded_client()["t"]["reviews"]
    coll.insert_one({"_id": "r1", "status": "pending"})
    original = mongomock.collection.Collection._iter_documents

    def slow_iter_documents(self, filter):  # (every find goes through it: find_one's too)
        found = list(original(self, filter))
        time.sleep(0.05)
        return iter(found)

    monkeypatch.setattr(mongomock.collection.Collection, "_iter_documents", slow_iter_documents)
    barrier, outcomes = threading.Barrier(2), {}

    def decide(status):
        barrier.wait()
        pending = {"_id": "r1", "status": "pending"}
        if write == "find_one_and_update":
            outcomes[status] = coll.find_one_and_update(pending, {"$set": {"status": status}}) is not None
        else:
            outcomes[status] = coll.update_one(pending, {"$set": {"status": status}}).modified_count == 1

    threads = [threading.Thread(target=decide, args=(s,)) for s in ("approved", "rejected")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [status for status, won in outcomes.items() if won]
    assert len(outcomes) == 2 and len(winners) == 1
    assert coll.find_one({"_id": "r1"})["status"] == winners[0]
