"""Moderation end to end: the filter in the message path, live results in mod: rooms, decisions, reports,
mutes, bans, roles, flood control and the refusals — real server, real worker queues, real sockets."""
from __future__ import annotations

import threading

import pytest

from tests.e2e.harness import Api, make_conversation, own_system, wait_until

pytestmark = pytest.mark.e2e


class Team:
    """alice (group admin), carol (moderator), bob and dan (members), all in one conversation, connected
    and subscribed."""

    def __init__(self, system, clients) -> None:
        self.alice, self.carol, self.bob, self.dan = (Api(system) for _ in range(4))
        self.group, self.conv = make_conversation(self.alice, self.carol, self.bob, self.dan)
        self.gid, self.cid = self.group["id"], self.conv["id"]
        self.alice.ok("PATCH", f"/api/groups/{self.gid}/members/{self.carol.id}", json={"role": "MODERATOR"})
        self.sockets = {}
        for name in ("alice", "carol", "bob", "dan"):
            sock = getattr(self, name).socket()
            clients.append(sock)
            sock.wait_for("session:ready")
            assert sock.call("conv:subscribe", {"convId": self.cid})["ok"]
            self.sockets[name] = sock

    def rule(self, kind, pattern, action, who=None):
        return (who or self.carol).ok("POST", f"/api/groups/{self.gid}/filters",
                                      json={"kind": kind, "pattern": pattern, "action": action})

    def send(self, who: str, client_id: str, content: str) -> dict:
        return self.sockets[who].call("message:send", {"convId": self.cid, "clientId": client_id, "content": content})

    def delivered(self, who: str, client_id: str) -> list[dict]:
        return [m for m in self.sockets[who].got("message:new") if m["clientId"] == client_id]

    def mod_events(self, who: str) -> list:
        sock = self.sockets[who]
        with sock._lock:
            return [e for e in sock.events if e.startswith("moderation:")]


def test_moderators_see_filter_results_live_and_members_never_a_mod_event(system, clients):
    t = Team(system, clients)
    t.rule("word", "arnaque", "flag")
    assert t.send("bob", "f1", "Attention, c'est une ARNAQUE !")["ok"]

    [item] = t.sockets["carol"].wait_for("moderation:flagged")
    assert (item["kind"], item["status"], item["message"]["content"]) == ("filter", "pending",
                                                                          "Attention, c'est une ARNAQUE !")
    assert [(r["match"], r["start"], r["end"]) for r in item["reasons"]] == [("ARNAQUE", 21, 28)]
    t.sockets["alice"].wait_for("moderation:flagged")  # group admins are moderators too
    for who in ("bob", "dan"):
        wait_until(lambda: t.delivered(who, "f1"), what="the flagged message, delivered")
    assert t.alice.ok("GET", f"/api/groups/{t.gid}/reviews")["reviews"][0]["id"] == item["id"]
    # Reported by dan: the same item grows (one item per message), moderators hear it again.
    r = t.dan.call("POST", f"/api/messages/{item['messageId']}/reports", json={"reason": "spam"})
    assert r.status_code == 201 and r.json()["id"] == item["id"]
    wait_until(lambda: len(t.sockets["carol"].got("moderation:flagged")) == 2, what="the report, live")
    assert [x["kind"] for x in t.sockets["carol"].got("moderation:flagged")[1]["reasons"]] == ["filter", "report"]
    assert t.mod_events("bob") == [] and t.mod_events("dan") == []


def test_a_held_message_waits_for_a_moderator_then_takes_the_next_seq(system, clients):
    t = Team(system, clients)
    t.rule("link", "*", "hold")
    assert t.send("bob", "h1", "va voir www.exemple.fr")["ok"]
    [held] = t.sockets["bob"].wait_for("message:held")
    assert held["clientId"] == "h1" and held["convId"] == t.cid
    assert t.send("dan", "d1", "bonjour")["ok"]
    wait_until(lambda: t.delivered("bob", "d1"), what="dan's message")
    assert t.delivered("dan", "h1") == [] and [m["clientId"] for m in t.dan.chat(t.cid)] == ["d1"]

    # Two moderators decide at once: one wins, the other is told who did.
    results = []
    barrier = threading.Barrier(2)

    def decide(who, decision):
        barrier.wait()
        results.append(who.call("POST", f"/api/reviews/{held['reviewId']}/decision", json={"decision": decision}))

    threads = [threading.Thread(target=decide, args=(t.carol, "approve")),
               threading.Thread(target=decide, args=(t.alice, "approve"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(r.status_code for r in results) == [200, 409]
    lost = next(r for r in results if r.status_code == 409).json()["error"]
    assert lost["code"] == "already_decided" and lost["details"]["status"] == "approved"

    for who in ("bob", "dan"):
        wait_until(lambda: t.delivered(who, "h1"), what="the approved message")
    [approved] = t.delivered("dan", "h1")
    assert approved["seq"] == t.delivered("dan", "d1")[0]["seq"] + 1 and approved["senderId"] == t.bob.id
    assert [m["clientId"] for m in t.dan.chat(t.cid)] == ["d1", "h1"]
    t.sockets["carol"].wait_for("moderation:decided")
    log = t.carol.ok("GET", f"/api/groups/{t.gid}/moderation/log")["entries"]
    assert [e["action"] for e in log][:1] == ["review_approved"]


def test_a_rule_applies_to_the_very_next_send_and_blocked_messages_leave_no_trace(system, clients):
    t = Team(system, clients)
    assert t.send("bob", "a1", "quel idiot")["ok"]
    wait_until(lambda: t.delivered("dan", "a1"), what="the message before the rule")
    t.rule("word", "idiot", "block")
    assert t.send("bob", "a2", "quel idiot")["ok"]
    [rejected] = t.sockets["bob"].wait_for("message:rejected")
    assert (rejected["clientId"], rejected["code"]) == ("a2", "content_blocked") and "“idiot”" in rejected["reason"]
    assert t.send("bob", "a3", "pardon")["ok"]
    wait_until(lambda: t.delivered("dan", "a3"), what="the next message")
    assert t.delivered("dan", "a2") == []
    assert [m["clientId"] for m in t.dan.chat(t.cid)] == ["a1", "a3"]
    assert t.dan.ok("GET", f"/api/conversations/{t.cid}/search?q=idiot")["messages"][0]["clientId"] == "a1"


def test_every_moderation_route_refuses_non_moderators(system, clients):
    t = Team(system, clients)
    rule = t.rule("word", "spoiler", "hold")
    assert t.send("bob", "s1", "spoiler")["ok"]
    [held] = t.sockets["bob"].wait_for("message:held")
    g = f"/api/groups/{t.gid}"
    routes = [("GET", f"{g}/filters", None), ("POST", f"{g}/filters", {"kind": "word", "pattern": "x", "action": "flag"}),
              ("PATCH", f"{g}/filters/{rule['id']}", {"enabled": False}), ("DELETE", f"{g}/filters/{rule['id']}", None),
              ("POST", f"{g}/filters/test", {"text": "x"}), ("GET", f"{g}/moderation/settings", None),
              ("PATCH", f"{g}/moderation/settings", {"allowlist": ["x"]}), ("GET", f"{g}/reviews", None),
              ("GET", f"/api/reviews/{held['reviewId']}", None),
              ("POST", f"/api/reviews/{held['reviewId']}/decision", {"decision": "approve"}),
              ("GET", f"{g}/mutes", None), ("POST", f"{g}/mutes", {"username": t.bob.username, "minutes": 5, "reason": "x"}),
              ("DELETE", f"{g}/mutes/{t.bob.id}", None), ("GET", f"{g}/bans", None),
              ("POST", f"{g}/bans", {"username": t.bob.username, "reason": "x"}), ("DELETE", f"{g}/bans/{t.bob.id}", None),
              ("PATCH", f"{g}/members/{t.bob.id}", {"role": "MODERATOR"}), ("GET", f"{g}/moderation/log", None)]
    for method, path, body in routes:
        r = t.dan.call(method, path, json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (method, path, r.text)
    # A mere moderator cannot ban or change roles (group admins only).
    for method, path, body in routes[13:17]:
        r = t.carol.call(method, path, json=body)
        assert r.status_code == 403, (method, path, r.text)
    assert t.dan.ok("GET", "/api/moderation/groups")["groups"] == []
    assert [g["id"] for g in t.carol.ok("GET", "/api/moderation/groups")["groups"]] == [t.gid]
    assert t.carol.ok("GET", f"/api/reviews/{held['reviewId']}")["status"] == "pending"  # nothing changed
    assert t.mod_events("dan") == [] and t.mod_events("bob") == []


def test_bad_input_gets_a_specific_error_and_changes_nothing(system, clients):
    t = Team(system, clients)
    g = f"/api/groups/{t.gid}"
    rule = t.rule("word", "spoiler", "hold")
    assert t.send("bob", "s1", "spoiler")["ok"]
    [held] = t.sockets["bob"].wait_for("message:held")
    t.carol.ok("POST", f"/api/reviews/{held['reviewId']}/decision", json={"decision": "reject"})
    t.sockets["bob"].wait_for("message:rejected")  # the decision's effects (and their log entry) are done
    log_before = wait_until(lambda: (e := t.carol.ok("GET", f"{g}/moderation/log")["entries"])
                            and e[0]["action"] == "review_rejected" and e, what="the decision in the log")
    cases = [
        ("POST", f"{g}/filters", {"kind": "word", "pattern": "x", "action": "explode"}, 400, "invalid_payload"),
        ("POST", f"{g}/filters", {"kind": "glob", "pattern": "x", "action": "flag"}, 400, "invalid_payload"),
        ("POST", f"{g}/filters", {"kind": "word", "pattern": "  ", "action": "flag"}, 400, "invalid_pattern"),
        ("POST", f"{g}/filters", {"kind": "regex", "pattern": "a" * 1_000_000, "action": "flag"}, 400, "invalid_pattern"),
        ("POST", f"{g}/filters", {"kind": "regex", "pattern": "(\\w+)\\1", "action": "flag"}, 400, "invalid_pattern"),
        ("PATCH", f"{g}/filters/{rule['id']}", {"kind": "regex", "pattern": "(?!x)"}, 400, "invalid_pattern"),
        ("PATCH", f"{g}/filters/{'0' * 24}", {"enabled": False}, 404, "not_found"),
        ("POST", f"{g}/mutes", {"username": "nobody-here", "minutes": 5, "reason": "x"}, 404, "not_found"),
        ("POST", f"{g}/mutes", {"username": t.bob.username, "minutes": -5, "reason": "x"}, 400, "invalid_payload"),
        ("POST", f"{g}/mutes", {"username": t.bob.username, "minutes": 5, "reason": ""}, 400, "invalid_payload"),
        ("DELETE", f"{g}/mutes/{t.bob.id}", None, 404, "not_found"),
        ("POST", f"/api/reviews/{held['reviewId']}/decision", {"decision": "approve"}, 409, "already_decided"),
        ("POST", f"/api/reviews/{held['reviewId']}/decision", {"decision": "dismiss"}, 400, "invalid_decision"),
        ("POST", f"/api/reviews/{'0' * 24}/decision", {"decision": "approve"}, 404, "not_found"),
        ("GET", f"{g}/reviews?status=maybe", None, 400, "invalid_payload"),
        ("GET", f"{g}/reviews?before=xyz", None, 400, "invalid_cursor"),
        ("PATCH", f"{g}/moderation/settings", {"autoMute": {"enabled": True, "blocked": 0}}, 400, "invalid_payload"),
    ]
    for method, path, body, status, code in cases:
        r = t.carol.call(method, path, json=body)
        assert (r.status_code, r.json().get("error", {}).get("code")) == (status, code), (method, path, r.text[:300])
        assert r.json()["error"]["message"]
    assert [f["id"] for f in t.carol.ok("GET", f"{g}/filters")["filters"]] == [rule["id"]]
    assert t.carol.ok("GET", f"{g}/filters")["filters"][0]["pattern"] == "spoiler"
    assert t.carol.ok("GET", f"{g}/mutes")["mutes"] == []
    assert t.carol.ok("GET", f"{g}/moderation/log")["entries"] == log_before
    r = t.bob.call("POST", f"/api/messages/{'0' * 24}/reports", json={"reason": "x"})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")


def test_a_muted_member_is_refused_everywhere_until_lifted(system, clients):
    t = Team(system, clients)
    assert t.send("bob", "m0", "avant")["ok"]
    wait_until(lambda: t.delivered("bob", "m0"), what="bob's message")
    mid = t.delivered("bob", "m0")[0]["id"]
    mute = t.carol.ok("POST", f"/api/groups/{t.gid}/mutes", json={"username": t.bob.username, "minutes": 30,
                                                                  "reason": "flood"})
    [notice] = t.sockets["bob"].wait_for("moderation:muted")
    assert notice == {"groupId": t.gid, "until": mute["until"], "reason": "flood"}
    ack = t.send("bob", "m1", "pendant")
    assert ack["ok"] is False and ack["error"]["code"] == "muted" and ack["error"]["details"]["until"] == mute["until"]
    r = t.bob.call("POST", f"/api/conversations/{t.cid}/messages", json={"clientId": "m2", "content": "REST"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "muted")
    edit = t.sockets["bob"].call("message:edit", {"messageId": mid, "content": "changé"})
    assert edit["ok"] is False and edit["error"]["code"] == "muted"
    assert [m["username"] for m in t.carol.ok("GET", f"/api/groups/{t.gid}/mutes")["mutes"]] == [t.bob.username]

    assert t.carol.call("DELETE", f"/api/groups/{t.gid}/mutes/{t.bob.id}").status_code == 204
    t.sockets["bob"].wait_for("moderation:lifted")
    assert t.send("bob", "m3", "après")["ok"]
    wait_until(lambda: t.delivered("dan", "m3"), what="the message after the lift")
    assert [m["clientId"] for m in t.dan.chat(t.cid)] == ["m0", "m3"]


def test_a_banned_user_leaves_at_once_and_cannot_come_back_until_lifted(system, clients):
    t = Team(system, clients)
    ban = t.alice.ok("POST", f"/api/groups/{t.gid}/bans", json={"username": t.bob.username, "reason": "insultes"})
    assert ban["until"] is None
    [notice] = t.sockets["bob"].wait_for("moderation:banned")
    assert notice["reason"] == "insultes"
    t.sockets["bob"].wait_for("conversation:left")
    assert t.send("dan", "after-ban", "il est parti ?")["ok"]
    wait_until(lambda: t.delivered("carol", "after-ban"), what="dan's message")
    assert t.delivered("bob", "after-ban") == []  # his socket left the rooms at once
    assert t.bob.call("GET", f"/api/conversations/{t.cid}/messages").status_code == 403
    ack = t.send("bob", "b1", "je suis encore là")
    assert ack["ok"] is False and ack["error"]["code"] == "banned"
    r = t.alice.call("POST", f"/api/groups/{t.gid}/members", json={"username": t.bob.username})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "banned")
    assert [b["username"] for b in t.alice.ok("GET", f"/api/groups/{t.gid}/bans")["bans"]] == [t.bob.username]

    assert t.alice.call("DELETE", f"/api/groups/{t.gid}/bans/{t.bob.id}").status_code == 204
    assert t.alice.call("POST", f"/api/groups/{t.gid}/members", json={"username": t.bob.username}).status_code == 201
    actions = [e["action"] for e in t.carol.ok("GET", f"/api/groups/{t.gid}/moderation/log")["entries"]]
    assert actions[:2] == ["unbanned", "banned"]


def test_a_role_change_moves_the_members_sockets_in_and_out_of_the_mod_room(system, clients):
    t = Team(system, clients)
    t.rule("word", "arnaque", "flag")
    t.alice.ok("PATCH", f"/api/groups/{t.gid}/members/{t.dan.id}", json={"role": "MODERATOR"})
    assert t.send("bob", "r1", "arnaque")["ok"]
    t.sockets["dan"].wait_for("moderation:flagged")
    t.alice.ok("PATCH", f"/api/groups/{t.gid}/members/{t.dan.id}", json={"role": "MEMBER"})
    assert t.send("bob", "r2", "encore une arnaque")["ok"]
    wait_until(lambda: len(t.sockets["carol"].got("moderation:flagged")) == 2, what="the second item")
    wait_until(lambda: t.delivered("dan", "r2"), what="the second message")
    assert len(t.sockets["dan"].got("moderation:flagged")) == 1


def test_flood_control_refuses_with_when_to_retry():
    with own_system(SEND_RATE_LIMIT="3/10 seconds") as system:
        alice = Api(system)
        _, conv = make_conversation(alice)
        sock = alice.socket()
        try:
            sock.wait_for("session:ready")
            acks = [sock.call("message:send", {"convId": conv["id"], "clientId": f"c{i}", "content": "x"})
                    for i in range(4)]
            assert [a["ok"] for a in acks] == [True, True, True, False]
            assert acks[3]["error"]["code"] == "rate_limited" and 1 <= acks[3]["error"]["details"]["retryAfter"] <= 10
            r = alice.call("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": "c5", "content": "x"})
            assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 10
            wait_until(lambda: len(alice.chat(conv["id"])) == 3, what="the three accepted messages")
        finally:
            sock.close()
