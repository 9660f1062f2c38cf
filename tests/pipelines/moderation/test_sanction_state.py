"""The user's own sanctions as the chat page learns them: session:ready's ``sanctions`` (those in force) and
moderation:sanction when one is placed or lifted (contract v3)."""
from __future__ import annotations

import pytest

from pipelines.moderation import sanctions
from schemas.events import SessionReady
from schemas.payloads import BanCreate, MuteCreate
from tests.conftest import make_conversation, make_user


@pytest.fixture
def world(store):
    admin, bob, carol = (make_user(store, n) for n in ("alice", "bob", "carol"))
    conv = make_conversation(store, [admin, bob, carol])
    store.groups.set_group_role(conv.groupId, carol.id, "MODERATOR")
    return admin, bob, carol, conv.groupId


def test_session_ready_lists_an_active_mute_and_not_an_expired_one(store, notifier, world):
    admin, bob, carol, group = world
    sanctions.do_mute(store, notifier, carol, group, MuteCreate(username="bob", minutes=14, reason="spam"))
    [state] = sanctions.active_sanctions(store, bob.id)
    assert (state.groupId, state.kind, state.reason, state.lifted) == (group, "mute", "spam", False)
    assert state.until and state.groupName
    ready = SessionReady(user=bob.public(), groups=[], conversations=[], sanctions=[state]).model_dump()
    assert ready["sanctions"][0]["kind"] == "mute" and ready["sanctions"][0]["until"] == state.until
    assert sanctions.active_sanctions(store, carol.id) == []
    store.db.mutes.update_one({}, {"$set": {"until": store.db.mutes.find_one()["until"].replace(year=2000)}})
    assert sanctions.active_sanctions(store, bob.id) == []


def test_placing_and_lifting_a_mute_emit_moderation_sanction(store, notifier, emitter, world):
    admin, bob, carol, group = world
    mute = sanctions.do_mute(store, notifier, carol, group, MuteCreate(username="bob", minutes=5, reason="calm"))
    sanctions.do_lift(store, notifier, carol, group, bob.id, "mute")
    placed, lifted = emitter.of("moderation:sanction")
    assert placed == ({"groupId": group, "kind": "mute", "until": sanctions.iso(mute.until), "reason": "calm",
                       "groupName": placed[0]["groupName"], "lifted": False}, f"user:{bob.id}")
    assert lifted[0]["until"] is None and lifted[0]["lifted"] and lifted[1] == f"user:{bob.id}"
    # The public events of before are still sent.
    assert len(emitter.of("moderation:muted")) == 1 and len(emitter.of("moderation:lifted")) == 1


def test_a_ban_without_an_end_is_listed_and_its_lifting_told(store, notifier, emitter, world):
    admin, bob, carol, group = world
    sanctions.do_ban(store, notifier, lambda *a: None, lambda *a: None, admin, group,
                     BanCreate(username="bob", reason="abuse"))
    [state] = sanctions.active_sanctions(store, bob.id)   # no longer a member: still listed
    assert (state.kind, state.until, state.reason, state.lifted) == ("ban", None, "abuse", False)
    sanctions.do_lift(store, notifier, admin, group, bob.id, "ban")
    assert [(d["kind"], d["until"], d["lifted"]) for d, _ in emitter.of("moderation:sanction")] == [
        ("ban", None, False), ("ban", None, True)]
    assert sanctions.active_sanctions(store, bob.id) == []
