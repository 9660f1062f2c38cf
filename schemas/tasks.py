"""What travels on queues and in conversation inboxes: ids and small values, never whole documents."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from schemas.documents import FilterAction, FilterKind, ReviewTarget, SystemAction, Timestamp


class InboxEntry(BaseModel):
    """One accepted send, appended to the conversation's inbox (a Redis stream) by the web front.

    The stream's order is the order in which the front accepted sends (across all web processes);
    the messages worker stores entries in that order, which is how a sender's messages keep their
    send order whatever the size of the worker pool.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["send", "edit", "delete", "system"] = "send"
    senderId: str
    clientId: str
    content: str
    type: str = "text"
    replyTo: str | None = None
    messageId: str | None = None  # edit and delete: the stored message they change
    systemAction: SystemAction | None = None  # system: what happened
    systemData: dict[str, Any] | None = None
    receivedAt: Timestamp
    sid: str | None = None  # the socket that sent it, if any: a retry of a stored message answers it alone
    approvedBy: str | None = None  # a held send or edit that a moderator approved (this review id): not filtered again
    attachments: list[str] | None = None  # media ids (the sender's own, of this conversation)


class FilterHit(BaseModel):
    """One match of a filter rule, positions in the text as the sender wrote it."""
    filterId: str | None
    kind: FilterKind
    action: FilterAction
    start: int
    end: int
    match: str


class ReviewRequest(BaseModel):
    """messages worker -> moderation.open_review: the filter found something in a send or an edit.

    ``kind: held`` carries the text, which is stored nowhere else until a moderator approves it (a
    message's text, as the inbox entry carried it; bounded by MAX_MESSAGE_CHARS). ``kind: text`` comes from
    the write gate (pipelines.policy.gate): a flagged or masked text that is not a message, described by ``target``."""
    model_config = ConfigDict(extra="forbid")
    kind: Literal["filter", "held", "text"]
    groupId: str
    convId: str
    senderId: str
    clientId: str
    content: str                  # the original text
    messageId: str | None = None  # the stored message (filter), or the one a held edit would change
    edit: bool = False
    replyTo: str | None = None
    receivedAt: Timestamp
    hits: list[FilterHit]
    target: ReviewTarget | None = None


# -- notifications queue ---------------------------------------------------------------------------
NotificationType = Literal["mention", "reply", "message", "reminder", "export_ready", "moderation",
                           "scheduled_failed", "added"]


class NotificationRequest(BaseModel):
    """Any pipeline -> notifications.create: tell one user something (ids and a short text only).

    ``key`` makes the request idempotent: a redelivered task, or the same fact reported twice, stores one
    notification (e.g. ``export:{exportId}``, ``added:conv:{convId}:{userId}``)."""
    model_config = ConfigDict(extra="forbid")
    userId: str
    type: NotificationType
    key: str
    title: str
    body: str = ""
    data: dict[str, Any] = {}
    convId: str | None = None     # preferences per conversation apply when set
