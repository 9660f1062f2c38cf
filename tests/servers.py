"""Servers shared by the whole test session, started on first use and stopped at exit: one moto S3
server serves the S3 tests and every system the e2e and browser tests start (each system gets a bucket
of its own, so that their CORS rules do not overwrite each other)."""
from __future__ import annotations

import atexit
import threading

from infra.embedded.s3_server import MotoS3Server

_lock = threading.Lock()
_s3: MotoS3Server | None = None


def session_s3_server() -> MotoS3Server:
    global _s3
    with _lock:
        if _s3 is None or _s3.process is None or _s3.process.poll() is not None:
            _s3 = MotoS3Server().start()
            atexit.register(_s3.stop)
        return _s3
