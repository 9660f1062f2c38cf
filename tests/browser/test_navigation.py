"""Finding one's way: create a group, add someone, open a conversation with them, add a member; the
same on a phone, where the list and the conversation are two screens."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import person, unread
from tests.e2e.harness import wait_until

pytestmark = pytest.mark.browser


def fill_dialog(page, **fields) -> None:
    dialog = page.locator("#dialog")
    expect(dialog).to_be_visible()
    for name, value in fields.items():
        dialog.locator(f"[name={name}]").fill(value)
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()


def test_create_a_group_and_a_conversation_then_chat_from_a_phone(system, open_chat):
    alice, bob, carol = person(system, "alice"), person(system, "bob"), person(system, "carol")
    b = open_chat(phone=True).sign_in(bob.username)
    expect(b.page.locator(".side-empty")).to_be_visible()
    b.screenshot("phone-empty")

    a = open_chat().sign_in(alice.username)
    a.page.click("#new-group")
    fill_dialog(a.page, name="Design team")
    group = a.page.locator("section.group", has_text="Design team")
    expect(group).to_be_visible()
    for who in (bob, carol):
        group.locator("[data-action=add-group-member]").click()
        fill_dialog(a.page, username=who.username)
        expect(a.page.locator("#toasts")).to_contain_text(f"{who.username} is now in Design team")
    expect(b.page.locator("section.group", has_text="Design team")).to_be_visible()   # bob's page joins it live
    expect(b.page.locator("#toasts")).to_contain_text("You were added to Design team")

    group.locator("[data-action=new-conversation]").click()
    fill_dialog(a.page, title="launch", members=f"@{bob.username}")
    expect(a.page.locator("#conv-title")).to_have_text("launch")
    a.wait_loaded()
    a.send("Welcome Bob")
    link = b.conversation_link("launch")
    wait_until(lambda: unread(bob, "launch") == 2, what="bob's two unread messages (the system message first)")
    expect(link.locator(".badge")).to_have_text("2")
    b.screenshot("phone-list")

    link.click()
    b.wait_loaded()
    expect(b.message("Welcome Bob")).to_be_visible()
    expect(b.page.locator(".sidebar")).to_be_hidden()   # two screens on a phone
    b.send("Thanks, glad to be here! https://example.org/brief")
    expect(a.message("Thanks, glad to be here! https://example.org/brief")).to_be_visible()
    b.screenshot("phone-conversation")
    b.page.click("#back")
    expect(b.page.locator(".sidebar")).to_be_visible()
    expect(b.page.locator("#conv")).to_be_hidden()

    c = open_chat().sign_in(carol.username)
    a.page.click("#members-button")
    fill_dialog(a.page, username=carol.username)
    expect(a.page.locator("#toasts")).to_contain_text(f"{carol.username} was added to the conversation")
    expect(a.page.locator("#messages li.msg.system").last).to_have_text(
        re.compile(f"^{alice.username} added {carol.username} · "))
    a.screenshot("desktop")
    c.open_conversation("launch")   # appeared in carol's list as she was added
    expect(c.message("Welcome Bob")).to_be_visible()


def test_leave_a_conversation(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    group = alice.ok("POST", "/api/groups", json={"name": "Book club"})
    alice.ok("POST", f"/api/groups/{group['id']}/members", json={"username": bob.username})
    alice.ok("POST", f"/api/groups/{group['id']}/conversations", json={"title": "novels", "members": [bob.username]})
    a = open_chat().sign_in(alice.username).open_conversation("novels")
    b = open_chat().sign_in(bob.username).open_conversation("novels")
    b.page.click("#leave-button")
    expect(b.page.locator("#dialog")).to_contain_text("Leave novels?")
    b.page.locator("#dialog button[type=submit]").click()
    expect(b.conversation_link("novels")).to_have_count(0)
    expect(a.page.locator("#messages li.msg.system").last).to_have_text(re.compile(f"^{bob.username} left the conversation · "))
    assert bob.call("GET", "/api/conversations").json()["conversations"] == []
    # That his sockets stop receiving the conversation is checked where events can be counted:
    # tests/e2e/test_membership.py::test_added_then_removed_member_follows_live.
