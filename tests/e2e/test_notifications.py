"""Notifications and scheduling against the real system: beat inside the process, a real SMTP server process."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.e2e.harness import Api, make_conversation, own_system, wait_until

pytestmark = pytest.mark.e2e


def soon(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


@pytest.fixture(scope="module")
def mail_system(smtp_server):
    with own_system(SMTP_URL=smtp_server.url, MAIL_FROM="Chat <chat@e2e.test>", APP_URL="http://e2e.test",
                    DISPATCH_EVERY_SECONDS="0.3", EMAIL_SWEEP_EVERY_SECONDS="0.3",
                    EMAIL_MINUTE_SECONDS="1") as system:   # emailDelayMinutes: 2 is two seconds here
        yield system


def login(system, username=None, email=None) -> Api:
    api = Api.__new__(Api)
    api.system, api.username = system, username or f"u{time.time_ns() % 10**10}"
    r = requests.post(system.url + "/api/dev/token", json={"username": api.username, **({"email": email} if email else {})},
                      timeout=5)
    assert r.status_code == 200, r.text
    api.token, api.user = r.json()["token"], r.json()["user"]
    api.id = api.user["id"]
    return api


def test_mention_is_stored_live_delivered_and_read_on_every_device(mail_system, clients):
    alice, bob, carol = Api(mail_system), Api(mail_system), Api(mail_system)
    _, conv = make_conversation(alice, bob, carol)
    phone, laptop = bob.socket(), bob.socket()
    clients.extend([phone, laptop])
    for s in (phone, laptop):
        s.wait_for("session:ready")
    alice.ok("POST", f"/api/conversations/{conv['id']}/messages",
             json={"clientId": "m1", "content": f"@{bob.username} look"})
    [note] = phone.wait_for("notification:new")
    assert note["type"] == "mention" and note["userId"] == bob.id and note["status"] == "sent"
    assert phone.call("notification:delivered", {"ids": [note["id"]]}) == {"ok": True, "delivered": 1}
    assert phone.call("notification:delivered", {"ids": ["0" * 24]})["error"]["code"] == "not_found"
    theirs = carol.ok("GET", "/api/notifications")["notifications"]   # only their user sees them
    assert [n["type"] for n in theirs] == ["added"] and all(n["userId"] == carol.id for n in theirs)
    r = carol.call("POST", "/api/notifications/read", json={"ids": [note["id"]]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    unread = bob.ok("GET", "/api/notifications?status=unread")
    assert unread["unread"] == 2 and {n["type"] for n in unread["notifications"]} == {"mention", "added"}
    assert bob.ok("POST", "/api/notifications/read", json={"all": True}) == {"unread": 0}
    [read] = laptop.wait_for("notification:read")
    assert read == {"all": True, "unread": 0}
    [listed] = [n for n in bob.ok("GET", "/api/notifications")["notifications"] if n["type"] == "mention"]
    assert listed["status"] == "read" and listed["deliveredAt"] and listed["readAt"]
    for bad in ("status=new", "limit=0", "before=xyz"):
        assert bob.call("GET", f"/api/notifications?{bad}").status_code == 400


def test_a_scheduled_message_goes_through_the_inbox_once_at_its_time(mail_system, clients):
    alice, bob = Api(mail_system), Api(mail_system)
    _, conv = make_conversation(alice, bob)
    b = bob.socket()
    clients.append(b)
    b.wait_for("session:ready")
    assert b.call("conv:subscribe", {"convId": conv["id"]})["ok"]
    path = f"/api/conversations/{conv['id']}/scheduled-messages"
    r = alice.call("POST", path, json={"clientId": "later-1", "content": "from the past", "sendAt": soon(1.5)})
    assert r.status_code == 201, r.text
    item = r.json()
    assert alice.call("POST", path, json={"clientId": "later-1", "content": "x", "sendAt": soon(60)}).json()["id"] == item["id"]
    assert bob.call("PATCH", f"/api/scheduled-messages/{item['id']}", json={"content": "mine"}).status_code == 404
    assert bob.call("DELETE", f"/api/scheduled-messages/{item['id']}").status_code == 404
    assert alice.call("POST", path, json={"clientId": "x", "content": "x", "sendAt": "2000-01-01T00:00:00Z"}
                      ).json()["error"]["code"] == "invalid_time"
    assert b.got("message:new") == []   # not early
    [message] = b.wait_for("message:new", timeout=10)
    assert message["clientId"] == "later-1" and message["content"] == "from the past"
    time.sleep(1)
    assert [m["clientId"] for m in bob.chat(conv["id"])] == ["later-1"]   # once
    [listed] = alice.ok("GET", path)["scheduledMessages"]
    assert listed["status"] == "sent"
    assert alice.call("DELETE", f"/api/scheduled-messages/{item['id']}").json()["error"]["code"] == "invalid_state"


def test_an_offline_user_gets_one_email_and_an_online_one_none(mail_system, smtp_server, clients):
    alice = Api(mail_system)
    bob = login(mail_system, email="bob@e2e.test")
    dana = login(mail_system, email="dana@e2e.test")
    assert bob.user["email"] == "bob@e2e.test"
    for user in (bob, dana):
        user.ok("PATCH", "/api/me/notification-settings", json={"emailDelayMinutes": 2})
    assert bob.call("PATCH", "/api/me/notification-settings", json={"emailDelayMinutes": 1441}
                    ).json()["error"]["code"] == "invalid_settings"
    bob.ok("PATCH", "/api/me", json={"language": "de"})
    _, with_bob = make_conversation(alice, bob, title="alice+bob")
    _, with_dana = make_conversation(alice, dana, title="alice+dana")
    members = alice.ok("GET", f"/api/conversations/{with_bob['id']}/members")["members"]
    assert all("email" not in m["user"] for m in members)   # shown to nobody else
    d = dana.socket()   # dana is online
    clients.append(d)
    d.wait_for("session:ready")
    for conv in (with_bob, with_dana):
        for i in range(3):
            alice.ok("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": f"e{i}", "content": f"hi {i}"})
    wait_until(lambda: smtp_server.to("bob@e2e.test"), 15, 0.1, "bob's email")
    time.sleep(3)
    [mail] = smtp_server.to("bob@e2e.test")   # one email for the three messages
    assert "Nachricht" in mail["Subject"] and mail["Message-ID"].endswith("@e2e.test>")
    body = mail.get_body(("plain",)).get_content()
    assert all(f"hi {i}" in body for i in range(3)) and f"http://e2e.test/#conv={with_bob['id']}" in body
    assert smtp_server.to("dana@e2e.test") == []
    assert bob.ok("GET", "/api/me/notification-settings")["lastEmail"]["status"] == "sent"


def test_smtp_down_is_retried_then_failed_with_the_reason(clients):
    with own_system(SMTP_URL="smtp://127.0.0.1:9", EMAIL_MAX_RETRIES="2", EMAIL_RETRY_BACKOFF_SECONDS="0.2",
                    EMAIL_SWEEP_EVERY_SECONDS="0.3") as system:
        alice, bob = Api(system), login(system, email="bob@down.test")
        bob.ok("PATCH", "/api/me/notification-settings", json={"emailDelayMinutes": 0})
        _, conv = make_conversation(alice, bob)
        alice.ok("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": "x", "content": "hello?"})
        last = wait_until(lambda: (e := bob.ok("GET", "/api/me/notification-settings")["lastEmail"])
                          and e["status"] == "failed" and e, 20, 0.2, "the digest to fail")
        assert "refused" in last["error"].lower()
        log = system.log_path.read_text()
        assert log.count("retry 1 in") == 1 and log.count("retry 2 in") == 1


def test_being_added_is_a_notification(mail_system, clients):
    alice, bob = Api(mail_system), Api(mail_system)
    b = bob.socket()
    clients.append(b)
    b.wait_for("session:ready")
    group = alice.ok("POST", "/api/groups", json={"name": "the club"})
    alice.ok("POST", f"/api/groups/{group['id']}/members", json={"username": bob.username})
    [note] = b.wait_for("notification:new")
    assert note["type"] == "added" and note["data"]["groupId"] == group["id"] and alice.username in note["title"]
