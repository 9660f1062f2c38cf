"""pipelines/media/strip.py on real bytes: originals without EXIF, GPS or XMP, losslessly."""
from __future__ import annotations

import io

from PIL import Image

from bench.thumbnails import GPS, photo, photo_exif, photo_jpeg
from pipelines.media.strip import strip_original
from tests.pipelines.media.samples import GPS_IFD, assert_no_gps, encode_image


def test_strip_jpeg_losslessly_keeps_orientation(phone_jpeg):
    stripped = strip_original(phone_jpeg)
    assert stripped is not None and len(stripped) < len(phone_jpeg)
    assert_no_gps(stripped)
    with Image.open(io.BytesIO(stripped)) as im, Image.open(io.BytesIO(phone_jpeg)) as before:
        exif = im.getexif()
        assert dict(exif) == {0x0112: 6}                    # only what display needs
        assert im.tobytes() == before.tobytes()           # entropy data untouched: same pixels
    plain = encode_image(Image.new("RGB", (8, 8)), "JPEG")
    assert strip_original(plain) is None


def test_strip_jpeg_drops_appended_images_and_comments():
    data = photo_jpeg((64, 48), orientation=1)
    tail = encode_image(Image.new("RGB", (8, 8)), "JPEG", exif=photo_exif(1))   # an MPF-style second image, with GPS
    stripped = strip_original(data + tail)
    assert stripped.endswith(b"\xff\xd9") and tail not in stripped and b"GPS" not in stripped
    assert_no_gps(stripped)
    with Image.open(io.BytesIO(stripped)) as im:
        assert not im.getexif()                            # orientation 1: no EXIF at all


def test_strip_png_and_webp(tmp_path):
    im = photo((64, 48))
    exif = photo_exif(1)
    png = encode_image(im, "PNG", exif=exif)
    webp = encode_image(im, "WEBP", exif=exif, lossless=True)
    for data in (png, webp):
        with Image.open(io.BytesIO(data)) as before:
            assert before.getexif().get_ifd(GPS_IFD)[2] == GPS[2]   # the fixture does carry a latitude
        stripped = strip_original(data)
        assert stripped is not None
        assert_no_gps(stripped)
        with Image.open(io.BytesIO(stripped)) as after:
            assert after.tobytes() == im.tobytes()
    path = tmp_path / "clean.png"
    path.write_bytes(encode_image(im, "PNG"))
    assert strip_original(str(path)) is None
    assert strip_original(encode_image(im, "GIF")) is None
