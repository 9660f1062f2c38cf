"""Authority end to end: the 403s of moderation (self_sanction, outranked, own_content, muted) over REST and
sockets, on the shared real system; each refusal changes nothing."""
from __future__ import annotations

import pytest

from tests.e2e.harness import wait_until
from tests.e2e.test_moderation import Team

pytestmark = pytest.mark.e2e


def _code(r) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def test_moderators_cannot_act_on_themselves_their_betters_or_their_own_messages(system, clients):
    t = Team(system, clients)  # alice: group admin, carol: moderator, bob and dan: members
    g = f"/api/groups/{t.gid}"
    for who, client_id in (("alice", "by-alice"), ("carol", "by-carol")):
        assert t.send(who, client_id, f"message by {who}")["ok"]
    for client_id in ("by-alice", "by-carol"):
        wait_until(lambda: t.delivered("dan", client_id), what=client_id)
    by_alice, by_carol = (t.delivered("dan", c)[0]["id"] for c in ("by-alice", "by-carol"))

    assert _code(t.carol.call("POST", f"{g}/mutes", json={"username": t.alice.username, "minutes": 5,
                                                          "reason": "x"})) == (403, "outranked")
    ack = t.sockets["carol"].call("message:delete", {"messageId": by_alice})
    assert (ack["ok"], ack["error"]["code"]) == (False, "outranked")
    assert _code(t.carol.call("POST", f"/api/messages/{by_carol}/reports", json={"reason": "x"})) == (403, "own_content")
    item = t.dan.ok("POST", f"/api/messages/{by_carol}/reports", json={"reason": "spam"})
    decision = f"/api/reviews/{item['id']}/decision"
    assert _code(t.carol.call("POST", decision, json={"decision": "dismiss"})) == (403, "own_content")
    assert _code(t.alice.call("PATCH", f"{g}/members/{t.alice.id}", json={"role": "MEMBER"})) == (403, "self_sanction")

    # A muted moderator: cannot lift their own mute, nor moderate meanwhile; reading stays open.
    t.alice.ok("POST", f"{g}/mutes", json={"username": t.carol.username, "minutes": 30, "reason": "calme"})
    t.alice.ok("POST", f"{g}/mutes", json={"username": t.bob.username, "minutes": 30, "reason": "flood"})
    assert _code(t.carol.call("DELETE", f"{g}/mutes/{t.carol.id}")) == (403, "self_sanction")
    assert _code(t.carol.call("POST", f"{g}/mutes", json={"username": t.dan.username, "minutes": 5,
                                                          "reason": "x"})) == (403, "muted")
    assert _code(t.carol.call("POST", f"{g}/filters", json={"kind": "word", "pattern": "x", "action": "flag"})) \
        == (403, "muted")
    mutes = t.carol.ok("GET", f"{g}/mutes")["mutes"]
    assert sorted(m["username"] for m in mutes) == sorted([t.carol.username, t.bob.username])
    assert t.alice.call("DELETE", f"{g}/mutes/{t.carol.id}").status_code == 204
    # Unmuted, still a moderator: she may not undo the group admin's mute of bob, but alice decides her item.
    assert _code(t.carol.call("DELETE", f"{g}/mutes/{t.bob.id}")) == (403, "outranked")
    assert t.alice.ok("POST", decision, json={"decision": "dismiss"})["status"] == "dismissed"

    assert [m["username"] for m in t.alice.ok("GET", f"{g}/mutes")["mutes"]] == [t.bob.username]
    assert t.carol.ok("GET", f"{g}/filters")["filters"] == []
    assert not [m for m in t.dan.chat(t.cid) if m["isDeleted"]]
    actions = [e["action"] for e in t.alice.ok("GET", f"{g}/moderation/log")["entries"]]
    assert actions.count("unmuted") == 1 and "muted" in actions and "role_changed" in actions
