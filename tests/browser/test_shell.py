"""The chat page's shell: on a phone the conversation header keeps its title, subtitle and avatars whole and
puts the secondary actions behind a "⋯" menu button (mouse and keyboard), Leave has its own icon; and no
"You are not in any group" shows before the list is known (after signing in, or after a reload)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import person
from tests.e2e.harness import make_conversation

pytestmark = pytest.mark.browser

# Records every moment the "no group" state is drawn where it can be seen (MutationObserver callbacks run
# before the next paint, so a state drawn and removed within one frame is caught too).
WATCH_EMPTY = """
window.__emptyShown = 0;
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver(() => {
    const el = document.querySelector("#conv-list .side-empty");
    if (el && el.getClientRects().length) window.__emptyShown += 1;
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
});
"""


def test_the_phone_header_keeps_its_title_and_puts_the_actions_in_a_menu(system, open_chat):
    admin, member = person(system, "alice"), person(system, "bob")
    make_conversation(admin, member, title="roadmap for the quarter")
    chat = open_chat(locale="es-ES", phone=True).sign_in(member.username).open_conversation("roadmap for the quarter")
    page = chat.page
    expect(page.locator("#conv-sub")).to_contain_text("2 miembros")
    for sel in ("#conv-title", "#conv-sub"):   # nothing cut: the text fits its box
        assert page.eval_on_selector(sel, "el => el.scrollWidth <= el.clientWidth + 1 && "
                                          "el.scrollHeight <= el.clientHeight + 1"), sel
    header = page.locator(".conv-head").bounding_box()
    for avatar in page.locator("#conv-sub .avatar").all():
        box = avatar.bounding_box()
        assert box["x"] >= header["x"] and box["x"] + box["width"] <= header["x"] + header["width"]
        assert box["y"] >= header["y"] and box["y"] + box["height"] <= header["y"] + header["height"]
    for hidden in ("#members-button", "#leave-button", "#gallery-toggle"):
        expect(page.locator(hidden)).to_be_hidden()
    more = page.locator("#conv-more")
    expect(more).to_have_attribute("aria-expanded", "false")
    expect(more).to_have_attribute("aria-label", "Más acciones")
    chat.screenshot("phone-header")

    more.click()
    expect(more).to_have_attribute("aria-expanded", "true")
    menu = page.locator("#conv-actions")
    expect(menu.locator("#members-button")).to_be_visible()
    expect(menu.locator("#leave-button")).to_be_visible()
    expect(menu.get_by_role("button", name="Salir de la conversación")).to_be_visible()   # named, and labelled on screen
    leave_icon = page.eval_on_selector("#leave-button path", "p => p.getAttribute('d')")
    sign_out_icon = page.eval_on_selector("#sign-out path", "p => p.getAttribute('d')")
    assert leave_icon != sign_out_icon
    chat.screenshot("phone-menu")

    page.keyboard.press("Escape")                        # closes, the focus back on the button
    expect(menu).to_be_hidden()
    expect(more).to_be_focused()
    page.keyboard.press("ArrowDown")                     # ↓ opens on the first action; ↓ moves on
    expect(menu).to_be_visible()
    first = page.evaluate("() => document.activeElement.id")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.id") not in (first, "conv-more")
    page.locator("#members-button").click()             # an action: the menu goes, its dialog opens
    expect(menu).to_be_hidden()
    expect(page.locator("#dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#dialog")).to_be_hidden()


def test_the_desktop_header_shows_the_actions_without_a_menu(system, open_chat):
    admin, member = person(system, "alice"), person(system, "bob")
    make_conversation(admin, member, title="roadmap")
    chat = open_chat().sign_in(member.username).open_conversation("roadmap")
    expect(chat.page.locator("#conv-more")).to_be_hidden()
    for shown in ("#members-button", "#leave-button", "#gallery-toggle", "#search-toggle"):
        expect(chat.page.locator(shown)).to_be_visible()


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_no_empty_state_flashes_before_the_list_is_known(system, open_chat, phone):
    admin, member = person(system, "alice"), person(system, "bob")
    make_conversation(admin, member, title="standup")
    chat = open_chat(phone=phone, init_script=WATCH_EMPTY)
    chat.sign_in(member.username)
    expect(chat.conversation_link("standup")).to_be_visible()
    chat.page.wait_for_timeout(300)
    assert chat.page.evaluate("() => window.__emptyShown") == 0
    chat.page.reload()                                   # a restored session: the same
    expect(chat.conversation_link("standup")).to_be_visible()
    chat.page.wait_for_timeout(300)
    assert chat.page.evaluate("() => window.__emptyShown") == 0

    # Someone in no group does see it, once the list is known to be empty.
    loner = person(system, "carol")
    other = open_chat(phone=phone, init_script=WATCH_EMPTY).sign_in(loner.username)
    expect(other.page.locator("#conv-list .side-empty")).to_be_visible()
    assert other.page.evaluate("() => window.__emptyShown") > 0
