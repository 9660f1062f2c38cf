"""Users, groups, conversations and their members (seed 001: users, groups, group_members, conversations,
conversation_members)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.documents.base import Document, GroupRole, Language, SystemRole, Timestamp


class User(Document):
    username: str
    fname: str = ""
    lname: str = ""
    avatarUrl: str | None = None
    active: bool = True
    role: SystemRole = "USER"
    createdAt: Timestamp
    updatedAt: Timestamp
    # Notifications: where digests go (shown to nobody but the user: for_self) and their language.
    email: str | None = None
    language: Language = "en"

    def _private(self) -> set[str]:
        return {"email"}

    def for_self(self) -> dict[str, Any]:
        """The user as they see themselves (GET /api/me): with their email."""
        return self.model_dump(mode="json")


class SenderInfo(BaseModel):
    """The sender's profile, copied into each message so history needs no join (seed 001)."""
    username: str
    fname: str = ""
    lname: str = ""
    avatarUrl: str | None = None

    @classmethod
    def of(cls, user: User) -> "SenderInfo":
        return cls(username=user.username, fname=user.fname, lname=user.lname, avatarUrl=user.avatarUrl)


class GroupSettings(BaseModel):
    keepOriginalMetadata: bool = False  # originals keep their EXIF (GPS included) when others download them
    # Encryption at rest of what members write (docs/security.md); once on, it stays on.
    encryption: bool = False
    # The content rating passed to the GIF provider (the MPAA-like scale Giphy and Tenor share).
    gifRating: Literal["g", "pg", "pg-13", "r"] = "g"


class Group(Document):
    name: str
    createdBy: str
    createdAt: Timestamp
    settings: GroupSettings = Field(default_factory=GroupSettings)


class GroupMember(Document):
    groupId: str
    userId: str
    role: GroupRole
    joinedAt: Timestamp


class Conversation(Document):
    groupId: str
    title: str
    createdBy: str
    lastSeq: int = 0              # seq of the newest stored message
    lastMessageAt: Timestamp | None = None
    createdAt: Timestamp
    # A direct conversation (POST /api/direct-conversations) is the one of a pair: ``directKey`` is the two
    # user ids sorted and joined by ":", under a unique sparse index, so a second one for the pair cannot be
    # stored (absent, not null, on the others: to_mongo leaves it out). ``directUserIds`` are the two ids.
    kind: Literal["group", "direct"] = "group"
    directKey: str | None = None
    directUserIds: list[str] | None = None
    # Encryption at rest (docs/security.md): true once the conversation has a data key, so what members
    # write in it is stored sealed; never turned back off.
    encrypted: bool = False

    def to_mongo(self) -> dict[str, Any]:
        doc = super().to_mongo()
        for name in ("directKey", "directUserIds"):
            if doc.get(name) is None:
                doc.pop(name, None)
        return doc

    def _private(self) -> set[str]:
        return {"directKey"} | ({"directUserIds"} if self.kind == "group" else set())


class ConversationMember(Document):
    convId: str
    userId: str
    groupId: str
    lastReadSeq: int = 0          # read up to and including this seq
    lastReadAt: Timestamp | None = None
    joinedAt: Timestamp
    # Copied from the group's mute (the ``mutes`` collection is the record), so the send path refuses a
    # muted member with the membership read it does anyway.
    mutedUntil: Timestamp | None = None
