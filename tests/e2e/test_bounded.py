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
