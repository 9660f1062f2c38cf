"""Digests that always end: email "at once" really sends; SMTP 5xx fails at once; 4xx and network errors are
retried with a cap held on the record (whatever the number of tasks); the sweeper ends the rest."""
from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest

from infra.mailer import MailError, SmtpMailer, classify
from pipelines.notifications import digests
from pipelines.notifications import stored as notifications
from pipelines.upkeep import sweeper
from schemas.payloads import NotificationSettingsUpdate
from tests.conftest import make_conversation, make_user
from tests.pipelines.notifications.test_stored import deliver, delivery, post, sweep
from tests.smtp import SmtpServer


class Mailer:
    """Answers each send from a list of outcomes (None: accepted; a MailError: raised)."""

    def __init__(self, *outcomes):
        self.outcomes, self.sent, self.tries = list(outcomes), [], 0

    def send(self, message):
        self.tries += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append(message)


PERMANENT = MailError("SMTPDataError: (550, b'5.7.1 rejected')", permanent=True, code=550)
TEMPORARY = MailError("SMTPDataError: (451, b'4.3.0 try later')", code=451)


@pytest.fixture
def mention(store, notifier):
    """A mention of offline bob in a three-member group conversation, bob asking for email at once."""
    alice, bob, carol = make_user(store, "alice"), make_user(store, "bob", email="bob@example.com"), make_user(store, "carol")
    conv = make_conversation(store, [alice, bob, carol])
    notifications.do_update_settings(store, bob, NotificationSettingsUpdate(emailDelayMinutes=0), 5)
    message = post(store, conv, alice, "@bob look at this", mentions=[bob.id])
    # The notifications task runs a little after the message was stored (as it does: it is queued).
    told_at = message.createdAt + timedelta(milliseconds=300)
    notifications.notify_from_messages(store, notifier, conv.id, [message.id], now=told_at, ttl_days=30,
                                       default_delay=5, is_online=lambda ids: {i: False for i in ids},
                                       email_enabled=True)
    [digest_id] = sweep(store, told_at + timedelta(seconds=1))
    return bob, digest_id, told_at + timedelta(seconds=1)


def test_email_at_once_sends_the_mention(store, mention):
    """emailDelayMinutes 0: the window is due at the message's own time, before the notification of it was
    stored; the digest must still cover it (it covered only up to the due time: skipped, "nothing unread")."""
    bob, digest_id, now = mention
    mailer = Mailer()
    result = deliver(store, mailer, digest_id, now)
    assert result.status == "sent" and result.items == 1
    assert "@bob look at this" in mailer.sent[0].get_body(("plain",)).get_content()
    assert sweep(store, now + timedelta(hours=1)) == []   # the window is closed: nothing sent twice


def test_a_5xx_answer_fails_the_digest_at_once_with_the_reason(store, mention):
    bob, digest_id, now = mention
    mailer = Mailer(PERMANENT)
    result = deliver(store, mailer, digest_id, now, max_attempts=5)
    assert result.status == "failed" and mailer.tries == 1
    digest = store.digests.get_digest(digest_id)
    assert digest.status == "failed" and digest.attempts == 1 and "550" in digest.error
    assert notifications.get_settings(store, bob, 5)["lastEmail"]["status"] == "failed"
    assert deliver(store, mailer, digest_id, now + timedelta(minutes=1)).status == "done" and mailer.tries == 1


def test_4xx_is_retried_from_retry_at_up_to_the_cap_whatever_the_number_of_tasks(store, mention):
    bob, digest_id, now = mention
    mailer = Mailer(TEMPORARY, TEMPORARY, TEMPORARY, TEMPORARY)
    waits = delivery(3)
    waits = digests.Delivery(**{**waits.__dict__, "backoff": lambda attempts: 10 * attempts})
    run = lambda at: digests.deliver_digest(store, mailer, lambda uid: False, digest_id, now=at,  # noqa: E731
                                            default_delay=5, delivery=waits)
    first = run(now)
    assert first.status == "retry" and first.retry_at == now + timedelta(seconds=10)
    # Parallel chains: the retry task, a redelivery and the sweep's resend all arrive early: none claims.
    assert [run(now + timedelta(seconds=5)).status for _ in range(3)] == ["busy"] * 3 and mailer.tries == 1
    t = now + timedelta(seconds=10)
    assert run(t).status == "retry" and run(t).status == "busy"   # two tasks at the same moment: one attempt
    t += timedelta(seconds=20)
    assert run(t).status == "failed" and mailer.tries == 3        # the third of three attempts was the last
    assert [run(t + timedelta(hours=1)).status for _ in range(3)] == ["done"] * 3 and mailer.tries == 3
    digest = store.digests.get_digest(digest_id)
    assert digest.status == "failed" and digest.attempts == 3 and "451" in digest.error


def test_only_the_claim_holder_finishes_a_digest(store, mention):
    bob, digest_id, now = mention
    first = store.digests.claim_digest(digest_id, now, now + timedelta(seconds=30), "first", 3)
    later = now + timedelta(seconds=31)   # its lease ran out: another worker takes it over
    second = store.digests.claim_digest(digest_id, later, later + timedelta(seconds=30), "second", 3)
    assert first is not None and second is not None and second.attempts == 2
    assert store.digests.finish_digest(digest_id, "first", "sent", later) is False
    assert store.digests.release_digest(digest_id, "first", "x", later, later) is False
    assert store.digests.get_digest(digest_id).status == "claimed"
    assert store.digests.finish_digest(digest_id, "second", "sent", later) is True


def test_the_sweeper_resends_a_lost_task_and_fails_one_whose_last_attempt_was_interrupted(store, mention):
    bob, digest_id, now = mention
    lease = timedelta(seconds=30)
    queued = []
    assert sweeper.sweep_digests(store, queued.append, now=now, lease=lease, max_attempts=2).done == {}
    # The task was lost (the sweep queued it, the broker dropped it): resent after a lease.
    assert sweeper.sweep_digests(store, queued.append, now=now + 2 * lease, lease=lease,
                                 max_attempts=2).done == {"requeued": 1} and queued == [digest_id]
    # Two workers are killed mid-send, each holding the claim: the second was the last attempt.
    t = now + 2 * lease
    for _ in range(2):
        assert store.digests.claim_digest(digest_id, t, t + lease, "killed", 2) is not None
        t += 2 * lease
    assert store.digests.claim_digest(digest_id, t, t + lease, "another", 2) is None   # the cap holds
    assert sweeper.sweep_digests(store, queued.append, now=t + lease, lease=lease, max_attempts=2).done == {"failed": 1}
    digest = store.digests.get_digest(digest_id)
    assert digest.status == "failed" and "gave up after 2 attempts" in digest.error
    assert notifications.get_settings(store, bob, 5)["lastEmail"]["error"] == digest.error


@pytest.mark.parametrize("exc, permanent", [
    (smtplib.SMTPDataError(550, b"5.7.1 rejected"), True),
    (smtplib.SMTPDataError(451, b"4.3.0 try later"), False),
    (smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"no such user")}), True),
    (smtplib.SMTPRecipientsRefused({"a@b.c": (452, b"mailbox full")}), False),
    (smtplib.SMTPSenderRefused(553, b"bad sender", "x@y.z"), True),
    (smtplib.SMTPAuthenticationError(535, b"bad credentials"), True),
    (smtplib.SMTPServerDisconnected("gone"), False),
    (ConnectionRefusedError(111, "Connection refused"), False),
    (TimeoutError("timed out"), False),
])
def test_smtp_errors_are_sorted_into_permanent_and_worth_retrying(exc, permanent):
    assert classify(exc).permanent is permanent


@pytest.mark.parametrize("reply, permanent", [("550 5.7.1 we do not want it", True), ("451 4.3.0 try later", False)])
def test_a_real_smtp_server_refusing_is_classified_by_its_reply(reply, permanent):
    server = SmtpServer(reply=reply).start()
    try:
        message = digests.EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "hi"
        message.set_content("hello")
        with pytest.raises(MailError) as refused:
            SmtpMailer(server.url).send(message)
        assert refused.value.permanent is permanent and refused.value.code == int(reply[:3])
        assert server.attempts() == ["b@example.com"]
    finally:
        server.stop()
