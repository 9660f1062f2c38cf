"""Moderation: a group's filter rules and settings, review items, mutes and bans.

A review item keeps what a user wrote (the message's text, the filter's matches in it, reporters' reasons,
the moderator's note): sealed with its conversation's key when that conversation is encrypted, opened on
every read (infra.storage.sealing). An item without a conversation (a display name) stays in clear."""
from __future__ import annotations

from typing import Any

from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel, ReturnDocument
from pymongo.database import Database

from infra.crypto import Vault
from infra.storage.repository import Repository, newest_first
from infra.storage.sealing import Opened, is_plain, open_text, seal_in_clear, seal_text
from schemas.documents import FilterRule, GroupModeration, ReviewItem, ReviewReason, Sanction, User


class ModerationRepo(Repository):
    INDEXES = {
        # Moderation (seed 002). Lists are newest first by _id (ObjectIds grow with time), paged with before=id.
        "filter_rules": [IndexModel([("groupId", ASC), ("_id", DESC)], name="groupId_id")],
        "reviews": [
            # One item per message (or held send), however many reports or redelivered tasks: upserts on it.
            IndexModel([("key", ASC)], name="key", unique=True),
            IndexModel([("groupId", ASC), ("status", ASC), ("_id", DESC)], name="groupId_status_id"),
            IndexModel([("groupId", ASC), ("kind", ASC), ("status", ASC), ("_id", DESC)],
                       name="groupId_kind_status_id"),
            # The review queue's size in every group (chat_review_queue_size, at each scrape): a count of
            # index keys, no document read.
            IndexModel([("status", ASC)], name="status"),
            # A conversation's items, for the walk that seals what was stored before it was encrypted.
            IndexModel([("convId", ASC), ("_id", ASC)], name="convId_id"),
        ],
        # _id is {groupId}:{userId}: one mute and one ban per member of a group.
        "mutes": [IndexModel([("groupId", ASC), ("until", DESC)], name="groupId_until"),
                  IndexModel([("userId", ASC), ("until", DESC)], name="userId_until")],
        "bans": [IndexModel([("groupId", ASC), ("createdAt", DESC)], name="groupId_createdAt"),
                 IndexModel([("userId", ASC), ("until", DESC)], name="userId_until")],
    }

    def __init__(self, db: Database, vault: Vault | None = None) -> None:
        super().__init__(db)
        self.group_moderation = db["group_moderation"]
        self.filter_rules = db["filter_rules"]
        self.reviews = db["reviews"]
        self.vault = vault
        self._model = Opened(ReviewItem, self._opened)

    # -- a review item's texts: message.content, each reason's match and reason, the note -------------------
    def _texts(self, doc: dict[str, Any], change) -> dict[str, Any]:
        conv_id = doc.get("convId")
        if doc.get("message"):
            doc["message"]["content"] = change(self.vault, conv_id, doc["message"].get("content"))
        for reason in doc.get("reasons") or ():
            for field in ("match", "reason"):
                if reason.get(field) is not None:
                    reason[field] = change(self.vault, conv_id, reason[field])
        if doc.get("note") is not None:
            doc["note"] = change(self.vault, conv_id, doc["note"])
        return doc

    def _opened(self, doc: dict[str, Any]) -> dict[str, Any]:
        return self._texts(doc, open_text)

    def _sealed(self, doc: dict[str, Any]) -> dict[str, Any]:
        return self._texts(doc, seal_text)

    def _conv_of(self, query: dict[str, Any]) -> str | None:
        found = self.reviews.find_one(query, {"convId": 1})
        return found.get("convId") if found else None

    def group_moderation_of(self, group_id: str) -> GroupModeration:
        doc = self.group_moderation.find_one({"_id": group_id})
        return GroupModeration.from_mongo(doc) if doc else GroupModeration(id=group_id)

    def rules_version(self, group_id: str) -> int:
        doc = self.group_moderation.find_one({"_id": group_id}, {"rulesVersion": 1})
        return doc.get("rulesVersion", 0) if doc else 0

    def bump_rules_version(self, group_id: str, changes: dict[str, Any] | None = None) -> GroupModeration:
        """After any change of the group's rules or allowlist (written first): every worker recompiles."""
        doc = self.group_moderation.find_one_and_update(
            {"_id": group_id}, {"$inc": {"rulesVersion": 1}, **({"$set": changes} if changes else {})},
            upsert=True, return_document=ReturnDocument.AFTER)
        return GroupModeration.from_mongo(doc)

    def filter_rules_of(self, group_id: str, *, before: str | None = None, limit: int) -> list[FilterRule]:
        query: dict[str, Any] = {"groupId": group_id}
        if before:
            query["_id"] = {"$lt": before}
        return [FilterRule.from_mongo(d) for d in self.filter_rules.find(query).sort("_id", DESC).limit(limit)]

    def count_filter_rules(self, group_id: str) -> int:
        return self.filter_rules.count_documents({"groupId": group_id})

    def get_filter_rule(self, group_id: str, rule_id: str) -> FilterRule | None:
        doc = self.filter_rules.find_one({"_id": rule_id, "groupId": group_id})
        return FilterRule.from_mongo(doc) if doc else None

    def insert_filter_rule(self, rule: FilterRule) -> None:
        self.filter_rules.insert_one(rule.to_mongo())

    def update_filter_rule(self, group_id: str, rule_id: str, changes: dict[str, Any]) -> FilterRule | None:
        doc = self.filter_rules.find_one_and_update({"_id": rule_id, "groupId": group_id}, {"$set": changes},
                                                    return_document=ReturnDocument.AFTER)
        return FilterRule.from_mongo(doc) if doc else None

    def delete_filter_rule(self, group_id: str, rule_id: str) -> bool:
        return self.filter_rules.delete_one({"_id": rule_id, "groupId": group_id}).deleted_count == 1

    def upsert_review(self, item: ReviewItem, reasons: list[ReviewReason]) -> tuple[ReviewItem, bool]:
        """Create the item of ``item.key`` if there is none, and add the reasons it does not have yet
        (by their ``key``), in one atomic update per reason. Returns the item and whether anything changed.

        A decided item that gets a new report is opened again (pending): one item per message, ever."""
        doc = self.reviews.find_one_and_update(
            {"key": item.key}, {"$setOnInsert": {**self._sealed(item.to_mongo()), "reasons": []}},
            upsert=True, return_document=ReturnDocument.AFTER)
        changed = doc["_id"] == item.id
        for reason in reasons:
            sealed = self._sealed({"convId": item.convId, "reasons": [reason.model_dump()]})["reasons"][0]
            update: dict[str, Any] = {"$push": {"reasons": sealed}, "$set": {"updatedAt": reason.at}}
            if reason.kind == "report":
                update["$set"].update({"status": "pending", "decidedBy": None, "decidedByName": None,
                                       "decidedAt": None, "note": None})
            grown = self.reviews.find_one_and_update(
                {"key": item.key, "reasons.key": {"$ne": reason.key},
                 **({"status": {"$in": ["pending", "approved", "dismissed"]}} if reason.kind == "report" else {})},
                update, return_document=ReturnDocument.AFTER)
            if grown is not None:
                doc, changed = grown, True
        return self._model.from_mongo(doc), changed

    def replace_review_text(self, key: str, content: str, at) -> None:
        """A flagged message was edited: the item shows the new text, and loses the filter hits of the old
        one (their positions were in it); reports stay."""
        sealed = seal_text(self.vault, self._conv_of({"key": key}), content)
        self.reviews.update_one({"key": key}, {"$set": {"message.content": sealed, "updatedAt": at},
                                               "$pull": {"reasons": {"kind": "filter"}}})

    def get_review(self, review_id: str) -> ReviewItem | None:
        doc = self.reviews.find_one({"_id": review_id})
        return self._model.from_mongo(doc) if doc else None

    def reviews_of_group(self, group_id: str, statuses: tuple[str, ...], kind: str | None, *,
                         before: str | None, limit: int) -> tuple[list[ReviewItem], bool]:
        query: dict[str, Any] = {"groupId": group_id,
                                 "status": statuses[0] if len(statuses) == 1 else {"$in": list(statuses)}}
        if kind:
            query["kind"] = kind
        return newest_first(self.reviews, query, self._model, before=before, limit=limit)

    def count_pending_reviews(self) -> int:
        """Review items waiting for a decision, in every group (the metrics' review queue size)."""
        return self.reviews.count_documents({"status": "pending"}, hint="status")

    def decide_review(self, review_id: str, status: str, by: User, note: str | None, at) -> ReviewItem | None:
        """pending -> status, for one moderator only: the conditional update is the race's referee."""
        if note:
            note = seal_text(self.vault, self._conv_of({"_id": review_id}), note)
        doc = self.reviews.find_one_and_update(
            {"_id": review_id, "status": "pending"},
            {"$set": {"status": status, "decidedBy": by.id, "decidedByName": by.username, "decidedAt": at,
                      "note": note, "updatedAt": at}},
            return_document=ReturnDocument.AFTER)
        return self._model.from_mongo(doc) if doc else None

    def seal_stored(self, conv_id: str, limit: int) -> int:
        """Seal the texts of the conversation's review items stored in clear (pipelines.upkeep.sealing); how
        many were found (fewer than ``limit``: none is left)."""
        if self.vault is None or not self.vault.encrypted(conv_id):
            return 0
        text = {"$type": "string", "$ne": ""}
        query = {"convId": conv_id, "$or": [{"message.content": text}, {"reasons.match": text},
                                            {"reasons.reason": text}, {"note": text}]}
        return seal_in_clear(self.reviews, query, self._in_clear, limit)

    def _in_clear(self, doc: dict[str, Any]) -> dict[str, Any]:
        fields = {k: doc.get(k) for k in ("convId", "message", "reasons", "note")}
        if not any(is_plain(v) for v in _texts_of(fields)):
            return {}
        sealed = self._sealed(fields)
        return {k: sealed[k] for k in ("message", "reasons", "note") if sealed.get(k) is not None}

    def put_sanction(self, collection: str, sanction: Sanction) -> None:
        self.db[collection].replace_one({"_id": sanction.id}, sanction.to_mongo(), upsert=True)

    def get_sanction(self, collection: str, group_id: str, user_id: str) -> Sanction | None:
        doc = self.db[collection].find_one({"_id": Sanction.key(group_id, user_id)})
        return Sanction.from_mongo(doc) if doc else None

    def delete_sanction(self, collection: str, group_id: str, user_id: str) -> Sanction | None:
        doc = self.db[collection].find_one_and_delete({"_id": Sanction.key(group_id, user_id)})
        return Sanction.from_mongo(doc) if doc else None

    def sanctions_of_user(self, collection: str, user_id: str, now) -> list[Sanction]:
        """The user's mutes or bans still in force, in every group (one each per group: a short list)."""
        query = {"userId": user_id, "$or": [{"until": None}, {"until": {"$gt": now}}]}
        return [Sanction.from_mongo(d) for d in self.db[collection].find(query)]

    def sanctions_of_group(self, collection: str, group_id: str, now, limit: int) -> tuple[list[Sanction], bool]:
        """The group's mutes or bans still in force, newest first."""
        query = {"groupId": group_id, "$or": [{"until": None}, {"until": {"$gt": now}}]}
        docs = list(self.db[collection].find(query).sort("createdAt", DESC).limit(limit + 1))
        return [Sanction.from_mongo(d) for d in docs[:limit]], len(docs) > limit


def _texts_of(doc: dict[str, Any]) -> list[Any]:
    return [(doc.get("message") or {}).get("content"), doc.get("note"),
            *(r.get(f) for r in doc.get("reasons") or () for f in ("match", "reason"))]
