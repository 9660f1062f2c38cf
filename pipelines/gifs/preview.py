"""The preview proxy (``GET /api/gifs/preview/<token>``): a provider's preview, fetched by this server and
served to members, so that browsers never contact the provider. Only URLs a search registered are served
(pipelines.gifs.search), only from the provider's media hosts (the fetcher), only when the bytes are an
image or video of a known kind (their type is read from the bytes, never taken from the provider), and
the bytes are kept in Redis for GIF_CACHE_SECONDS, each at most GIF_PREVIEW_MAX_BYTES."""
from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from infra.gifs import FetchRefused
from pipelines.gifs.search import GifConfig, preview_url
from schemas.errors import ApiError, Code


@dataclass(frozen=True)
class Preview:
    data: bytes
    content_type: str
    max_age: int     # seconds a browser may keep it (private)


def sniff(data: bytes) -> str | None:
    """The media type the bytes are, among those a preview may be; None for anything else."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return None


def _bytes_key(token: str) -> str:
    return f"gif:preview:bytes:{token}"


def serve_preview(redis: Redis, config: GifConfig, token: str) -> Preview:
    """The preview registered under ``token``: 404 ``not_found`` for a token no search produced; the
    fetcher's refusals as their codes (``invalid_gif`` 400, ``gif_unavailable`` 502)."""
    max_age = max(config.cache_seconds, 60)
    cached = redis.hgetall(_bytes_key(token)) if config.cache_seconds else {}
    if cached:
        return Preview(cached[b"data"], cached[b"type"].decode(), max_age)
    url = preview_url(redis, token)
    if url is None:
        raise ApiError(Code.NOT_FOUND, "no such GIF preview (previews are served only for a search's results)")
    try:
        fetched = config.fetch.fetch(url, max_bytes=config.preview_max_bytes)
    except FetchRefused as refused:
        raise ApiError(Code(refused.code), f"the GIF preview could not be fetched: {refused.message}") from None
    content_type = sniff(fetched.data)
    if content_type is None:
        raise ApiError(Code.INVALID_GIF, "the GIF provider's preview is not an image")
    if config.cache_seconds:
        pipe = redis.pipeline()
        pipe.hset(_bytes_key(token), mapping={"data": fetched.data, "type": content_type})
        pipe.expire(_bytes_key(token), config.cache_seconds)
        pipe.execute()
    return Preview(fetched.data, content_type, max_age)
