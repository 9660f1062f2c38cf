"""Messages: storing, history, search, edits, reactions, quotes, and the reads (the archive's too) that
exports, digests and repairs make.

Encryption at rest (docs/security.md): in an encrypted conversation every write seals the text, its edits
and its quote and stores blind search tokens; every read opens them, so the pipelines see plain text."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from bson.regex import Regex
from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel, ReturnDocument
from pymongo.database import Database

from infra.crypto import Vault
from infra.storage.keys import KeysRepo
from infra.storage.repository import Repository
from infra.storage.sealing import blind, message_in_clear, open_message, open_text, seal_message, seal_text
from schemas.documents import Message, Reaction, SenderInfo


@dataclass(frozen=True)
class Page:
    messages: list[Message]
    has_more: bool


@dataclass(frozen=True)
class WordMatch:
    """One word of a search: the message holds one of ``forms`` (exact stored words), or a stored word
    that begins with ``prefix``."""
    forms: tuple[str, ...]
    prefix: str | None = None


class MessagesRepo(Repository):
    INDEXES = {
        "messages": [
            # History, polling and seq allocation; unique so two writers can never share a seq.
            IndexModel([("convId", ASC), ("seq", ASC)], name="convId_seq", unique=True),
            # Idempotency: one message per client retry key.
            IndexModel([("convId", ASC), ("senderId", ASC), ("clientId", ASC)], name="convId_sender_clientId",
                       unique=True),
            # A sender's messages: the profile sync walks them by range on createdAt.
            IndexModel([("senderId", ASC), ("createdAt", DESC)], name="senderId_createdAt"),
            # Search: each message's words and stems (pipelines.messages.words), one entry each. convId
            # first, so a search reads only the conversations it may (one value, or the caller's list); a
            # word's entries are then in seq order, newest first. Replaces the text index
            # convId_content_text (RETIRED_INDEXES).
            IndexModel([("convId", ASC), ("words", ASC), ("seq", DESC)], name="convId_words_seq"),
            # A message's replies, whose quotes follow its edits and deletion (one update_many on this index).
            IndexModel([("metadata.replyTo", ASC)], name="metadata_replyTo", sparse=True),
        ],
    }

    # Indexes an earlier version declared and none of these queries uses: dropped where found, so that
    # no write keeps paying for them.
    RETIRED_INDEXES = {"messages": ("convId_content_text",)}

    def __init__(self, db: Database, vault: Vault | None = None, keys: KeysRepo | None = None) -> None:
        super().__init__(db)
        self.messages = db["messages"]
        self.messages_archive = db["messages_archive"]
        self.vault, self.keys = vault, keys   # encryption at rest (None: everything stored in clear)

    def _message(self, doc: dict[str, Any]) -> Message:
        return Message.from_mongo(open_message(self.vault, doc))

    def ensure_indexes(self) -> None:
        super().ensure_indexes()
        for name, retired in self.RETIRED_INDEXES.items():
            present = self.db[name].index_information()
            for index in retired:
                if index in present:
                    self.db[name].drop_index(index)

    def find_message_by_client_id(self, conv_id: str, sender_id: str, client_id: str) -> Message | None:
        doc = self.messages.find_one({"convId": conv_id, "senderId": sender_id, "clientId": client_id})
        return self._message(doc) if doc else None

    def get_message(self, message_id: str) -> Message | None:
        doc = self.messages.find_one({"_id": message_id})
        return self._message(doc) if doc else None

    def add_reaction(self, message_id: str, reaction: Reaction) -> Message | None:
        """Atomically add the reaction unless that user already reacted with that emoji (then None)."""
        doc = self.messages.find_one_and_update(
            {"_id": message_id, "reactions": {"$not": {"$elemMatch": {"userId": reaction.userId,
                                                                     "emoji": reaction.emoji}}}},
            {"$push": {"reactions": reaction.model_dump()}, "$set": {"updatedAt": reaction.at}},
            return_document=ReturnDocument.AFTER)
        return self._message(doc) if doc else None

    def remove_reaction(self, message_id: str, user_id: str, emoji: str, at) -> Message | None:
        """Atomically remove that user's reaction with that emoji (None when there was none)."""
        doc = self.messages.find_one_and_update(
            {"_id": message_id, "reactions": {"$elemMatch": {"userId": user_id, "emoji": emoji}}},
            {"$pull": {"reactions": {"userId": user_id, "emoji": emoji}}, "$set": {"updatedAt": at}},
            return_document=ReturnDocument.AFTER)
        return self._message(doc) if doc else None

    def edit_message(self, message_id: str, content: str, at, search: dict[str, Any] | None = None, *,
                     masked: bool = False) -> Message | None:
        """Replace the content (and ``search``: its language and words), keeping the previous one in
        editHistory; None when nothing changed (already that content, or deleted), so a redelivered edit is
        not applied twice. ``masked``: the filter masked part of the new content (metadata.masked, unset
        otherwise)."""
        current = self.messages.find_one({"_id": message_id}, {"content": 1, "convId": 1})
        if current is None or open_text(self.vault, current["convId"], current["content"]) == content:
            return None
        conv_id, stored = current["convId"], current["content"]
        # (the previous text goes to the history as stored, sealed if it was not yet: a message stored
        # before its conversation was encrypted)
        search = dict(search or {})
        if search.get("words") and self.vault is not None:
            search["words"] = blind(self.vault, conv_id, search["words"])
        change: dict[str, Any] = {
            "$set": {"content": seal_text(self.vault, conv_id, content), "isEdited": True, "editedAt": at,
                     "updatedAt": at, **search},
            "$push": {"editHistory": {"content": seal_text(self.vault, conv_id, stored), "replacedAt": at}}}
        if masked:
            change["$set"]["metadata.masked"] = True
        else:
            change["$unset"] = {"metadata.masked": ""}
        # Conditional on the stored text read above: of two edits racing, one applies.
        doc = self.messages.find_one_and_update(
            {"_id": message_id, "isDeleted": False, "content": stored}, change,
            return_document=ReturnDocument.AFTER)
        return self._message(doc) if doc else None

    def delete_message(self, message_id: str, by: str, at) -> Message | None:
        """Soft delete; None when it already was deleted."""
        doc = self.messages.find_one_and_update(
            {"_id": message_id, "isDeleted": False},
            {"$set": {"isDeleted": True, "deletedAt": at, "deletedBy": by, "updatedAt": at}},
            return_document=ReturnDocument.AFTER)
        return self._message(doc) if doc else None

    def rewrite_quotes(self, parent_id: str, quote: dict[str, Any], at, *, limit: int) -> list[Message]:
        """Set the quote of every reply to ``parent_id`` (a read and an update_many on the metadata.replyTo
        index); the first ``limit`` replies as they are now, to announce."""
        # Only the quotes that differ: a second run (a redelivery) writes and announces nothing. They are
        # compared opened (a sealed excerpt never equals another sealing of the same text).
        stale: dict[str, list[str]] = {}   # convId -> its replies to rewrite
        for d in self.messages.find({"metadata.replyTo": parent_id, "metadata.quote": {"$exists": True}},
                                    {"convId": 1, "metadata.quote": 1}):
            current = d["metadata"]["quote"]
            if any(open_text(self.vault, d["convId"], current.get(k)) != v for k, v in quote.items()):
                stale.setdefault(d["convId"], []).append(d["_id"])
        if not stale:
            return []
        for conv_id, ids in stale.items():   # (one: a reply quotes a message of its own conversation)
            changes = {f"metadata.quote.{k}": seal_text(self.vault, conv_id, v) if k == "excerpt" else v
                       for k, v in quote.items()}
            for start in range(0, len(ids), 1000):
                self.messages.update_many({"_id": {"$in": ids[start:start + 1000]}},
                                          {"$set": {**changes, "updatedAt": at}})
        announced = [i for ids in stale.values() for i in ids][:limit]
        return [self._message(d) for d in self.messages.find({"_id": {"$in": announced}})]

    def live_message_ids(self, message_ids: list[str]) -> set[str]:
        """Those of ``message_ids`` that exist and are not deleted."""
        return {d["_id"] for d in self.messages.find({"_id": {"$in": message_ids}, "isDeleted": False}, {"_id": 1})}

    def message_exists(self, message_id: str, conv_id: str) -> bool:
        return self.messages.find_one({"_id": message_id, "convId": conv_id}, {"_id": 1}) is not None

    def max_seq(self, conv_id: str) -> int:
        """The highest stored seq, from the (convId, seq) index (a single index entry read)."""
        doc = self.messages.find_one({"convId": conv_id}, {"seq": 1}, sort=[("seq", DESC)])
        return doc["seq"] if doc else 0

    def insert_message(self, message: Message) -> None:
        self.messages.insert_one(seal_message(self.vault, message.to_mongo()))

    def history(self, conv_id: str, *, before: int | None, after: int | None, limit: int) -> Page:
        """Oldest first. ``after``: the next ``limit`` newer than it; otherwise the newest ``limit`` older
        than ``before`` (or the newest of all). ``has_more``: more lie beyond the page in that direction."""
        query: dict[str, Any] = {"convId": conv_id}
        if after is not None:
            query["seq"] = {"$gt": after}
            docs = list(self.messages.find(query).sort("seq", ASC).limit(limit + 1))
            page = docs[:limit]
        else:
            if before is not None:
                query["seq"] = {"$lt": before}
            docs = list(self.messages.find(query).sort("seq", DESC).limit(limit + 1))
            page = docs[:limit][::-1]
        return Page([self._message(d) for d in page], has_more=len(docs) > limit)

    def search(self, conv_ids: list[str], words: list[WordMatch], excluded: list[str], *,
               before_seq: int | None = None, before_id: str | None = None, across: bool = False,
               limit: int) -> Page:
        """The messages of ``conv_ids`` holding every one of ``words`` (at least one) and none of ``excluded``,
        never deleted or system ones; newest first, and ``has_more`` when older matches remain. In one
        conversation by seq (``before_seq`` pages); ``across`` conversations by _id, the order they were
        stored in (``before_id`` pages).

        On MongoDB each word is a bounded read of the (convId, words, seq) index: point lookups for its
        forms, one range for its prefix (an anchored, escaped regex); the planner takes one word's
        entries and checks the others on the documents it fetches (or, for a common word, walks
        convId_seq newest first until it has ``limit``)."""
        if not words:
            raise ValueError("a search needs at least one word")
        query: dict[str, Any] = {"isDeleted": False, "type": {"$ne": "system"},
                                 **self._word_clauses(conv_ids, words, excluded)}
        if before_seq is not None:
            query["seq"] = {"$lt": before_seq}
        if before_id is not None:
            query["_id"] = {"$lt": before_id}
        order = [("_id", DESC)] if across else [("seq", DESC)]
        docs = list(self.messages.find(query).sort(order).limit(limit + 1))
        return Page([self._message(d) for d in docs[:limit]], has_more=len(docs) > limit)

    def _word_clauses(self, conv_ids: list[str], words: list[WordMatch], excluded: list[str]) -> dict[str, Any]:
        """The conversations and words of a search. Plain conversations share one clause (their stored words
        are the words). An encrypted one stores its own blind tokens (docs/security.md): a clause each, with
        the tokens of the words' forms, and the forms too (messages stored before the conversation was
        encrypted, until the sealing walk has passed); no prefix, as a token says nothing of its word's
        beginning."""
        sealed = self._encrypted_among(conv_ids)
        plain = [c for c in conv_ids if c not in sealed]
        branches = []
        if plain:
            branches.append(_branch(plain, [[*w.forms, *([Regex("^" + _escape(w.prefix))] if w.prefix else [])]
                                            for w in words], excluded))
        for conv_id in sealed:
            branches.append(_branch([conv_id], [self._tokens(conv_id, w.forms) for w in words],
                                    self._tokens(conv_id, excluded)))
        return branches[0] if len(branches) == 1 else {"$or": branches}

    def _tokens(self, conv_id: str, forms) -> list[str]:
        return [*self.vault.blind_words(conv_id, forms), *forms] if forms else []

    def _encrypted_among(self, conv_ids: list[str]) -> list[str]:
        """Those of the conversations that have a data key (one read of the keys' scope index)."""
        if self.vault is None or not self.vault.enabled or self.keys is None:
            return []
        found = self.keys.scopes_with_keys(conv_ids)
        return [c for c in conv_ids if c in found]

    def set_search_words(self, message_id: str, conv_id: str, language: str, words: list[str]) -> None:
        if self.vault is not None:
            words = blind(self.vault, conv_id, words)
        self.messages.update_one({"_id": message_id}, {"$set": {"language": language, "words": words}})

    def messages_after(self, after_id: str | None, limit: int) -> list[dict[str, Any]]:
        """The next ``limit`` messages by _id after ``after_id`` (a walk of the whole collection in _id order,
        for a backfill), as ``{_id, convId, senderId, type, content, words}`` (the content opened)."""
        query = {"_id": {"$gt": after_id}} if after_id else {}
        return [open_message(self.vault, d) for d in
                self.messages.find(query, {"convId": 1, "senderId": 1, "type": 1, "content": 1, "words": 1})
                .sort("_id", ASC).limit(limit)]

    def stale_sender_messages(self, sender_id: str, info: SenderInfo, *, until, limit: int) -> list[dict]:
        """Up to ``limit`` of the sender's messages whose senderInfo is not ``info``, created at or before
        ``until`` (None: any time), newest first, as ``{_id, createdAt}``. A range walk down the
        (senderId, createdAt) index: the caller passes the last createdAt it got as the next ``until``
        (inclusive, and safe with ties: the messages it has updated no longer match)."""
        query: dict[str, Any] = {"senderId": sender_id, "senderInfo": {"$ne": info.model_dump()}}
        if until is not None:
            query["createdAt"] = {"$lte": until}
        return list(self.messages.find(query, {"createdAt": 1}).sort("createdAt", DESC).limit(limit))

    def set_sender_info(self, message_ids: list[str], info: SenderInfo) -> int:
        """One write for a batch of messages; the number changed."""
        return self.messages.update_many({"_id": {"$in": message_ids}},
                                         {"$set": {"senderInfo": info.model_dump()}}).modified_count

    def set_message_files(self, message_id: str, files: list[dict[str, Any]], at) -> Message | None:
        doc = self.messages.find_one_and_update(
            {"_id": message_id, "metadata.files": {"$ne": files}},
            {"$set": {"metadata.files": files, "updatedAt": at}}, return_document=ReturnDocument.AFTER)
        return self._message(doc) if doc else None

    def direct_unread_since(self, conv_id: str, user_id: str, after_seq: int, since, up_to, limit: int
                            ) -> list[Message]:
        """Others' messages past ``after_seq`` (the reader's mark), created in (since, up_to], not deleted."""
        docs = self.messages.find({"convId": conv_id, "seq": {"$gt": after_seq}, "senderId": {"$ne": user_id},
                                   "isDeleted": False, "type": {"$ne": "system"},
                                   "createdAt": {"$gt": since, "$lte": up_to}})
        return [self._message(d) for d in docs.sort("seq", ASC).limit(limit)]

    def newest_message(self, conv_id: str) -> Message | None:
        doc = self.messages.find_one({"convId": conv_id}, sort=[("seq", DESC)])
        return self._message(doc) if doc else None

    def iter_conversation_messages(self, conv_id: str, batch: int = 500) -> Iterable[Message]:
        """Every message of the conversation in seq order, the archived ones first (what an export reads):
        retention moves the oldest seqs, so the archive's seqs all precede the live ones."""
        for collection in (self.messages_archive, self.messages):
            after = 0
            while docs := list(collection.find({"convId": conv_id, "seq": {"$gt": after}}).sort("seq", ASC).limit(batch)):
                for d in docs:
                    yield self._message(d)
                after = docs[-1]["seq"]

    def message_window(self, conv_id: str, low: int, high: int, *, created_from=None,
                       created_to=None) -> list[dict[str, Any]]:
        """The conversation's stored messages with low <= seq <= high (and createdAt in the bounds given), in
        seq order: one bounded range on the (convId, seq) index, so an export walks a conversation of any
        size in windows of constant memory. Where retention has moved old messages to ``messages_archive``
        (same shape, same index) both are read, the live collection first: a move copies to the archive
        before it deletes, so a message moving during the read is found in one or the other (or both:
        kept once).

        The documents are returned as the driver decoded them (``schemas.documents.Message``'s stored
        shape), not validated into models: they were validated when written, an export reads 100,000 of
        them, and validating them again was a fifth of its time."""
        query: dict[str, Any] = {"convId": conv_id, "seq": {"$gte": low, "$lte": high}}
        if created_from is not None or created_to is not None:
            query["createdAt"] = {**({"$gte": created_from} if created_from is not None else {}),
                                  **({"$lte": created_to} if created_to is not None else {})}
        # (sorted here rather than by the server: the window is small, and the embedded store's sort
        # compares with BSON semantics, a third of its cost per document)
        found = {d["seq"]: d for d in self.messages.find(query)}
        for d in self.messages_archive.find(query):
            found.setdefault(d["seq"], d)
        return [open_message(self.vault, found[seq]) for seq in sorted(found)]

    def count_messages_created(self, conv_id: str, created_from, created_to) -> int:
        """How many messages of the conversation were created in the bounds (a time-range export's total)."""
        query: dict[str, Any] = {"convId": conv_id, "createdAt": {
            **({"$gte": created_from} if created_from is not None else {}),
            **({"$lte": created_to} if created_to is not None else {})}}
        return self.messages.count_documents(query) + self.messages_archive.count_documents(query)

    # -- sealing what was stored before the conversation was encrypted (pipelines.upkeep.sealing) ----------
    def seal_stored(self, conv_id: str, *, archive: bool, after_seq: int, created_before: datetime,
                    limit: int) -> tuple[int, int | None]:
        """Seal what the conversation's messages (``archive``: its archived ones) with seq > ``after_seq``
        still hold in clear, up to ``limit`` of them read on the (convId, seq) index. Those created after
        ``created_before`` were stored sealed: the walk ends at the first. Returns how many were sealed and
        the seq to go on after, or None once the walk of this collection is done."""
        if self.vault is None or not self.vault.encrypted(conv_id):
            return 0, None
        collection = self.messages_archive if archive else self.messages
        docs = list(collection.find({"convId": conv_id, "seq": {"$gt": after_seq}}).sort("seq", ASC).limit(limit))
        sealed = 0
        for doc in docs:
            if _utc(doc["createdAt"]) > _utc(created_before):
                return sealed, None
            sealed += self._seal_one(collection, doc)
        return sealed, docs[-1]["seq"] if len(docs) == limit else None

    def _seal_one(self, collection, doc: dict[str, Any]) -> bool:
        """One message's clear fields sealed, conditional on its updatedAt: a write meanwhile (an edit, a
        quote rewritten) makes it read again and tried again."""
        for _ in range(5):
            changes = message_in_clear(self.vault, doc)
            if not changes:
                return False
            if collection.update_one({"_id": doc["_id"], "updatedAt": doc.get("updatedAt")},
                                     {"$set": changes}).matched_count:
                return True
            doc = collection.find_one({"_id": doc["_id"]})
            if doc is None:
                return False
        return False


def _branch(conv_ids: list[str], alternatives: list[list[Any]], excluded: list[str]) -> dict[str, Any]:
    """Messages of ``conv_ids`` holding one of each list of ``alternatives`` and none of ``excluded``."""
    clauses: list[dict[str, Any]] = [{"words": {"$in": values}} for values in alternatives]
    if excluded:
        clauses.append({"words": {"$nin": excluded}})
    return {"convId": conv_ids[0] if len(conv_ids) == 1 else {"$in": conv_ids}, "$and": clauses}


def _utc(at: datetime) -> datetime:
    """A stored time (naive means UTC, as the driver returns it by default) comparable with an aware one."""
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at


_REGEX_SPECIAL = frozenset("\\^$.|?*+()[]{}")


def _escape(text: str) -> str:
    """``text`` as a literal inside a regex: only the metacharacters escaped (PCRE and Python's re read it
    alike), so a server still sees an anchored literal prefix and reads one index range."""
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)
