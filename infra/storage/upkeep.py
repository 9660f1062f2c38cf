"""Upkeep: retention policies and archiving, and the repair walks over conversations."""
from __future__ import annotations

import pymongo
from pymongo import ASCENDING as ASC, IndexModel
from pymongo.database import Database

from infra.storage.conversations import ConversationsRepo
from infra.storage.groups import GroupsRepo
from infra.storage.repository import Repository
from schemas.documents import Conversation, ConversationMember, RetentionPolicy


class UpkeepRepo(Repository):
    INDEXES = {
        # Retention (seed 000: old messages archived in a separate collection, same shape, same seq index).
        "messages_archive": [IndexModel([("convId", ASC), ("seq", ASC)], name="convId_seq", unique=True)],
    }
    DONE = "done"   # a walk's cursor once it has reached the end

    def __init__(self, db: Database, conversations: ConversationsRepo, groups: GroupsRepo) -> None:
        super().__init__(db)
        self._members, self._groups = conversations, groups  # for the members who left the group
        self.conversations = db["conversations"]
        self.messages = db["messages"]
        self.messages_archive = db["messages_archive"]
        self.retention_policies = db["retention_policies"]
        self.walks = db["upkeep_walks"]   # {_id: walk name, after: last _id done (or DONE)}: resumable walks

    def conversations_page(self, after_id: str | None, limit: int) -> list[Conversation]:
        query = {"_id": {"$gt": after_id}} if after_id else {}
        return [Conversation.from_mongo(d) for d in self.conversations.find(query).sort("_id", ASC).limit(limit)]

    def walk_cursor(self, name: str) -> str | None:
        """Where the walk ``name`` stopped: the last _id it did, DONE, or None before its first batch."""
        doc = self.walks.find_one({"_id": name})
        return doc["after"] if doc else None

    def set_walk_cursor(self, name: str, after: str) -> None:
        self.walks.update_one({"_id": name}, {"$set": {"after": after}}, upsert=True)

    def conversations_of_group(self, group_id: str, limit: int) -> list[Conversation]:
        return [Conversation.from_mongo(d) for d in self.conversations.find({"groupId": group_id}).limit(limit)]

    def repair_last_seq(self, conv_id: str, last_seq: int, last_at) -> bool:
        """Move lastSeq forward to the newest stored message (never back)."""
        return self.conversations.update_one({"_id": conv_id, "lastSeq": {"$lt": last_seq}},
                                             {"$set": {"lastSeq": last_seq, "lastMessageAt": last_at}}
                                             ).modified_count == 1

    def members_outside_group(self, conv: Conversation, limit: int) -> list[ConversationMember]:
        """Members of the conversation who are no longer members of its group."""
        return [m for m in self._members.conversation_members_of(conv.id, limit)
                if self._groups.get_group_member(conv.groupId, m.userId) is None]

    def retention_policy(self, group_id: str) -> RetentionPolicy | None:
        doc = self.retention_policies.find_one({"_id": group_id})
        return RetentionPolicy.from_mongo(doc) if doc else None

    def put_retention_policy(self, policy: RetentionPolicy) -> None:
        self.retention_policies.replace_one({"_id": policy.id}, policy.to_mongo(), upsert=True)

    def retention_policies_all(self, limit: int) -> list[RetentionPolicy]:
        return [RetentionPolicy.from_mongo(d) for d in self.retention_policies.find().limit(limit)]

    def messages_to_archive(self, conv_id: str, *, below_seq: int | None, before, limit: int) -> list[dict]:
        """The oldest messages of the conversation with seq < below_seq or created before ``before``."""
        ors = []
        if below_seq is not None:
            ors.append({"seq": {"$lt": below_seq}})
        if before is not None:
            ors.append({"createdAt": {"$lt": before}})
        if not ors:
            return []
        return list(self.messages.find({"convId": conv_id, "$or": ors}).sort("seq", ASC).limit(limit))

    def archive_messages(self, docs: list[dict]) -> int:
        """Copy to messages_archive (a copy already there is fine: a rerun), then delete from messages."""
        if not docs:
            return 0
        try:
            self.messages_archive.insert_many(docs, ordered=False)
        except pymongo.errors.BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise
        return self.messages.delete_many({"_id": {"$in": [d["_id"] for d in docs]}}).deleted_count
