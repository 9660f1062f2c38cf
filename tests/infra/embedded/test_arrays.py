"""The embedded store's inverted map for array fields answers $in of strings and regexes like mongomock's
filter, and reads only the strings it needs."""
from __future__ import annotations

import random

import mongomock
from bson.regex import Regex

from infra.embedded.arrays import literal_prefix
from infra.embedded.mongo import embedded_client


def test_a_literal_prefix_is_read_from_an_anchored_regex():
    assert literal_prefix("^che") == "che"
    assert literal_prefix("^a\\+b\\.") == "a+b."
    assert literal_prefix("^") == ""
    for pattern in ("che", "^a.b", "^a\\d", "^a\\", "^(a|b)", "^a*"):
        assert literal_prefix(pattern) is None, pattern


def test_searches_on_an_array_index_agree_with_plain_mongomock():
    plain = mongomock.MongoClient()["t"]["m"]
    indexed = embedded_client()["t"]["m"]
    rnd = random.Random(3)
    vocabulary = ["check", "checkout", "cheque", "a+b", "aab", ":en:check", "Check", "ché", "x"]
    for coll in (plain, indexed):
        coll.create_index([("convId", 1), ("words", 1), ("seq", -1)])
    for n in range(300):
        words = rnd.sample(vocabulary, rnd.randrange(4)) if n % 10 else rnd.choice([None, "check", 7, [["check"]]])
        doc = {"_id": n, "convId": f"c{n % 4}", "seq": n, **({"words": words} if n % 17 else {})}
        for coll in (plain, indexed):
            coll.insert_one(dict(doc))
        if n % 25 == 0:  # words change, and documents go
            for coll in (plain, indexed):
                coll.update_one({"_id": n // 2}, {"$set": {"words": ["cheque", "x"]}})
                coll.delete_one({"_id": n // 3})
    queries = [{"convId": "c1", "words": {"$in": ["check"]}},
               {"convId": {"$in": ["c1", "c2"]}, "words": {"$in": [Regex("^che")]}},
               {"convId": "c0", "$and": [{"words": {"$in": ["x"]}}, {"words": {"$in": [Regex("^a\\+")]}}]},
               {"convId": {"$in": ["c3"]}, "words": {"$in": [Regex("^ch.q")]}},
               {"convId": "c2", "words": {"$in": [Regex("^")]}}, {"convId": "c2", "words": {"$in": []}}]
    for query in queries:
        assert list(plain.find(query).sort("_id", 1)) == list(indexed.find(query).sort("_id", 1)), query
