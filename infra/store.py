"""MongoDB access: the collections, their indexes, and every query the system makes.

Each query here is served by one of the indexes declared in INDEXES (no collection scans), and
takes a bounded number of documents. The same code runs on a real MongoDB (MONGO_URL) and on the
embedded store (infra.embedded.mongo).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable

import pymongo
from pymongo import ASCENDING as ASC, DESCENDING as DESC, TEXT, IndexModel, ReturnDocument
from pymongo.database import Database

from schemas.documents import (SCHEDULED_OPEN, UNREAD, ActivityLog, Album, Conversation, ConversationMember, Digest,
                               EmailWindow, Export, FilterRule, Group, GroupMember, GroupModeration, Media, Message,
                               Notification, NotificationSettings, Reaction, RetentionPolicy, ReviewItem, ReviewReason,
                               Sanction, ScheduledMessage, SenderInfo, Upload, User)

log = logging.getLogger(__name__)

INDEXES: dict[str, list[IndexModel]] = {
    "users": [IndexModel([("username", ASC)], name="username", unique=True)],
    "groups": [IndexModel([("createdBy", ASC)], name="createdBy")],
    "group_members": [
        IndexModel([("groupId", ASC), ("userId", ASC)], name="groupId_userId", unique=True),
        IndexModel([("userId", ASC), ("groupId", ASC)], name="userId_groupId"),
    ],
    "conversations": [IndexModel([("groupId", ASC), ("createdAt", DESC)], name="groupId_createdAt")],
    "conversation_members": [
        IndexModel([("convId", ASC), ("userId", ASC)], name="convId_userId", unique=True),
        IndexModel([("userId", ASC), ("convId", ASC)], name="userId_convId"),
    ],
    "messages": [
        # History, polling and seq allocation; unique so two writers can never share a seq.
        IndexModel([("convId", ASC), ("seq", ASC)], name="convId_seq", unique=True),
        # Idempotency: one message per client retry key.
        IndexModel([("convId", ASC), ("senderId", ASC), ("clientId", ASC)], name="convId_sender_clientId",
                   unique=True),
        # A sender's messages: the profile sync walks them by range on createdAt.
        IndexModel([("senderId", ASC), ("createdAt", DESC)], name="senderId_createdAt"),
        # Search (seed 001: French by default). convId first, so a search reads one conversation's
        # entries only (a $text query must then pin convId). One text index per collection is allowed.
        IndexModel([("convId", ASC), ("content", TEXT)], name="convId_content_text", default_language="french"),
        # A message's replies, whose quotes follow its edits and deletion (one update_many on this index).
        IndexModel([("metadata.replyTo", ASC)], name="metadata_replyTo", sparse=True),
    ],
    "activity_logs": [
        IndexModel([("userId", ASC), ("timestamp", DESC)], name="userId_timestamp"),
        IndexModel([("resource", ASC), ("resourceId", ASC), ("timestamp", DESC)], name="resource_timestamp"),
        # A group's moderation log, newest first (entries without groupId are not moderation actions).
        IndexModel([("groupId", ASC), ("_id", DESC)], name="groupId_id"),
        # An entry recorded by a task that may be redelivered carries a key derived from what it records.
        IndexModel([("key", ASC)], name="key", unique=True, sparse=True),
    ],
    # Moderation (seed 002). Lists are newest first by _id (ObjectIds grow with time), paged with before=id.
    "filter_rules": [IndexModel([("groupId", ASC), ("_id", DESC)], name="groupId_id")],
    "reviews": [
        # One item per message (or held send), however many reports or redelivered tasks: upserts on it.
        IndexModel([("key", ASC)], name="key", unique=True),
        IndexModel([("groupId", ASC), ("status", ASC), ("_id", DESC)], name="groupId_status_id"),
        IndexModel([("groupId", ASC), ("kind", ASC), ("status", ASC), ("_id", DESC)], name="groupId_kind_status_id"),
    ],
    # Media (seed 001 event_media): a conversation's gallery newest first, filterable by type.
    "media": [
        IndexModel([("convId", ASC), ("isDeleted", ASC), ("_id", DESC)], name="convId_isDeleted_id"),
        IndexModel([("convId", ASC), ("isDeleted", ASC), ("fileType", ASC), ("_id", DESC)],
                   name="convId_isDeleted_fileType_id"),
        IndexModel([("uploadedBy", ASC), ("createdAt", DESC)], name="uploadedBy_createdAt"),
        IndexModel([("albumId", ASC), ("_id", DESC)], name="albumId_id", sparse=True),
        # The sweeper's question: files stuck uploading or processing since before a time.
        IndexModel([("status", ASC), ("updatedAt", ASC)], name="status_updatedAt"),
        # Deleted files whose S3 objects are still to go: set at deletion, unset by the purge.
        IndexModel([("purgeQueuedAt", ASC)], name="purgeQueuedAt", sparse=True),
    ],
    # Uploads in progress (seed 001 file_uploads): gone an hour after creation (the clean-up job aborts
    # the multipart uploads S3 still holds for them).
    "uploads": [IndexModel([("expiresAt", ASC)], name="expiresAt_ttl", expireAfterSeconds=0)],
    "albums": [IndexModel([("convId", ASC), ("_id", DESC)], name="convId_id")],
    # _id is the user's id: bytes of files held or being uploaded, against UPLOAD_QUOTA_BYTES.
    "upload_usage": [],
    # _id is {groupId}:{userId}: one mute and one ban per member of a group.
    "mutes": [IndexModel([("groupId", ASC), ("until", DESC)], name="groupId_until")],
    "bans": [IndexModel([("groupId", ASC), ("createdAt", DESC)], name="groupId_createdAt")],
    # Notifications and scheduling (seed 001 notifications; docs/notifications.md).
    "notifications": [
        IndexModel([("userId", ASC), ("status", ASC), ("createdAt", DESC)], name="userId_status_created"),
        IndexModel([("scheduledFor", ASC)], name="scheduledFor"),
        # The dispatcher's question: due reminders still pending (scheduledFor alone keeps sent ones too).
        IndexModel([("status", ASC), ("scheduledFor", ASC)], name="status_scheduledFor"),
        # One notification per fact (a redelivered task stores nothing twice).
        IndexModel([("key", ASC)], name="key", unique=True),
        # A message's notifications (mentions, replies, reminders), redacted when it is deleted.
        IndexModel([("data.messageId", ASC)], name="data_messageId", sparse=True),
        # TTL: MongoDB deletes a notification once expiresAt passes (its monitor runs about once a minute,
        # so every read also filters expiresAt > now itself).
        IndexModel([("expiresAt", ASC)], name="auto_expire", expireAfterSeconds=0),
    ],
    "email_windows": [IndexModel([("dueAt", ASC)], name="dueAt")],
    # The sweep's question: open digests to look at again (pending: the next attempt is due; claimed: the
    # lease ran out), by ``retryAt``.
    "digests": [IndexModel([("status", ASC), ("retryAt", ASC)], name="status_retryAt")],
    "scheduled_messages": [
        # The dispatcher: what is due, by status (pending, or claimed with an expired lease).
        IndexModel([("status", ASC), ("sendAt", ASC)], name="status_sendAt"),
        # A conversation's queue in order: the head is the only one that may go.
        IndexModel([("convId", ASC), ("status", ASC), ("sendAt", ASC), ("_id", ASC)], name="convId_status_sendAt"),
        # The sender's own list, and one scheduled message per (sender, conversation, clientId).
        IndexModel([("senderId", ASC), ("convId", ASC), ("clientId", ASC)], name="sender_conv_clientId", unique=True),
        IndexModel([("senderId", ASC), ("status", ASC)], name="senderId_status"),
    ],
    # Retention (seed 000: old messages archived in a separate collection, same shape, same seq index).
    "messages_archive": [IndexModel([("convId", ASC), ("seq", ASC)], name="convId_seq", unique=True)],
    # Exports: a requester's jobs newest first; the clean-up's two questions (done ones past their expiry,
    # running ones whose lease ran out); the records go a while after they ended (purgeAt, TTL).
    "exports": [
        IndexModel([("requestedBy", ASC), ("_id", DESC)], name="requestedBy_id"),
        IndexModel([("status", ASC), ("expiresAt", ASC)], name="status_expiresAt"),
        IndexModel([("status", ASC), ("lease.until", ASC)], name="status_leaseUntil"),
        # The sweeper's question: jobs queued since before a time (never picked up).
        IndexModel([("status", ASC), ("updatedAt", ASC)], name="status_updatedAt"),
        IndexModel([("purgeAt", ASC)], name="purgeAt_ttl", expireAfterSeconds=0),
    ],
}


@dataclass(frozen=True)
class Page:
    messages: list[Message]
    has_more: bool


class Store:
    """The system's data, one method per question or change."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.users = db["users"]
        self.groups = db["groups"]
        self.group_members = db["group_members"]
        self.conversations = db["conversations"]
        self.conversation_members = db["conversation_members"]
        self.messages = db["messages"]
        self.activity_logs = db["activity_logs"]
        self.filter_rules = db["filter_rules"]
        self.group_moderation = db["group_moderation"]
        self.reviews = db["reviews"]
        self.mutes = db["mutes"]
        self.bans = db["bans"]
        self.notifications = db["notifications"]
        self.notification_settings = db["notification_settings"]
        self.email_windows = db["email_windows"]
        self.digests = db["digests"]
        self.scheduled_messages = db["scheduled_messages"]
        self.retention_policies = db["retention_policies"]
        self.messages_archive = db["messages_archive"]
        self.media = db["media"]
        self.uploads = db["uploads"]
        self.albums = db["albums"]
        self.upload_usage = db["upload_usage"]
        self.exports = db["exports"]

    def ensure_indexes(self) -> None:
        for name, models in INDEXES.items():
            self.db[name].create_indexes(models)

    def ping(self) -> None:
        self.db.command("ping")

    # -- users ---------------------------------------------------------------------------------
    def get_user(self, user_id: str) -> User | None:
        doc = self.users.find_one({"_id": user_id})
        return User.from_mongo(doc) if doc else None

    def get_user_by_username(self, username: str) -> User | None:
        doc = self.users.find_one({"username": username})
        return User.from_mongo(doc) if doc else None

    def users_by_usernames(self, usernames: Iterable[str]) -> dict[str, User]:
        found = {}
        for name in set(usernames):  # one indexed point lookup each; lists are short
            user = self.get_user_by_username(name)
            if user:
                found[name] = user
        return found

    def users_by_ids(self, user_ids: Iterable[str]) -> dict[str, User]:
        return {d["_id"]: User.from_mongo(d) for d in self.users.find({"_id": {"$in": list(set(user_ids))}})}

    def update_user_profile(self, user_id: str, changes: dict[str, Any], at) -> User | None:
        doc = self.users.find_one_and_update({"_id": user_id}, {"$set": {**changes, "updatedAt": at}},
                                             return_document=ReturnDocument.AFTER)
        return User.from_mongo(doc) if doc else None

    def insert_user_if_absent(self, user: User) -> User:
        """Create the user unless the username exists; either way return the stored one."""
        doc = self.users.find_one_and_update(
            {"username": user.username}, {"$setOnInsert": user.to_mongo()},
            upsert=True, return_document=ReturnDocument.AFTER)
        return User.from_mongo(doc)

    # -- groups --------------------------------------------------------------------------------
    def insert_group(self, group: Group, creator: GroupMember) -> None:
        self.groups.insert_one(group.to_mongo())
        self.group_members.insert_one(creator.to_mongo())

    def get_group(self, group_id: str) -> Group | None:
        doc = self.groups.find_one({"_id": group_id})
        return Group.from_mongo(doc) if doc else None

    def get_group_member(self, group_id: str, user_id: str) -> GroupMember | None:
        doc = self.group_members.find_one({"groupId": group_id, "userId": user_id})
        return GroupMember.from_mongo(doc) if doc else None

    def insert_group_member(self, member: GroupMember) -> bool:
        """False when the user already belongs to the group."""
        try:
            self.group_members.insert_one(member.to_mongo())
            return True
        except pymongo.errors.DuplicateKeyError:
            return False

    def group_members_of(self, group_id: str, limit: int) -> list[GroupMember]:
        """The group's members in joining order, at most ``limit`` (from the (groupId, userId) index)."""
        docs = self.group_members.find({"groupId": group_id}).limit(limit)
        return sorted((GroupMember.from_mongo(d) for d in docs), key=lambda m: m.joinedAt)

    def group_ids_of_user(self, user_id: str) -> list[str]:
        """From the (userId, groupId) index alone (a covered query)."""
        return [m["groupId"] for m in self.group_members.find({"userId": user_id}, {"_id": 0, "groupId": 1})]

    def groups_of_user(self, user_id: str) -> list[tuple[Group, str]]:
        roles = {m["groupId"]: m["role"] for m in self.group_members.find({"userId": user_id})}
        groups = self.groups.find({"_id": {"$in": list(roles)}})
        return sorted(((Group.from_mongo(g), roles[g["_id"]]) for g in groups), key=lambda gr: gr[0].createdAt)

    # -- conversations -------------------------------------------------------------------------
    def insert_conversation(self, conv: Conversation, members: list[ConversationMember]) -> None:
        self.conversations.insert_one(conv.to_mongo())
        if members:
            self.conversation_members.insert_many([m.to_mongo() for m in members], ordered=False)

    def get_conversation(self, conv_id: str) -> Conversation | None:
        doc = self.conversations.find_one({"_id": conv_id})
        return Conversation.from_mongo(doc) if doc else None

    def get_conversation_member(self, conv_id: str, user_id: str) -> ConversationMember | None:
        doc = self.conversation_members.find_one({"convId": conv_id, "userId": user_id})
        return ConversationMember.from_mongo(doc) if doc else None

    def insert_conversation_member(self, member: ConversationMember) -> bool:
        try:
            self.conversation_members.insert_one(member.to_mongo())
            return True
        except pymongo.errors.DuplicateKeyError:
            return False

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

    # -- messages ------------------------------------------------------------------------------
    def find_message_by_client_id(self, conv_id: str, sender_id: str, client_id: str) -> Message | None:
        doc = self.messages.find_one({"convId": conv_id, "senderId": sender_id, "clientId": client_id})
        return Message.from_mongo(doc) if doc else None

    def get_message(self, message_id: str) -> Message | None:
        doc = self.messages.find_one({"_id": message_id})
        return Message.from_mongo(doc) if doc else None

    def add_reaction(self, message_id: str, reaction: Reaction) -> Message | None:
        """Atomically add the reaction unless that user already reacted with that emoji (then None)."""
        doc = self.messages.find_one_and_update(
            {"_id": message_id, "reactions": {"$not": {"$elemMatch": {"userId": reaction.userId,
                                                                     "emoji": reaction.emoji}}}},
            {"$push": {"reactions": reaction.model_dump()}, "$set": {"updatedAt": reaction.at}},
            return_document=ReturnDocument.AFTER)
        return Message.from_mongo(doc) if doc else None

    def remove_reaction(self, message_id: str, user_id: str, emoji: str, at) -> Message | None:
        """Atomically remove that user's reaction with that emoji (None when there was none)."""
        doc = self.messages.find_one_and_update(
            {"_id": message_id, "reactions": {"$elemMatch": {"userId": user_id, "emoji": emoji}}},
            {"$pull": {"reactions": {"userId": user_id, "emoji": emoji}}, "$set": {"updatedAt": at}},
            return_document=ReturnDocument.AFTER)
        return Message.from_mongo(doc) if doc else None

    def edit_message(self, message_id: str, content: str, at) -> Message | None:
        """Replace the content, keeping the previous one in editHistory; None when nothing changed
        (already that content, or deleted), so a redelivered edit is not applied twice."""
        current = self.messages.find_one({"_id": message_id}, {"content": 1})
        if current is None:
            return None
        doc = self.messages.find_one_and_update(
            {"_id": message_id, "isDeleted": False, "content": current["content"], "$nor": [{"content": content}]},
            {"$set": {"content": content, "isEdited": True, "editedAt": at, "updatedAt": at},
             "$push": {"editHistory": {"content": current["content"], "replacedAt": at}}},
            return_document=ReturnDocument.AFTER)
        return Message.from_mongo(doc) if doc else None

    def delete_message(self, message_id: str, by: str, at) -> Message | None:
        """Soft delete; None when it already was deleted."""
        doc = self.messages.find_one_and_update(
            {"_id": message_id, "isDeleted": False},
            {"$set": {"isDeleted": True, "deletedAt": at, "deletedBy": by, "updatedAt": at}},
            return_document=ReturnDocument.AFTER)
        return Message.from_mongo(doc) if doc else None

    def rewrite_quotes(self, parent_id: str, quote: dict[str, Any], at, *, limit: int) -> list[Message]:
        """Set the quote of every reply to ``parent_id`` (one update_many on the metadata.replyTo index);
        the first ``limit`` replies as they are now, to announce."""
        changes = {f"metadata.quote.{k}": v for k, v in quote.items()}
        # Only the quotes that differ: a second run (a redelivery) writes and announces nothing.
        query = {"metadata.replyTo": parent_id, "metadata.quote": {"$exists": True},
                 "$or": [{field: {"$ne": value}} for field, value in changes.items()]}
        ids = [d["_id"] for d in self.messages.find(query, {"_id": 1}).limit(limit)]
        if not ids:
            return []
        self.messages.update_many(query, {"$set": {**changes, "updatedAt": at}})
        return [Message.from_mongo(d) for d in self.messages.find({"_id": {"$in": ids}})]

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
        self.messages.insert_one(message.to_mongo())

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
        return Page([Message.from_mongo(d) for d in page], has_more=len(docs) > limit)

    def search(self, conv_id: str, text: str, *, before: int | None, limit: int) -> Page:
        """Newest first: the conversation's messages matching ``text`` (MongoDB $text syntax) with seq below
        ``before``; never deleted or system messages. The text index's convId prefix bounds the search to
        the conversation's own index entries. ``has_more``: older matches remain."""
        query: dict[str, Any] = {"convId": conv_id, "$text": {"$search": text}, "isDeleted": False,
                                 "type": {"$ne": "system"}}
        if before is not None:
            query["seq"] = {"$lt": before}
        docs = list(self.messages.find(query).sort("seq", DESC).limit(limit + 1))
        return Page([Message.from_mongo(d) for d in docs[:limit]], has_more=len(docs) > limit)

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

    # -- audit ---------------------------------------------------------------------------------
    def log_activity(self, entry: ActivityLog) -> None:
        try:
            self.activity_logs.insert_one(entry.to_mongo())
        except pymongo.errors.PyMongoError:  # the audit trail must never break the action it records
            log.exception("could not write activity log %s", entry.action)

    def moderation_log(self, group_id: str, *, before: str | None, limit: int) -> tuple[list[ActivityLog], bool]:
        query: dict[str, Any] = {"groupId": group_id}
        if before:
            query["_id"] = {"$lt": before}
        docs = list(self.activity_logs.find(query).sort("_id", DESC).limit(limit + 1))
        return [ActivityLog.from_mongo(d) for d in docs[:limit]], len(docs) > limit

    def insert_activity_once(self, entry: ActivityLog) -> bool:
        """With a ``key`` derived from what it records, a redelivered task writes the entry once (its id
        stays an ObjectId: the log is read in id order, which is time order)."""
        try:
            self.activity_logs.insert_one(entry.to_mongo())
            return True
        except pymongo.errors.DuplicateKeyError:
            return False

    def count_activity(self, resource: str, resource_id: str, action: str, group_id: str, since) -> int:
        """How often ``action`` happened to that resource in the group since then (the resource_timestamp
        index bounds it to the resource's own recent entries)."""
        return self.activity_logs.count_documents({"resource": resource, "resourceId": resource_id,
                                                   "timestamp": {"$gte": since}, "action": action,
                                                   "groupId": group_id})

    # -- moderation: rules and settings ----------------------------------------------------------
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

    # -- moderation: review items ----------------------------------------------------------------
    def upsert_review(self, item: ReviewItem, reasons: list[ReviewReason]) -> tuple[ReviewItem, bool]:
        """Create the item of ``item.key`` if there is none, and add the reasons it does not have yet
        (by their ``key``), in one atomic update per reason. Returns the item and whether anything changed.

        A decided item that gets a new report is opened again (pending): one item per message, ever."""
        doc = self.reviews.find_one_and_update(
            {"key": item.key}, {"$setOnInsert": {**item.to_mongo(), "reasons": []}},
            upsert=True, return_document=ReturnDocument.AFTER)
        changed = doc["_id"] == item.id
        for reason in reasons:
            update: dict[str, Any] = {"$push": {"reasons": reason.model_dump()}, "$set": {"updatedAt": reason.at}}
            if reason.kind == "report":
                update["$set"].update({"status": "pending", "decidedBy": None, "decidedByName": None,
                                       "decidedAt": None, "note": None})
            grown = self.reviews.find_one_and_update(
                {"key": item.key, "reasons.key": {"$ne": reason.key},
                 **({"status": {"$in": ["pending", "approved", "dismissed"]}} if reason.kind == "report" else {})},
                update, return_document=ReturnDocument.AFTER)
            if grown is not None:
                doc, changed = grown, True
        return ReviewItem.from_mongo(doc), changed

    def replace_review_text(self, key: str, content: str, at) -> None:
        """A flagged message was edited: the item shows the new text, and loses the filter hits of the old
        one (their positions were in it); reports stay."""
        self.reviews.update_one({"key": key}, {"$set": {"message.content": content, "updatedAt": at},
                                               "$pull": {"reasons": {"kind": "filter"}}})

    def get_review(self, review_id: str) -> ReviewItem | None:
        doc = self.reviews.find_one({"_id": review_id})
        return ReviewItem.from_mongo(doc) if doc else None

    def reviews_of_group(self, group_id: str, statuses: tuple[str, ...], kind: str | None, *,
                         before: str | None, limit: int) -> tuple[list[ReviewItem], bool]:
        query: dict[str, Any] = {"groupId": group_id,
                                 "status": statuses[0] if len(statuses) == 1 else {"$in": list(statuses)}}
        if kind:
            query["kind"] = kind
        if before:
            query["_id"] = {"$lt": before}
        docs = list(self.reviews.find(query).sort("_id", DESC).limit(limit + 1))
        return [ReviewItem.from_mongo(d) for d in docs[:limit]], len(docs) > limit

    def decide_review(self, review_id: str, status: str, by: User, note: str | None, at) -> ReviewItem | None:
        """pending -> status, for one moderator only: the conditional update is the race's referee."""
        doc = self.reviews.find_one_and_update(
            {"_id": review_id, "status": "pending"},
            {"$set": {"status": status, "decidedBy": by.id, "decidedByName": by.username, "decidedAt": at,
                      "note": note, "updatedAt": at}},
            return_document=ReturnDocument.AFTER)
        return ReviewItem.from_mongo(doc) if doc else None

    # -- moderation: mutes and bans --------------------------------------------------------------
    def put_sanction(self, collection: str, sanction: Sanction) -> None:
        self.db[collection].replace_one({"_id": sanction.id}, sanction.to_mongo(), upsert=True)

    def get_sanction(self, collection: str, group_id: str, user_id: str) -> Sanction | None:
        doc = self.db[collection].find_one({"_id": Sanction.key(group_id, user_id)})
        return Sanction.from_mongo(doc) if doc else None

    def delete_sanction(self, collection: str, group_id: str, user_id: str) -> Sanction | None:
        doc = self.db[collection].find_one_and_delete({"_id": Sanction.key(group_id, user_id)})
        return Sanction.from_mongo(doc) if doc else None

    def sanctions_of_group(self, collection: str, group_id: str, now, limit: int) -> tuple[list[Sanction], bool]:
        """The group's mutes or bans still in force, newest first."""
        query = {"groupId": group_id, "$or": [{"until": None}, {"until": {"$gt": now}}]}
        docs = list(self.db[collection].find(query).sort("createdAt", DESC).limit(limit + 1))
        return [Sanction.from_mongo(d) for d in docs[:limit]], len(docs) > limit

    def set_muted_until(self, group_id: str, user_id: str, until) -> int:
        """Copy a mute onto the member's conversation memberships in the group (the send path reads those)."""
        return self.conversation_members.update_many({"userId": user_id, "groupId": group_id},
                                                     {"$set": {"mutedUntil": until}}).modified_count

    def set_group_role(self, group_id: str, user_id: str, role: str) -> GroupMember | None:
        doc = self.group_members.find_one_and_update({"groupId": group_id, "userId": user_id},
                                                     {"$set": {"role": role}}, return_document=ReturnDocument.AFTER)
        return GroupMember.from_mongo(doc) if doc else None

    def remove_group_member(self, group_id: str, user_id: str) -> list[str]:
        """Take the user out of the group and of its conversations; the conversations they left."""
        convs = [m["convId"] for m in self.conversation_members.find({"userId": user_id, "groupId": group_id},
                                                                      {"convId": 1})]
        self.conversation_members.delete_many({"userId": user_id, "groupId": group_id})
        self.group_members.delete_one({"groupId": group_id, "userId": user_id})
        return convs

    def all_groups(self, limit: int) -> list[Group]:
        """Newest first (system admins moderate every group)."""
        return [Group.from_mongo(d) for d in self.groups.find().sort("_id", DESC).limit(limit)]

    # -- notifications ---------------------------------------------------------------------------
    def insert_notification(self, n: Notification) -> Notification:
        """Store it unless its key exists; either way return the stored one (idempotent)."""
        try:
            self.notifications.insert_one(n.to_mongo())
            return n
        except pymongo.errors.DuplicateKeyError:
            doc = self.notifications.find_one({"key": n.key})
            return Notification.from_mongo(doc) if doc else n

    def get_notification(self, notification_id: str) -> Notification | None:
        doc = self.notifications.find_one({"_id": notification_id})
        return Notification.from_mongo(doc) if doc else None

    def mark_notification_sent(self, notification_id: str, at, *, token: str | None = None) -> bool:
        """pending -> sent (emitted); with ``token``, only for the dispatcher holding that claim."""
        query: dict[str, Any] = {"_id": notification_id, "status": "pending"}
        if token is not None:
            query["claimToken"] = token
        return self.notifications.update_one(query, {"$set": {"status": "sent", "sentAt": at, "updatedAt": at}}
                                             ).modified_count == 1

    def notifications_of_user(self, user_id: str, statuses: tuple[str, ...], now, *, before: Notification | None,
                              limit: int) -> tuple[list[Notification], bool]:
        """Newest first (createdAt, then id), never expired ones; ``before``: the last one of the previous page."""
        query: dict[str, Any] = {"userId": user_id, "status": {"$in": list(statuses)}, "expiresAt": {"$gt": now}}
        if before is not None:
            query["$or"] = [{"createdAt": {"$lt": before.createdAt}},
                            {"createdAt": before.createdAt, "_id": {"$lt": before.id}}]
        docs = list(self.notifications.find(query).sort([("createdAt", DESC), ("_id", DESC)]).limit(limit + 1))
        return [Notification.from_mongo(d) for d in docs[:limit]], len(docs) > limit

    def count_unread(self, user_id: str, now) -> int:
        return sum(self.notifications.count_documents({"userId": user_id, "status": s, "expiresAt": {"$gt": now}})
                   for s in UNREAD)

    def own_live_notifications(self, user_id: str, ids: list[str], now) -> list[Notification]:
        """Those of ``ids`` that are the user's and not expired (one point read each)."""
        found = []
        for i in dict.fromkeys(ids):
            doc = self.notifications.find_one({"_id": i, "userId": user_id, "expiresAt": {"$gt": now}})
            if doc:
                found.append(Notification.from_mongo(doc))
        return found

    def mark_notifications(self, user_id: str, ids: list[str] | None, to: str, at, now) -> int:
        """sent -> delivered, or sent/delivered -> read, for the user's own (``ids``, or all unread ones).
        Conditional on the status, so a move never goes backwards and doing it twice changes nothing."""
        field = {"delivered": "deliveredAt", "read": "readAt"}[to]
        sources = ["sent"] if to == "delivered" else list(UNREAD)
        update = {"$set": {"status": to, field: at, "updatedAt": at}}
        if ids is None:
            return sum(self.notifications.update_many({"userId": user_id, "status": s, "expiresAt": {"$gt": now}},
                                                      update).modified_count for s in sources)
        return sum(self.notifications.update_one({"_id": i, "userId": user_id, "status": {"$in": sources}},
                                                 update).modified_count for i in dict.fromkeys(ids))

    def claim_due_notification(self, now, lease_until, token: str | None = None) -> Notification | None:
        """A due scheduled notification (a reminder) nobody holds, with a lease on it for ``token`` and one
        attempt more; None when none is due."""
        doc = self.notifications.find_one_and_update(
            {"status": "pending", "scheduledFor": {"$lte": now},
             "$or": [{"claimedUntil": None}, {"claimedUntil": {"$lt": now}}]},
            {"$set": {"claimedUntil": lease_until, "claimToken": token}, "$inc": {"attempts": 1}},
            sort=[("scheduledFor", ASC)], return_document=ReturnDocument.AFTER)
        return Notification.from_mongo(doc) if doc else None

    def stale_pending_notifications(self, before, limit: int) -> list[Notification]:
        """Notifications stored but never marked sent (their task died after the insert and was not
        redelivered), created before ``before``; not the scheduled ones (reminders: the dispatcher's)."""
        docs = self.notifications.find({"status": "pending", "scheduledFor": None, "createdAt": {"$lt": before}})
        return [Notification.from_mongo(d) for d in docs.limit(limit)]

    def drop_claimed_notification(self, notification_id: str, token: str) -> None:
        """A due reminder that no longer applies (the user left, the message is gone), by its claim holder."""
        self.notifications.delete_one({"_id": notification_id, "status": "pending", "claimToken": token})

    def redact_message_notifications(self, message_id: str, at) -> tuple[int, int]:
        """A deleted message: its pending reminders are dropped (none will fire), the bodies of its other
        notifications emptied. (dropped, redacted)."""
        dropped = self.notifications.delete_many({"data.messageId": message_id, "status": "pending",
                                                  "type": "reminder"}).deleted_count
        redacted = self.notifications.update_many(
            {"data.messageId": message_id, "data.deleted": {"$ne": True}},
            {"$set": {"body": "", "data.deleted": True, "updatedAt": at}}).modified_count
        return dropped, redacted

    def notifications_since(self, user_id: str, types: tuple[str, ...], since, up_to, now, limit: int
                            ) -> list[Notification]:
        """The user's unread notifications of those types created in (since, up_to], oldest first."""
        docs = self.notifications.find({"userId": user_id, "status": {"$in": list(UNREAD)}, "type": {"$in": list(types)},
                                         "createdAt": {"$gt": since, "$lte": up_to}, "expiresAt": {"$gt": now}})
        return [Notification.from_mongo(d) for d in docs.sort("createdAt", ASC).limit(limit)]

    def delete_expired_notifications(self, now, limit: int) -> int:
        """What the TTL monitor does on MongoDB (the embedded store has none): bounded per call."""
        ids = [d["_id"] for d in self.notifications.find({"expiresAt": {"$lte": now}}, {"_id": 1}).limit(limit)]
        return self.notifications.delete_many({"_id": {"$in": ids}}).deleted_count if ids else 0

    # -- notification settings -------------------------------------------------------------------
    def notification_settings_of(self, user_id: str, default_delay: int) -> NotificationSettings:
        doc = self.notification_settings.find_one({"_id": user_id})
        return NotificationSettings.from_mongo(doc) if doc else NotificationSettings(
            id=user_id, emailDelayMinutes=default_delay)

    def update_notification_settings(self, user_id: str, changes: dict[str, Any], default_delay: int
                                     ) -> NotificationSettings:
        doc = self.notification_settings.find_one_and_update(
            {"_id": user_id}, {"$set": changes} if changes else {"$setOnInsert": {"emailDelayMinutes": default_delay}},
            upsert=True, return_document=ReturnDocument.AFTER)
        if "emailDelayMinutes" not in doc:
            doc = self.notification_settings.find_one_and_update(
                {"_id": user_id, "emailDelayMinutes": None}, {"$set": {"emailDelayMinutes": default_delay}},
                return_document=ReturnDocument.AFTER) or doc
        return NotificationSettings.from_mongo(doc)

    # -- email windows and digests ---------------------------------------------------------------
    def touch_email_window(self, user_id: str, at, due_at) -> None:
        """Open the user's window at ``at`` (due at ``due_at``), or record the event in the open one. The
        notification tasks of consecutive batches can run in either order, so an event earlier than the
        window's opening moves it back (and its due time): the digest covers from the earliest event."""
        for _ in range(2):  # two first events at once: one inserts, the other updates
            try:
                self.email_windows.update_one(
                    {"_id": user_id}, {"$setOnInsert": {"userId": user_id},
                                       "$min": {"openedAt": at, "dueAt": due_at},
                                       "$max": {"lastEventAt": at}}, upsert=True)
                return
            except pymongo.errors.DuplicateKeyError:
                continue

    def due_email_windows(self, now, limit: int) -> list[EmailWindow]:
        docs = self.email_windows.find({"dueAt": {"$lte": now}}).sort("dueAt", ASC).limit(limit)
        return [EmailWindow.from_mongo(d) for d in docs]

    def close_email_window(self, window: EmailWindow, up_to, next_due) -> bool:
        """The window as read is closed by a digest covering it up to ``up_to``: deleted if no event came
        after that, otherwise moved on to start there (the next digest covers what came later). False if
        it changed meanwhile."""
        if self.email_windows.delete_one({"_id": window.id, "openedAt": window.openedAt,
                                          "lastEventAt": {"$lte": up_to}}).deleted_count:
            return True
        return self.email_windows.update_one(
            {"_id": window.id, "openedAt": window.openedAt},
            {"$set": {"openedAt": up_to, "dueAt": next_due}}).modified_count == 1

    def insert_digest_once(self, digest: Digest) -> bool:
        try:
            self.digests.insert_one(digest.to_mongo())
            return True
        except pymongo.errors.DuplicateKeyError:
            return False

    def get_digest(self, digest_id: str) -> Digest | None:
        doc = self.digests.find_one({"_id": digest_id})
        return Digest.from_mongo(doc) if doc else None

    def claim_digest(self, digest_id: str, now, lease_until, token: str, max_attempts: int) -> Digest | None:
        """pending and due (``retryAt`` passed), or claimed by a worker whose lease ran out -> claimed by
        ``token``, one attempt more; never past ``max_attempts``. The attempt count lives here, so the
        cap holds whatever the number of tasks that carry the digest (redeliveries, the sweep's resends)."""
        doc = self.digests.find_one_and_update(
            {"_id": digest_id, "attempts": {"$lt": max_attempts}, "status": {"$in": ["pending", "claimed"]},
             "$or": [{"retryAt": {"$lte": now}}, {"retryAt": None}]},  # (None: a digest made before retryAt)
            {"$set": {"status": "claimed", "claimedUntil": lease_until, "retryAt": lease_until, "claimToken": token,
                      "updatedAt": now}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER)
        return Digest.from_mongo(doc) if doc else None

    def finish_digest(self, digest_id: str, token: str, status: str, at, **fields) -> bool:
        """The claim holder's last word (sent, skipped, failed); False when the claim is no longer its own."""
        return self.digests.update_one(
            {"_id": digest_id, "status": "claimed", "claimToken": token},
            {"$set": {"status": status, "updatedAt": at, "claimedUntil": None, "retryAt": None, **fields}}
        ).modified_count == 1

    def release_digest(self, digest_id: str, token: str, error: str, at, retry_at) -> bool:
        """A failed attempt that will be retried: claimable again from ``retry_at``, the reason kept."""
        return self.digests.update_one(
            {"_id": digest_id, "status": "claimed", "claimToken": token},
            {"$set": {"status": "pending", "claimedUntil": None, "retryAt": retry_at, "error": error, "updatedAt": at}}
        ).modified_count == 1

    def stale_digests(self, older_than, limit: int) -> list[Digest]:
        """Open digests to look at again: pending since before ``older_than`` (their task was lost) or
        claimed with a lease that ran out before it (their worker died)."""
        docs = []
        for status in ("pending", "claimed"):
            docs += list(self.digests.find({"status": status, "retryAt": {"$lt": older_than}}).limit(limit))
        return [Digest.from_mongo(d) for d in docs[:limit]]

    def fail_stale_digest(self, digest: Digest, at, error: str) -> bool:
        """Fail a digest as read (same status and retryAt: nobody moved it since), for the sweeper."""
        return self.digests.update_one(
            {"_id": digest.id, "status": digest.status, "retryAt": digest.retryAt},
            {"$set": {"status": "failed", "error": error, "claimedUntil": None, "retryAt": None, "updatedAt": at}}
        ).modified_count == 1

    def record_email_outcome(self, user_id: str, up_to, outcome: dict[str, Any]) -> None:
        self.notification_settings.update_one({"_id": user_id}, {"$max": {"emailedUpTo": up_to},
                                                                 "$set": {"lastEmail": outcome}}, upsert=True)

    def direct_unread_since(self, conv_id: str, user_id: str, after_seq: int, since, up_to, limit: int
                            ) -> list[Message]:
        """Others' messages past ``after_seq`` (the reader's mark), created in (since, up_to], not deleted."""
        docs = self.messages.find({"convId": conv_id, "seq": {"$gt": after_seq}, "senderId": {"$ne": user_id},
                                   "isDeleted": False, "type": {"$ne": "system"},
                                   "createdAt": {"$gt": since, "$lte": up_to}})
        return [Message.from_mongo(d) for d in docs.sort("seq", ASC).limit(limit)]

    # -- scheduled messages ----------------------------------------------------------------------
    def insert_scheduled(self, item: ScheduledMessage) -> tuple[ScheduledMessage, bool]:
        """Idempotent on (sender, conversation, clientId): a retried create returns the first one."""
        try:
            self.scheduled_messages.insert_one(item.to_mongo())
            return item, True
        except pymongo.errors.DuplicateKeyError:
            doc = self.scheduled_messages.find_one({"senderId": item.senderId, "convId": item.convId,
                                                    "clientId": item.clientId})
            return ScheduledMessage.from_mongo(doc), False

    def get_scheduled(self, item_id: str) -> ScheduledMessage | None:
        doc = self.scheduled_messages.find_one({"_id": item_id})
        return ScheduledMessage.from_mongo(doc) if doc else None

    def count_open_scheduled(self, sender_id: str) -> int:
        return sum(self.scheduled_messages.count_documents({"senderId": sender_id, "status": s}) for s in SCHEDULED_OPEN)

    def scheduled_of_sender(self, sender_id: str, conv_id: str, *, before: str | None, limit: int
                            ) -> tuple[list[ScheduledMessage], bool]:
        query: dict[str, Any] = {"senderId": sender_id, "convId": conv_id}
        if before:
            query["_id"] = {"$lt": before}
        docs = list(self.scheduled_messages.find(query).sort("_id", DESC).limit(limit + 1))
        return [ScheduledMessage.from_mongo(d) for d in docs[:limit]], len(docs) > limit

    def update_pending_scheduled(self, item_id: str, sender_id: str, changes: dict[str, Any]) -> ScheduledMessage | None:
        """Edit or cancel, only while nobody has claimed it (so a send in progress is never changed under it)."""
        doc = self.scheduled_messages.find_one_and_update({"_id": item_id, "senderId": sender_id, "status": "pending"},
                                                          {"$set": changes}, return_document=ReturnDocument.AFTER)
        return ScheduledMessage.from_mongo(doc) if doc else None

    def due_scheduled_conversations(self, now, limit: int) -> list[str]:
        """Conversations whose queue has something due, or a claim whose lease ran out."""
        convs: dict[str, None] = {}
        for doc in self.scheduled_messages.find({"status": "pending", "sendAt": {"$lte": now}},
                                                {"convId": 1}).limit(limit):
            convs[doc["convId"]] = None
        for doc in self.scheduled_messages.find({"status": "claimed", "claimedUntil": {"$lt": now}},
                                                {"convId": 1}).limit(limit):
            convs[doc["convId"]] = None
        return list(convs)

    def scheduled_queue(self, conv_id: str, now, limit: int) -> list[ScheduledMessage]:
        """The conversation's open items (pending or claimed) due by ``now``, in queue order (sendAt, then
        id), at most ``limit``. Only the first may be claimed (see pipelines.scheduling)."""
        items = []
        for status in SCHEDULED_OPEN:
            docs = self.scheduled_messages.find({"convId": conv_id, "status": status, "sendAt": {"$lte": now}})
            items += [ScheduledMessage.from_mongo(d) for d in docs.sort([("sendAt", ASC), ("_id", ASC)]).limit(limit)]
        return sorted(items, key=lambda i: (i.sendAt, i.id))[:limit]

    def claim_scheduled(self, item: ScheduledMessage, now, lease_until, token: str) -> ScheduledMessage | None:
        """Take the item as read (pending, or claimed with an expired lease): one dispatcher wins. (One
        conditional update_one: the claimed item is built here rather than read back.)"""
        query: dict[str, Any] = {"_id": item.id, "status": item.status}
        if item.status == "claimed":
            query["claimedUntil"] = item.claimedUntil
        changes = {"status": "claimed", "claimedUntil": lease_until, "claimToken": token, "updatedAt": now}
        if self.scheduled_messages.update_one(query, {"$set": changes, "$inc": {"attempts": 1}}).modified_count != 1:
            return None
        return item.model_copy(update={**changes, "attempts": item.attempts + 1})

    def finish_scheduled(self, item: ScheduledMessage, token: str, status: str, at, **fields) -> ScheduledMessage | None:
        """claimed -> sent/failed (or back to pending), by the claim's holder only."""
        changes = {"status": status, "updatedAt": at, "claimedUntil": None, **fields}
        if self.scheduled_messages.update_one({"_id": item.id, "status": "claimed", "claimToken": token},
                                              {"$set": changes}).modified_count != 1:
            return None
        return item.model_copy(update=changes)

    def stale_scheduled(self, status: str, due_before, limit: int) -> list[ScheduledMessage]:
        """Open items (``status`` pending or claimed) due before ``due_before``: past every bound of delivery."""
        docs = self.scheduled_messages.find({"status": status, "sendAt": {"$lt": due_before}}).limit(limit)
        return [ScheduledMessage.from_mongo(d) for d in docs]

    def fail_stale_scheduled(self, item: ScheduledMessage, at, error: dict[str, str]) -> ScheduledMessage | None:
        """Fail the item as read (same status and claim: nobody took it since), for the sweeper."""
        changes = {"status": "failed", "error": error, "claimedUntil": None, "updatedAt": at}
        if self.scheduled_messages.update_one(
                {"_id": item.id, "status": item.status, "claimToken": item.claimToken,
                 "claimedUntil": item.claimedUntil}, {"$set": changes}).modified_count != 1:
            return None
        return item.model_copy(update=changes)

    # -- upkeep: repair and retention ------------------------------------------------------------
    def conversations_page(self, after_id: str | None, limit: int) -> list[Conversation]:
        query = {"_id": {"$gt": after_id}} if after_id else {}
        return [Conversation.from_mongo(d) for d in self.conversations.find(query).sort("_id", ASC).limit(limit)]

    def newest_message(self, conv_id: str) -> Message | None:
        doc = self.messages.find_one({"convId": conv_id}, sort=[("seq", DESC)])
        return Message.from_mongo(doc) if doc else None

    def repair_last_seq(self, conv_id: str, last_seq: int, last_at) -> bool:
        """Move lastSeq forward to the newest stored message (never back)."""
        return self.conversations.update_one({"_id": conv_id, "lastSeq": {"$lt": last_seq}},
                                             {"$set": {"lastSeq": last_seq, "lastMessageAt": last_at}}
                                             ).modified_count == 1

    def retention_policy(self, group_id: str) -> RetentionPolicy | None:
        doc = self.retention_policies.find_one({"_id": group_id})
        return RetentionPolicy.from_mongo(doc) if doc else None

    def put_retention_policy(self, policy: RetentionPolicy) -> None:
        self.retention_policies.replace_one({"_id": policy.id}, policy.to_mongo(), upsert=True)

    def retention_policies_all(self, limit: int) -> list[RetentionPolicy]:
        return [RetentionPolicy.from_mongo(d) for d in self.retention_policies.find().limit(limit)]

    def conversations_of_group(self, group_id: str, limit: int) -> list[Conversation]:
        return [Conversation.from_mongo(d) for d in self.conversations.find({"groupId": group_id}).limit(limit)]

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

    def iter_conversation_messages(self, conv_id: str, batch: int = 500) -> Iterable[Message]:
        """Every message of the conversation in seq order, the archived ones first (what an export reads):
        retention moves the oldest seqs, so the archive's seqs all precede the live ones."""
        for collection in (self.messages_archive, self.messages):
            after = 0
            while docs := list(collection.find({"convId": conv_id, "seq": {"$gt": after}}).sort("seq", ASC).limit(batch)):
                for d in docs:
                    yield Message.from_mongo(d)
                after = docs[-1]["seq"]

    def members_outside_group(self, conv: Conversation, limit: int) -> list[ConversationMember]:
        """Members of the conversation who are no longer members of its group."""
        return [m for m in self.conversation_members_of(conv.id, limit)
                if self.get_group_member(conv.groupId, m.userId) is None]
    # -- media -----------------------------------------------------------------------------------
    def reserve_quota(self, user_id: str, media_id: str, size: int, quota: int) -> bool:
        """Count ``size`` more bytes against the user's quota, atomically, unless that would pass it. The
        reservation is recorded as in flight (``open.{mediaId}``) until the file is ready or refused."""
        self.upload_usage.update_one({"_id": user_id}, {"$setOnInsert": {"bytes": 0}}, upsert=True)
        return self.upload_usage.update_one({"_id": user_id, "bytes": {"$lte": quota - size}},
                                            {"$inc": {"bytes": size}, "$set": {f"open.{media_id}": size}}
                                            ).modified_count == 1

    def return_quota(self, user_id: str, media_id: str) -> bool:
        """Give back the bytes reserved for a file that will never be held (failed, quarantined, cancelled,
        abandoned), exactly once: one conditional update removes the reservation and its bytes together,
        so of any number of racing paths one returns it. False: already returned, or the file is held."""
        doc = self.upload_usage.find_one({"_id": user_id}, {f"open.{media_id}": 1})
        size = ((doc or {}).get("open") or {}).get(media_id)
        if size is None:
            return False
        return self.upload_usage.update_one({"_id": user_id, f"open.{media_id}": size},
                                            {"$inc": {"bytes": -size}, "$unset": {f"open.{media_id}": ""}}
                                            ).modified_count == 1

    def keep_quota(self, user_id: str, media_id: str) -> None:
        """The file is ready: its bytes stay counted, and no later failure path may return them."""
        self.upload_usage.update_one({"_id": user_id}, {"$unset": {f"open.{media_id}": ""}})

    def release_quota(self, user_id: str, size: int) -> None:
        """Give back the bytes of a held (ready) file whose objects were purged. Once: the caller does it
        on its own conditional deleted -> purged transition (``finish_media_purge``)."""
        self.upload_usage.update_one({"_id": user_id, "bytes": {"$gte": size}}, {"$inc": {"bytes": -size}})

    def insert_upload(self, upload: Upload, media: Media) -> None:
        self.media.insert_one(media.to_mongo())
        self.uploads.insert_one(upload.to_mongo())

    def get_upload(self, upload_id: str) -> Upload | None:
        doc = self.uploads.find_one({"_id": upload_id})
        return Upload.from_mongo(doc) if doc else None

    def close_upload(self, upload_id: str, status: str, at) -> Upload | None:
        """uploading -> completed or cancelled, once: None when it was no longer uploading."""
        doc = self.uploads.find_one_and_update({"_id": upload_id, "status": "uploading"},
                                               {"$set": {"status": status, "completedAt": at}},
                                               return_document=ReturnDocument.AFTER)
        return Upload.from_mongo(doc) if doc else None

    def expired_uploads(self, now, limit: int) -> list[Upload]:
        """Uploads past their expiry still open (the TTL index deletes them later: run before it does)."""
        return [Upload.from_mongo(d) for d in self.uploads.find({"expiresAt": {"$lte": now}}).limit(limit)]

    def delete_upload(self, upload_id: str) -> None:
        self.uploads.delete_one({"_id": upload_id})

    def get_media(self, media_id: str) -> Media | None:
        doc = self.media.find_one({"_id": media_id})
        return Media.from_mongo(doc) if doc else None

    def media_by_ids(self, media_ids: list[str]) -> dict[str, Media]:
        return {d["_id"]: Media.from_mongo(d) for d in self.media.find({"_id": {"$in": media_ids}})}

    def update_media(self, media_id: str, changes: dict[str, Any], *, unless_status: tuple[str, ...] = ()) -> Media | None:
        query: dict[str, Any] = {"_id": media_id}
        if unless_status:
            query["status"] = {"$nin": list(unless_status)}
        doc = self.media.find_one_and_update(query, {"$set": changes}, return_document=ReturnDocument.AFTER)
        return Media.from_mongo(doc) if doc else None

    def attach_message(self, media_id: str, message_id: str) -> Media | None:
        """Record that a message carries the file; the document as of that moment (see pipelines.media)."""
        doc = self.media.find_one_and_update({"_id": media_id}, {"$addToSet": {"messageIds": message_id}},
                                             return_document=ReturnDocument.AFTER)
        return Media.from_mongo(doc) if doc else None

    def delete_media(self, media_id: str) -> None:
        self.media.delete_one({"_id": media_id})

    def stale_media(self, status: str, before, limit: int) -> list[Media]:
        """Files in ``status`` (uploading, processing) that nothing moved since before ``before``."""
        docs = self.media.find({"status": status, "updatedAt": {"$lt": before}}).sort("updatedAt", ASC).limit(limit)
        return [Media.from_mongo(d) for d in docs]

    def settle_media(self, media: Media, changes: dict[str, Any]) -> Media | None:
        """Change the file as read (same status, same updatedAt: no worker moved it since); None otherwise."""
        doc = self.media.find_one_and_update({"_id": media.id, "status": media.status, "updatedAt": media.updatedAt},
                                             {"$set": changes}, return_document=ReturnDocument.AFTER)
        return Media.from_mongo(doc) if doc else None

    def mark_media_deleted(self, media_id: str, by: str | None, at) -> Media | None:
        """visible -> deleted, once (None when it already was): the caller's cue to do what follows. Its
        S3 objects are queued for the purge (``purgeQueuedAt``)."""
        doc = self.media.find_one_and_update(
            {"_id": media_id, "isDeleted": False},
            {"$set": {"isDeleted": True, "deletedAt": at, "deletedBy": by, "purgeQueuedAt": at, "updatedAt": at}},
            return_document=ReturnDocument.AFTER)
        return Media.from_mongo(doc) if doc else None

    def media_due_for_purge(self, queued_before, limit: int) -> list[Media]:
        """Deleted files queued for the purge at or before ``queued_before`` (the grace is over)."""
        return [Media.from_mongo(d) for d in self.media.find({"purgeQueuedAt": {"$lte": queued_before}}).limit(limit)]

    def finish_media_purge(self, media_id: str, at) -> Media | None:
        """deleted -> purged, once (None when it already was): its objects are gone; its likes, comments and
        renditions go with them."""
        doc = self.media.find_one_and_update({"_id": media_id, "purgeQueuedAt": {"$ne": None}},
                                             {"$unset": {"purgeQueuedAt": ""},
                                              "$set": {"purgedAt": at, "likes": [], "comments": [], "variants": {},
                                                       "caption": None, "updatedAt": at}},
                                             return_document=ReturnDocument.AFTER)
        return Media.from_mongo(doc) if doc else None

    def delete_media_comment(self, media_id: str, comment_id: str) -> bool:
        return self.media.update_one({"_id": media_id, "comments.id": comment_id},
                                     {"$pull": {"comments": {"id": comment_id}}}).modified_count == 1

    def remove_from_album(self, media: Media, at) -> None:
        """A deleted file leaves its album's counts; a new cover is the album's newest image left."""
        album = self.albums.find_one_and_update(
            {"_id": media.albumId}, {"$inc": {"mediaCount": -1, "totalSize": -media.fileSize}, "$set": {"updatedAt": at}},
            return_document=ReturnDocument.AFTER)
        if album is None or album.get("coverMediaId") != media.id:
            return
        cover = self.media.find_one({"albumId": media.albumId, "isDeleted": False, "fileType": "image"},
                                    {"_id": 1}, sort=[("_id", DESC)])
        self.albums.update_one({"_id": media.albumId, "coverMediaId": media.id},
                               {"$set": {"coverMediaId": cover["_id"] if cover else None}})

    def gallery(self, conv_id: str, file_type: str | None, *, before: str | None, limit: int) -> tuple[list[Media], bool]:
        """The conversation's files that are not deleted, newest first, all or of one type."""
        query: dict[str, Any] = {"convId": conv_id, "isDeleted": False, "status": {"$nin": ["uploading"]}}
        if file_type:
            query["fileType"] = file_type
        if before:
            query["_id"] = {"$lt": before}
        docs = list(self.media.find(query).sort("_id", DESC).limit(limit + 1))
        return [Media.from_mongo(d) for d in docs[:limit]], len(docs) > limit

    def like_media(self, media_id: str, user_id: str, at, add: bool) -> Media | None:
        if add:
            doc = self.media.find_one_and_update(
                {"_id": media_id, "likes.userId": {"$ne": user_id}},
                {"$push": {"likes": {"userId": user_id, "at": at}}}, return_document=ReturnDocument.AFTER)
        else:
            doc = self.media.find_one_and_update({"_id": media_id, "likes.userId": user_id},
                                                 {"$pull": {"likes": {"userId": user_id}}},
                                                 return_document=ReturnDocument.AFTER)
        return Media.from_mongo(doc) if doc else None

    def comment_media(self, media_id: str, comment: dict[str, Any], max_comments: int) -> Media | None:
        doc = self.media.find_one_and_update(
            {"_id": media_id, f"comments.{max_comments - 1}": {"$exists": False}},
            {"$push": {"comments": comment}}, return_document=ReturnDocument.AFTER)
        return Media.from_mongo(doc) if doc else None

    def insert_album(self, album: Album) -> None:
        self.albums.insert_one(album.to_mongo())

    def get_album(self, album_id: str) -> Album | None:
        doc = self.albums.find_one({"_id": album_id})
        return Album.from_mongo(doc) if doc else None

    def albums_of(self, conv_id: str, *, before: str | None, limit: int) -> tuple[list[Album], bool]:
        query: dict[str, Any] = {"convId": conv_id}
        if before:
            query["_id"] = {"$lt": before}
        docs = list(self.albums.find(query).sort("_id", DESC).limit(limit + 1))
        return [Album.from_mongo(d) for d in docs[:limit]], len(docs) > limit

    def add_to_album(self, album: Album, media: Media, at) -> Album | None:
        """Move the file into the album (once): the counts follow in the same step for the album."""
        if self.media.update_one({"_id": media.id, "albumId": {"$ne": album.id}},
                                 {"$set": {"albumId": album.id}}).modified_count == 0:
            return None
        if media.albumId:  # it left another album
            self.albums.update_one({"_id": media.albumId}, {"$inc": {"mediaCount": -1, "totalSize": -media.fileSize}})
        changes: dict[str, Any] = {"updatedAt": at}
        if album.coverMediaId is None and media.fileType == "image":
            changes["coverMediaId"] = media.id
        doc = self.albums.find_one_and_update(
            {"_id": album.id}, {"$inc": {"mediaCount": 1, "totalSize": media.fileSize},
                                "$addToSet": {"mediaTypes": media.fileType}, "$set": changes},
            return_document=ReturnDocument.AFTER)
        return Album.from_mongo(doc) if doc else None

    def set_message_files(self, message_id: str, files: list[dict[str, Any]], at) -> Message | None:
        doc = self.messages.find_one_and_update(
            {"_id": message_id, "metadata.files": {"$ne": files}},
            {"$set": {"metadata.files": files, "updatedAt": at}}, return_document=ReturnDocument.AFTER)
        return Message.from_mongo(doc) if doc else None

    def set_group_settings(self, group_id: str, changes: dict[str, Any]) -> Group | None:
        doc = self.groups.find_one_and_update({"_id": group_id}, {"$set": {f"settings.{k}": v for k, v in changes.items()}},
                                              return_document=ReturnDocument.AFTER)
        return Group.from_mongo(doc) if doc else None

    # -- exports ---------------------------------------------------------------------------------
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
        if "messages_archive" in INDEXES:
            for d in self.db["messages_archive"].find(query):
                found.setdefault(d["seq"], d)
        return [found[seq] for seq in sorted(found)]

    def count_messages_created(self, conv_id: str, created_from, created_to) -> int:
        """How many messages of the conversation were created in the bounds (a time-range export's total)."""
        query: dict[str, Any] = {"convId": conv_id, "createdAt": {
            **({"$gte": created_from} if created_from is not None else {}),
            **({"$lte": created_to} if created_to is not None else {})}}
        total = self.messages.count_documents(query)
        if "messages_archive" in INDEXES:
            total += self.db["messages_archive"].count_documents(query)
        return total

    def insert_export(self, export: Export) -> None:
        self.exports.insert_one(export.to_mongo())

    def get_export(self, export_id: str) -> Export | None:
        doc = self.exports.find_one({"_id": export_id})
        return Export.from_mongo(doc) if doc else None

    def exports_of_user(self, user_id: str, *, before: str | None, limit: int) -> tuple[list[Export], bool]:
        query: dict[str, Any] = {"requestedBy": user_id}
        if before:
            query["_id"] = {"$lt": before}
        docs = list(self.exports.find(query).sort("_id", DESC).limit(limit + 1))
        return [Export.from_mongo(d) for d in docs[:limit]], len(docs) > limit

    def claim_export(self, export_id: str, owner: str, now, until) -> Export | None:
        """queued -> running, or a running job whose lease ran out (its worker died) taken over; None when
        the job is finished or another worker holds a live lease. One conditional update: two
        deliveries of the same task cannot both win."""
        doc = self.exports.find_one_and_update(
            {"_id": export_id, "$or": [{"status": "queued"}, {"status": "running", "lease.until": {"$lt": now}}]},
            {"$set": {"status": "running", "lease": {"owner": owner, "until": until}, "startedAt": now,
                      "updatedAt": now}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER)
        return Export.from_mongo(doc) if doc else None

    def renew_export(self, export_id: str, owner: str, until, changes: dict[str, Any]) -> bool:
        """Extend our lease (with progress and the like); False when the job is no longer ours to run
        (cancelled, or taken over after our lease ran out)."""
        return self.exports.update_one({"_id": export_id, "status": "running", "lease.owner": owner},
                                       {"$set": {"lease.until": until, **changes}}).matched_count == 1

    def end_export(self, export_id: str, owner: str, changes: dict[str, Any], *, status: str = "running") -> Export | None:
        """The lease holder's last word (done, failed, or back to queued for a retry); None when the job
        was cancelled or taken over meanwhile."""
        doc = self.exports.find_one_and_update({"_id": export_id, "status": status, "lease.owner": owner},
                                               {"$set": {**changes, "lease": None}},
                                               return_document=ReturnDocument.AFTER)
        return Export.from_mongo(doc) if doc else None

    def set_export(self, export_id: str, changes: dict[str, Any], *, statuses: tuple[str, ...]) -> Export | None:
        """Change a job in one of ``statuses``; the job as it was before (None: it was in none of them)."""
        doc = self.exports.find_one_and_update({"_id": export_id, "status": {"$in": list(statuses)}},
                                               {"$set": changes}, return_document=ReturnDocument.BEFORE)
        return Export.from_mongo(doc) if doc else None

    def exports_past_expiry(self, now, limit: int) -> list[Export]:
        return [Export.from_mongo(d) for d in
                self.exports.find({"status": "done", "expiresAt": {"$lte": now}}).limit(limit)]

    def stale_queued_exports(self, before, limit: int) -> list[Export]:
        """Jobs still queued (never picked up, or put back by a retry that never came) since before ``before``."""
        return [Export.from_mongo(d) for d in
                self.exports.find({"status": "queued", "updatedAt": {"$lt": before}}).limit(limit)]

    def settle_export(self, export: Export, changes: dict[str, Any]) -> Export | None:
        """Change the job as read (same status, updatedAt and lease: nobody moved it since), for the sweeper."""
        lease = {"lease.until": export.lease.until} if export.lease else {"lease": None}
        doc = self.exports.find_one_and_update(
            {"_id": export.id, "status": export.status, "updatedAt": export.updatedAt, **lease},
            {"$set": changes}, return_document=ReturnDocument.AFTER)
        return Export.from_mongo(doc) if doc else None

    def exports_with_stale_lease(self, now, limit: int) -> list[Export]:
        return [Export.from_mongo(d) for d in
                self.exports.find({"status": "running", "lease.until": {"$lt": now}}).limit(limit)]
