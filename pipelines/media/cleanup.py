"""The media clean-up (beat): abandoned multipart uploads aborted, expired upload records dropped, and the
objects under media/ that no live record points to deleted."""
from __future__ import annotations

from datetime import timedelta

from infra.blobs import Blobs
from infra.storage import Store
from schemas.common import utcnow


def do_cleanup(store: Store, blobs: Blobs, *, now=None, grace: timedelta = timedelta(hours=1),
               limit: int = 500) -> dict[str, int]:
    """Abort abandoned multipart uploads, drop expired upload records (and their never-completed media),
    and delete what S3 holds under media/ that no live record points to."""
    now = now or utcnow()
    aborted = expired = orphans = 0
    for upload in store.media.expired_uploads(now, limit):
        if upload.status == "uploading":
            blobs.abort_multipart(upload.key, upload.s3UploadId)
            media = store.media.get_media(upload.id)
            if media is not None and media.status == "uploading":
                store.media.delete_media(upload.id)
                store.media.return_quota(upload.userId, upload.id)
            aborted += 1
        store.media.delete_upload(upload.id)
        expired += 1
    # Multipart uploads S3 still holds whose record is gone (the TTL index ran first) or closed.
    for pending in blobs.multipart_uploads("media/"):
        if pending.initiated > now - grace:
            continue
        media_id = pending.key.split("/")[2] if pending.key.count("/") >= 3 else None
        upload = store.media.get_upload(media_id) if media_id else None
        media = store.media.get_media(media_id) if media_id and upload is None else None
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
            media = store.media.get_media(media_id)
            # (a deleted file's objects wait for the purge and its grace: pipelines.lifecycle)
            seen[media_id] = media is not None and (media.purgeQueuedAt is not None or (
                media.status not in ("failed", "quarantined") and not media.isDeleted))
        if not seen[media_id]:
            blobs.delete(key)
            orphans += 1
        if len(seen) >= limit * 10:
            break
    return {"aborted": aborted, "expiredRecords": expired, "orphanObjects": orphans}
