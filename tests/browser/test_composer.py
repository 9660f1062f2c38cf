"""The composer as people expect it from Slack: a counter near the server's limit and a refusal with the reason
past it (a paste is never cut), ↑ to edit one's last message, and the full emoji set (search, recently used,
keyboard) for the input and for reactions."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import person, post
from tests.e2e.harness import make_conversation, own_system

pytestmark = pytest.mark.browser

PASTE = """(text => {
  // What a paste from the clipboard does: the paste event (the page reads clipboardData), then the insertion.
  const input = document.querySelector("#input");
  input.focus();
  const data = new DataTransfer();
  data.setData("text/plain", text);
  const event = new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true});
  if (input.dispatchEvent(event)) document.execCommand("insertText", false, text);
})"""


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page: Page, selector: str) -> list[str]:
    """axe-core's serious and critical violations inside that element (the page's CSP does not apply here)."""
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    found = page.evaluate("sel => axe.run(document.querySelector(sel)).then(r => r.violations"
                          ".filter(v => ['serious', 'critical'].includes(v.impact))"
                          ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))", selector)
    return found


def test_a_long_paste_is_kept_whole_counted_and_refused_with_the_reason(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="essay")
    a = open_chat().sign_in(alice.username).open_conversation("essay")
    counter, send = a.page.locator("#composer-count"), a.page.locator(".composer-row .send")

    a.page.fill("#input", "word " * 1800)          # 9,000 characters: 90 % of the server's 10,000
    expect(counter).to_have_text("9,000 / 10,000 characters")
    expect(counter).not_to_have_class("composer-count over")
    a.page.fill("#input", "short")
    expect(counter).to_be_hidden()

    a.page.fill("#input", "")
    a.page.evaluate(PASTE, "x" * 10_011)
    expect(a.page.locator("#input")).to_have_value("x" * 10_011)   # kept whole, not cut to 10,000
    expect(counter).to_have_text("The paste goes 11 characters over the limit (10,011 / 10,000). "
                                 "Nothing was cut: shorten the message to send it.")
    expect(counter).to_have_class("composer-count over")
    expect(send).to_have_attribute("aria-disabled", "true")
    a.screenshot("paste-over-limit")
    expect(send).to_be_disabled()                       # for assistive technology too (aria-disabled)
    a.page.press("#input", "Enter")
    send.click(force=True)
    expect(a.page.locator("#input")).to_have_value("x" * 10_011)   # refused: nothing went, nothing was lost
    expect(a.echoes()).to_have_count(0)

    a.page.press("#input", "End")
    for _ in range(11):
        a.page.keyboard.press("Backspace")
    expect(counter).to_have_text("10,000 / 10,000 characters")
    expect(send).to_have_attribute("aria-disabled", "false")
    a.page.press("#input", "Enter")
    expect(a.page.locator("#messages li.msg .text", has_text="x" * 100)).to_have_count(1)
    expect(counter).to_be_hidden()


def test_the_limit_is_the_servers_and_the_refusal_is_in_the_readers_language_on_a_phone(open_chat):
    with own_system(MAX_MESSAGE_CHARS="120") as strict:
        alice, bob = person(strict, "alice"), person(strict, "bob")
        make_conversation(alice, bob, title="court")
        a = open_chat(locale="fr-FR", phone=True, base_url=strict.url).sign_in(alice.username)
        a.open_conversation("court")
        counter = a.page.locator("#composer-count")
        a.page.fill("#input", "é" * 110)
        expect(counter).to_have_text("110 / 120 caractères")
        a.page.type("#input", "😀" * 12)                 # an emoji is one character, as the server counts
        expect(counter).to_have_text("122 / 120 : 2 caractères de trop. Raccourcissez le message pour l'envoyer.")
        expect(a.page.locator(".composer-row .send")).to_have_attribute("aria-disabled", "true")
        a.screenshot("over-limit-fr")
        a.page.press("#input", "Enter")
        expect(a.echoes()).to_have_count(0)
        a.page.keyboard.press("Backspace")
        a.page.keyboard.press("Backspace")
        a.page.press("#input", "Enter")
        expect(a.message("é" * 110 + "😀" * 10)).to_be_visible()


@pytest.mark.parametrize("phone, locale, editing", [(False, "en-US", "Editing your message"),
                                                    (True, "de-DE", "Du bearbeitest deine Nachricht")])
def test_arrow_up_in_the_empty_input_edits_my_last_message(system, open_chat, phone, locale, editing):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="plans")
    a = open_chat(locale=locale, phone=phone).sign_in(alice.username).open_conversation("plans")
    a.send("Lunch at noon")
    a.send("Meeting at 3")
    expect(a.message("Meeting at 3")).to_be_visible()
    post(bob, conv["id"], "bob-1", "ok")              # someone else's message after mine: still mine is edited
    expect(a.message("ok")).to_be_visible()
    context, field = a.page.locator("#composer-context"), a.page.locator("#input")

    a.page.fill("#input", "draft")                      # text in the box: ↑ moves the caret, nothing else
    a.page.press("#input", "ArrowUp")
    expect(context).to_be_hidden()
    a.page.fill("#input", f"@{bob.username[:3]}")        # the mention list is open: ↑ moves in it
    expect(a.page.locator("#mentions")).to_be_visible()
    a.page.press("#input", "ArrowUp")
    expect(context).to_be_hidden()
    a.page.press("#input", "Escape")

    a.page.fill("#input", "")
    a.page.press("#input", "ArrowUp")
    expect(context).to_contain_text(editing)
    expect(field).to_have_value("Meeting at 3")
    a.page.press("#input", "Escape")                     # cancels: the box is empty again
    expect(context).to_be_hidden()
    expect(field).to_have_value("")

    a.page.press("#input", "ArrowUp")
    expect(field).to_have_value("Meeting at 3")
    a.screenshot("arrow-up-edit")
    a.page.fill("#input", "Meeting at 4")
    a.page.press("#input", "Enter")
    edited = a.message("Meeting at 4")
    expect(edited.locator(".edited")).to_be_visible()
    expect(a.message("Lunch at noon")).to_be_visible()
    expect(a.page.locator("#messages li.msg .text", has_text="Meeting at 3")).to_have_count(0)


def test_the_emoji_picker_searches_inserts_at_the_caret_and_remembers(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="food")
    a = open_chat().sign_in(alice.username).open_conversation("food")
    picker, search, opener = a.page.locator("#emoji-picker"), a.page.locator("#emoji-search"), a.page.locator("#emoji-button")

    a.page.fill("#input", "I want  tonight")
    a.page.evaluate("() => document.querySelector('#input').setSelectionRange(7, 7)")
    opener.click()
    expect(picker).to_be_visible()
    expect(picker).to_have_attribute("role", "dialog")
    expect(search).to_be_focused()
    expect(picker.locator(".emoji-heading").first).to_have_text("smileys & emotion")
    assert picker.locator(".emoji-option").count() > 1500   # the full set, skin tones not repeated
    search.fill("pizza")
    expect(picker.locator(".emoji-option").first).to_have_attribute("data-emoji", "🍕")
    expect(picker.locator(".emoji-option.active")).to_have_attribute("aria-label", "pizza")
    a.screenshot("emoji-search")
    assert serious_violations(a.page, "#emoji-picker") == []
    search.press("Enter")
    expect(picker).to_be_hidden()
    expect(a.page.locator("#input")).to_have_value("I want 🍕 tonight")
    expect(a.page.locator("#input")).to_be_focused()

    opener.click()                                       # recently used come first
    expect(picker.locator(".emoji-heading").first).to_have_text("Recently used")
    expect(picker.locator(".emoji-option").first).to_have_attribute("data-emoji", "🍕")
    search.press("ArrowDown")                            # the keyboard: down, right, Enter
    search.press("ArrowDown")
    search.press("ArrowRight")
    active = picker.locator(".emoji-option.active")
    expect(active).to_have_count(1)
    chosen = active.get_attribute("data-emoji")
    assert chosen and chosen != "🍕"
    expect(search).to_have_attribute("aria-activedescendant", active.get_attribute("id"))
    search.press("Enter")
    expect(a.page.locator("#input")).to_have_value(f"I want 🍕{chosen} tonight")

    opener.click()
    search.fill("zzqqxx")
    expect(picker.locator(".emoji-status")).to_have_text("No emoji matches “zzqqxx”")
    search.press("Escape")                               # closes, and the focus goes back to the button
    expect(picker).to_be_hidden()
    expect(opener).to_be_focused()
    a.page.press("#input", "Enter")
    expect(a.message(f"I want 🍕{chosen} tonight")).to_be_visible()


def test_the_emoji_picker_in_french_on_a_phone(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="chats")
    a = open_chat(locale="fr-FR", phone=True).sign_in(alice.username).open_conversation("chats")
    picker, search = a.page.locator("#emoji-picker"), a.page.locator("#emoji-search")
    a.page.locator("#emoji-button").click()
    expect(picker.locator(".emoji-heading").first).to_have_text("smileys et émotion")
    box = picker.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375 and box["y"] >= 0 and box["y"] + box["height"] <= 740
    search.fill("chat")
    expect(picker.locator(".emoji-option[data-emoji='🐱']")).to_be_visible()
    search.fill("pizza")
    expect(picker.locator(".emoji-option").first).to_have_attribute("data-emoji", "🍕")
    search.fill("drapeau france")
    expect(picker.locator(".emoji-option").first).to_have_attribute("data-emoji", "🇫🇷")
    search.fill("heart")                                # English words work in every language
    expect(picker.locator(".emoji-option[data-emoji='❤️']")).to_be_visible()
    a.screenshot("emoji-phone-fr")
    assert serious_violations(a.page, "#emoji-picker") == []
    picker.locator(".emoji-option[data-emoji='❤️']").click()
    expect(a.page.locator("#input")).to_have_value("❤️")


def test_a_reaction_from_the_full_set_lands_for_both_people(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="trip")
    post(alice, conv["id"], "alice-1", "Paris next week")
    a = open_chat().sign_in(alice.username).open_conversation("trip")
    b = open_chat(locale="es-ES").sign_in(bob.username).open_conversation("trip")
    picker, search = b.page.locator("#emoji-picker"), b.page.locator("#emoji-search")

    b.act("Paris next week", "react")
    search.fill("bandera francia")
    b.screenshot("reaction-search-es")
    search.press("Enter")                               # the first result: 🇫🇷
    b.act("Paris next week", "react")
    search.fill("familia")
    picker.locator(".emoji-option[data-emoji='👨‍👩‍👧‍👦']").click()
    for page in (a, b):
        reactions = page.message("Paris next week").locator(".reaction .emoji")
        expect(reactions).to_have_text(["🇫🇷", "👨‍👩‍👧‍👦"])
    a.screenshot("reaction-flag-family")

    b.act("Paris next week", "react")                   # recently used first, the last one picked leading
    expect(picker.locator(".emoji-option").nth(0)).to_have_attribute("data-emoji", "👨‍👩‍👧‍👦")
    expect(picker.locator(".emoji-option").nth(1)).to_have_attribute("data-emoji", "🇫🇷")
    b.page.keyboard.press("Escape")
    expect(picker).to_be_hidden()
