"""GIFs copied into S3 (``message:send {gif: {id}}``, contract v3): the file record a GIF send creates on the
web side, and, in the media job, the copy that takes the place of an upload's completion: the provider's file
fetched through the SSRF-safe fetcher (``infra.gifs.fetch``: the provider's media hosts only, bounded size
and time), or a group's stored file copied inside S3 (a library GIF). The steps after it are an upload's:
verification, scan, metadata, a still thumbnail.

A message never points at the provider: once copied, the provider deleting its file changes nothing."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from infra.blobs import Blobs, download_name
from infra.gifs import FetchPolicy
from infra.gifs.fetch import FetchRefused
from infra.storage import Store
from pipelines.gifs.offers import find_offer
from pipelines.media.filetypes import GIF_TYPES, MediaRefused, check_gif, file_type
from pipelines.media.step_calls import HEAD_BYTES
from schemas.common import new_id, utcnow
from schemas.documents import GifOffer, Media, MediaGif, MediaSource, SenderInfo, Step, User
from schemas.errors import ApiError, Code

log = logging.getLogger(__name__)

EXTENSIONS = {"image/gif": "gif", "image/webp": "webp", "video/mp4": "mp4"}
SEND_KEY_SECONDS = 24 * 3600   # how long a send's clientId keeps naming its file (a retry reuses it)


class RemoteUnavailable(Exception):
    """The provider failed for now (timeout, 5xx, connection): the task retries (workers/reliability.py),
    at most ``RemoteFetch.attempts`` fetches in all; then the file is refused ``gif_unavailable``."""


@dataclass(frozen=True)
class GifLimits:
    """The web side's bounds on a GIF send: the largest file copied, the sender's quota."""
    max_bytes: int
    quota_bytes: int


@dataclass(frozen=True)
class RemoteFetch:
    """The media worker's fetching: per provider, how its files may be fetched (its media hosts and the
    bounds: the SSRF-safe fetcher's rules), how many fetches a file gets, and the senders' quota."""
    providers: dict[str, FetchPolicy]
    attempts: int = 3
    quota_bytes: int = 2 << 30


# -- the web side: a send's file --------------------------------------------------------------------------
def do_create_gif_media(store: Store, redis: Redis, limits: GifLimits, user: User, conv: tuple[str, str],
                        gif_id: str, client_id: str) -> tuple[Media, bool]:
    """The file a GIF send carries, in status ``processing`` (its copy is queued by the caller once the
    message is queued), and whether it was made now: a retry of the same send (same ``clientId``) gets the
    file its first attempt made. ``conv``: the conversation's id and its group's. Refuses ``invalid_gif``
    (never offered to this user, or a library file no longer theirs to read) and ``quota_exceeded``;
    nothing is written then."""
    offer = find_offer(redis, user.id, gif_id)
    if offer is None:
        raise ApiError(Code.INVALID_GIF, f"{gif_id} is not a GIF a search of yours showed (or the offer expired): "
                                         "search again")
    conv_id = conv[0]
    sent = redis.get(_send_key(user.id, conv_id, client_id))
    earlier = store.media.get_media(sent.decode() if isinstance(sent, bytes) else sent) if sent else None
    if earlier is not None and earlier.source is not None and earlier.source.id == gif_id:
        return earlier, False
    media = _gif_media(store, user, conv, offer, limits)
    if not store.media.reserve_quota(user.id, media.id, media.fileSize, limits.quota_bytes):
        raise ApiError(Code.QUOTA_EXCEEDED, f"this GIF would take your files past {limits.quota_bytes} bytes",
                       {"quota": limits.quota_bytes})
    try:
        store.media.insert_media(media)
    except Exception:
        store.media.return_quota(user.id, media.id)
        raise
    redis.set(_send_key(user.id, conv_id, client_id), media.id, ex=SEND_KEY_SECONDS)
    return media, True


def do_drop_gif_media(store: Store, redis: Redis, media: Media, client_id: str) -> None:
    """Undo ``do_create_gif_media`` when the send could not be queued (nothing was copied yet)."""
    store.media.delete_media(media.id)
    store.media.return_quota(media.uploadedBy, media.id)
    try:
        redis.delete(_send_key(media.uploadedBy, media.convId, client_id))
    except RedisError:   # Redis away (often why the send failed): a retry finds the file gone and makes another
        log.warning("media %s: its send key stays until it expires (Redis away)", media.id)


def _send_key(user_id: str, conv_id: str, client_id: str) -> str:
    return f"gif:sent:{user_id}:{conv_id}:{client_id}"


def _gif_media(store: Store, user: User, conv: tuple[str, str], offer: GifOffer, limits: GifLimits) -> Media:
    (conv_id, group_id), media_id, now = conv, new_id(), utcnow()
    source = MediaSource(provider=offer.provider, id=offer.id, url=offer.mediaUrl, mediaId=offer.mediaId)
    mime, size, dims = offer.mime, offer.size or limits.max_bytes, {"width": offer.width, "height": offer.height}
    if offer.provider == "library":
        stored = check_library_file(store, user, group_id, offer.mediaId)
        mime, size = stored.mimeType, stored.fileSize
        dims = stored.metadata.get("dimensions") or dims
    elif not offer.mediaUrl:
        raise ApiError(Code.INVALID_GIF, f"{offer.id} has no file to copy")
    elif size > limits.max_bytes:
        raise ApiError(Code.INVALID_GIF, f"this GIF is {size} bytes; the limit is {limits.max_bytes}")
    name = gif_filename(offer.title, mime)
    return Media(id=media_id, convId=conv_id, groupId=group_id, uploadedBy=user.id,
                 uploaderInfo=SenderInfo.of(user), filename=name, originalFilename=name, mimeType=mime,
                 fileType=file_type(mime), fileSize=size, status="processing", metadata={"dimensions": dims},
                 source=source, gif=MediaGif(provider=offer.provider, title=offer.title[:200]),
                 key=f"media/{conv_id}/{media_id}/original", createdAt=now, updatedAt=now)


def gif_filename(title: str, mime: str) -> str:
    """``a-dancing-cat.gif``: the title's words, safe to show and download as."""
    stem = "-".join(re.findall(r"\w+", title.lower()))[:80].strip("-_") or "gif"
    return download_name(f"{stem}.{EXTENSIONS[mime]}")


def check_library_file(store: Store, user: User, group_id: str, media_id: str | None) -> Media:
    """A library GIF may be copied while its file is ready, not deleted, a GIF, WebP or MP4 of the same
    group, in a conversation the sender still reads; ``invalid_gif`` otherwise."""
    stored = store.media.get_media(media_id) if media_id else None
    if stored is None or stored.isDeleted or stored.status != "ready" or stored.groupId != group_id \
            or stored.mimeType not in GIF_TYPES \
            or store.conversations.get_conversation_member(stored.convId, user.id) is None:
        raise ApiError(Code.INVALID_GIF, "this GIF of the group's library is no longer available to you")
    return stored


# -- the worker side: the copy ----------------------------------------------------------------------------
def step_copy(io: Any, media: Media) -> tuple[Step, dict]:
    """The first step of a GIF's processing (``io``: the job's ``Processing``, not imported: the job imports
    this module): its bytes into S3 at the file's key, its size and quota settled. Refusals:
    ``invalid_gif`` (a host outside the provider's, a redirect elsewhere, too large, not the declared type,
    a library file gone), ``gif_unavailable`` once the provider failed ``attempts`` times (before that:
    ``RemoteUnavailable``, retried), ``quota_exceeded`` (the bytes, once known, pass the quota)."""
    source = media.source
    if source.provider == "library":
        size = _copy_library(io, media)
    else:
        size = _fetch_remote(io, media)
    if size != media.fileSize:   # the reservation was the offer's word (or the largest allowed): now the bytes
        io.store.media.return_quota(media.uploadedBy, media.id)
        quota = io.remote.quota_bytes   # (a library copy has its exact size from the start: never here)
        if not io.store.media.reserve_quota(media.uploadedBy, media.id, size, quota):
            raise MediaRefused("quota_exceeded", f"this GIF would take your files past {quota} bytes")
    return Step(status="done", at=utcnow(), result=f"copied from {source.provider}"), {"fileSize": size}


def _copy_library(io: Any, media: Media) -> int:
    stored = io.store.media.get_media(media.source.mediaId or "")
    if stored is None or stored.isDeleted or stored.status != "ready" or stored.groupId != media.groupId:
        raise MediaRefused("invalid_gif", "the library's file was deleted before it could be copied")
    io.executor.run_cpu(copy_stored, io.blobs, stored.key, media.key)
    return stored.fileSize


def _fetch_remote(io: Any, media: Media) -> int:
    remote, source = io.remote, media.source
    if remote is None or source.provider not in remote.providers or not source.url:
        raise MediaRefused("gif_unavailable", f"this server copies no GIF from {source.provider}")
    try:
        return io.executor.run_cpu(fetch_into, io.blobs, remote.providers[source.provider], media.key, source.url,
                                   media.mimeType)
    except MediaRefused as exc:
        if exc.code != "gif_unavailable" or source.attempts + 1 >= remote.attempts:
            raise
        io.store.media.update_media(media.id, {"source.attempts": source.attempts + 1, "updatedAt": utcnow()})
        raise RemoteUnavailable(exc.message) from None


def fetch_into(blobs: Blobs, fetcher: FetchPolicy, key: str, url: str, mime: str) -> int:
    """The copy's work as one CPU call (the bytes go from the provider to S3 in the process doing it, never
    through the web process's loop): fetch, check the bytes are the declared type, store; the size."""
    try:
        got = fetcher.fetch(url)
    except FetchRefused as exc:
        raise MediaRefused(exc.code, exc.message) from None
    check_gif(mime, got.data[:HEAD_BYTES])
    blobs.put_bytes(key, got.data, mime)
    return len(got.data)


def copy_stored(blobs: Blobs, source_key: str, key: str) -> None:
    """A library GIF's copy, inside S3 (one CPU call: botocore's request is Python work)."""
    blobs.copy(source_key, key)


REFUSED_AS_GIF = ("type_mismatch", "corrupt_file", "unsupported_type")


def refusal_code(media: Media, code: str) -> str:
    """A copied GIF that is not the file it claims to be is ``invalid_gif``, whichever check found it."""
    return "invalid_gif" if media.source is not None and code in REFUSED_AS_GIF else code
