"""The write gate: every write path (pipelines.gate.PATHS) through every check of its scope, and every
filter action; and every writing route or socket event of app/ is a write path or exempt, so that a new
write path without the gate fails here.

Each path is played through its real pipeline function, on the embedded store, a memory inbox, a recording
emitter, in-memory rate limits and the real content filter; message paths are drained (and scheduled ones
sent) to see what the filter did in the drain.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import pytest
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from pipelines.media import gallery, uploads
from pipelines.messages import reactions
from pipelines.messages.drain import drain_inbox
from pipelines.messages.submit import submit_change, submit_message
from pipelines.moderation import reviews, rules
from pipelines.moderation.screening import FilterCache, Screening
from pipelines.people import directory, profiles
from pipelines.policy.gate import CHECKS, EXEMPT, PATHS, Gate
from pipelines.scheduling import scheduled as scheduling
from pipelines.policy.rate_limits import RateLimits
from schemas.common import new_id, utcnow
from schemas.documents import GroupMember, Media, Sanction, SenderInfo
from schemas.errors import ApiError, Code
from schemas.payloads import (AlbumCreate, ConversationCreate, FilterCreate, GroupCreate, MessageSend,
                              ModerationSettingsUpdate, ProfileUpdate,
                              ReactionChange, ScheduledMessageCreate, UploadCreate)
from tests.conftest import make_conversation, make_user
from tests.fakes import MemoryBlobs

BAD, CLEAN = "so badword here", "hello there"
BAD_EMOJI, CLEAN_EMOJI = "ｂａｄｗｏｒｄ", "👍"   # fullwidth letters fold to "badword"
LIMIT = "2/hour"
MEDIA_LIMITS = uploads.Limits(max_upload_bytes=1 << 20, quota_bytes=1 << 30, upload_ttl=timedelta(hours=1),
                            presign_seconds=60)
SCHEDULING = scheduling.Limits()


class World:
    """A conversation of alice (group admin) and bob; eve in the group but not the conversation; mallory
    banned from the group; muriel muted in it; stranger in no group."""

    def __init__(self, store, inbox, notifier, emitter) -> None:
        self.store, self.inbox, self.notifier, self.emitter = store, inbox, notifier, emitter
        self.alice, self.bob, self.eve, self.mallory, self.muriel = (
            make_user(store, n) for n in ("alice", "bob", "eve", "mallory", "muriel"))
        self.stranger = make_user(store, "stranger")
        self.conv = make_conversation(store, [self.alice, self.bob, self.mallory, self.muriel])
        self.group = self.conv.groupId
        store.groups.insert_group_member(GroupMember(id=new_id(), groupId=self.group, userId=self.eve.id, role="MEMBER",
                                              joinedAt=utcnow()))
        until = utcnow() + timedelta(minutes=30)
        store.moderation.put_sanction("mutes", _sanction(self.group, self.muriel, until))
        store.conversations.set_muted_until(self.group, self.muriel.id, until)
        store.moderation.put_sanction("bans", _sanction(self.group, self.mallory, until))
        store.groups.remove_group_member(self.group, self.mallory.id)
        self.until = until
        self.limits = RateLimits(MovingWindowRateLimiter(storage_from_string("memory://")),
                                 {p.action: LIMIT for p in PATHS.values()})
        self.requested: list = []   # review requests the gate queued
        self.screened: list = []    # the drain's
        cache = FilterCache(store)
        self.gate = Gate(store, self.limits, cache, self.open_reviews)
        self.screening = Screening(cache, self.open_drain_reviews, lambda *a: None)
        self.blobs = MemoryBlobs()
        self.blobs.ensure_bucket([])
        self.media = self.ready_media(self.bob)

    def open_reviews(self, requests) -> None:
        self.requested.extend(requests)
        for r in requests:
            reviews.do_open_review(self.store, self.notifier, r)

    def open_drain_reviews(self, requests) -> None:
        self.screened.extend(requests)

    def rule(self, action: str, review_masks: bool = False) -> None:
        rules.do_create_filter(self.store, self.notifier, self.alice, self.group,
                                    FilterCreate(kind="word", pattern="badword", action=action))
        if review_masks:
            rules.do_update_moderation_settings(self.store, self.notifier, self.alice, self.group,
                                                ModerationSettingsUpdate(reviewMasks=True))

    def ready_media(self, owner) -> Media:
        now = utcnow()
        item = Media(id=new_id(), convId=self.conv.id, groupId=self.group, uploadedBy=owner.id,
                     uploaderInfo=SenderInfo.of(owner), filename="p.jpg", originalFilename="p.jpg",
                     mimeType="image/jpeg", fileType="image", fileSize=3, key="media/x/p.jpg", status="ready",
                     createdAt=now, updatedAt=now)
        self.store.db.media.insert_one(item.to_mongo())
        return item

    def drain(self) -> None:
        drain_inbox(self.conv.id, store=self.store, inbox=self.inbox, notifier=self.notifier,
                    enqueue_drain=lambda c: None, screening=self.screening)

    def messages(self) -> list[str]:
        return [m["content"] for m in self.store.db.messages.find({"convId": self.conv.id, "type": {"$ne": "system"}})
                .sort("seq", 1)]


def _sanction(group_id, user, until) -> Sanction:
    return Sanction(id=Sanction.key(group_id, user.id), groupId=group_id, userId=user.id, username=user.username,
                    until=until, reason="test", by="x", byName="x", createdAt=utcnow())


# -- each write path, played for real ---------------------------------------------------------------------
@dataclass
class Scenario:
    write: Callable[[World, object, str], None]   # the write by a user, with a text
    seen: Callable[[World], list[str]]            # the texts of this path others see now
    writer: Callable[[World], object] = lambda w: w.bob   # who writes when a check should pass
    emoji: bool = False


def _send(w, user, text):
    submit_message(w.store, w.inbox, lambda c: None, user, MessageSend(convId=w.conv.id, clientId=new_id(),
                                                                       content=text), gate=w.gate)
    w.drain()


def _bobs_message(w):
    if not hasattr(w, "bobs"):
        submit_message(w.store, w.inbox, lambda c: None, w.bob, MessageSend(convId=w.conv.id, clientId="orig",
                                                                            content="original"))
        w.drain()
        w.bobs = w.store.db.messages.find_one({"clientId": "orig"})["_id"]
    return w.bobs


def _edit(w, user, text):
    submit_change(w.store, w.inbox, lambda c: None, user, _bobs_message(w), content=text, gate=w.gate)
    w.drain()


def _edit_seen(w):
    _bobs_message(w)
    return w.messages()


def _schedule(w, user, text):
    now = utcnow()
    scheduling.do_schedule(w.store, user, w.conv.id, ScheduledMessageCreate(
        clientId=new_id(), content=text, sendAt=(now + timedelta(seconds=30)).isoformat()), now=now,
        limits=SCHEDULING, gate=w.gate)
    scheduling.send_due(w.conv.id, store=w.store, inbox=w.inbox, notifier=w.notifier, enqueue_drain=lambda c: None,
                        notify=lambda r: None, clock=lambda: now + timedelta(minutes=1), limits=SCHEDULING)
    w.drain()


def _album(w) -> dict:
    album = w.store.db.albums.find_one({"name": "holidays"})
    if album is None:
        album = gallery.do_create_album(w.store, w.alice, w.conv.id, AlbumCreate(name="holidays")).to_mongo()
    return album


def _album_media(w, user, text):
    gallery.do_add_to_album(w.store, user, _album(w)["_id"], w.ready_media(w.alice).id, gate=w.gate)


def _upload(w, user, text):
    uploads.do_create_upload(w.store, w.blobs, MEDIA_LIMITS, user, UploadCreate(
        convId=w.conv.id, filename=f"{text}.txt", size=5, mimeType="text/plain"), gate=w.gate)


def _react(w, user, text):
    reactions.do_react(w.store, w.notifier, user, ReactionChange(messageId=_bobs_message(w), emoji=text), add=True,
                       gate=w.gate)


SCENARIOS: dict[str, Scenario] = {
    "send": Scenario(_send, lambda w: w.messages()),
    "edit": Scenario(_edit, _edit_seen),
    "scheduled": Scenario(_schedule, lambda w: w.messages()),
    "comment": Scenario(lambda w, u, t: gallery.do_comment(w.store, u, w.media.id, t, gate=w.gate),
                        lambda w: [c["content"] for c in w.store.db.media.find_one({"_id": w.media.id})["comments"]]),
    "album": Scenario(lambda w, u, t: gallery.do_create_album(w.store, u, w.conv.id, AlbumCreate(
                          name=t, description=f"about {t}"), gate=w.gate),
                      lambda w: [f"{a['name']}|{a['description']}" for a in w.store.db.albums.find()]),
    "album_media": Scenario(_album_media, lambda w: [str(_album(w)["mediaCount"])]),
    "caption": Scenario(lambda w, u, t: gallery.do_set_caption(w.store, u, w.media.id, t, gate=w.gate),
                        lambda w: [w.store.db.media.find_one({"_id": w.media.id}).get("caption") or ""]),
    "name": Scenario(lambda w, u, t: profiles.do_update_profile(w.store, lambda i: None, u, ProfileUpdate(
                         fname=t, lname=t), gate=w.gate),
                     lambda w: [f"{u['fname']}|{u['lname']}" for u in w.store.db.users.find().sort("username", 1)]),
    "title": Scenario(lambda w, u, t: directory.do_create_conversation(
                          w.store, w.notifier, lambda *a: None, u, w.group, ConversationCreate(title=t), gate=w.gate),
                      lambda w: [c["title"] for c in w.store.db.conversations.find({"groupId": w.group})]),
    "group": Scenario(lambda w, u, t: directory.do_create_group(w.store, u, GroupCreate(name=t), gate=w.gate),
                      lambda w: [g["name"] for g in w.store.db.groups.find()]),
    "upload": Scenario(_upload, lambda w: [m["filename"] for m in w.store.db.media.find({"fileType": {"$ne": "image"}})]),
    "reaction": Scenario(_react, lambda w: [r["emoji"] for r in w.store.db.messages.find_one(
                             {"_id": _bobs_message(w)})["reactions"]], emoji=True),
}

# Who each check writes as: someone the check refuses (and the others would not).
REFUSED = {"not_a_member": {"conversation": "eve", "group": "stranger"}, "banned": "mallory", "muted": "muriel",
           "rate_limited": "bob"}


@pytest.fixture
def w(store, inbox, notifier, emitter) -> World:
    return World(store, inbox, notifier, emitter)


def test_every_path_has_a_scenario():
    assert set(SCENARIOS) == set(PATHS)


def _texts(path: str) -> tuple[str, str]:
    return (BAD_EMOJI, CLEAN_EMOJI) if SCENARIOS[path].emoji else (BAD, CLEAN)


@pytest.mark.parametrize("path, check", [(p, c) for p, wp in PATHS.items() for c in CHECKS[wp.scope]
                                         if not (c == "rate_limited" and wp.limit_at == "transport")])
def test_each_path_refuses_what_each_check_refuses_and_changes_nothing(w, path, check):
    scenario, scope = SCENARIOS[path], PATHS[path].scope
    who = REFUSED[check]
    user = getattr(w, who[scope] if isinstance(who, dict) else who)
    clean = _texts(path)[1]
    if check == "rate_limited":
        for _ in range(2):
            scenario.write(w, user, clean)   # the limit's two writes pass
    before = scenario.seen(w)
    with pytest.raises(ApiError) as err:
        scenario.write(w, user, clean)
    assert err.value.code == check
    assert err.value.status == (429 if check == "rate_limited" else 403)
    assert scenario.seen(w) == before
    if check in ("muted", "banned"):
        assert abs((datetime.fromisoformat(err.value.details["until"]) - w.until).total_seconds()) < 1
    if check == "rate_limited":
        assert err.value.details["retryAfter"] >= 1


@pytest.mark.parametrize("path", [p for p, wp in PATHS.items() if wp.filter_at != "none"])
@pytest.mark.parametrize("action", ["block", "hold", "mask", "flag", "quiet mask"])
def test_each_path_with_text_meets_the_groups_filter(w, store, emitter, path, action):
    scenario, declared = SCENARIOS[path], PATHS[path]
    bad, _ = _texts(path)
    before = scenario.seen(w)   # (made before the rule: a path's own setup is clean)
    quiet = action == "quiet mask"   # a mask in a group that does not review masks (the default)
    action = "mask" if quiet else action
    w.rule(action, review_masks=action == "mask" and not quiet)
    refused = None
    try:
        scenario.write(w, scenario.writer(w), bad)
    except ApiError as exc:
        refused = exc.code
    after = scenario.seen(w)
    mine = [t for t in after if t not in before] if len(after) != len(before) else \
        [t for t, b in zip(after, before) if t != b]
    in_drain = declared.filter_at == "drain" and not (path == "scheduled" and action == "block")
    if action in ("block", "hold"):
        assert after == before
        if in_drain:
            assert refused is None
            if action == "block":
                assert emitter.of("message:rejected")[-1][0]["code"] == "content_blocked"
            else:
                assert [r.kind for r in w.screened] == ["held"]
        else:
            assert refused == {"block": Code.CONTENT_BLOCKED, "hold": Code.CONTENT_HELD}[action]
            assert w.requested == []
        return
    assert refused is None and mine, (path, action, after)
    if action == "mask":
        assert all("badword" not in t.lower() and "ｂａｄ" not in t for t in mine) and any("•" in t for t in mine)
        if quiet:
            assert w.screened == [] and w.requested == [] and store.db.reviews.count_documents({}) == 0
            return
    else:
        assert any("badword" in t or BAD_EMOJI in t for t in mine)
    if declared.filter_at == "drain":
        assert [r.kind for r in w.screened] == ["filter"]
        return
    # A review item about the write, in the group, with what it is about and the original text.
    assert {r.target.type for r in w.requested} == {declared.target}
    items = list(store.db.reviews.find({"kind": "text"}))
    assert items and all(i["groupId"] == w.group and i["status"] == "pending" for i in items)
    assert any("badword" in i["message"]["content"] or BAD_EMOJI in i["message"]["content"] for i in items)


def test_a_display_name_meets_the_rules_of_every_group_of_the_user(w):
    """bob's name shows in his two groups: a rule of either applies; a mute in either refuses."""
    other = make_conversation(w.store, [w.alice, w.bob])
    rules.do_create_filter(w.store, w.notifier, w.alice, other.groupId,
                                FilterCreate(kind="word", pattern="zorglub", action="block"))
    with pytest.raises(ApiError) as err:
        profiles.do_update_profile(w.store, lambda i: None, w.bob, ProfileUpdate(fname="Zorglub"), gate=w.gate)
    assert err.value.code == Code.CONTENT_BLOCKED and err.value.details["field"] == "fname"
    # the picture's address is shown to everyone too: link rules apply to it
    rules.do_create_filter(w.store, w.notifier, w.alice, w.group,
                                FilterCreate(kind="link", pattern="shock.com", action="block"))
    with pytest.raises(ApiError) as err:
        profiles.do_update_profile(w.store, lambda i: None, w.bob, ProfileUpdate(avatarUrl="https://shock.com/a.png"),
                                   gate=w.gate)
    assert err.value.code == Code.CONTENT_BLOCKED and err.value.details["field"] == "avatarUrl"
    assert w.store.users.get_user(w.bob.id).fname == "" and w.store.users.get_user(w.bob.id).avatarUrl is None
    # email and language are the user's own: no gate, even while muted
    updated = profiles.do_update_profile(w.store, lambda i: None, w.muriel, ProfileUpdate(language="fr"), gate=w.gate)
    assert updated.language == "fr"


def test_an_edit_is_refused_for_who_and_whose_before_it_counts_against_the_rate(w):
    with pytest.raises(ApiError) as err:
        submit_change(w.store, w.inbox, lambda c: None, w.eve, _bobs_message(w), content="mine now", gate=w.gate)
    assert err.value.code == Code.NOT_A_MEMBER
    # a member who is not the author is refused, and that refusal does not use up their edits
    for _ in range(3):
        with pytest.raises(ApiError) as err:
            submit_change(w.store, w.inbox, lambda c: None, w.alice, _bobs_message(w), content="x", gate=w.gate)
        assert err.value.code == Code.FORBIDDEN


def test_user_edits_and_deletes_are_bounded_by_the_inbox_backlog_like_sends(w):
    mid = _bobs_message(w)
    for i in range(3):
        submit_change(w.store, w.inbox, lambda c: None, w.bob, mid, content=f"v{i}", max_backlog=3)
    with pytest.raises(ApiError) as err:
        submit_change(w.store, w.inbox, lambda c: None, w.bob, mid, content="one too many", max_backlog=3)
    assert err.value.code == Code.RATE_LIMITED and err.value.details["retryAfter"] >= 1
    with pytest.raises(ApiError):
        submit_change(w.store, w.inbox, lambda c: None, w.bob, mid, max_backlog=3)   # a delete too
    assert w.inbox.pending(w.conv.id) == 3


def test_a_scheduled_message_is_gated_again_when_it_is_sent(w):
    """Muted after scheduling: the send fails with ``muted`` and nothing reaches the room."""
    now = utcnow()
    item, _ = scheduling.do_schedule(w.store, w.bob, w.conv.id, ScheduledMessageCreate(
        clientId="later", content="see you", sendAt=(now + timedelta(seconds=30)).isoformat()), now=now,
        limits=SCHEDULING, gate=w.gate)
    w.store.conversations.set_muted_until(w.group, w.bob.id, now + timedelta(hours=1))
    result = scheduling.send_due(w.conv.id, store=w.store, inbox=w.inbox, notifier=w.notifier,
                                 enqueue_drain=lambda c: None, notify=lambda r: None,
                                 clock=lambda: now + timedelta(minutes=1), limits=SCHEDULING)
    assert result.failed == [item.id]
    assert w.store.scheduled.get_scheduled(item.id).error["code"] == "muted"
    assert w.inbox.pending(w.conv.id) == 0



@pytest.mark.parametrize("action, status, pending", [("block", "failed", 0), ("hold", "sent", 1)])
def test_a_rule_made_after_scheduling_meets_the_message_when_it_is_sent(w, action, status, pending):
    """Blocked at send time: the item fails with ``content_blocked`` instead of saying ``sent`` for a message
    the drain then refuses. Held: handed over, and it waits for a moderator like any held send."""
    now = utcnow()
    item, _ = scheduling.do_schedule(w.store, w.bob, w.conv.id, ScheduledMessageCreate(
        clientId="later", content=f"a {BAD} here", sendAt=(now + timedelta(seconds=30)).isoformat()), now=now,
        limits=SCHEDULING, gate=w.gate)
    w.rule(action)
    scheduling.send_due(w.conv.id, store=w.store, inbox=w.inbox, notifier=w.notifier, enqueue_drain=lambda c: None,
                        notify=lambda r: None, clock=lambda: now + timedelta(minutes=1), limits=SCHEDULING,
                        gate=w.gate)
    stored = w.store.scheduled.get_scheduled(item.id)
    assert stored.status == status and w.inbox.pending(w.conv.id) == pending
    assert (stored.error or {}).get("code") == ("content_blocked" if action == "block" else None)

# -- app/: every writing route and socket event is a write path, or exempt --------------------------------
def _writes_of_app() -> set[str]:
    from app.web import create_app, socketio
    from infra.config import Settings, get_settings, use_settings
    before = get_settings()
    try:
        app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"))   # made, never connected
        routes = {f"{m} {r.rule}" for r in app.url_map.iter_rules() for m in (r.methods or ())
                  if m in ("POST", "PUT", "PATCH") and r.rule.startswith("/api/")}
        return routes | set(socketio.server.handlers["/"])
    finally:
        use_settings(before)


def test_every_writing_route_and_event_of_app_is_a_write_path_or_exempt():
    """A new POST/PUT/PATCH route or socket event fails here until it is declared: a write path of
    pipelines.gate (and then the parametrized tests above need its scenario) or exempt, with the reason.
    (DELETE routes remove; they never put new content in front of anyone.)"""
    routed = {route for p in PATHS.values() for route in p.routes}
    undeclared = _writes_of_app() - routed - set(EXEMPT)
    assert undeclared == set(), f"declare these in pipelines.gate.PATHS (or EXEMPT, with why): {sorted(undeclared)}"
    assert not routed & set(EXEMPT)
