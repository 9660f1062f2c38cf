"""Stored notifications and their settings, e-mail windows and digests, scheduled messages and retention
(seed 001 notifications)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from schemas.documents.base import Document, Timestamp

NotificationStatus = Literal["pending", "sent", "delivered", "read"]
# Allowed moves, one way only (docs/notifications.md); the store's updates are conditional on them.
NOTIFICATION_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("sent",), "sent": ("delivered", "read"), "delivered": ("read",), "read": (),
}
UNREAD = ("sent", "delivered")


class Notification(Document):
    """One thing a user is told (seed 001). ``key`` is unique: the same fact stored twice is one notification.

    ``createdAt`` of a scheduled one (a reminder) is when it is due, so lists sort it where it appears."""
    key: str
    userId: str
    type: str
    title: str
    body: str = ""
    data: dict[str, Any] = Field(default_factory=dict)   # convId?, messageId?, seq?, actionUrl?, ...
    status: NotificationStatus = "pending"
    channels: list[str] = Field(default_factory=lambda: ["in_app"])
    scheduledFor: Timestamp | None = None
    claimedUntil: Timestamp | None = None   # a dispatcher's lease on a due scheduled notification
    claimToken: str | None = None           # whose lease it is (only its holder finishes it)
    attempts: int = 0                       # claims of a due scheduled notification
    sentAt: Timestamp | None = None
    deliveredAt: Timestamp | None = None
    readAt: Timestamp | None = None
    createdAt: Timestamp
    updatedAt: Timestamp
    expiresAt: Timestamp

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"key", "claimedUntil", "claimToken", "attempts"})


ConversationLevel = Literal["all", "mentions", "none"]


class NotificationSettings(Document):
    """Per user (``_id`` is the user's id): GET/PATCH /api/me/notification-settings."""
    email: bool = True
    emailDelayMinutes: int = 5
    conversations: dict[str, ConversationLevel] = Field(default_factory=dict)
    emailedUpTo: Timestamp | None = None    # digests cover what was created after this
    lastEmail: dict[str, Any] | None = None  # {digestId, status, error?, at}: the latest digest's outcome

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include={"email", "emailDelayMinutes", "conversations", "lastEmail"})

    def level(self, conv_id: str | None) -> str:
        return self.conversations.get(conv_id, "all") if conv_id else "all"


class EmailWindow(Document):
    """An offline user's open digest window (``_id`` is the user's id): opened by the first missed
    mention or direct message, due ``emailDelayMinutes`` later, closed by the sweep."""
    userId: str
    openedAt: Timestamp
    dueAt: Timestamp
    lastEventAt: Timestamp


DigestStatus = Literal["pending", "claimed", "sent", "skipped", "failed"]


class Digest(Document):
    """One email (or none) for one window: ``_id`` is ``{userId}:{openedAt ms}``, so a window closed twice
    makes one digest, and its Message-ID derives from it."""
    userId: str
    since: Timestamp              # exclusive
    upTo: Timestamp               # inclusive
    status: DigestStatus = "pending"
    claimedUntil: Timestamp | None = None
    claimToken: str | None = None  # whose claim it is (only its holder finishes or releases it)
    retryAt: Timestamp | None = None  # pending: when the next attempt may start; claimed: the lease's end
    attempts: int = 0             # claims so far, against EMAIL_MAX_ATTEMPTS
    error: str | None = None
    reason: str | None = None     # skipped: online, read, nothing
    items: int = 0
    messageIdHeader: str | None = None
    createdAt: Timestamp
    updatedAt: Timestamp
    sentAt: Timestamp | None = None


ScheduledStatus = Literal["pending", "claimed", "sent", "failed", "cancelled"]
SCHEDULED_OPEN = ("pending", "claimed")


class ScheduledMessage(Document):
    """A message to send later (POST /api/conversations/{convId}/scheduled-messages)."""
    convId: str
    senderId: str
    clientId: str
    content: str
    replyTo: str | None = None
    sendAt: Timestamp
    timeZone: str | None = None   # the zone the sender picked the time in (display only)
    status: ScheduledStatus = "pending"
    claimedUntil: Timestamp | None = None
    claimToken: str | None = None
    attempts: int = 0
    error: dict[str, Any] | None = None   # failed: {code, message}
    createdAt: Timestamp
    updatedAt: Timestamp
    sentAt: Timestamp | None = None

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"claimToken", "claimedUntil"})


class RetentionPolicy(Document):
    """A group's retention (``_id`` is the group's id): messages older than ``days``, or beyond the newest
    ``maxMessages`` of a conversation, move to ``messages_archive`` (still exportable)."""
    days: int | None = None
    maxMessages: int | None = None
    updatedBy: str
    updatedAt: Timestamp

    def public(self) -> dict[str, Any]:
        return {"groupId": self.id, "days": self.days, "maxMessages": self.maxMessages,
                "updatedAt": self.model_dump(mode="json")["updatedAt"]}
