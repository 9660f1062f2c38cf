"""The virus scanner: an interface (`Scanner`) and its implementation on clamd's INSTREAM command.

clamd (ClamAV's daemon) listens on TCP or a Unix socket (`CLAMD_URL` = tcp://host:port or
unix:///path). A scan sends `zINSTREAM\\0`, then the bytes as frames of a 4-byte big-endian length and
that many bytes, then a zero-length frame; clamd answers one line, `stream: OK`,
`stream: <signature> FOUND`, or `... ERROR` (e.g. `INSTREAM size limit exceeded. ERROR`: clamd's
StreamMaxLength, 25 MB by default, must be at least the largest upload).

The PyPI clients (clamd, pyclamd and their forks clamdpy, clamav-client) read from a file object and
report errors as strings or generic exceptions; this small client streams any iterable of chunks and
tells a transient failure (`ScannerUnavailable`: retry) from a refusal of this file (`ScanError`).

Without a scanner (no `CLAMD_URL`) there is no Scanner at all: the caller records the step as
"skipped", never as "clean".

Each failed call is counted once, here (``chat_dependency_errors{service="clamd", operation="scan"|"ping"}``):
clamd unreachable or breaking off, or answering an error. A file found infected is an answer, not an error.
"""
from __future__ import annotations

import socket
import struct
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Literal, Protocol
from urllib.parse import urlsplit

from infra.metrics import DEPENDENCY_ERRORS

FRAME = 1 << 20  # bytes per INSTREAM frame (clamd's StreamMaxLength bounds the total, not the frame)


class ScannerUnavailable(Exception):
    """clamd could not be reached or broke off: transient, retry later."""


class ScanError(Exception):
    """clamd answered but could not scan this stream (too large, a format it failed on): not transient."""


@dataclass(frozen=True)
class ScanResult:
    status: Literal["clean", "infected"]
    signature: str | None = None


class Scanner(Protocol):
    def scan(self, chunks: Iterable[bytes]) -> ScanResult: ...


def parse_reply(reply: str) -> ScanResult:
    """`stream: OK` -> clean; `stream: Eicar-Signature FOUND` -> infected; anything else -> ScanError."""
    line = reply.strip("\0\r\n ")
    _, sep, verdict = line.partition(": ")
    verdict = verdict if sep else line
    if verdict == "OK":
        return ScanResult("clean")
    if verdict.endswith(" FOUND"):
        return ScanResult("infected", verdict[: -len(" FOUND")].strip())
    raise ScanError(f"clamd: {line or 'no answer'}")


@contextmanager
def _counted(operation: str):
    try:
        yield
    except (ScannerUnavailable, ScanError):
        DEPENDENCY_ERRORS.labels("clamd", operation).inc()
        raise


class ClamdScanner:
    """One connection per scan (clamd's default; its own thread pool serves them in parallel)."""

    def __init__(self, url: str, timeout: float = 120.0, connect_timeout: float = 5.0) -> None:
        parts = urlsplit(url)
        if parts.scheme == "tcp" and parts.hostname and parts.port:
            self._family, self._address = socket.AF_INET, (parts.hostname, parts.port)
        elif parts.scheme == "unix" and parts.path:
            self._family, self._address = socket.AF_UNIX, parts.path
        else:
            raise ValueError(f"CLAMD_URL must be tcp://host:port or unix:///path, not {url!r}")
        self.url, self.timeout, self.connect_timeout = url, timeout, connect_timeout

    def _connect(self) -> socket.socket:
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.connect_timeout)
            sock.connect(self._address)
            sock.settimeout(self.timeout)
            return sock
        except OSError as exc:
            sock.close()
            raise ScannerUnavailable(f"clamd at {self.url} unreachable: {exc}") from exc

    @staticmethod
    def _read_reply(sock: socket.socket) -> str:
        data = b""
        while not data.endswith(b"\0"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")

    def ping(self) -> None:
        with _counted("ping"):
            self._ping()

    def _ping(self) -> None:
        with self._connect() as sock:
            try:
                sock.sendall(b"zPING\0")
                reply = self._read_reply(sock).strip("\0\n")
            except OSError as exc:
                raise ScannerUnavailable(f"clamd at {self.url}: {exc}") from exc
        if reply != "PONG":
            raise ScannerUnavailable(f"clamd at {self.url} answered {reply!r} to PING")

    def scan(self, chunks: Iterable[bytes]) -> ScanResult:
        with _counted("scan"):
            return self._scan(chunks)

    def _scan(self, chunks: Iterable[bytes]) -> ScanResult:
        with self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
                try:
                    for chunk in chunks:
                        view = memoryview(chunk).cast("B")
                        for start in range(0, len(view), FRAME):
                            frame = view[start:start + FRAME]
                            sock.sendall(struct.pack(">I", len(frame)))
                            sock.sendall(frame)
                    sock.sendall(struct.pack(">I", 0))
                except (BrokenPipeError, ConnectionResetError):
                    # clamd stops reading (and answers) when the stream passes StreamMaxLength.
                    pass
                reply = self._read_reply(sock)
            except OSError as exc:
                raise ScannerUnavailable(f"clamd at {self.url} broke off: {exc}") from exc
        if not reply:
            raise ScannerUnavailable(f"clamd at {self.url} closed the connection without an answer")
        return parse_reply(reply)
