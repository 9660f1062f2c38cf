"""Export requests, the web side: the request and its checks (each mistake has a code of its own), reading
one's jobs, the download (a presigned URL; for a sealed file, a signed link to this server, which streams
it opened), cancelling. A refused request stores and queues nothing."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from infra.blobs import Blobs
from infra.storage import Store
from pipelines.exports.files import CONTENT_TYPES, PURGE_AFTER, ExportSettings, file_key, filename_of
from pipelines.exports.sealed import opened_chunks
from pipelines.exports.tokens import make_file_token, read_file_token
from pipelines.policy.access import check_owner, is_moderator, log_denied
from schemas.common import new_id, utcnow
from schemas.documents import Conversation, Export, ExportRange, User
from schemas.errors import ApiError, Code
from schemas.payloads import EXPORT_FORMATS, EXPORT_LANGUAGES, ExportCreate, IdPage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportScope:
    """What a user may export: everything (system admins), every conversation of ``groups`` (where they are
    a group admin), and ``conversations`` (theirs, when EXPORTS_FOR_MEMBERS is on). The one rule behind
    both the request's check and the exporters' picker (pipelines.exports.picker)."""
    everything: bool = False
    groups: frozenset[str] = frozenset()
    conversations: frozenset[str] = frozenset()

    def allows(self, conv: Conversation) -> bool:
        return self.everything or conv.groupId in self.groups or conv.id in self.conversations


def export_scope(store: Store, user: User, settings: ExportSettings, conv: Conversation | None = None) -> ExportScope:
    """The user's scope; with ``conv``, only what decides for that conversation is read (two indexed
    lookups at most), else every group they administer and, when members may export, every membership."""
    if user.role == "ADMIN":
        return ExportScope(everything=True)
    if conv is not None:
        member = store.groups.get_group_member(conv.groupId, user.id)
        groups = {conv.groupId} if member is not None and member.role == "GROUP_ADMIN" else set()
        mine = settings.for_members and store.conversations.get_conversation_member(conv.id, user.id) is not None
        return ExportScope(groups=frozenset(groups), conversations=frozenset({conv.id} if mine else ()))
    return ExportScope(groups=frozenset(store.groups.group_ids_where_role(user.id, "GROUP_ADMIN")),
                       conversations=frozenset(store.conversations.conversation_ids_of_user(user.id)
                                               if settings.for_members else ()))


def check_may_export(store: Store, user: User, conv_id: str, settings: ExportSettings) -> Conversation:
    """Group admins of the conversation's group and system admins; its members too when
    EXPORTS_FOR_MEMBERS is on. A group admin of another group is refused (403), like anyone else."""
    conv = store.conversations.get_conversation(conv_id)
    if conv is None:
        raise ApiError(Code.NOT_FOUND, f"no conversation {conv_id}")
    if export_scope(store, user, settings, conv).allows(conv):
        return conv
    log_denied(store, user, "conversation", conv_id, "export without an admin role")
    raise ApiError(Code.FORBIDDEN, "only the group's admins can export this conversation"
                   + (" (or its members)" if settings.for_members else ""))


def _parse_bound(value: Any, name: str) -> int | datetime | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ApiError(Code.INVALID_RANGE, f"{name} must be a seq (a positive integer) or an ISO-8601 time")
    if isinstance(value, int):
        if value < 1:
            raise ApiError(Code.INVALID_RANGE, f"{name} is a seq: 1 or more, got {value}")
        return value
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(Code.INVALID_RANGE, f"{name} must be a seq or an ISO-8601 time, got {value!r}") from None
        if when.tzinfo is None:
            raise ApiError(Code.INVALID_RANGE, f"{name} needs a time zone offset (such as Z or +01:00)")
        return when.astimezone(timezone.utc)
    raise ApiError(Code.INVALID_RANGE, f"{name} must be a seq (a positive integer) or an ISO-8601 time")


def check_export_request(request: ExportCreate) -> tuple[str, ExportRange, str, str, bool]:
    """format, range, language, time zone, includeDeleted, each checked with a code of its own."""
    fmt = request.format
    if fmt not in EXPORT_FORMATS:
        raise ApiError(Code.INVALID_FORMAT, f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    low, high = _parse_bound(request.from_, "from"), _parse_bound(request.to, "to")
    if low is not None and high is not None and type(low) is not type(high):
        raise ApiError(Code.INVALID_RANGE, "from and to must be of the same kind: both seqs or both times")
    if low is not None and high is not None and low > high:
        raise ApiError(Code.INVALID_RANGE, "from is after to")
    bound = low if low is not None else high
    if bound is None:
        rng = ExportRange(kind="all")
    elif isinstance(bound, int):
        rng = ExportRange(kind="seq", fromSeq=low, toSeq=high)
    else:
        rng = ExportRange(kind="time", fromTime=low, toTime=high)
    language = request.language if request.language is not None else "en"
    if language not in EXPORT_LANGUAGES:
        raise ApiError(Code.INVALID_LANGUAGE, f"language must be one of {', '.join(EXPORT_LANGUAGES)}, "
                                              f"got {language!r}")
    tz = request.timezone if request.timezone is not None else "UTC"
    try:
        if not isinstance(tz, str) or not tz or tz.startswith("/") or ".." in tz:
            raise ValueError
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(Code.INVALID_TIMEZONE, f"timezone must be an IANA time zone name such as Europe/Paris, "
                                              f"got {tz!r}") from None
    if not isinstance(request.includeDeleted, bool):
        raise ApiError(Code.INVALID_PAYLOAD, "includeDeleted must be true or false")
    return fmt, rng, language, tz, request.includeDeleted


def do_request_export(store: Store, enqueue_run: Callable[[str], None], settings: ExportSettings, user: User,
                      conv_id: str, request: ExportCreate) -> Export:
    """Check everything, store the job queued, enqueue it. A refused request stores and queues nothing."""
    fmt, rng, language, tz, include_deleted = check_export_request(request)
    conv = check_may_export(store, user, conv_id, settings)
    if include_deleted and not is_moderator(store, user, conv.groupId):
        log_denied(store, user, "conversation", conv_id, "export of deleted content without a moderating role")
        raise ApiError(Code.FORBIDDEN, "only the group's moderators and admins can export deleted content")
    now = utcnow()
    export = Export(id=new_id(), convId=conv.id, groupId=conv.groupId, requestedBy=user.id,
                    requesterName=user.username, format=fmt, range=rng, language=language, timezone=tz,
                    includeDeleted=include_deleted, createdAt=now, updatedAt=now)
    store.exports.insert_export(export)
    try:
        enqueue_run(export.id)
    except Exception:  # noqa: BLE001 - the job is stored: the sweeper queues it again, or fails it (sweeper.py)
        log.warning("export %s: could not queue it; the sweeper will", export.id, exc_info=True)
    return export


def _own(store: Store, user: User, export_id: str) -> Export:
    export = store.exports.get_export(export_id)
    if export is None:
        raise ApiError(Code.NOT_FOUND, f"no export {export_id}")
    check_owner(store, user, "export", export_id, export.requestedBy,
                "only the person who requested this export can see it", reason="not the requester")
    return export


def get_export(store: Store, user: User, export_id: str) -> dict:
    return _with_titles(store, [_own(store, user, export_id).public(utcnow())])[0]


def list_exports(store: Store, user: User, page: IdPage) -> dict:
    exports, more = store.exports.exports_of_user(user.id, before=page.before, limit=page.limit)
    now = utcnow()
    return {"exports": _with_titles(store, [e.public(now) for e in exports]), "hasMore": more}


def _with_titles(store: Store, views: list[dict]) -> list[dict]:
    """Each job with its conversation's title (``convTitle``, None once it is gone): the requester may be
    in no conversation they export (a system admin), so the page cannot name it from their own list."""
    titles = store.conversations.titles_of([v["convId"] for v in views])
    return [{**v, "convTitle": titles.get(v["convId"])} for v in views]


@dataclass(frozen=True)
class FileLinks:
    """How a sealed file's link is made: the server's secret signs its token, ``url(export_id, token)``
    is the route's absolute URL (the app's to build)."""
    secret: str
    url: Callable[[str, str], str]


def link_seconds(settings: ExportSettings) -> int:
    """How long a download link lasts, presigned or signed here."""
    return min(settings.presign_seconds, 300)


def _downloadable(store: Store, settings: ExportSettings, user: User, export_id: str, now: datetime) -> Export:
    """The export, for the requester while they may still export the conversation; 409 not_ready before it
    is done, 410 expired after (whatever the clean-up did yet)."""
    export = _own(store, user, export_id)
    check_may_export(store, user, export.convId, settings)
    view = export.public(now)
    if view["status"] == "expired":
        raise ApiError(Code.EXPIRED, "this export has expired; request a new one", {"expiresAt": view["expiresAt"]})
    if export.status != "done" or not export.key:
        raise ApiError(Code.NOT_READY, f"this export is {export.status}", {"status": export.status})
    return export


def _filename(store: Store, export: Export) -> str:
    conv = store.conversations.get_conversation(export.convId)
    return filename_of(export, conv.title if conv else "conversation")


def download_url(store: Store, blobs: Blobs, settings: ExportSettings, user: User, export_id: str,
                 links: FileLinks | None = None) -> str:
    """A short-lived URL of the file (attachment): presigned on S3, or for a sealed file (S3 holds only
    its ciphertext) a link to this server signed for this user and export (``links``)."""
    now = utcnow()
    export = _downloadable(store, settings, user, export_id, now)
    if export.sealed:
        if links is None:
            raise ApiError(Code.UNAVAILABLE, "this export's file is encrypted and cannot be linked here")
        return links.url(export.id, make_file_token(links.secret, export.id, user.id, now, link_seconds(settings)))
    return blobs.presign_get(export.key, filename=_filename(store, export), content_type=CONTENT_TYPES[export.format],
                             attachment=True, expires=link_seconds(settings))


@dataclass
class ExportFile:
    chunks: Iterator[bytes]
    filename: str
    content_type: str
    size: int | None


def check_file_token(store: Store, settings: ExportSettings, secret: str, export_id: str, token: object,
                     caller: User | None, now: datetime) -> Export:
    """The sealed export a signed link may download: a valid, unexpired token made for this export (401
    otherwise), whose user is still active, still its requester and still allowed to export the
    conversation (as at the link's making), and, when the request names a caller, that very user (403)."""
    claims = read_file_token(secret, token, now)
    if claims.export_id != export_id:
        raise ApiError(Code.UNAUTHORIZED, "this download link is for another export")
    user = store.users.get_user(claims.user_id)
    if user is None or not user.active:
        raise ApiError(Code.UNAUTHORIZED, "unknown or deactivated user")
    if caller is not None and caller.id != user.id:
        log_denied(store, caller, "export", export_id, "another user's download link")
        raise ApiError(Code.FORBIDDEN, "this download link was made for someone else")
    export = _downloadable(store, settings, user, export_id, now)
    if not export.sealed:
        raise ApiError(Code.NOT_FOUND, "this export is downloaded from its presigned URL")
    return export


def open_export_file(store: Store, blobs: Blobs, export: Export) -> ExportFile:
    """A sealed export's plain bytes as they stream from S3, opened record by record (the first one here, so
    that a file that does not open fails before any byte is sent), with the name and type of its download."""
    chunks = opened_chunks(store.vault, export.convId, blobs.open_read(export.key))
    first = next(chunks, b"")
    return ExportFile(chunks=_prepend(first, chunks), filename=_filename(store, export),
                      content_type=CONTENT_TYPES[export.format], size=export.size)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def do_cancel_export(store: Store, blobs: Blobs, user: User, export_id: str) -> None:
    """A queued or running job stops (its worker sees it at its next heartbeat, aborts its upload and
    leaves nothing); a done one loses its file now. The record stays, ``cancelled``, without a file."""
    _own(store, user, export_id)
    now = utcnow()
    before = store.exports.set_export(export_id, {"status": "cancelled", "finishedAt": now, "updatedAt": now, "key": None,
                                          "size": None, "expiresAt": None, "purgeAt": now + PURGE_AFTER},
                              statuses=("queued", "running", "done"))
    if before is None:
        return  # already failed, cancelled or expired: nothing is left of it
    if before.key:
        blobs.delete(before.key)
    if before.uploadId and (before.lease is None or before.lease.until <= now):
        # A live worker aborts its own upload when it sees the cancel; this covers one that died.
        blobs.abort_multipart(file_key(before), before.uploadId)
