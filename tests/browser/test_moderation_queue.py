"""The review queue as a moderator uses it: decisions named by what they do and explained where they are
taken; muting or banning an item's author with the item's reason; sanctions that pick the member from a
searchable list; long messages collapsed in the "show in context" panel. Desktop and phone, English and
other languages."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import person, post
from tests.e2e.harness import make_conversation, wait_until

pytestmark = pytest.mark.browser


def moderated(system, title: str):
    """A group admin (who moderates), the member whose messages are reviewed, and a reporter."""
    admin, member, reporter = person(system, "alice"), person(system, "bob"), person(system, "carol")
    group, conv = make_conversation(admin, member, reporter, title=title)
    return admin, member, reporter, group, conv


def reported(member, reporter, conv: dict, text: str, reason: str) -> dict:
    """A message of the member's, reported by the reporter: its review item is pending."""
    post(member, conv["id"], f"c-{time.monotonic_ns()}", text)
    message = wait_until(lambda: next((m for m in member.chat(conv["id"]) if m["content"] == text), None),
                         what="the message stored")
    reporter.ok("POST", f"/api/messages/{message['id']}/reports", json={"reason": reason})
    return message


def dashboard(chat: ChatPage, admin) -> ChatPage:
    chat.sign_in(admin.username)
    chat.page.goto("/moderation")
    expect(chat.page.locator("#mod")).to_be_visible()
    expect(chat.page.locator("#live")).to_have_attribute("data-mode", "live")
    return chat


def review(chat: ChatPage, text: str):
    return chat.page.locator("#queue-list li.review", has=chat.page.locator(".review-text", has_text=text))


def described_by(button) -> str:
    """The text of the element a button's aria-describedby names."""
    return button.evaluate("b => document.getElementById(b.getAttribute('aria-describedby')).textContent")


@pytest.mark.parametrize("locale, phone, labels, helps, done", [
    ("en-US", False, ["Keep, it's fine", "Dismiss as false alarm", "Remove message"],
     ["closed as checked and acceptable", "closed as unfounded", "deleted for everyone"],
     "Removed: the message is being deleted for everyone."),
    ("fr-FR", True, ["Conserver, rien à redire", "Classer : fausse alerte", "Retirer le message"],
     ["vérifié et acceptable", "clos comme infondé", "supprimé pour tous"],
     "Retiré : le message est supprimé pour tous."),
], ids=["desktop-en", "phone-fr"])
def test_decisions_are_named_by_their_effect_and_explained_where_they_are_taken(system, open_chat, locale, phone,
                                                                                   labels, helps, done):
    admin, member, reporter, group, conv = moderated(system, "decisions")
    reported(member, reporter, conv, "buy cheap watches here", "spam")
    m = dashboard(open_chat(locale=locale, phone=phone), admin)
    item = review(m, "buy cheap watches here")
    buttons = item.locator("button[data-decision]")
    expect(buttons).to_have_count(3)
    assert buttons.all_inner_texts() == labels
    for button, help_text in zip(buttons.all(), helps):
        assert help_text in described_by(button)
        expect(item.locator(".decision-help")).to_contain_text(help_text)   # shown, not only announced
    m.screenshot("decisions")

    item.locator("[data-decision=delete]").click()
    expect(m.page.locator("#toasts")).to_contain_text(done)
    expect(item.locator(".decided")).to_be_visible()
    wait_until(lambda: not [x for x in member.chat(conv["id"]) if x["content"] == "buy cheap watches here"
                            and not x.get("isDeleted")], what="the message deleted")


def test_a_held_message_says_what_approving_and_rejecting_do(system, open_chat):
    admin, member, _, group, conv = moderated(system, "held-help")
    admin.ok("POST", f"/api/groups/{group['id']}/filters", json={"kind": "word", "pattern": "secretword", "action": "hold"})
    m = dashboard(open_chat(), admin)
    post(member, conv["id"], "held-1", "the secretword is here")
    item = review(m, "the secretword is here")
    approve, reject = item.locator("[data-decision=approve]"), item.locator("[data-decision=reject]")
    expect(approve).to_have_text("Approve and deliver")
    expect(reject).to_have_text("Reject, never deliver")
    assert "delivered to the conversation now" in described_by(approve)
    assert "nobody ever sees it" in described_by(reject)
    approve.click()
    expect(m.page.locator("#toasts")).to_contain_text("Approved: the message is being delivered.")


def test_the_author_is_muted_from_the_item_for_a_chosen_time_with_the_reason_prefilled(system, open_chat):
    admin, member, reporter, group, conv = moderated(system, "mute-item")
    reported(member, reporter, conv, "you are all idiots", "insults other members")
    m = dashboard(open_chat(), admin)
    page = m.page
    item = review(m, "you are all idiots")
    expect(item.locator(".author-tools")).to_contain_text(member.username)
    item.locator("[data-action=mute]").click()

    dialog = page.locator("#dialog")
    expect(dialog.locator("h2")).to_have_text(f"Mute {member.username}")
    expect(dialog.locator("input[name=reason]")).to_have_value("insults other members")   # from the report
    expect(dialog.locator(".act-summary")).to_contain_text("for 1 hour, until")            # the default
    dialog.locator("select[name=duration]").select_option("custom")
    dialog.locator("input[name=amount]").fill("3")
    dialog.locator("select[name=unit]").select_option("hours")
    expect(dialog.locator(".act-summary")).to_contain_text(f"{member.username} will not be able to write in this group for 3 hours")
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", dialog.locator(".act-summary").inner_text())   # no raw ISO
    m.screenshot("mute-from-item")
    dialog.locator("input[name=reason]").fill("insults other members, again")
    dialog.get_by_role("button", name="Mute").click()
    expect(dialog).to_be_hidden()

    expect(item.locator(".acted")).to_contain_text(f"You muted {member.username} until")
    expect(page.locator("#toasts")).to_contain_text(f"{member.username} is muted until")
    mutes = admin.ok("GET", f"/api/groups/{group['id']}/mutes")["mutes"]
    [mute] = [x for x in mutes if x["username"] == member.username]
    assert mute["reason"] == "insults other members, again"
    until = datetime.fromisoformat(mute["until"].replace("Z", "+00:00"))
    assert abs(until - (datetime.now(timezone.utc) + timedelta(hours=3))) < timedelta(minutes=2)
    r = member.call("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": "after-mute", "content": "hi"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "muted"
    expect(item.locator("[data-decision]").first).to_be_enabled()   # the item is still to decide


def test_a_bad_custom_duration_is_explained_and_changes_nothing(system, open_chat):
    admin, member, reporter, group, conv = moderated(system, "mute-bad")
    reported(member, reporter, conv, "not nice at all", "rude")
    m = dashboard(open_chat(locale="de-DE"), admin)
    review(m, "not nice at all").locator("[data-action=mute]").click()
    dialog = m.page.locator("#dialog")
    dialog.locator("select[name=duration]").select_option("custom")
    dialog.locator("input[name=amount]").fill("0")
    expect(dialog.locator(".act-summary")).to_contain_text("Wähle eine ganze Zahl")
    dialog.get_by_role("button", name="Stummschalten").click()
    expect(dialog.locator(".form-error")).to_contain_text("Wähle eine ganze Zahl")
    assert admin.ok("GET", f"/api/groups/{group['id']}/mutes")["mutes"] == []
    dialog.get_by_role("button", name="Abbrechen").click()


def test_the_author_is_banned_from_the_item_on_a_phone_in_spanish(system, open_chat):
    admin, member, reporter, group, conv = moderated(system, "ban-item")
    reported(member, reporter, conv, "scam link http://example.invalid", "estafa")
    m = dashboard(open_chat(locale="es-ES", phone=True), admin)
    item = review(m, "scam link")
    item.locator("[data-action=ban]").click()
    dialog = m.page.locator("#dialog")
    expect(dialog.locator("input[name=reason]")).to_have_value("estafa")
    expect(dialog.locator(".act-summary")).to_contain_text("hasta que un administrador del grupo levante la expulsión")
    m.screenshot("ban-from-item-phone")
    dialog.get_by_role("button", name="Expulsar").click()
    expect(dialog).to_be_hidden()
    expect(item.locator(".acted")).to_contain_text(f"Expulsaste a {member.username}")
    [ban] = admin.ok("GET", f"/api/groups/{group['id']}/bans")["bans"]
    assert ban["username"] == member.username and ban["until"] is None and ban["reason"] == "estafa"
    members = admin.ok("GET", f"/api/groups/{group['id']}/members")["members"]
    assert member.username not in [x["user"]["username"] for x in members]   # out of the group at once


def test_a_moderator_without_ban_rights_is_offered_only_the_mute(system, open_chat):
    admin, member, reporter, group, conv = moderated(system, "mod-only")
    admin.ok("PATCH", f"/api/groups/{group['id']}/members/{reporter.id}", json={"role": "MODERATOR"})
    reported(member, admin, conv, "member text to judge", "check this")
    m = dashboard(open_chat(), reporter)
    item = review(m, "member text to judge")
    expect(item.locator("[data-action=mute]")).to_be_visible()
    expect(item.locator("[data-action=ban]")).to_have_count(0)


@pytest.mark.parametrize("locale, phone, label", [("en-US", False, "Mute"), ("es-ES", True, "Silenciar")],
                         ids=["desktop-en", "phone-es"])
def test_the_member_picker_finds_a_member_by_part_of_their_name_and_sanctions_them(system, open_chat, locale, phone,
                                                                                      label):
    admin, member, _, group, _ = moderated(system, "picker")
    member.ok("PATCH", "/api/me", json={"fname": "Roberta", "lname": "Núñez"})
    m = dashboard(open_chat(locale=locale, phone=phone), admin)
    page = m.page
    page.click("#tabs a[data-tab=sanctions]")
    picker = page.locator("#mutes input[role=combobox]")
    picker.fill("nun")                                          # a part of the last name, accents ignored
    options = page.locator("#mutes [role=option]")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Roberta Núñez")
    expect(options.first).to_contain_text(f"@{member.username}")
    expect(picker).to_have_attribute("aria-expanded", "true")
    m.screenshot("picker")
    picker.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(picker).to_have_attribute("aria-activedescendant", options.first.get_attribute("id"))
    picker.press("Enter")                                       # picks; does not submit
    expect(picker).to_have_value(member.username)
    expect(picker).to_have_attribute("aria-expanded", "false")
    assert admin.ok("GET", f"/api/groups/{group['id']}/mutes")["mutes"] == []

    picker.fill("zzz-nobody")
    expect(page.locator("#mutes .picker-list")).to_be_visible()
    expect(page.locator("#mutes [role=option]")).to_have_count(0)
    picker.press("Escape")
    expect(page.locator("#mutes .picker-list")).to_be_hidden()
    picker.fill("rober")
    expect(options).to_have_count(1)
    options.first.click()
    expect(picker).to_have_value(member.username)

    form = page.locator("#mutes form")
    form.locator("input[name=minutes]").fill("30")
    form.locator("input[name=reason]").fill("picked from the list")
    form.get_by_role("button", name=label, exact=True).click()
    row = page.locator("#mutes li.sanction", has_text=member.username)
    expect(row).to_be_visible()
    [mute] = admin.ok("GET", f"/api/groups/{group['id']}/mutes")["mutes"]
    assert mute["username"] == member.username and mute["reason"] == "picked from the list"
    expect(picker).to_have_value("")


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_a_long_message_is_collapsed_in_the_context_panel_and_expands(system, open_chat, phone):
    admin, member, _, group, conv = moderated(system, "long")
    admin.ok("POST", f"/api/groups/{group['id']}/filters", json={"kind": "word", "pattern": "kaboom", "action": "flag"})
    long_text = "kaboom " + "\n".join(f"line {n}: a long report of everything that happened today." for n in range(40))
    post(member, conv["id"], "long-1", long_text)
    post(member, conv["id"], "short-1", "a short one after")
    m = dashboard(open_chat(phone=phone), admin)
    item = review(m, "line 39")
    item.locator("[data-action=context]").click()
    focus = item.locator(".context li.focus")
    text = focus.locator(".context-text")
    expect(text).to_contain_text("line 39")
    toggle = focus.locator("button.more-toggle")
    expect(toggle).to_have_text("Show more")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    collapsed = text.evaluate("e => e.clientHeight")
    assert text.evaluate("e => e.scrollHeight") > collapsed + 100
    short = item.locator(".context li", has_text="a short one after")
    expect(short.locator("button.more-toggle")).to_have_count(0)   # a short message gets no button
    own = item.locator(".review-text")                          # the item's own text is collapsed too
    expect(own.locator("button.more-toggle")).to_have_text("Show more")
    assert own.locator(".clamp").evaluate("e => e.scrollHeight > e.clientHeight + 100")
    m.screenshot("long-collapsed")

    toggle.focus()
    toggle.press("Enter")                                      # keyboard, like a click
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_have_text("Show less")
    assert text.evaluate("e => e.clientHeight") > collapsed + 100
    m.screenshot("long-expanded")
    toggle.press("Enter")
    expect(toggle).to_have_text("Show more")
