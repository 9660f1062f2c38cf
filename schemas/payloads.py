"""What clients send: socket event payloads and REST bodies. Unknown fields are refused."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from infra.config import get_settings
from schemas.common import AvatarUrl, ClientId, Id, Name, Title, Username, iso
from schemas.documents import AutoMute, ConversationLevel, FilterAction, FilterKind, Language
from schemas.errors import ApiError, Code


# A mail address: one @, no white space or angle brackets (it goes into a To: header), bounded.
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                         pattern=r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")]
MAX_ATTACHMENTS = 10


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def check_content(value: str | None) -> str:
    """A text message's content: present, not blank, at most MAX_MESSAGE_CHARS characters."""
    limit = get_settings().max_message_chars
    if value is None or not value.strip():
        raise PydanticCustomError(Code.CONTENT_REQUIRED.value, "a text message needs content")
    if len(value) > limit:
        raise PydanticCustomError(Code.CONTENT_TOO_LONG.value,
                                  "content is {length} characters; the limit is {limit}",
                                  {"length": len(value), "limit": limit})
    return value


# -- socket events -------------------------------------------------------------------------------
class ConvRef(Payload):
    """conv:subscribe, conv:unsubscribe, typing:start, typing:stop."""
    convId: Id


class ReadUpTo(Payload):
    """message:read: the reader has read up to and including ``seq``."""
    convId: Id
    seq: int = Field(ge=1, le=2**62)


# An emoji: 1-16 characters, none of them white space or ASCII (so "👍" or "❤️", not ":+1:").
Emoji = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[^\s\x00-\x7f]+$")]


class ReactionChange(Payload):
    """reaction:add and reaction:remove."""
    messageId: Id
    emoji: Emoji


class MessageSend(Payload):
    """message:send and POST /api/conversations/{convId}/messages. With ``attachments`` (the sender's own
    media of that conversation) the content may be empty, and the server sets the type from the files."""
    convId: Id
    clientId: ClientId
    content: str | None = None
    type: Literal["text", "image", "file", "system", "media"] = "text"
    replyTo: Id | None = None
    attachments: list[Id] | None = Field(None, max_length=MAX_ATTACHMENTS)

    @field_validator("type")
    @classmethod
    def _only_text(cls, value: str) -> str:
        # System messages are written by the server; a media message's type follows its attachments.
        if value != "text":
            raise PydanticCustomError(Code.UNSUPPORTED_TYPE.value,
                                      "a message is sent as 'text'; with attachments the server sets its type")
        return value

    @model_validator(mode="after")
    def _content(self) -> "MessageSend":
        if self.attachments:
            self.attachments = list(dict.fromkeys(self.attachments))
            if self.content is not None and self.content.strip():
                check_content(self.content)
            else:
                self.content = ""
        else:
            self.content = check_content(self.content)
        return self


class MessageEdit(Payload):
    """message:edit: the author replaces the content."""
    messageId: Id
    content: str | None = Field(None, validate_default=True)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str | None) -> str | None:
        return check_content(value)


class MessageDelete(Payload):
    """message:delete: the author, or a moderator or admin of the group, deletes (softly)."""
    messageId: Id


class RestMessageSend(MessageSend):
    """The REST body: the conversation comes from the path."""
    convId: Id | None = None  # type: ignore[assignment]


# -- REST bodies ---------------------------------------------------------------------------------
class DevTokenRequest(Payload):
    username: Username
    fname: Name = ""
    lname: Name = ""
    avatarUrl: AvatarUrl | None = None
    email: Email | None = None    # notifications: where digests go (set on first login only)


class GroupCreate(Payload):
    name: Title


class GroupMemberAdd(Payload):
    username: Username
    role: Literal["GROUP_ADMIN", "MODERATOR", "MEMBER"] = "MEMBER"


class ConversationCreate(Payload):
    title: Title
    members: list[Username] = Field(default_factory=list, max_length=500)


class ConversationMemberAdd(Payload):
    username: Username


class ProfileUpdate(Payload):
    """PATCH /api/me: the fields given change; the others stay. ``avatarUrl: null`` removes the avatar.

    The username is not among them (an unknown field, refused): mentions are parsed by username, so
    renaming would silently change who an old ``@name`` in stored messages refers to, and free the old
    name for someone else to take.
    """
    fname: Name = ""
    lname: Name = ""
    avatarUrl: AvatarUrl | None = None
    email: Email | None = None    # null removes it; shown to nobody else
    language: Language = "en"     # the language of the user's emails


def _only(args: Mapping[str, str], allowed: set[str]) -> None:
    unknown = set(args) - allowed
    if unknown:
        raise ApiError(Code.INVALID_PAYLOAD, f"unknown query parameter(s): {', '.join(sorted(unknown))}")


def _cursor(args: Mapping[str, str], name: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) > 2**62:
        raise ApiError(Code.INVALID_CURSOR, f"{name} must be a message seq (a whole number >= 0), got {raw!r}")
    return int(raw)


def _limit(args: Mapping[str, str], max_limit: int, default_limit: int) -> int:
    raw = args.get("limit")
    if raw is None or raw == "":
        return default_limit
    if not raw.isdigit() or not 1 <= int(raw) <= max_limit:
        raise ApiError(Code.INVALID_LIMIT, f"limit must be a whole number from 1 to {max_limit}, got {raw!r}")
    return int(raw)


HISTORY_VIEWS = ("member", "moderation")


def parse_history_query(args: Mapping[str, str], max_limit: int, default_limit: int) -> HistoryWindow:
    """GET /api/conversations/{convId}/messages?before=&after=&limit=&view= -> a window, or a specific error."""
    _only(args, {"before", "after", "limit", "view"})
    before, after = _cursor(args, "before"), _cursor(args, "after")
    if before is not None and after is not None:
        raise ApiError(Code.INVALID_CURSOR, "give either before or after, not both")
    view = args.get("view") or "member"
    if view not in HISTORY_VIEWS:
        raise ApiError(Code.INVALID_PAYLOAD, f"view must be one of {', '.join(HISTORY_VIEWS)}, got {view!r}")
    return HistoryWindow(before=before, after=after, limit=_limit(args, max_limit, default_limit), view=view)


@dataclass(frozen=True)
class HistoryWindow:
    before: int | None
    after: int | None
    limit: int
    view: str = "member"  # "moderation": deleted messages with their content (moderators only)


SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT = 20, 50
SEARCH_MAX_QUERY_CHARS = 200


def parse_search_query(args: Mapping[str, str]) -> SearchQuery:
    """GET /api/conversations/{convId}/search?q=&before=&limit= -> a query, or a specific error."""
    _only(args, {"q", "before", "limit"})
    text = (args.get("q") or "").strip()
    if not text:
        raise ApiError(Code.INVALID_QUERY, "q (the words to search for) is required and must not be blank")
    if len(text) > SEARCH_MAX_QUERY_CHARS:
        raise ApiError(Code.INVALID_QUERY, f"q is {len(text)} characters; the limit is {SEARCH_MAX_QUERY_CHARS}",
                       {"length": len(text), "limit": SEARCH_MAX_QUERY_CHARS})
    return SearchQuery(text=text, before=_cursor(args, "before"),
                       limit=_limit(args, SEARCH_MAX_LIMIT, SEARCH_DEFAULT_LIMIT))


@dataclass(frozen=True)
class SearchQuery:
    text: str            # MongoDB $text syntax: words (any of them), "a phrase" (required), -word (excluded)
    before: int | None   # only messages with seq < before (the next page: the last seq received)
    limit: int


# -- moderation (contract v2) --------------------------------------------------------------------
# Patterns are not bounded here: check_pattern (pipelines.content_filter) refuses what is too long or
# does not compile with a reason a moderator can act on (invalid_pattern); the body limit bounds the rest.
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
AllowWord = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
MINUTES_MAX = 525_600  # a year


class FilterCreate(Payload):
    kind: FilterKind
    pattern: str
    action: FilterAction
    enabled: bool = True


class FilterUpdate(Payload):
    """PATCH: the fields given change."""
    kind: FilterKind | None = None
    pattern: str | None = None
    action: FilterAction | None = None
    enabled: bool | None = None


class FilterCandidate(Payload):
    kind: FilterKind
    pattern: str
    action: FilterAction = "flag"


class FilterTest(Payload):
    """POST /api/groups/{id}/filters/test: the group's rules (and a candidate rule) on a sample text."""
    text: str = Field(max_length=10_000)
    rule: FilterCandidate | None = None


class ModerationSettingsUpdate(Payload):
    allowlist: list[AllowWord] | None = Field(None, max_length=500)
    autoMute: AutoMute | None = None


class ReportCreate(Payload):
    reason: Reason


class ReviewDecision(Payload):
    decision: Literal["approve", "reject", "dismiss", "delete"]
    note: Note | None = None


class MuteCreate(Payload):
    username: Username
    minutes: int = Field(ge=1, le=MINUTES_MAX)
    reason: Reason


class BanCreate(Payload):
    username: Username
    reason: Reason
    minutes: int | None = Field(None, ge=1, le=MINUTES_MAX)  # None: until lifted


class RoleChange(Payload):
    role: Literal["GROUP_ADMIN", "MODERATOR", "MEMBER"]


REVIEW_STATUSES = ("pending", "approved", "rejected", "dismissed", "deleted")
REVIEW_KINDS = ("filter", "report", "held")


@dataclass(frozen=True)
class IdPage:
    """A page of a list newest first, by id: ``before`` is the id of the last item received."""
    before: str | None
    limit: int


@dataclass(frozen=True)
class ReviewQuery:
    statuses: tuple[str, ...]
    kind: str | None
    page: IdPage


def parse_id_page(args: Mapping[str, str], allowed: set[str] = frozenset(), max_limit: int = 100,
                  default_limit: int = 50) -> IdPage:
    _only(args, {"before", "limit"} | set(allowed))
    before = args.get("before") or None
    if before is not None and not _is_id(before):
        raise ApiError(Code.INVALID_CURSOR, f"before must be an id (24 hex characters), got {before!r}")
    return IdPage(before=before, limit=_limit(args, max_limit, default_limit))


def parse_review_query(args: Mapping[str, str]) -> ReviewQuery:
    """?status=pending|approved|rejected|dismissed|deleted|decided|all&kind=filter|report|held&before=&limit="""
    page = parse_id_page(args, {"status", "kind"})
    status = args.get("status") or "pending"
    statuses = {"decided": REVIEW_STATUSES[1:], "all": REVIEW_STATUSES}.get(status, (status,))
    if not set(statuses) <= set(REVIEW_STATUSES):
        raise ApiError(Code.INVALID_PAYLOAD, f"status must be one of {', '.join(REVIEW_STATUSES)}, decided or all, "
                                             f"got {status!r}")
    kind = args.get("kind") or None
    if kind is not None and kind not in REVIEW_KINDS:
        raise ApiError(Code.INVALID_PAYLOAD, f"kind must be one of {', '.join(REVIEW_KINDS)}, got {kind!r}")
    return ReviewQuery(statuses=statuses, kind=kind, page=page)


def _is_id(value: str) -> bool:
    return len(value) == 24 and all(c in "0123456789abcdef" for c in value)


# -- notifications and scheduling (contract v2) --------------------------------------------------
EMAIL_DELAY_MAX = 1440


class NotificationSettingsUpdate(Payload):
    """PATCH /api/me/notification-settings: the fields given change; ``conversations`` merges (a
    conversation set to ``all`` is the default again)."""
    email: bool | None = None
    emailDelayMinutes: int | None = None
    conversations: dict[Id, ConversationLevel] | None = Field(None, max_length=1000)

    @field_validator("emailDelayMinutes")
    @classmethod
    def _delay(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= EMAIL_DELAY_MAX:
            raise PydanticCustomError(Code.INVALID_SETTINGS.value,
                                      "emailDelayMinutes must be from 0 to {max}, got {value}",
                                      {"max": EMAIL_DELAY_MAX, "value": value})
        return value


class NotificationsRead(Payload):
    """POST /api/notifications/read: some of the caller's notifications, or all of them."""
    ids: list[Id] | None = Field(None, min_length=1, max_length=500)
    all: bool | None = None


class NotificationsDelivered(Payload):
    """notification:delivered (client -> server): this socket received these notifications."""
    ids: list[Id] = Field(min_length=1, max_length=500)


class ScheduledMessageCreate(Payload):
    """POST /api/conversations/{convId}/scheduled-messages. ``sendAt``: ISO-8601 with an offset (or Z), or
    a local time without one together with ``timeZone`` (an IANA name such as Europe/Paris)."""
    clientId: ClientId
    content: str | None = Field(None, validate_default=True)
    sendAt: str = Field(max_length=64)
    timeZone: str | None = Field(None, max_length=64)
    replyTo: Id | None = None

    @field_validator("content")
    @classmethod
    def _content(cls, value: str | None) -> str | None:
        return check_content(value)


class ScheduledMessageUpdate(Payload):
    """PATCH /api/scheduled-messages/{id}: a pending one's content or time."""
    content: str | None = None
    sendAt: str | None = Field(None, max_length=64)
    timeZone: str | None = Field(None, max_length=64)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str | None) -> str | None:
        return None if value is None else check_content(value)


class ReminderCreate(Payload):
    """POST /api/messages/{messageId}/reminders: remind me of this message at ``at``."""
    at: str = Field(max_length=64)
    timeZone: str | None = Field(None, max_length=64)


class RetentionUpdate(Payload):
    """PUT /api/groups/{groupId}/retention: null turns a bound off."""
    days: int | None = Field(None, ge=1, le=36_500)
    maxMessages: int | None = Field(None, ge=100, le=10_000_000)


def parse_time(raw: str, time_zone: str | None, now: datetime, max_days_ahead: int,
               field: str = "sendAt") -> datetime:
    """A future time (UTC) from ISO-8601, or a specific error: ``invalid_time_zone`` for an unknown zone,
    ``invalid_time`` for what is not a time, is naive without a zone, is past, or is too far ahead."""
    zone = None
    if time_zone is not None:
        try:
            zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ApiError(Code.INVALID_TIME_ZONE, f"timeZone {time_zone!r} is not a known time zone "
                                                   "(an IANA name such as Europe/Paris)") from None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise ApiError(Code.INVALID_TIME, f"{field} must be an ISO-8601 time, got {raw!r}") from None
    if when.tzinfo is None:
        if zone is None:
            raise ApiError(Code.INVALID_TIME, f"{field} has no offset: add one (Z, +02:00) or give timeZone")
        when = when.replace(tzinfo=zone)
    when = when.astimezone(timezone.utc)
    when = when.replace(microsecond=when.microsecond // 1000 * 1000)
    if when <= now:
        raise ApiError(Code.INVALID_TIME, f"{field} is in the past", {"now": iso(now)})
    if when > now + timedelta(days=max_days_ahead):
        raise ApiError(Code.INVALID_TIME, f"{field} is more than {max_days_ahead} days ahead",
                       {"maxDaysAhead": max_days_ahead})
    return when


NOTIFICATION_LIST_STATUSES = ("unread", "all", "scheduled")


@dataclass(frozen=True)
class NotificationQuery:
    status: str           # unread | all | scheduled (the caller's reminders still to come)
    page: IdPage


def parse_notification_query(args: Mapping[str, str]) -> NotificationQuery:
    page = parse_id_page(args, {"status"})
    status = args.get("status") or "all"
    if status not in NOTIFICATION_LIST_STATUSES:
        raise ApiError(Code.INVALID_PAYLOAD, f"status must be one of {', '.join(NOTIFICATION_LIST_STATUSES)}, "
                                             f"got {status!r}")
    return NotificationQuery(status=status, page=page)

# -- uploads and media (contract v2) ----------------------------------------------------------------
Filename = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
# "audio/webm;codecs=opus" (what MediaRecorder says) is accepted; the parameters are dropped.
MimeType = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=127,
                                            pattern=r"^[a-z0-9.+-]+/[a-z0-9.+-]+(\s*;.*)?$")]


class UploadCreate(Payload):
    convId: Id
    filename: Filename
    size: int = Field(ge=1)
    mimeType: MimeType


class PartUrls(Payload):
    parts: list[int] = Field(min_length=1, max_length=100)


class AlbumCreate(Payload):
    name: Title
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class AlbumAdd(Payload):
    mediaId: Id


class CommentCreate(Payload):
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class CaptionUpdate(Payload):
    """PATCH /api/media/{mediaId} (the uploader): the file's caption; "" removes it."""
    caption: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class GroupSettingsUpdate(Payload):
    """PATCH /api/groups/{id}/settings (group admins)."""
    keepOriginalMetadata: bool


def parse_gallery_query(args: Mapping[str, str]) -> tuple[str | None, IdPage]:
    page = parse_id_page(args, {"type"})
    kind = args.get("type") or None
    if kind is not None and kind not in ("image", "video", "audio", "document"):
        raise ApiError(Code.INVALID_PAYLOAD, f"type must be image, video, audio or document, got {kind!r}")
    return kind, page


# -- exports (contract v2) ---------------------------------------------------------------------------
EXPORT_FORMATS = ("json", "csv", "pdf")
EXPORT_LANGUAGES = ("fr", "en", "es", "de")


class ExportCreate(Payload):
    """POST /api/conversations/{convId}/exports. ``from``/``to``: both seqs (integers) or both times
    (ISO-8601 with an offset), inclusive; either may be left out. Checked in pipelines.exports
    (check_export_request), which gives each mistake its own code."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    format: Any = None
    from_: Any = Field(None, alias="from")
    to: Any = None
    language: Any = None
    timezone: Any = None
    includeDeleted: Any = False
