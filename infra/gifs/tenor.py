"""Tenor's API v2 (developers.google.com/tenor/guides/endpoints): ``/v2/search`` and ``/v2/featured``. Each
result has ``media_formats`` (``gif``, ``tinygif``, ``mp4``, ``webp``, ...), each ``{url, dims: [w, h],
size}``; the content rating is ``contentfilter`` (high, medium, low, off)."""
from __future__ import annotations

from typing import Any

from infra.gifs.base import ApiProvider, Rendition, choose_file, first, number, offer
from schemas.documents import GifOffer

MEDIA_HOSTS = ("media.tenor.com", "media1.tenor.com", "c.tenor.com")
# Tenor's filter is named by how strict it is; a group's rating by the most it allows.
CONTENT_FILTER = {"g": "high", "pg": "medium", "pg-13": "low", "r": "off"}
FILE_FORMATS = {"webp": "image/webp", "mp4": "video/mp4", "gif": "image/gif", "mediumgif": "image/gif",
                "tinywebp": "image/webp", "tinymp4": "video/mp4", "tinygif": "image/gif"}
PREVIEW_FORMATS = {"tinywebp": "image/webp", "tinygif": "image/gif", "nanogif": "image/gif",
                   "gifpreview": "image/png"}


def _rendition(formats: dict[str, Any], name: str, mime: str) -> Rendition | None:
    fmt = formats.get(name)
    if not isinstance(fmt, dict) or not isinstance(fmt.get("url"), str) or not fmt["url"]:
        return None
    dims = fmt.get("dims") if isinstance(fmt.get("dims"), list) and len(fmt["dims"]) == 2 else (0, 0)
    return Rendition(fmt["url"], mime, number(dims[0]) or 0, number(dims[1]) or 0, number(fmt.get("size")))


def to_offer(item: dict[str, Any], max_bytes: int) -> GifOffer | None:
    """One result, or None when it has no usable file or preview."""
    formats = item.get("media_formats") if isinstance(item.get("media_formats"), dict) else {}
    files = [r for name, mime in FILE_FORMATS.items() if (r := _rendition(formats, name, mime)) is not None]
    chosen = choose_file(files, max_bytes)
    preview = first([_rendition(formats, name, mime) for name, mime in PREVIEW_FORMATS.items()])
    return offer("tenor", item.get("id"), str(item.get("title") or item.get("content_description") or ""), chosen,
                 preview)


class Tenor(ApiProvider):
    name = "tenor"
    media_hosts = MEDIA_HOSTS
    key_param = "key"
    list_key = "results"

    def to_offer(self, item: dict[str, Any], max_bytes: int) -> GifOffer | None:
        return to_offer(item, max_bytes)

    def search(self, q: str, limit: int, rating: str, lang: str) -> list[GifOffer]:
        return self._gifs("/v2/search", {"q": q, "limit": limit, "contentfilter": CONTENT_FILTER.get(rating, "high"),
                                         "locale": lang})

    def trending(self, limit: int, rating: str) -> list[GifOffer]:
        return self._gifs("/v2/featured", {"limit": limit, "contentfilter": CONTENT_FILTER.get(rating, "high")})
