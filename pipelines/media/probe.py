"""Facts about audio, video and PDF files (duration, codec, size, pages), read from their headers and
packets, never decoded."""
from __future__ import annotations

import io
import struct

from pipelines.media.filetypes import MediaRefused, Source, open_binary


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
            if stream.frames:   # from the header when the container counts them (MP4 does)
                facts["frames"] = int(stream.frames)
        return facts
    finally:
        container.close()


def audio_info(src: Source) -> dict:
    """{duration: seconds, codec} of the first audio stream (Ogg/Opus, WebM/Opus, MP3, M4A, WAV)."""
    return _stream_facts(src, "audio")


def video_info(src: Source) -> dict:
    """{duration: seconds, width, height, codec} of the first video stream."""
    return _stream_facts(src, "video")


def video_still(src: Source) -> bytes:
    """The first frame of the first video stream as a PNG (a GIF's MP4 gets a still thumbnail from it):
    one frame decoded, never the whole file."""
    import av
    from PIL import Image  # noqa: F401 - to_image() needs Pillow

    container = _open_av(src)
    try:
        if not container.streams.video:
            raise MediaRefused("corrupt_file", "no video stream in this file")
        try:
            frame = next(container.decode(video=0), None)
        except av.error.FFmpegError as e:
            raise MediaRefused("corrupt_file", f"unreadable video ({e})") from None
        if frame is None:
            raise MediaRefused("corrupt_file", "no frame in this video")
        out = io.BytesIO()
        frame.to_image().save(out, "PNG")
        return out.getvalue()
    finally:
        container.close()


MAX_PDF_PAGES = 100_000


def pdf_info(src: Source, *, max_pages: int = MAX_PDF_PAGES) -> dict:
    """{pages}: the page tree's /Count (one lookup, no walk over the pages); a missing or absurd count is
    checked by walking the tree. Encrypted or unreadable files: corrupt_file."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        with open_binary(src) as f:
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
