"""What members do with a conversation's files: read one and its presigned URL, the gallery, likes,
comments, albums and captions."""
from __future__ import annotations

import os

from infra.blobs import Blobs
from infra.storage import Store
from pipelines.gifs.library import do_index_library
from pipelines.media.uploads import Limits
from pipelines.messages import lifecycle
from pipelines.policy.access import check_conversation_member, check_owner
from pipelines.policy.gate import Admitted, Gate
from schemas.common import new_id, utcnow
from schemas.documents import Album, Media, MediaComment, SenderInfo, User
from schemas.errors import ApiError, Code
from schemas.payloads import AlbumCreate, IdPage


MAX_COMMENTS = 500
SAFE_INLINE = {"image/jpeg", "image/png", "image/gif", "image/webp"}  # shown in the page; all else downloads
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
    media, more = store.media.gallery(conv_id, file_type, before=page.before, limit=page.limit)
    return {"media": [m.public() for m in media], "hasMore": more}


def do_like(store: Store, user: User, media_id: str, add: bool) -> dict:
    media = _member_media(store, user, media_id)
    changed = store.media.like_media(media_id, user.id, utcnow(), add)
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
    changed = store.media.comment_media(media_id, comment.model_dump(), MAX_COMMENTS)
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
    store.media.insert_album(album)
    gate.opened(screened)
    return album


def list_albums(store: Store, user: User, conv_id: str, page: IdPage) -> dict:
    check_conversation_member(store, user, conv_id)
    albums, more = store.media.albums_of(conv_id, before=page.before, limit=page.limit)
    return {"albums": [a.public() for a in albums], "hasMore": more}


def do_add_to_album(store: Store, user: User, album_id: str, media_id: str, gate: Gate | None = None) -> Album:
    album = store.media.get_album(album_id)
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
    updated = store.media.add_to_album(album, media, utcnow())
    if updated is None:
        raise ApiError(Code.CONFLICT, "the file is already in this album")
    return updated


def do_set_caption(store: Store, user: User, media_id: str, caption: str, gate: Gate | None = None) -> Media:
    """The uploader captions their file (an empty caption removes it), through the write gate."""
    gate = gate or Gate(store)
    media, admitted = _gated_media(store, gate, user, media_id, "caption")
    check_owner(store, user, "media", media_id, media.uploadedBy, "only the member who uploaded a file can caption it",
                reason="caption of another member's file")
    gate.count(admitted)
    screened = gate.screen(admitted, {"caption": caption}, media_id)
    text = screened.texts["caption"] or None
    updated = store.media.update_media(media_id, {"caption": text, "updatedAt": utcnow()})
    if updated is None:
        raise ApiError(Code.NOT_FOUND, f"no media {media_id}")
    do_index_library(store, updated)   # the GIF library finds an animated file by its caption
    gate.opened(screened)
    return updated
