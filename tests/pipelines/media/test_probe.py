"""pipelines/media/probe.py on real files: audio, video and PDF facts, and their refusals."""
from __future__ import annotations


import pytest
from PIL import Image

from pipelines.media.probe import audio_info, pdf_info, video_info
from tests.pipelines.media.samples import raises_refusal


@pytest.mark.parametrize("name,codec", [("webm", "opus"), ("ogg", "opus"), ("m4a", "aac"), ("mp3", "mp3"),
                                        ("wav", "pcm_s16le")])
def test_audio_duration_and_codec(audio_files, name, codec):
    info = audio_info(str(audio_files[name]))
    assert info["codec"] == codec
    assert info["duration"] == pytest.approx(2.0, abs=0.1)


def test_webm_without_duration_header_is_demuxed(audio_files):
    import av

    with av.open(str(audio_files["webm"])) as c:
        assert c.duration is None and c.streams.audio[0].duration is None   # as MediaRecorder writes it
    with open(audio_files["webm"], "rb") as f:
        assert audio_info(f)["duration"] == pytest.approx(2.0, abs=0.1)  # a file-like works too


def test_audio_refusals(pdfs):
    with raises_refusal("corrupt_file"):
        audio_info(b"not audio at all" * 100)
    with raises_refusal("corrupt_file"):
        audio_info(str(pdfs["plain"]))


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
    info = video_info(str(path))
    assert (info["width"], info["height"], info["codec"]) == (64, 48, "vp8")
    assert info["duration"] == pytest.approx(1.5, abs=0.15)


def test_pdf_pages_and_refusals(pdfs, tmp_path):
    assert pdf_info(str(pdfs["plain"])) == {"pages": 3}
    assert pdf_info(pdfs["plain"].read_bytes()) == {"pages": 3}
    with raises_refusal("corrupt_file"):
        pdf_info(str(pdfs["locked"]))
    with raises_refusal("corrupt_file"):
        pdf_info(b"%PDF-1.7\n this is not a pdf body\n%%EOF")
    lying = pdfs["plain"].read_bytes().replace(b"/Count 3", b"/Count 999999999")
    assert pdf_info(lying, max_pages=1000) == {"pages": 3}   # an absurd /Count is checked by walking
