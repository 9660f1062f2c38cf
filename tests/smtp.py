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

from infra.embedded.redis_server import free_port, stop_process


class Refusing:
    """An aiosmtpd handler that answers every message's DATA with the reply in a file (``550 ...``,
    ``451 ...``: read at each message, so a test changes it while the server runs) and writes a line per
    attempt to another, so a test counts what reached the server."""

    def __init__(self, reply_path: str, attempts_path: str) -> None:
        self.reply_path, self.attempts_path = Path(reply_path), Path(attempts_path)

    @classmethod
    def from_cli(cls, parser, reply_path: str, attempts_path: str) -> "Refusing":
        return cls(reply_path, attempts_path)

    async def handle_DATA(self, server, session, envelope) -> str:
        with open(self.attempts_path, "a") as f:
            f.write(f"{','.join(envelope.rcpt_tos)}\n")
        return self.reply_path.read_text().strip()


class SmtpServer:
    """``reply``: answer every message with it (a refusing server, see Refusing) instead of keeping it."""

    def __init__(self, reply: str | None = None) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="smtp-"))
        self.process: subprocess.Popen | None = None
        self.refusing = reply is not None
        if reply is not None:
            self.set_reply(reply)

    def set_reply(self, reply: str) -> None:
        """What a refusing server answers from now on."""
        (self.dir / "reply").write_text(reply)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "SmtpServer":
        handler = (["tests.smtp.Refusing", str(self.dir / "reply"), str(self.dir / "attempts")] if self.refusing
                   else ["aiosmtpd.handlers.Mailbox", str(self.dir / "mail")])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}", "-c", *handler],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
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

    def attempts(self) -> list[str]:
        """A refusing server's attempts so far: one recipient list per message it refused."""
        path = self.dir / "attempts"
        return path.read_text().splitlines() if path.exists() else []

    def clear(self) -> None:
        mailbox.Maildir(self.dir / "mail", create=True).clear()

    def stop(self) -> None:
        stop_process(self.process, timeout=5)
