"""What a file is: the types accepted and the container each must be (data), sniffing its first bytes,
and the refusal every check of a file raises (``MediaRefused``).

Like the rest of the work on the bytes (``images``, ``strip``, ``probe``), nothing here touches S3,
MongoDB or Celery: functions take bytes, a binary file-like or a path and return plain data, so that they
run in any process (everything is module-level and picklable; no module state changes after import).
Facts and measurements: docs/media.md, section "Processing".
"""
from __future__ import annotations

import codecs
import io
import os
from contextlib import contextmanager
from typing import IO, Iterator, Union

import puremagic


Source = Union[bytes, bytearray, memoryview, str, os.PathLike, IO[bytes]]


class MediaRefused(Exception):
    """A refusal the uploader must see: `code` is one of REFUSAL_CODES, `message` is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(code, message)   # args = (code, message): survives pickling across a process pool
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


REFUSAL_CODES = ("unsupported_type", "type_mismatch", "too_many_pixels", "corrupt_file",
                 "size_mismatch", "upload_expired",   # these two: pipelines.media's S3 checks
                 "invalid_gif", "gif_unavailable")    # a GIF copy's (pipelines.media.remote)

# What a GIF send may copy (contract v3): the types GIF providers serve, each by its magic bytes.
GIF_TYPES = ("image/gif", "image/webp", "video/mp4")


_OOXML = "application/vnd.openxmlformats-officedocument"
_ODF = "application/vnd.oasis.opendocument"


# declared MIME type (lower case, without parameters) -> fileType
ALLOWED: dict[str, str] = {
    "image/jpeg": "image", "image/png": "image", "image/gif": "image", "image/webp": "image",
    "video/mp4": "video", "video/webm": "video", "video/quicktime": "video",
    "audio/ogg": "audio", "audio/opus": "audio",
    "audio/webm": "audio",                                   # what MediaRecorder records in Chrome/Firefox
    "audio/mpeg": "audio", "audio/mp3": "audio",
    "audio/mp4": "audio", "audio/x-m4a": "audio", "audio/aac": "audio",
    "audio/wav": "audio", "audio/x-wav": "audio", "audio/wave": "audio",
    "application/pdf": "document",
    "text/plain": "document", "text/csv": "document", "text/markdown": "document",
    "image/svg+xml": "document",                             # an attachment: never opened, never rendered
    "application/zip": "document", "application/x-zip-compressed": "document",
    "application/msword": "document", "application/vnd.ms-excel": "document",
    "application/vnd.ms-powerpoint": "document", "application/rtf": "document",
    f"{_OOXML}.wordprocessingml.document": "document",
    f"{_OOXML}.spreadsheetml.sheet": "document",
    f"{_OOXML}.presentationml.presentation": "document",
    f"{_ODF}.text": "document", f"{_ODF}.spreadsheet": "document", f"{_ODF}.presentation": "document",
}


# declared MIME type -> the container its bytes must be; types of one container legitimately overlap
# (a WebM declared as audio or video, an MP4 that is an .m4a, Ogg holding Opus, a .docx that is a zip).
# "text" and "svg" have no magic and are checked as text (see check_declared).
CONTAINER: dict[str, str] = {
    "image/jpeg": "jpeg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
    "video/webm": "matroska", "audio/webm": "matroska",
    "video/mp4": "isobmff", "video/quicktime": "isobmff", "audio/mp4": "isobmff", "audio/x-m4a": "isobmff",
    "audio/aac": "isobmff",
    "audio/ogg": "ogg", "audio/opus": "ogg",
    "audio/mpeg": "mp3", "audio/mp3": "mp3",
    "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav",
    "application/pdf": "pdf",
    "text/plain": "text", "text/csv": "text", "text/markdown": "text",
    "image/svg+xml": "svg",
    "application/zip": "zip", "application/x-zip-compressed": "zip",
    f"{_OOXML}.wordprocessingml.document": "zip", f"{_OOXML}.spreadsheetml.sheet": "zip",
    f"{_OOXML}.presentationml.presentation": "zip",
    f"{_ODF}.text": "zip", f"{_ODF}.spreadsheet": "zip", f"{_ODF}.presentation": "zip",
    "application/msword": "ole2", "application/vnd.ms-excel": "ole2", "application/vnd.ms-powerpoint": "ole2",
    "application/rtf": "rtf",
}


# puremagic's names -> ours (it says application/ogg, audio/wave, video/webm for any WebM, ...)
_MAGIC_ALIASES = {
    "application/ogg": "audio/ogg", "audio/x-wav": "audio/wav", "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav", "audio/mp3": "audio/mpeg", "audio/x-m4a": "audio/mp4",
    "application/x-zip-compressed": "application/zip", "text/rtf": "application/rtf",
    "application/x-ole-storage": "application/msword", "application/vnd.ms-office": "application/msword",
}
_EXTENSIONS = {".m4a": "audio/mp4", ".mov": "video/quicktime", ".opus": "audio/ogg", ".ogg": "audio/ogg",
               ".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".zip": "application/zip"}
_ISO_BRANDS = {b"M4A ": "audio/mp4", b"M4B ": "audio/mp4", b"qt  ": "video/quicktime"}
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def normalize_mime(mime: str) -> str:
    """`audio/webm;codecs=opus` -> `audio/webm` (MediaRecorder's Blob.type carries codec parameters)."""
    return mime.split(";", 1)[0].strip().lower()


def file_type(mime: str) -> str:
    """image, video, audio or document; MediaRefused("unsupported_type") for anything not in ALLOWED."""
    kind = ALLOWED.get(normalize_mime(mime or ""))
    if kind is None:
        raise MediaRefused("unsupported_type", f"files of type {mime or 'unknown'!r} are not accepted")
    return kind


@contextmanager
def open_binary(src: Source) -> Iterator[IO[bytes]]:
    """A seekable binary file for bytes, a path or a file-like (a caller's file is left open)."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        yield io.BytesIO(bytes(src))
    elif isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            yield f
    else:
        yield src


def read_all(src: Source) -> bytes:
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src)
    with open_binary(src) as f:
        f.seek(0)
        return f.read()


def sniff(head: bytes) -> str | None:
    """The allowed MIME type the magic bytes say (first 4 KiB are plenty), or None.

    puremagic names the container; ISO-BMFF is refined by its major brand (M4A/qt). Text formats have no
    magic and give None (check_declared checks them as text).
    """
    if not head:
        return None
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        matches = []
    for m in matches:
        mime = _MAGIC_ALIASES.get(m.mime_type, m.mime_type) or _EXTENSIONS.get(m.extension, "")
        if mime in ALLOWED and CONTAINER[mime] not in ("text", "svg"):
            if CONTAINER[mime] == "isobmff" and head[4:8] == b"ftyp":
                return _ISO_BRANDS.get(head[8:12], "video/mp4")
            return mime
    if head[4:8] in _QUICKTIME_ATOMS:          # old QuickTime files start with an atom other than ftyp
        return "video/quicktime"
    return None


def _utf8_text(head: bytes) -> str | None:
    """The head decoded, if it is UTF-8 without NUL (a multi-byte character cut at the end is fine)."""
    if b"\x00" in head:
        return None
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None


def check_declared(declared: str, head: bytes) -> None:
    """Refuse (type_mismatch) bytes that are not the declared type; unsupported_type if not allowed at all."""
    file_type(declared)
    mime = normalize_mime(declared)
    container = CONTAINER[mime]
    if container in ("text", "svg"):
        text = _utf8_text(head)
        ok = text is not None
        if ok and container == "svg":
            start = text.lstrip("\ufeff \t\r\n")
            ok = start.startswith(("<?xml", "<svg", "<!DOCTYPE svg", "<!--"))
        if not ok:
            raise MediaRefused("type_mismatch", f"this file is not {mime} text")
        return
    sniffed = sniff(head)
    if sniffed is None or CONTAINER[sniffed] != container:
        raise MediaRefused("type_mismatch", f"declared {mime} but the file is {sniffed or 'something else'}")


def check_gif(declared: str, head: bytes) -> None:
    """A GIF copy's bytes: GIF, WebP or MP4 by their magic, and the type the provider declared; otherwise
    ``invalid_gif`` (a file that is not what the provider said)."""
    sniffed = sniff(head)
    if declared not in GIF_TYPES or sniffed != declared:
        raise MediaRefused("invalid_gif", f"the provider said {declared} but sent {sniffed or 'something else'}")
