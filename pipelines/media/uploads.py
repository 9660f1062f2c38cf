"""Resumable uploads straight to S3, the web side: create (membership, type, size, quota), the parts'
presigned URLs, what S3 holds (to resume), complete (which queues the file's processing) and cancel.

The bytes never pass through the web process, Redis or a queue. The web side creates the S3 multipart
upload and hands out presigned part URLs; the browser PUTs the parts to S3 itself (several at a time), and
asks S3's ``ListParts`` (through us) which parts it holds to resume. ``complete`` queues
``media.process(mediaId)`` (``pipelines.media.job``).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from infra.blobs import Blobs, download_name
from infra.storage import Store
from pipelines.media import filetypes
from pipelines.policy.access import check_owner
from pipelines.policy.gate import Gate
from schemas.common import iso, new_id, utcnow
from schemas.documents import Media, SenderInfo, Upload, User
from schemas.errors import ApiError, Code
from schemas.payloads import UploadCreate

log = logging.getLogger(__name__)


PART_SIZE = 8 << 20          # S3's minimum is 5 MiB (but for the last part); 8 MiB x 10,000 parts = 78 GiB
MAX_PARTS = 10_000


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    quota_bytes: int
    upload_ttl: timedelta
    presign_seconds: int


def do_create_upload(store: Store, blobs: Blobs, limits: Limits, user: User, request: UploadCreate,
                     gate: Gate | None = None) -> dict[str, Any]:
    """Check membership, type, size and quota, then open the S3 multipart upload and its records. The file
    and its name will be in front of the conversation (its gallery): the write gate admits it (member, not
    banned, not muted) and screens the name."""
    gate = gate or Gate(store)
    media_id = new_id()
    admitted = gate.conversation(user, request.convId, "upload")
    screened = gate.screen(admitted, {"filename": request.filename}, media_id)
    conv = store.conversations.get_conversation(request.convId)
    mime = filetypes.normalize_mime(request.mimeType)
    try:
        file_type = filetypes.file_type(mime)
    except filetypes.MediaRefused as exc:
        raise ApiError(Code.UNSUPPORTED_TYPE, exc.message) from None
    if request.size > limits.max_upload_bytes:
        raise ApiError(Code.FILE_TOO_LARGE, f"the file is {request.size} bytes; the limit is {limits.max_upload_bytes}",
                       {"size": request.size, "limit": limits.max_upload_bytes})
    part_size = max(PART_SIZE, math.ceil(request.size / MAX_PARTS))
    now = utcnow()
    if not store.media.reserve_quota(user.id, media_id, request.size, limits.quota_bytes):
        raise ApiError(Code.QUOTA_EXCEEDED, f"this file would take your files past {limits.quota_bytes} bytes",
                       {"quota": limits.quota_bytes})
    key = f"media/{conv.id}/{media_id}/original"
    try:
        upload_id = blobs.create_multipart(key, mime)
    except Exception:
        store.media.return_quota(user.id, media_id)
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
        store.media.insert_upload(upload, media)
    except Exception:
        store.media.return_quota(user.id, media_id)   # never held (a file record written before the failure: swept)
        raise
    gate.opened(screened)
    return {"id": media_id, "partSize": part_size, "partCount": part_count, "expiresAt": iso(upload.expiresAt)}


def _safe_filename(name: str) -> str:
    """The name to show and download as: the last part of a path (some browsers send ``C:\\...\\a.jpg``),
    with ``download_name``'s rules (no control or format character, separator, or leading dot)."""
    return download_name(name.replace("\\", "/").rsplit("/", 1)[-1])


def _own_upload(store: Store, user: User, upload_id: str, *, open_only: bool = True) -> Upload:
    upload = store.media.get_upload(upload_id)
    if upload is None:
        raise ApiError(Code.NOT_FOUND, f"no upload {upload_id} (or it expired)")
    check_owner(store, user, "upload", upload_id, upload.userId, "only the uploader can do this",
                reason="not the uploader")
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
    if store.media.close_upload(upload_id, "completed", utcnow()) is None:
        raise ApiError(Code.ALREADY_COMPLETED, "this upload was already completed or cancelled")
    store.media.update_media(upload_id, {"status": "processing", "updatedAt": utcnow()})
    try:
        enqueue_process(upload_id)
    except Exception:  # noqa: BLE001 - the upload is complete; the sweeper queues its processing (sweeper.py)
        log.warning("media %s: could not queue its processing; the sweeper will", upload_id, exc_info=True)
    return {"id": upload_id, "status": "processing"}


def do_cancel_upload(store: Store, blobs: Blobs, user: User, upload_id: str) -> None:
    upload = _own_upload(store, user, upload_id)
    if store.media.close_upload(upload_id, "cancelled", utcnow()) is None:
        raise ApiError(Code.ALREADY_COMPLETED, "this upload was already completed or cancelled")
    blobs.abort_multipart(upload.key, upload.s3UploadId)
    store.media.delete_media(upload_id)
    store.media.return_quota(user.id, upload_id)
