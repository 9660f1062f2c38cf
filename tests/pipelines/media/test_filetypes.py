"""pipelines/media/filetypes.py on real bytes: the types table, sniffing, the declared type checked."""
from __future__ import annotations

import io
import zipfile

from PIL import Image

from pipelines.media.filetypes import ALLOWED, CONTAINER, check_declared, file_type, sniff
from pipelines.media.renditions import RENDITIONS
from tests.pipelines.media.samples import encode_image, raises_refusal


def test_file_type_table():
    assert file_type("image/jpeg") == "image"
    assert file_type("audio/webm;codecs=opus") == "audio"        # MediaRecorder's Blob.type
    assert file_type("image/svg+xml") == "document"              # attachment, never rendered
    assert file_type("application/vnd.openxmlformats-officedocument.wordprocessingml.document") == "document"
    for refused in ("application/postscript", "image/x-eps", "image/tiff", "application/x-msdownload", ""):
        with raises_refusal("unsupported_type"):
            file_type(refused)
    assert set(ALLOWED) == set(CONTAINER)
    assert {r.name: r.max_side for r in RENDITIONS} == {"small": 320, "large": 1280}


def test_sniff_real_files(audio_files, pdfs):
    heads = {name: path.read_bytes()[:4096] for name, path in audio_files.items()}
    assert sniff(heads["webm"]) == "video/webm"
    assert sniff(heads["ogg"]) == "audio/ogg"
    assert sniff(heads["m4a"]) == "audio/mp4"
    assert sniff(heads["mp3"]) == "audio/mpeg"
    assert sniff(heads["wav"]) == "audio/wav"
    assert sniff(pdfs["plain"].read_bytes()[:4096]) == "application/pdf"
    tiny = Image.new("RGB", (4, 4))
    for fmt, mime in (("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")):
        assert sniff(encode_image(tiny, fmt)) == mime
    assert sniff(b"just some words") is None
    assert sniff(b"") is None


def test_check_declared_accepts_overlapping_families(audio_files):
    webm = audio_files["webm"].read_bytes()[:4096]
    check_declared("audio/webm;codecs=opus", webm)
    check_declared("video/webm", webm)
    m4a = audio_files["m4a"].read_bytes()[:4096]
    for declared in ("audio/mp4", "audio/x-m4a", "video/mp4"):
        check_declared(declared, m4a)
    ogg = audio_files["ogg"].read_bytes()[:4096]
    check_declared("audio/ogg", ogg)
    check_declared("audio/opus", ogg)
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
    check_declared("application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx.getvalue())
    check_declared("application/zip", docx.getvalue())


def test_check_declared_refuses_mismatches(audio_files):
    jpeg = encode_image(Image.new("RGB", (4, 4)), "JPEG")
    with raises_refusal("type_mismatch"):
        check_declared("image/png", jpeg)
    with raises_refusal("type_mismatch"):
        check_declared("audio/mpeg", audio_files["ogg"].read_bytes()[:4096])
    with raises_refusal("type_mismatch"):
        check_declared("application/pdf", b"MZ\x90\x00 an executable")
    with raises_refusal("type_mismatch"):
        check_declared("text/plain", jpeg)                          # binary: NUL, not UTF-8
    with raises_refusal("type_mismatch"):
        check_declared("image/svg+xml", b"%!PS-Adobe-3.0 EPSF-3.0\n")
    with raises_refusal("unsupported_type"):
        check_declared("application/postscript", b"%!PS-Adobe-3.0\n")


def test_check_declared_text_and_svg():
    check_declared("text/plain", "Bonjour à tous, ça va ?\n".encode())
    cut = ("é" * 3000).encode()[:4095]                                  # a 4 KiB range cut inside a character
    check_declared("text/plain", cut)
    check_declared("image/svg+xml", b"\xef\xbb\xbf\n  <?xml version='1.0'?><svg/>")
    check_declared("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    with raises_refusal("type_mismatch"):
        check_declared("text/plain", b"caf\xe9 latin-1")
    with raises_refusal("type_mismatch"):
        check_declared("image/svg+xml", b"<html><script>alert(1)</script>")
