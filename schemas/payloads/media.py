"""Uploads and media (contract v2): upload requests, albums, comments, captions and the gallery's query."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, StringConstraints

from schemas.common import Id, Title
from schemas.errors import ApiError, Code
from schemas.payloads.base import IdPage, Payload, parse_id_page

Filename = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
# "audio/webm;codecs=opus" (what MediaRecorder says) is accepted; the parameters are dropped.
MimeType = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=127,
                                            pattern=r"^[a-z0-9.+-]+/[a-z0-9.+-]+(\s*;.*)?$")]


class UploadCreate(Payload):
    convId: Id
    filename: Filename
    size: int = Field(ge=1)
    mimeType: MimeType


class PartUrls(Payload):
    parts: list[int] = Field(min_length=1, max_length=100)


class AlbumCreate(Payload):
    name: Title
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class AlbumAdd(Payload):
    mediaId: Id


class CommentCreate(Payload):
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class CaptionUpdate(Payload):
    """PATCH /api/media/{mediaId} (the uploader): the file's caption; "" removes it."""
    caption: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


def parse_gallery_query(args: Mapping[str, str]) -> tuple[str | None, IdPage]:
    page = parse_id_page(args, {"type"})
    kind = args.get("type") or None
    if kind is not None and kind not in ("image", "video", "audio", "document"):
        raise ApiError(Code.INVALID_PAYLOAD, f"type must be image, video, audio or document, got {kind!r}")
    return kind, page
