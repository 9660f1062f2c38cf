"""Notifications and scheduling (contract v2): settings, marks, scheduled messages, reminders, retention,
times, and the notification list's query."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from schemas.common import ClientId, Id, iso
from schemas.documents import ConversationLevel
from schemas.errors import ApiError, Code
from schemas.payloads.base import IdPage, Payload, check_content, content_limit, parse_id_page

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
    def _content(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_content(value, content_limit(info))


class ScheduledMessageUpdate(Payload):
    """PATCH /api/scheduled-messages/{id}: a pending one's content or time."""
    content: str | None = None
    sendAt: str | None = Field(None, max_length=64)
    timeZone: str | None = Field(None, max_length=64)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_content(value, content_limit(info))


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
