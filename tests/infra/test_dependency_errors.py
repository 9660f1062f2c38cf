"""chat_dependency_errors: each failed call to S3 (a real moto server), SMTP (a real aiosmtpd) or clamd counted
once, by service and operation, where our client raises it; answers that are not failures (a missing key, a
file found infected) are not counted."""
from __future__ import annotations

import socket
import threading
import uuid
from email.message import EmailMessage

import pytest
from botocore.exceptions import ClientError

from infra.blobs import BlobNotFound, S3Blobs, StorageUnavailable
from infra.embedded.redis_server import free_port
from infra.mailer import MailError, SmtpMailer
from infra.scanner import ClamdScanner, ScanError, ScannerUnavailable
from tests.metric_samples import sample
from tests.smtp import SmtpServer


def errors(service: str, operation: str) -> float:
    return sample("chat_dependency_errors_total", service=service, operation=operation)


def s3_at(url: str, bucket: str | None = None) -> S3Blobs:
    return S3Blobs(endpoint_url=url, bucket=bucket or f"test-{uuid.uuid4().hex[:12]}", access_key_id="test",
                   secret_access_key="test", connect_timeout=1, read_timeout=2)


def test_s3_errors_are_counted_once_by_operation_and_a_missing_key_is_not_one(s3_server):
    blobs = s3_at(s3_server.url)
    blobs.ensure_bucket(["http://127.0.0.1:5000"])
    gets, puts = errors("s3", "GetObject"), errors("s3", "PutObject")
    with pytest.raises(BlobNotFound):
        blobs.open_read("no/such/key")
    assert errors("s3", "GetObject") == gets   # an answer, not a failure
    with pytest.raises(ClientError):
        s3_at(s3_server.url, bucket="no-such-bucket-here").put_bytes("k", b"x", "text/plain")
    assert errors("s3", "PutObject") == puts + 1


def test_s3_away_is_counted_once_per_call_whatever_botocore_retried():
    away = s3_at(f"http://127.0.0.1:{free_port()}")
    puts, lists = errors("s3", "PutObject"), errors("s3", "ListObjectsV2")
    with pytest.raises(StorageUnavailable):
        away.put_bytes("k", b"x", "text/plain")
    with pytest.raises(StorageUnavailable):
        away.delete_prefix("media/")   # its listing fails: counted there, not again by the caller
    assert (errors("s3", "PutObject"), errors("s3", "ListObjectsV2")) == (puts + 1, lists + 1)


def mail() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "chat@example.org", "alice@example.org", "digest"
    message.set_content("hello")
    return message


def test_smtp_errors_are_counted_by_the_stage_that_failed(smtp_server):
    connects, logins, sends = errors("smtp", "connect"), errors("smtp", "login"), errors("smtp", "send")
    with pytest.raises(MailError):
        SmtpMailer(f"smtp://127.0.0.1:{free_port()}", timeout=2).send(mail())
    with pytest.raises(MailError):   # this server offers no AUTH
        SmtpMailer(f"smtp://user:secret@127.0.0.1:{smtp_server.port}", timeout=5).send(mail())
    SmtpMailer(smtp_server.url, timeout=5).send(mail())   # delivered: nothing counted
    refusing = SmtpServer(reply="550 5.1.1 no such user").start()
    try:
        with pytest.raises(MailError) as refused:
            SmtpMailer(refusing.url, timeout=5).send(mail())
    finally:
        refusing.stop()
    assert refused.value.permanent
    assert (errors("smtp", "connect"), errors("smtp", "login"), errors("smtp", "send")) == (
        connects + 1, logins + 1, sends + 1)


class FakeClamd:
    """A clamd that reads one command and its stream, then answers ``reply`` (a real one: tests/clamd_server)."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\0\0\0\0") and not data.endswith(b"zPING\0"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                conn.sendall(self.reply)


def test_clamd_errors_are_counted_by_operation_and_an_infected_file_is_not_one():
    scans, pings = errors("clamd", "scan"), errors("clamd", "ping")
    with pytest.raises(ScannerUnavailable):
        ClamdScanner(f"tcp://127.0.0.1:{free_port()}", connect_timeout=1).scan([b"x"])
    with pytest.raises(ScannerUnavailable):
        ClamdScanner(f"tcp://127.0.0.1:{free_port()}", connect_timeout=1).ping()
    with pytest.raises(ScanError):
        ClamdScanner(FakeClamd(b"INSTREAM size limit exceeded. ERROR\0").url, timeout=5).scan([b"x" * 100])
    assert ClamdScanner(FakeClamd(b"stream: Eicar-Signature FOUND\0").url, timeout=5).scan([b"x"]).status == "infected"
    assert (errors("clamd", "scan"), errors("clamd", "ping")) == (scans + 2, pings + 1)
