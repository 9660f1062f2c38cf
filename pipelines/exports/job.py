"""An export job's run in the worker: the claim and its lease, the heartbeat, how the file is made, and how
the job ends.

``run_export`` claims the job (queued -> running, with a lease: one conditional update, so a redelivered
task cannot run it twice at once) and walks the conversation (``walk``): JSON and CSV go straight into
``blobs.multipart_writer`` (8 MiB parts: never the whole file in memory), the PDF's records into a
JSON-lines file that ``pdf.render_pdf`` renders through ``executor.run_cpu`` (a child process in the
embedded default), whose file ``send_file`` then uploads. Where the store is this process's memory, a long
walk runs on a snapshot of it (``executor.run_on_snapshot``), off the event loop, and writes its file the
same way. An encrypted conversation's file is sealed on its way to S3 (``sealed``). The job ends ``done`` (or ``failed`` with a reason). A heartbeat renews the lease, records
progress and sends ``export:progress``; it is also how the worker learns that the job was cancelled (the
renewal no longer matches), after which the run stops and aborts its upload.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from infra.blobs import Blobs, Part, StorageUnavailable
from infra.executor import Executor
from infra.metrics import EXPORT_FAILURES, EXPORT_JOB_SECONDS
from infra.storage import Store
from pipelines.events import Notifier
from pipelines.exports import pdf
from pipelines.exports.files import CONTENT_TYPES, PURGE_AFTER, ExportSettings, file_key
from pipelines.exports.sealed import SEALED_CONTENT_TYPE, SealingWriter, seal_file
from pipelines.exports.walk import (SHARED_LOOP_BATCH, SHARED_LOOP_SHARE, ForkProgress, build_header,
                                    count_messages, fetch_thumbnails, seq_bounds, write_export, write_to_file)
from schemas.common import utcnow
from schemas.documents import Export

log = logging.getLogger(__name__)


MAX_ATTEMPTS = 5          # claims of one job (worker deaths, transient failures) before it fails
PROGRESS_SECONDS = 1.0    # the heartbeat's period: progress at least every 2 s (the contract), or 5 %


@dataclass
class ExportIO:
    store: Store
    blobs: Blobs
    notifier: Notifier
    settings: ExportSettings
    # How CPU calls (the PDF, the upload's bytes) and long walks run here: ``executor.run_on_snapshot`` is
    # set where the store is this process's memory (the embedded default): the walk then runs on the store
    # as it was, off the event loop. None: the walk reads the store here, as a worker does from MongoDB.
    executor: Executor
    notify_ready: Callable[[Export], None] | None = None  # the export_ready notification, where it exists
    part_size: int = 8 << 20
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
            self.processed = pdf.read_progress(self.workdir)
        progress = self.percent()
        until = utcnow() + timedelta(seconds=self.io.settings.lease_seconds)
        try:
            ours = self.io.store.exports.renew_export(self.export.id, self.owner, until, {
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
        """A window of ``count`` messages, begun at ``began`` (monotonic), was walked here. Where the walk
        shares the event loop with the chat (``executor.shares_loop``: the embedded default, below
        ``fork_min_messages``) it takes
        at most SHARED_LOOP_SHARE of the loop, and no stall is longer than one small window."""
        self.processed += count
        self.maybe_beat()
        if self.io.executor.shares_loop:
            time.sleep((time.monotonic() - began) * (1 / SHARED_LOOP_SHARE - 1))

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
    delivery of the task is running it), returns without work. A run that stores the file is timed from
    its claim, by format."""
    current = io.store.exports.get_export(export_id)
    if current is None:
        return RunResult(export_id, None, False, reason="no such export")
    if current.status == "done" and not current.readyAnnounced:
        _announce_ready(io, current)  # the worker died between the end of the job and its event
        return RunResult(export_id, "done", False, reason="announced")
    owner, now = uuid.uuid4().hex, utcnow()
    export = io.store.exports.claim_export(export_id, owner, now, now + timedelta(seconds=io.settings.lease_seconds))
    if export is None:
        status = current.status
        return RunResult(export_id, status, False,
                         reason="running elsewhere (live lease)" if status == "running" else f"already {status}")
    began = time.perf_counter()
    if export.attempts > MAX_ATTEMPTS:
        _fail(io, export, owner, "too_many_attempts", f"the export was started {MAX_ATTEMPTS} times without finishing")
        return RunResult(export_id, "failed", True, reason="too many attempts")
    if export.uploadId:  # a previous attempt died mid-upload: its parts go, the file starts again
        io.blobs.abort_multipart(file_key(export), export.uploadId)
        io.store.exports.renew_export(export.id, owner, now + timedelta(seconds=io.settings.lease_seconds), {"uploadId": None})
    workdir = tempfile.mkdtemp(prefix=f"export-{export.id}-")
    try:
        result = _run(io, export, owner, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if result.status == "done":
        EXPORT_JOB_SECONDS.labels(export.format).observe(time.perf_counter() - began)
    return result


def _run(io: ExportIO, export: Export, owner: str, workdir: str) -> RunResult:
    store = io.store
    conv = store.conversations.get_conversation(export.convId)
    if conv is None:
        _fail(io, export, owner, "not_found", "the conversation no longer exists")
        return RunResult(export.id, "failed", True, reason="no conversation")
    low, high = seq_bounds(conv, export)
    total = count_messages(store, export, low, high)
    hb = Heartbeat(io, export, owner, total, workdir)
    sealed = store.vault.encrypted(export.convId)   # (makes its key if the conversation asks for one)
    try:
        header = build_header(store, export, conv, low, high)
        key = file_key(export)
        snapshot = io.executor.run_on_snapshot
        fork = snapshot if snapshot and total >= io.settings.fork_min_messages else None
        if export.format != "pdf" and snapshot is None:  # (embedded: no upload on the loop)
            count, size = _stream(io, export, owner, header, low, high, hb, key, sealed)
        else:
            path = os.path.join(workdir, "records.jsonl" if export.format == "pdf" else f"export.{export.format}")
            count = _write_file(io, export, header, low, high, hb, workdir, path, fork)
            if export.format == "pdf":
                path = _render(io, hb, path, workdir, count)
            size = _upload(io, export, owner, path, key, hb, sealed)
    except _Stop:
        _stopped(io, export)
        return RunResult(export.id, "cancelled", True, reason="stopped: cancelled or taken over")
    except pdf.ExportCancelled:
        _stopped(io, export)
        return RunResult(export.id, "cancelled", True, reason="stopped while rendering")
    except io.transient as exc:
        # Back to queued so that Celery's retry can claim it again (the lease would refuse it).
        store.exports.end_export(export.id, owner, {"status": "queued", "updatedAt": utcnow()})
        log.warning("export %s: transient failure, will retry: %s", export.id, exc)
        raise
    except Exception as exc:  # noqa: BLE001 - a permanent failure: the job ends failed, with its reason
        log.exception("export %s failed", export.id)
        _fail(io, export, owner, "export_failed", f"{type(exc).__name__}: {exc}"[:500])
        return RunResult(export.id, "failed", True, reason=str(exc))
    now = utcnow()
    done = store.exports.end_export(export.id, owner, {
        "status": "done", "progress": 100, "processed": count, "total": total, "size": size, "key": key,
        "sealed": sealed,
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
            if not self.io.store.exports.renew_export(self.export.id, self.owner, until, {"uploadId": upload_id}):
                raise _Stop()
        return n


def _inline_batch(io: ExportIO) -> int:
    return min(io.settings.batch, SHARED_LOOP_BATCH) if io.executor.shares_loop else io.settings.batch


def _stream(io: ExportIO, export: Export, owner: str, header, low: int, high: int, hb: Heartbeat,
            key: str, sealed: bool) -> tuple[int, int]:
    """JSON or CSV read from the store here and written straight into an S3 multipart upload (8 MiB
    parts), sealed on the way when ``sealed``: neither the conversation nor the file is ever whole in
    memory or on disk. The file's plain size."""
    content_type = SEALED_CONTENT_TYPE if sealed else CONTENT_TYPES[export.format]
    with io.blobs.multipart_writer(key, content_type, io.part_size) as sink:
        out = SealingWriter(io.store.vault, export.convId, _Tracked(sink, io, export, owner), sealed=sealed)
        count = write_export(io.store, export, header, low, high, _inline_batch(io), hb, out, hb.workdir)
        hb.check()
        out.finish()
    return count, out.size


def _write_file(io: ExportIO, export: Export, header, low: int, high: int, hb: Heartbeat, workdir: str,
                path: str, fork: Callable[..., Any] | None) -> int:
    """The walk into a local file: the PDF's JSON-lines (the first fifth of its progress), or in the
    embedded default the whole JSON or CSV file (sent from the CPU child afterwards). In a fork
    (``fork``: ``run_on_snapshot``) the heartbeat here reads its progress and tells it to stop."""
    hb.weight = (0.0, 0.2) if export.format == "pdf" else (0.0, 0.95)
    if fork is None:
        count = write_to_file(path, io.store, export, header, low, high, _inline_batch(io), hb, workdir)
    else:
        hb.from_child, began = True, time.monotonic()
        with hb.in_background():
            count = fork(write_to_file, path, io.store, export, header, low, high, io.settings.batch,
                         ForkProgress(workdir), workdir)
        hb.from_child = False
        log.info("export %s: %d messages walked in a fork in %.2f s", export.id, count, time.monotonic() - began)
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(workdir, "progress"))  # the renderer reports from 0 again
    hb.check()
    hb.processed = count
    return count


def _render(io: ExportIO, hb: Heartbeat, source: str, workdir: str, count: int) -> str:
    """The thumbnails fetched and the PDF rendered from ``source``, each in a child process (``run_cpu``)
    in the embedded default; the rest of the progress. The PDF's path."""
    out = os.path.join(workdir, "export.pdf")
    io.executor.run_cpu(fetch_thumbnails, io.blobs, workdir)
    hb.check()
    hb.processed, hb.total, hb.weight, hb.from_child = 0, count, (0.2, 0.8), True
    with hb.in_background():
        io.executor.run_cpu(pdf.render_pdf, source, out, workdir)
    hb.from_child = False
    hb.check()
    hb.processed = count
    return out


def _upload(io: ExportIO, export: Export, owner: str, path: str, key: str, hb: Heartbeat, sealed: bool) -> int:
    """The finished file to S3, its bytes sent by ``send_file`` through ``run_cpu`` (in the embedded
    default a child process: hashing and sending megabytes would hold the event loop for tens of ms a
    part). A file of one part is one PUT; a larger one is a multipart upload opened here, its id recorded
    on the job first (a cancel, a takeover or the clean-up can abort it), completed here, aborted on
    any failure. Sealed first when ``sealed``. Its plain size."""
    size, content_type = os.path.getsize(path), CONTENT_TYPES[export.format]
    if sealed:
        path, content_type = seal_file(io.store.vault, export.convId, path), SEALED_CONTENT_TYPE
    if os.path.getsize(path) <= io.part_size:
        io.executor.run_cpu(send_file, io.blobs, key, content_type, path, io.part_size, hb.workdir, None)
        return size
    upload_id = io.blobs.create_multipart(key, content_type)
    try:
        until = utcnow() + timedelta(seconds=io.settings.lease_seconds)
        if not io.store.exports.renew_export(export.id, owner, until, {"uploadId": upload_id}):
            raise _Stop()
        with hb.in_background():
            parts = io.executor.run_cpu(send_file, io.blobs, key, content_type, path, io.part_size, hb.workdir, upload_id)
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
                raise pdf.ExportCancelled("cancelled")
            parts.append(Part(number, blobs.upload_part(key, upload_id, number, chunk), len(chunk)))
    return parts


def _stopped(io: ExportIO, export: Export) -> None:
    """Cancelled (or taken over): the multipart writer has aborted its upload; make sure no object is left
    unless another run owns the job now."""
    current = io.store.exports.get_export(export.id)
    if current is None or current.status == "cancelled":
        io.blobs.delete(file_key(export))
    log.info("export %s stopped (%s)", export.id, current.status if current else "gone")


def _fail(io: ExportIO, export: Export, owner: str, code: str, message: str) -> None:
    now = utcnow()
    failed = io.store.exports.end_export(export.id, owner, {
        "status": "failed", "error": {"code": code, "message": message}, "uploadId": None, "key": None,
        "finishedAt": now, "purgeAt": now + PURGE_AFTER, "updatedAt": now})
    io.blobs.delete(file_key(export))
    if failed is not None:
        EXPORT_FAILURES.labels(code).inc()
        io.notifier.notify_export_failed(failed, code, message)


def _announce_ready(io: ExportIO, export: Export) -> None:
    io.notifier.notify_export_ready(export)
    io.store.exports.set_export(export.id, {"readyAnnounced": True}, statuses=("done",))
    if io.notify_ready is not None:
        try:
            io.notify_ready(export)
        except Exception:  # noqa: BLE001 - the file is ready whatever the notification does
            log.exception("export %s: the export_ready notification failed", export.id)
