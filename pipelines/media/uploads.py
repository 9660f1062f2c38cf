"""Uploads and media: resumable uploads straight to S3, the worker's processing steps, and what members do
with the files (read, download, gallery, albums, likes, comments, attach them to messages).

The bytes never pass through the web process, Redis or a queue. The web side creates the S3 multipart
upload and hands out presigned part URLs; the browser PUTs the parts to S3 itself (several at a time), and
asks S3's ``ListParts`` (through us) which parts it holds to resume. ``complete`` queues
``media.process(mediaId)``. The worker (``process_media``) then runs the steps of ``STEP_NAMES`` in order,
recording each outcome in ``processingSteps``, so a redelivered task (a worker killed mid-way) skips what is
done and redoes only what is not: renditions go to fixed keys, so a rerun overwrites rather than adds.
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from infra.blobs import Blobs, InvalidUpload, Part, StorageUnavailable, download_name
from infra.scanner import ScanError, ScannerUnavailable
from infra.store import Store
from pipelines.messages import lifecycle
from pipelines.media import processing as proc
from pipelines.policy.access import check_conversation_member, check_group_manager, log_denied
from pipelines.policy.gate import Admitted, Gate
from pipelines.events import Notifier
from schemas.common import iso, new_id, utcnow
from schemas.documents import Album, Media, MediaComment, SenderInfo, Step, Upload, User, Variant
from schemas.errors import ApiError, Code
from schemas.payloads import AlbumCreate, IdPage, UploadCreate

log = logging.getLogger(__name__)

PART_SIZE = 8 << 20          # S3's minimum is 5 MiB (but for the last part); 8 MiB x 10,000 parts = 78 GiB
MAX_PARTS = 10_000
HEAD_BYTES = 4096            # what type sniffing reads
MAX_COMMENTS = 500
SAFE_INLINE = {"image/jpeg", "image/png", "image/gif", "image/webp"}  # shown in the page; all else downloads


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    quota_bytes: int
    upload_ttl: timedelta
    presign_seconds: int


# -- the upload (web side) -----------------------------------------------------------------------------
def do_create_upload(store: Store, blobs: Blobs, limits: Limits, user: User, request: UploadCreate,
                     gate: Gate | None = None) -> dict[str, Any]:
    """Check membership, type, size and quota, then open the S3 multipart upload and its records. The file
    and its name will be in front of the conversation (its gallery): the write gate admits it (member, not
    banned, not muted) and screens the name."""
    gate = gate or Gate(store)
    media_id = new_id()
    admitted = gate.conversation(user, request.convId, "upload")
    screened = gate.screen(admitted, {"filename": request.filename}, media_id)
    conv = store.get_conversation(request.convId)
    mime = proc.normalize_mime(request.mimeType)
    try:
        file_type = proc.file_type(mime)
    except proc.MediaRefused as exc:
        raise ApiError(Code.UNSUPPORTED_TYPE, exc.message) from None
    if request.size > limits.max_upload_bytes:
        raise ApiError(Code.FILE_TOO_LARGE, f"the file is {request.size} bytes; the limit is {limits.max_upload_bytes}",
                       {"size": request.size, "limit": limits.max_upload_bytes})
    part_size = max(PART_SIZE, math.ceil(request.size / MAX_PARTS))
    now = utcnow()
    if not store.reserve_quota(user.id, media_id, request.size, limits.quota_bytes):
        raise ApiError(Code.QUOTA_EXCEEDED, f"this file would take your files past {limits.quota_bytes} bytes",
                       {"quota": limits.quota_bytes})
    key = f"media/{conv.id}/{media_id}/original"
    try:
        upload_id = blobs.create_multipart(key, mime)
    except Exception:
        store.return_quota(user.id, media_id)
        raise
    part_count = max(1, math.ceil(request.size / part_size))
    upload = Upload(id=media_id, userId=user.id, convId=conv.id, key=key, s3UploadId=upload_id, size=request.size,
                    partSize=part_size, partCount=part_count, createdAt=now, expiresAt=now + limits.upload_ttl)
    name = _safe_filename(screened.texts["filename"])
    media = Media(id=media_id, convId=conv.id, groupId=conv.groupId, uploadedBy=user.id,
                  uploaderInfo=SenderInfo.of(user), filename=name, originalFilename=screened.texts["filename"],
                  mimeType=mime, fileType=file_type, fileSize=request.size, key=key,
                  createdAt=now, updatedAt=now)
    try:
        store.insert_upload(upload, media)
    except Exception:
        store.return_quota(user.id, media_id)   # never held (a file record written before the failure: swept)
        raise
    gate.opened(screened)
    return {"id": media_id, "partSize": part_size, "partCount": part_count, "expiresAt": iso(upload.expiresAt)}


def _safe_filename(name: str) -> str:
    """The name to show and download as: the last part of a path (some browsers send ``C:\\...\\a.jpg``),
    with ``download_name``'s rules (no control or format character, separator, or leading dot)."""
    return download_name(name.replace("\\", "/").rsplit("/", 1)[-1])


def _own_upload(store: Store, user: User, upload_id: str, *, open_only: bool = True) -> Upload:
    upload = store.get_upload(upload_id)
    if upload is None:
        raise ApiError(Code.NOT_FOUND, f"no upload {upload_id} (or it expired)")
    if upload.userId != user.id:
        raise ApiError(Code.FORBIDDEN, "only the uploader can do this")
    if open_only and upload.status != "uploading":
        raise ApiError(Code.ALREADY_COMPLETED, f"this upload is {upload.status}")
    return upload


def part_urls(store: Store, blobs: Blobs, limits: Limits, user: User, upload_id: str, parts: list[int]) -> dict:
    upload = _own_upload(store, user, upload_id)
    bad = sorted({n for n in parts if not 1 <= n <= upload.partCount})
    if bad:
        raise ApiError(Code.INVALID_PART, f"parts are numbered 1 to {upload.partCount}; got {bad[:10]}",
                       {"partCount": upload.partCount})
    return {"urls": {str(n): blobs.presign_part(upload.key, upload.s3UploadId, n, limits.presign_seconds)
                     for n in dict.fromkeys(parts)}}


def upload_status(store: Store, blobs: Blobs, user: User, upload_id: str) -> dict:
    """What S3 holds: the client resumes from here after a reload or a dropped connection."""
    upload = _own_upload(store, user, upload_id, open_only=False)
    parts = blobs.list_parts(upload.key, upload.s3UploadId) if upload.status == "uploading" else []
    return {"id": upload.id, "status": upload.status, "partCount": upload.partCount, "partSize": upload.partSize,
            "uploadedParts": sorted(p.number for p in parts)}


def do_complete_upload(store: Store, enqueue_process: Callable[[str], None], user: User, upload_id: str) -> dict:
    _own_upload(store, user, upload_id)
    if store.close_upload(upload_id, "completed", utcnow()) is None:
        raise ApiError(Code.ALREADY_COMPLETED, "this upload was already completed or cancelled")
    store.update_media(upload_id, {"status": "processing", "updatedAt": utcnow()})
    try:
        enqueue_process(upload_id)
    except Exception:  # noqa: BLE001 - the upload is complete; the sweeper queues its processing (sweeper.py)
        log.warning("media %s: could not queue its processing; the sweeper will", upload_id, exc_info=True)
    return {"id": upload_id, "status": "processing"}


def do_cancel_upload(store: Store, blobs: Blobs, user: User, upload_id: str) -> None:
    upload = _own_upload(store, user, upload_id)
    if store.close_upload(upload_id, "cancelled", utcnow()) is None:
        raise ApiError(Code.ALREADY_COMPLETED, "this upload was already completed or cancelled")
    blobs.abort_multipart(upload.key, upload.s3UploadId)
    store.delete_media(upload_id)
    store.return_quota(user.id, upload_id)


# -- processing (media worker) --------------------------------------------------------------------------
@dataclass
class Processing:
    """The worker's I/O: where files are, the scanner (None: the step is skipped, never "clean"), the
    events, how CPU-bound calls run (infra.embedded.cpu.run_cpu: off the event loop in the embedded default), and
    what each slice of the work on the loop waits for first (infra.embedded.priority.give_way: chat goes first)."""
    store: Store
    blobs: Blobs
    notifier: Notifier
    scanner: Any | None
    run_cpu: Callable[..., Any]
    give_way: Callable[[], Any] = lambda: None
    # Worth a retry of the task (the worker adds MongoDB's and Redis's connection errors, a dead CPU child);
    # anything else a step raises fails the file at once, with its reason (``_unexpected``).
    transient: tuple[type[BaseException], ...] = (StorageUnavailable, ScannerUnavailable)


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
    quarantined, with a clear error; each step's outcome goes to the uploader as media:updated."""
    io.give_way()
    media = io.store.get_media(media_id)
    if media is None or media.status in ("ready", "failed", "quarantined") or media.isDeleted:
        return ProcessResult(media_id, media.status if media else None, [])
    ran: list[str] = []
    with tempfile.TemporaryDirectory(prefix="media-") as tmp:
        local = _Local(io.blobs, media.key, os.path.join(tmp, "original"))
        try:
            for name, step in STEPS:
                if media.processingSteps[name].status in ("done", "skipped"):
                    continue
                io.give_way()
                outcome, changes = step(io, media, local)
                ran.append(name)
                io.give_way()
                media = _record(io, media, name, outcome, changes)
        except proc.MediaRefused as exc:   # a step's file work refused the file
            media = _refuse(io, media, _Refused("failed", exc.code, exc.message))
            return ProcessResult(media_id, media.status, ran)
        except _Refused as refused:
            media = _refuse(io, media, refused)
            return ProcessResult(media_id, media.status, ran)
        except io.transient:
            raise   # the task retries; when its retries run out, the sweeper ends it (pipelines.sweeper)
        except Exception as exc:  # noqa: BLE001 - any other failure ends the file failed, never processing
            log.exception("media %s: step failed", media_id)
            media = _refuse(io, media, _unexpected(exc))
            return ProcessResult(media_id, media.status, ran)
    io.give_way()
    media = io.store.update_media(media_id, {"status": "ready", "updatedAt": utcnow()},
                                  unless_status=("failed", "quarantined")) or io.store.get_media(media_id) or media
    if media.status == "ready":
        io.store.keep_quota(media.uploadedBy, media.id)
    _announce(io, media)
    return ProcessResult(media_id, media.status, ran)


class _Local:
    """Where the original is downloaded (streamed to a temporary file) once, for the steps that read it
    all: by this process for the scanner, or by the process a CPU call runs in (``on_original``)."""

    def __init__(self, blobs: Blobs, key: str, path: str) -> None:
        self.blobs, self.key, self.path = blobs, key, path

    def file(self) -> str:
        return fetch_original(self.blobs, self.key, self.path)


def fetch_original(blobs: Blobs, key: str, path: str) -> str:
    """``path``, downloaded from ``key`` unless an earlier step already did (a whole file or none: it
    is written aside and renamed)."""
    if not os.path.exists(path):
        body = blobs.open_read(key)
        with open(path + ".part", "wb") as out:
            for chunk in iter(lambda: body.read(1 << 20), b""):
                out.write(chunk)
        os.replace(path + ".part", path)
    return path


def on_original(blobs: Blobs, key: str, path: str, fn: Callable, *args) -> Any:
    """``fn(path, *args)`` on the original: a CPU call (``Processing.run_cpu``) that also fetches the file,
    so that its bytes go to the process doing the work (in the embedded default a child, not the web
    process's loop)."""
    return fn(fetch_original(blobs, key, path), *args)


@dataclass
class Rendered:
    """What the thumbnails step's CPU call sends back: facts, no bytes."""
    dimensions: tuple[int, int]
    exif: dict[str, Any]
    variants: dict[str, Variant]
    file_size: int


def render_image(blobs: Blobs, key: str, mime_type: str, path: str, strip: bool) -> Rendered:
    """The thumbnails step's file work as one CPU call: the renditions from one decode, written to fixed
    keys beside the original, then (``strip``) the original without its metadata over it. Every byte goes
    between S3 and the process doing the work: in the embedded default, before, each photo's renditions
    and stripped original (3 MB for 12 MP) went through the web process's loop."""
    path = fetch_original(blobs, key, path)
    made = proc.make_renditions(path)
    stripped = proc.strip_original(path) if strip else None
    variants = {}
    for name, v in made.variants.items():
        variant_key = f"{key.rsplit('/', 1)[0]}/{name}.{v.mime_type.split('/')[1]}"
        blobs.put_bytes(variant_key, v.data, v.mime_type)
        variants[name] = Variant(width=v.width, height=v.height, mimeType=v.mime_type, size=v.size, key=variant_key)
    if stripped is not None:
        blobs.put_bytes(key, stripped, mime_type)
    # The stored original's size, also when a run that died before recording the step had already
    # stripped it (then there is nothing left to strip, and the downloaded file is what S3 holds).
    size = len(stripped) if stripped is not None else os.path.getsize(path)
    return Rendered(dimensions=made.dimensions, exif=made.exif, variants=variants, file_size=size)


def complete_upload(blobs: Blobs, key: str, upload: Upload | None) -> None:
    """The upload step's S3 work, as one CPU call (botocore's requests are Python work: off the web
    process's loop in the embedded default): complete the multipart upload from S3's own list of parts
    (the client's word is not taken). Refuses with ``size_mismatch`` (the multipart upload aborted) or
    ``upload_expired``."""
    if blobs.head(key) is not None:  # completed by an earlier run that died before recording it
        return
    if upload is None:
        raise proc.MediaRefused("upload_expired", "the upload expired before it was completed")
    parts: list[Part] = blobs.list_parts(upload.key, upload.s3UploadId)
    held = sum(p.size for p in parts)
    if len(parts) != upload.partCount or held != upload.size:
        blobs.abort_multipart(upload.key, upload.s3UploadId)
        raise proc.MediaRefused("size_mismatch", f"S3 holds {len(parts)} of {upload.partCount} parts, {held} of "
                                                 f"{upload.size} declared bytes")
    blobs.complete_multipart(upload.key, upload.s3UploadId, parts)


def verify_stored(blobs: Blobs, key: str, size: int, mime_type: str) -> None:
    """The verification step's S3 work, as one CPU call: the stored size is the declared one
    (``size_mismatch``), and the first bytes are of the declared type (``type_mismatch``)."""
    info = blobs.head(key)
    if info is None or info.size != size:
        raise proc.MediaRefused("size_mismatch", f"the stored file is {info.size if info else 0} bytes; "
                                                 f"{size} were declared")
    proc.check_declared(mime_type, blobs.get_range(key, 0, HEAD_BYTES - 1))


def _step_upload(io: Processing, media: Media, local: _Local):
    io.run_cpu(complete_upload, io.blobs, media.key, io.store.get_upload(media.id))
    return Step(status="done", at=utcnow()), {}


def _step_verification(io: Processing, media: Media, local: _Local):
    io.run_cpu(verify_stored, io.blobs, media.key, media.fileSize, media.mimeType)
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
    if media.fileType == "image":
        info = io.run_cpu(on_original, io.blobs, media.key, local.path, proc.image_info)
        meta = {"dimensions": {"width": info.width, "height": info.height}, "format": info.format,
                "frames": info.frames, "animated": info.animated}
    elif media.fileType in ("audio", "video"):
        meta = io.run_cpu(on_original, io.blobs, media.key, local.path,
                          proc.audio_info if media.fileType == "audio" else proc.video_info)
    elif media.mimeType == "application/pdf":
        meta = io.run_cpu(on_original, io.blobs, media.key, local.path, proc.pdf_info)
    return Step(status="done", at=utcnow()), {"metadata": {**media.metadata, **meta}}


def _step_thumbnails(io: Processing, media: Media, local: _Local):
    """small and large renditions (EXIF orientation applied, every tag stripped), and the original without
    its EXIF/GPS unless the group keeps originals as they are."""
    if media.fileType != "image":
        return Step(status="skipped", at=utcnow(), result="not an image"), {}
    group = io.store.get_group(media.groupId)
    strip = not (group and group.settings.keepOriginalMetadata)
    made = io.run_cpu(render_image, io.blobs, media.key, media.mimeType, local.path, strip)
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
    updated = io.store.update_media(media.id, {f"processingSteps.{name}": step.model_dump(), **changes,
                                               "updatedAt": utcnow()})
    media = updated or media
    io.notifier.notify_media_updated(media)
    return media


def _refuse(io: Processing, media: Media, refused: _Refused) -> Media:
    """A refused file leaves nothing behind in S3; its quota comes back (once); the messages show it."""
    _discard(io, media)
    media = io.store.update_media(media.id, _refusal(media, refused.status, refused.code, refused.message)) or media
    log.info("media %s %s: %s", media.id, refused.status, refused.message)
    _announce(io, media)
    return media


def do_fail_stale(io: Processing, media: Media, code: str, message: str) -> Media | None:
    """The sweeper's end for a file stuck processing: failed with the reason, if nothing moved it since it
    was read (None otherwise); then the same as a refusal."""
    failed = io.store.settle_media(media, _refusal(media, "failed", code, message))
    if failed is None:
        return None
    io.store.return_quota(failed.uploadedBy, failed.id)
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
    io.store.return_quota(media.uploadedBy, media.id)
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
        for message_id in io.store.get_media(media.id).messageIds:
            message = io.store.get_message(message_id)
            if message is None:
                continue
            files = [media.summary() if f.get("mediaId") == media.id else f for f in message.metadata.files or []]
            changed = io.store.set_message_files(message_id, files, utcnow())
            if changed is not None:
                io.notifier.notify_message_updated(changed)


# -- attachments (message path) ----------------------------------------------------------------------------
def check_attachments(store: Store, user: User, conv_id: str, media_ids: list[str]) -> None:
    """A send may carry only the sender's own files of that conversation, not failed nor deleted ones."""
    found = store.media_by_ids(media_ids)
    for media_id in media_ids:
        media = found.get(media_id)
        if media is None:
            raise ApiError(Code.NOT_FOUND, f"no media {media_id}")
        if media.isDeleted:
            raise ApiError(Code.GONE, f"media {media_id} was deleted")
        if media.uploadedBy != user.id:
            raise ApiError(Code.INVALID_ATTACHMENT, f"media {media_id} is not yours to attach")
        if media.convId != conv_id:
            raise ApiError(Code.INVALID_ATTACHMENT, f"media {media_id} belongs to another conversation")
        if media.status in ("failed", "quarantined", "uploading"):
            raise ApiError(Code.INVALID_ATTACHMENT, f"media {media_id} is {media.status}: it cannot be attached")


def message_type(files: list[dict[str, Any]]) -> str:
    kinds = {f["fileType"] for f in files}
    if kinds == {"image"}:
        return "image"
    return "media" if kinds & {"audio", "video"} else "file"


def attach_to_message(store: Store, notifier: Notifier, message, media_ids: list[str]) -> None:
    """After the message is stored with its files' summaries: record it on each file, and if a file
    changed meanwhile (the worker finished between our read and this), update the message now. Either the
    worker sees the message id when it announces, or we see its outcome here: nothing is missed."""
    current = []
    for media_id in media_ids:
        media = store.attach_message(media_id, message.id)
        if media is not None:
            current.append(media.summary())
    if current != (message.metadata.files or []):
        changed = store.set_message_files(message.id, current, utcnow())
        if changed is not None:
            notifier.notify_message_updated(changed)


# -- what members do with files ------------------------------------------------------------------------------
def _member_media(store: Store, user: User, media_id: str) -> Media:
    """404 unknown, 403 not a member, 410 deleted (pipelines.lifecycle)."""
    return lifecycle.live_media(store, user, media_id)


def get_media(store: Store, user: User, media_id: str) -> Media:
    return _member_media(store, user, media_id)


def content_url(store: Store, blobs: Blobs, limits: Limits, user: User, media_id: str, variant: str) -> str:
    """A short-lived presigned URL, for members only; anything that is not a safe image downloads as an
    attachment (never rendered by the browser from our origin's S3)."""
    media = _member_media(store, user, media_id)
    if media.status != "ready":
        raise ApiError(Code.NOT_READY, f"this file is {media.status}", {"status": media.status})
    if variant == "original":
        key, mime = media.key, media.mimeType
    elif variant in media.variants:
        key, mime = media.variants[variant].key, media.variants[variant].mimeType
    else:
        raise ApiError(Code.NOT_FOUND, f"this file has no {variant} rendition")
    filename = media.filename if variant == "original" else f"{os.path.splitext(media.filename)[0]}-{variant}.{mime.split('/')[1]}"
    return blobs.presign_get(key, filename=filename, content_type=mime, attachment=mime not in SAFE_INLINE,
                             expires=limits.presign_seconds)


def gallery(store: Store, user: User, conv_id: str, file_type: str | None, page: IdPage) -> dict:
    check_conversation_member(store, user, conv_id)
    media, more = store.gallery(conv_id, file_type, before=page.before, limit=page.limit)
    return {"media": [m.public() for m in media], "hasMore": more}


def do_like(store: Store, user: User, media_id: str, add: bool) -> dict:
    media = _member_media(store, user, media_id)
    changed = store.like_media(media_id, user.id, utcnow(), add)
    return (changed or media).public()


def _gated_media(store: Store, gate: Gate, user: User, media_id: str, path: str) -> tuple[Media, Admitted]:
    """A file of a conversation the user may write to on ``path`` (checks 1 and 2 of the write gate), as its
    members read it."""
    found = lifecycle.found_media(store, media_id)
    admitted = gate.conversation(user, found.convId, path)
    return lifecycle.not_deleted(found), admitted


def do_comment(store: Store, user: User, media_id: str, content: str, gate: Gate | None = None) -> dict:
    """A member comments on a file, through the write gate (the comment may be stored masked, or flagged)."""
    gate = gate or Gate(store)
    _, admitted = _gated_media(store, gate, user, media_id, "comment")
    gate.count(admitted)
    comment_id = new_id()
    screened = gate.screen(admitted, {"content": content}, comment_id)
    comment = MediaComment(id=comment_id, userId=user.id, userInfo=SenderInfo.of(user),
                           content=screened.texts["content"], at=utcnow())
    changed = store.comment_media(media_id, comment.model_dump(), MAX_COMMENTS)
    if changed is None:
        raise ApiError(Code.LIMIT_REACHED, f"a file has at most {MAX_COMMENTS} comments")
    gate.opened(screened)
    return comment.model_dump(mode="json")


def do_create_album(store: Store, user: User, conv_id: str, request: AlbumCreate, gate: Gate | None = None) -> Album:
    """A member makes an album; its name and description go through the write gate."""
    gate = gate or Gate(store)
    admitted = gate.admit(user, "album", conv_id=conv_id)
    album_id, now = new_id(), utcnow()
    screened = gate.screen(admitted, {"name": request.name, "description": request.description}, album_id)
    album = Album(id=album_id, convId=conv_id, name=screened.texts["name"],
                  description=screened.texts["description"], createdBy=user.id, createdAt=now, updatedAt=now)
    store.insert_album(album)
    gate.opened(screened)
    return album


def list_albums(store: Store, user: User, conv_id: str, page: IdPage) -> dict:
    check_conversation_member(store, user, conv_id)
    albums, more = store.albums_of(conv_id, before=page.before, limit=page.limit)
    return {"albums": [a.public() for a in albums], "hasMore": more}


def do_add_to_album(store: Store, user: User, album_id: str, media_id: str, gate: Gate | None = None) -> Album:
    album = store.get_album(album_id)
    if album is None:
        raise ApiError(Code.NOT_FOUND, f"no album {album_id}")
    gate = gate or Gate(store)
    admitted = gate.conversation(user, album.convId, "album_media")
    media = _member_media(store, user, media_id)
    if media.convId != album.convId:
        raise ApiError(Code.INVALID_ATTACHMENT, "the file belongs to another conversation than the album")
    if media.status != "ready":
        raise ApiError(Code.NOT_READY, f"this file is {media.status}")
    gate.count(admitted)
    updated = store.add_to_album(album, media, utcnow())
    if updated is None:
        raise ApiError(Code.CONFLICT, "the file is already in this album")
    return updated


def do_set_caption(store: Store, user: User, media_id: str, caption: str, gate: Gate | None = None) -> Media:
    """The uploader captions their file (an empty caption removes it), through the write gate."""
    gate = gate or Gate(store)
    media, admitted = _gated_media(store, gate, user, media_id, "caption")
    if media.uploadedBy != user.id:
        log_denied(store, user, "media", media_id, "caption of another member's file")
        raise ApiError(Code.FORBIDDEN, "only the member who uploaded a file can caption it")
    gate.count(admitted)
    screened = gate.screen(admitted, {"caption": caption}, media_id)
    updated = store.update_media(media_id, {"caption": screened.texts["caption"] or None, "updatedAt": utcnow()})
    if updated is None:
        raise ApiError(Code.NOT_FOUND, f"no media {media_id}")
    gate.opened(screened)
    return updated


def do_group_settings(store: Store, user: User, group_id: str, changes: dict) -> dict:
    check_group_manager(store, user, group_id)
    group = store.set_group_settings(group_id, changes)
    return {"groupId": group_id, "settings": group.settings.model_dump()}


# -- clean-up (beat) ------------------------------------------------------------------------------------------
def do_cleanup(store: Store, blobs: Blobs, *, now=None, grace: timedelta = timedelta(hours=1),
               limit: int = 500) -> dict[str, int]:
    """Abort abandoned multipart uploads, drop expired upload records (and their never-completed media),
    and delete what S3 holds under media/ that no live record points to."""
    now = now or utcnow()
    aborted = expired = orphans = 0
    for upload in store.expired_uploads(now, limit):
        if upload.status == "uploading":
            blobs.abort_multipart(upload.key, upload.s3UploadId)
            media = store.get_media(upload.id)
            if media is not None and media.status == "uploading":
                store.delete_media(upload.id)
                store.return_quota(upload.userId, upload.id)
            aborted += 1
        store.delete_upload(upload.id)
        expired += 1
    # Multipart uploads S3 still holds whose record is gone (the TTL index ran first) or closed.
    for pending in blobs.multipart_uploads("media/"):
        if pending.initiated > now - grace:
            continue
        media_id = pending.key.split("/")[2] if pending.key.count("/") >= 3 else None
        upload = store.get_upload(media_id) if media_id else None
        media = store.get_media(media_id) if media_id and upload is None else None
        if media is not None and media.createdAt > now - grace:
            continue  # (its record is written just after S3 opens the upload; moto dates every upload 2010)
        if upload is None or upload.status != "uploading":
            blobs.abort_multipart(pending.key, pending.upload_id)
            aborted += 1
    # Objects without a live media document (a refused file is deleted at once; this catches the rest).
    seen: dict[str, bool] = {}
    for key in blobs.keys("media/"):
        parts = key.split("/")
        if len(parts) < 4:
            continue
        media_id = parts[2]
        if media_id not in seen:
            media = store.get_media(media_id)
            # (a deleted file's objects wait for the purge and its grace: pipelines.lifecycle)
            seen[media_id] = media is not None and (media.purgeQueuedAt is not None or (
                media.status not in ("failed", "quarantined") and not media.isDeleted))
        if not seen[media_id]:
            blobs.delete(key)
            orphans += 1
        if len(seen) >= limit * 10:
            break
    return {"aborted": aborted, "expiredRecords": expired, "orphanObjects": orphans}
