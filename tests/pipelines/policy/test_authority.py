"""Authority in moderation: who may mute, ban, lift, change roles, decide, report and delete, on whom.

Every case runs on one group: root (system ADMIN, also a member), admin and admin2 (GROUP_ADMINs), mod and
mod2 (MODERATORs), bob (MEMBER), all in one conversation with a message each. A refusal must be a 403 with
its specific code, change nothing, and be written to the activity log; an allowed action must go through.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines.messages.drain import drain_inbox
from pipelines.messages.submit import submit_change, submit_message
from pipelines.moderation import reviews, rules, sanctions
from pipelines.people import directory
from schemas.common import utcnow
from schemas.documents import Sanction
from schemas.errors import ApiError, Code
from schemas.payloads import (BanCreate, FilterCreate, MessageSend, ModerationSettingsUpdate, MuteCreate,
                              ReviewDecision, RoleChange)
from tests.conftest import make_conversation, make_user

NAMES = ("admin", "root", "admin2", "mod", "mod2", "bob")


class Group:
    def __init__(self, store, inbox, notifier) -> None:
        self.store, self.inbox, self.notifier = store, inbox, notifier
        users = {n: make_user(store, n, role="ADMIN" if n == "root" else "USER") for n in NAMES}
        self.conv = make_conversation(store, list(users.values()))  # admin, the first, is GROUP_ADMIN
        self.gid = self.conv.groupId
        for name, role in (("admin2", "GROUP_ADMIN"), ("mod", "MODERATOR"), ("mod2", "MODERATOR")):
            store.groups.set_group_role(self.gid, users[name].id, role)
        self.u = users
        for name in NAMES:
            submit_message(store, inbox, lambda c: None, users[name],
                           MessageSend(convId=self.conv.id, clientId=name, content=f"by {name}"))
        drain_inbox(self.conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)
        self.message = {m["clientId"]: m["_id"] for m in store.db.messages.find({"convId": self.conv.id})}

    # -- what each case does ---------------------------------------------------------------------
    def mute(self, actor, target, minutes=10):
        return sanctions.do_mute(self.store, self.notifier, self.u[actor], self.gid,
                                  MuteCreate(username=target, minutes=minutes, reason="r"))

    def ban(self, actor, target):
        return sanctions.do_ban(self.store, self.notifier, lambda *a: None, lambda *a: None, self.u[actor], self.gid,
                                 BanCreate(username=target, reason="r"))

    def lift(self, actor, target, kind="mute"):
        return sanctions.do_lift(self.store, self.notifier, self.u[actor], self.gid, self.u[target].id, kind)

    def role(self, actor, target, role="MODERATOR"):
        return sanctions.do_change_role(self.store, self.notifier, lambda *a: None, self.u[actor], self.gid,
                                         self.u[target].id, RoleChange(role=role))

    def report(self, reporter, author):
        return reviews.do_report(self.store, self.notifier, self.u[reporter], self.message[author], "r")

    def decide(self, actor, author, decision="dismiss"):
        item = self.report("bob" if author != "bob" else "mod2", author)
        return reviews.do_decide(self.store, lambda r: None, self.u[actor], item.id, ReviewDecision(decision=decision))

    def delete(self, actor, author):
        return submit_change(self.store, self.inbox, lambda c: None, self.u[actor], self.message[author])

    def remove(self, actor, target):
        return directory.do_remove_conversation_member(self.store, self.notifier, lambda *a: None, self.u[actor],
                                                       self.conv.id, self.u[target].id)

    def rule(self, actor):
        return rules.do_create_filter(self.store, self.notifier, self.u[actor], self.gid,
                                           FilterCreate(kind="word", pattern="zut", action="flag"))

    def placed(self, kind, by, target, minutes=60):
        """A sanction in force on ``target``, placed by ``by`` (written as the pipeline would)."""
        until = utcnow() + timedelta(minutes=minutes)
        self.store.moderation.put_sanction(kind, Sanction(id=Sanction.key(self.gid, self.u[target].id), groupId=self.gid,
                                               userId=self.u[target].id, username=target, until=until, reason="r",
                                               by=self.u[by].id, byName=by, createdAt=utcnow()))
        if kind == "mutes":
            self.store.conversations.set_muted_until(self.gid, self.u[target].id, until)

    def state(self) -> dict:
        """Everything a refused action must leave as it was (the log aside)."""
        db = self.store.db
        return {"mutes": list(db.mutes.find()), "bans": list(db.bans.find()), "roles": list(db.group_members.find()),
                "reviews": [(r["_id"], r["status"]) for r in db.reviews.find()], "rules": list(db.filter_rules.find()),
                "inbox": self.inbox.pending(self.conv.id), "members": list(db.conversation_members.find())}


@pytest.fixture
def grp(store, inbox, notifier):
    return Group(store, inbox, notifier)


# (case, setup, action, the refusal's code or None when allowed). Setups place what must be in force first.
CASES = [
    # Nobody acts on themselves: not even a muted moderator lifting their own mute, nor an admin their ban.
    ("mute oneself", None, lambda g: g.mute("mod", "mod"), Code.SELF_SANCTION),
    ("ban oneself", None, lambda g: g.ban("admin", "admin"), Code.SELF_SANCTION),
    ("a muted moderator lifts their mute", lambda g: g.placed("mutes", "admin", "mod"),
     lambda g: g.lift("mod", "mod"), Code.SELF_SANCTION),
    ("a muted group admin lifts their mute", lambda g: g.placed("mutes", "admin2", "admin"),
     lambda g: g.lift("admin", "admin"), Code.SELF_SANCTION),
    ("an admin lifts their own ban", lambda g: g.placed("bans", "admin", "root"),
     lambda g: g.lift("root", "root", "ban"), Code.SELF_SANCTION),
    ("a group admin changes their own role", None, lambda g: g.role("admin", "admin", "MEMBER"), Code.SELF_SANCTION),
    ("a system admin changes their own role", None, lambda g: g.role("root", "root", "GROUP_ADMIN"),
     Code.SELF_SANCTION),
    # A moderator does not act on a group admin or a system admin.
    ("a moderator mutes a group admin", None, lambda g: g.mute("mod", "admin"), Code.OUTRANKED),
    ("a moderator mutes a system admin", None, lambda g: g.mute("mod", "root"), Code.OUTRANKED),
    ("a group admin mutes a system admin", None, lambda g: g.mute("admin", "root"), Code.OUTRANKED),
    ("a group admin bans a system admin", None, lambda g: g.ban("admin", "root"), Code.OUTRANKED),
    ("a moderator lifts a group admin's mute", lambda g: g.placed("mutes", "admin", "admin2"),
     lambda g: g.lift("mod", "admin2"), Code.OUTRANKED),
    ("a moderator lifts a mute a group admin placed", lambda g: g.placed("mutes", "admin", "bob"),
     lambda g: g.lift("mod", "bob"), Code.OUTRANKED),
    ("a moderator shortens a group admin's mute by muting again", lambda g: g.placed("mutes", "admin", "bob"),
     lambda g: g.mute("mod", "bob", minutes=1), Code.OUTRANKED),
    ("a moderator decides on a group admin's message", None, lambda g: g.decide("mod", "admin"), Code.OUTRANKED),
    ("a moderator decides on a system admin's message", None, lambda g: g.decide("mod", "root", "delete"),
     Code.OUTRANKED),
    ("a moderator deletes a group admin's message", None, lambda g: g.delete("mod", "admin"), Code.OUTRANKED),
    ("a group admin changes a system admin's role", None, lambda g: g.role("admin", "root", "MEMBER"), Code.OUTRANKED),
    ("a conversation's creator removes a moderator from it", lambda g: g.store.db.conversations.update_one(
        {"_id": g.conv.id}, {"$set": {"createdBy": g.u["bob"].id}}), lambda g: g.remove("bob", "mod"), Code.OUTRANKED),
    ("a group admin removes a system admin from a conversation", None, lambda g: g.remove("admin", "root"),
     Code.OUTRANKED),
    # Nobody decides on (nor reports) their own message.
    ("a moderator decides on their own message", None, lambda g: g.decide("mod", "mod", "approve"), Code.OWN_CONTENT),
    ("a group admin decides on their own message", None, lambda g: g.decide("admin", "admin"), Code.OWN_CONTENT),
    ("a member reports their own message", None, lambda g: g.report("bob", "bob"), Code.OWN_CONTENT),
    # A mute suspends a moderator's moderation actions in the group.
    ("a muted moderator mutes", lambda g: g.placed("mutes", "admin", "mod"), lambda g: g.mute("mod", "bob"), Code.MUTED),
    ("a muted moderator lifts another's mute", lambda g: (g.placed("mutes", "admin", "mod"),
                                                          g.placed("mutes", "mod2", "bob")),
     lambda g: g.lift("mod", "bob"), Code.MUTED),
    ("a muted moderator changes the filter", lambda g: g.placed("mutes", "admin", "mod"), lambda g: g.rule("mod"),
     Code.MUTED),
    ("a muted moderator decides", lambda g: g.placed("mutes", "admin", "mod"), lambda g: g.decide("mod", "bob"),
     Code.MUTED),
    ("a muted moderator deletes another's message", lambda g: g.placed("mutes", "admin", "mod"),
     lambda g: g.delete("mod", "bob"), Code.MUTED),
    ("a muted group admin bans", lambda g: g.placed("mutes", "admin2", "admin"), lambda g: g.ban("admin", "bob"),
     Code.MUTED),
    ("a muted group admin changes a role", lambda g: g.placed("mutes", "admin2", "admin"),
     lambda g: g.role("admin", "bob"), Code.MUTED),
    # What each role may do.
    ("a moderator mutes a member", None, lambda g: g.mute("mod", "bob"), None),
    ("a moderator mutes another moderator", None, lambda g: g.mute("mod", "mod2"), None),
    ("a group admin mutes another group admin", None, lambda g: g.mute("admin", "admin2"), None),
    ("a moderator lifts a mute another moderator placed", lambda g: g.placed("mutes", "mod2", "bob"),
     lambda g: g.lift("mod", "bob"), None),
    ("a group admin lifts a moderator's mute", lambda g: g.placed("mutes", "admin2", "mod"),
     lambda g: g.lift("admin", "mod"), None),
    ("a system admin lifts a group admin's mute", lambda g: g.placed("mutes", "admin2", "admin"),
     lambda g: g.lift("root", "admin"), None),
    ("a moderator decides on a member's message", None, lambda g: g.decide("mod", "bob", "delete"), None),
    ("a moderator decides on another moderator's message", None, lambda g: g.decide("mod", "mod2"), None),
    ("a group admin decides on another group admin's message", None, lambda g: g.decide("admin", "admin2"), None),
    ("a system admin decides on a group admin's message", None, lambda g: g.decide("root", "admin"), None),
    ("a moderator deletes a member's message", None, lambda g: g.delete("mod", "bob"), None),
    ("a group admin bans a moderator", None, lambda g: g.ban("admin", "mod"), None),
    ("a group admin removes a moderator from a conversation", None, lambda g: g.remove("admin", "mod"), None),
    ("a group admin demotes another group admin", None, lambda g: g.role("admin", "admin2", "MEMBER"), None),
    ("a system admin changes a group admin's role", None, lambda g: g.role("root", "admin", "MODERATOR"), None),
    ("a muted member reports a message", lambda g: g.placed("mutes", "mod", "bob"), lambda g: g.report("bob", "mod2"),
     None),
]


@pytest.mark.parametrize("case, setup, action, code", CASES, ids=[c[0] for c in CASES])
def test_authority(store, grp, case, setup, action, code):
    if setup:
        setup(grp)
    if code is None:
        action(grp)
        assert not store.db.activity_logs.find_one({"action": "denied"})
        return
    before = grp.state()
    denied_before = store.db.activity_logs.count_documents({"action": "denied"})
    with pytest.raises(ApiError) as err:
        action(grp)
    assert (err.value.code, err.value.status) == (code, 403), err.value.message
    assert err.value.message
    after = grp.state()
    # A decision's case reports first (its item is the thing decided): compare what the refusal could change.
    assert [(k, v) for k, v in after.items() if k != "reviews"] == [(k, v) for k, v in before.items() if k != "reviews"]
    assert all(status == "pending" for _, status in after["reviews"])
    [logged] = list(store.db.activity_logs.find({"action": "denied"}))[denied_before:]
    assert logged["metadata"]["reason"] == str(code)


def test_the_filter_does_not_mute_those_a_moderator_could_not(store, grp, notifier):
    """Escalation acts as a moderator: a group admin's or a system admin's blocked messages are logged, and
    they stay able to speak (and to moderate); a moderator's are escalated like anyone's."""
    rules.do_update_moderation_settings(store, notifier, grp.u["admin"], grp.gid, ModerationSettingsUpdate(
        autoMute={"enabled": True, "blocked": 1, "windowMinutes": 10, "muteMinutes": 5}))
    muted = {name: sanctions.do_record_block(store, notifier, grp.gid, grp.conv.id, grp.u[name].id, f"c-{name}", "zut")
             for name in ("admin", "root", "mod")}
    assert muted == {"admin": False, "root": False, "mod": True}
    assert [m["username"] for m in store.db.mutes.find()] == ["mod"]
    assert store.db.activity_logs.count_documents({"action": "message_blocked"}) == 3
