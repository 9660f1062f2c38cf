"""Conversation exports (JSON, CSV, PDF): the request and its checks, the job's life, the worker's run.

Web side: ``do_request_export`` checks who asks and what (each mistake has its own code), stores the job
``queued`` and enqueues ``exports.run(exportId)``; reads, the download's presigned URL and cancelling
are here too. Worker side: ``run_export`` claims the job (queued -> running, with a lease: one
conditional update, so a redelivered task cannot run it twice at once), walks the conversation in seq
windows of ``batch`` messages (``Store.message_window``), turns each into records and writes them in the
export's format (``write_export``, ``export_writers``): JSON and CSV straight into
``blobs.multipart_writer`` (8 MiB parts: never the whole file in memory), the PDF's records into a
JSON-lines file that ``export_pdf.render_pdf`` renders through ``run_cpu`` (a child process in the
embedded default), whose file ``send_file`` then uploads. In the embedded default a long walk runs in a
fork of the web process (``run_on_snapshot``), off its event loop, and writes its file the same way. The
job ends ``done`` (or ``failed`` with a reason). A heartbeat renews the lease, records progress and sends
``export:progress``; it is also how the worker learns that the job was cancelled (the renewal no longer
matches), after which the run stops and aborts its upload. The whole design: docs/exports.md.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from infra.blobs import Blobs, Part, StorageUnavailable, download_name
from infra.embedded.priority import green
from infra.store import Store
from pipelines.exports import pdf as export_pdf
from pipelines.exports import writers as export_writers
from pipelines.policy.access import is_moderator, log_denied
from pipelines.events import Notifier
from schemas.common import iso, new_id, utcnow
from schemas.documents import Export, ExportRange, User
from schemas.errors import ApiError, Code
from schemas.payloads import EXPORT_FORMATS, EXPORT_LANGUAGES, ExportCreate, IdPage

log = logging.getLogger(__name__)

CONTENT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
MAX_MEMBERS_IN_HEADER = 10_000
MAX_ATTEMPTS = 5          # claims of one job (worker deaths, transient failures) before it fails
PROGRESS_SECONDS = 1.0    # the heartbeat's period: progress at least every 2 s (the contract), or 5 %
PURGE_AFTER = timedelta(days=7)  # an ended job's record stays this long (then its TTL index removes it)


@dataclass(frozen=True)
class ExportSettings:
    ttl: timedelta
    for_members: bool
    batch: int
    lease_seconds: int
    presign_seconds: int
    fork_min_messages: int = 10_000  # with ``run_on_snapshot``: the walks of this many messages or more


# -- web side ------------------------------------------------------------------------------------------
def check_may_export(store: Store, user: User, conv_id: str, settings: ExportSettings):
    """Group admins of the conversation's group and system admins; its members too when
    EXPORTS_FOR_MEMBERS is on. A group admin of another group is refused (403), like anyone else."""
    conv = store.get_conversation(conv_id)
    if conv is None:
        raise ApiError(Code.NOT_FOUND, f"no conversation {conv_id}")
    if user.role == "ADMIN":
        return conv
    member = store.get_group_member(conv.groupId, user.id)
    if member is not None and member.role == "GROUP_ADMIN":
        return conv
    if settings.for_members and store.get_conversation_member(conv_id, user.id) is not None:
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
    store.insert_export(export)
    try:
        enqueue_run(export.id)
    except Exception:  # noqa: BLE001 - the job is stored: the sweeper queues it again, or fails it (sweeper.py)
        log.warning("export %s: could not queue it; the sweeper will", export.id, exc_info=True)
    return export


def _own(store: Store, user: User, export_id: str) -> Export:
    export = store.get_export(export_id)
    if export is None:
        raise ApiError(Code.NOT_FOUND, f"no export {export_id}")
    if export.requestedBy != user.id:
        log_denied(store, user, "export", export_id, "not the requester")
        raise ApiError(Code.FORBIDDEN, "only the person who requested this export can see it")
    return export


def get_export(store: Store, user: User, export_id: str) -> dict:
    return _own(store, user, export_id).public(utcnow())


def list_exports(store: Store, user: User, page: IdPage) -> dict:
    exports, more = store.exports_of_user(user.id, before=page.before, limit=page.limit)
    now = utcnow()
    return {"exports": [e.public(now) for e in exports], "hasMore": more}


def filename_of(export: Export, title: str) -> str:
    """``{title} export {date}.{ext}``, safe to save anywhere (``infra.blobs.download_name``: no path, no
    control character; the title cut at 60 characters)."""
    return download_name(f"{title.strip()[:60] or 'conversation'} export {export.createdAt:%Y-%m-%d}.{export.format}")


def download_url(store: Store, blobs: Blobs, settings: ExportSettings, user: User, export_id: str) -> str:
    """A short-lived presigned URL (attachment), for the requester while they may still export the
    conversation; 409 not_ready before it is done, 410 expired after (whatever the clean-up did yet)."""
    export = _own(store, user, export_id)
    check_may_export(store, user, export.convId, settings)
    now = utcnow()
    view = export.public(now)
    if view["status"] == "expired":
        raise ApiError(Code.EXPIRED, "this export has expired; request a new one", {"expiresAt": view["expiresAt"]})
    if export.status != "done" or not export.key:
        raise ApiError(Code.NOT_READY, f"this export is {export.status}", {"status": export.status})
    conv = store.get_conversation(export.convId)
    return blobs.presign_get(export.key, filename=filename_of(export, conv.title if conv else "conversation"),
                             content_type=CONTENT_TYPES[export.format], attachment=True,
                             expires=min(settings.presign_seconds, 300))


def do_cancel_export(store: Store, blobs: Blobs, user: User, export_id: str) -> None:
    """A queued or running job stops (its worker sees it at its next heartbeat, aborts its upload and
    leaves nothing); a done one loses its file now. The record stays, ``cancelled``, without a file."""
    _own(store, user, export_id)
    now = utcnow()
    before = store.set_export(export_id, {"status": "cancelled", "finishedAt": now, "updatedAt": now, "key": None,
                                          "size": None, "expiresAt": None, "purgeAt": now + PURGE_AFTER},
                              statuses=("queued", "running", "done"))
    if before is None:
        return  # already failed, cancelled or expired: nothing is left of it
    if before.key:
        blobs.delete(before.key)
    if before.uploadId and (before.lease is None or before.lease.until <= now):
        # A live worker aborts its own upload when it sees the cancel; this covers one that died.
        blobs.abort_multipart(_key(before), before.uploadId)


# -- worker side ------------------------------------------------------------------------------------------
@dataclass
class ExportIO:
    store: Store
    blobs: Blobs
    notifier: Notifier
    settings: ExportSettings
    run_cpu: Callable[..., Any]
    notify_ready: Callable[[Export], None] | None = None  # the export_ready notification, where it exists
    part_size: int = 8 << 20
    # Where the store is this process's memory (the embedded default): how to read it without taking the
    # event loop's time, ``infra.embedded.cpu.run_forked`` (the walk runs in a fork, on the store as it was at the
    # fork). None: the walk reads the store here, as a worker does from MongoDB.
    run_on_snapshot: Callable[..., Any] | None = None
    # Worth a retry of the task (the worker passes its whole list: MongoDB's and Redis's connection errors, a
    # dead CPU child too); the job goes back to queued and the exception reaches Celery. Anything else fails it.
    transient: tuple[type[BaseException], ...] = (StorageUnavailable,)


@dataclass
class RunResult:
    export_id: str
    status: str | None
    ran: bool
    messages: int = 0
    size: int = 0
    reason: str = ""


class _Stop(Exception):
    """The job is no longer ours (cancelled, or our lease was lost): stop and leave nothing."""


def _key(export: Export) -> str:
    return f"exports/{export.id}/export.{export.format}"


class Heartbeat:
    """Renews the lease, records progress and sends export:progress when it moved (every PROGRESS_SECONDS
    at most; the contract asks for at least every 2 s or 5 %); sets ``stopped`` when the renewal no
    longer matches (the job was cancelled, or taken over after our lease ran out). It beats between
    windows (``maybe_beat``) and, while the PDF renders in its child process, from a thread
    (``in_background``: green under eventlet)."""

    def __init__(self, io: ExportIO, export: Export, owner: str, total: int, workdir: str) -> None:
        self.io, self.export, self.owner, self.workdir = io, export, owner, workdir
        self.total, self.processed = total, 0
        self.weight = (0.0, 1.0)       # (offset, share) of the progress this phase covers
        self.from_child = False        # processed is read from the PDF child's progress file
        self.stopped = threading.Event()
        self._last_beat = time.monotonic()
        self._sent = (-1, 0.0)

    def percent(self) -> int:
        offset, share = self.weight
        done = self.processed / self.total if self.total else 1.0
        return min(99, int(100 * (offset + share * min(done, 1.0))))

    def maybe_beat(self) -> None:
        if time.monotonic() - self._last_beat >= PROGRESS_SECONDS:
            self.beat()

    def beat(self) -> None:
        self._last_beat = time.monotonic()
        if self.from_child:
            self.processed = export_pdf.read_progress(self.workdir)
        progress = self.percent()
        until = utcnow() + timedelta(seconds=self.io.settings.lease_seconds)
        try:
            ours = self.io.store.renew_export(self.export.id, self.owner, until, {
                "progress": progress, "processed": self.processed, "total": self.total, "updatedAt": utcnow()})
        except Exception:  # noqa: BLE001 - a missed beat is tried again; the lease is much longer
            log.warning("export %s: could not renew the lease", self.export.id, exc_info=True)
            return
        if not ours:
            self.stopped.set()
            open(os.path.join(self.workdir, "cancel"), "w").close()  # tells the PDF child to stop
            return
        last, at = self._sent
        if progress != last and (progress - last >= 5 or time.monotonic() - at >= 2 or last < 0):
            self._sent = (progress, time.monotonic())
            self.io.notifier.notify_export_progress(self.export, progress, self.processed, self.total)

    def check(self) -> None:
        if self.stopped.is_set():
            raise _Stop()

    def advance(self, count: int, began: float) -> None:
        """A window of ``count`` messages, begun at ``began`` (monotonic), was walked here. Under eventlet
        (the walk on the web process's loop: the embedded default, below ``fork_min_messages``) it takes
        at most GREEN_SHARE of the loop, and no stall is longer than one small window."""
        self.processed += count
        self.maybe_beat()
        if green():
            time.sleep((time.monotonic() - began) * (1 / GREEN_SHARE - 1))

    def in_background(self):
        return _Beating(self)


class _Beating:
    def __init__(self, hb: Heartbeat) -> None:
        self.hb, self.done = hb, threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"export-{hb.export.id}", daemon=True)

    def _run(self) -> None:
        while not self.done.wait(PROGRESS_SECONDS):
            self.hb.beat()

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self.hb

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join(timeout=10)


def run_export(export_id: str, io: ExportIO) -> RunResult:
    """Claim the job and make its file; idempotent: a finished job, or one whose lease is live (another
    delivery of the task is running it), returns without work."""
    current = io.store.get_export(export_id)
    if current is None:
        return RunResult(export_id, None, False, reason="no such export")
    if current.status == "done" and not current.readyAnnounced:
        _announce_ready(io, current)  # the worker died between the end of the job and its event
        return RunResult(export_id, "done", False, reason="announced")
    owner, now = uuid.uuid4().hex, utcnow()
    export = io.store.claim_export(export_id, owner, now, now + timedelta(seconds=io.settings.lease_seconds))
    if export is None:
        status = current.status
        return RunResult(export_id, status, False,
                         reason="running elsewhere (live lease)" if status == "running" else f"already {status}")
    if export.attempts > MAX_ATTEMPTS:
        _fail(io, export, owner, "too_many_attempts", f"the export was started {MAX_ATTEMPTS} times without finishing")
        return RunResult(export_id, "failed", True, reason="too many attempts")
    if export.uploadId:  # a previous attempt died mid-upload: its parts go, the file starts again
        io.blobs.abort_multipart(_key(export), export.uploadId)
        io.store.renew_export(export.id, owner, now + timedelta(seconds=io.settings.lease_seconds), {"uploadId": None})
    workdir = tempfile.mkdtemp(prefix=f"export-{export.id}-")
    try:
        return _run(io, export, owner, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(io: ExportIO, export: Export, owner: str, workdir: str) -> RunResult:
    store = io.store
    conv = store.get_conversation(export.convId)
    if conv is None:
        _fail(io, export, owner, "not_found", "the conversation no longer exists")
        return RunResult(export.id, "failed", True, reason="no conversation")
    low, high = _bounds(conv, export)
    total = _total(store, export, low, high)
    hb = Heartbeat(io, export, owner, total, workdir)
    try:
        header = _header(store, export, conv, low, high)
        key = _key(export)
        fork = io.run_on_snapshot if io.run_on_snapshot and total >= io.settings.fork_min_messages else None
        if export.format != "pdf" and io.run_on_snapshot is None:  # (embedded: no upload on the loop)
            count, size = _stream(io, export, owner, header, low, high, hb, key)
        else:
            path = os.path.join(workdir, "records.jsonl" if export.format == "pdf" else f"export.{export.format}")
            count = _write_file(io, export, header, low, high, hb, workdir, path, fork)
            if export.format == "pdf":
                path = _render(io, hb, path, workdir, count)
            size = _upload(io, export, owner, path, key, hb)
    except _Stop:
        _stopped(io, export)
        return RunResult(export.id, "cancelled", True, reason="stopped: cancelled or taken over")
    except export_pdf.ExportCancelled:
        _stopped(io, export)
        return RunResult(export.id, "cancelled", True, reason="stopped while rendering")
    except io.transient as exc:
        # Back to queued so that Celery's retry can claim it again (the lease would refuse it).
        store.end_export(export.id, owner, {"status": "queued", "updatedAt": utcnow()})
        log.warning("export %s: transient failure, will retry: %s", export.id, exc)
        raise
    except Exception as exc:  # noqa: BLE001 - a permanent failure: the job ends failed, with its reason
        log.exception("export %s failed", export.id)
        _fail(io, export, owner, "export_failed", f"{type(exc).__name__}: {exc}"[:500])
        return RunResult(export.id, "failed", True, reason=str(exc))
    now = utcnow()
    done = store.end_export(export.id, owner, {
        "status": "done", "progress": 100, "processed": count, "total": total, "size": size, "key": key,
        "uploadId": None, "finishedAt": now, "expiresAt": now + io.settings.ttl,
        "purgeAt": now + io.settings.ttl + PURGE_AFTER, "updatedAt": now})
    if done is None:  # cancelled between the last batch and here: the file goes too
        io.blobs.delete(key)
        return RunResult(export.id, "cancelled", True, reason="cancelled at the end")
    _announce_ready(io, done)
    return RunResult(export.id, "done", True, messages=count, size=size)


class _Tracked:
    """The sink, recording the multipart upload's id on the job as soon as S3 opens it (so that a cancel,
    a restart after a crash or the clean-up can abort it)."""

    def __init__(self, sink, io: ExportIO, export: Export, owner: str) -> None:
        self.sink, self.io, self.export, self.owner, self.recorded = sink, io, export, owner, None

    def write(self, data: bytes) -> int:
        n = self.sink.write(data)
        upload_id = getattr(self.sink, "upload_id", None)
        if upload_id and upload_id != self.recorded:
            self.recorded = upload_id
            until = utcnow() + timedelta(seconds=self.io.settings.lease_seconds)
            if not self.io.store.renew_export(self.export.id, self.owner, until, {"uploadId": upload_id}):
                raise _Stop()
        return n


def _bounds(conv, export: Export) -> tuple[int, int]:
    """The seqs to walk: a seq range as asked (clipped to what exists), otherwise the whole conversation
    as its members have seen it when the job starts (``lastSeq``: every message up to it was announced;
    later ones are not in the export). Seqs start at 1 and have no gaps; messages retention moved to the
    archive keep theirs, and are read from there. No query: on the embedded store, asking for the highest
    and lowest seq sorted the whole conversation (2 s of a 30,000-message export, py-spy)."""
    r = export.range
    if r.kind == "seq":
        return r.fromSeq or 1, min(r.toSeq or conv.lastSeq, conv.lastSeq)
    return 1, conv.lastSeq


def _total(store: Store, export: Export, low: int, high: int) -> int:
    if export.range.kind == "time":
        return store.count_messages_created(export.convId, export.range.fromTime, export.range.toTime)
    return max(0, high - low + 1)  # seqs have no gaps


def _header(store: Store, export: Export, conv, low: int, high: int) -> dict[str, Any]:
    group = store.get_group(conv.groupId)
    members = store.conversation_members_of(conv.id, MAX_MEMBERS_IN_HEADER)
    users = store.users_by_ids([m.userId for m in members] + [export.requestedBy])
    requester = users.get(export.requestedBy)
    rng = export.range.public()
    rng.update({"firstSeq": low, "lastSeq": high})
    return {
        "conversation": {
            "id": conv.id, "title": conv.title, "createdAt": iso(conv.createdAt),
            "group": {"id": conv.groupId, "name": group.name if group else ""},
            "members": [{"id": m.userId, "username": users[m.userId].username,
                         "name": export_writers.display_name(users[m.userId].username, users[m.userId].fname,
                                                             users[m.userId].lname)}
                        for m in members if m.userId in users]},
        "range": rng,
        "exportedAt": iso(utcnow()),
        "exportedBy": {"id": export.requestedBy, "username": export.requesterName,
                       "name": export_writers.display_name(requester.username, requester.fname, requester.lname)
                       if requester else export.requesterName},
        "format": export.format, "language": export.language, "timezone": export.timezone,
        "includeDeleted": export.includeDeleted,
    }


def write_export(store: Store, export: Export, header: dict[str, Any], low: int, high: int, batch: int, progress,
                 sink, workdir: str) -> int:
    """The messages of [low, high] from the store to ``sink`` in the export's format (for a PDF, the
    JSON-lines its renderer reads, and in THUMBNAIL_LIST the thumbnails it needs); how many.
    ``progress`` is told of each window (``advance``) and may stop the walk (``check``): the job's
    Heartbeat, or in a fork of the embedded process a ``ForkProgress``."""
    records = _records(store, export, low, high, batch, progress, workdir)
    if export.format == "json":
        return export_writers.write_json(header, records, sink)
    if export.format == "csv":
        return export_writers.write_csv(records, sink, timezone=export.timezone)
    return export_writers.write_jsonl(header, records, sink)


def _records(store: Store, export: Export, low: int, high: int, batch: int, progress,
             workdir: str) -> Iterator[dict]:
    """The messages of [low, high] as records, one window of ``batch`` seqs at a time."""
    names: dict[str, str] = {}
    listed: set[str] = set()
    r = export.range
    start = low
    while start <= high:
        progress.check()
        began = time.monotonic()
        end = min(start + batch - 1, high)
        messages = store.message_window(export.convId, start, end,
                                        created_from=r.fromTime if r.kind == "time" else None,
                                        created_to=r.toTime if r.kind == "time" else None)
        unknown = {x["userId"] for m in messages for x in m.get("reactions") or () if x["userId"] not in names}
        if unknown:
            names.update({u.id: u.username for u in store.users_by_ids(unknown).values()})
            if len(names) > 50_000:
                names.clear()
        media = _thumbnails(store, messages, workdir, listed) if export.format == "pdf" else {}
        for m in messages:
            record = export_writers.build_record(m, usernames=names, include_deleted=export.includeDeleted)
            if record["deleted"] and not export.includeDeleted:
                record.pop("attachments", None)  # a deleted message's files are deleted with it
            for a in record.get("attachments", []):
                if a["mediaId"] in media:
                    a["thumbnail"] = media[a["mediaId"]]
            yield record
        progress.advance(len(messages), began)
        start = end + 1


class ForkProgress:
    """The walk's progress in a fork of the embedded process (``run_on_snapshot``), which must not touch
    the network or the loop: written to ``{workdir}/progress`` for the parent's heartbeat, which asks it
    to stop with ``{workdir}/cancel`` (as for the PDF renderer)."""

    def __init__(self, workdir: str) -> None:
        self.workdir, self.processed = workdir, 0

    def check(self) -> None:
        if os.path.exists(os.path.join(self.workdir, "cancel")):
            raise export_pdf.ExportCancelled("cancelled")

    def advance(self, count: int, began: float) -> None:
        self.processed += count
        export_pdf.write_progress(self.workdir, self.processed)


GREEN_BATCH = 100  # the window under eventlet: a few milliseconds of the event loop at a time
# Of the loop's time, at most, under eventlet. Chat at 100 msg/s takes 65-75 % of a core on a 2-vCPU
# machine; a quarter on top of that saturated the loop (JSON exports back to back: chat's p50 doubled and
# its p99 went to 4-8 times its value without them), a tenth leaves it room (docs/exports.md).
GREEN_SHARE = 0.10


THUMBNAIL_LIST = "thumbnails.jsonl"


def _thumbnails(store: Store, messages, workdir: str, listed: set[str]) -> dict[str, dict]:
    """The small renditions of the images of a window (one query for the window's media): where the PDF
    finds each (``{workdir}/thumbs/{id}.webp``), each listed once in ``{workdir}/thumbnails.jsonl`` for
    ``fetch_thumbnails`` to download before the render (the walk itself may run where it cannot use the
    network: a fork of the embedded process)."""
    ids = [f["mediaId"] for m in messages if not m.get("isDeleted")
           for f in (m.get("metadata") or {}).get("files") or [] if f.get("fileType") == "image" and f.get("mediaId")]
    if not ids:
        return {}
    found, wanted = {}, []
    for media in store.media_by_ids(ids).values():
        small = media.variants.get("small")
        if media.status != "ready" or small is None or media.isDeleted:  # (a deleted file's objects are going)
            continue
        path = os.path.join(workdir, "thumbs", f"{media.id}.{small.mimeType.split('/')[-1]}")
        found[media.id] = {"path": path, "width": small.width, "height": small.height}
        if path not in listed:
            listed.add(path)
            wanted.append(json.dumps({"key": small.key, "path": path}))
    if wanted:
        with open(os.path.join(workdir, THUMBNAIL_LIST), "a", encoding="utf-8") as out:
            out.write("\n".join(wanted) + "\n")
    return found


def fetch_thumbnails(blobs: Blobs, workdir: str) -> int:
    """Download the thumbnails the walk listed (a CPU child's call in the embedded default: boto3 there
    does not cost the event loop); one that cannot be read is left out of the PDF, never the export.
    How many were fetched."""
    listing = os.path.join(workdir, THUMBNAIL_LIST)
    if not os.path.exists(listing):
        return 0
    os.makedirs(os.path.join(workdir, "thumbs"), exist_ok=True)
    fetched = 0
    with open(listing, encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            try:
                data = blobs.get_range(item["key"], 0, 4 << 20)
                with open(item["path"], "wb") as out:
                    out.write(data)
                fetched += 1
            except Exception:  # noqa: BLE001
                log.warning("export: thumbnail %s unreadable", item["key"], exc_info=True)
    return fetched


def _inline_batch(io: ExportIO) -> int:
    return min(io.settings.batch, GREEN_BATCH) if green() else io.settings.batch


def _stream(io: ExportIO, export: Export, owner: str, header, low: int, high: int, hb: Heartbeat,
            key: str) -> tuple[int, int]:
    """JSON or CSV read from the store here and written straight into an S3 multipart upload (8 MiB
    parts): neither the conversation nor the file is ever whole in memory or on disk."""
    with io.blobs.multipart_writer(key, CONTENT_TYPES[export.format], io.part_size) as sink:
        tracked = _Tracked(sink, io, export, owner)
        count = write_export(io.store, export, header, low, high, _inline_batch(io), hb, tracked, hb.workdir)
        hb.check()
    return count, sink.size


def _write_file(io: ExportIO, export: Export, header, low: int, high: int, hb: Heartbeat, workdir: str,
                path: str, fork: Callable[..., Any] | None) -> int:
    """The walk into a local file: the PDF's JSON-lines (the first fifth of its progress), or in the
    embedded default the whole JSON or CSV file (sent from the CPU child afterwards). In a fork
    (``fork``: ``run_on_snapshot``) the heartbeat here reads its progress and tells it to stop."""
    hb.weight = (0.0, 0.2) if export.format == "pdf" else (0.0, 0.95)
    if fork is None:
        count = _write_to(path, io.store, export, header, low, high, _inline_batch(io), hb, workdir)
    else:
        hb.from_child, began = True, time.monotonic()
        with hb.in_background():
            count = fork(_write_to, path, io.store, export, header, low, high, io.settings.batch,
                         ForkProgress(workdir), workdir)
        hb.from_child = False
        log.info("export %s: %d messages walked in a fork in %.2f s", export.id, count, time.monotonic() - began)
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(workdir, "progress"))  # the renderer reports from 0 again
    hb.check()
    hb.processed = count
    return count


def _write_to(path: str, store: Store, export: Export, header, low: int, high: int, batch: int, progress,
              workdir: str) -> int:
    """``write_export`` into the file at ``path`` (here, or in a fork)."""
    with open(path, "wb") as sink:
        return write_export(store, export, header, low, high, batch, progress, sink, workdir)


def _render(io: ExportIO, hb: Heartbeat, source: str, workdir: str, count: int) -> str:
    """The thumbnails fetched and the PDF rendered from ``source``, each in a child process (``run_cpu``)
    in the embedded default; the rest of the progress. The PDF's path."""
    out = os.path.join(workdir, "export.pdf")
    io.run_cpu(fetch_thumbnails, io.blobs, workdir)
    hb.check()
    hb.processed, hb.total, hb.weight, hb.from_child = 0, count, (0.2, 0.8), True
    with hb.in_background():
        io.run_cpu(export_pdf.render_pdf, source, out, workdir)
    hb.from_child = False
    hb.check()
    hb.processed = count
    return out


def _upload(io: ExportIO, export: Export, owner: str, path: str, key: str, hb: Heartbeat) -> int:
    """The finished file to S3, its bytes sent by ``send_file`` through ``run_cpu`` (in the embedded
    default a child process: hashing and sending megabytes would hold the event loop for tens of ms a
    part). A file of one part is one PUT; a larger one is a multipart upload opened here, its id recorded
    on the job first (a cancel, a takeover or the clean-up can abort it), completed here, aborted on
    any failure. Its size."""
    size, content_type = os.path.getsize(path), CONTENT_TYPES[export.format]
    if size <= io.part_size:
        io.run_cpu(send_file, io.blobs, key, content_type, path, io.part_size, hb.workdir, None)
        return size
    upload_id = io.blobs.create_multipart(key, content_type)
    try:
        until = utcnow() + timedelta(seconds=io.settings.lease_seconds)
        if not io.store.renew_export(export.id, owner, until, {"uploadId": upload_id}):
            raise _Stop()
        with hb.in_background():
            parts = io.run_cpu(send_file, io.blobs, key, content_type, path, io.part_size, hb.workdir, upload_id)
        hb.check()
        io.blobs.complete_multipart(key, upload_id, parts)
    except BaseException:
        io.blobs.abort_multipart(key, upload_id)
        raise
    return size


def send_file(blobs: Blobs, key: str, content_type: str, path: str, part_size: int, workdir: str,
              upload_id: str | None) -> list | None:
    """The file at ``path`` to S3 (a CPU child's call): one PUT without ``upload_id``, else every part of
    that multipart upload, returned for its completion. Stops between parts (ExportCancelled) when
    ``{workdir}/cancel`` appears."""
    if upload_id is None:
        with open(path, "rb") as f:
            blobs.put_bytes(key, f.read(), content_type)
        return None
    parts = []
    with open(path, "rb") as f:
        for number, chunk in enumerate(iter(lambda: f.read(part_size), b""), start=1):
            if os.path.exists(os.path.join(workdir, "cancel")):
                raise export_pdf.ExportCancelled("cancelled")
            parts.append(Part(number, blobs.upload_part(key, upload_id, number, chunk), len(chunk)))
    return parts


def _stopped(io: ExportIO, export: Export) -> None:
    """Cancelled (or taken over): the multipart writer has aborted its upload; make sure no object is left
    unless another run owns the job now."""
    current = io.store.get_export(export.id)
    if current is None or current.status == "cancelled":
        io.blobs.delete(_key(export))
    log.info("export %s stopped (%s)", export.id, current.status if current else "gone")


def _fail(io: ExportIO, export: Export, owner: str, code: str, message: str) -> None:
    now = utcnow()
    failed = io.store.end_export(export.id, owner, {
        "status": "failed", "error": {"code": code, "message": message}, "uploadId": None, "key": None,
        "finishedAt": now, "purgeAt": now + PURGE_AFTER, "updatedAt": now})
    io.blobs.delete(_key(export))
    if failed is not None:
        io.notifier.notify_export_failed(failed, code, message)


def _announce_ready(io: ExportIO, export: Export) -> None:
    io.notifier.notify_export_ready(export)
    io.store.set_export(export.id, {"readyAnnounced": True}, statuses=("done",))
    if io.notify_ready is not None:
        try:
            io.notify_ready(export)
        except Exception:  # noqa: BLE001 - the file is ready whatever the notification does
            log.exception("export %s: the export_ready notification failed", export.id)


# -- clean-up (beat) --------------------------------------------------------------------------------------
def do_expire(store: Store, blobs: Blobs, *, now=None, limit: int = 500) -> dict[str, int]:
    """Files past their expiry are deleted and their jobs marked expired. (Jobs stuck queued or running
    are the sweeper's: ``pipelines.sweeper.sweep_exports``.)"""
    now = now or utcnow()
    expired = 0
    for export in store.exports_past_expiry(now, limit):
        if store.set_export(export.id, {"status": "expired", "key": None, "updatedAt": now},
                            statuses=("done",)) is not None:
            if export.key:
                blobs.delete(export.key)
            expired += 1
    return {"expired": expired}


def do_fail_stale(store: Store, blobs: Blobs, notifier: Notifier, export: Export, code: str, message: str,
                  now: datetime) -> Export | None:
    """The sweeper's end for a job stuck queued or running: failed with the reason, if nothing moved it
    since it was read (None otherwise); its upload aborted, export:failed sent."""
    failed = store.settle_export(export, {"status": "failed", "error": {"code": code, "message": message},
                                          "lease": None, "uploadId": None, "key": None, "finishedAt": now,
                                          "purgeAt": now + PURGE_AFTER, "updatedAt": now})
    if failed is None:
        return None
    notifier.notify_export_failed(failed, code, message)
    try:
        if export.uploadId:
            blobs.abort_multipart(_key(export), export.uploadId)
        blobs.delete(_key(export))
    except StorageUnavailable:   # logged: the job is failed all the same
        log.warning("export %s: its partial upload stays (S3 away)", export.id)
    return failed
