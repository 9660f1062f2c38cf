"""Notifications and email digests at rest (infra/storage/notifications.py, pipelines/notifications/sealing.py):
in an encrypted conversation the stored BSON of notifications, email windows and digests holds none of the
words written; the REST list, ``notification:new``, reminders and the email (through a real SMTP server)
carry them in clear; bodies stored before the key are sealed by the walk; a notification without a
conversation and a plain conversation are unchanged."""
from __future__ import annotations

from datetime import timedelta

import bson
import pytest

from infra.crypto import LocalMasterKeys
from infra.embedded.mongo import embedded_client
from infra.mailer import SmtpMailer
from infra.storage import Store
from pipelines.moderation.log import tell_user
from pipelines.notifications import stored as notifications
from pipelines.notifications.sealing import do_seal_stored_notifications
from pipelines.notifications.stored import do_notify
from schemas.common import new_id, utcnow
from schemas.payloads import NotificationSettingsUpdate, ReminderCreate
from schemas.tasks import NotificationRequest
from tests.conftest import make_conversation, make_user
from tests.pipelines.notifications.test_stored import TTL, deliver, from_messages, listing, post, sweep

TEXT = "@bob the Kerguelen rendezvous moved to Thursday"
WORDS = ("Kerguelen", "rendezvous", "Thursday")


@pytest.fixture
def store() -> Store:
    """Encryption on for every conversation (ENCRYPT_ALL), with a master key of this test's own."""
    s = Store(embedded_client()["test"], LocalMasterKeys(LocalMasterKeys.generate("test-1")), encrypt_all=True)
    s.ensure_indexes()
    return s


def leaked(store, *collections) -> list[str]:
    data = b"".join(bson.encode(d) for name in collections for d in store.db[name].find())
    return [w for w in WORDS if w.encode() in data]


@pytest.fixture
def people(store):
    alice, bob = make_user(store, "alice"), make_user(store, "bob", email="bob@example.com")
    conv = make_conversation(store, [alice, bob, make_user(store, "carol")])
    notifications.do_update_settings(store, bob, NotificationSettingsUpdate(emailDelayMinutes=0), 5)
    return alice, bob, conv


def test_a_mention_is_sealed_at_rest_and_plain_in_the_list_and_the_live_event(store, notifier, people):
    alice, bob, conv = people
    message = post(store, conv, alice, TEXT, mentions=[bob.id])
    from_messages(store, notifier, conv, [message])
    [doc] = store.db.notifications.find({"userId": bob.id})
    assert isinstance(doc["body"], bytes) and leaked(store, "notifications") == []
    [(event, room)] = notifier.emitter.of("notification:new")
    assert room == f"user:{bob.id}" and all(w in event["body"] for w in WORDS)
    [listed] = listing(store, bob)["notifications"]
    assert listed["body"] == event["body"] and "Kerguelen rendezvous" in listed["body"]
    # A redelivered task finds the stored one (read back opened), stores and emits nothing more.
    from_messages(store, notifier, conv, [message])
    assert len(notifier.emitter.of("notification:new")) == 1


def test_a_reminder_is_sealed_and_dispatched_in_clear(store, notifier, people):
    alice, bob, conv = people
    message = post(store, conv, alice, TEXT)
    now = utcnow()
    notifications.do_create_reminder(store, bob, message.id, ReminderCreate(at=(now + timedelta(minutes=1)).isoformat()),
                                     now=now, max_days_ahead=365, ttl_days=TTL)
    assert leaked(store, "notifications") == []
    assert notifications.dispatch_due_reminders(store, notifier, now=now + timedelta(minutes=2), lease_seconds=30).reminders == 1
    [(event, _)] = notifier.emitter.of("notification:new")
    assert event["type"] == "reminder" and "Kerguelen" in event["body"]


def test_the_digest_stores_no_text_and_the_email_is_composed_in_clear(store, notifier, people, smtp_server):
    alice, bob, conv = people
    smtp_server.clear()
    message = post(store, conv, alice, TEXT, mentions=[bob.id])
    told_at = message.createdAt + timedelta(milliseconds=300)
    notifications.notify_from_messages(store, notifier, conv.id, [message.id], now=told_at, ttl_days=30,
                                       default_delay=5, is_online=lambda ids: {i: False for i in ids},
                                       email_enabled=True)
    [digest_id] = sweep(store, told_at + timedelta(seconds=1))
    assert deliver(store, SmtpMailer(smtp_server.url), digest_id, told_at + timedelta(seconds=1)).status == "sent"
    [mail] = smtp_server.to("bob@example.com")
    assert "Kerguelen rendezvous moved to Thursday" in mail.get_body(("plain",)).get_content()
    assert store.db.digests.count_documents({}) == 1
    assert leaked(store, "notifications", "digests", "email_windows", "notification_settings") == []


def test_bodies_stored_before_the_key_are_sealed_by_the_walk(store, notifier, people):
    alice, bob, conv = people
    messages = [post(store, conv, alice, f"{TEXT} {i}", mentions=[bob.id]) for i in range(3)]
    from_messages(store, notifier, conv, messages)
    # As stored before the conversation was encrypted: plain bodies (and a redacted one, empty).
    for doc in store.db.notifications.find():
        store.db.notifications.update_one({"_id": doc["_id"]}, {"$set": {"body": store.vault.open(conv.id, doc["body"])}})
    store.notifications.redact_message_notifications(messages[2].id, utcnow())
    assert len(leaked(store, "notifications")) == 3
    assert [n["body"] for n in listing(store, bob)["notifications"]][1:] == [f"{TEXT} 1", f"{TEXT} 0"]
    assert do_seal_stored_notifications(store, conv.id, 1) == 1       # bounded
    assert do_seal_stored_notifications(store, conv.id, 10) == 1
    assert do_seal_stored_notifications(store, conv.id, 10) == 0      # done: the empty body stays as it is
    assert leaked(store, "notifications") == []
    assert [n["body"] for n in listing(store, bob)["notifications"]] == ["", f"{TEXT} 1", f"{TEXT} 0"]


def test_a_notification_without_a_conversation_stays_plain(store, notifier, people):
    """``moderation`` (about a group) and ``added`` carry no conversation: nothing to seal them with."""
    alice, bob, conv = people
    tell_user(lambda request: do_notify(store, notifier, [request], now=utcnow(), ttl_days=TTL),
              bob.id, f"mod:{new_id()}", "You were muted", "Muted for the Kerguelen thread", conv.groupId)
    [doc] = store.db.notifications.find({"type": "moderation"})
    assert doc["body"] == "Muted for the Kerguelen thread"
    assert listing(store, bob)["notifications"][0]["body"] == "Muted for the Kerguelen thread"


def test_a_plain_conversation_is_unchanged(notifier):
    """No master key (the default): bodies are stored as written and the walk seals nothing."""
    plain = Store(embedded_client()["test"])
    plain.ensure_indexes()
    alice, bob = make_user(plain, "alice"), make_user(plain, "bob")
    conv = make_conversation(plain, [alice, bob, make_user(plain, "carol")])
    do_notify(plain, notifier, [NotificationRequest(userId=bob.id, type="mention", key="k1", convId=conv.id,
                                                    title="t", body=TEXT)], now=utcnow(), ttl_days=TTL)
    assert plain.db.notifications.find_one({"key": "k1"})["body"] == TEXT
    assert do_seal_stored_notifications(plain, conv.id, 10) == 0
