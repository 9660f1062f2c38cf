"""A client's retry is answered to that client alone; request bodies are bounded (issue 8)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.e2e.harness import Api, make_conversation, wait_until

pytestmark = pytest.mark.e2e


def _connect(clients, api: Api, conv_id: str):
    c = api.socket()
    clients.append(c)
    c.wait_for("session:ready")
    assert c.call("conv:subscribe", {"convId": conv_id})["ok"]
    return c


def test_a_retry_after_delivery_reaches_the_retrying_socket_only(system, clients):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    a1, a2, b = _connect(clients, alice, conv["id"]), _connect(clients, alice, conv["id"]), _connect(clients, bob, conv["id"])
    for i in range(100):  # a burst from both members
        for sock, who in ((a1, "a"), (b, "b")):
            assert sock.call("message:send", {"convId": conv["id"], "clientId": f"{who}{i}", "content": f"{who} {i}"})["ok"]
    wait_until(lambda: len(b.got("message:new")) == 200, 30, what="the burst to be delivered")

    # alice's ack for a50 was lost, say: her client sends it again with the same clientId.
    ack = a1.call("message:send", {"convId": conv["id"], "clientId": "a50", "content": "a 50"})
    assert ack == {"ok": True, "clientId": "a50", "status": "queued"}
    wait_until(lambda: sum(m["clientId"] == "a50" for m in a1.got("message:new")) == 2, what="the retry's answer")
    assert b.call("message:send", {"convId": conv["id"], "clientId": "last", "content": "after the retry"})["ok"]
    for sock in (a1, a2, b):
        wait_until(lambda: any(m["clientId"] == "last" for m in sock.got("message:new")), what="the last message")

    stored = {m["clientId"]: m for page in ("limit=200&after=1", "after=201") for m in alice.chat(conv["id"], page)}
    assert len(stored) == 201
    for sock in (a2, b):  # the other tab of the sender, and the other member: every message exactly once
        got = sock.got("message:new")
        assert sorted(m["seq"] for m in got) == list(range(2, 203))
        assert len({m["clientId"] for m in got}) == 201
    # The retrying socket got it twice, the second time to reconcile its pending copy: the stored message.
    first, again = [m for m in a1.got("message:new") if m["clientId"] == "a50"]
    assert first == again and again["id"] == stored["a50"]["id"] and again["seq"] == stored["a50"]["seq"]
    assert len(a1.got("message:new")) == 202


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_50_mb_body_is_refused_before_it_is_read(system):
    alice = Api(system)
    _, conv = make_conversation(alice)
    url = f"{system.url}/api/conversations/{conv['id']}/messages"
    headers = {"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"}
    body = b'{"clientId": "big", "content": "' + b"x" * (50 << 20) + b'"}'
    before = _rss_kib(system.process.pid)
    started = time.monotonic()
    r = requests.post(url, data=body, headers=headers, timeout=30)
    elapsed = time.monotonic() - started
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large", r.text
    assert r.json()["error"]["details"] == {"length": len(body), "limit": 1 << 20}
    assert elapsed < 5, f"413 took {elapsed:.1f}s"

    def chunks():  # no Content-Length: werkzeug stops reading at the limit
        for _ in range(50):
            yield b"x" * (1 << 20)
    r = requests.post(url, data=chunks(), headers=headers, timeout=30)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large", r.text
    assert r.json()["error"]["details"] == {"length": (1 << 20) + 1, "limit": 1 << 20}
    assert _rss_kib(system.process.pid) - before < 20 * 1024, "the web process grew by 20 MB or more"

    # Below the limit a body is read as usual (chunked too), and nothing of the refused ones was stored.
    r = requests.post(url, json={"clientId": "small", "content": "y" * 9000}, headers=headers, timeout=10)
    assert r.status_code == 202
    r = requests.post(url, data=iter([b'{"clientId": "chunked", ', b'"content": "z"}']), headers=headers, timeout=10)
    assert r.status_code == 202, r.text
    wait_until(lambda: [m["clientId"] for m in alice.chat(conv["id"])] == ["small", "chunked"], what="the small messages")
