"""Stored documents (MongoDB collections) and their public rendering. Times are UTC; ids are strings.

Collections, after seed 001: users, groups, group_members, conversations, conversation_members,
messages (the seed's event_messages), activity_logs; for moderation (seed 002): filter_rules,
group_moderation, reviews, mutes, bans.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from schemas.common import iso

Timestamp = Annotated[datetime, PlainSerializer(iso, when_used="json")]
GroupRole = Literal["GROUP_ADMIN", "MODERATOR", "MEMBER"]
SystemRole = Literal["ADMIN", "USER"]
MessageType = Literal["text", "image", "file", "system", "media"]
Language = Literal["en", "fr", "es", "de"]


class Document(BaseModel):
    """A stored document: ``_id`` in MongoDB, ``id`` in the API."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    id: str = Field(alias="_id")

    def to_mongo(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]):
        return cls.model_validate(doc)

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude=self._private())

    def _private(self) -> set[str]:
        return set()


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

    def to_mongo(self) -> dict[str, Any]:
        doc = self.model_dump(by_alias=True)
        doc["metadata"] = self.metadata.model_dump(exclude_none=True)
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
        out = self.model_dump(mode="json")
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


# -- moderation (seed 002) ------------------------------------------------------------------------
FilterKind = Literal["word", "regex", "link"]
FilterAction = Literal["mask", "block", "flag", "hold"]
ReviewKind = Literal["filter", "report", "held", "text"]   # text: a flagged text that is not a message
ReviewStatus = Literal["pending", "approved", "rejected", "dismissed", "deleted"]


class ReviewTarget(BaseModel):
    """What a ``text`` review item is about (pipelines.gate): a comment, an album's name or description, a
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
    """Per group (``_id`` is the group's id): the filter's allowlist and escalation, and ``rulesVersion``,
    moved by every change of the group's rules or allowlist, which is how every worker process knows,
    with one point read per batch, that its compiled rules are stale."""
    rulesVersion: int = 0
    allowlist: list[str] = Field(default_factory=list)
    autoMute: AutoMute = Field(default_factory=AutoMute)

    def public(self) -> dict[str, Any]:
        return {"groupId": self.id, "allowlist": self.allowlist, "autoMute": self.autoMute.model_dump()}


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


# -- notifications and scheduling (seed 001 notifications) ----------------------------------------
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
    claimToken: str | None = None # whose claim it is (only its holder finishes or releases it)
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
# -- media (seed 001 file_uploads, event_media, media_albums) ------------------------------------------
FileType = Literal["image", "video", "audio", "document"]
MediaStatus = Literal["uploading", "processing", "ready", "failed", "quarantined"]
STEP_NAMES = ("upload", "verification", "virusScan", "metadata", "thumbnails")  # in the order they run


class Step(BaseModel):
    """One processing step's outcome; a rerun of the task skips the steps that are ``done`` or ``skipped``."""
    status: Literal["pending", "done", "skipped", "failed"] = "pending"
    at: Timestamp | None = None
    result: str | None = None     # e.g. the virus scan's "clean", or why a step was skipped


class Variant(BaseModel):
    """A rendition the worker made (thumbnails): where it is, and what it is."""
    width: int
    height: int
    mimeType: str
    size: int
    key: str


class MediaLike(BaseModel):
    userId: str
    at: Timestamp


class MediaComment(BaseModel):
    id: str
    userId: str
    userInfo: SenderInfo
    content: str
    at: Timestamp


class Media(Document):
    """A file of a conversation (seed 001 event_media): its upload, its processing, what others see of it."""
    convId: str
    groupId: str
    uploadedBy: str
    uploaderInfo: SenderInfo
    filename: str                 # safe to show and to download as
    originalFilename: str
    mimeType: str
    fileType: FileType
    fileSize: int
    status: MediaStatus = "uploading"
    processingSteps: dict[str, Step] = Field(default_factory=lambda: {n: Step() for n in STEP_NAMES})
    metadata: dict[str, Any] = Field(default_factory=dict)   # dimensions, exif, duration, codec, pages
    variants: dict[str, Variant] = Field(default_factory=dict)
    error: dict[str, str] | None = None                       # {code, message} when failed or quarantined
    caption: str | None = None
    albumId: str | None = None
    likes: list[MediaLike] = Field(default_factory=list)
    comments: list[MediaComment] = Field(default_factory=list)
    messageIds: list[str] = Field(default_factory=list)       # the messages it is attached to
    requeues: int = 0             # times the sweeper queued its processing again (once, then it fails it)
    key: str                                                   # the original's S3 key
    # Its lifecycle (docs/architecture.md, "Content lifecycle"): deleted by its uploader, a moderator, the
    # deletion of its message or retention; its S3 objects go MEDIA_DELETE_GRACE_MINUTES after
    # ``purgeQueuedAt`` (set at deletion; then unset, and ``purgedAt`` set).
    isDeleted: bool = False
    deletedAt: Timestamp | None = None
    deletedBy: str | None = None
    purgeQueuedAt: Timestamp | None = None
    purgedAt: Timestamp | None = None
    createdAt: Timestamp
    updatedAt: Timestamp

    def _private(self) -> set[str]:
        return {"key", "messageIds", "requeues", "purgeQueuedAt"}

    def public(self) -> dict[str, Any]:
        out = super().public()
        out["variants"] = {name: {k: v for k, v in variant.items() if k != "key"}
                           for name, variant in out["variants"].items()}
        out["likeCount"], out["commentCount"] = len(self.likes), len(self.comments)
        return out

    def summary(self) -> dict[str, Any]:
        """What a message carries of each attached file (``metadata.files``); of a deleted file, only
        that it was there (status ``deleted``)."""
        if self.isDeleted:
            return deleted_file(self.id, self.fileType)
        out: dict[str, Any] = {"mediaId": self.id, "filename": self.filename, "mimeType": self.mimeType,
                               "fileType": self.fileType, "fileSize": self.fileSize, "status": self.status}
        for name in ("dimensions", "duration"):
            if name in self.metadata:
                out[name] = self.metadata[name]
        if self.variants:
            out["variants"] = {n: {"width": v.width, "height": v.height, "mimeType": v.mimeType, "size": v.size}
                               for n, v in self.variants.items()}
        if self.error:
            out["error"] = self.error
        return out


def deleted_file(media_id: str | None, file_type: str | None) -> dict[str, Any]:
    """A deleted file as the messages that carried it show it: that it was there, nothing of it."""
    return {"mediaId": media_id, "fileType": file_type, "status": "deleted"}


class Upload(Document):
    """A resumable upload in progress (seed 001 file_uploads); ``_id`` is the media's id. Expires (TTL) an
    hour after creation: the clean-up job aborts what S3 still holds of an abandoned one."""
    userId: str
    convId: str
    key: str
    s3UploadId: str
    size: int
    partSize: int
    partCount: int
    status: Literal["uploading", "completed", "cancelled"] = "uploading"
    createdAt: Timestamp
    completedAt: Timestamp | None = None
    expiresAt: Timestamp


class Album(Document):
    """A conversation's album (seed 001 media_albums)."""
    convId: str
    name: str
    description: str = ""
    coverMediaId: str | None = None
    mediaCount: int = 0
    totalSize: int = 0
    mediaTypes: list[str] = Field(default_factory=list)
    createdBy: str
    createdAt: Timestamp
    updatedAt: Timestamp


# -- exports (contract v2 "Exports") ---------------------------------------------------------------
ExportFormat = Literal["json", "csv", "pdf"]
ExportStatus = Literal["queued", "running", "done", "failed", "cancelled", "expired"]
EXPORT_TERMINAL = ("done", "failed", "cancelled", "expired")


class ExportRange(BaseModel):
    """What part of the conversation: every message (``all``), a seq range, or a time range (createdAt,
    inclusive). ``fromSeq``/``toSeq`` are what the worker reads, fixed when the job starts (``toSeq``:
    the newest message at that moment, so an export is a snapshot)."""
    kind: Literal["all", "seq", "time"] = "all"
    fromSeq: int | None = None
    toSeq: int | None = None
    fromTime: Timestamp | None = None
    toTime: Timestamp | None = None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "seq":
            out.update({"from": self.fromSeq, "to": self.toSeq})
        elif self.kind == "time":
            out.update({"from": iso(self.fromTime), "to": iso(self.toTime)})
        return out


class ExportLease(BaseModel):
    """Who runs the job, until when (renewed while it works): a redelivered task that finds a live lease
    returns without work; one that finds it stale takes the job over and starts the file again."""
    owner: str
    until: Timestamp


class Export(Document):
    """An export job and, once done, its file in S3 (``key``) until ``expiresAt``."""
    convId: str
    groupId: str
    requestedBy: str
    requesterName: str
    format: ExportFormat
    range: ExportRange = Field(default_factory=ExportRange)
    language: str = "en"
    timezone: str = "UTC"
    includeDeleted: bool = False
    status: ExportStatus = "queued"
    progress: int = 0
    processed: int = 0
    total: int = 0
    size: int | None = None
    key: str | None = None           # the file's S3 key (set when done, cleared when expired or cancelled)
    uploadId: str | None = None      # the multipart upload of the attempt in progress (aborted on restart)
    lease: ExportLease | None = None
    attempts: int = 0
    requeues: int = 0                # times the sweeper queued it again (once, then it fails it)
    error: dict[str, str] | None = None
    readyAnnounced: bool = False     # export:ready was sent (a redelivery after the send does not repeat it)
    createdAt: Timestamp
    startedAt: Timestamp | None = None
    finishedAt: Timestamp | None = None
    expiresAt: Timestamp | None = None
    purgeAt: Timestamp | None = None  # the record itself goes (TTL index) after this
    updatedAt: Timestamp

    def public(self, now: datetime | None = None) -> dict[str, Any]:
        """The job as the requester sees it; a done export past its expiry reads as expired even before
        the clean-up job has run (a TTL index or a beat tick can be late)."""
        status = self.status
        if status == "done" and now is not None and self.expiresAt is not None and self.expiresAt <= now:
            status = "expired"
        out: dict[str, Any] = {"id": self.id, "convId": self.convId, "format": self.format, "status": status,
                               "progress": self.progress, "processed": self.processed, "total": self.total,
                               "range": self.range.public(), "language": self.language, "timezone": self.timezone,
                               "includeDeleted": self.includeDeleted, "createdAt": iso(self.createdAt)}
        if status == "done":
            out.update({"size": self.size, "expiresAt": iso(self.expiresAt)})
        elif status == "expired":
            out["expiresAt"] = iso(self.expiresAt)
        if self.error:
            out["error"] = self.error
        if self.finishedAt:
            out["finishedAt"] = iso(self.finishedAt)
        return out
