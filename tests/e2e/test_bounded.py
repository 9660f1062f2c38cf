"""Bounded jobs against the real system: a real SMTP server process refusing with 5xx, then 4xx; email "at once"
for a mention in a group conversation; the digest's end, and how many attempts reached the server."""
from __future__ import annotations

import time

import pytest

from tests.e2e.harness import Api, make_conversation, own_system, wait_until
from tests.e2e.test_notifications import login
from tests.smtp import SmtpServer

pytestmark = pytest.mark.e2e


def last_email(user: Api, status: str) -> dict | None:
    email = user.ok("GET", "/api/me/notification-settings")["lastEmail"]
    return email if email and email["status"] == status else None


def test_smtp_5xx_fails_at_once_and_4xx_is_retried_up_to_the_cap(clients):
    smtp = SmtpServer(reply="550 5.7.1 we do not take mail from you").start()
    try:
        with own_system(SMTP_URL=smtp.url, EMAIL_MAX_RETRIES="2", EMAIL_RETRY_BACKOFF_SECONDS="0.2",
                        EMAIL_SWEEP_EVERY_SECONDS="0.3", SWEEP_EVERY_SECONDS="0.5") as system:
            alice = Api(system)
            bob, carol = login(system, email="bob@bounded.test"), login(system, email="carol@bounded.test")
            for user in (bob, carol):   # "at once"
                user.ok("PATCH", "/api/me/notification-settings", json={"emailDelayMinutes": 0})
            _, conv = make_conversation(alice, bob, carol)   # three members: only mentions are emailed

            alice.ok("POST", f"/api/conversations/{conv['id']}/messages",
                     json={"clientId": "m1", "content": f"@{bob.username} look"})
            failed = wait_until(lambda: last_email(bob, "failed"), 20, 0.2, "bob's digest to fail")
            assert "550" in failed["error"]
            time.sleep(2)   # a retry (there must be none) would have come by now
            assert smtp.attempts() == ["bob@bounded.test"]

            smtp.set_reply("451 4.3.0 try again later")
            alice.ok("POST", f"/api/conversations/{conv['id']}/messages",
                     json={"clientId": "m2", "content": f"@{carol.username} look"})
            failed = wait_until(lambda: last_email(carol, "failed"), 30, 0.2, "carol's digest to fail")
            assert "451" in failed["error"]
            time.sleep(2)
            assert smtp.attempts().count("carol@bounded.test") == 3   # EMAIL_MAX_RETRIES 2: three attempts
            log = system.log_path.read_text()
            assert log.count("retry 1 in") == 1 and log.count("retry 2 in") == 1 and "retry 3 in" not in log
    finally:
        smtp.stop()


def test_clamd_refusing_a_file_past_its_limit_fails_it_with_the_reason_and_returns_the_quota(clamd_server):
    """clamd answers "INSTREAM size limit exceeded" (not a verdict): the file ends failed, not processing
    forever, and its bytes count against the uploader's quota no more."""
    from tests.clamd_server import ClamdServer
    from tests.e2e.test_media import complete, upload
    small = ClamdServer(stream_max_bytes=1 << 20).start()   # (skips like clamd_server without the binary)
    try:
        with own_system(CLAMD_URL=small.url, UPLOAD_QUOTA_BYTES=str(4 << 20)) as system:
            alice, bob = Api(system), Api(system)
            _, conv = make_conversation(alice, bob)
            data = b"a line of notes\n" * (3 << 16)   # 3 MiB: under the quota, over clamd's limit
            created = upload(alice, conv["id"], data, "text/plain", "notes.txt")
            complete(alice, created["id"])
            doc = wait_until(lambda: (d := alice.ok("GET", f"/api/media/{created['id']}"))["status"] != "processing"
                             and d, 30, 0.2, "the scan")
            assert doc["status"] == "failed" and doc["error"]["code"] == "scan_failed"
            assert "size limit" in doc["error"]["message"]
            # The 3 MiB came back: another 3 MiB file fits in the 4 MiB quota.
            again = alice.call("POST", "/api/uploads", json={"convId": conv["id"], "filename": "again.txt",
                                                             "size": len(data), "mimeType": "text/plain"})
            assert again.status_code == 201, again.text
    finally:
        small.stop()
