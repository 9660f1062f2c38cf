"""Moderation in the message path: the filter step of the drain, review items, decisions, mutes, escalation.

The moderation queue is played synchronously (its pipeline functions called where the drain queues them),
on the embedded store, a memory inbox and a recording emitter.
"""
from __future__ import annotations

import threading
import time

import pytest

from pipelines.messages.drain import drain_inbox
from pipelines.messages.history import read_history, search_messages
from pipelines.messages.submit import submit_change, submit_entry, submit_message
from pipelines.moderation import reviews, rules, sanctions, screening
from pipelines.moderation.log import list_log
from pipelines.moderation.screening import FilterCache, Screening
from schemas.errors import ApiError, Code
from schemas.payloads import (FilterCreate, FilterTest, FilterUpdate, HistoryWindow, IdPage, MessageSend,
                              ModerationSettingsUpdate, MuteCreate, ReviewDecision, SearchQuery)
from tests.conftest import make_conversation, make_user


class Queue:
    """The moderation queue, run at once; counts what it was given."""

    def __init__(self, store, notifier) -> None:
        self.store, self.notifier = store, notifier
        self.reviews: list = []
        self.batches: list[int] = []  # requests per queued task
        self.blocks: list = []

    def open_reviews(self, requests) -> None:
        self.batches.append(len(requests))
        for request in requests:
            self.reviews.append(request)
            reviews.do_open_review(self.store, self.notifier, request)

    def record_block(self, *args) -> None:
        self.blocks.append(args)
        sanctions.do_record_block(self.store, self.notifier, *args)


@pytest.fixture
def mod(store, inbox, notifier, emitter):
    admin, bob, carol, dan = (make_user(store, n) for n in ("alice", "bob", "carol", "dan"))
    conv = make_conversation(store, [admin, bob, carol, dan])
    store.groups.set_group_role(conv.groupId, carol.id, "MODERATOR")
    queue = Queue(store, notifier)
    screening = Screening(FilterCache(store), queue.open_reviews, queue.record_block)

    class World:
        pass
    w = World()
    w.admin, w.bob, w.carol, w.dan, w.conv, w.queue, w.group = admin, bob, carol, dan, conv, queue, conv.groupId
    w.screening = screening

    def rule(kind, pattern, action, by=carol):
        return rules.do_create_filter(store, notifier, by, conv.groupId,
                                           FilterCreate(kind=kind, pattern=pattern, action=action))

    def send(user, client_id, content, **kw):
        submit_message(store, inbox, lambda c: None, user, MessageSend(convId=conv.id, clientId=client_id,
                                                                       content=content, **kw))

    def drain(screening=screening):
        return drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None,
                           screening=screening)

    def submit(conv_id, entry):
        submit_entry(inbox, lambda c: None, conv_id, entry)

    def decide(review_id, decision, by=carol, note=None):
        decided = reviews.do_decide(store, lambda rid: None, by, review_id, ReviewDecision(decision=decision, note=note))
        reviews.do_apply_decision(store, notifier, submit, review_id)
        return decided

    w.rule, w.send, w.drain, w.decide, w.submit = rule, send, drain, decide, submit
    return w


def _stored(store, conv):
    return list(store.db.messages.find({"convId": conv.id}).sort("seq", 1))


def test_a_blocked_message_is_never_stored_announced_nor_found(store, emitter, mod):
    mod.rule("word", "merde", "block")
    mod.send(mod.bob, "b1", "Quelle MERDE ce projet")
    mod.send(mod.bob, "b2", "bonjour")
    result = mod.drain()

    assert result.rejected == 1 and result.stored == [1]
    assert [m["content"] for m in _stored(store, mod.conv)] == ["bonjour"]
    [(rejected, room)] = emitter.of("message:rejected")
    assert room == f"user:{mod.bob.id}" and rejected["code"] == "content_blocked"
    assert "“MERDE”" in rejected["reason"] and rejected["details"]["match"] == "MERDE"
    assert [d["clientId"] for d, _ in emitter.of("message:new")] == ["b2"]
    assert search_messages(store, mod.bob, mod.conv.id, SearchQuery("merde", None, 20)).messages == []
    # The log has it once, for the moderators; no review item (nothing to decide).
    log = list_log(store, mod.carol, mod.group, IdPage(None, 50))["entries"]
    assert [e["action"] for e in log] == ["message_blocked", "filter_created"]
    assert store.db.reviews.count_documents({}) == 0


def test_a_masked_message_is_stored_masked_and_the_original_is_only_in_the_review(store, notifier, emitter, mod):
    # Masks open review items only in a group that asks for it (off by default: test_settings.py).
    rules.do_update_moderation_settings(store, notifier, mod.carol, mod.group, ModerationSettingsUpdate(reviewMasks=True))
    mod.rule("word", "con*", "mask")
    mod.send(mod.bob, "m1", "Quel connard, à Mâcon !")
    mod.drain()

    [stored] = _stored(store, mod.conv)
    assert stored["content"] == "Quel •••••••, à Mâcon !" and stored["metadata"]["masked"] is True
    announced = emitter.of("message:new")[0][0]
    assert announced["content"] == stored["content"] and announced["metadata"]["masked"] is True
    assert search_messages(store, mod.bob, mod.conv.id, SearchQuery("connard", None, 20)).messages == []
    [item] = reviews.list_reviews(store, mod.carol, mod.group, _pending())["reviews"]
    assert item["message"]["content"] == "Quel connard, à Mâcon !" and item["messageId"] == stored["_id"]
    assert [(r["match"], r["start"], r["end"]) for r in item["reasons"]] == [("connard", 5, 12)]
    [(flagged, rooms)] = emitter.of("moderation:flagged")
    assert flagged["id"] == item["id"] and rooms == [f"mod:{mod.group}", "mod:all"]
    for i in range(3):
        mod.send(mod.bob, f"m{i + 2}", f"connard n°{i}")
    mod.drain()
    assert mod.queue.batches == [1, 3]  # one task per drain batch, whatever the number of hits in it


def test_a_flagged_message_is_delivered_and_reviewed_once_however_often_reported(store, emitter, mod):
    mod.rule("regex", r"\b\d{4} ?\d{4} ?\d{4} ?\d{4}\b", "flag")
    mod.send(mod.bob, "f1", "ma carte 4970 1234 5678 9012 merci")
    mod.drain()
    [stored] = _stored(store, mod.conv)
    assert stored["content"] == "ma carte 4970 1234 5678 9012 merci"
    request = mod.queue.reviews[0]
    for _ in range(2):  # redelivered tasks
        reviews.do_open_review(store, mod.queue.notifier, request)
    for reporter in (mod.admin, mod.dan, mod.dan):
        reviews.do_report(store, mod.queue.notifier, reporter, stored["_id"], "données bancaires")

    assert store.db.reviews.count_documents({}) == 1
    [item] = reviews.list_reviews(store, mod.carol, mod.group, _pending())["reviews"]
    assert [r["kind"] for r in item["reasons"]] == ["filter", "report", "report"]
    assert {r["reporterName"] for r in item["reasons"] if r["kind"] == "report"} == {"alice", "dan"}
    # Flagged once when opened, then once per new reason; redeliveries and repeated reports add nothing.
    assert len(emitter.of("moderation:flagged")) == 3


def test_a_held_message_is_not_stored_until_approved_then_takes_the_next_seq(store, emitter, mod):
    mod.rule("link", "*", "hold")
    mod.send(mod.bob, "h1", "regarde https://exemple.fr/x")
    mod.send(mod.dan, "d1", "salut")
    assert mod.drain().held == 1
    assert [(m["seq"], m["clientId"]) for m in _stored(store, mod.conv)] == [(1, "d1")]
    [(held, room)] = emitter.of("message:held")
    assert room == f"user:{mod.bob.id}" and held["clientId"] == "h1"
    assert "regarde" not in str(emitter.of("message:new"))
    assert read_history(store, mod.bob, mod.conv.id, HistoryWindow(None, None, 50)).messages[0].clientId == "d1"

    mod.send(mod.dan, "d2", "ça va ?")
    mod.drain()
    decided = mod.decide(held["reviewId"], "approve")
    assert decided.status == "approved" and decided.decidedBy == mod.carol.id
    mod.drain()
    stored = _stored(store, mod.conv)
    assert [(m["seq"], m["clientId"]) for m in stored] == [(1, "d1"), (2, "d2"), (3, "h1")]
    assert stored[2]["content"] == "regarde https://exemple.fr/x" and stored[2]["senderId"] == mod.bob.id
    assert [d["clientId"] for d, _ in emitter.of("message:new")] == ["d1", "d2", "h1"]
    assert [d["status"] for d, _ in emitter.of("moderation:decided")] == ["approved"]
    # A redelivered decision task changes nothing.
    reviews.do_apply_decision(store, mod.queue.notifier, mod.submit, held["reviewId"])
    mod.drain()
    assert len(_stored(store, mod.conv)) == 3
    assert [r for _, r in emitter.of("message:new")].count(f"conv:{mod.conv.id}") == 3  # the room heard it once


def test_a_rejected_held_message_tells_the_sender_and_stores_nothing(store, emitter, mod):
    mod.rule("word", "spoiler", "hold")
    mod.send(mod.bob, "h2", "SPOILER : il meurt")
    mod.drain()
    [(held, _)] = emitter.of("message:held")
    mod.decide(held["reviewId"], "reject", note="pas de spoilers")
    mod.drain()
    assert _stored(store, mod.conv) == []
    [(rejected, room)] = emitter.of("message:rejected")
    assert (rejected["code"], rejected["clientId"], room) == ("rejected_by_moderator", "h2", f"user:{mod.bob.id}")
    assert "pas de spoilers" in rejected["reason"]
    assert rejected["details"] == {"note": "pas de spoilers"}   # the note alone, for the sender's own words


def test_two_moderators_deciding_at_once_one_wins(store, mod):
    mod.rule("word", "spoiler", "hold")
    mod.send(mod.bob, "h3", "spoiler")
    mod.drain()
    review_id = store.db.reviews.find_one()["_id"]
    outcomes, barrier = [], threading.Barrier(2)

    def decide(who, decision):
        barrier.wait()
        try:
            outcomes.append(("won", reviews.do_decide(store, lambda r: None, who, review_id,
                                                      ReviewDecision(decision=decision)).status))
        except ApiError as exc:
            outcomes.append(("lost", exc.code, exc.status, exc.details["decidedByName"]))

    threads = [threading.Thread(target=decide, args=a) for a in ((mod.carol, "approve"), (mod.admin, "reject"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [o for o in outcomes if o[0] == "won"]
    lost = [o for o in outcomes if o[0] == "lost"]
    assert len(won) == 1 and len(lost) == 1
    assert lost[0][1:3] == (Code.ALREADY_DECIDED, 409)
    assert store.moderation.get_review(review_id).status == won[0][1]


def test_a_decision_that_does_not_apply_and_a_non_moderator_change_nothing(store, mod):
    mod.rule("word", "spoiler", "hold")
    mod.send(mod.bob, "h4", "spoiler")
    mod.drain()
    review_id = store.db.reviews.find_one()["_id"]
    with pytest.raises(ApiError) as err:
        reviews.do_decide(store, lambda r: None, mod.carol, review_id, ReviewDecision(decision="dismiss"))
    assert err.value.code == Code.INVALID_DECISION and err.value.details == {"allowed": ["approve", "reject"]}
    with pytest.raises(ApiError) as err:
        reviews.do_decide(store, lambda r: None, mod.dan, review_id, ReviewDecision(decision="approve"))
    assert err.value.code == Code.FORBIDDEN
    assert store.moderation.get_review(review_id).status == "pending"


def test_a_rule_change_applies_to_the_next_send_on_another_worker_process(store, inbox, notifier, mod):
    other_process = Screening(FilterCache(store), mod.queue.open_reviews, mod.queue.record_block)
    mod.send(mod.bob, "r1", "un gros mot")
    mod.drain(other_process)             # compiled (no rules) in the other process
    rule = mod.rule("word", "gros mot", "block")
    mod.send(mod.bob, "r2", "un gros mot")
    mod.drain(other_process)             # its cache is stale: the version says so
    rules.do_update_filter(store, notifier, mod.carol, mod.group, rule.id, FilterUpdate(enabled=False))
    mod.send(mod.bob, "r3", "un gros mot")
    mod.drain(mod.screening)
    assert [m["clientId"] for m in _stored(store, mod.conv)] == ["r1", "r3"]


def test_a_broken_rule_in_the_store_is_skipped_and_the_others_apply(store, mod):
    mod.rule("word", "idiot", "block")
    bad = mod.rule("word", "placeholder", "block")
    store.db.filter_rules.update_one({"_id": bad.id}, {"$set": {"kind": "regex", "pattern": "(unclosed"}})
    store.moderation.bump_rules_version(mod.group)
    mod.send(mod.bob, "k1", "idiot")
    mod.send(mod.bob, "k2", "(unclosed")
    result = mod.drain()
    assert result.rejected == 1 and [m["clientId"] for m in _stored(store, mod.conv)] == ["k2"]


def test_a_pathological_regex_costs_a_bounded_time(store, mod):
    mod.rule("regex", "(a+)+$", "flag")
    text = "a" * 9_999 + "!"
    ruleset = mod.screening.cache.rules_for(mod.group)
    started = time.perf_counter()
    verdict = ruleset.scan(text)
    assert time.perf_counter() - started < 0.05 and verdict.action is None
    mod.send(mod.bob, "p1", text)
    assert mod.drain().stored == [1]


def test_edits_pass_the_filter_too(store, inbox, notifier, emitter, mod):
    mod.send(mod.bob, "e1", "bonjour")
    mod.drain()
    mid = _stored(store, mod.conv)[0]["_id"]
    rules.do_update_moderation_settings(store, notifier, mod.carol, mod.group, ModerationSettingsUpdate(reviewMasks=True))
    mod.rule("word", "idiot", "mask")
    mod.rule("word", "nul", "block")
    mod.rule("word", "spoiler", "hold")
    for content in ("tu es nul", "spoiler : il meurt", "espèce d'idiot"):
        submit_change(store, inbox, lambda c: None, mod.bob, mid, content=content)
    result = mod.drain()
    assert (result.changed, result.rejected, result.held) == (1, 1, 1)
    message = store.messages.get_message(mid)
    assert message.content == "espèce d'•••••" and [e.content for e in message.editHistory] == ["bonjour"]
    assert message.metadata.masked is True
    [(rejected, _)] = emitter.of("message:rejected")
    assert rejected["code"] == "content_blocked" and rejected["messageId"] == mid
    held = store.db.reviews.find_one({"kind": "held"})
    assert held["edit"] and held["messageId"] == mid and held["message"]["content"] == "spoiler : il meurt"
    flagged = store.db.reviews.find_one({"kind": "filter"})
    assert flagged["message"]["content"] == "espèce d'idiot" and flagged["reasons"][0]["match"] == "idiot"
    # Approving the held edit applies it, through the inbox.
    mod.decide(held["_id"], "approve")
    mod.drain()
    approved = store.messages.get_message(mid)
    assert approved.content == "spoiler : il meurt" and approved.metadata.masked is None  # nothing hidden now


def test_a_muted_member_cannot_send_or_edit_until_the_mute_ends(store, inbox, notifier, emitter, mod):
    mod.send(mod.bob, "x1", "avant")
    mod.drain()
    mid = _stored(store, mod.conv)[0]["_id"]
    mute = sanctions.do_mute(store, notifier, mod.carol, mod.group,
                              MuteCreate(username="bob", minutes=10, reason="calme-toi"))
    for attempt in (lambda: mod.send(mod.bob, "x2", "pendant"),
                    lambda: submit_change(store, inbox, lambda c: None, mod.bob, mid, content="changé")):
        with pytest.raises(ApiError) as err:
            attempt()
        assert err.value.code == Code.MUTED and err.value.details["until"]
    [(muted, room)] = emitter.of("moderation:muted")
    assert room == f"user:{mod.bob.id}" and muted["reason"] == "calme-toi"
    # A send queued before the mute is refused when stored.
    store.conversations.set_muted_until(mod.group, mod.bob.id, None)
    mod.send(mod.bob, "x3", "en file")
    store.conversations.set_muted_until(mod.group, mod.bob.id, mute.until)
    mod.drain()
    assert [d["code"] for d, _ in emitter.of("message:rejected")] == ["muted"]
    # Lifted: sends again.
    sanctions.do_lift(store, notifier, mod.carol, mod.group, mod.bob.id, "mute")
    mod.send(mod.bob, "x4", "après")
    mod.drain()
    assert [m["clientId"] for m in _stored(store, mod.conv)] == ["x1", "x4"]
    assert [d["kind"] for d, _ in emitter.of("moderation:lifted")] == ["mute"]


def test_a_mute_ends_by_itself(store, notifier, mod):
    sanctions.do_mute(store, notifier, mod.carol, mod.group, MuteCreate(username="bob", minutes=1, reason="x"))
    past = store.conversations.get_conversation_member(mod.conv.id, mod.bob.id).mutedUntil.replace(year=2000)
    store.conversations.set_muted_until(mod.group, mod.bob.id, past)
    store.db.mutes.update_one({}, {"$set": {"until": past}})
    mod.send(mod.bob, "y1", "libre")
    assert mod.drain().stored == [1]
    assert sanctions.list_sanctions(store, mod.carol, mod.group, "mutes")["mutes"] == []


def test_blocked_messages_escalate_to_an_automatic_mute(store, notifier, emitter, mod):
    mod.rule("word", "merde", "block")
    rules.do_update_moderation_settings(store, notifier, mod.admin, mod.group, ModerationSettingsUpdate(
        autoMute={"enabled": True, "blocked": 2, "windowMinutes": 10, "muteMinutes": 5}))
    mod.send(mod.bob, "z1", "merde")
    mod.drain()
    assert emitter.of("moderation:muted") == []
    mod.send(mod.bob, "z2", "merde alors")
    mod.drain()
    [(muted, _)] = emitter.of("moderation:muted")
    assert "2 blocked messages" in muted["reason"]
    with pytest.raises(ApiError) as err:
        mod.send(mod.bob, "z3", "bonjour")
    assert err.value.code == Code.MUTED
    # A redelivered block record is logged once and does not mute twice.
    mod.queue.record_block(*mod.queue.blocks[-1])
    log = list_log(store, mod.carol, mod.group, IdPage(None, 50))["entries"]
    assert [e["action"] for e in log].count("message_blocked") == 2
    assert [e["action"] for e in log].count("auto_muted") == 1


def test_the_allowlist_and_the_test_box(store, notifier, mod):
    mod.rule("word", "*con*", "flag")
    rules.do_update_moderation_settings(store, notifier, mod.carol, mod.group,
                                             ModerationSettingsUpdate(allowlist=["contact", "second"]))
    out = screening.do_test_filter(store, mod.carol, mod.group, FilterTest(
        text="Un contact, un second, un con.", rule={"kind": "word", "pattern": "un", "action": "mask"}))
    assert [(h["match"], h["filterId"] is None) for h in out["hits"]] == [
        ("Un", True), ("un", True), ("un", True), ("con", False)]
    assert out["action"] == "flag"
    assert out["masked"].startswith("•• contact")
    with pytest.raises(ApiError) as err:
        screening.do_test_filter(store, mod.carol, mod.group,
                                  FilterTest(text="x", rule={"kind": "regex", "pattern": "(?=a)", "action": "flag"}))
    assert err.value.code == Code.INVALID_PATTERN


@pytest.mark.parametrize("kind, pattern, action, code", [
    ("regex", "(a", "flag", Code.INVALID_PATTERN),
    ("regex", "(?<=x)y", "flag", Code.INVALID_PATTERN),
    ("word", "", "flag", Code.INVALID_PATTERN),
    ("word", "x" * 1_000_000, "flag", Code.INVALID_PATTERN),
    ("link", "pas un domaine", "block", Code.INVALID_PATTERN),
])
def test_bad_rules_are_refused_and_change_nothing(store, notifier, mod, kind, pattern, action, code):
    with pytest.raises(ApiError) as err:
        mod.rule(kind, pattern, action)
    assert err.value.code == code and err.value.message
    assert store.db.filter_rules.count_documents({}) == 0 and store.moderation.rules_version(mod.group) == 0


def test_non_moderators_cannot_manage_rules_or_see_the_queue(store, notifier, mod):
    for call in (lambda: mod.rule("word", "x", "flag", by=mod.dan),
                 lambda: reviews.list_reviews(store, mod.bob, mod.group, _pending()),
                 lambda: list_log(store, mod.dan, mod.group, IdPage(None, 10)),
                 lambda: sanctions.do_mute(store, notifier, mod.dan, mod.group,
                                            MuteCreate(username="bob", minutes=1, reason="x"))):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.code == Code.FORBIDDEN
    assert store.db.mutes.count_documents({}) == 0 and store.db.filter_rules.count_documents({}) == 0


def _pending():
    from schemas.payloads import IdPage, ReviewQuery
    return ReviewQuery(statuses=("pending",), kind=None, page=IdPage(None, 50))
