"""Media processing as pure functions: types, sniffing, image header checks, thumbnails, EXIF stripping, audio/video/PDF facts.

Nothing here touches S3, MongoDB or Celery: every function takes bytes, a binary file-like or a path and
returns plain data, so the media worker can run it in a process pool or an OS thread (everything is
module-level and picklable; no module state changes after import). The rules are data (`ALLOWED`,
`CONTAINER`, `RENDITIONS`, `ENCODINGS`), as in Zulip's thumbnailing. Facts and measurements:
docs/media.md, section "Processing".
"""
from __future__ import annotations

import codecs
import io
import os
import struct
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Iterator, Union

import puremagic
from PIL import Image, ImageCms, UnidentifiedImageError

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
                 "size_mismatch", "upload_expired")   # the last two: pipelines.media's S3 checks

# ---------------------------------------------------------------------------------------------------
# Types as data
# ---------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------
# Renditions as data
# ---------------------------------------------------------------------------------------------------

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
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")   # the only Pillow plugins ever asked to open a file
MAX_PIXELS = 50_000_000                          # width x height x frames, from the header
# Pillow's BICUBIC (a true antialiasing convolution, Image.thumbnail's default): after draft() the big step
# is under 2x, where it is 47 dB PSNR from a full-decode LANCZOS and 30 % cheaper than LANCZOS.
RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 2.0                               # integer reduce() first while the remaining ratio stays >= 2


@dataclass(frozen=True)
class ImageInfo:
    format: str            # Pillow's name: JPEG, PNG, GIF, WEBP
    width: int             # as stored (before EXIF orientation)
    height: int
    frames: int
    animated: bool


@dataclass(frozen=True)
class Variant:
    data: bytes
    width: int
    height: int
    mime_type: str
    size: int


@dataclass(frozen=True)
class Renditions:
    variants: dict[str, Variant]
    dimensions: tuple[int, int]                     # the original's (width, height) after orientation
    exif: dict = field(default_factory=dict)        # camera?, takenAt?, orientation?


# ---------------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------------

@contextmanager
def _binary(src: Source) -> Iterator[IO[bytes]]:
    """A seekable binary file for bytes, a path or a file-like (a caller's file is left open)."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        yield io.BytesIO(bytes(src))
    elif isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            yield f
    else:
        yield src


def _read_all(src: Source) -> bytes:
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src)
    with _binary(src) as f:
        f.seek(0)
        return f.read()


# ---------------------------------------------------------------------------------------------------
# Sniffing
# ---------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------
# Images: header, bombs
# ---------------------------------------------------------------------------------------------------

def _open_image(f: IO[bytes]) -> Image.Image:
    try:
        return Image.open(f, formats=list(IMAGE_FORMATS))
    except Image.DecompressionBombError as e:   # Pillow's own ceiling (2 x MAX_IMAGE_PIXELS) is above ours
        raise MediaRefused("too_many_pixels", str(e)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as e:
        raise MediaRefused("corrupt_file", f"not a readable JPEG, PNG, GIF or WebP image ({e})") from None


def _header_info(im: Image.Image, max_pixels: int) -> ImageInfo:
    """Frames are counted without decoding (GIF: block walk; APNG: acTL; WebP: the demuxer)."""
    width, height = im.size
    try:
        frames = int(getattr(im, "n_frames", 1) or 1)
    except (OSError, EOFError, ValueError, struct.error) as e:
        raise MediaRefused("corrupt_file", f"unreadable frames ({e})") from None
    if width * height * frames > max_pixels:
        raise MediaRefused("too_many_pixels",
                           f"{width}x{height} x {frames} frame(s) is over {max_pixels:,} pixels")
    return ImageInfo(im.format, width, height, frames, frames > 1)


def image_info(src: Source, *, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Format, size and frames from the header alone; too_many_pixels when width x height x frames > max_pixels."""
    with _binary(src) as f:
        with _open_image(f) as im:
            return _header_info(im, max_pixels)


# ---------------------------------------------------------------------------------------------------
# Images: renditions
# ---------------------------------------------------------------------------------------------------

_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
_TAG_ORIENTATION, _TAG_MAKE, _TAG_MODEL, _TAG_DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
_IFD_EXIF, _TAG_DATETIME_ORIGINAL, _TAG_OFFSET_ORIGINAL = 0x8769, 0x9003, 0x9011
_SRGB = ImageCms.createProfile("sRGB")


def _clean(value, limit: int = 64) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = "".join(ch for ch in value if ch.isprintable()).strip()
    return value[:limit] or None


def _exif_facts(exif: Image.Exif) -> dict:
    """camera ("Make Model"), takenAt (ISO 8601, with the offset when the camera wrote one), orientation."""
    facts: dict = {}
    make, model = _clean(exif.get(_TAG_MAKE)), _clean(exif.get(_TAG_MODEL))
    if model and make and not model.lower().startswith(make.lower()):
        model = f"{make} {model}"
    if model or make:
        facts["camera"] = model or make
    try:
        sub = exif.get_ifd(_IFD_EXIF)
    except Exception:   # a broken sub-IFD is not worth refusing the picture
        sub = {}
    taken = _clean(sub.get(_TAG_DATETIME_ORIGINAL) or exif.get(_TAG_DATETIME), 32)
    if taken and len(taken) >= 19 and taken[4] == ":" and taken[7] == ":":
        iso = f"{taken[0:4]}-{taken[5:7]}-{taken[8:10]}T{taken[11:19]}"
        offset = _clean(sub.get(_TAG_OFFSET_ORIGINAL), 8)
        facts["takenAt"] = iso + (offset if offset and len(offset) == 6 else "")
    orientation = exif.get(_TAG_ORIENTATION)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        facts["orientation"] = orientation
    return facts


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    w, h = size
    if max(w, h) <= max_side:
        return w, h
    scale = max_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Pixels in sRGB, mode RGB or RGBA: an embedded non-sRGB profile (Display P3, Adobe RGB, CMYK) is applied."""
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if "srgb" not in (ImageCms.getProfileDescription(src) or "").lower() and im.mode in ("RGB", "CMYK", "L"):
                return ImageCms.profileToProfile(im, src, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass   # a broken profile: fall back to the plain conversion below
    if im.mode in ("RGB", "RGBA"):
        return im
    return im.convert("RGBA" if im.has_transparency_data else "RGB")


def _resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    if im.size == size:
        return im
    if im.mode == "RGBA":   # resize premultiplied, or transparent pixels bleed dark fringes
        return im.convert("RGBa").resize(size, RESAMPLE, reducing_gap=REDUCING_GAP).convert("RGBA")
    return im.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP)


def _encode(im: Image.Image, enc: Encoding) -> bytes:
    if enc.pil_format == "JPEG" and im.mode == "RGBA":
        flat = Image.new("RGB", im.size, (255, 255, 255))
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    im.info = {}   # nothing of the source's info (exif, icc_profile, xmp, comment) may reach the encoder
    out = io.BytesIO()
    im.save(out, enc.pil_format, **dict(enc.params))
    return out.getvalue()


def make_renditions(src: Source, *, fmt: str = "webp", renditions: tuple[Rendition, ...] = RENDITIONS,
                    max_pixels: int = MAX_PIXELS) -> Renditions:
    """Every rendition from ONE decode: oriented, sRGB, without any metadata, never upscaled.

    JPEG is decoded with draft() at the smallest 1/2, 1/4, 1/8 scale that still covers the largest
    rendition; the largest is resized from that, each smaller one from the one above it. Animated GIF/WebP
    give a still of the first frame.
    """
    enc = ENCODINGS[fmt]
    with _binary(src) as f:
        with _open_image(f) as im:
            _header_info(im, max_pixels)
            try:
                exif = im.getexif()
            except Exception:
                exif = Image.Exif()
            facts = _exif_facts(exif)
            orientation = facts.get("orientation", 1)
            turned = orientation in (5, 6, 7, 8)
            stored = im.size
            shown = (stored[1], stored[0]) if turned else stored
            wanted = sorted(renditions, key=lambda r: r.max_side, reverse=True)
            targets = {r.name: _fit(shown, r.max_side) for r in wanted}
            biggest = targets[wanted[0].name]
            if im.format == "JPEG":
                im.draft("RGB" if im.mode == "RGB" else None, (biggest[1], biggest[0]) if turned else biggest)
            icc = im.info.get("icc_profile")
            try:
                im.load()
                frame = im if im.mode in ("RGB", "RGBA", "L", "CMYK") else im.convert(
                    "RGBA" if im.has_transparency_data else "RGB")
                return _render(frame, orientation, icc, wanted, targets, enc, renditions, shown, facts)
            except (OSError, SyntaxError, ValueError, struct.error, EOFError) as e:
                raise MediaRefused("corrupt_file", f"the image could not be decoded ({e})") from None


def _render(frame, orientation, icc, wanted, targets, enc, renditions, shown, facts) -> Renditions:
    """The largest from the decoded frame (resized as stored, then turned: fewer pixels to turn), then
    each smaller one from the one above it, already oriented and in sRGB."""
    variants: dict[str, Variant] = {}
    current = None
    for r in wanted:
        w, h = targets[r.name]
        if current is None:
            current = _resize(frame, (h, w) if orientation in (5, 6, 7, 8) else (w, h))
            if orientation in _TRANSPOSE:
                current = current.transpose(_TRANSPOSE[orientation])
            current = _to_srgb(current, icc)
        else:
            current = _resize(current, (w, h))
        data = _encode(current, enc)
        variants[r.name] = Variant(data, w, h, enc.mime_type, len(data))
    return Renditions({r.name: variants[r.name] for r in renditions}, shown, facts)


# ---------------------------------------------------------------------------------------------------
# Originals without EXIF/GPS (lossless: segments and chunks are dropped, pixels are never re-encoded)
# ---------------------------------------------------------------------------------------------------

def _orientation_exif(orientation: int) -> bytes:
    """A TIFF block holding only the Orientation tag, so a stripped original still displays upright."""
    exif = Image.Exif()
    exif[_TAG_ORIENTATION] = orientation
    return exif.tobytes()           # b"Exif\0\0" + TIFF


def _jpeg_orientation(app1_payloads: list[bytes]) -> int:
    for payload in app1_payloads:
        if payload.startswith(b"Exif\x00\x00"):
            exif = Image.Exif()
            try:
                exif.load(payload)
            except Exception:
                return 1
            value = exif.get(_TAG_ORIENTATION, 1)
            return value if isinstance(value, int) and 1 <= value <= 8 else 1
    return 1


# APP0 (JFIF), APP2 holding an ICC profile, APP14 (Adobe: how to read the colours) are kept; APP1 (EXIF,
# XMP), APP13 (Photoshop/IPTC), the other APPn and COM go. Everything after the first image's EOI goes too:
# phones append MPF images (depth maps, previews) that carry their own EXIF and GPS.
def _strip_jpeg(data: bytes) -> bytes | None:
    out = [b"\xff\xd8"]
    app1: list[bytes] = []
    dropped = False
    pos = 2
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise MediaRefused("corrupt_file", "broken JPEG segment structure")
        marker = data[pos + 1]
        if marker == 0xFF:                       # fill byte
            pos += 1
            continue
        if marker == 0xDA:                       # start of scan: the rest is image data up to EOI
            end = data.find(b"\xff\xd9", pos)
            end = len(data) if end < 0 else end + 2
            dropped |= end < len(data)
            body = data[pos:end]
            break
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        segment = data[pos:pos + 2 + length]
        payload = segment[4:]
        keep = not (0xE0 <= marker <= 0xEF or marker == 0xFE) or marker == 0xE0 or marker == 0xEE or (
            marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"))
        if marker == 0xE1:
            app1.append(payload)
        if keep:
            out.append(segment)
        else:
            dropped = True
        pos += 2 + length
    if not dropped:
        return None
    orientation = _jpeg_orientation(app1)
    if orientation != 1:
        tiff = _orientation_exif(orientation)
        out.insert(2 if len(out) > 1 and out[1][1] == 0xE0 else 1, b"\xff\xe1" + struct.pack(">H", len(tiff) + 2) + tiff)
    out.append(body)
    return b"".join(out)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}   # XMP travels in iTXt; GPS in eXIf


def _strip_png(data: bytes) -> bytes | None:
    out, pos, dropped = [_PNG_SIGNATURE], 8, False
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        chunk = data[pos:pos + 12 + length]
        if kind in _PNG_DROP:
            dropped = True
        else:
            out.append(chunk)
        pos += 12 + length
        if kind == b"IEND":
            dropped |= pos < len(data)
            break
    return b"".join(out) if dropped else None


_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _strip_webp(data: bytes) -> bytes | None:
    chunks, pos, dropped = [], 12, False
    while pos + 8 <= len(data):
        kind = data[pos:pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4:pos + 8])
        chunk = data[pos:pos + 8 + length + (length & 1)]
        if kind in (b"EXIF", b"XMP "):
            dropped = True
        else:
            chunks.append(chunk)
        pos += 8 + length + (length & 1)
    if not dropped:
        return None
    for i, chunk in enumerate(chunks):
        if chunk[:4] == b"VP8X":
            flags = chunk[8] & ~(_VP8X_EXIF | _VP8X_XMP)
            chunks[i] = chunk[:8] + bytes([flags]) + chunk[9:]
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def strip_original(src: Source) -> bytes | None:
    """The original without EXIF, GPS, XMP or text metadata, or None when it carried none.

    JPEG keeps only an Orientation tag when the picture needs one to display upright; PNG and WebP keep
    their pixels, ICC profile and animation chunks untouched; GIF carries no EXIF (None).
    """
    data = _read_all(src)
    if data.startswith(b"\xff\xd8"):
        return _strip_jpeg(data)
    if data.startswith(_PNG_SIGNATURE):
        return _strip_png(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _strip_webp(data)
    return None


# ---------------------------------------------------------------------------------------------------
# Audio, video, PDF
# ---------------------------------------------------------------------------------------------------

def _open_av(src: Source):
    import av   # imported here: FFmpeg's libraries load only in processes that handle audio/video

    try:
        return av.open(src if not isinstance(src, (bytes, bytearray, memoryview)) else io.BytesIO(bytes(src)),
                       metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise MediaRefused("corrupt_file", f"not a readable audio/video file ({e})") from None


def _duration(container, stream) -> float:
    """The header's duration; without one (MediaRecorder's WebM has none) the end of the last packet, found
    by demuxing the stream: packets are read, never decoded."""
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    start, end = None, None
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        start = packet.pts if start is None else min(start, packet.pts)
        tail = packet.pts + (packet.duration or 0)
        end = tail if end is None else max(end, tail)
    if end is None:
        return 0.0
    return float((end - start) * stream.time_base)


def _codec_name(stream) -> str:
    codec = stream.codec_context.codec
    return getattr(codec, "canonical_name", None) or codec.name


def _stream_facts(src: Source, kind: str) -> dict:
    """duration and codec of the first `kind` ("audio" or "video") stream, plus width/height for video."""
    import av

    container = _open_av(src)
    try:
        streams = getattr(container.streams, kind)
        if not streams:
            raise MediaRefused("corrupt_file", f"no {kind} stream in this file")
        stream = streams[0]
        try:
            facts = {"duration": round(_duration(container, stream), 3), "codec": _codec_name(stream)}
        except av.error.FFmpegError as e:
            raise MediaRefused("corrupt_file", f"unreadable {kind} ({e})") from None
        if kind == "video":
            facts.update(width=stream.codec_context.width, height=stream.codec_context.height)
        return facts
    finally:
        container.close()


def audio_info(src: Source) -> dict:
    """{duration: seconds, codec} of the first audio stream (Ogg/Opus, WebM/Opus, MP3, M4A, WAV)."""
    return _stream_facts(src, "audio")


def video_info(src: Source) -> dict:
    """{duration: seconds, width, height, codec} of the first video stream."""
    return _stream_facts(src, "video")


MAX_PDF_PAGES = 100_000


def pdf_info(src: Source, *, max_pages: int = MAX_PDF_PAGES) -> dict:
    """{pages}: the page tree's /Count (one lookup, no walk over the pages); a missing or absurd count is
    checked by walking the tree. Encrypted or unreadable files: corrupt_file."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        with _binary(src) as f:
            reader = PdfReader(f, strict=False)
            if reader.is_encrypted:
                raise MediaRefused("corrupt_file", "this PDF is encrypted")
            count = reader.root_object["/Pages"].get_object().get("/Count")
            if not isinstance(count, int) or not 0 < count <= max_pages:
                count = len(reader.pages)
            if not 0 < count <= max_pages:
                raise MediaRefused("corrupt_file", f"a PDF with {count} pages")
            return {"pages": int(count)}
    except MediaRefused:
        raise
    except (PyPdfError, KeyError, ValueError, TypeError, AttributeError, RecursionError, OSError, struct.error) as e:
        raise MediaRefused("corrupt_file", f"not a readable PDF ({type(e).__name__}: {e})") from None
