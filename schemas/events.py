"""Server -> client events: names (pinned by the v1 contract) and payload models."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

# Event names.
SESSION_READY = "session:ready"
SESSION_EXPIRED = "session:expired"  # extension, the socket: token expired or user deactivated; disconnect follows
MESSAGE_NEW = "message:new"
MESSAGE_UPDATED = "message:updated"
MESSAGE_REJECTED = "message:rejected"
MESSAGE_READ = "message:read"
MENTION_NEW = "mention:new"
TYPING_START = "typing:start"
TYPING_STOP = "typing:stop"
CONVERSATION_CREATED = "conversation:created"
GROUP_MEMBER_JOINED = "group:member_joined"
CONVERSATION_JOINED = "conversation:joined"      # extension: to user:{id} when added to a conversation
CONVERSATION_LEFT = "conversation:left"          # extension: to user:{id} when leaving or removed
PRESENCE_UPDATE = "presence:update"
# Extension, group:{id}: several members' presence changes in one event (a storm of connects or disconnects).
PRESENCE_BATCH = "presence:batch"
USER_UPDATED = "user:updated"
# Moderation (contract v2).
MODERATION_FLAGGED = "moderation:flagged"      # mod:{groupId}: a new review item, or one with another reason
MODERATION_DECIDED = "moderation:decided"      # mod:{groupId}: the review item after a decision
MODERATION_ACTION = "moderation:action"        # extension, mod:{groupId}: a new entry of the moderation log
MESSAGE_HELD = "message:held"                  # user:{senderId}: a send (or edit) awaits a moderator
MODERATION_MUTED = "moderation:muted"          # user:{userId}
MODERATION_BANNED = "moderation:banned"        # user:{userId}
MODERATION_LIFTED = "moderation:lifted"        # extension, user:{userId}: a mute or ban lifted early
MODERATION_SANCTION = "moderation:sanction"    # user:{userId}: a mute or ban placed or lifted (contract v3)
# Notifications and scheduling (contract v2).
NOTIFICATION_NEW = "notification:new"          # user:{userId}: the stored notification
NOTIFICATION_READ = "notification:read"        # user:{userId}: {ids | all, unread}
NOTIFICATION_DELIVERED = "notification:delivered"  # extension, client -> server: {ids} a socket received
SCHEDULED_UPDATED = "scheduled:updated"        # extension, user:{senderId}: a scheduled message sent/failed
MEDIA_UPDATED = "media:updated"                # user:{uploaderId}: the media document after each step
# Exports (contract v2), to user:{requesterId}.
EXPORT_PROGRESS = "export:progress"
EXPORT_READY = "export:ready"
EXPORT_FAILED = "export:failed"


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def group_room(group_id: str) -> str:
    return f"group:{group_id}"


def conv_room(conv_id: str) -> str:
    return f"conv:{conv_id}"


def mod_room(group_id: str) -> str:
    """The group's moderators (its MODERATORs and GROUP_ADMINs)."""
    return f"mod:{group_id}"


# System ADMINs moderate every group: their sockets join this one room instead of one per group in the
# system, and every moderation event goes to both (python-socketio sends once per socket).
MOD_ALL = "mod:all"


def mod_rooms(group_id: str) -> list[str]:
    return [mod_room(group_id), MOD_ALL]


class SessionLimits(BaseModel):
    """The server's limits the page checks before sending (the server checks them again)."""
    maxMessageChars: int                  # MAX_MESSAGE_CHARS: the composer's counter and its refusal


class SanctionState(BaseModel):
    """A mute or ban of the user, as the chat page shows it: in session:ready's ``sanctions`` (those in force)
    and as moderation:sanction (placed, or lifted: ``until`` None and ``lifted`` true)."""
    groupId: str
    kind: Literal["mute", "ban"]
    until: str | None   # ISO-8601; None: a ban until lifted, or (with lifted) no longer in force
    reason: str
    groupName: str | None = None  # extension: a banned user is no longer in the group, so the page cannot name it
    lifted: bool = False          # extension: tells a lifted sanction from a ban placed without an end


class SessionReady(BaseModel):
    """To the socket, right after connect."""
    user: dict[str, Any]
    groups: list[dict[str, Any]]          # each group with the user's role in it
    conversations: list[dict[str, Any]]   # each with unread and lastSeq
    limits: SessionLimits | None = None
    sanctions: list[SanctionState] = []   # contract v3: the user's mutes and bans in force


class SessionExpired(BaseModel):
    """To the socket, just before the server disconnects it: a new token (or a sign-in) is needed."""
    reason: Literal["token_expired", "deactivated"]
    message: str


class MessageRejected(BaseModel):
    """To user:{sender}: an acked message that was not stored (or an edit not applied), and why."""
    clientId: str
    convId: str
    code: str
    reason: str
    messageId: str | None = None       # extension: for a refused edit, the message it would have changed
    details: dict[str, Any] | None = None  # extension: e.g. {match} for content_blocked, {until} for muted


class MessageHeld(BaseModel):
    """To user:{sender}: the send (or, with messageId, the edit) waits for a moderator's decision."""
    clientId: str
    convId: str
    reviewId: str
    messageId: str | None = None


class Sanctioned(BaseModel):
    """moderation:muted / moderation:banned, to the user concerned."""
    groupId: str
    until: str | None   # ISO-8601; None: until lifted
    reason: str


class Lifted(BaseModel):
    """moderation:lifted, to the user concerned: a mute or ban ended early."""
    groupId: str
    kind: Literal["mute", "ban"]


class GroupMemberJoined(BaseModel):
    """To group:{id} (and user:{id} of the new member, whose sockets join the group room just after)."""
    groupId: str
    user: dict[str, Any]
    role: Literal["GROUP_ADMIN", "MODERATOR", "MEMBER"]
    group: dict[str, Any]  # extension: the group itself, so the new member can show it at once


class UserUpdated(BaseModel):
    """To group:{id} of each of the user's groups: the user's profile changed, and the copies of it in
    their messages (senderInfo) have been brought up to date. Sent instead of a message:updated per message."""
    user: dict[str, Any]


class MessageRead(BaseModel):
    """To conv:{id}: a member's read mark moved forward (read receipts)."""
    convId: str
    userId: str
    seq: int


class Typing(BaseModel):
    """typing:start / typing:stop to conv:{id} (not to the typist's own socket)."""
    convId: str
    userId: str


class ConversationLeft(BaseModel):
    """To ``user:{userId}`` when they left a conversation (``by`` themselves) or were removed."""
    convId: str
    userId: str
    by: str


class PresenceUpdate(BaseModel):
    """To each group:{id} of the user: online (first socket opened) or offline (last socket closed)."""
    userId: str
    status: Literal["online", "offline"]
    lastSeen: str  # ISO-8601 UTC: now when online, when the last socket closed when offline


class PresenceBatch(BaseModel):
    """To group:{id}: the presence changes of several of its members written together, each as
    ``presence:update`` would carry it, in the order they happened. A storm of N members coming online
    then costs each socket of the group one frame per batch instead of N."""
    groupId: str
    changes: list[PresenceUpdate]


class NotificationRead(BaseModel):
    """To user:{userId}: notifications were read (on any device), and how many stay unread."""
    ids: list[str] | None = None
    all: bool | None = None
    unread: int


class ExportProgress(BaseModel):
    """export:progress, at least every 2 s or 5 % while the job runs."""
    id: str
    progress: int
    processed: int
    total: int


class ExportReady(BaseModel):
    id: str
    format: str
    size: int
    expiresAt: str


class ExportFailed(BaseModel):
    id: str
    code: str
    message: str
