"""The renditions made of an image and how each is encoded: a table, as in Zulip's thumbnailing, not code."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rendition:
    name: str
    max_side: int          # longest side in pixels after orientation; never upscaled


@dataclass(frozen=True)
class Encoding:
    pil_format: str
    mime_type: str
    params: tuple          # Pillow save() keyword arguments, as (name, value) pairs (hashable, picklable)


RENDITIONS: tuple[Rendition, ...] = (Rendition("small", 320), Rendition("large", 1280))


# WebP method 2: at quality 80 it writes the same bytes count as libwebp's default method 4 in less than
# half the time (methods 3+ add the slow analysis passes); measured in docs/media.md.
ENCODINGS: dict[str, Encoding] = {
    "webp": Encoding("WEBP", "image/webp", (("quality", 80), ("method", 2))),
    "jpeg": Encoding("JPEG", "image/jpeg", (("quality", 82), ("optimize", True), ("progressive", True))),
}
