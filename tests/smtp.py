"""A real SMTP server process for the email tests: aiosmtpd's CLI with its Maildir handler, in a subprocess."""
from __future__ import annotations

import mailbox
import socket
import subprocess
import sys
import tempfile
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from infra.redis_server import free_port, stop_process


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="smtp-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "SmtpServer":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}", "-c",
             "aiosmtpd.handlers.Mailbox", str(self.dir / "mail")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"aiosmtpd exited: {self.process.stderr.read().decode()[-2000:]}")
                time.sleep(0.05)
        raise RuntimeError("aiosmtpd did not start listening")

    def messages(self) -> list[EmailMessage]:
        """Every message received so far (the server writes each one to the Maildir as it arrives)."""
        box = mailbox.Maildir(self.dir / "mail", create=True)
        return [message_from_bytes(box.get_bytes(key), policy=policy.default) for key in sorted(box.keys())]

    def to(self, address: str) -> list[EmailMessage]:
        """The messages whose To holds ``address`` (whatever display name goes with it)."""
        return [m for m in self.messages() if any(a.addr_spec == address for a in m["To"].addresses)]

    def clear(self) -> None:
        mailbox.Maildir(self.dir / "mail", create=True).clear()

    def stop(self) -> None:
        stop_process(self.process, timeout=5)
