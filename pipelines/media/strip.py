"""Originals without EXIF, GPS, XMP or text metadata, losslessly: segments and chunks are dropped, pixels
are never re-encoded."""
from __future__ import annotations

import struct

from PIL import Image

from pipelines.media.filetypes import MediaRefused, Source, read_all
from pipelines.media.images import TAG_ORIENTATION


def _orientation_exif(orientation: int) -> bytes:
    """A TIFF block holding only the Orientation tag, so a stripped original still displays upright."""
    exif = Image.Exif()
    exif[TAG_ORIENTATION] = orientation
    return exif.tobytes()           # b"Exif\0\0" + TIFF


def _jpeg_orientation(app1_payloads: list[bytes]) -> int:
    for payload in app1_payloads:
        if payload.startswith(b"Exif\x00\x00"):
            exif = Image.Exif()
            try:
                exif.load(payload)
            except Exception:
                return 1
            value = exif.get(TAG_ORIENTATION, 1)
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
    data = read_all(src)
    if data.startswith(b"\xff\xd8"):
        return _strip_jpeg(data)
    if data.startswith(_PNG_SIGNATURE):
        return _strip_png(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _strip_webp(data)
    return None
