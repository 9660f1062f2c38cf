"""Two people chat in the page: messages both ways, typing, reactions, read receipts, replies, edits,
deletes; a non-member sees nothing; user text is only ever text."""
from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import person, post, unread
from tests.e2e.harness import make_conversation, own_system, wait_until

pytestmark = pytest.mark.browser


def test_two_people_chat_live(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="general")
    a = open_chat().sign_in(alice.username)
    b = open_chat().sign_in(bob.username)
    a.open_conversation("general")
    b.open_conversation("general")

    a.send("Hi Bob! Lunch at noon?")
    expect(b.message("Hi Bob! Lunch at noon?")).to_be_visible()
    expect(a.message("Hi Bob! Lunch at noon?")).to_be_visible()   # the echo became the stored message
    expect(a.echoes()).to_have_count(0)

    b.page.type("#input", "Sure, where")
    expect(a.page.locator("#typing")).to_contain_text("is typing")   # by name: test_members_and_presence
    b.page.type("#input", "?\nThe usual place")   # \n is Enter: sends the message
    expect(a.message("Sure, where?")).to_be_visible()
    expect(a.page.locator("#typing")).to_be_empty()
    b.page.keyboard.press("Shift+Enter")          # a new line, not a send
    expect(b.page.locator("#input")).to_have_value("The usual place\n")

    b.act("Hi Bob! Lunch at noon?", "react")
    b.page.click("#emoji-picker button[data-emoji='👍']")
    reaction = a.message("Hi Bob! Lunch at noon?").locator(".reaction")
    expect(reaction).to_contain_text("👍")
    expect(reaction.locator(".count")).to_have_text("1")

    a.send("The usual place, see you there")
    expect(b.message("The usual place, see you there")).to_be_visible()
    expect(a.page.locator("#seen-by .seen-text")).to_have_text(f"Seen by {bob.username}")   # bob's page marked it read
    a.screenshot("conversation")
    b.screenshot("conversation")
    assert a.texts() == b.texts() == ["Hi Bob! Lunch at noon?", "Sure, where?", "The usual place, see you there"]


def test_unread_counts_and_live_list(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="news")
    b = open_chat().sign_in(bob.username)
    expect(b.conversation_link("news")).to_be_visible()
    for i in range(3):
        post(alice, conv["id"], f"n{i}", f"item {i}")
    wait_until(lambda: unread(bob, "news") == 4, what="four unread messages (the first is the system message)")
    expect(b.conversation_link("news").locator(".badge")).to_have_text("4")
    b.screenshot("unread")
    b.open_conversation("news")
    expect(b.message("item 2")).to_be_visible()
    expect(b.conversation_link("news").locator(".badge")).to_have_count(0)
    wait_until(lambda: unread(bob, "news") == 0, what="the read mark to reach the server")


def test_a_list_read_before_live_messages_does_not_lower_the_counts(system, open_chat):
    """The list is read again on focus and after each subscription: an answer that left the server before
    live messages arrived must not put the badge back to what it said then."""
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="race")
    b = open_chat().sign_in(bob.username)
    badge = b.conversation_link("race").locator(".badge")
    post(alice, conv["id"], "r0", "live 0")
    expect(badge).to_have_text("2")              # the subscription is live
    parked = []

    def park(route):                             # read the list now (lastSeq 2), answer it later
        parked.append((route, route.fetch()))

    b.page.route("**/api/conversations", park)
    b.page.evaluate("window.dispatchEvent(new Event('focus'))")
    wait_until(lambda: b.page.wait_for_timeout(20) or parked, what="the page to read its list again")
    for i in range(1, 3):
        post(alice, conv["id"], f"r{i}", f"live {i}")
    expect(badge).to_have_text("4")
    route, stale = parked[0]
    with b.page.expect_response("**/api/conversations"):
        route.fulfill(response=stale)
    b.page.evaluate("new Promise((done) => setTimeout(done, 300))")   # the page has applied the stale list
    assert badge.inner_text() == "4"


def test_a_click_on_the_list_is_not_lost_to_a_live_redraw(system, open_chat):
    """A message anywhere redraws the list; one arriving between the press and the release of a click on
    a conversation must not swallow the click (the link pressed would be gone when the button comes up)."""
    alice, bob = person(system, "alice"), person(system, "bob")
    group, _ = make_conversation(bob, alice, title="target")
    busy = bob.ok("POST", f"/api/groups/{group['id']}/conversations",
                  json={"title": "busy", "members": [alice.username]})
    a = open_chat().sign_in(alice.username)
    busy_badge = a.conversation_link("busy").locator(".badge")
    post(bob, busy["id"], "b1", "before")
    expect(busy_badge).to_have_text("2")           # live: each message redraws the list
    # (None while a redraw has the link detached: measured again until it is laid out)
    box = wait_until(lambda: a.conversation_link("target").bounding_box(), what="the link laid out")
    a.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    a.page.mouse.down()
    post(bob, busy["id"], "b2", "while the button is down")
    wait_until(lambda: unread(alice, "busy") == 3, what="the second message stored")
    a.page.wait_for_timeout(500)                   # and delivered to the page, under the press
    a.page.mouse.up()
    a.wait_loaded()
    expect(a.page.locator("#conv-title")).to_have_text("target")
    expect(busy_badge).to_have_text("3")           # the redraw that waited for the release


def test_reply_edit_delete(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="plans")
    a = open_chat().sign_in(alice.username).open_conversation("plans")
    b = open_chat().sign_in(bob.username).open_conversation("plans")
    a.send("Draft is ready for review")
    expect(b.message("Draft is ready for review")).to_be_visible()

    b.act("Draft is ready for review", "reply")
    expect(b.page.locator("#composer-context")).to_contain_text(f"Replying to {alice.username}")
    b.send("Looks good to me")
    reply = a.message("Looks good to me")
    expect(reply.locator(".quote")).to_contain_text("Draft is ready for review")
    expect(reply.locator(".quote-name")).to_have_text(alice.username)
    # Only the author is offered edit and delete (checked before the delete: a deleted message has no actions).
    author_only = "[data-action=edit], [data-action=delete]"
    expect(b.message("Draft is ready for review").locator(author_only)).to_have_count(0)
    expect(b.message("Looks good to me").locator(author_only)).to_have_count(2)

    a.act("Draft is ready for review", "edit")
    expect(a.page.locator("#input")).to_have_value("Draft is ready for review")
    a.page.fill("#input", "Draft v2 is ready for review")
    a.page.press("#input", "Enter")
    edited = b.message("Draft v2 is ready for review")
    expect(edited.locator(".edited")).to_have_text("(edited)")
    # The reply's quote follows the edit, live.
    expect(b.message("Looks good to me").locator(".quote-text")).to_have_text("Draft v2 is ready for review")

    a.act("Draft v2 is ready for review", "delete")
    a.page.click("#dialog button.danger")
    expect(b.page.locator("#messages li.msg.deleted .text")).to_have_text("This message was deleted")
    expect(a.page.locator("#messages li.msg.deleted")).to_have_count(1)
    # The reply's quote says its parent was deleted, live and after a reload (in the reader's language),
    # and nothing of the deleted text is left on either page.
    for page in (a, b):
        quote = page.message("Looks good to me").locator(".quote")
        expect(quote.locator(".quote-text")).to_have_text("Original message deleted")
        expect(quote).to_have_class(re.compile("quote-deleted"))
        expect(page.page.locator("#messages")).not_to_contain_text("Draft v2")
    fr = open_chat(locale="fr-FR").sign_in(bob.username).open_conversation("plans")
    expect(fr.message("Looks good to me").locator(".quote-text")).to_have_text("Message d'origine supprimé")
    # A tap on the quote of the reply still finds its (deleted) parent.
    a.message("Looks good to me").locator(".quote").click()
    expect(a.page.locator("#messages li.msg.deleted")).to_have_class(re.compile("flash"))
    b.screenshot("reply-edit-delete")


def test_html_in_a_message_is_shown_as_text(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="safety")
    b = open_chat().sign_in(bob.username).open_conversation("safety")
    payloads = ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>",
                "see javascript:alert(3) and https://example.org/a?b=<c>"]
    for i, text in enumerate(payloads):
        post(alice, conv["id"], f"x{i}", text)
    for text in payloads[:2]:
        expect(b.message(text)).to_be_visible()
    expect(b.page.locator("#messages li.msg:not(.system)")).to_have_count(3)
    assert b.page.locator("#messages img, #messages script").count() == 0
    links = b.page.locator("#messages .text a")
    expect(links).to_have_count(1)   # only the http(s) address became a link, javascript: did not
    expect(links).to_have_attribute("href", "https://example.org/a?b=")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    expect(links).to_have_attribute("target", "_blank")
    b.page.wait_for_timeout(300)     # an onerror would have fired by now; the fixture asserts no dialog opened
    b.screenshot("html-as-text")
    policy = requests.get(system.url + "/", timeout=5).headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy


def test_a_non_member_cannot_open_the_conversation(system, open_chat):
    alice, bob, carol = person(system, "alice"), person(system, "bob"), person(system, "carol")
    group, conv = make_conversation(alice, bob, title="private")
    alice.ok("POST", f"/api/groups/{group['id']}/members", json={"username": carol.username})
    post(alice, conv["id"], "s1", "top secret")
    c = open_chat().sign_in(carol.username)
    expect(c.conversation_link("private")).to_have_count(0)
    c.goto_conversation(conv["id"])
    expect(c.page.locator("#conv-title")).to_have_text("Conversation unavailable")
    expect(c.page.locator("#history-top")).to_contain_text("You are not a member of this conversation")
    expect(c.page.locator("#input")).to_be_hidden()
    expect(c.page.locator("#messages li")).to_have_count(0)
    assert "top secret" not in c.page.content()
    c.screenshot("not-a-member")


def test_dev_login_disabled_is_explained(open_chat):
    with own_system(DEV_LOGIN="0") as closed:
        c = open_chat(base_url=closed.url)
        c.page.fill("#username", "dora")
        c.page.click("#signin-form button[type=submit]")
        expect(c.page.locator("#signin-error")).to_contain_text("turned off on this server")
        expect(c.page.locator("#app")).to_be_hidden()
        c.screenshot("dev-login-disabled")


def test_mentions_are_suggested_highlighted_and_announced(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    group, conv = make_conversation(alice, bob, title="design")
    alice.ok("POST", f"/api/groups/{group['id']}/conversations", json={"title": "random", "members": [bob.username]})
    post(bob, conv["id"], "b1", "I'm here")
    b = open_chat().sign_in(bob.username).open_conversation("random")
    a = open_chat().sign_in(alice.username).open_conversation("design")

    a.page.type("#input", "@" + bob.username[:3])
    suggestion = a.page.locator("#mentions li")
    expect(suggestion).to_have_count(1)
    expect(suggestion).to_contain_text(bob.username)
    a.screenshot("mention-suggestions")
    a.page.press("#input", "Enter")   # picks the suggestion, does not send
    expect(a.page.locator("#input")).to_have_value(f"@{bob.username} ")
    a.page.type("#input", "can you review?\n")

    expect(b.page.locator("#toasts")).to_contain_text(f"{alice.username} mentioned you in design")
    expect(b.conversation_link("design").locator(".badge.mention")).to_be_visible()
    b.open_conversation("design")
    mention = b.message(f"@{bob.username} can you review?").locator(".mention.self")
    expect(mention).to_have_text(f"@{bob.username}")
    b.screenshot("mentioned")


def test_a_refused_send_is_marked_failed_with_the_reason(system, open_chat):
    # A refusal the page cannot foresee (it knows the length limit: test_composer.py): the group's word filter.
    alice, bob = person(system, "alice"), person(system, "bob")
    group, _ = make_conversation(alice, bob, title="limits")
    alice.ok("POST", f"/api/groups/{group['id']}/filters", json={"kind": "word", "pattern": "forbidden", "action": "block"})
    a = open_chat().sign_in(alice.username).open_conversation("limits")
    a.send("a forbidden word")
    failed = a.page.locator("#outbox li.echo.failed")
    expect(failed.locator(".echo-status")).to_contain_text("Not sent: “forbidden” is not allowed in this group")
    expect(failed.locator("[data-action=retry]")).to_have_count(0)   # sending it again cannot work
    a.screenshot("failed-send")
    failed.locator("[data-action=discard]").click()
    expect(a.echoes()).to_have_count(0)
    a.send("a fine word")
    expect(a.message("a fine word")).to_be_visible()


def test_a_session_the_server_ends_returns_to_sign_in_with_the_reason(open_chat):
    """JWT_TTL_SECONDS=5: the server sends session:expired and disconnects; the page signs out at once, on
    that event: nothing it asks the server is refused first (without the event it would learn it from a
    refused request: a REST 401 or a refused reconnection)."""
    with own_system(JWT_TTL_SECONDS="5", PRESENCE_TTL_SECONDS="3") as short:
        c = open_chat(base_url=short.url)
        sockets, frames, refused = [], [], []
        c.page.on("websocket", lambda ws: (sockets.append(ws), ws.on("framereceived", lambda f: frames.append(f))))
        c.page.on("response", lambda r: refused.append(r.url) if r.status == 401 else None)
        c.sign_in("erin")
        expect(c.page.locator("#app")).to_be_visible()
        expect(c.page.locator("#signin-error")).to_contain_text("Your session has ended", timeout=15_000)
        expect(c.page.locator("#app")).to_be_hidden()
        c.page.wait_for_timeout(1500)   # (time for a reconnection, had the page tried one)
        assert any("session:expired" in str(f) for f in frames)
        assert len(sockets) == 1 and refused == []
        c.screenshot("session-expired")
