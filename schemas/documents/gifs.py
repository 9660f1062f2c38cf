"""GIFs (seed 002's GIF picker, contract v3): what a search showed a user, kept so that a send can only
copy a GIF this user was offered."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

GifProvider = Literal["giphy", "tenor", "library"]
GifMime = Literal["image/gif", "image/webp", "video/mp4"]


class GifOffer(BaseModel):
    """One GIF of a search or trending answer, remembered per user for GIF_OFFER_TTL_SECONDS
    (pipelines.gifs.offers). ``id`` is what the client sees and sends back (``message:send {gif: {id}}``):
    the provider's name and its own id, ``"giphy:<id>"``, ``"tenor:<id>"`` or ``"library:<mediaId>"``."""
    id: str
    provider: GifProvider
    title: str = ""
    width: int
    height: int
    previewUrl: str               # the provider's still or small preview, fetched by this server only
    mediaUrl: str | None = None   # the provider's file to copy into S3 (None for a library GIF)
    mime: GifMime = "image/gif"
    size: int | None = None       # bytes, as the provider declares them (checked against what arrives)
    mediaId: str | None = None    # a library GIF: the group's stored file
