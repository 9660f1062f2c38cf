"""Made-up files for the tests of the work on a file's bytes: headers that announce a size, encoded images,
and the checks the tests share."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from pipelines.media.filetypes import MediaRefused


GPS_IFD = 0x8825


def raises_refusal(code: str):
    return pytest.raises(MediaRefused, match=f"^{code}:")


def png_header(width: int, height: int) -> bytes:
    """Signature + IHDR + the first bytes of an IDAT: a header that announces a size, then nothing."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\x00" * 64)[:20]
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", 1 << 20) + b"IDAT" + idat


def encode_image(im: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def assert_no_gps(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as im:
        exif = im.getexif()
        assert GPS_IFD not in exif and not exif.get_ifd(GPS_IFD), f"GPS left in {im.format}"
        assert "xmp" not in im.info
