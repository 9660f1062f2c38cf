"""Encryption at rest in the browser: the group admin's switch on the moderation page's settings (confirmed, one
way, refused with its reason where the server has no master key), the GIF rating in people's words, both in
the group's history; the lock mark in an encrypted conversation's header and the search panel's note that words
match whole there."""
from __future__ import annotations

import base64
import os

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import person
from tests.browser.test_accessibility import assert_no_serious
from tests.browser.test_moderation import dashboard
from tests.browser.test_moderation_log import tab
from tests.e2e.harness import make_conversation, own_system

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def keyed_system():
    """A system with a master key (ENCRYPTION_MASTER_KEYS): groups may turn encryption on."""
    key = base64.b64encode(os.urandom(32)).decode()
    with own_system(ENCRYPTION_MASTER_KEYS=f"k1:{key}") as s:
        yield s


def settings_of(api, group_id: str) -> dict:
    return api.ok("GET", f"/api/groups/{group_id}/settings")


def test_a_group_admin_turns_encryption_on_once_and_sets_the_gif_rating(keyed_system, open_chat):
    admin, member = person(keyed_system, "alice"), person(keyed_system, "bob")
    group, conv = make_conversation(admin, member, title="secrets")
    assert settings_of(admin, group["id"])["encryptionAvailable"] is True
    m = dashboard(open_chat(base_url=keyed_system.url).sign_in(admin.username))
    page = m.page
    settings = tab(m, "settings")
    card = settings.locator("#group-settings")
    switch = card.get_by_role("checkbox", name="Encrypt what members write")
    expect(switch).to_be_enabled()
    expect(switch).not_to_be_checked()
    expect(card.locator("#encryption-hint")).to_contain_text("cannot be turned off")

    switch.check()                                                       # asked first: it cannot be undone
    dialog = page.locator("#dialog")
    expect(dialog).to_contain_text("Encrypt what members write?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(switch).not_to_be_checked()
    assert settings_of(admin, group["id"])["encryption"] is False

    switch.check()
    dialog.get_by_role("button", name="Turn on encryption").click()
    expect(card.locator(".group-saved")).to_have_text("Saved")
    switch = card.get_by_role("checkbox", name="Encrypt what members write")
    expect(switch).to_be_checked()
    expect(switch).to_be_disabled()                                      # one way
    expect(card.locator("#encryption-hint")).to_contain_text("On: what members write is stored encrypted")
    assert settings_of(admin, group["id"])["encryption"] is True

    rating = card.get_by_label("GIFs members may find")
    expect(rating).to_have_value("g")
    expect(rating.locator("option")).to_have_text(["Everyone (G)", "Parental guidance (PG)", "Over 13 (PG-13)", "Adults (R)"])
    rating.select_option("pg-13")
    expect(card.locator(".group-saved")).to_have_text("Saved")
    expect(card.get_by_label("GIFs members may find")).to_be_focused()   # the redraw keeps the keyboard's place
    assert settings_of(admin, group["id"])["gifRating"] == "pg-13"
    assert_no_serious(page, "the group's encryption and GIF settings")
    m.screenshot("group-settings")

    log = tab(m, "log")
    entry = log.locator("li", has_text="changed the group's settings").first
    expect(entry).to_be_visible()
    expect(log).to_contain_text("Encryption at rest")
    expect(log).to_contain_text("Over 13 (PG-13)")
    m.screenshot("group-settings-log")

    # The member, on a phone in French: the lock in the header, the search panel's note.
    b = open_chat(locale="fr-FR", phone=True, base_url=keyed_system.url).sign_in(member.username).open_conversation("secrets")
    lock = b.page.locator("#conv-title .lock-mark")
    expect(lock).to_have_attribute("aria-label", "Chiffré au repos")
    expect(lock).to_have_attribute("title", "Ce que les membres écrivent ici est stocké chiffré")
    b.page.click("#search-toggle")
    expect(b.page.locator("#search-encrypted")).to_be_visible()
    expect(b.page.locator("#search-encrypted")).to_contain_text("mots entiers")
    b.screenshot("encrypted-conversation-phone")
    assert [c for c in member.ok("GET", "/api/conversations")["conversations"] if c["id"] == conv["id"]][0]["encrypted"]


def test_without_a_master_key_the_switch_says_why_and_plain_conversations_have_no_lock(system, open_chat):
    admin, member = person(system, "alice"), person(system, "bob")
    group, _ = make_conversation(admin, member, title="plain")
    m = dashboard(open_chat().sign_in(admin.username))
    card = tab(m, "settings").locator("#group-settings")
    switch = card.get_by_role("checkbox", name="Encrypt what members write")
    expect(switch).to_be_disabled()
    expect(switch).not_to_be_checked()
    expect(card.locator("#encryption-hint")).to_contain_text("this server has no encryption key")
    r = admin.call("PATCH", f"/api/groups/{group['id']}/settings", json={"encryption": True})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "encryption_unavailable")
    m.screenshot("group-settings-unavailable")

    b = open_chat().sign_in(member.username).open_conversation("plain")
    expect(b.page.locator("#conv-title")).to_have_text("plain")
    expect(b.page.locator("#conv-title .lock-mark")).to_have_count(0)
    b.page.click("#search-toggle")
    expect(b.page.locator("#search-encrypted")).to_be_hidden()
