"""Per-user limits on client events, end to end: a real server with small limits; each limited event, over
a socket or REST, is refused past its limit with ``rate_limited`` and when to retry, and does nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.harness import Api, make_conversation, own_system, wait_until

pytestmark = pytest.mark.e2e

ACTIONS = ("REACTION", "READ", "DELIVERED", "DELETE", "REPORT", "UPLOAD", "EXPORT", "REMINDER")
LIMITS = {f"{action}_RATE_LIMIT": "2/30 seconds" for action in ACTIONS}


def _refused_ack(ack: dict) -> None:
    assert ack["ok"] is False and ack["error"]["code"] == "rate_limited", ack
    assert 1 <= ack["error"]["details"]["retryAfter"] <= 30


def _refused_rest(r) -> None:
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited", r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 30 and r.json()["error"]["details"]["retryAfter"] >= 1


def test_each_limited_event_is_refused_past_its_limit_with_when_to_retry():
    with own_system(**LIMITS) as system:
        alice, bob = Api(system), Api(system)
        _, conv = make_conversation(alice, bob)
        cid = conv["id"]
        a, b = alice.socket(), bob.socket()
        try:
            for sock in (a, b):
                sock.wait_for("session:ready")
                assert sock.call("conv:subscribe", {"convId": cid})["ok"]
            for i in range(3):
                assert a.call("message:send", {"convId": cid, "clientId": f"m{i}",
                                               "content": f"message {i} @{bob.username}"})["ok"]
            messages = wait_until(lambda: (m := alice.chat(cid)) and len(m) == 3 and m, what="three messages")
            ids, seqs = [m["id"] for m in messages], [m["seq"] for m in messages]
            mentions = wait_until(lambda: len(n := b.got("notification:new")) == 3 and n, what="bob's mentions")

            # Socket events: two pass, the third is refused; another user is counted apart.
            socket_cases = [
                ("reaction:add", [{"messageId": mid, "emoji": "👍"} for mid in ids]),
                ("message:read", [{"convId": cid, "seq": seq} for seq in seqs]),
                ("notification:delivered", [{"ids": [n["id"]]} for n in mentions]),
            ]
            for event, payloads in socket_cases:
                acks = [b.call(event, p) for p in payloads]
                assert [x["ok"] for x in acks] == [True, True, False], (event, acks)
                _refused_ack(acks[2])
            assert a.call("reaction:add", {"messageId": ids[2], "emoji": "👍"})["ok"]  # alice has her own count

            # REST: reports and reminders (bob), uploads and exports (alice).
            at = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
            rest_cases = [
                (bob, [("POST", f"/api/messages/{mid}/reports", {"reason": "spam"}) for mid in ids]),
                (bob, [("POST", f"/api/messages/{mid}/reminders", {"at": at}) for mid in ids]),
                (alice, [("POST", "/api/uploads", {"convId": cid, "filename": f"f{i}.png", "size": 1000,
                                                   "mimeType": "image/png"}) for i in range(3)]),
                # An invalid request is refused before it is counted.
                (alice, [("POST", f"/api/conversations/{cid}/exports", body) for body in
                         ({"format": "json", "bogus": 1}, {"format": "json"}, {"format": "csv"}, {"format": "pdf"})]),
            ]
            for who, calls in rest_cases:
                answers = [who.call(method, path, json=body) for method, path, body in calls]
                assert [r.status_code < 300 for r in answers][-3:] == [True, True, False], [r.text for r in answers]
                _refused_rest(answers[-1])

            # Deletes: the third is refused and its message stays.
            acks = [a.call("message:delete", {"messageId": mid}) for mid in ids]
            assert [x["ok"] for x in acks] == [True, True, False]
            _refused_ack(acks[2])
            wait_until(lambda: [m["isDeleted"] for m in alice.chat(cid)] == [True, True, False],
                       what="two messages deleted, the third kept")
            # The refused reaction did nothing: the third message holds alice's reaction alone.
            [third] = [m for m in alice.chat(cid) if m["id"] == ids[2]]
            assert [r["userId"] for r in third["reactions"]] == [alice.id]
        finally:
            a.close()
            b.close()
