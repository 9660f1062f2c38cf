"""Conversations and their members: membership, read marks, mutes copied onto memberships, the newest stored
seq, the one direct conversation of a pair, and the pages of conversations an exporter may pick from."""
from __future__ import annotations

import re
from typing import Any

import pymongo
from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel
from pymongo.database import Database

from infra.storage.repository import Repository, insert_once, newest_first
from schemas.documents import Conversation, ConversationMember


class ConversationsRepo(Repository):
    INDEXES = {
        "conversations": [
            IndexModel([("groupId", ASC), ("createdAt", DESC)], name="groupId_createdAt"),
            # One direct conversation per pair: absent on group conversations (sparse), unique on the others.
            IndexModel([("directKey", ASC)], name="directKey", unique=True, sparse=True),
            # The exporters' picker: a group's conversations newest first, and titles searched on the index's
            # keys (a case-insensitive regex scans the keys, never the documents).
            IndexModel([("groupId", ASC), ("_id", DESC)], name="groupId_id"),
            IndexModel([("title", ASC)], name="title"),
        ],
        "conversation_members": [
            IndexModel([("convId", ASC), ("userId", ASC)], name="convId_userId", unique=True),
            IndexModel([("userId", ASC), ("convId", ASC)], name="userId_convId"),
        ],
    }

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.conversations = db["conversations"]
        self.conversation_members = db["conversation_members"]

    def insert_conversation(self, conv: Conversation, members: list[ConversationMember]) -> None:
        self.conversations.insert_one(conv.to_mongo())
        if members:
            self.conversation_members.insert_many([m.to_mongo() for m in members], ordered=False)

    def get_conversation(self, conv_id: str) -> Conversation | None:
        doc = self.conversations.find_one({"_id": conv_id})
        return Conversation.from_mongo(doc) if doc else None

    def titles_of(self, conv_ids: list[str]) -> dict[str, str]:
        """id -> title of each conversation that still exists."""
        return {d["_id"]: d["title"] for d in self.conversations.find({"_id": {"$in": list(set(conv_ids))}},
                                                                      {"title": 1})}

    def get_conversation_member(self, conv_id: str, user_id: str) -> ConversationMember | None:
        doc = self.conversation_members.find_one({"convId": conv_id, "userId": user_id})
        return ConversationMember.from_mongo(doc) if doc else None

    def insert_conversation_member(self, member: ConversationMember) -> bool:
        return insert_once(self.conversation_members, member.to_mongo())

    def conversation_members_of(self, conv_id: str, limit: int) -> list[ConversationMember]:
        """The conversation's members in joining order, at most ``limit`` (from the (convId, userId) index)."""
        docs = self.conversation_members.find({"convId": conv_id}).limit(limit)
        return sorted((ConversationMember.from_mongo(d) for d in docs), key=lambda m: m.joinedAt)

    def remove_conversation_member(self, conv_id: str, user_id: str) -> bool:
        """False when the user was not a member."""
        return self.conversation_members.delete_one({"convId": conv_id, "userId": user_id}).deleted_count == 1

    def advance_read_mark(self, conv_id: str, user_id: str, seq: int, at) -> bool:
        """Move the member's read mark to ``seq`` if that is forward; True when it moved."""
        result = self.conversation_members.update_one(
            {"convId": conv_id, "userId": user_id, "lastReadSeq": {"$lt": seq}},
            {"$set": {"lastReadSeq": seq, "lastReadAt": at}})
        return result.modified_count == 1

    def conversations_of_user(self, user_id: str) -> list[tuple[Conversation, ConversationMember]]:
        members = {m["convId"]: ConversationMember.from_mongo(m)
                   for m in self.conversation_members.find({"userId": user_id})}
        convs = [Conversation.from_mongo(c) for c in self.conversations.find({"_id": {"$in": list(members)}})]
        convs.sort(key=lambda c: c.lastMessageAt or c.createdAt, reverse=True)
        return [(c, members[c.id]) for c in convs]

    def advance_conversation(self, conv_id: str, last_seq: int, last_at) -> None:
        """Record the newest stored message; only forward, so a late writer never moves it back."""
        self.conversations.update_one({"_id": conv_id, "lastSeq": {"$lt": last_seq}},
                                      {"$set": {"lastSeq": last_seq, "lastMessageAt": last_at}})

    def set_muted_until(self, group_id: str, user_id: str, until) -> int:
        """Copy a mute onto the member's conversation memberships in the group (the send path reads those)."""
        return self.conversation_members.update_many({"userId": user_id, "groupId": group_id},
                                                     {"$set": {"mutedUntil": until}}).modified_count

    def insert_direct(self, conv: Conversation, members: list[ConversationMember]) -> bool:
        """Store the pair's direct conversation; False when the pair has one already (the unique directKey:
        of two concurrent requests, one stores it, the other reads it)."""
        try:
            self.conversations.insert_one(conv.to_mongo())
        except pymongo.errors.DuplicateKeyError:
            return False
        self.conversation_members.insert_many([m.to_mongo() for m in members], ordered=False)
        return True

    def get_direct(self, direct_key: str) -> Conversation | None:
        doc = self.conversations.find_one({"directKey": direct_key})
        return Conversation.from_mongo(doc) if doc else None

    # --- encryption at rest (infra.crypto) ---
    def set_encrypted(self, conv_id: str) -> None:
        """Mark the conversation encrypted (it has a data key); never unset (encryption is one way)."""
        self.conversations.update_one({"_id": conv_id, "encrypted": {"$ne": True}}, {"$set": {"encrypted": True}})

    def conversation_ids_of_group(self, group_id: str, after: str | None, limit: int) -> list[str]:
        """A page of the group's conversation ids in id order, after ``after`` (the groupId_id index)."""
        query: dict[str, Any] = {"groupId": group_id}
        if after:
            query["_id"] = {"$gt": after}
        docs = self.conversations.find(query, {"_id": 1}).sort([("groupId", ASC), ("_id", ASC)]).limit(limit)
        return [d["_id"] for d in docs]

    def conversation_ids_of_user(self, user_id: str) -> list[str]:
        """From the (userId, convId) index alone (a covered query)."""
        return [m["convId"] for m in self.conversation_members.find({"userId": user_id}, {"_id": 0, "convId": 1})]

    def conversations_page(self, *, group_ids: list[str] | None, conv_ids: list[str], text: str | None,
                           text_group_ids: list[str], before: str | None, limit: int) -> tuple[list[Conversation], bool]:
        """Newest first by id: of the groups ``group_ids`` (None: every group) and the conversations
        ``conv_ids``; with ``text``, only those whose title holds it (any case) or whose group is one of
        ``text_group_ids`` (the groups whose name holds it)."""
        clauses: list[dict[str, Any]] = []
        if group_ids is not None:
            clauses.append({"$or": [{"groupId": {"$in": group_ids}}, {"_id": {"$in": conv_ids}}]})
        if text is not None:
            clauses.append({"$or": [{"title": {"$regex": re.escape(text), "$options": "i"}},
                                    {"groupId": {"$in": text_group_ids}}]})
        if before:
            clauses.append({"_id": {"$lt": before}})
        query = {"$and": clauses} if clauses else {}
        return newest_first(self.conversations, query, Conversation, before=None, limit=limit)
