"""Membership over the real system: member lists, system messages, and sockets that follow membership
changes made while they are connected."""
from __future__ import annotations

import time

import pytest

from tests.e2e.harness import Api, make_conversation, two_members_and_an_outsider, wait_until

pytestmark = pytest.mark.e2e


def test_member_lists_are_for_members(system, clients):
    alice, bob, carol, conv, a, b, c = two_members_and_an_outsider(system, clients)
    a.call("message:send", {"convId": conv["id"], "clientId": "m", "content": "hi"})
    b.wait_for("message:new")
    assert b.call("message:read", {"convId": conv["id"], "seq": 2})["ok"]

    listed = bob.ok("GET", f"/api/conversations/{conv['id']}/members")
    assert [(m["user"]["username"], m["lastReadSeq"]) for m in listed["members"]] == \
        [(alice.username, 2), (bob.username, 2)]
    assert carol.call("GET", f"/api/conversations/{conv['id']}/members").status_code == 403
    group_id = conv["groupId"]
    roles = {m["user"]["username"]: m["role"] for m in carol.ok("GET", f"/api/groups/{group_id}/members")["members"]}
    assert roles == {alice.username: "GROUP_ADMIN", bob.username: "MEMBER", carol.username: "MEMBER"}
    assert Api(system).call("GET", f"/api/groups/{group_id}/members").status_code == 403


def test_added_then_removed_member_follows_live(system, clients):
    """carol is added while connected: she hears of it, subscribes, and gets messages; once removed her
    socket leaves the room at once, without reconnecting."""
    alice, bob, carol, conv, a, b, c = two_members_and_an_outsider(system, clients)
    path = f"/api/conversations/{conv['id']}/members"
    alice.ok("POST", path, json={"username": carol.username})
    joined = c.wait_for("conversation:joined")[0]
    assert joined["id"] == conv["id"]
    system_message = a.wait_for("message:new")[0]
    assert (system_message["type"], system_message["metadata"]["systemAction"]) == ("system", "member_joined")
    assert system_message["metadata"]["systemData"]["username"] == carol.username
    assert c.call("conv:subscribe", {"convId": conv["id"]})["ok"]

    a.call("message:send", {"convId": conv["id"], "clientId": "while-in", "content": "hello carol"})
    wait_until(lambda: [m for m in c.got("message:new") if m["clientId"] == "while-in"], what="carol's message")

    # bob may not remove carol (neither creator nor group admin): nothing changes.
    assert bob.call("DELETE", f"{path}/{carol.id}").status_code == 403
    assert alice.call("DELETE", f"{path}/{carol.id}").status_code == 204
    assert c.wait_for("conversation:left")[0] == {"convId": conv["id"], "userId": carol.id, "by": alice.id}
    wait_until(lambda: any(m["metadata"].get("systemAction") == "member_left" for m in b.got("message:new")),
               what="the member_left system message")
    a.call("message:send", {"convId": conv["id"], "clientId": "after-out", "content": "carol can't see this"})
    wait_until(lambda: any(m["clientId"] == "after-out" for m in b.got("message:new")), what="bob's copy")
    time.sleep(0.3)
    assert not any(m["clientId"] == "after-out" for m in c.got("message:new"))
    assert carol.call("GET", f"/api/conversations/{conv['id']}/messages").status_code == 403
    assert c.call("message:send", {"convId": conv["id"], "clientId": "x", "content": "x"})["error"]["code"] == "not_a_member"


def test_member_leaves_by_themselves(system):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    assert bob.call("DELETE", f"/api/conversations/{conv['id']}/members/{bob.id}").status_code == 204
    wait_until(lambda: alice.chat(conv["id"]) == [] and len(alice.ok(
        "GET", f"/api/conversations/{conv['id']}/messages")["messages"]) == 2, what="the member_left message")
    last = alice.ok("GET", f"/api/conversations/{conv['id']}/messages")["messages"][-1]
    assert last["content"] == f"{bob.username} left"
    assert bob.call("DELETE", f"/api/conversations/{conv['id']}/members/{bob.id}").status_code == 403


def test_a_new_group_member_hears_the_group_without_reconnecting(system, clients):
    alice, bob = Api(system), Api(system)
    group = alice.ok("POST", "/api/groups", json={"name": "live"})
    b = bob.socket()
    clients.append(b)
    b.wait_for("session:ready")
    alice.ok("POST", f"/api/groups/{group['id']}/members", json={"username": bob.username})
    assert b.wait_for("group:member_joined")[0]["group"]["name"] == "live"  # shown at once by the page
    created = alice.ok("POST", f"/api/groups/{group['id']}/conversations", json={"title": "t", "members": []})
    # Sent to group:{id} only: bob's socket entered that room when he was added.
    assert b.wait_for("conversation:created")[0]["id"] == created["id"]
