"""In-memory stand-ins for Redis-backed I/O, so pipelines are tested without any server."""
from __future__ import annotations

import hashlib
import io
import itertools
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from urllib.parse import parse_qs, quote, unquote, urlsplit

from infra.blobs import (DEFAULT_PART_SIZE, MIN_PART_SIZE, BlobNotFound, InvalidUpload, ObjectInfo, Part,
                         StorageUnavailable, Upload, content_disposition, write_in_parts)

from infra.inbox import Appended
from schemas.tasks import InboxEntry


class MemoryInbox:
    """Same interface and semantics as infra.inbox.Inbox: ordered entries, the "drain scheduled"
    flag, the backlog limit, a non-blocking drain lock."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, str]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._ids = itertools.count(1)
        self._scheduled: set[str] = set()  # conversations whose "drain scheduled" flag is set

    def append(self, conv_id: str, entry: InboxEntry, *, max_backlog: int, window=None) -> Appended:
        assert window is None, "a rate window is a Redis list: use the real inbox with Redis-kept limits"
        with self._guard:
            entries = self._entries.setdefault(conv_id, {})
            schedule = conv_id not in self._scheduled
            self._scheduled.add(conv_id)
            if len(entries) >= max_backlog:
                return Appended(None, schedule, len(entries))
            entry_id = f"{next(self._ids)}-0"
            entries[entry_id] = entry.model_dump_json()
            return Appended(entry_id, schedule, len(entries))

    def claim(self, conv_id: str, count: int) -> list[tuple[str, InboxEntry]]:
        with self._guard:
            items = list(self._entries.get(conv_id, {}).items())[:count]
        return [(i, InboxEntry.model_validate_json(raw)) for i, raw in items]

    def advance(self, conv_id: str, done_ids: list[str], after_id: str, count: int,
                block_ms: int | None) -> list[tuple[str, InboxEntry]]:
        self.remove(conv_id, done_ids)
        deadline = time.monotonic() + (block_ms or 0) / 1000
        while True:
            with self._guard:
                newer = [(i, raw) for i, raw in self._entries.get(conv_id, {}).items() if _newer(i, after_id)]
            if newer or time.monotonic() >= deadline:
                return [(i, InboxEntry.model_validate_json(raw)) for i, raw in newer[:count]]
            time.sleep(0.001)

    def unschedule_and_claim(self, conv_id: str, count: int) -> list[tuple[str, InboxEntry]]:
        with self._guard:
            self._scheduled.discard(conv_id)
        return self.claim(conv_id, count)

    def status(self, conv_id: str) -> tuple[int, bool]:
        with self._guard:
            return len(self._entries.get(conv_id, {})), conv_id in self._scheduled

    def remove(self, conv_id: str, entry_ids: list[str]) -> None:
        with self._guard:
            for i in entry_ids:
                self._entries.get(conv_id, {}).pop(i, None)

    def pending(self, conv_id: str) -> int:
        with self._guard:
            return len(self._entries.get(conv_id, {}))

    def stranded(self, limit: int = 1000) -> list[str]:
        with self._guard:
            return [c for c, entries in self._entries.items()
                    if entries and c not in self._scheduled and not self._locks.get(c, threading.Lock()).locked()][:limit]

    @contextmanager
    def drain_lock(self, conv_id: str):
        with self._guard:
            lock = self._locks.setdefault(conv_id, threading.Lock())
        if not lock.acquire(blocking=False):
            yield None
            return
        try:
            yield _HeldLock()
        finally:
            lock.release()


def _newer(entry_id: str, after_id: str) -> bool:
    return tuple(map(int, entry_id.split("-"))) > tuple(map(int, after_id.split("-")))


class _HeldLock:
    timeout = 30

    def reacquire(self) -> None:
        pass


class RecordingEmitter:
    """Keeps every emitted event: (event, data, room)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict, str]] = []
        self.skipped: list[str | None] = []  # skip_sid of each event
        self._guard = threading.Lock()

    def emit(self, event, data, room, skip_sid=None) -> None:
        with self._guard:
            self.events.append((event, data, room))
            self.skipped.append(skip_sid)

    @contextmanager
    def batch(self):
        yield

    def of(self, event: str) -> list[tuple[dict, str]]:
        return [(d, r) for e, d, r in self.events if e == event]


def _etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


class _MemoryBody(io.BytesIO):
    """Like botocore's StreamingBody: read(n), iter_chunks(n), close()."""

    def iter_chunks(self, chunk_size: int = 1024):
        while chunk := self.read(chunk_size):
            yield chunk


class MemoryBlobs:
    """Same interface and semantics as infra.blobs.S3Blobs, in memory: multipart uploads with parts
    (ETags, S3's 5 MiB smallest non-last part, abort), ranged reads, prefixes. Presigned URLs are
    `memory://` strings; `accept_put(url, data)` plays the browser's PUT of a part. Set `unavailable`
    to make every call raise StorageUnavailable."""

    def __init__(self, bucket: str = "chat-media") -> None:
        self.bucket = bucket
        self.cors_origins: list[str] | None = None
        self.unavailable = False
        self._objects: dict[str, tuple[bytes, str | None, str]] = {}  # key -> (data, content type, etag)
        self._uploads: dict[str, dict] = {}  # upload id -> {key, content_type, initiated, parts: {n: bytes}}
        self._guard = threading.Lock()

    def _check(self) -> None:
        if self.unavailable:
            raise StorageUnavailable("S3 unreachable (MemoryBlobs.unavailable)")

    def _upload(self, key: str, upload_id: str) -> dict:
        upload = self._uploads.get(upload_id)
        if upload is None or upload["key"] != key:
            raise InvalidUpload("NoSuchUpload")
        return upload

    def ensure_bucket(self, cors_origins: list[str]) -> None:
        self._check()
        self.cors_origins = list(cors_origins)

    def ping(self) -> None:
        self._check()

    def create_multipart(self, key: str, content_type: str) -> str:
        self._check()
        upload_id = uuid.uuid4().hex
        with self._guard:
            self._uploads[upload_id] = {"key": key, "content_type": content_type, "parts": {},
                                        "initiated": datetime.now(timezone.utc)}
        return upload_id

    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        self._check()
        if not 1 <= part_number <= 10_000:
            raise ValueError("part numbers are 1 to 10,000")
        with self._guard:
            self._upload(key, upload_id)["parts"][part_number] = bytes(data)
        return _etag(data)

    def presign_part(self, key: str, upload_id: str, part_number: int, expires: int | None = None) -> str:
        return (f"memory://{self.bucket}/{quote(key)}?uploadId={upload_id}&partNumber={part_number}"
                f"&expires={expires or 300}")

    def accept_put(self, url: str, data: bytes) -> str:
        """What S3 does with a browser's PUT to a presigned part URL: returns the ETag header."""
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        return self.upload_part(unquote(parts.path.lstrip("/")), query["uploadId"][0], int(query["partNumber"][0]), data)

    def list_parts(self, key: str, upload_id: str, *, page_size: int | None = None) -> list[Part]:
        self._check()
        with self._guard:
            parts = self._upload(key, upload_id)["parts"]
            return [Part(n, _etag(d), len(d)) for n, d in sorted(parts.items())]

    def complete_multipart(self, key: str, upload_id: str, parts: list[Part]) -> None:
        self._check()
        with self._guard:
            stored = self._upload(key, upload_id)["parts"]
            chosen = sorted(parts, key=lambda p: p.number)
            if not chosen:
                raise InvalidUpload("MalformedXML")
            for i, p in enumerate(chosen):
                data = stored.get(p.number)
                if data is None or _etag(data) != p.etag:
                    raise InvalidUpload("InvalidPart")
                if i < len(chosen) - 1 and len(data) < MIN_PART_SIZE:
                    raise InvalidUpload("EntityTooSmall")
            body = b"".join(stored[p.number] for p in chosen)
            digest = hashlib.md5(b"".join(hashlib.md5(stored[p.number]).digest() for p in chosen)).hexdigest()
            content_type = self._uploads.pop(upload_id)["content_type"]
            self._objects[key] = (body, content_type, f'"{digest}-{len(chosen)}"')

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self._check()
        with self._guard:
            if upload_id in self._uploads and self._uploads[upload_id]["key"] == key:
                del self._uploads[upload_id]

    def multipart_uploads(self, prefix: str = "", *, page_size: int | None = None):
        self._check()
        with self._guard:
            found = [Upload(u["key"], i, u["initiated"]) for i, u in self._uploads.items()
                     if u["key"].startswith(prefix)]
        yield from sorted(found, key=lambda u: (u.key, u.initiated))

    def head(self, key: str) -> ObjectInfo | None:
        self._check()
        with self._guard:
            found = self._objects.get(key)
        return ObjectInfo(len(found[0]), found[1], found[2]) if found else None

    def _data(self, key: str) -> bytes:
        self._check()
        with self._guard:
            found = self._objects.get(key)
        if found is None:
            raise BlobNotFound(key)
        return found[0]

    def get_range(self, key: str, start: int, end_inclusive: int) -> bytes:
        data = self._data(key)
        return data[start:end_inclusive + 1] if end_inclusive >= start else b""

    def open_read(self, key: str) -> _MemoryBody:
        return _MemoryBody(self._data(key))

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._check()
        with self._guard:
            self._objects[key] = (bytes(data), content_type, _etag(data))

    def copy(self, source_key: str, key: str) -> None:
        self._check()
        with self._guard:
            found = self._objects.get(source_key)
            if found is None:
                raise BlobNotFound(source_key)
            self._objects[key] = found

    def put_file(self, key: str, fileobj, content_type: str) -> None:
        self.put_bytes(key, fileobj.read(), content_type)

    def multipart_writer(self, key: str, content_type: str, part_size: int = DEFAULT_PART_SIZE):
        return write_in_parts(self, key, content_type, part_size)

    def presign_get(self, key: str, *, filename: str, content_type: str, attachment: bool,
                    expires: int | None = None) -> str:
        return (f"memory://{self.bucket}/{quote(key)}?response-content-disposition="
                f"{quote(content_disposition(filename, attachment), safe='')}"
                f"&response-content-type={quote(content_type, safe='')}&expires={expires or 300}")

    def delete(self, key: str) -> None:
        self._check()
        with self._guard:
            self._objects.pop(key, None)

    def delete_prefix(self, prefix: str) -> int:
        self._check()
        with self._guard:
            doomed = [k for k in self._objects if k.startswith(prefix)]
            for k in doomed:
                del self._objects[k]
        return len(doomed)

    def keys(self, prefix: str):
        self._check()
        with self._guard:
            found = sorted(k for k in self._objects if k.startswith(prefix))
        yield from found
