"""Files attached to messages (the message path): what a send may carry, the message's type, and the
message recorded on each file."""
from __future__ import annotations

from typing import Any

from infra.storage import Store
from pipelines.events import Notifier
from schemas.common import utcnow
from schemas.documents import User
from schemas.errors import ApiError, Code


def check_attachments(store: Store, user: User, conv_id: str, media_ids: list[str]) -> None:
    """A send may carry only the sender's own files of that conversation, not failed nor deleted ones."""
    found = store.media.media_by_ids(media_ids)
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
    if any(f.get("gif") for f in files):   # a GIF send (contract v3), whether GIF, WebP or MP4
        return "media"
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
        media = store.media.attach_message(media_id, message.id)
        if media is not None:
            current.append(media.summary())
    if current != (message.metadata.files or []):
        changed = store.messages.set_message_files(message.id, current, utcnow())
        if changed is not None:
            notifier.notify_message_updated(changed)
