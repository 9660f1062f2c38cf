"""A file's processing, in the media worker: the steps of ``STEPS`` in order, each outcome recorded in
``processingSteps`` so that a redelivered task (a worker killed mid-way) skips what is done and redoes
only what is not (renditions go to fixed keys: a rerun overwrites rather than adds); a refused file is
deleted and ends failed or quarantined; the sweeper's end for a file stuck processing."""
from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable

from infra.blobs import Blobs, InvalidUpload, StorageUnavailable
from infra.executor import Executor
from infra.metrics import MEDIA_FAILURES, MEDIA_JOB_SECONDS
from infra.scanner import ScanError, ScannerUnavailable
from infra.storage import Store
from pipelines.events import Notifier
from pipelines.gifs.library import do_index_library
from pipelines.media.filetypes import MediaRefused
from pipelines.media.images import image_info
from pipelines.media.probe import audio_info, pdf_info, video_info
from pipelines.media.remote import RemoteFetch, RemoteUnavailable, refusal_code, step_copy
from pipelines.media.step_calls import (complete_upload, fetch_original, on_original, render_image, render_video_still,
                                        verify_stored)
from schemas.common import utcnow
from schemas.documents import Media, Step

log = logging.getLogger(__name__)


@dataclass
class Processing:
    """The worker's I/O: where files are, the scanner (None: the step is skipped, never "clean"), the
    events, and the executor: how CPU-bound calls run (off the event loop in the embedded default) and
    where each slice of the work on a shared loop lets chat go first (``give_way``)."""
    store: Store
    blobs: Blobs
    notifier: Notifier
    scanner: Any | None
    executor: Executor
    # Worth a retry of the task (the worker adds MongoDB's and Redis's connection errors, a dead CPU child);
    # anything else a step raises fails the file at once, with its reason (``_unexpected``).
    transient: tuple[type[BaseException], ...] = (StorageUnavailable, ScannerUnavailable, RemoteUnavailable)
    # Where GIF sends' files may be fetched from, and the bounds (None: this worker copies none).
    remote: RemoteFetch | None = None


@dataclass
class ProcessResult:
    media_id: str
    status: str | None
    ran: list[str]


class _Refused(Exception):
    def __init__(self, status: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _unexpected(exc: Exception) -> _Refused:
    """A step's exception nobody planned for: the file fails with a reason the uploader can read."""
    if isinstance(exc, ScanError):   # e.g. clamd's "INSTREAM size limit exceeded"
        return _Refused("failed", "scan_failed", f"the virus scanner could not check this file: {exc}"[:500])
    if isinstance(exc, InvalidUpload):   # e.g. S3 refusing a part smaller than its minimum
        return _Refused("failed", "upload_refused", f"the storage refused the uploaded parts: {exc}"[:500])
    return _Refused("failed", "processing_failed", f"processing failed: {type(exc).__name__}: {exc}"[:500])


def process_media(media_id: str, io: Processing) -> ProcessResult:
    """Run the steps that are not done yet; a refused file is deleted and the media ends failed or
    quarantined, with a clear error; each step's outcome goes to the uploader as media:updated. A run
    that ends the file (ready, failed, quarantined) is timed, by kind of file; one that meets a transient
    error raises (the task retries) and is not."""
    io.executor.give_way()
    media = io.store.media.get_media(media_id)
    if media is None or media.status in ("ready", "failed", "quarantined") or media.isDeleted:
        return ProcessResult(media_id, media.status if media else None, [])
    began = time.perf_counter()
    ran: list[str] = []
    media = _run_steps(io, media, ran)
    MEDIA_JOB_SECONDS.labels(media_kind(media)).observe(time.perf_counter() - began)
    return ProcessResult(media_id, media.status, ran)


def media_kind(media: Media) -> str:
    """The ``kind`` label of the media metrics: image, video, audio, pdf or other."""
    if media.fileType != "document":
        return media.fileType
    return "pdf" if media.mimeType == "application/pdf" else "other"


def _run_steps(io: Processing, media: Media, ran: list[str]) -> Media:
    """The steps not done yet, in order (each one's name added to ``ran``); the file as they left it."""
    with tempfile.TemporaryDirectory(prefix="media-") as tmp:
        local = _Local(io.blobs, media.key, os.path.join(tmp, "original"))
        try:
            for name, step in STEPS:
                if media.processingSteps[name].status in ("done", "skipped"):
                    continue
                io.executor.give_way()
                outcome, changes = step(io, media, local)
                ran.append(name)
                io.executor.give_way()
                media = _record(io, media, name, outcome, changes)
        except MediaRefused as exc:   # a step's file work refused the file
            return _refuse(io, media, _Refused("failed", refusal_code(media, exc.code), exc.message))
        except _Refused as refused:
            return _refuse(io, media, refused)
        except io.transient:
            raise   # the task retries; when its retries run out, the sweeper ends it (pipelines.sweeper)
        except Exception as exc:  # noqa: BLE001 - any other failure ends the file failed, never processing
            log.exception("media %s: step failed", media.id)
            return _refuse(io, media, _unexpected(exc))
    io.executor.give_way()
    media = io.store.media.update_media(media.id, {"status": "ready", "updatedAt": utcnow()},
                                  unless_status=("failed", "quarantined")) or io.store.media.get_media(media.id) or media
    if media.status == "ready":
        io.store.media.keep_quota(media.uploadedBy, media.id)
        if media.animated:
            _index_library(io, media)
    _announce(io, media)
    return media


def _index_library(io: Processing, media: Media) -> None:
    """An animated file is in its group's GIF library (pipelines.gifs.library): its words are indexed once
    it is ready. A failure here costs the library one entry, not the file."""
    try:
        do_index_library(io.store, media)
    except io.transient:
        raise
    except Exception:  # noqa: BLE001 - the file is ready whatever the index does
        log.exception("media %s: not indexed in the GIF library", media.id)


class _Local:
    """Where the original is downloaded (streamed to a temporary file) once, for the steps that read it
    all: by this process for the scanner, or by the process a CPU call runs in (``on_original``)."""

    def __init__(self, blobs: Blobs, key: str, path: str) -> None:
        self.blobs, self.key, self.path = blobs, key, path

    def file(self) -> str:
        return fetch_original(self.blobs, self.key, self.path)


def _step_upload(io: Processing, media: Media, local: _Local):
    """An upload's completion; a GIF send's copy (pipelines.media.remote) in its place."""
    if media.source is not None:
        return step_copy(io, media)
    io.executor.run_cpu(complete_upload, io.blobs, media.key, io.store.media.get_upload(media.id))
    return Step(status="done", at=utcnow()), {}


def _step_verification(io: Processing, media: Media, local: _Local):
    io.executor.run_cpu(verify_stored, io.blobs, media.key, media.fileSize, media.mimeType)
    return Step(status="done", at=utcnow()), {}


def _step_scan(io: Processing, media: Media, local: _Local):
    """ClamAV when configured; without a scanner the step says skipped, never clean."""
    if io.scanner is None:
        return Step(status="skipped", at=utcnow(), result="no scanner configured"), {}
    with open(local.file(), "rb") as f:
        result = io.scanner.scan(iter(lambda: f.read(1 << 20), b""))
    if result.status == "infected":
        raise _Refused("quarantined", "infected", f"removed: the virus scanner found {result.signature}")
    return Step(status="done", at=utcnow(), result="clean"), {}


def _step_metadata(io: Processing, media: Media, local: _Local):
    """Facts about the file (dimensions, duration, codec, pages); an image's header is checked for
    decompression bombs here, before anything decodes it."""
    meta: dict = {}
    changes: dict[str, Any] = {}
    if media.fileType == "image":
        info = io.executor.run_cpu(on_original, io.blobs, media.key, local.path, image_info)
        meta = {"dimensions": {"width": info.width, "height": info.height}, "format": info.format,
                "frames": info.frames, "animated": info.animated}
        if info.animated and info.format in ("GIF", "WEBP"):   # what the group's GIF library holds
            changes["animated"] = True
    elif media.fileType in ("audio", "video"):
        meta = io.executor.run_cpu(on_original, io.blobs, media.key, local.path,
                          audio_info if media.fileType == "audio" else video_info)
        if media.gif is not None:   # a GIF served as MP4: shown like one
            meta["dimensions"] = {"width": meta["width"], "height": meta["height"]}
            changes["animated"] = True
    elif media.mimeType == "application/pdf":
        meta = io.executor.run_cpu(on_original, io.blobs, media.key, local.path, pdf_info)
    return Step(status="done", at=utcnow()), {"metadata": {**media.metadata, **meta}, **changes}


def _step_thumbnails(io: Processing, media: Media, local: _Local):
    """small and large renditions (EXIF orientation applied, every tag stripped), and the original without
    its EXIF/GPS unless the group keeps originals as they are."""
    if media.fileType == "video" and media.gif is not None:   # a GIF's MP4: a still of its first frame
        made = io.executor.run_cpu(render_video_still, io.blobs, media.key, local.path)
        return Step(status="done", at=utcnow()), {"variants": {n: v.model_dump() for n, v in made.items()}}
    if media.fileType != "image":
        return Step(status="skipped", at=utcnow(), result="not an image"), {}
    group = io.store.groups.get_group(media.groupId)
    strip = not (group and group.settings.keepOriginalMetadata)
    made = io.executor.run_cpu(render_image, io.blobs, media.key, media.mimeType, local.path, strip)
    changes: dict[str, Any] = {"variants": {n: v.model_dump() for n, v in made.variants.items()},
                               "metadata": {**media.metadata, "dimensions": {"width": made.dimensions[0],
                                                                             "height": made.dimensions[1]},
                                            **({"exif": made.exif} if made.exif else {})},
                               "fileSize": made.file_size}
    return Step(status="done", at=utcnow()), changes


STEPS: list[tuple[str, Callable]] = [("upload", _step_upload), ("verification", _step_verification),
                                      ("virusScan", _step_scan), ("metadata", _step_metadata),
                                      ("thumbnails", _step_thumbnails)]


def _record(io: Processing, media: Media, name: str, step: Step, changes: dict) -> Media:
    updated = io.store.media.update_media(media.id, {f"processingSteps.{name}": step.model_dump(), **changes,
                                               "updatedAt": utcnow()})
    media = updated or media
    io.notifier.notify_media_updated(media)
    return media


def _refuse(io: Processing, media: Media, refused: _Refused) -> Media:
    """A refused file leaves nothing behind in S3; its quota comes back (once); the messages show it."""
    _discard(io, media)
    media = io.store.media.update_media(media.id, _refusal(media, refused.status, refused.code, refused.message)) or media
    MEDIA_FAILURES.labels(refused.code).inc()
    log.info("media %s %s: %s", media.id, refused.status, refused.message)
    _announce(io, media)
    return media


def do_fail_stale(io: Processing, media: Media, code: str, message: str) -> Media | None:
    """The sweeper's end for a file stuck processing: failed with the reason, if nothing moved it since it
    was read (None otherwise); then the same as a refusal."""
    failed = io.store.media.settle_media(media, _refusal(media, "failed", code, message))
    if failed is None:
        return None
    io.store.media.return_quota(failed.uploadedBy, failed.id)
    MEDIA_FAILURES.labels(code).inc()
    log.info("media %s failed by the sweeper: %s", media.id, message)
    _announce(io, failed)
    try:
        io.blobs.delete_prefix(failed.key.rsplit("/", 1)[0] + "/")
    except StorageUnavailable:   # do_cleanup deletes a failed file's objects later
        log.warning("media %s: its objects stay until the clean-up (S3 away)", media.id)
    return failed


def _discard(io: Processing, media: Media) -> None:
    """The quota first: it is returned once whatever happens next (a retry after S3 failed here finds it
    returned)."""
    io.store.media.return_quota(media.uploadedBy, media.id)
    io.blobs.delete_prefix(media.key.rsplit("/", 1)[0] + "/")


def _refusal(media: Media, status: str, code: str, message: str) -> dict[str, Any]:
    step = next((n for n, _ in STEPS if media.processingSteps[n].status not in ("done", "skipped")), STEPS[-1][0])
    return {"status": status, "error": {"code": code, "message": message}, "variants": {},
            f"processingSteps.{step}": Step(status="failed", at=utcnow(), result=code).model_dump(),
            "updatedAt": utcnow()}


def _announce(io: Processing, media: Media) -> None:
    """The uploader hears the outcome; each message carrying the file shows its new summary."""
    io.notifier.notify_media_updated(media)
    with io.notifier.batch():
        for message_id in io.store.media.get_media(media.id).messageIds:
            message = io.store.messages.get_message(message_id)
            if message is None:
                continue
            files = [media.summary() if f.get("mediaId") == media.id else f for f in message.metadata.files or []]
            changed = io.store.messages.set_message_files(message_id, files, utcnow())
            if changed is not None:
                io.notifier.notify_message_updated(changed)
