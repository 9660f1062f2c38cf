"""The page when the network fails (seeds 003, 004): the connection drops and returns while others keep
writing; WebSockets are blocked; a message is written while offline."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import person, post
from tests.e2e.harness import make_conversation

pytestmark = pytest.mark.browser


def stored(api, conv_id: str) -> list[dict]:
    return api.ok("GET", f"/api/conversations/{conv_id}/messages?limit=200")["messages"]


def test_every_message_once_after_the_connection_drops(system, open_chat, proxy):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="outage")
    for i in range(5):
        post(bob, conv["id"], f"before-{i}", f"before {i}")
    link = proxy()
    a = open_chat(base_url=link.url).sign_in(alice.username).open_conversation("outage")
    expect(a.message("before 4")).to_be_visible()

    link.cut()   # every connection of alice's page dropped, new ones refused
    banner = a.page.locator("#conn-banner")
    expect(banner).to_have_attribute("data-mode", "offline")
    expect(banner).to_contain_text("offline")
    for i in range(8):   # bob goes on writing, straight to the server
        post(bob, conv["id"], f"during-{i}", f"during {i}")
        time.sleep(0.2)
    a.send("written while offline")
    echo = a.echoes()
    expect(echo).to_have_count(1)
    expect(echo).to_contain_text("Waiting for the connection")
    client_id = echo.get_attribute("data-client-id")
    a.screenshot("offline")
    time.sleep(1)

    link.restore()
    expect(banner).to_be_hidden(timeout=20_000)
    for i in range(3):
        post(bob, conv["id"], f"after-{i}", f"after {i}")
    expect(a.message("after 2")).to_be_visible()
    expect(a.message("written while offline")).to_be_visible()
    expect(a.echoes()).to_have_count(0)
    a.screenshot("reconnected")

    server = stored(bob, conv["id"])
    texts = [m["content"] for m in server if m["type"] != "system"]
    assert len(texts) == 17 and [m["seq"] for m in server] == list(range(1, len(server) + 1))
    mine = [m for m in server if m["senderId"] == alice.id and m["type"] != "system"]
    # Retried with its clientId, stored once.
    assert [(m["clientId"], m["content"]) for m in mine] == [(client_id, "written while offline")]
    assert a.seqs() == [m["seq"] for m in server]                         # nothing missing, nothing doubled
    assert a.texts() == texts


def test_polling_fallback_when_websockets_are_blocked(system, open_chat, proxy):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="fallback")
    post(bob, conv["id"], "first", "Can you read me?")
    a = open_chat(base_url=proxy(block_websockets=True).url).sign_in(alice.username)
    banner = a.page.locator("#conn-banner")
    expect(banner).to_have_attribute("data-mode", "polling")
    expect(banner).to_contain_text("every 2 seconds")
    a.open_conversation("fallback")
    expect(a.message("Can you read me?")).to_be_visible()

    post(bob, conv["id"], "second", "Polling works")
    expect(a.message("Polling works")).to_be_visible(timeout=6_000)   # one or two 2-second ticks
    a.send("Loud and clear")                                          # sent over REST, same clientId rules
    expect(a.message("Loud and clear")).to_be_visible(timeout=6_000)
    expect(a.echoes()).to_have_count(0)
    a.screenshot("polling")
    server = stored(bob, conv["id"])
    texts = [m["content"] for m in server if m["type"] != "system"]
    assert texts == ["Can you read me?", "Polling works", "Loud and clear"]
    assert a.seqs() == [m["seq"] for m in server]
