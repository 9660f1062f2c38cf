"""The backbone end to end: real redis-server, real Celery worker, real eventlet server, real Socket.IO clients."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest
import redis
import requests
import socketio


from infra.embedded.redis_server import free_port
from tests.e2e.harness import JWT_SECRET, Api, Client, make_conversation, own_system, wait_until

pytestmark = pytest.mark.e2e


def _connect(clients, api: Api, conv_id: str | None = None) -> Client:
    c = api.socket()
    clients.append(c)
    c.wait_for("session:ready")
    if conv_id:
        assert c.call("conv:subscribe", {"convId": conv_id}) == {"ok": True, "convId": conv_id}
    return c


# -- identity ------------------------------------------------------------------------------------
def _expired_token(user_id: str) -> str:
    past = datetime.now(timezone.utc) - timedelta(hours=2)
    return jwt.encode({"sub": user_id, "iss": "chat-pipeline", "iat": past, "exp": past + timedelta(hours=1)},
                      JWT_SECRET, algorithm="HS256")


@pytest.mark.parametrize("kind", ["missing", "forged", "expired", "garbage"])
def test_bad_tokens_are_refused_at_connect_and_on_rest(system, kind):
    alice = Api(system)
    token = {"missing": None, "garbage": "not-a-jwt", "expired": _expired_token(alice.id),
             "forged": jwt.encode({"sub": alice.id, "iss": "chat-pipeline", "iat": datetime.now(timezone.utc),
                                   "exp": datetime.now(timezone.utc) + timedelta(hours=1)},
                                  "someone-elses-secret-" + "y" * 20, algorithm="HS256")}[kind]
    client = Client(system, token, connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.sio.connect(system.url, auth={"token": token} if token else None, transports=["websocket"],
                           wait_timeout=5)
    assert client.connect_error["message"] == "unauthorized"
    assert client.connect_error["data"]["reason"]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.get(system.url + "/api/me", headers=headers, timeout=5)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    expected = {"missing": "missing token", "expired": "token expired"}.get(kind, "invalid token")
    assert r.json()["error"]["message"].startswith(expected)


def test_session_ready_lists_the_users_groups_and_conversations(system, clients):
    alice, bob = Api(system), Api(system)
    group, conv = make_conversation(alice, bob)
    ready = _connect(clients, bob).got("session:ready")[0]
    assert ready["user"]["username"] == bob.username
    assert [(g["id"], g["role"]) for g in ready["groups"]] == [(group["id"], "MEMBER")]
    # The conversation_created system message (seq 1) is unread for bob, but not for alice who created it.
    assert [(c["id"], c["unread"], c["lastSeq"]) for c in ready["conversations"]] == [(conv["id"], 1, 1)]
    [mine] = alice.ok("GET", "/api/conversations")["conversations"]
    assert (mine["unread"], mine["lastReadSeq"]) == (0, 1)
    assert alice.ok("GET", "/api/me")["username"] == alice.username


# -- the message path ----------------------------------------------------------------------------
def test_send_is_acked_queued_then_stored_and_delivered_to_members(system, clients):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    a, b = _connect(clients, alice, conv["id"]), _connect(clients, bob, conv["id"])

    ack = a.call("message:send", {"convId": conv["id"], "clientId": "first", "content": "Salut tout le monde ! 👋"})
    assert ack == {"ok": True, "clientId": "first", "status": "queued"}

    [msg] = b.wait_for("message:new")
    assert (msg["seq"], msg["clientId"], msg["senderId"], msg["content"]) == (2, "first", alice.id,
                                                                             "Salut tout le monde ! 👋")
    assert msg["senderInfo"]["username"] == alice.username and msg["type"] == "text"
    assert a.wait_for("message:new")[0]["id"] == msg["id"]  # the sender reconciles by clientId
    history = bob.ok("GET", f"/api/conversations/{conv['id']}/messages")
    assert history["messages"][1:] == [msg] and not history["hasMore"]  # what was announced is what is stored
    [listed] = bob.ok("GET", "/api/conversations")["conversations"]
    assert (listed["lastSeq"], listed["unread"]) == (2, 2)


def test_rest_send_takes_the_same_path(system, clients):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    b = _connect(clients, bob, conv["id"])
    r = alice.call("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": "rest-1", "content": "via REST"})
    assert r.status_code == 202 and r.json() == {"clientId": "rest-1", "status": "queued"}
    assert b.wait_for("message:new")[0]["content"] == "via REST"


def test_same_client_id_twice_stores_one_message(system, clients):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    a = _connect(clients, alice, conv["id"])
    for _ in range(3):
        assert a.call("message:send", {"convId": conv["id"], "clientId": "dup", "content": "once"})["ok"]
    a.call("message:send", {"convId": conv["id"], "clientId": "after", "content": "next"})
    wait_until(lambda: any(m["clientId"] == "after" for m in a.got("message:new")), what="the last message")
    stored = alice.chat(conv["id"])
    assert [(m["seq"], m["clientId"]) for m in stored] == [(2, "dup"), (3, "after")]
    assert {m["id"] for m in a.got("message:new") if m["clientId"] == "dup"} == {stored[0]["id"]}


def test_order_with_concurrent_senders_and_worker_pool(system, clients):
    """Five senders at once, the worker pool at 4 threads: seq 2..N+1 (after the system message) without gaps, one order for all,
    each sender's messages in its send order."""
    owner = Api(system)
    senders = [Api(system) for _ in range(5)]
    watcher = Api(system)
    _, conv = make_conversation(owner, *senders, watcher)
    sockets = [_connect(clients, s, conv["id"]) for s in senders]
    receivers = [_connect(clients, watcher, conv["id"]), _connect(clients, owner, conv["id"])]
    per_sender = 40

    def blast(i):
        for n in range(per_sender):
            # Without waiting for acks: the socket's events are handled in emit order.
            sockets[i].sio.emit("message:send", {"convId": conv["id"], "clientId": f"s{i}-{n:03d}", "content": f"{i}/{n}"})

    threads = [threading.Thread(target=blast, args=(i,)) for i in range(len(senders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = per_sender * len(senders)
    # python-socketio's client runs each event handler in its own thread, so arrival order in the
    # test's lists is not the wire order; the order under test is seq, carried by every message.
    seen = [sorted(r.wait_for("message:new", total, timeout=30), key=lambda m: m["seq"]) for r in receivers]

    assert [m["seq"] for m in seen[0]] == list(range(2, total + 2))  # no gap, no repeat
    assert [m["id"] for m in seen[0]] == [m["id"] for m in seen[1]]  # everybody sees the same order
    for i, s in enumerate(senders):
        mine = [m["clientId"] for m in seen[0] if m["senderId"] == s.id]
        assert mine == [f"s{i}-{n:03d}" for n in range(per_sender)]
    history = owner.chat(conv["id"], "limit=200")
    assert [m["id"] for m in history] == [m["id"] for m in seen[0]]


# -- no leaks -------------------------------------------------------------------------------------
def test_non_member_neither_receives_nor_reads_a_conversation(system, clients):
    alice, bob, eve = Api(system), Api(system), Api(system)
    group, conv = make_conversation(alice, bob)
    alice.ok("POST", f"/api/groups/{group['id']}/members", json={"username": eve.username})  # same group, not the conv
    e = _connect(clients, eve)
    refused = e.call("conv:subscribe", {"convId": conv["id"]})
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    sent = e.call("message:send", {"convId": conv["id"], "clientId": "x", "content": "let me in"})
    assert sent["error"]["code"] == "not_a_member"
    r = eve.call("GET", f"/api/conversations/{conv['id']}/messages")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert eve.call("POST", f"/api/conversations/{conv['id']}/messages",
                    json={"clientId": "y", "content": "z"}).status_code == 403

    a = _connect(clients, alice, conv["id"])
    a.call("message:send", {"convId": conv["id"], "clientId": "secret", "content": "members only"})
    a.wait_for("message:new")
    time.sleep(0.3)
    assert e.got("message:new") == []
    assert [m["clientId"] for m in alice.chat(conv["id"])] == ["secret"]


def test_only_group_admins_manage_members(system):
    alice, bob, carol = Api(system), Api(system), Api(system)
    group, conv = make_conversation(alice, bob)
    r = bob.call("POST", f"/api/groups/{group['id']}/members", json={"username": carol.username})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = bob.call("POST", f"/api/conversations/{conv['id']}/members", json={"username": alice.username})
    assert r.status_code == 403
    r = alice.call("POST", f"/api/groups/{group['id']}/members", json={"username": bob.username})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"


# -- bad input ------------------------------------------------------------------------------------
BAD_SENDS = [
    ({"clientId": "b1", "content": "no conv"}, "invalid_payload"),
    ({"convId": 12, "clientId": "b2", "content": "wrong type"}, "invalid_payload"),
    ({"convId": "CONV", "content": "no client id"}, "invalid_payload"),
    ({"convId": "CONV", "clientId": "b3"}, "content_required"),
    ({"convId": "CONV", "clientId": "b4", "content": "x" * 10_001}, "content_too_long"),
    ({"convId": "CONV", "clientId": "b5", "content": "hi", "type": "image"}, "unsupported_type"),
    ({"convId": "0" * 24, "clientId": "b6", "content": "unknown conversation"}, "not_found"),
    ("just a string", "invalid_payload"),
]


def test_bad_input_gets_a_specific_code_and_enqueues_nothing(system, clients, redis_server):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    a = _connect(clients, alice, conv["id"])
    r = redis.Redis.from_url(redis_server.url)
    for payload, code in BAD_SENDS:
        if isinstance(payload, dict) and payload.get("convId") == "CONV":
            payload = {**payload, "convId": conv["id"]}
        ack = a.call("message:send", payload)
        assert ack["ok"] is False and ack["error"]["code"] == code, (payload, ack)
        assert ack["error"]["message"]
    assert r.xlen(f"inbox:conv:{conv['id']}") == 0 and not r.exists(f"inbox:conv:{'0' * 24}")

    for body, code in [({"content": "no client id"}, "invalid_payload"), ({"clientId": "c", "content": ""}, "content_required")]:
        resp = alice.call("POST", f"/api/conversations/{conv['id']}/messages", json=body)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == code
    assert alice.call("POST", f"/api/conversations/{conv['id']}/messages", data="{oops",
                      headers={"Content-Type": "application/json"}).json()["error"]["code"] == "invalid_payload"

    # Nothing was stored: the next good message follows the system message (seq 2), nobody was told of a rejection.
    a.call("message:send", {"convId": conv["id"], "clientId": "good", "content": "finally"})
    assert [m["seq"] for m in a.wait_for("message:new")] == [2]
    assert a.got("message:rejected") == []


@pytest.mark.parametrize("query, code", [("before=abc", "invalid_cursor"), ("after=-3", "invalid_cursor"),
                                         ("before=5&after=1", "invalid_cursor"), ("limit=0", "invalid_limit"),
                                         ("limit=201", "invalid_limit"), ("limit=many", "invalid_limit")])
def test_bad_history_cursor_or_limit(system, query, code):
    alice = Api(system)
    _, conv = make_conversation(alice)
    r = alice.call("GET", f"/api/conversations/{conv['id']}/messages?{query}")
    assert r.status_code == 400 and r.json()["error"]["code"] == code


def test_history_pages_and_polling_catch_up(system, clients):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    a = _connect(clients, alice, conv["id"])
    for i in range(7):
        a.call("message:send", {"convId": conv["id"], "clientId": f"h{i}", "content": f"m{i}"})
    a.wait_for("message:new", 7)
    path = f"/api/conversations/{conv['id']}/messages"

    def seqs(q):
        page = bob.ok("GET", f"{path}?{q}")
        return [m["seq"] for m in page["messages"]], page["hasMore"]

    # seq 1 is the conversation_created system message, then m0..m6 are seq 2..8.
    assert seqs("limit=3") == ([6, 7, 8], True)
    assert seqs("limit=3&before=6") == ([3, 4, 5], True)
    assert seqs("limit=3&before=3") == ([1, 2], False)
    assert seqs("after=5") == ([6, 7, 8], False)      # the polling fallback / reconnect catch-up
    assert seqs("after=3&limit=2") == ([4, 5], True)
    assert seqs("after=8") == ([], False)


def test_healthz_reports_each_part(system):
    assert requests.get(system.url + "/healthz", timeout=5).json() == {"redis": "ok", "mongo": "ok", "s3": "ok", "workers": "ok"}


def test_dev_login_off_and_no_worker_are_reported():
    # Its own broker, so no other test's worker answers the ping; without workers healthz answers 503.
    with own_system(ready=(200, 503), DEV_LOGIN="0", EMBEDDED_WORKERS="0") as other:
        r = requests.post(other.url + "/api/dev/token", json={"username": "alice"}, timeout=5)
        assert r.status_code == 403 and r.json()["error"]["code"] == "dev_login_disabled"
        health = requests.get(other.url + "/healthz", timeout=5)
        assert health.status_code == 503 and health.json()["workers"].startswith("error")
        assert health.json()["redis"] == "ok" and health.json()["mongo"] == "ok"


def test_without_s3_endpoint_the_app_starts_its_own_moto():
    with own_system(S3_ENDPOINT_URL="", S3_BUCKET="chat-media") as other:
        log = other.log_path.read_text()
        assert "started moto S3 on http://127.0.0.1:" in log and "(embedded, not persistent)" in log
        assert requests.get(other.url + "/healthz", timeout=5).json()["s3"] == "ok"


def test_s3_away_at_start_up_is_logged_and_reported_not_fatal():
    with own_system(ready=(503,), S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}") as other:
        assert "could not prepare the S3 bucket" in other.log_path.read_text()
        health = requests.get(other.url + "/healthz", timeout=10)
        assert health.status_code == 503 and health.json()["s3"].startswith("error: StorageUnavailable")
        assert health.json()["redis"] == "ok" and health.json()["workers"] == "ok"
        Api(other)  # the chat itself works
