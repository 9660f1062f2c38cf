"""pipelines/media/processing.py on real bytes: types, sniffing, bombs, renditions, EXIF stripping, audio/PDF facts."""
from __future__ import annotations

import array
import io
import math
import pickle
import struct
import time
import zipfile
import zlib
from fractions import Fraction

import pytest
from PIL import Image

from bench.thumbnails import GPS, photo, photo_exif, photo_jpeg
from pipelines.media import processing as mp
from pipelines.media.processing import MediaRefused

GPS_IFD = 0x8825


def _refused(code: str):
    return pytest.raises(MediaRefused, match=f"^{code}:")


def _png_header(width: int, height: int) -> bytes:
    """Signature + IHDR + the first bytes of an IDAT: a header that announces a size, then nothing."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\x00" * 64)[:20]
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", 1 << 20) + b"IDAT" + idat


def _save(im: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def _no_gps(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as im:
        exif = im.getexif()
        assert GPS_IFD not in exif and not exif.get_ifd(GPS_IFD), f"GPS left in {im.format}"
        assert "xmp" not in im.info


# ---------------------------------------------------------------------------------------------------
# types and sniffing
# ---------------------------------------------------------------------------------------------------

def test_file_type_table():
    assert mp.file_type("image/jpeg") == "image"
    assert mp.file_type("audio/webm;codecs=opus") == "audio"        # MediaRecorder's Blob.type
    assert mp.file_type("image/svg+xml") == "document"              # attachment, never rendered
    assert mp.file_type("application/vnd.openxmlformats-officedocument.wordprocessingml.document") == "document"
    for refused in ("application/postscript", "image/x-eps", "image/tiff", "application/x-msdownload", ""):
        with _refused("unsupported_type"):
            mp.file_type(refused)
    assert set(mp.ALLOWED) == set(mp.CONTAINER)
    assert {r.name: r.max_side for r in mp.RENDITIONS} == {"small": 320, "large": 1280}


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory):
    """Real encoded audio, 2 s of a 440 Hz tone (the WebM as MediaRecorder writes it: no duration header)."""
    import av

    root = tmp_path_factory.mktemp("audio")
    specs = {"webm": ("webm", "libopus", 48000, {"live": "1"}), "ogg": ("ogg", "libopus", 48000, {}),
             "m4a": ("ipod", "aac", 44100, {}), "mp3": ("mp3", "libmp3lame", 44100, {}),
             "wav": ("wav", "pcm_s16le", 16000, {})}
    paths = {}
    for name, (fmt, codec, rate, options) in specs.items():
        path = root / f"voice.{name}"
        out = av.open(str(path), "w", format=fmt, options=options)
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        for start in range(0, 2 * rate, 960):
            n = min(960, 2 * rate - start)
            frame = av.AudioFrame(format="s16", layout="mono", samples=n)
            frame.planes[0].update(array.array(
                "h", (int(8000 * math.sin(2 * math.pi * 440 * (start + i) / rate)) for i in range(n))).tobytes())
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        out.close()
        paths[name] = path
    return paths


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory):
    from pypdf import PdfWriter

    root = tmp_path_factory.mktemp("pdf")
    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(200, 200)
    plain = root / "three.pdf"
    with open(plain, "wb") as f:
        writer.write(f)
    writer.encrypt("secret")
    locked = root / "locked.pdf"
    with open(locked, "wb") as f:
        writer.write(f)
    return {"plain": plain, "locked": locked}


def test_sniff_real_files(audio_files, pdfs):
    heads = {name: path.read_bytes()[:4096] for name, path in audio_files.items()}
    assert mp.sniff(heads["webm"]) == "video/webm"
    assert mp.sniff(heads["ogg"]) == "audio/ogg"
    assert mp.sniff(heads["m4a"]) == "audio/mp4"
    assert mp.sniff(heads["mp3"]) == "audio/mpeg"
    assert mp.sniff(heads["wav"]) == "audio/wav"
    assert mp.sniff(pdfs["plain"].read_bytes()[:4096]) == "application/pdf"
    tiny = Image.new("RGB", (4, 4))
    for fmt, mime in (("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")):
        assert mp.sniff(_save(tiny, fmt)) == mime
    assert mp.sniff(b"just some words") is None
    assert mp.sniff(b"") is None


def test_check_declared_accepts_overlapping_families(audio_files):
    webm = audio_files["webm"].read_bytes()[:4096]
    mp.check_declared("audio/webm;codecs=opus", webm)
    mp.check_declared("video/webm", webm)
    m4a = audio_files["m4a"].read_bytes()[:4096]
    for declared in ("audio/mp4", "audio/x-m4a", "video/mp4"):
        mp.check_declared(declared, m4a)
    ogg = audio_files["ogg"].read_bytes()[:4096]
    mp.check_declared("audio/ogg", ogg)
    mp.check_declared("audio/opus", ogg)
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
    mp.check_declared("application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx.getvalue())
    mp.check_declared("application/zip", docx.getvalue())


def test_check_declared_refuses_mismatches(audio_files):
    jpeg = _save(Image.new("RGB", (4, 4)), "JPEG")
    with _refused("type_mismatch"):
        mp.check_declared("image/png", jpeg)
    with _refused("type_mismatch"):
        mp.check_declared("audio/mpeg", audio_files["ogg"].read_bytes()[:4096])
    with _refused("type_mismatch"):
        mp.check_declared("application/pdf", b"MZ\x90\x00 an executable")
    with _refused("type_mismatch"):
        mp.check_declared("text/plain", jpeg)                          # binary: NUL, not UTF-8
    with _refused("type_mismatch"):
        mp.check_declared("image/svg+xml", b"%!PS-Adobe-3.0 EPSF-3.0\n")
    with _refused("unsupported_type"):
        mp.check_declared("application/postscript", b"%!PS-Adobe-3.0\n")


def test_check_declared_text_and_svg():
    mp.check_declared("text/plain", "Bonjour à tous, ça va ?\n".encode())
    cut = ("é" * 3000).encode()[:4095]                                  # a 4 KiB range cut inside a character
    mp.check_declared("text/plain", cut)
    mp.check_declared("image/svg+xml", b"\xef\xbb\xbf\n  <?xml version='1.0'?><svg/>")
    mp.check_declared("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    with _refused("type_mismatch"):
        mp.check_declared("text/plain", b"caf\xe9 latin-1")
    with _refused("type_mismatch"):
        mp.check_declared("image/svg+xml", b"<html><script>alert(1)</script>")


# ---------------------------------------------------------------------------------------------------
# image headers and bombs
# ---------------------------------------------------------------------------------------------------

def test_png_header_bomb_refused_without_decoding():
    header = _png_header(20000, 20000)                  # 400 megapixels announced, then nothing
    assert len(header) < 80
    start = time.perf_counter()
    with _refused("too_many_pixels"):
        mp.image_info(header)
    with _refused("too_many_pixels"):
        mp.make_renditions(header)                      # a decode of the truncated data would be corrupt_file
    assert time.perf_counter() - start < 0.5


def test_our_pixel_budget_not_only_pillows():
    """81 MP is under Pillow's own bomb check (89 MP warns, 179 MP raises): our 50 MP rule refuses it."""
    header = _png_header(9000, 9000)
    with _refused("too_many_pixels"):
        mp.image_info(header)
    assert mp.image_info(header, max_pixels=100_000_000).width == 9000
    assert mp.image_info(_png_header(4000, 3000)) == mp.ImageInfo("PNG", 4000, 3000, 1, False)


def test_frames_count_in_the_budget():
    frames = [Image.new("RGB", (100, 100), (i * 25, 0, 255 - i * 25)) for i in range(10)]
    gif = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    info = mp.image_info(io.BytesIO(gif))
    assert (info.format, info.frames, info.animated) == ("GIF", 10, True)
    with _refused("too_many_pixels"):
        mp.image_info(gif, max_pixels=50_000)           # 100 x 100 x 10 = 100,000
    assert mp.image_info(_save(frames[0], "GIF"), max_pixels=50_000).frames == 1


def test_only_allowed_formats_are_opened(tmp_path):
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    for other in (eps, _save(Image.new("RGB", (4, 4)), "BMP"), _save(Image.new("RGB", (4, 4)), "TIFF"), b"<svg/>"):
        with _refused("corrupt_file"):
            mp.image_info(other)
    path = tmp_path / "x.png"
    path.write_bytes(_save(Image.new("RGB", (7, 5)), "PNG"))
    assert mp.image_info(str(path)).width == 7           # a path works too


def test_truncated_image_is_corrupt():
    data = photo_jpeg((640, 480), orientation=1)
    with _refused("corrupt_file"):
        mp.make_renditions(data[: len(data) // 2])


# ---------------------------------------------------------------------------------------------------
# renditions
# ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def phone_jpeg() -> bytes:
    return photo_jpeg((2000, 1500), orientation=6)


def test_renditions_oriented_sized_and_clean(phone_jpeg):
    result = mp.make_renditions(phone_jpeg)
    assert result.dimensions == (1500, 2000)              # orientation 6: stored landscape, shown portrait
    assert result.exif == {"camera": "Canon EOS R6", "takenAt": "2024-05-01T12:34:56", "orientation": 6}
    small, large = result.variants["small"], result.variants["large"]
    assert (small.width, small.height) == (240, 320)
    assert (large.width, large.height) == (960, 1280)
    for v in (small, large):
        assert v.mime_type == "image/webp" and v.size == len(v.data)
        with Image.open(io.BytesIO(v.data)) as im:
            assert im.format == "WEBP" and im.size == (v.width, v.height)
            assert im.height > im.width                  # portrait
            assert max(im.size) <= {"small": 320, "large": 1280}[("small" if v is small else "large")]
            assert not im.getexif() and "icc_profile" not in im.info
        _no_gps(v.data)


def test_jpeg_is_decoded_once_at_the_scale_the_large_rendition_needs(monkeypatch):
    from PIL import JpegImagePlugin

    calls = []
    real = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = real(self, mode, size)
        calls.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    data = _save(Image.new("RGB", (3000, 2000), (90, 120, 200)), "JPEG", exif=photo_exif(6))
    result = mp.make_renditions(data)
    # shown 2000x3000 -> large 853x1280, i.e. 1280x853 as stored: 1/2 scale (1500x1000) still covers it
    assert calls == [((1280, 853), (1500, 1000))]
    assert (result.variants["large"].width, result.variants["large"].height) == (853, 1280)


def test_orientation_turns_the_right_way():
    """A picture whose top half is red, stored rotated as a camera held upright would store it."""
    upright = Image.new("RGB", (300, 400), "blue")
    upright.paste((255, 0, 0), (0, 0, 300, 200))
    stored = upright.transpose(Image.Transpose.ROTATE_90)          # what orientation 6 undoes
    data = _save(stored, "JPEG", quality=95, exif=photo_exif(6))
    small = mp.make_renditions(data, fmt="jpeg").variants["small"]
    with Image.open(io.BytesIO(small.data)) as im:
        assert im.format == "JPEG" and im.size == (240, 320)
        top, bottom = im.getpixel((120, 40)), im.getpixel((120, 280))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200


def test_small_images_are_never_upscaled():
    data = _save(photo((200, 100)), "PNG")
    result = mp.make_renditions(data)
    assert {n: (v.width, v.height) for n, v in result.variants.items()} == {"small": (200, 100), "large": (200, 100)}


def test_alpha_kept_in_webp_flattened_in_jpeg():
    im = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    im.paste((0, 128, 0, 255), (100, 100, 300, 300))
    data = _save(im, "PNG")
    with Image.open(io.BytesIO(mp.make_renditions(data).variants["small"].data)) as webp:
        assert webp.mode == "RGBA" and webp.getpixel((5, 5))[3] == 0
    with Image.open(io.BytesIO(mp.make_renditions(data, fmt="jpeg").variants["small"].data)) as jpeg:
        assert jpeg.mode == "RGB" and jpeg.getpixel((5, 5)) == (255, 255, 255)


def test_animated_gif_gives_a_still_of_the_first_frame():
    frames = [Image.new("RGB", (64, 64), c) for c in ((255, 0, 0), (0, 0, 255))]
    gif = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    small = mp.make_renditions(gif).variants["small"]
    with Image.open(io.BytesIO(small.data)) as im:
        assert getattr(im, "n_frames", 1) == 1
        r, g, b = im.convert("RGB").getpixel((10, 10))
    assert r > 200 and b < 60


def test_embedded_icc_profile_never_reaches_a_rendition():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    data = _save(Image.new("RGB", (50, 50), (200, 30, 30)), "JPEG", icc_profile=srgb.tobytes())
    with Image.open(io.BytesIO(mp.make_renditions(data).variants["small"].data)) as im:
        assert "icc_profile" not in im.info


def test_results_cross_a_process_boundary(phone_jpeg):
    result = mp.make_renditions(phone_jpeg)
    assert pickle.loads(pickle.dumps(result)) == result
    err = pickle.loads(pickle.dumps(MediaRefused("corrupt_file", "broken")))
    assert (err.code, err.message) == ("corrupt_file", "broken")


# ---------------------------------------------------------------------------------------------------
# originals without EXIF/GPS
# ---------------------------------------------------------------------------------------------------

def test_strip_jpeg_losslessly_keeps_orientation(phone_jpeg):
    stripped = mp.strip_original(phone_jpeg)
    assert stripped is not None and len(stripped) < len(phone_jpeg)
    _no_gps(stripped)
    with Image.open(io.BytesIO(stripped)) as im, Image.open(io.BytesIO(phone_jpeg)) as before:
        exif = im.getexif()
        assert dict(exif) == {0x0112: 6}                    # only what display needs
        assert im.tobytes() == before.tobytes()           # entropy data untouched: same pixels
    plain = _save(Image.new("RGB", (8, 8)), "JPEG")
    assert mp.strip_original(plain) is None


def test_strip_jpeg_drops_appended_images_and_comments():
    data = photo_jpeg((64, 48), orientation=1)
    tail = _save(Image.new("RGB", (8, 8)), "JPEG", exif=photo_exif(1))   # an MPF-style second image, with GPS
    stripped = mp.strip_original(data + tail)
    assert stripped.endswith(b"\xff\xd9") and tail not in stripped and b"GPS" not in stripped
    _no_gps(stripped)
    with Image.open(io.BytesIO(stripped)) as im:
        assert not im.getexif()                            # orientation 1: no EXIF at all


def test_strip_png_and_webp(tmp_path):
    im = photo((64, 48))
    exif = photo_exif(1)
    png = _save(im, "PNG", exif=exif)
    webp = _save(im, "WEBP", exif=exif, lossless=True)
    for data in (png, webp):
        with Image.open(io.BytesIO(data)) as before:
            assert before.getexif().get_ifd(GPS_IFD)[2] == GPS[2]   # the fixture does carry a latitude
        stripped = mp.strip_original(data)
        assert stripped is not None
        _no_gps(stripped)
        with Image.open(io.BytesIO(stripped)) as after:
            assert after.tobytes() == im.tobytes()
    path = tmp_path / "clean.png"
    path.write_bytes(_save(im, "PNG"))
    assert mp.strip_original(str(path)) is None
    assert mp.strip_original(_save(im, "GIF")) is None


# ---------------------------------------------------------------------------------------------------
# audio, video, PDF
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,codec", [("webm", "opus"), ("ogg", "opus"), ("m4a", "aac"), ("mp3", "mp3"),
                                        ("wav", "pcm_s16le")])
def test_audio_duration_and_codec(audio_files, name, codec):
    info = mp.audio_info(str(audio_files[name]))
    assert info["codec"] == codec
    assert info["duration"] == pytest.approx(2.0, abs=0.1)


def test_webm_without_duration_header_is_demuxed(audio_files):
    import av

    with av.open(str(audio_files["webm"])) as c:
        assert c.duration is None and c.streams.audio[0].duration is None   # as MediaRecorder writes it
    with open(audio_files["webm"], "rb") as f:
        assert mp.audio_info(f)["duration"] == pytest.approx(2.0, abs=0.1)  # a file-like works too


def test_audio_refusals(pdfs):
    with _refused("corrupt_file"):
        mp.audio_info(b"not audio at all" * 100)
    with _refused("corrupt_file"):
        mp.audio_info(str(pdfs["plain"]))


def test_video_info(tmp_path):
    import av

    path = tmp_path / "clip.webm"
    out = av.open(str(path), "w", format="webm")
    stream = out.add_stream("libvpx", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    for i in range(15):
        frame = av.VideoFrame.from_image(Image.new("RGB", (64, 48), (i * 15, 0, 0)))
        frame.pts = i
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    info = mp.video_info(str(path))
    assert (info["width"], info["height"], info["codec"]) == (64, 48, "vp8")
    assert info["duration"] == pytest.approx(1.5, abs=0.15)


def test_pdf_pages_and_refusals(pdfs, tmp_path):
    assert mp.pdf_info(str(pdfs["plain"])) == {"pages": 3}
    assert mp.pdf_info(pdfs["plain"].read_bytes()) == {"pages": 3}
    with _refused("corrupt_file"):
        mp.pdf_info(str(pdfs["locked"]))
    with _refused("corrupt_file"):
        mp.pdf_info(b"%PDF-1.7\n this is not a pdf body\n%%EOF")
    lying = pdfs["plain"].read_bytes().replace(b"/Count 3", b"/Count 999999999")
    assert mp.pdf_info(lying, max_pages=1000) == {"pages": 3}   # an absurd /Count is checked by walking
