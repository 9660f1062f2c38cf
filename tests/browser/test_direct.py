"""Direct messages: started from the picker of people (the members of one's groups, searched), the other
person sees it live under "Direct messages" (on a phone, in French), starting it again (from the picker, from
"Message" in the members dialog, from the other side) lands on the same one; the picker's refusals in words."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import person
from tests.e2e.harness import ROOT, make_conversation

pytestmark = pytest.mark.browser


AXE = (ROOT / "node_modules" / "axe-core" / "axe.min.js").read_text()


def serious_violations(chat: ChatPage, selector: str) -> list[str]:
    """axe-core's serious and critical findings inside ``selector`` (evaluated in the page, past its CSP).
    Avatars are left out: their initials' palette is the whole page's (app.css), judged by its own test."""
    chat.page.evaluate(AXE)
    return chat.page.evaluate("""async (selector) => (await axe.run({include: [[selector]], exclude: [[".avatar"]]})).violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)""", selector)


def direct_items(chat: ChatPage):
    return chat.page.locator("section.dm-section a.conv-item")


def open_picker(chat: ChatPage) -> None:
    chat.page.locator("section.dm-section [data-action=new-direct]").click()
    expect(chat.page.locator("#dialog")).to_be_visible()


def current_conv(chat: ChatPage) -> str:
    return chat.page.evaluate("location.hash").removeprefix("#/c/")


def test_a_direct_message_is_started_from_the_picker_and_found_again(system, open_chat):
    alice, bob, carol = person(system, "alice"), person(system, "bob"), person(system, "carol")
    make_conversation(alice, bob, carol, title="team room")
    b = open_chat(locale="fr-FR", phone=True).sign_in(bob.username)
    expect(b.page.locator("section.dm-section")).to_contain_text("Messages directs")
    expect(direct_items(b)).to_have_count(0)

    a = open_chat().sign_in(alice.username)
    open_picker(a)
    dialog = a.page.locator("#dialog")
    people = dialog.locator(".dm-person")
    expect(people).to_have_count(2)                                   # bob and carol, not alice
    dialog.locator("[name=username]").fill(bob.username[:6].upper())   # any case, part of the name
    expect(people).to_have_count(1)
    a.screenshot("picker")
    assert serious_violations(a, "#dialog") == [] and serious_violations(a, "section.dm-section") == []
    people.first.click()
    expect(dialog).to_be_hidden()
    a.wait_loaded()
    conv_id = current_conv(a)
    expect(direct_items(a)).to_have_count(1)
    expect(direct_items(a).first.locator(".conv-title")).to_have_text(bob.username)   # titled by the other person
    expect(direct_items(a).first.locator(".avatar")).to_be_visible()
    a.send("Hi Bob, just us")

    # bob's phone lists it live, apart, under the other person's name, and opens it
    item = direct_items(b).filter(has_text=alice.username)
    expect(item).to_have_count(1)
    expect(item.locator(".badge")).to_be_visible()
    b.screenshot("phone-listed")
    item.click()
    b.wait_loaded()
    expect(b.message("Hi Bob, just us")).to_be_visible()
    b.screenshot("phone-open")
    b.page.click("#back")                                             # and bob starts one himself, on his phone
    open_picker(b)
    b.page.locator("#dialog [name=username]").fill("carol")
    b.page.locator("#dialog .dm-person").click()
    b.wait_loaded()
    expect(direct_items(b)).to_have_count(2)
    b.screenshot("phone-started")

    # starting again: the picker, "Message" in the members dialog, the other side: the same conversation
    a.open_conversation("team room")
    open_picker(a)
    dialog.locator("[name=username]").fill(bob.username)
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    expect(a.page).to_have_url(re.compile(f"#/c/{conv_id}$"))
    a.open_conversation("team room")
    a.page.click("#members-button")
    dialog.locator(f'.dm-message[data-username="{bob.username}"]').click()
    expect(dialog).to_be_hidden()
    expect(a.page).to_have_url(re.compile(f"#/c/{conv_id}$"))
    expect(a.message("Hi Bob, just us")).to_be_visible()
    again = bob.call("POST", "/api/direct-conversations", json={"username": alice.username})
    assert again.status_code == 200 and again.json()["id"] == conv_id and again.json()["kind"] == "direct"
    expect(direct_items(a)).to_have_count(1)
    expect(direct_items(b)).to_have_count(2)                          # alice, and carol whom he wrote to
    expect(direct_items(b).filter(has_text=alice.username)).to_have_count(1)
    a.screenshot("desktop")


def test_the_picker_says_why_it_cannot_start_one(system, open_chat):
    alice, bob, stranger = person(system, "alice"), person(system, "bob"), person(system, "stranger")
    make_conversation(alice, bob, title="pair room")
    a = open_chat(locale="de-DE").sign_in(alice.username)
    open_picker(a)
    dialog = a.page.locator("#dialog")
    for typed, text in ((stranger.username, "keine gemeinsame Gruppe"), (alice.username, "Das sind Sie"),
                        ("nobody-here", "Niemand hat diesen Benutzernamen")):
        dialog.locator("[name=username]").fill(typed)
        if typed == alice.username:
            expect(dialog.locator(".dm-people")).to_contain_text("Niemand in Ihren Gruppen")   # not offered
        dialog.locator("button[type=submit]").click()
        expect(dialog.locator(".form-error")).to_contain_text(text)
    a.screenshot("refused-de")
    assert [c for c in alice.ok("GET", "/api/conversations")["conversations"] if c.get("kind") == "direct"] == []


def test_concurrent_first_requests_make_one_conversation(system):
    """Both people ask at once, many times: one 201, every other answer 200 with the same conversation."""
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="race room")
    asks = [(alice, bob), (bob, alice)] * 6
    with ThreadPoolExecutor(len(asks)) as pool:
        answers = list(pool.map(lambda pair: pair[0].call("POST", "/api/direct-conversations",
                                                          json={"username": pair[1].username}), asks))
    assert sorted(a.status_code for a in answers) == [200] * (len(asks) - 1) + [201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    listed = [c for c in alice.ok("GET", "/api/conversations")["conversations"] if c["kind"] == "direct"]
    assert [c["id"] for c in listed] == [answers[0].json()["id"]] and listed[0]["peer"]["id"] == bob.id
