"""The open conversation's view: opening at the first unread message under a "New messages" divider with
"Jump to latest"; a view at the bottom stays there when the newest content grows; long messages collapse;
the sender is told once what became of a refused, rejected or held send; masked words are explained; on
a phone, one message's actions at a time, covering nothing."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import person, post
from tests.e2e.harness import make_conversation, own_system, wait_until

pytestmark = pytest.mark.browser

FROM_BOTTOM = "() => { const s = document.querySelector('#scroller'); return s.scrollHeight - s.scrollTop - s.clientHeight; }"
# Where an element is in the scroller's box (0: its top edge).
TOP_IN_VIEW = """(el) => el.getBoundingClientRect().top - document.querySelector('#scroller').getBoundingClientRect().top"""
LONG = "\n".join(f"Line {i} of a long report: the deployment went well, the logs are clean." for i in range(1, 31))


def long_message(chat: ChatPage):
    return chat.page.locator("#messages li.msg", has_text="Line 1 of a long report")


def stored(api, conv_id: str, count: int) -> list[dict]:
    return wait_until(lambda: (ms := api.chat(conv_id, "limit=200")) and len(ms) >= count and ms,
                      what=f"{count} messages stored")


def add_rule(api, group_id: str, pattern: str, action: str) -> dict:
    return api.ok("POST", f"/api/groups/{group_id}/filters", json={"kind": "word", "pattern": pattern, "action": action})


@pytest.mark.parametrize("locale, phone, divider, latest", [
    ("en-US", False, "New messages", "Jump to latest"),
    ("fr-FR", True, "Nouveaux messages", "Aller aux plus récents"),
], ids=["desktop-en", "phone-fr"])
def test_opening_with_28_unread_lands_on_the_divider_and_jumps_to_latest(system, open_chat, locale, phone,
                                                                          divider, latest):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="standup")
    for i in range(1, 41):
        post(alice, conv["id"], f"r{i}", f"read {i}")
    last_read = stored(bob, conv["id"], 40)[-1]["seq"]
    reader = bob.socket()
    try:
        assert reader.call("message:read", {"convId": conv["id"], "seq": last_read})["ok"]
    finally:
        reader.close()
    for i in range(1, 29):
        post(alice, conv["id"], f"u{i}", f"unread {i}")
    stored(bob, conv["id"], 68)

    b = open_chat(locale=locale, phone=phone).sign_in(bob.username)
    expect(b.conversation_link("standup").locator(".badge")).to_have_text("28")
    b.open_conversation("standup")
    line = b.page.locator("#messages .new-divider")
    expect(line).to_have_count(1)
    expect(line).to_have_text(divider)
    first = b.message("unread 1")
    expect(first.locator(".new-divider")).to_have_count(1)            # above the first unread, inside its row
    expect(first).to_be_in_viewport()
    expect(b.message("unread 28")).not_to_be_in_viewport()           # not at the bottom
    assert 0 <= line.evaluate(TOP_IN_VIEW) < 200                       # the divider near the top of the view
    jump = b.page.locator("#jump")
    expect(jump).to_be_visible()
    expect(jump).to_contain_text(latest)
    expect(jump.locator("#jump-count")).to_be_visible()               # the unseen ones below, counted
    b.screenshot("unread-divider")

    jump.click()
    expect(b.message("unread 28")).to_be_in_viewport()
    expect(jump).to_be_hidden()
    expect(line).to_have_count(1)                                     # it stays while the conversation is open
    wait_until(lambda: next(c for c in bob.ok("GET", "/api/conversations")["conversations"]
                            if c["id"] == conv["id"])["unread"] == 0, what="everything read")
    b.screenshot("jumped")

    # Read: the next opening has no divider and is at the bottom.
    b.page.evaluate("() => { location.hash = '#/'; }")
    b.open_conversation("standup")
    expect(b.message("unread 28")).to_be_in_viewport()
    expect(b.page.locator("#messages .new-divider")).to_have_count(0)


def test_the_view_at_the_bottom_stays_there_when_the_last_message_grows(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="grow")
    for i in range(1, 31):
        post(alice, conv["id"], f"g{i}", f"message {i}")
    last = stored(bob, conv["id"], 30)[-1]
    b = open_chat().sign_in(bob.username).open_conversation("grow")
    expect(b.message("message 30")).to_be_in_viewport()
    assert b.page.evaluate(FROM_BOTTOM) <= 2

    reactor = alice.socket()
    try:
        for emoji in ("👍", "🎉"):
            assert reactor.call("reaction:add", {"messageId": last["id"], "emoji": emoji})["ok"]
        expect(b.message("message 30").locator(".reaction")).to_have_count(2)
        assert reactor.call("message:edit", {"messageId": last["id"], "content": LONG})["ok"]
        expect(long_message(b).locator("button.more")).to_be_visible()
    finally:
        reactor.close()
    assert b.page.evaluate(FROM_BOTTOM) <= 2                          # still at the bottom
    b.screenshot("bottom-kept")

    # Scrolled up, the same growth moves nothing the person sees.
    b.page.evaluate("() => { document.querySelector('#scroller').scrollTop = 0; }")
    top = b.message("message 1").evaluate(TOP_IN_VIEW)
    post(alice, conv["id"], "g31", "message 31")
    expect(b.page.locator("#jump-count")).to_be_visible()
    assert abs(b.message("message 1").evaluate(TOP_IN_VIEW) - top) <= 1


@pytest.mark.parametrize("locale, phone, more, less", [
    ("en-US", False, "Show more", "Show less"),
    ("de-DE", True, "Mehr anzeigen", "Weniger anzeigen"),
], ids=["desktop-en", "phone-de"])
def test_a_long_message_is_collapsed_and_expands(system, open_chat, locale, phone, more, less):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="report")
    post(alice, conv["id"], "long", LONG)
    post(alice, conv["id"], "short", "and a short one")
    stored(bob, conv["id"], 2)
    b = open_chat(locale=locale, phone=phone).sign_in(bob.username).open_conversation("report")
    message = long_message(b)
    text = message.locator(".text")
    button = message.locator("button.more")
    expect(button).to_have_text(more)
    expect(button).to_have_attribute("aria-expanded", "false")
    assert text.evaluate("t => t.scrollHeight > t.clientHeight + 20")   # clamped
    expect(b.message("and a short one").locator("button.more")).to_have_count(0)
    b.screenshot("collapsed")

    button.focus()
    b.page.keyboard.press("Enter")                                     # the keyboard opens it
    expect(button).to_have_text(less)
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(button).to_be_focused()
    assert text.evaluate("t => t.scrollHeight <= t.clientHeight + 1")  # all of it shown
    b.screenshot("expanded")
    button.click()
    expect(button).to_have_text(more)


def test_the_sender_is_told_once_what_became_of_a_refused_held_or_rejected_send(system, open_chat):
    admin, bob = person(system, "alice"), person(system, "bob")
    group, conv = make_conversation(admin, bob, title="feedback")
    add_rule(admin, group["id"], "badword", "block")
    add_rule(admin, group["id"], "spoiler*", "hold")
    a = open_chat().sign_in(admin.username).open_conversation("feedback")
    b = open_chat().sign_in(bob.username).open_conversation("feedback")

    # A read receipt under the last stored message, then a held send: no receipt under the held one.
    b.send("good morning")
    expect(a.message("good morning")).to_be_visible()
    expect(b.page.locator("#seen-by .seen-text")).to_contain_text(admin.username)
    b.send("spoilers: it was the butler")
    held = b.echoes().filter(has_text="spoilers: it was the butler")
    expect(held.locator(".echo-text")).to_have_text("Held for review: waiting for a moderator")
    expect(held.locator("[data-action=retry]")).to_have_count(0)
    seen_above = b.page.evaluate("""(echo) => {
      const seen = document.querySelector('#seen-by');
      return Boolean(seen.compareDocumentPosition(echo) & Node.DOCUMENT_POSITION_FOLLOWING)
        && seen.getBoundingClientRect().bottom <= echo.getBoundingClientRect().top + 1;
    }""", held.element_handle())
    assert seen_above
    b.screenshot("held-no-receipt")

    # A moderator rejects it with a note: said once, with the note; Edit and Delete, no Retry.
    item = wait_until(lambda: admin.ok("GET", f"/api/groups/{group['id']}/reviews?kind=held")["reviews"],
                      what="the held item")[0]
    admin.ok("POST", f"/api/reviews/{item['id']}/decision", json={"decision": "reject", "note": "no spoilers"})
    status = held.locator(".echo-text")
    expect(status).to_have_text(re.compile(r"Not sent: a moderator rejected it\. Their note: “no spoilers”"))
    assert status.inner_text().lower().count("moderator") == 1
    expect(held.locator("[data-action=retry]")).to_have_count(0)
    expect(held.locator("[data-action=edit-echo]")).to_have_text("Edit")
    expect(held.locator("[data-action=discard]")).to_have_text("Delete")
    b.screenshot("rejected")
    held.locator("[data-action=discard]").click()
    expect(held).to_have_count(0)

    # The filter blocks a word: which one, once; Edit puts the text back in the input.
    b.send("what a badword day")
    blocked = b.echoes().filter(has_text="what a badword day")
    expect(blocked.locator(".echo-text")).to_have_text("Not sent: “badword” is not allowed in this group.")
    expect(blocked.locator("[data-action=retry]")).to_have_count(0)
    b.screenshot("blocked")
    blocked.locator("[data-action=edit-echo]").click()
    expect(b.page.locator("#input")).to_have_value("what a badword day")
    expect(b.page.locator("#input")).to_be_focused()
    expect(b.echoes()).to_have_count(0)


def test_a_masked_word_is_explained(system, open_chat):
    admin, bob = person(system, "alice"), person(system, "bob")
    group, conv = make_conversation(admin, bob, title="masques")
    add_rule(admin, group["id"], "zut", "mask")
    post(bob, conv["id"], "m1", "oh zut alors")
    post(bob, conv["id"], "m2", "•• typed by hand")
    a = open_chat(locale="fr-FR").sign_in(admin.username).open_conversation("masques")
    masked = a.message("oh ••• alors").locator(".masked")
    expect(masked).to_have_text("•••")
    expect(masked).to_have_attribute("title", "Masqué par le filtre de mots de ce groupe")
    expect(masked).to_have_attribute("aria-label", "Masqué par le filtre de mots de ce groupe")
    expect(a.message("•• typed by hand").locator(".masked")).to_have_count(0)   # not the filter's
    masked.click()
    expect(a.page.locator("#toasts")).to_contain_text("Masqué par le filtre de mots de ce groupe")
    a.screenshot("masked")


def test_a_rate_limited_send_counts_down_and_goes_by_itself(open_chat):
    with own_system(SEND_RATE_LIMIT="2/6 seconds") as strict:
        alice, bob = person(strict, "alice"), person(strict, "bob")
        make_conversation(alice, bob, title="slow")
        a = open_chat(base_url=strict.url, locale="es-ES").sign_in(alice.username).open_conversation("slow")
        for text in ("uno", "dos", "tres"):
            a.send(text)
        waiting = a.echoes().filter(has_text="tres")
        expect(waiting.locator(".echo-status")).to_contain_text(re.compile(r"se reenviará en \d+ s"))
        expect(waiting.locator("[data-action=retry]")).to_have_count(0)   # nothing to press: it goes by itself
        a.screenshot("rate-limited")
        expect(a.message("tres")).to_be_visible(timeout=20_000)
        expect(a.echoes()).to_have_count(0)
        assert a.texts() == ["uno", "dos", "tres"]


def visible_action_bars(chat: ChatPage) -> int:
    return chat.page.locator("#messages li.msg .actions").evaluate_all(
        "els => els.filter((e) => getComputedStyle(e).display !== 'none').length")


def test_on_a_phone_one_action_bar_at_a_time_covering_nothing(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="phone")
    post(alice, conv["id"], "p1", "first, edited later")
    post(alice, conv["id"], "p2", "second")
    post(bob, conv["id"], "p3", "third, from bob")
    first = stored(alice, conv["id"], 3)[0]
    editor = alice.socket()
    try:
        assert editor.call("message:edit", {"messageId": first["id"], "content": "first, edited"})["ok"]
    finally:
        editor.close()
    a = open_chat(phone=True).sign_in(alice.username).open_conversation("phone")
    edited = a.message("first, edited")
    expect(edited.locator(".edited")).to_be_visible()

    a.message("second").locator(".bubble").tap()
    expect(a.message("second").locator(".actions")).to_be_visible()
    edited.locator(".bubble").tap()
    expect(edited.locator(".actions")).to_be_visible()
    expect(a.message("second").locator(".actions")).to_be_hidden()
    assert visible_action_bars(a) == 1
    # Nothing lies over "(edited)": the element at its centre is itself.
    assert edited.locator(".edited").evaluate("""(el) => {
      const box = el.getBoundingClientRect();
      return document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2) === el;
    }""")
    a.screenshot("one-action-bar")
    a.page.locator("#conv-title").tap()                                # a tap elsewhere closes it
    assert wait_until(lambda: visible_action_bars(a) == 0, what="no action bar") is True
