"""The embedded, in-memory MongoDB: mongomock with hash indexes, so that lookups cost what they cost on a server.

mongomock answers every query and every unique-index check by scanning the whole collection
(17 ms per insert at 5,000 documents, measured), which no chat can live with. Here each index
declared with ``create_index`` also gets hash maps on each of its key prefixes (for
``(convId, seq)``: ``convId`` and ``convId, seq``). A query whose filter pins every field of such
a prefix to a plain value scans that bucket only; the full filter is still applied to every
candidate, so a bucket can hold too much but never too little. Everything else falls back to
mongomock's own scan. Nothing here changes what a query returns.

A bounded range of integers on the field that follows a pinned prefix (``{convId: c, seq: {$gte: 1,
$lte: 500}}``, how exports walk a conversation) is answered by one point lookup per integer in the
``(convId, seq)`` map, when the range spans at most ``RANGE_LOOKUPS`` values: without it, reading a large
conversation 500 at a time would examine every one of its messages per batch. Documents whose value
there is a number but not an integer (a float, a Decimal128, a bool: what such a range could match, or
what shares an integer's hash without matching it) are kept aside and always examined.

When the filter is nothing but such a prefix (pinned to strings or ObjectIds, and optionally that integer
range), the documents found in the maps match it by construction and skip mongomock's filter; documents
that are not in the maps (arrays, documents) and the numbers kept aside still go through it. And each
document read is copied in one pass that shares immutable leaves and sets the time zone (mongomock
calls ``copy.copy`` on every leaf, then copies again for the time zone): the two cost mongomock 23 µs
of the 53 µs it spent per message of a 100,000-message export (its filter another 17).

It also answers ``$text`` queries, which mongomock does not know: a text index's options are kept
(mongomock drops ``default_language``), and a ``$text`` filter is matched with MongoDB's semantics
rebuilt in ``infra.embedded.text_search``. As on a server, a compound text index needs equality on its prefix
fields, which is also what lets the query read one bucket (one conversation) instead of the collection.
A list of values for an index's first field (``{convId: {$in: [...]}}``) reads those values' buckets.
"""
from __future__ import annotations

import copy
import functools
import gc
import itertools
import threading
import time
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any

import mongomock
from bson import Decimal128, ObjectId
from mongomock import collection as mm_collection
from mongomock import OperationFailure, helpers, store as mm_store
from mongomock.filtering import filter_applies

from infra.embedded import text_search
from infra.embedded.arrays import ANY, ArrayIndex, in_conditions, in_screens, strings_and_patterns

_MISSING = object()


_SCALARS = frozenset({str, int, float, bool, type(None), ObjectId, datetime})
RANGE_LOOKUPS = 10_000


def _int_bounds(condition: Any) -> tuple[int, int] | None:
    """``(low, high)`` inclusive when ``condition`` is only $gt/$gte/$lt/$lte on integers, bounded on
    both sides and spanning at most RANGE_LOOKUPS integers; otherwise None."""
    if not isinstance(condition, dict) or not condition or not set(condition) <= {"$gt", "$gte", "$lt", "$lte"}:
        return None
    if any(type(v) is not int for v in condition.values()):
        return None
    lows = [condition["$gte"]] if "$gte" in condition else []
    lows += [condition["$gt"] + 1] if "$gt" in condition else []
    highs = [condition["$lte"]] if "$lte" in condition else []
    highs += [condition["$lt"] - 1] if "$lt" in condition else []
    if not lows or not highs:
        return None
    low, high = max(lows), min(highs)
    return (low, high) if high - low < RANGE_LOOKUPS else None


def _numeric_not_int(value: Any) -> bool:
    return isinstance(value, (float, Decimal128, bool))


_EXACT = frozenset({str, ObjectId})  # equality on these matches exactly the values sharing their hash


def _value(doc: dict, field: str) -> Any:
    if "." not in field:
        return doc.get(field)  # MongoDB indexes a missing field as null, and {field: None} matches it
    try:
        return helpers.get_value_by_dot(doc, field)
    except KeyError:
        return None


def _plain(value: Any) -> bool:
    """A value that equality on an indexed field matches exactly (not an operator, array or document)."""
    if type(value) in _SCALARS:
        return True
    return isinstance(value, Hashable) and not isinstance(value, (list, dict, tuple))


def _array_entry(array: ArrayIndex, doc: dict) -> tuple:
    head = _value(doc, array.head)
    return array.entry(head if _plain(head) else ANY, _value(doc, array.field))


class IndexedCollectionStore(mm_store.CollectionStore):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._lock = threading.RLock()
        self._prefixes: list[tuple[str, ...]] = []
        self._fields: list[str] = []
        self._maps: dict[tuple[str, ...], dict[tuple, dict[Any, None]]] = {}
        self._unhashed: dict[tuple[str, ...], dict[Any, None]] = {}
        # Per prefix: documents whose last field holds a number that is not an int (see _numeric_not_int).
        self._fractional: dict[tuple[str, ...], dict[Any, None]] = {}
        self._doc_keys: dict[Any, list[tuple[tuple[str, ...], tuple | None]]] = {}
        # Two-field prefixes whose second field holds arrays (a multikey index such as (convId, words)):
        # made the first time a document holds a list there.
        self._arrays: dict[tuple[str, ...], ArrayIndex] = {}
        self._doc_arrays: dict[Any, dict[tuple[str, ...], tuple]] = {}
        self.text_languages: dict[str, tuple[str, str]] = {}  # text index name -> (default_language,
        #                                                       language_override)

    # mongomock walks every document of a collection with a TTL index on *every* read to drop expired
    # ones (O(n) per query). Reads that care filter expired documents themselves (as they must on
    # MongoDB, whose TTL monitor runs once a minute), so once every few seconds is plenty here.
    TTL_SWEEP_SECONDS = 5.0
    _ttl_swept_at = 0.0

    def _remove_expired_documents(self):
        now = time.monotonic()
        if now - self._ttl_swept_at < self.TTL_SWEEP_SECONDS:
            return
        self._ttl_swept_at = now
        super()._remove_expired_documents()

    # -- index definitions -------------------------------------------------------------------
    def create_index(self, index_name, index_dict):
        super().create_index(index_name, index_dict)
        self._rebuild()

    def drop_index(self, index_name):
        super().drop_index(index_name)
        self._rebuild()

    def drop(self):
        super().drop()
        self._rebuild()

    def _rebuild(self) -> None:
        prefixes: set[tuple[str, ...]] = set()
        for index in self.indexes.values():
            fields = []
            for field, direction in index.get("key", []):
                if direction not in (1, -1) or index.get("partialFilterExpression"):
                    break  # text, hashed, geo or partial indexes: no hash map
                fields.append(field)
                prefixes.add(tuple(fields))
        with self._lock:
            self._prefixes = sorted(prefixes, key=len, reverse=True)
            self._fields = sorted({f for p in prefixes for f in p})
            self._maps = {p: {} for p in self._prefixes}
            self._unhashed = {p: {} for p in self._prefixes}
            self._fractional = {p: {} for p in self._prefixes}
            self._doc_keys = {}
            self._arrays, self._doc_arrays = {}, {}
            for doc in list(self._documents.values()):
                self._index(doc["_id"], doc)

    # -- maintenance: every write of mongomock goes through __setitem__/__delitem__, and every
    #    in-place update through Collection._ensure_uniques (patched below) -----------------------
    def __setitem__(self, key, val):
        super().__setitem__(key, val)
        self.reindex(key, val)

    def __delitem__(self, key):
        super().__delitem__(key)
        with self._lock:
            self._unindex(key)

    def reindex(self, key, doc) -> None:
        with self._lock:
            if self._doc_keys.get(key) == self._keys_of(doc) and self._doc_arrays.get(key) == self._array_entries(doc):
                return  # indexed values unchanged (most updates): the document keeps its place
            self._unindex(key)
            self._index(key, doc)

    def _keys_of(self, doc) -> list[tuple[tuple[str, ...], tuple | None]]:
        values = {f: _value(doc, f) for f in self._fields}
        plain = {f: _plain(v) for f, v in values.items()}
        return [(prefix, tuple(values[f] for f in prefix) if all(plain[f] for f in prefix) else None)
                for prefix in self._prefixes]

    def _index(self, key, doc) -> None:
        entries = self._keys_of(doc)
        for prefix, values in entries:
            if values is None:
                self._unhashed[prefix][key] = None
            else:
                self._maps[prefix].setdefault(values, {})[key] = None
                if _numeric_not_int(values[-1]):
                    self._fractional[prefix][key] = None
        self._doc_keys[key] = entries
        for prefix in self._prefixes:
            if len(prefix) == 2 and prefix not in self._arrays and isinstance(_value(doc, prefix[1]), list):
                array = self._arrays[prefix] = ArrayIndex(prefix)
                for other_key, other in self._doc_arrays.items():  # (those indexed before it existed)
                    other[prefix] = array.add(other_key, _array_entry(array, self._documents[other_key]))
        self._doc_arrays[key] = {prefix: self._arrays[prefix].add(key, entry)
                                 for prefix, entry in self._array_entries(doc).items()}

    def _array_entries(self, doc) -> dict[tuple[str, ...], tuple]:
        return {prefix: _array_entry(array, doc) for prefix, array in self._arrays.items()}

    def _unindex(self, key) -> None:
        for prefix, entry in self._doc_arrays.pop(key, {}).items():
            self._arrays[prefix].remove(key, entry)
        for prefix, values in self._doc_keys.pop(key, ()):
            self._fractional[prefix].pop(key, None)
            if values is None:
                self._unhashed[prefix].pop(key, None)
                continue
            bucket = self._maps[prefix].get(values)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self._maps[prefix][values]

    # -- lookup --------------------------------------------------------------------------------
    def candidates(self, filter: Any) -> tuple[list[dict], list[dict]] | None:
        """``(sure, maybe)``: documents that match ``filter`` by construction, and documents that may match
        it (the filter decides); or None when no hash map applies."""
        if not isinstance(filter, dict) or not filter:
            return None
        if self._arrays and (found := self._array_candidates(filter)) is not None:
            return [], found
        if "_id" in filter and _plain(filter["_id"]):
            doc = self._documents.get(filter["_id"])
            found = [doc] if doc is not None else []
            return ([], found) if len(filter) > 1 or type(filter["_id"]) not in _EXACT else (found, [])
        ids = filter["_id"].get("$in") if isinstance(filter.get("_id"), dict) and len(filter["_id"]) == 1 else None
        if isinstance(ids, list) and all(_plain(i) for i in ids):  # a batch of point lookups (users_by_ids)
            found = self._docs(list(dict.fromkeys(ids)))
            return (found, []) if len(filter) == 1 and all(type(i) in _EXACT for i in ids) else ([], found)
        for prefix in self._prefixes:
            values = tuple(filter.get(f, _MISSING) for f in prefix)
            exact = len(filter) == len(prefix) and all(type(v) in _EXACT for v in values[:-1])
            if all(v is not _MISSING and _plain(v) for v in values):
                with self._lock:
                    sure = list(self._maps[prefix].get(values, ()))
                    maybe = list(self._unhashed[prefix])
                if not (exact and type(values[-1]) in _EXACT):
                    sure, maybe = [], sure + maybe
                return self._docs(sure), self._docs(maybe)
            bounds = _int_bounds(values[-1]) if len(prefix) > 1 else None
            if bounds is not None and all(v is not _MISSING and _plain(v) for v in values[:-1]):
                head, buckets, odd = values[:-1], self._maps[prefix], self._fractional[prefix]
                with self._lock:
                    found = [i for n in range(bounds[0], bounds[1] + 1) for i in buckets.get((*head, n), ())]
                    maybe = list(self._unhashed[prefix]) + list(odd)
                sure = [i for i in found if i not in odd]  # (odd ones are in maybe)
                if not exact:
                    sure, maybe = [], list(dict.fromkeys(sure + maybe))
                return self._docs(sure), self._docs(maybe)
        return self._in_candidates(filter)

    def _array_candidates(self, filter: dict) -> list[dict] | None:
        """``{head: v or {$in: [...]}, field: {$in: [strings, regexes]}}`` (the field's condition may also be
        in ``$and``) on an array index (head, field): the documents holding one of those strings, or a string
        a regex matches (infra.embedded.arrays); None when no array index applies."""
        for (head, field), array in self._arrays.items():
            heads = filter.get(head, _MISSING)
            if isinstance(heads, dict) and set(heads) == {"$in"} and isinstance(heads["$in"], list):
                heads = heads["$in"]
            elif heads is _MISSING or not _plain(heads):
                continue
            else:
                heads = [heads]
            for values in in_conditions(filter, field):
                split = strings_and_patterns(values)
                if split is not None and all(_plain(h) for h in heads):
                    with self._lock:
                        ids = array.lookup(list(dict.fromkeys(heads)), *split)
                    return self._docs(ids)
        return None

    def _in_candidates(self, filter: dict) -> tuple[list[dict], list[dict]] | None:
        """A field that starts an index, given a list of plain values (``{convId: {$in: [...]}}``, a search
        across a user's conversations): the buckets of those values, for the filter to decide."""
        for prefix in self._prefixes:
            values = filter.get(prefix[0]) if len(prefix) == 1 else None
            listed = values.get("$in") if isinstance(values, dict) and len(values) == 1 else None
            if isinstance(listed, list) and all(_plain(v) for v in listed):
                with self._lock:
                    found = [i for v in dict.fromkeys(listed) for i in self._maps[prefix].get((v,), ())]
                    found += list(self._unhashed[prefix])
                return [], self._docs(list(dict.fromkeys(found)))
        return None

    def _docs(self, ids: list) -> list[dict]:
        docs = (self._documents.get(i) for i in ids)
        return [d for d in docs if d is not None]

    # -- $text ---------------------------------------------------------------------------------
    def text_matcher(self, spec: Any, rest: dict) -> Callable[[dict], bool]:
        """A predicate answering the ``$text`` part of a filter like MongoDB (see infra.embedded.text_search)."""
        if not isinstance(spec, dict) or not isinstance(spec.get("$search"), str):
            raise OperationFailure("$text needs a $search string")
        if spec.get("$caseSensitive") or spec.get("$diacriticSensitive"):
            raise NotImplementedError("the embedded store's $text is case- and diacritic-insensitive only")
        texts = [(name, index) for name, index in self.indexes.items()
                 if any(direction == "text" for _, direction in index["key"])]
        if not texts:
            raise OperationFailure("text index required for $text query")
        [(name, index)] = texts  # MongoDB allows one text index per collection
        keys = list(index["key"])
        prefix = [field for field, _ in keys[:[d for _, d in keys].index("text")]]
        if not all(field in rest and _plain(rest[field]) for field in prefix):
            raise OperationFailure("failed to use text index to satisfy $text query (if text index is compound, "
                                   "are equality predicates given for all prefix fields?)")
        fields = [field for field, direction in keys if direction == "text"]
        default, override = self.text_languages.get(name, ("english", "language"))
        lang = text_search.language(spec.get("$language") or default)
        query = text_search.parse_query(spec["$search"], lang)

        def matches(doc: dict) -> bool:
            if not query.positive:
                return False
            values = (_value(doc, f) for f in fields)
            texts = [t for v in values for t in (v if isinstance(v, list) else [v]) if isinstance(t, str)]
            # Each document is analysed in its own language (its language_override field), as on a server.
            return query.matches(texts, text_search.language(doc.get(override) or default).name)

        return matches


class _DatabaseStore(mm_store.DatabaseStore):
    def __getitem__(self, col_name):
        try:
            return self._collections[col_name]
        except KeyError:
            col = self._collections[col_name] = IndexedCollectionStore(col_name)
            return col


class _ServerStore(mm_store.ServerStore):
    def __getitem__(self, db_name):
        try:
            return self._databases[db_name]
        except KeyError:
            db = self._databases[db_name] = _DatabaseStore()
            return db


_original_iter_documents = mm_collection.Collection._iter_documents
_original_ensure_uniques = mm_collection.Collection._ensure_uniques
_original_create_indexes = mm_collection.Collection.create_indexes


def _iter_documents(self, filter):
    store = self._store
    if isinstance(store, IndexedCollectionStore) and isinstance(filter, dict) and "$text" in filter:
        rest = {k: v for k, v in filter.items() if k != "$text"}
        matches = store.text_matcher(filter["$text"], rest)
        return (doc for doc in _iter_documents(self, rest) if matches(doc))
    if isinstance(store, IndexedCollectionStore):
        store._remove_expired_documents()
        candidates = store.candidates(filter)
        if candidates is not None:
            sure, maybe = candidates
            screens = in_screens(filter)
            return itertools.chain(sure, (doc for doc in maybe if all(screen(doc) for screen in screens)
                                          and filter_applies(filter, doc)))
    return _original_iter_documents(self, filter)


def _ensure_uniques(self, new_data):
    # Called by mongomock after every insert and after every in-place update: the moment the
    # document's indexed values may have changed.
    store = self._store
    if isinstance(store, IndexedCollectionStore):
        store.reindex(new_data["_id"], new_data)
    return _original_ensure_uniques(self, new_data)


def _create_indexes(self, indexes, session=None):
    names = _original_create_indexes(self, indexes, session=session)
    if isinstance(self._store, IndexedCollectionStore):
        for name, index in zip(names, indexes):
            if "text" in index.document["key"].values():
                self._store.text_languages[name] = (index.document.get("default_language", "english"),
                                                    index.document.get("language_override", "language"))
    return names


_IMMUTABLE = frozenset({str, int, float, bool, type(None), ObjectId, datetime, bytes, Decimal128})
_SHARED_AWARE = _IMMUTABLE - {datetime}


def _deep_copy(obj, container, aware: bool = False):
    """mongomock's ``_copy_field`` (the deep copy of every document a read returns), with the immutable
    leaves of BSON shared instead of passed through ``copy.copy`` one by one; ``aware`` (a ``tz_aware``
    client) also gives every datetime UTC in the same pass (mongomock rebuilds each document again)."""
    shared = _SHARED_AWARE if aware else _IMMUTABLE
    if isinstance(obj, dict):
        new = container()
        for key, value in obj.items():
            kind = type(value)  # (a datetime is only ever not shared when aware: set its zone here, no call)
            new[key] = value if kind in shared else value.replace(tzinfo=helpers.utc) if kind is datetime \
                else _deep_copy(value, container, aware)
        return new
    if isinstance(obj, list):
        return [item if type(item) in shared else _deep_copy(item, container, aware) for item in obj]
    if aware and isinstance(obj, datetime):
        return obj.replace(tzinfo=helpers.utc)
    return obj if type(obj) in shared else copy.copy(obj)


_original_copy_only_fields = mm_collection.Collection._copy_only_fields


def _copy_only_fields(self, doc, fields, container):
    # (a read without projection: every one but a few; projections keep mongomock's two passes)
    if not fields and self.codec_options.tz_aware:
        return _deep_copy(doc, container, aware=True)
    return _original_copy_only_fields(self, doc, fields, container)


def _compute_results(self, with_limit_and_skip=False):
    # mongomock copies every matching document before applying the limit (a newest-50 history page
    # of a 1,000-message conversation copied all 1,000: 38 ms). Its dataset is sorted before the
    # copies are made, lazily, so a limited read needs to copy only the documents it returns.
    # A read without projection has its time zone already (_copy_only_fields above).
    tz_aware = self.collection.codec_options.tz_aware and bool(self._projection)
    aware = helpers.make_datetime_timezone_aware_in_document
    if not (with_limit_and_skip and self._limit and not self._results):
        if not self._results or self._factory_last_generated_results != self._factory:
            docs = self._factory()
            self._results = [aware(d) for d in docs] if tz_aware else list(docs)
            self._factory_last_generated_results = self._factory
        if not with_limit_and_skip or not (self._skip or self._limit):
            return self._results  # (each __next__ asks again: a slice here copied the list per document)
        results = self._results[self._skip:]
        return results[:abs(self._limit)] if self._limit else results
    if getattr(self, "_limited_for", None) is not self._factory:
        docs = itertools.islice(self._factory(), self._skip + abs(self._limit))
        if tz_aware:
            docs = (aware(d) for d in docs)
        self._limited, self._limited_for = list(docs)[self._skip:], self._factory
    return self._limited


def _serialized(write: Callable) -> Callable:
    """A write of mongomock run under its collection's lock. mongomock's ``find_one_and_update`` finds the
    document, then updates it by ``_id`` alone, so two threads could both pass a condition such as
    ``{status: "pending"}`` (two moderators deciding at once both won: seen in CI). On MongoDB each
    single-document write is atomic; under the lock it is here too."""
    @functools.wraps(write)
    def locked(self, *args, **kwargs):
        store = self._store
        if not isinstance(store, IndexedCollectionStore):
            return write(self, *args, **kwargs)
        with store._lock:
            return write(self, *args, **kwargs)
    return locked


for _write in ("_insert", "_update", "_delete", "_find_and_modify"):
    setattr(mm_collection.Collection, _write, _serialized(getattr(mm_collection.Collection, _write)))

mm_collection.Collection._iter_documents = _iter_documents
mm_collection.Collection._ensure_uniques = _ensure_uniques
mm_collection.Collection.create_indexes = _create_indexes
mm_collection.Cursor._compute_results = _compute_results
mm_collection.Collection._copy_only_fields = _copy_only_fields
mm_collection._copy_field = _deep_copy


# The embedded store keeps the whole database in this process's heap, as a few tracked containers per
# document, and CPython's collector counts every container that outlives its youngest generation towards
# a full pass over that heap: a pause of the event loop of 0.4 to 0.6 s with 100,000 messages stored
# (``gc.collect()`` timed). At the default first threshold (700) the documents a read holds outlive it,
# and an export of those 100,000 messages ran one or two such passes (8 when it still validated each
# message into a model). Counted net
# of what is freed, a window of 500 documents never reaches this threshold: it is gone before a
# collection sees it. A young collection then scans up to this many objects (2.7 ms for 50,000, timed).
GC_THRESHOLD0 = 50_000


def embedded_client() -> mongomock.MongoClient:
    """A fresh in-memory MongoDB client (tz-aware like the real one configured in infra.mongo). It raises
    the process's first collector threshold to GC_THRESHOLD0 (never lowers it)."""
    threshold0, *older = gc.get_threshold()
    if threshold0 < GC_THRESHOLD0:
        gc.set_threshold(GC_THRESHOLD0, *older)
    return mongomock.MongoClient(tz_aware=True, _store=_ServerStore())
