"""Moderation (seed 002): filter rules, a group's moderation settings, review items and sanctions
(filter_rules, group_moderation, reviews, mutes, bans)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.documents.base import Document, Timestamp
from schemas.documents.people import SenderInfo

FilterKind = Literal["word", "regex", "link"]
FilterAction = Literal["mask", "block", "flag", "hold"]
ReviewKind = Literal["filter", "report", "held", "text"]   # text: a flagged text that is not a message
ReviewStatus = Literal["pending", "approved", "rejected", "dismissed", "deleted"]


class ReviewTarget(BaseModel):
    """What a ``text`` review item is about (pipelines.policy.gate): a comment, an album's name or description, a
    file's caption or name, a user's display name, a conversation's title or a reaction, and which field."""
    type: Literal["comment", "album", "caption", "name", "title", "file", "reaction"]
    id: str                       # the comment, album, media, user, conversation, or the message reacted to
    field: str                    # content, name, description, caption, fname, lname, title, filename, emoji


class FilterRule(Document):
    """A group's content-filter rule (``link``: a domain, or ``*`` for any link)."""
    groupId: str
    kind: FilterKind
    pattern: str
    action: FilterAction
    enabled: bool = True
    createdBy: str
    createdAt: Timestamp
    updatedAt: Timestamp


class AutoMute(BaseModel):
    """Escalation: mute a member for ``muteMinutes`` after ``blocked`` blocked messages in ``windowMinutes``."""
    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    blocked: int = Field(3, ge=1, le=100)
    windowMinutes: int = Field(10, ge=1, le=1440)
    muteMinutes: int = Field(30, ge=1, le=525_600)


class GroupModeration(Document):
    """Per group (``_id`` is the group's id): the filter's allowlist and escalation, whether a message whose
    words were only masked opens a review item (``reviewMasks``), and ``rulesVersion``, moved by every change
    of the group's rules or settings, which is how every worker process knows, with one point read per
    batch, that its compiled rules are stale."""
    rulesVersion: int = 0
    allowlist: list[str] = Field(default_factory=list)
    autoMute: AutoMute = Field(default_factory=AutoMute)
    # Off by default: a mask already did its work (the word is hidden), and in a busy group an item per
    # masked message buries the flags and holds that need a moderator (docs/moderation.md).
    reviewMasks: bool = False

    def public(self) -> dict[str, Any]:
        return {"groupId": self.id, "allowlist": self.allowlist, "autoMute": self.autoMute.model_dump(),
                "reviewMasks": self.reviewMasks}


class ReviewReason(BaseModel):
    """Why an item is in the review queue: a filter hit (positions index ``message.content``) or a report."""
    kind: Literal["filter", "report"]
    key: str                      # one reason per filter hit or per reporter, however often it arrives
    filterId: str | None = None
    action: FilterAction | None = None
    match: str | None = None
    start: int | None = None
    end: int | None = None
    reporterId: str | None = None
    reporterName: str | None = None
    reason: str | None = None
    at: Timestamp


class ReviewMessage(BaseModel):
    """The message as the sender wrote it (a masked message's original text is only here)."""
    senderId: str
    senderInfo: SenderInfo
    content: str
    createdAt: Timestamp
    seq: int | None = None        # None while held: it takes a seq only when approved
    clientId: str | None = None
    replyTo: str | None = None


class ReviewItem(Document):
    """One per message (``key``): a filter hit, reports, or a held message or edit awaiting a moderator; or
    one per flagged write of another text (``kind: text``, ``target`` says what; ``message`` holds its author
    and original text; ``convId`` is empty for a display name)."""
    key: str
    groupId: str
    convId: str
    convTitle: str = ""
    messageId: str | None = None  # the stored message (for a held edit: the message it would change)
    kind: ReviewKind
    edit: bool = False            # a held edit rather than a held new message
    status: ReviewStatus = "pending"
    reasons: list[ReviewReason] = Field(default_factory=list)
    message: ReviewMessage
    decidedBy: str | None = None
    decidedByName: str | None = None
    decidedAt: Timestamp | None = None
    note: str | None = None
    target: ReviewTarget | None = None
    createdAt: Timestamp
    updatedAt: Timestamp

    def public(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", exclude={"key"})
        for reason in out["reasons"]:
            reason.pop("key", None)
        return out


class Sanction(Document):
    """A mute or a ban (collections ``mutes`` and ``bans``); ``_id`` is ``{groupId}:{userId}``, one each."""
    groupId: str
    userId: str
    username: str
    until: Timestamp | None = None  # None: until lifted (bans only)
    reason: str
    by: str
    byName: str
    createdAt: Timestamp

    @staticmethod
    def key(group_id: str, user_id: str) -> str:
        return f"{group_id}:{user_id}"
