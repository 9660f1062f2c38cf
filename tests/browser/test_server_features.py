"""The features built on the server's later routes: conversation members ("seen by", @ suggestions, typing
by name), presence, system messages, search, profile changes."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import person, post
from tests.e2e.harness import make_conversation

pytestmark = pytest.mark.browser


def test_members_presence_and_typing_by_name(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="team")
    a = open_chat().sign_in(alice.username).open_conversation("team")
    b = open_chat().sign_in(bob.username).open_conversation("team")
    expect(a.page.locator("#conv-sub")).to_contain_text("2 members")
    bob_dot = a.page.locator(f"#conv-sub .avatar.presence[data-user='{bob.id}']")
    expect(bob_dot).to_have_class(re.compile(r"\bonline\b"))
    expect(a.page.locator("#conv-sub")).to_contain_text("2 online")

    b.page.type("#input", "hel")   # bob has written nothing yet: his name comes from the members route
    expect(a.page.locator("#typing")).to_contain_text(f"{bob.username} is typing")
    a.page.type("#input", "@" + bob.username[:3])
    expect(a.page.locator("#mentions li")).to_contain_text(bob.username)
    a.page.keyboard.press("Escape")
    a.page.click("#members-button")
    expect(a.page.locator("#dialog .member-list li")).to_have_count(2)
    a.screenshot("members")
    a.page.keyboard.press("Escape")

    b.close()
    expect(bob_dot).to_have_class(re.compile(r"\boffline\b"))


def test_system_messages_are_written_in_the_readers_language(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="lancement")
    c = open_chat(locale="fr-FR").sign_in(bob.username).open_conversation("lancement")
    created = c.page.locator("#messages li.msg.system").first
    expect(created).to_contain_text("a créé la conversation « lancement »")
    expect(created).to_contain_text(alice.username)
    c.screenshot("system-fr")


def test_search_in_the_conversation(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="fruit")
    for i in range(30):
        word = "apple" if i % 6 else "banana"
        post(alice, conv["id"], f"f{i}", f"{word} number {i}")
    for i in range(60):
        post(alice, conv["id"], f"g{i}", f"filler {i}")
    a = open_chat().sign_in(bob.username).open_conversation("fruit")
    expect(a.message("filler 59")).to_be_visible()
    a.page.click("#search-toggle")
    a.page.fill("#search-input", "apple")
    a.page.press("#search-input", "Enter")
    results = a.page.locator("#search-results .result")
    expect(results).to_have_count(20)
    expect(results.first).to_contain_text("apple number 29")       # newest first
    expect(results.first.locator("mark")).to_have_text("apple")
    a.page.click("#search-more")
    expect(results).to_have_count(25)
    a.screenshot("search")
    results.last.click()                                             # apple number 1, far up: older pages load
    target = a.message("apple number 1")
    expect(target).to_be_in_viewport()
    expect(target).to_have_class(re.compile("flash"))


def test_a_profile_change_shows_to_the_others(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="names")
    post(alice, conv["id"], "n1", "Who am I?")
    a = open_chat().sign_in(alice.username)
    b = open_chat().sign_in(bob.username).open_conversation("names")
    a.page.click("#profile")
    dialog = a.page.locator("#dialog")
    dialog.locator("[name=fname]").fill("Alice")
    dialog.locator("[name=lname]").fill("Martin")
    dialog.locator("button[type=submit]").click()
    expect(a.page.locator("#me")).to_contain_text("Alice Martin")
    expect(b.message("Who am I?").locator(".name")).to_have_text("Alice Martin")
