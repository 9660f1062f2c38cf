"""Giphy's API v1 (developers.giphy.com/docs/api/endpoint): ``/v1/gifs/search`` and ``/v1/gifs/trending``.
Each GIF has renditions under ``images`` (``original``, ``downsized``, ``fixed_width``, ...), each a GIF
``url`` with, for the animated ones, ``webp`` and ``mp4`` files of the same frames; sizes as strings."""
from __future__ import annotations

from typing import Any

from infra.gifs.base import ApiProvider, Rendition, choose_file, first, number, offer
from schemas.documents import GifOffer

# Giphy's media servers (media0..4 and i.giphy.com serve the files; the API answers with them).
MEDIA_HOSTS = ("media.giphy.com", "media0.giphy.com", "media1.giphy.com", "media2.giphy.com",
               "media3.giphy.com", "media4.giphy.com", "i.giphy.com")
FILE_RENDITIONS = ("fixed_width", "fixed_height", "downsized", "downsized_medium", "original")
PREVIEW_RENDITIONS = ("fixed_width_small", "preview_gif", "fixed_width_still", "fixed_width")
RATINGS = ("g", "pg", "pg-13", "r")


def _files(image: dict[str, Any]) -> list[Rendition]:
    width, height = number(image.get("width")) or 0, number(image.get("height")) or 0
    out = []
    for url_key, size_key, mime in (("webp", "webp_size", "image/webp"), ("mp4", "mp4_size", "video/mp4"),
                                    ("url", "size", "image/gif")):
        url = image.get(url_key)
        if isinstance(url, str) and url:
            out.append(Rendition(url, mime, width, height, number(image.get(size_key))))
    return out


def to_offer(item: dict[str, Any], max_bytes: int) -> GifOffer | None:
    """One GIF of an answer, or None when it has no usable file or preview."""
    images = item.get("images") if isinstance(item.get("images"), dict) else {}
    files = [r for name in FILE_RENDITIONS if isinstance(images.get(name), dict) for r in _files(images[name])]
    chosen = choose_file(files, max_bytes)
    previews = [(_files(images[name]) or [None])[0] for name in PREVIEW_RENDITIONS if isinstance(images.get(name), dict)]
    return offer("giphy", item.get("id"), str(item.get("title") or ""), chosen, first(previews))


class Giphy(ApiProvider):
    name = "giphy"
    media_hosts = MEDIA_HOSTS
    key_param = "api_key"
    list_key = "data"

    def to_offer(self, item: dict[str, Any], max_bytes: int) -> GifOffer | None:
        return to_offer(item, max_bytes)

    def search(self, q: str, limit: int, rating: str, lang: str) -> list[GifOffer]:
        return self._gifs("/v1/gifs/search", {"q": q, "limit": limit, "offset": 0, "rating": _rating(rating),
                                              "lang": lang})

    def trending(self, limit: int, rating: str) -> list[GifOffer]:
        return self._gifs("/v1/gifs/trending", {"limit": limit, "rating": _rating(rating)})


def _rating(rating: str) -> str:
    return rating if rating in RATINGS else "g"
