"""Sample audio files, PDFs and a phone photo, made once per test module."""
from __future__ import annotations

import array
import math
from fractions import Fraction

import pytest

from bench.thumbnails import photo_jpeg


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


@pytest.fixture(scope="module")
def phone_jpeg() -> bytes:
    return photo_jpeg((2000, 1500), orientation=6)
