"""A member's own mutes, bans and removals in the chat page: at load (session:ready's sanctions) and live
(moderation:sanction, conversation:left), the banner says it and the composer is disabled with the reason and
the time left, until the mute or ban is lifted or ends; on desktop and phone, in English, French and German."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import person
from tests.e2e.harness import make_conversation

pytestmark = pytest.mark.browser


def mute(admin, group, member, minutes: int, reason: str) -> None:
    admin.ok("POST", f"/api/groups/{group['id']}/mutes", json={"username": member.username, "minutes": minutes,
                                                              "reason": reason})


def lift(admin, group, member, kind: str) -> None:
    r = admin.call("DELETE", f"/api/groups/{group['id']}/{kind}/{member.id}")
    assert r.status_code == 204, r.text


def expect_blocked(chat: ChatPage, text) -> None:
    note = chat.page.locator("#composer-blocked")
    expect(note).to_be_visible()
    expect(note).to_have_attribute("role", "status")
    expect(note).to_have_text(text)
    expect(chat.page.locator("#input")).to_be_disabled()
    expect(chat.page.locator("#attach")).to_be_disabled()
    expect(chat.page.locator("#composer button[type=submit]")).to_be_disabled()


def expect_writable(chat: ChatPage) -> None:
    expect(chat.page.locator("#composer-blocked")).to_be_hidden()
    expect(chat.page.locator("#input")).to_be_enabled()
    expect(chat.page.locator("#attach")).to_be_enabled()


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_a_muted_member_sees_the_mute_at_load_and_live_until_it_is_lifted(system, open_chat, phone):
    admin, member = person(system, "alice"), person(system, "bob")
    group, conv = make_conversation(admin, member, title="quiet")
    mute(admin, group, member, 14, "spam")

    b = open_chat(phone=phone).sign_in(member.username)    # a fresh page: what a reload sees
    b.conversation_link("quiet").click()
    expect(b.page.locator("#conv-title")).to_have_text("quiet")
    expect(b.page.locator("#sanctions")).to_contain_text("You are muted in")
    expect(b.page.locator("#sanctions")).to_contain_text("spam")
    expect_blocked(b, "Muted by a moderator for 14 min: spam")
    b.screenshot("muted-at-load")

    lift(admin, group, member, "mutes")                      # lifted: at once, without a reload
    expect_writable(b)
    expect(b.page.locator("#sanctions")).to_be_hidden()
    b.send("thanks")
    expect(b.message("thanks")).to_be_visible()

    mute(admin, group, member, 90, "cool down")             # placed live
    expect_blocked(b, re.compile(r"^Muted by a moderator for (90 min|2 hr): cool down$"))
    b.screenshot("muted-live")
    b.page.reload()                                          # a reload keeps it
    expect(b.page.locator("#conv-title")).to_have_text("quiet")
    expect_blocked(b, re.compile(r"^Muted by a moderator for (89|90) min: cool down$"))
    lift(admin, group, member, "mutes")
    expect_writable(b)


def test_a_ban_disables_the_composer_in_french_on_a_phone_and_its_lifting_is_told(system, open_chat):
    admin, member = person(system, "alice"), person(system, "bob")
    group, conv = make_conversation(admin, member, title="règles")
    b = open_chat(locale="fr-FR", phone=True).sign_in(member.username).open_conversation("règles")

    admin.ok("POST", f"/api/groups/{group['id']}/bans", json={"username": member.username, "reason": "insultes"})
    expect_blocked(b, "Banni de ce groupe jusqu’à ce qu’un administrateur lève le bannissement : insultes")
    expect(b.page.locator("#sanctions")).to_contain_text("Vous êtes banni de")
    b.screenshot("banned-live")

    b.page.reload()                                          # no longer a member: the banner still names the group
    expect(b.page.locator("#sanctions")).to_contain_text(group["name"])
    expect(b.page.locator("#sanctions")).to_contain_text("insultes")
    b.screenshot("banned-at-load")

    lift(admin, group, member, "bans")
    expect(b.page.locator("#sanctions")).to_be_hidden()
    expect(b.page.locator(".toast", has_text="Vous pouvez de nouveau écrire")).to_be_visible()


def test_removal_from_the_open_conversation_disables_the_composer_with_who_did_it(system, open_chat):
    admin, member = person(system, "alice"), person(system, "bob")
    group, conv = make_conversation(admin, member, title="projekt")
    admin.ok("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": "c-1", "content": "hallo"})
    b = open_chat(locale="de-DE").sign_in(member.username).open_conversation("projekt")
    expect(b.message("hallo")).to_be_visible()

    r = admin.call("DELETE", f"/api/conversations/{conv['id']}/members/{member.id}")
    assert r.status_code == 204, r.text
    expect_blocked(b, f"{admin.username} hat dich aus dieser Unterhaltung entfernt. Du kannst hier nicht mehr schreiben.")
    expect(b.message("hallo")).to_be_visible()                   # what was on screen stays
    expect(b.conversation_link("projekt")).to_have_count(0)      # and the list no longer has it
    expect(b.page.locator("#leave-button")).to_be_hidden()
    b.screenshot("removed")

    b.page.evaluate("() => { location.hash = '#/'; }")           # elsewhere and back: the usual refusal
    b.goto_conversation(conv["id"])
    expect(b.page.locator("#conv-title")).to_have_text("Unterhaltung nicht verfügbar")
