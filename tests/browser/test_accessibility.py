"""Accessibility of the three pages: axe-core (from npm, evaluated in the page by Playwright: the pages' CSP
forbids inline scripts, and an evaluation is not one) finds no serious or critical violation in their main
states, on desktop and phone; the chat page also has its landmarks and a level-one heading; and the chat
works with the keyboard alone, with the focus visible at every step.

To cover a new state: bring the page there and call ``assert_no_serious(page, "what it shows")``."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import person, post
from tests.browser.test_media import upload_via_api
from tests.e2e.harness import make_conversation, wait_until

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
# The chat page's structure (moderate in axe, fixed here and kept): one main landmark, a level-one heading,
# nothing outside a landmark.
STRUCTURE = ("landmark-one-main", "page-has-heading-one", "region")
DEVICES = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])


def axe_violations(page: Page) -> list[dict]:
    # Colours are measured as they stay, not while an item fades in: as someone who asked for less motion
    # sees the page (its CSS drops the animations then), once what still runs has ended.
    page.emulate_media(reduced_motion="reduce")
    page.evaluate("() => Promise.all(document.getAnimations().map((a) => a.finished.catch(() => null)))")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    return page.evaluate("() => axe.run(document, {resultTypes: ['violations']}).then((r) => r.violations)")


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} node(s)]")
        for node in v["nodes"][:8]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {' > '.join(map(str, node['target']))}: {summary[:300]}")
    return "\n".join(lines)


def assert_no_serious(page: Page, name: str, also: tuple[str, ...] = ()) -> None:
    """No serious or critical axe violation on the page as it is now (nor any of the rules in ``also``);
    on failure, each violation with its nodes and why, readably."""
    found = [v for v in axe_violations(page) if v["impact"] in SERIOUS or v["id"] in also]
    assert not found, f"axe-core on {name}:\n{describe(found)}"


@pytest.fixture(scope="module")
def world(system):
    """A group admin (who moderates and exports) and a member, a conversation with messages, a reply, a
    reaction and a file, a review item, a filter rule, log entries and an export."""
    admin, member = person(system, "alice"), person(system, "bob")
    group, conv = make_conversation(admin, member, title="design review")
    post(admin, conv["id"], "a-1", "Here is the plan for the new onboarding, comments welcome")
    first = wait_until(lambda: admin.chat(conv["id"]), what="the first message")[0]
    member.ok("POST", f"/api/conversations/{conv['id']}/messages",
              json={"clientId": "b-1", "content": "Looks good to me", "replyTo": first["id"]})
    socket = member.socket()
    try:
        socket.call("reaction:add", {"messageId": first["id"], "emoji": "👍"})
    finally:
        socket.close()
    upload_via_api(admin, conv["id"], "minutes.txt", b"Minutes of the meeting\n" * 50, "text/plain")
    admin.ok("POST", f"/api/groups/{group['id']}/filters", json={"kind": "word", "pattern": "bazinga", "action": "flag"})
    post(member, conv["id"], "b-2", "bazinga, said the reviewer")
    wait_until(lambda: admin.ok("GET", f"/api/groups/{group['id']}/reviews")["reviews"], what="a review item")
    admin.ok("POST", f"/api/conversations/{conv['id']}/exports", json={"format": "csv"})
    return admin, member, group, conv


@DEVICES
def test_the_chat_page_has_no_serious_violations(world, open_chat, phone):
    admin, member, group, conv = world
    chat = open_chat(phone=phone)
    expect(chat.page.locator("#signin")).to_be_visible()
    assert_no_serious(chat.page, "the sign-in card", also=("landmark-one-main", "page-has-heading-one"))

    chat.sign_in(admin.username)
    expect(chat.conversation_link("design review")).to_be_visible()
    assert_no_serious(chat.page, "the conversation list", also=STRUCTURE)

    chat.open_conversation("design review")
    expect(chat.page.locator("#messages .reaction")).to_have_count(1)
    expect(chat.page.locator("#messages .quote")).to_have_count(1)
    expect(chat.page.locator("#messages .file-card, #messages .file")).not_to_have_count(0)
    assert_no_serious(chat.page, "an open conversation", also=STRUCTURE)
    chat.screenshot("conversation")

    if phone:
        chat.page.click("#conv-more")
    chat.page.click("#members-button")
    expect(chat.page.locator("#dialog")).to_be_visible()
    assert_no_serious(chat.page, "the members dialog")
    chat.page.keyboard.press("Escape")
    expect(chat.page.locator("#dialog")).to_be_hidden()


def side_page(open_chat, user, phone: bool, link: str, root: str, ready: str) -> ChatPage:
    """A side page reached the way its user does (the link in the chat page), once ``ready`` is shown."""
    chat = open_chat(phone=phone).sign_in(user.username)
    chat.page.click(link)
    expect(chat.page.locator(root)).to_be_visible()
    expect(chat.page.locator(ready)).not_to_have_count(0)
    return chat


@DEVICES
def test_the_moderation_dashboard_has_no_serious_violations(world, open_chat, phone):
    chat = side_page(open_chat, world[0], phone, "#moderation-link", "#mod", "#queue-list li.review")
    assert_no_serious(chat.page, "the review queue with an item")
    for tab in ("filters", "sanctions", "log"):
        chat.page.click(f"#tabs a[data-tab={tab}]")
        expect(chat.page.locator(f"#tab-{tab}")).to_be_visible()
        chat.page.wait_for_load_state("networkidle")
        assert_no_serious(chat.page, f"the dashboard's {tab}")
    chat.screenshot("moderation-log")


@DEVICES
def test_the_exports_page_has_no_serious_violations(world, open_chat, phone):
    chat = side_page(open_chat, world[0], phone, "#exports-link", "#exp", "#exp-list li.exp-row")
    assert_no_serious(chat.page, "the exports page with its list")
    chat.screenshot("exports")


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Tab (only) until the element is focused; every element on the way shows its focus (past the last one
    the focus leaves the page for the browser's own controls, the body here, and comes back to the first)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
          const el = document.activeElement;
          if (el === document.body) return {tag: 'BODY', ring: true, visible: true};
          const s = getComputedStyle(el);
          const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'
            || getComputedStyle(el.parentElement).boxShadow !== 'none';
          return {tag: el.tagName, id: el.id, cls: el.className.baseVal ?? el.className, ring,
                  visible: el.matches(':focus-visible')};
        }""")
        assert focused["visible"] and focused["ring"], f"no visible focus on {focused}"
        if page.evaluate("(sel) => document.activeElement.matches(sel)", selector):
            return
    raise AssertionError(f"{selector} not reached with Tab")


@DEVICES
def test_the_chat_works_with_the_keyboard_alone(world, open_chat, phone):
    admin, member, group, conv = world
    chat = open_chat(phone=phone, locale="fr-FR")
    page = chat.page
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type(member.username)
    page.keyboard.press("Enter")
    expect(page.locator("#me")).to_contain_text(member.username)
    expect(chat.conversation_link("design review")).to_be_visible()

    tab_to(page, f'#conv-list a.conv-item[data-conv="{conv["id"]}"]')
    page.keyboard.press("Enter")
    chat.wait_loaded()
    expect(page.locator("#input")).to_be_focused()
    page.keyboard.type("Envoyé au clavier")
    page.keyboard.press("Enter")
    expect(chat.message("Envoyé au clavier")).to_be_visible()

    if phone:   # the members are behind the header's menu button: ↓ opens it on its first action
        tab_to(page, "#conv-more")
        page.keyboard.press("Enter")
        expect(page.locator("#conv-actions")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#conv-actions")).to_be_hidden()
        expect(page.locator("#conv-more")).to_be_focused()
        page.keyboard.press("Enter")
        for _ in range(5):
            if page.evaluate("() => document.activeElement.id") == "members-button":
                break
            page.keyboard.press("ArrowDown")
    else:
        tab_to(page, "#members-button")
    page.keyboard.press("Enter")
    dialog = page.locator("#dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Membres")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    chat.screenshot("keyboard")
