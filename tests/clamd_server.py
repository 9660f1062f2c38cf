"""Starts Debian's real clamd (package clamav-daemon) for the tests, with a signature database made here.

No freshclam (no network, and the official databases are hundreds of MB): the database directory holds
one `.ndb` body signature that matches the EICAR test string anywhere in a stream, so ClamAV's real
engine finds it, by the real INSTREAM protocol. clamd reports signatures from unsigned databases with
a `.UNOFFICIAL` suffix (`Eicar-Test-Signature.UNOFFICIAL`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from infra.embedded.redis_server import _die_with_parent, free_port, stop_process
from infra.scanner import ClamdScanner, ScannerUnavailable

SIGNATURE = "Eicar-Test-Signature"
# The EICAR anti-virus test file (harmless by design), built from two halves so that this source file is
# not itself reported by scanners on developers' machines.
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")


def clamd_binary() -> str | None:
    return shutil.which("clamd") or next((p for p in ("/usr/sbin/clamd",) if os.path.exists(p)), None)


@dataclass
class ClamdServer:
    port: int = 0
    stream_max_bytes: int = 64 << 20
    process: subprocess.Popen | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="chat-clamd-")))

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "ClamdServer":
        binary = clamd_binary()
        if binary is None:
            raise RuntimeError("clamd is not installed (apt-get install clamav-daemon)")
        self.port = self.port or free_port()
        db, tmp = self.workdir / "db", self.workdir / "tmp"
        db.mkdir(exist_ok=True)
        tmp.mkdir(exist_ok=True)
        # MalwareName:TargetType:Offset:HexSignature (ClamAV's extended signature format): any file type,
        # at any offset.
        (db / "eicar.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
        config = self.workdir / "clamd.conf"
        config.write_text("\n".join([
            "Foreground yes",
            f"TCPSocket {self.port}",
            "TCPAddr 127.0.0.1",
            f"DatabaseDirectory {db}",
            f"TemporaryDirectory {tmp}",
            f"LogFile {self.workdir / 'clamd.log'}",
            f"PidFile {self.workdir / 'clamd.pid'}",
            f"StreamMaxLength {self.stream_max_bytes // (1 << 20)}M",
            "MaxThreads 4",
            "Bytecode no",
            "",
        ]))
        self.process = subprocess.Popen([binary, "--config-file", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=_die_with_parent)
        scanner = ClamdScanner(self.url, timeout=5, connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            try:
                scanner.ping()
                return self
            except ScannerUnavailable:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.workdir / "clamd.log")
                    detail = log.read_text()[-2000:] if log.exists() else ""
                    self.stop()
                    raise RuntimeError(f"clamd did not start on port {self.port}: {detail}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.process)
        shutil.rmtree(self.workdir, ignore_errors=True)
