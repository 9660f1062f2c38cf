"""History in pages of 50: the newest page first, older pages as one scrolls up, and nothing on screen
moves when a page is added above it or a message arrives below it."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import person, post
from tests.e2e.harness import make_conversation, wait_until

pytestmark = pytest.mark.browser
# Where the text of the first message on screen is (the day divider or the sender's name above it may
# go when the message before it arrives; the text itself must not move).
FIRST_VISIBLE_TOP = """(toTop) => {
  const s = document.querySelector('#scroller'), box = s.getBoundingClientRect();
  if (toTop) s.scrollTop = 0;   // the same turn as the measure: no page can arrive in between
  const el = [...document.querySelectorAll('#messages li.msg .text')]
    .find((t) => t.getBoundingClientRect().top >= box.top);
  return {seq: Number(el.closest('li').dataset.seq), top: el.getBoundingClientRect().top};
}"""
TOP_OF = "seq => document.querySelector(`#messages li[data-seq='${seq}'] .text`).getBoundingClientRect().top"


def test_older_pages_load_on_scroll_up_without_jumping(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="history")
    for i in range(1, 131):
        post(alice if i % 4 else bob, conv["id"], f"h{i}", f"message {i}")
    wait_until(lambda: alice.ok("GET", f"/api/conversations/{conv['id']}/messages?limit=1")["messages"][0]["content"]
               == "message 130", what="130 messages stored")
    a = open_chat().sign_in(alice.username).open_conversation("history")
    expect(a.message("message 130")).to_be_in_viewport()
    expect(a.page.locator("#input")).to_be_focused()
    assert len(a.texts()) == 50

    rows = a.page.locator("#messages li.msg:not(.system)")
    for shown in (100, 130):
        before = a.page.evaluate(FIRST_VISIBLE_TOP, True)
        expect(rows).to_have_count(shown)
        assert abs(a.page.evaluate(TOP_OF, before["seq"]) - before["top"]) <= 1   # the page went above it
    a.page.evaluate("() => { document.querySelector('#scroller').scrollTop = 0; }")
    expect(a.page.locator("#history-top .beginning")).to_contain_text("This is the beginning of the conversation")
    assert a.texts() == [f"message {i}" for i in range(1, 131)]
    assert a.seqs() == list(range(1, len(a.seqs()) + 1))
    a.screenshot("beginning")

    # Scrolled up, a new message does not pull the view down: a button offers to jump to it.
    before = a.page.evaluate(FIRST_VISIBLE_TOP, False)
    post(bob, conv["id"], "late", "anyone there?")
    expect(a.page.locator("#jump")).to_be_visible()
    assert abs(a.page.evaluate(TOP_OF, before["seq"]) - before["top"]) <= 1
    a.page.click("#jump")
    expect(a.message("anyone there?")).to_be_in_viewport()
    expect(a.page.locator("#jump")).to_be_hidden()
