"""An export file at rest (docs/security.md): the file of an encrypted conversation goes to S3 sealed with
the conversation's key (``Vault.seal_chunks``: one AES-GCM record per SEAL_CHUNK bytes), whether the
writers stream it (``SealingWriter`` around the upload) or it was made on disk first (``seal_file``); its
download reads it back opened as it streams (``opened_chunks``). S3 then holds ciphertext only."""
from __future__ import annotations

import os
import time
from collections import deque
from typing import IO, Callable, Iterator

from infra.crypto import Vault

SEAL_CHUNK = 1 << 20            # plain bytes per sealed record: memory stays about two records
SEALED_CONTENT_TYPE = "application/octet-stream"   # what S3 is told a sealed object is


class SealingWriter:
    """A writable sink that seals what the writers give it into ``sink`` (``write`` only), or passes it
    through unchanged when ``sealed`` is False. ``size``: the plain bytes written. ``finish()`` writes
    the last record (the file is cut short, and refused when read back, without it).

    ``Vault.seal_chunks`` pulls chunks and keeps one in hand (its last record is marked as such), so a
    record is asked for only once the chunk after it is queued: the generator never waits for input."""

    def __init__(self, vault: Vault, conv_id: str, sink, *, sealed: bool, chunk_size: int = SEAL_CHUNK) -> None:
        self.sink, self.sealed, self.chunk_size, self.size = sink, sealed, chunk_size, 0
        self._buffer = bytearray()
        self._queue: deque[bytes] = deque()
        self._queued, self._closing = 0, False
        if sealed:
            self._records = vault.seal_chunks(conv_id, iter(self._next_chunk, None))
            self.sink.write(next(self._records))   # the header: no chunk read yet

    def _next_chunk(self) -> bytes | None:
        if self._queue:
            return self._queue.popleft()
        assert self._closing, "a sealed record was asked for before its next chunk was queued"
        return None

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if not self.sealed:
            return self.sink.write(data)
        self._buffer += data
        while len(self._buffer) >= self.chunk_size:
            self._queue.append(bytes(self._buffer[:self.chunk_size]))
            del self._buffer[:self.chunk_size]
            self._queued += 1
            if self._queued >= 2:   # the chunk before this one can be sealed now
                self.sink.write(next(self._records))
        return len(data)

    def finish(self) -> None:
        if not self.sealed or self._closing:
            return
        if self._buffer:
            self._queue.append(bytes(self._buffer))
            self._buffer.clear()
        self._closing = True
        for record in self._records:
            self.sink.write(record)


def seal_file(vault: Vault, conv_id: str, path: str, pause: Callable[[], None] = lambda: time.sleep(0)) -> str:
    """The file at ``path`` sealed into ``{path}.sealed`` (whose path is returned). ``pause`` runs between
    records: where this shares the event loop with the chat (the embedded default) a green sleep lets it
    run, so no stall is longer than one record's encryption (about a millisecond per MiB)."""
    out_path = path + ".sealed"
    with open(path, "rb") as source, open(out_path, "wb") as out:
        writer = SealingWriter(vault, conv_id, out, sealed=True)
        while chunk := source.read(SEAL_CHUNK):
            writer.write(chunk)
            pause()
        writer.finish()
    os.remove(path)   # the plain copy does not outlive its sealing (the work directory goes anyway)
    return out_path


def read_exactly(body: IO[bytes]) -> Callable[[int], bytes]:
    """``read(n)``: n bytes, fewer only at the end (a network stream may return less per call)."""
    def read(n: int) -> bytes:
        parts, got = [], 0
        while got < n:
            part = body.read(n - got)
            if not part:
                break
            parts.append(part)
            got += len(part)
        return b"".join(parts)
    return read


def opened_chunks(vault: Vault, conv_id: str, body: IO[bytes]) -> Iterator[bytes]:
    """The plain bytes of a sealed file read from ``body`` (closed at the end, or when the reader stops)."""
    try:
        yield from vault.open_chunks(conv_id, read_exactly(body))
    finally:
        body.close()
