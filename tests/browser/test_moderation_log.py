"""The moderator's settings and history: whether masked words open review items is the group's choice (a
switch, off by default), and the log reads as sentences with people's names, dates in the reader's language
and time zone, durations and on/off, never raw values."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import person, post
from tests.browser.test_moderation import add_rule, dashboard, moderated, review
from tests.browser.test_i18n import CATALOGUES
from tests.e2e.harness import make_conversation, wait_until

pytestmark = pytest.mark.browser
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def tab(chat: ChatPage, name: str):
    chat.page.click(f"#tabs a[data-tab={name}]")
    return chat.page.locator(f"#tab-{name}")


def pending(api, group_id: str) -> list[dict]:
    return api.ok("GET", f"/api/groups/{group_id}/reviews?status=pending")["reviews"]


def stored(api, conv_id: str, client_id: str) -> dict:
    return wait_until(lambda: [m for m in api.chat(conv_id) if m["clientId"] == client_id],
                      what=f"message {client_id}")[0]


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_masked_words_open_review_items_only_once_the_group_turns_it_on(system, open_chat, phone):
    admin, member, group, conv = moderated(system, "masks")
    admin.ok("PATCH", "/api/me", json={"fname": "Ada", "lname": "Admin"})
    add_rule(admin, group["id"], "heck", "mask")
    m = dashboard(open_chat(phone=phone).sign_in(admin.username))
    settings = tab(m, "settings")
    switch = settings.get_by_role("checkbox", name="Masked words open a review item")
    expect(switch).not_to_be_checked()                              # off by default
    expect(settings.locator("#review-masks-hint")).to_contain_text("nothing reaches the queue")

    post(member, conv["id"], "quiet", "what the heck")
    assert stored(admin, conv["id"], "quiet")["content"] == "what the ••••"   # still masked
    post(member, conv["id"], "after", "nothing to see")              # a later message: the first was screened
    stored(admin, conv["id"], "after")
    assert pending(admin, group["id"]) == []

    switch.check()
    settings.get_by_role("button", name="Save").click()
    expect(settings.locator(".saved")).to_have_text("Saved")
    assert admin.ok("GET", f"/api/groups/{group['id']}/moderation/settings")["reviewMasks"] is True
    m.screenshot(f"settings-review-masks{'-phone' if phone else ''}")

    tab(m, "queue")
    post(member, conv["id"], "loud", "oh heck again")
    item = review(m, "oh heck again")                                # the moderator sees the original
    expect(item).to_be_visible()
    expect(item.locator("mark.hit")).to_have_text("heck")
    assert stored(admin, conv["id"], "loud")["content"] == "oh •••• again"

    log = tab(m, "log")
    entry = log.locator("li.entry[data-action=settings_updated]").first
    expect(entry.locator(".entry-text")).to_have_text("Ada Admin changed the moderation settings")
    expect(entry.locator(".changes")).to_contain_text("Masked words open a review item off → on")
    expect(entry).not_to_contain_text("true")
    m.screenshot(f"log-settings{'-phone' if phone else ''}")


@pytest.mark.parametrize("locale, zone, phone, texts", [
    ("fr-FR", "Europe/Paris", True, {
        "reported": "Carla Report a signalé un message de Bruno Membre",
        "muted": "Ada Admin a réduit Bruno Membre au silence",
        "duration": "1 heure et 30 minutes",
        "switch": "Les mots masqués ouvrent un élément de revue désactivé → activé",
        "auto": "Messages bloqués avant la mise au silence 3 → 4", "blockedWord": "Bloqué pour « zut »"}),
    ("de-DE", "America/New_York", False, {
        "reported": "Carla Report hat eine Nachricht von Bruno Membre gemeldet",
        "muted": "Ada Admin hat Bruno Membre stummgeschaltet",
        "duration": "1 Stunde, 30 Minuten",
        "switch": "Maskierte Wörter öffnen einen Prüfeintrag aus → an",
        "auto": "Blockierte Nachrichten bis zur Stummschaltung 3 → 4", "blockedWord": "Blockiert wegen „zut“"}),
], ids=["fr-phone", "de-desktop"])
def test_the_log_reads_as_sentences_with_names_local_dates_and_words(system, open_chat, locale, zone, phone, texts):
    admin, member, reporter = person(system, "alice"), person(system, "bob"), person(system, "carol")
    group, conv = make_conversation(admin, member, reporter, title="history")
    admin.ok("PATCH", "/api/me", json={"fname": "Ada", "lname": "Admin"})
    member.ok("PATCH", "/api/me", json={"fname": "Bruno", "lname": "Membre"})
    reporter.ok("PATCH", "/api/me", json={"fname": "Carla", "lname": "Report"})

    add_rule(admin, group["id"], "zut", "block")
    post(member, conv["id"], "r1", "a message to report")
    message = stored(admin, conv["id"], "r1")
    reporter.ok("POST", f"/api/messages/{message['id']}/reports", json={"reason": "spam"})
    member.call("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": "b1", "content": "zut"})
    admin.ok("PATCH", f"/api/groups/{group['id']}/moderation/settings", json={
        "reviewMasks": True, "autoMute": {"enabled": True, "blocked": 4, "windowMinutes": 10, "muteMinutes": 60}})
    mute = admin.ok("POST", f"/api/groups/{group['id']}/mutes",
                    json={"username": member.username, "minutes": 90, "reason": "cool down"})

    m = dashboard(open_chat(locale=locale, phone=phone, timezone_id=zone).sign_in(admin.username))
    log = tab(m, "log")
    entries = log.locator("li.entry")
    expect(log.locator("li.entry[data-action=muted]")).to_be_visible()
    reported = log.locator("li.entry[data-action=reported]")
    expect(reported.locator(".entry-text")).to_have_text(texts["reported"])
    expect(reported.locator("q")).to_have_text("spam")

    muted = log.locator("li.entry[data-action=muted]")
    expect(muted.locator(".entry-text")).to_have_text(texts["muted"])
    until = m.page.evaluate("([iso, lang, zone]) => new Intl.DateTimeFormat(lang, {dateStyle: 'medium', "
                            "timeStyle: 'short', timeZone: zone}).format(new Date(iso))",
                            [mute["until"], locale[:2], zone])
    expect(muted.locator(".changes")).to_contain_text(until)
    expect(muted.locator(".changes")).to_contain_text(texts["duration"])

    settings = log.locator("li.entry[data-action=settings_updated]")
    expect(settings.locator(".changes")).to_contain_text(texts["switch"])
    expect(settings.locator(".changes")).to_contain_text(texts["auto"])
    expect(settings.locator(".changes")).to_contain_text(CATALOGUES[locale[:2]]["mod.settings.autoMute"])
    blocked = log.locator("li.entry[data-action=message_blocked]")
    expect(blocked).to_contain_text(texts["blockedWord"])

    text = " ".join(entries.all_inner_texts())
    assert not ISO.search(text) and "true" not in text and "false" not in text and "mod.log." not in text, text
    m.screenshot(f"log-{locale[:2]}{'-phone' if phone else ''}")
