"""Messages, their quotes, reactions and read marks, and the activity log (seed 001: messages, the seed's
event_messages; activity_logs)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import iso
from schemas.documents.base import Document, MessageType, Timestamp
from schemas.documents.people import SenderInfo


class Quote(BaseModel):
    """A reply's copy of its parent, so clients render the reply without another request. It follows the
    parent's life (docs/architecture.md, "Content lifecycle"): an edit of the parent rewrites ``excerpt``,
    its deletion empties it and sets ``deleted`` (rendered "original message deleted")."""
    messageId: str
    seq: int
    senderId: str
    username: str
    excerpt: str                  # the parent's first QUOTE_CHARS characters as they are now; "" when deleted
    deleted: bool = False

    @classmethod
    def of(cls, parent: "Message") -> "Quote":
        return cls(messageId=parent.id, seq=parent.seq, senderId=parent.senderId, username=parent.senderInfo.username,
                   excerpt="" if parent.isDeleted else quote_excerpt(parent.content), deleted=parent.isDeleted)


def quote_excerpt(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1].rstrip() + "…"


QUOTE_CHARS = 140


SearchLanguage = Literal["english", "french", "spanish", "german", "none"]
SystemAction = Literal["conversation_created", "member_joined", "member_left"]


def system_text(action: str, data: dict[str, Any]) -> str:
    """The plain-English content of a system message; clients render their own text from
    ``metadata.systemAction`` and ``metadata.systemData``, this is the fallback (and what exports show)."""
    who, by = data.get("username", "someone"), data.get("by")
    if action == "conversation_created":
        return f'{who} created the conversation "{data.get("title", "")}"'
    if action == "member_joined":
        return f"{by} added {who}" if by and by != who else f"{who} joined"
    if action == "member_left":
        return f"{by} removed {who}" if by and by != who else f"{who} left"
    return action


class MessageMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    replyTo: str | None = None
    quote: Quote | None = None
    mentions: list[str] | None = None
    systemAction: str | None = None
    systemData: dict[str, Any] | None = None
    files: list[dict[str, Any]] | None = None
    # True when the group's word filter replaced part of the text with "•": the reader is told why.
    masked: bool | None = None


class Reaction(BaseModel):
    userId: str
    emoji: str
    at: Timestamp


class ReadMark(BaseModel):
    userId: str
    at: Timestamp


class Message(Document):
    convId: str
    seq: int
    clientId: str
    senderId: str
    senderInfo: SenderInfo
    type: MessageType = "text"
    content: str
    metadata: MessageMetadata = Field(default_factory=MessageMetadata)
    reactions: list[Reaction] = Field(default_factory=list)
    readBy: list[ReadMark] = Field(default_factory=list)
    isEdited: bool = False
    editedAt: Timestamp | None = None
    editHistory: list["Edit"] = Field(default_factory=list)
    isDeleted: bool = False
    deletedAt: Timestamp | None = None
    deletedBy: str | None = None
    createdAt: Timestamp
    updatedAt: Timestamp
    # Search (pipelines.messages.words), set when the content is stored and at each edit: the language its
    # text was found to be in, by MongoDB's name (the field a text index reads per document, so only names a
    # server knows), and the words a search looks up (folded words, then ":en:stem" stems). Older messages
    # have neither until the backfill gives them (pipelines.messages.search.do_backfill_words).
    language: SearchLanguage | None = None
    words: list[str] = Field(default_factory=list)

    def to_mongo(self) -> dict[str, Any]:
        doc = self.model_dump(by_alias=True)
        doc["metadata"] = self.metadata.model_dump(exclude_none=True)
        if doc["language"] is None:  # absent, not null: a text index would refuse a null language
            del doc["language"]
        return doc

    def public(self) -> dict[str, Any]:
        """What members see: a deleted message keeps its place but not its content, quote or files (its
        content stays stored for moderators until retention purges it; its files are deleted)."""
        out = self.for_moderators()
        if self.isDeleted:
            out["content"], out["editHistory"] = "", []
            out["metadata"].pop("quote", None)
            out["metadata"].pop("files", None)
        return out

    def for_moderators(self) -> dict[str, Any]:
        """Everything stored, deleted content and its edit history included (the moderation view)."""
        out = self.model_dump(mode="json", exclude={"words"})  # (search's own index keys)
        out["metadata"] = self.metadata.model_dump(mode="json", exclude_none=True)
        return out


class Edit(BaseModel):
    """A previous content of an edited message, and when it was replaced."""
    content: str
    replacedAt: Timestamp


class ActivityLog(Document):
    """Audit trail (seed 001 activity_logs): refusals, logins, membership changes; with ``groupId``, the
    group's moderation history (rule changes, decisions, mutes, bans, lifts, blocked messages)."""
    userId: str | None
    action: str                   # e.g. "login", "create", "add_member", "denied"
    resource: str                 # "conversation", "group", "user", "message"
    resourceId: str | None = None
    changes: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)  # ip, userAgent, platform, reason
    timestamp: Timestamp
    groupId: str | None = None    # set on moderation actions: the group's moderation log
    key: str | None = None        # unique when set: what a redelivered task must not record twice

    def to_mongo(self) -> dict[str, Any]:
        doc = super().to_mongo()
        if doc.get("key") is None:
            doc.pop("key", None)  # absent, not null: the unique index is sparse
        return doc

    def moderation_entry(self) -> dict[str, Any]:
        """An entry of GET /api/groups/{id}/moderation/log: who did what, to whom, when and why."""
        meta = self.metadata
        return {"id": self.id, "groupId": self.groupId, "action": self.action, "actorId": self.userId,
                "actorName": meta.get("actorName"), "targetType": self.resource, "targetId": self.resourceId,
                "targetName": meta.get("targetName"), "reason": meta.get("reason"), "changes": self.changes,
                "at": iso(self.timestamp)}
