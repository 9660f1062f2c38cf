"""Stored notifications and email digests: sources, preferences, statuses, visibility, one email per window."""
from __future__ import annotations

from datetime import timedelta

import pytest

from infra.mailer import MailError, SmtpMailer
from pipelines.notifications import digests
from pipelines.notifications import stored as notifications
from schemas.common import new_id, utcnow
from schemas.documents import Message, MessageMetadata, SenderInfo
from schemas.errors import ApiError, Code
from schemas.payloads import IdPage, NotificationQuery, NotificationSettingsUpdate, NotificationsRead, ReminderCreate
from tests.conftest import make_conversation, make_user

TTL = 30


def post(store, conv, sender, content, *, mentions=None, reply_to=None, at=None):
    seq = store.messages.max_seq(conv.id) + 1
    message = Message(id=new_id(), convId=conv.id, seq=seq, clientId=new_id(), senderId=sender.id,
                      senderInfo=SenderInfo.of(sender), content=content,
                      metadata=MessageMetadata(mentions=mentions, replyTo=reply_to),
                      createdAt=at or utcnow(), updatedAt=utcnow())
    store.messages.insert_message(message)
    store.conversations.advance_conversation(conv.id, seq, message.createdAt)
    return message


def from_messages(store, notifier, conv, messages, online=(), email=True, now=None):
    return notifications.notify_from_messages(
        store, notifier, conv.id, [m.id for m in messages], now=now or utcnow(), ttl_days=TTL, default_delay=5,
        is_online=lambda ids: {i: i in online for i in ids}, email_enabled=email)


def listing(store, user, status="all", now=None):
    return notifications.list_notifications(store, user, NotificationQuery(status, IdPage(None, 50)), now or utcnow())


def test_mentions_and_replies_are_stored_emitted_sent_and_only_visible_to_their_user(store, notifier):
    alice, bob, carol = (make_user(store, n) for n in ("alice", "bob", "carol"))
    conv = make_conversation(store, [alice, bob, carol])
    first = post(store, conv, bob, "hello")
    reply = post(store, conv, alice, "@carol see this", mentions=[carol.id], reply_to=first.id)
    from_messages(store, notifier, conv, [reply])
    from_messages(store, notifier, conv, [reply])   # a redelivered task: nothing twice
    events = notifier.emitter.of("notification:new")
    assert sorted((d["type"], r) for d, r in events) == [("mention", f"user:{carol.id}"), ("reply", f"user:{bob.id}")]
    [bobs] = listing(store, bob)["notifications"]
    assert bobs["status"] == "sent" and bobs["data"]["messageId"] == reply.id and "key" not in bobs
    assert listing(store, alice)["notifications"] == [] and listing(store, carol)["unread"] == 1
    with pytest.raises(ApiError) as err:   # someone else's notification: unknown to you, nothing changes
        notifications.do_mark_read(store, notifier, alice, NotificationsRead(ids=[bobs["id"]]), utcnow())
    assert err.value.code == Code.NOT_FOUND and listing(store, bob)["unread"] == 1
    with pytest.raises(ApiError) as err:   # one unknown id among good ones: nothing changes
        notifications.do_mark_read(store, notifier, bob, NotificationsRead(ids=[bobs["id"], new_id()]), utcnow())
    assert listing(store, bob)["unread"] == 1
    assert notifications.do_mark_delivered(store, bob, [bobs["id"]], utcnow()) == 1
    assert notifications.do_mark_read(store, notifier, bob, NotificationsRead(ids=[bobs["id"]]), utcnow()) == 0
    [(read, room)] = notifier.emitter.of("notification:read")
    assert read == {"ids": [bobs["id"]], "unread": 0} and room == f"user:{bob.id}"
    assert notifications.do_mark_delivered(store, bob, [bobs["id"]], utcnow()) == 0   # read never goes back
    assert listing(store, bob)["notifications"][0]["status"] == "read"


def test_expired_notifications_are_never_returned(store, notifier):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob, make_user(store, "carol")])
    from_messages(store, notifier, conv, [post(store, conv, alice, "@bob", mentions=[bob.id])])
    later = utcnow() + timedelta(days=TTL + 1)   # past expiresAt, before any TTL monitor ran
    assert listing(store, bob, now=later) == {"notifications": [], "hasMore": False, "unread": 0}
    [n] = listing(store, bob)["notifications"]
    with pytest.raises(ApiError):
        notifications.do_mark_read(store, notifier, bob, NotificationsRead(ids=[n["id"]]), later)


def test_conversation_preferences_none_and_mentions(store, notifier):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])   # direct: two members
    notifications.do_update_settings(store, bob, NotificationSettingsUpdate(conversations={conv.id: "none"}), 5)
    from_messages(store, notifier, conv, [post(store, conv, alice, "@bob hi", mentions=[bob.id])])
    assert notifier.emitter.of("notification:new") == [] and store.digests.due_email_windows(utcnow() + timedelta(hours=1), 9) == []
    notifications.do_update_settings(store, bob, NotificationSettingsUpdate(conversations={conv.id: "mentions"}), 5)
    from_messages(store, notifier, conv, [post(store, conv, alice, "no mention")])
    assert store.digests.due_email_windows(utcnow() + timedelta(hours=1), 9) == []   # a direct message, but mentions only
    from_messages(store, notifier, conv, [post(store, conv, alice, "@bob now", mentions=[bob.id])])
    assert len(notifier.emitter.of("notification:new")) == 1
    for bad in ({"emailDelayMinutes": 1441}, {"emailDelayMinutes": -1}):
        with pytest.raises(Exception):
            NotificationSettingsUpdate(**bad)
    carol = make_user(store, "carol")
    with pytest.raises(ApiError) as err:   # not one of carol's conversations: refused, nothing stored
        notifications.do_update_settings(store, carol, NotificationSettingsUpdate(conversations={conv.id: "none"}), 5)
    assert err.value.code == Code.FORBIDDEN and notifications.get_settings(store, carol, 5)["conversations"] == {}


def test_a_reminder_is_sent_once_at_its_time(store, notifier):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    message = post(store, conv, alice, "the plan")
    now = utcnow()
    reminder = notifications.do_create_reminder(store, bob, message.id, ReminderCreate(at=(now + timedelta(minutes=5)).isoformat()),
                                                now=now, max_days_ahead=365, ttl_days=TTL)
    assert reminder.status == "pending" and listing(store, bob)["notifications"] == []
    assert listing(store, bob, "scheduled")["notifications"][0]["id"] == reminder.id
    for at in (now, now + timedelta(minutes=4)):   # none early
        assert notifications.dispatch_due_reminders(store, notifier, now=at, lease_seconds=30).reminders == 0
    due = now + timedelta(minutes=5, seconds=1)
    # A dispatcher claims it and dies: nothing is sent until its lease expires, then once.
    assert store.notifications.claim_due_notification(due, due + timedelta(seconds=30), "dead") is not None
    assert notifications.dispatch_due_reminders(store, notifier, now=due, lease_seconds=30).reminders == 0
    after = due + timedelta(seconds=31)
    assert notifications.dispatch_due_reminders(store, notifier, now=after, lease_seconds=30).reminders == 1
    assert notifications.dispatch_due_reminders(store, notifier, now=after, lease_seconds=30).reminders == 0
    [(sent, room)] = notifier.emitter.of("notification:new")
    assert sent["type"] == "reminder" and room == f"user:{bob.id}"
    carol = make_user(store, "carol")
    for user, body, code in [(carol, {"at": (now + timedelta(hours=1)).isoformat()}, Code.FORBIDDEN),
                             (bob, {"at": (now - timedelta(hours=1)).isoformat()}, Code.INVALID_TIME),
                             (bob, {"at": "2099-01-01T10:00", "timeZone": "Nowhere/Land"}, Code.INVALID_TIME_ZONE)]:
        with pytest.raises(ApiError) as err:
            notifications.do_create_reminder(store, user, message.id, ReminderCreate(**body), now=now,
                                             max_days_ahead=365, ttl_days=TTL)
        assert err.value.code == code


# -- email ---------------------------------------------------------------------------------------
class DownMailer:
    def __init__(self):
        self.tries = 0

    def send(self, message):
        self.tries += 1
        raise MailError("ConnectionRefusedError: [Errno 111] Connection refused")


def delivery(max_attempts=3):
    return digests.Delivery(lease_seconds=30, max_attempts=max_attempts, backoff=lambda attempts: 0,
                            app_url="http://chat.test", mail_from="Chat <chat@chat.test>")


def deliver(store, mailer, digest_id, now, online=(), max_attempts=3):
    return digests.deliver_digest(store, mailer, lambda uid: uid in online, digest_id, now=now, default_delay=5,
                                  delivery=delivery(max_attempts))


def sweep(store, now):
    queued = []
    digests.sweep_email_windows(store, queued.append, now=now, default_delay=5)
    return queued


@pytest.fixture
def direct(store):
    alice = make_user(store, "alice")
    bob = make_user(store, "bob", email="bob@example.com", language="fr", fname="Bob")
    return alice, bob, make_conversation(store, [alice, bob], title="Alice & Bob")


def test_one_email_per_window_in_the_users_language_and_the_same_message_id_on_a_retry(store, notifier, smtp_server, direct):
    alice, bob, conv = direct
    smtp_server.clear()
    t0 = utcnow()
    msgs = [post(store, conv, alice, f"message {i} <b>", at=t0 + timedelta(seconds=i)) for i in range(3)]
    from_messages(store, notifier, conv, msgs[:2])
    from_messages(store, notifier, conv, msgs[2:])
    assert sweep(store, t0 + timedelta(minutes=4)) == []   # not due yet
    [digest_id] = sweep(store, t0 + timedelta(minutes=6))
    assert sweep(store, t0 + timedelta(minutes=6)) == []   # the window is closed: one digest
    mailer = SmtpMailer(smtp_server.url)
    now = t0 + timedelta(minutes=6)
    # The worker sends, then dies before recording it: the task is redelivered after the lease.
    assert deliver(store, mailer, digest_id, now).status == "sent"
    store.db.digests.update_one({"_id": digest_id}, {"$set": {"status": "claimed", "claimedUntil": now, "retryAt": now}})
    assert deliver(store, mailer, digest_id, now + timedelta(seconds=31)).status == "sent"
    assert deliver(store, mailer, digest_id, now + timedelta(seconds=62)).status == "done"
    mails = smtp_server.to("bob@example.com")
    assert len(mails) == 2 and mails[0]["Message-ID"] == mails[1]["Message-ID"] == digests.message_id_header(
        digest_id, "chat@chat.test")
    mail = mails[0]
    assert mail["Subject"].startswith("3 nouveau") and mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    html_part = mail.get_body(("html",)).get_content()
    assert all(f"message {i} <b>" in text for i in range(3)) and "message 0 &lt;b&gt;" in html_part
    assert f"http://chat.test/#conv={conv.id}" in text and "Ouvrir la conversation" in text


def test_a_digest_carries_no_header_or_markup_from_what_people_wrote(store, smtp_server):
    """Names, titles and texts with line breaks, headers and markup, through a real SMTP server."""
    smtp_server.clear()
    bob = make_user(store, "bob", email="bob@example.com", fname="Bob\r\nBcc: eve@evil.test", lname='"Le" Martin, é')
    hostile = ("</li><script>alert(1)</script>\r\nSubject: pwned"
               "\n.\nMAIL FROM:<eve@evil.test>\r\n.\r\nRCPT TO:<eve@evil.test>\rDATA")   # SMTP smuggling
    items = [digests.Item("c1", '</h3><img src=x onerror=alert(2)> "Q3"\r\nX-Evil: 1', 7, "alice", hostile, "mention")]
    message = digests.render_digest(bob, items, app_url="http://chat.test", mail_from="Chat <chat@chat.test>",
                                    message_id="<digest.x@chat.test>", now=utcnow())
    SmtpMailer(smtp_server.url).send(message)
    [mail] = smtp_server.messages()   # one message, to bob: the dots ended no DATA
    assert [(a.display_name, a.addr_spec) for a in mail["To"].addresses] == [
        ('Bob Bcc: eve@evil.test "Le" Martin, é', "bob@example.com")]
    assert mail["Bcc"] is None and mail["X-Evil"] is None and mail.get_all("Subject") == ["1 new message(s) while you were away"]
    assert str(mail["From"]) == "Chat <chat@chat.test>"
    page = mail.get_body(("html",)).get_content()
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;/h3&gt;&lt;img src=x onerror=alert(2)&gt; &quot;Q3&quot;" in page
    text = mail.get_body(("plain",)).get_content()
    assert "RCPT TO:<eve@evil.test>" in text and '# </h3><img src=x onerror=alert(2)> "Q3" X-Evil: 1\n' in text


def test_an_address_the_email_parser_refuses_is_used_without_the_name():
    from infra.mailer import address
    assert str(address("Bob", "a..b@example.com")) == "a..b@example.com"
    assert str(address("Bob\u202e\x00 B", "bob@example.com")) == "Bob B <bob@example.com>"


def test_batches_noted_out_of_order_still_give_one_digest_with_every_message(store, notifier, direct):
    """Each stored batch has its own notifications task, and two tasks can run in either order: the
    window must still open at the earliest message (it opened at the later one, and lost the first)."""
    alice, bob, conv = direct
    t0 = utcnow()
    first, second = (post(store, conv, alice, f"message {i}", at=t0 + timedelta(milliseconds=40 * i)) for i in range(2))
    from_messages(store, notifier, conv, [second])
    from_messages(store, notifier, conv, [first])
    [digest_id] = sweep(store, t0 + timedelta(minutes=5))   # due five minutes after the first, not the second
    items = digests.collect_items(store, bob, store.digests.get_digest(digest_id), 5, t0 + timedelta(minutes=5))
    assert [i.text for i in items] == ["message 0", "message 1"]


def test_no_email_while_online_or_once_read_or_deleted(store, notifier, direct):
    alice, bob, conv = direct
    t0 = utcnow()
    from_messages(store, notifier, conv, [post(store, conv, alice, "seen live", at=t0)], online={bob.id})
    assert sweep(store, t0 + timedelta(hours=1)) == []   # online when it arrived: no window at all
    read = post(store, conv, alice, "read later", at=t0)
    from_messages(store, notifier, conv, [read])
    [digest_id] = sweep(store, t0 + timedelta(minutes=6))
    assert deliver(store, DownMailer(), digest_id, t0 + timedelta(minutes=6), online={bob.id}).reason == "online"
    gone = post(store, conv, alice, "deleted later", at=t0 + timedelta(minutes=10))
    from_messages(store, notifier, conv, [gone])
    store.conversations.advance_read_mark(conv.id, bob.id, read.seq, utcnow())   # read the first meanwhile
    store.messages.delete_message(gone.id, alice.id, utcnow())             # and the second was deleted
    [digest_id] = sweep(store, t0 + timedelta(minutes=16))
    mailer = DownMailer()
    result = deliver(store, mailer, digest_id, t0 + timedelta(minutes=16))
    assert result.status == "skipped" and result.reason == "nothing unread" and mailer.tries == 0


def test_smtp_down_is_retried_then_failed_with_the_reason(store, notifier, direct):
    alice, bob, conv = direct
    t0 = utcnow()
    from_messages(store, notifier, conv, [post(store, conv, alice, "are you there?", at=t0)])
    [digest_id] = sweep(store, t0 + timedelta(minutes=6))
    mailer = DownMailer()
    now = t0 + timedelta(minutes=6)
    assert [deliver(store, mailer, digest_id, now).status for _ in range(2)] == ["retry", "retry"]
    assert store.digests.get_digest(digest_id).error.startswith("ConnectionRefusedError")
    final = deliver(store, mailer, digest_id, now)   # the third of 3 attempts: the last
    assert final.status == "failed" and mailer.tries == 3
    digest = store.digests.get_digest(digest_id)
    assert digest.status == "failed" and "Connection refused" in digest.error and digest.attempts == 3
    assert notifications.get_settings(store, bob, 5)["lastEmail"]["status"] == "failed"
    assert listing(store, bob)["notifications"] == []   # a direct message: nothing lost, it is still unread
    assert store.messages.history(conv.id, before=None, after=0, limit=10).messages[-1].content == "are you there?"
