"""A conversation with members, MemoryBlobs and the processing's I/O, for the media pipeline's tests (and the
sweeper's and the lifecycle's): ``world`` is a fixture, imported where it is used.

The browser's part of an upload (PUT each part to its presigned URL) is played by MemoryBlobs.accept_put.
"""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image

from infra.executor import DirectExecutor
from pipelines.media import job, uploads
from pipelines.media.job import Processing
from pipelines.media.uploads import Limits
from schemas.payloads import UploadCreate
from tests.conftest import make_conversation, make_user
from tests.fakes import MemoryBlobs


LIMITS = Limits(max_upload_bytes=50 << 20, quota_bytes=60 << 20, upload_ttl=timedelta(hours=1), presign_seconds=300)
PART = 8 << 20


class Scanner:
    def __init__(self, infected: bool = False) -> None:
        self.infected, self.scanned = infected, 0

    def scan(self, chunks):
        from infra.scanner import ScanResult
        data = b"".join(chunks)
        self.scanned += len(data)
        return ScanResult("infected", "Eicar-Test-Signature") if self.infected else ScanResult("clean", None)


@pytest.fixture
def world(store, inbox, notifier, emitter):
    alice, bob, eve = (make_user(store, n) for n in ("alice", "bob", "eve"))
    conv = make_conversation(store, [alice, bob])
    other = make_conversation(store, [alice], title="elsewhere")
    blobs = MemoryBlobs()

    class W:
        pass
    w = W()
    w.alice, w.bob, w.eve, w.conv, w.other, w.blobs, w.scanner = alice, bob, eve, conv, other, blobs, Scanner()
    w.io = Processing(store=store, blobs=blobs, notifier=notifier, scanner=w.scanner, executor=DirectExecutor())

    def upload(data: bytes, mime: str, name="photo.jpg", who=alice, conv_id=None, declared=None, parts=None):
        created = uploads.do_create_upload(store, blobs, LIMITS, who, UploadCreate(
            convId=conv_id or conv.id, filename=name, size=declared or len(data), mimeType=mime))
        numbers = parts or list(range(1, created["partCount"] + 1))
        urls = uploads.part_urls(store, blobs, LIMITS, who, created["id"], numbers)["urls"]
        for n in numbers:
            blobs.accept_put(urls[str(n)], data[(n - 1) * created["partSize"]:n * created["partSize"]])
        return created

    def finish(media_id, who=alice):
        uploads.do_complete_upload(store, lambda m: None, who, media_id)
        return job.process_media(media_id, w.io)

    w.upload, w.finish = upload, finish
    return w


def gps_of(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))
