"""The processing steps' work on S3 and on the file's bytes, each as one CPU call (``executor.run_cpu``),
so that the bytes go between S3 and the process doing the work (in the embedded default a child process,
never the web process's event loop). Each sends back facts, no bytes."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from infra.blobs import Blobs, Part
from pipelines.media.filetypes import MediaRefused, check_declared
from pipelines.media.images import make_renditions
from pipelines.media.probe import video_still
from pipelines.media.strip import strip_original
from schemas.documents import Upload, Variant


HEAD_BYTES = 4096            # what type sniffing reads


def fetch_original(blobs: Blobs, key: str, path: str) -> str:
    """``path``, downloaded from ``key`` unless an earlier step already did (a whole file or none: it
    is written aside and renamed)."""
    if not os.path.exists(path):
        body = blobs.open_read(key)
        with open(path + ".part", "wb") as out:
            for chunk in iter(lambda: body.read(1 << 20), b""):
                out.write(chunk)
        os.replace(path + ".part", path)
    return path


def on_original(blobs: Blobs, key: str, path: str, fn: Callable, *args) -> Any:
    """``fn(path, *args)`` on the original: a CPU call (``executor.run_cpu``) that also fetches the file,
    so that its bytes go to the process doing the work (in the embedded default a child, not the web
    process's loop)."""
    return fn(fetch_original(blobs, key, path), *args)


@dataclass
class Rendered:
    """What the thumbnails step's CPU call sends back: facts, no bytes."""
    dimensions: tuple[int, int]
    exif: dict[str, Any]
    variants: dict[str, Variant]
    file_size: int


def render_image(blobs: Blobs, key: str, mime_type: str, path: str, strip: bool) -> Rendered:
    """The thumbnails step's file work as one CPU call: the renditions from one decode, written to fixed
    keys beside the original, then (``strip``) the original without its metadata over it. Every byte goes
    between S3 and the process doing the work: in the embedded default a photo's renditions and stripped
    original (3 MB for 12 MP) never pass through the web process's loop."""
    path = fetch_original(blobs, key, path)
    made = make_renditions(path)
    stripped = strip_original(path) if strip else None
    variants = _put_variants(blobs, key, made)
    if stripped is not None:
        blobs.put_bytes(key, stripped, mime_type)
    # The stored original's size, also when a run that died before recording the step had already
    # stripped it (then there is nothing left to strip, and the downloaded file is what S3 holds).
    size = len(stripped) if stripped is not None else os.path.getsize(path)
    return Rendered(dimensions=made.dimensions, exif=made.exif, variants=variants, file_size=size)


def _put_variants(blobs: Blobs, key: str, made) -> dict[str, Variant]:
    variants = {}
    for name, v in made.variants.items():
        variant_key = f"{key.rsplit('/', 1)[0]}/{name}.{v.mime_type.split('/')[1]}"
        blobs.put_bytes(variant_key, v.data, v.mime_type)
        variants[name] = Variant(width=v.width, height=v.height, mimeType=v.mime_type, size=v.size, key=variant_key)
    return variants


def render_video_still(blobs: Blobs, key: str, path: str) -> dict[str, Variant]:
    """A GIF's MP4 gets the thumbnails an image gets, from its first frame (one frame decoded by PyAV), as
    one CPU call; the original is left as it is."""
    return _put_variants(blobs, key, make_renditions(video_still(fetch_original(blobs, key, path))))


def complete_upload(blobs: Blobs, key: str, upload: Upload | None) -> None:
    """The upload step's S3 work, as one CPU call (botocore's requests are Python work: off the web
    process's loop in the embedded default): complete the multipart upload from S3's own list of parts
    (the client's word is not taken). Refuses with ``size_mismatch`` (the multipart upload aborted) or
    ``upload_expired``."""
    if blobs.head(key) is not None:  # completed by an earlier run that died before recording it
        return
    if upload is None:
        raise MediaRefused("upload_expired", "the upload expired before it was completed")
    parts: list[Part] = blobs.list_parts(upload.key, upload.s3UploadId)
    held = sum(p.size for p in parts)
    if len(parts) != upload.partCount or held != upload.size:
        blobs.abort_multipart(upload.key, upload.s3UploadId)
        raise MediaRefused("size_mismatch", f"S3 holds {len(parts)} of {upload.partCount} parts, {held} of "
                                                 f"{upload.size} declared bytes")
    blobs.complete_multipart(upload.key, upload.s3UploadId, parts)


def verify_stored(blobs: Blobs, key: str, size: int, mime_type: str) -> None:
    """The verification step's S3 work, as one CPU call: the stored size is the declared one
    (``size_mismatch``), and the first bytes are of the declared type (``type_mismatch``)."""
    info = blobs.head(key)
    if info is None or info.size != size:
        raise MediaRefused("size_mismatch", f"the stored file is {info.size if info else 0} bytes; "
                                                 f"{size} were declared")
    check_declared(mime_type, blobs.get_range(key, 0, HEAD_BYTES - 1))
