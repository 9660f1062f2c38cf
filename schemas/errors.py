"""Error codes of the public contract and the one exception that carries them to the transport."""
from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ValidationError


class Code(StrEnum):
    INVALID_PAYLOAD = "invalid_payload"      # missing field, wrong type, unknown field
    CONTENT_REQUIRED = "content_required"    # a text message with nothing in it
    CONTENT_TOO_LONG = "content_too_long"    # over MAX_MESSAGE_CHARS
    UNSUPPORTED_TYPE = "unsupported_type"    # a message type, or a file type, that is not accepted
    INVALID_EMOJI = "invalid_emoji"          # a reaction that is not one emoji (text, two emoji, a lone skin tone)
    INVALID_CURSOR = "invalid_cursor"        # before/after not a positive integer, or both given
    INVALID_LIMIT = "invalid_limit"          # limit not an integer in 1..HISTORY_MAX_LIMIT (or the search's 50)
    INVALID_QUERY = "invalid_query"          # a search text that is blank or over 200 characters
    UNAUTHORIZED = "unauthorized"            # no, forged or expired token
    FORBIDDEN = "forbidden"                  # authenticated, but not allowed
    NOT_FOUND = "not_found"                  # no such conversation, group, user or message
    CONFLICT = "conflict"                    # already exists
    DEV_LOGIN_DISABLED = "dev_login_disabled"
    LIMIT_REACHED = "limit_reached"          # a bounded collection is full (e.g. reactions per user)
    RATE_LIMITED = "rate_limited"            # too much at once; retry shortly (same clientId)
    UNAVAILABLE = "unavailable"              # a backing service (Redis, MongoDB) did not answer
    NOT_A_MEMBER = "not_a_member"            # a write by someone who is not (or no longer) a member
    REQUEST_TOO_LARGE = "request_too_large"  # a request body over MAX_REQUEST_BYTES
    INVALID_PATTERN = "invalid_pattern"      # a filter rule that does not compile or cannot be bounded
    INVALID_DECISION = "invalid_decision"    # a review decision that does not apply to that item
    ALREADY_DECIDED = "already_decided"      # a review item that another moderator decided first
    CONTENT_BLOCKED = "content_blocked"      # (rejection) a filter rule blocks the message
    CONTENT_HELD = "content_held"            # a filter rule holds this text for a moderator (non-message writes)
    REJECTED_BY_MODERATOR = "rejected_by_moderator"  # (rejection) a held message was rejected
    MUTED = "muted"                          # the sender is muted in the group (until a time)
    BANNED = "banned"                        # the user is banned from the group
    # Notifications and scheduling (contract v2).
    INVALID_TIME = "invalid_time"            # sendAt/at not a time, in the past, or too far ahead
    INVALID_TIME_ZONE = "invalid_time_zone"  # timeZone is not an IANA zone name
    INVALID_SETTINGS = "invalid_settings"    # notification settings out of range (emailDelayMinutes 0..1440)
    INVALID_STATE = "invalid_state"          # a scheduled message already sent, failed or cancelled
    SCHEDULED_LATE = "scheduled_late"        # (scheduled_failed) due too long ago: never sent stale
    FILE_TOO_LARGE = "file_too_large"        # an upload over MAX_UPLOAD_BYTES
    QUOTA_EXCEEDED = "quota_exceeded"        # the uploader's files would pass UPLOAD_QUOTA_BYTES
    INVALID_PART = "invalid_part"            # a part number outside 1..partCount
    ALREADY_COMPLETED = "already_completed"  # completing (or cancelling) an upload that is no longer open
    NOT_READY = "not_ready"                  # a file (or export) still being processed, or refused
    INVALID_ATTACHMENT = "invalid_attachment"  # attaching another's media, another conversation's, or a failed one
    # Exports.
    INVALID_FORMAT = "invalid_format"        # an export format other than json, csv, pdf
    INVALID_RANGE = "invalid_range"          # from after to, from and to of different kinds, a bad seq or time
    INVALID_TIMEZONE = "invalid_timezone"    # not an IANA time zone name (zoneinfo)
    INVALID_LANGUAGE = "invalid_language"    # an export language other than fr, en, es, de
    RANGE_TOO_LONG = "range_too_long"        # an analytics period over 366 days
    EXPIRED = "expired"                      # an export whose file has expired (410)
    GONE = "gone"                            # content that was deleted (a deleted message's files: 410)
    SELF_SANCTION = "self_sanction"          # lifting (or placing) a sanction that targets oneself
    OUTRANKED = "outranked"                  # a moderator acting on a group admin or a system admin
    OWN_CONTENT = "own_content"              # deciding a review item about one's own message
    DIRECT_SELF = "direct_self"              # a direct conversation with oneself
    INVALID_GIF = "invalid_gif"              # a GIF id from no search of this user, or a provider file that is not what it said
    GIF_UNAVAILABLE = "gif_unavailable"      # the GIF provider failed, timed out or refused (502)
    ENCRYPTION_UNAVAILABLE = "encryption_unavailable"  # encryption asked but no master key is configured (409)


_STATUS = {
    Code.UNAUTHORIZED: 401,
    Code.FORBIDDEN: 403,
    Code.DEV_LOGIN_DISABLED: 403,
    Code.NOT_FOUND: 404,
    Code.CONFLICT: 409,
    Code.CONTENT_TOO_LONG: 413,
    Code.REQUEST_TOO_LARGE: 413,
    Code.ALREADY_DECIDED: 409,
    Code.FILE_TOO_LARGE: 413,
    Code.QUOTA_EXCEEDED: 413,
    Code.UNSUPPORTED_TYPE: 415,
    Code.ALREADY_COMPLETED: 409,
    Code.NOT_READY: 409,
    Code.EXPIRED: 410,
    Code.MUTED: 403,
    Code.BANNED: 403,
    Code.NOT_A_MEMBER: 403,
    Code.CONTENT_BLOCKED: 403,
    Code.CONTENT_HELD: 403,
    Code.SELF_SANCTION: 403,
    Code.OUTRANKED: 403,
    Code.OWN_CONTENT: 403,
    Code.GONE: 410,
    Code.RATE_LIMITED: 429,
    Code.UNAVAILABLE: 503,
    Code.GIF_UNAVAILABLE: 502,
    Code.ENCRYPTION_UNAVAILABLE: 409,
}


class ApiError(Exception):
    """A refusal with a contract code; app/ turns it into an ack or an HTTP error."""

    def __init__(self, code: Code, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return _STATUS.get(self.code, 400)

    def to_dict(self) -> dict:
        error: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return error


def from_validation_error(exc: ValidationError) -> ApiError:
    """The most specific code among pydantic's errors; field-by-field details for the client."""
    details = [
        {"field": ".".join(str(p) for p in err["loc"]) or "(payload)", "problem": err["msg"]}
        for err in exc.errors(include_url=False)
    ]
    known = {c.value for c in Code}
    for err in exc.errors(include_url=False):
        if err["type"] in known:
            return ApiError(Code(err["type"]), err["msg"], details)
    summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details)
    return ApiError(Code.INVALID_PAYLOAD, f"invalid payload: {summary}", details)
