"""The admins' analytics page (/analytics): a group admin reached from the chat's link sees their group's
known traffic (5 messages by 2 people today: 5 messages, 2 active members, the top poster first, the heat
map's cell of now's hour in the browser's time zone), saves the CSV files with those rows; a member sees the
"nothing to show" text and no figure; a period over 366 days is refused before it is asked; the phone layout
fits 390 px; French and German; axe-core clean; the client-side CSV quotes cells and defuses formulas."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import person, post
from tests.browser.test_accessibility import assert_no_serious
from tests.e2e.harness import Api, make_conversation, own_system, wait_until

pytestmark = pytest.mark.browser

# Not UTC, and a whole-hour offset with no DST: the heat map's shift from UTC hours is seen, exactly.
ZONE = "Asia/Tokyo"
DESKTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}
ROOT = "analytics-root"   # the system admin of this module's system (ADMIN_USERNAMES)


@pytest.fixture(scope="module")
def system():
    # Roll-ups every second: the page reads roll-ups, never the messages (the beat's interval in production).
    with own_system(ANALYTICS_ROLLUP_EVERY_SECONDS="1", ADMIN_USERNAMES=ROOT) as s:
        yield s


@pytest.fixture(scope="module")
def world(system):
    """A group admin (alice: 3 messages) and a member (bob: 2) in one conversation, all sent now; the
    roll-up has them when the fixture returns."""
    alice, bob = person(system, "alice"), person(system, "bob")
    group, conv = make_conversation(alice, bob, title="Weekly sync")
    for i, (who, text) in enumerate([(alice, "Agenda is up"), (bob, "Thanks"), (alice, "First point: the launch"),
                                     (bob, "=SUM(A1:A9) is my formula"), (alice, "Noted")]):
        post(who, conv["id"], f"a{i}", text)
    today = datetime.now(timezone.utc).date().isoformat()   # the roll-ups' days are UTC days
    wait_until(lambda: alice.ok("GET", f"/api/groups/{group['id']}/analytics?from={today}&to={today}&tz={ZONE}")
               ["totals"]["messages"] >= 5, 30, interval=0.5, what="the roll-up of the 5 messages")
    return alice, bob, group, conv


def open_analytics(browser, system, request, username: str, locale: str = "en-US", phone: bool = False) -> ChatPage:
    """Signed in on the chat page, then /analytics in the same tab (the session is this tab's)."""
    chat = ChatPage.open(browser, system.url, locale=locale, phone=phone, test_name=request.node.name,
                         timezone_id=ZONE)
    chat.page.set_viewport_size(PHONE if phone else DESKTOP)
    request.addfinalizer(chat.close)
    chat.sign_in(username)
    return chat


def goto_page(chat: ChatPage) -> None:
    if chat.page.locator("#analytics-link").is_visible():
        chat.page.click("#analytics-link")
    else:
        chat.page.goto("/analytics")
    expect(chat.page.locator("#ana")).to_be_visible()


def drawn(chat: ChatPage) -> None:
    expect(chat.page.locator("#ana-results")).to_be_visible()
    chat.page.wait_for_function("() => performance.getEntriesByName('analytics:drawn').length > 0")


def cell(chat: ChatPage, when: datetime):
    return chat.page.locator(f"#ana-heat td[data-day='{when.weekday()}'][data-hour='{when.hour}']")


def test_a_group_admin_sees_the_known_traffic(browser, system, world, request):
    alice, bob, group, _ = world
    chat = open_analytics(browser, system, request, alice.username)
    expect(chat.page.locator("#analytics-link")).to_be_visible()   # the chat links it for a group admin
    goto_page(chat)
    drawn(chat)
    page = chat.page
    expect(page.locator("#ana-group option:checked")).to_have_text(group["name"])
    expect(page.locator("[data-figure=messages] dd")).to_have_text("5")
    expect(page.locator("[data-figure=activeMembers] dd")).to_have_text("2")
    expect(page.locator("#ana-top tbody tr").first).to_contain_text(alice.username)
    expect(page.locator("#ana-top tbody tr").first.locator("td").last).to_have_text("3")
    expect(page.locator("#ana-top tbody tr").nth(1)).to_contain_text(bob.username)
    now = datetime.now(ZoneInfo(ZONE))
    expect(cell(chat, now)).to_have_text("5")
    assert sum(int(t) for t in page.locator("#ana-heat td.heat").all_inner_texts()) == 5
    expect(page.locator("#ana-heat-zone")).to_contain_text(ZONE)
    # The chart is drawn (uPlot's canvas), and its table says the same: today's row has 5 and 2.
    assert page.locator("#ana-chart canvas").count() >= 1
    page.click(".ana-table-view summary")
    days = [[c.inner_text() for c in row.locator("td").all()] for row in page.locator("#ana-days-table tbody tr").all()]
    assert [d for d in days if d != ["0", "0", "0"]] == [["5", "2", "0"]] and len(days) == 30
    expect(page.locator("#ana-response")).to_contain_text("answered")
    chat.screenshot("desktop")
    assert_no_serious(page, "the analytics page")
    assert chat.page_errors == []


def test_the_csv_files_hold_the_rows(browser, system, world, request):
    alice, bob, _, _ = world
    chat = open_analytics(browser, system, request, alice.username)
    goto_page(chat)
    drawn(chat)
    page = chat.page
    page.select_option("#ana-preset", "7")
    expect(page.locator("#ana-days-table tbody tr")).to_have_count(7)

    days = rows(saved(chat, "#ana-days-csv"))   # the server's file, fetched with the token
    assert len(days) == 1 + 7
    assert sum(int(r[1]) for r in days[1:]) == 5
    top = rows(saved(chat, "#ana-top-csv"))
    assert top[0] == ["Rank", "Member", "Messages"]
    assert top[1:] == [["1", alice.username, "3"], ["2", bob.username, "2"]]
    heat = rows(saved(chat, "#ana-heat-csv"))
    assert len(heat) == 1 + 7 and all(len(r) == 25 for r in heat)
    now = datetime.now(ZoneInfo(ZONE))
    assert heat[1 + now.weekday()][1 + now.hour] == "5"
    summary = dict(r[:2] for r in rows(saved(chat, "#ana-summary-csv"))[1:])
    assert summary["Messages"] == "5" and summary["Active members"] == "2"


def saved(chat: ChatPage, button: str) -> bytes:
    with chat.page.expect_download() as info:
        chat.page.click(button)
    path = info.value.path()
    assert path and info.value.suggested_filename.endswith(".csv"), info.value.failure()
    return open(path, "rb").read()


def rows(data: bytes) -> list[list[str]]:
    return [r for r in csv.reader(io.StringIO(data.decode("utf-8-sig"))) if r]


def test_a_member_sees_that_there_is_nothing_for_them(browser, system, world, request):
    _, bob, _, _ = world
    chat = open_analytics(browser, system, request, bob.username)
    expect(chat.page.locator("#analytics-link")).to_be_hidden()
    asked: list[str] = []
    chat.page.on("request", lambda r: asked.append(r.url) if "/analytics?" in r.url else None)
    goto_page(chat)
    expect(chat.page.locator("#ana-none")).to_be_visible()
    expect(chat.page.locator("#ana-none")).to_contain_text("You may see no analytics")
    expect(chat.page.locator("#ana-form")).to_be_hidden()
    expect(chat.page.locator("#ana-results")).to_be_hidden()
    assert chat.page.locator("#ana-heat td").count() == 0 and asked == []
    chat.screenshot("member")
    assert_no_serious(chat.page, "the analytics page of a member")


def test_a_period_over_366_days_is_refused_before_it_is_asked(browser, system, world, request):
    alice, _, _, _ = world
    chat = open_analytics(browser, system, request, alice.username)
    goto_page(chat)
    drawn(chat)
    page = chat.page
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/analytics?" in r.url else None)
    page.fill("#ana-from", "2024-01-01")
    page.fill("#ana-to", "2025-01-01")   # 367 days, both included
    page.click("#ana-show")
    expect(page.locator("#ana-error")).to_have_text("The period is longer than 366 days.")
    expect(page.locator("#ana-preset")).to_have_value("custom")
    page.fill("#ana-from", "2024-01-02")   # 366 days: fine
    page.click("#ana-show")
    expect(page.locator("#ana-error")).to_have_text("")
    expect(page.locator("#ana-days-table tbody tr")).to_have_count(366)
    assert len(asked) == 1 and "from=2024-01-02" in asked[0] and "to=2025-01-01" in asked[0]


def test_phone_in_french(browser, system, world, request):
    alice, _, _, _ = world
    chat = open_analytics(browser, system, request, alice.username, locale="fr-FR", phone=True)
    goto_page(chat)
    drawn(chat)
    page = chat.page
    expect(page.locator("#ana-days-title")).to_have_text("Messages et membres actifs par jour")
    expect(page.locator("[data-figure=activeMembers] dt")).to_have_text("Membres actifs")
    expect(page.locator("#ana-heat tbody th").first).to_have_text("lun.")
    expect(cell(chat, datetime.now(ZoneInfo(ZONE)))).to_have_text("5")
    # Nothing wider than the phone: the page does not scroll sideways, the chart fits its card.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("#ana-chart canvas").first.bounding_box()["width"] <= PHONE["width"] - 20
    chat.screenshot("phone-fr")
    assert_no_serious(page, "the analytics page on a phone")
    # The window grows: the chart follows it.
    before = page.locator("#ana-chart canvas").first.bounding_box()["width"]
    page.set_viewport_size(DESKTOP)
    wait_until(lambda: page.locator("#ana-chart canvas").first.bounding_box()["width"] > before + 200,
               what="the chart to follow the window")


def test_german_and_durations_in_words(browser, system, world, request):
    alice, _, _, _ = world
    chat = open_analytics(browser, system, request, alice.username, locale="de-DE")
    goto_page(chat)
    drawn(chat)
    page = chat.page
    expect(page.locator("#ana-top-title")).to_have_text("Aktivste Mitglieder")
    expect(page.locator("#ana-heat tbody th").first).to_have_text("Mo")
    expect(page.locator("#ana-response")).to_contain_text("Median")
    chat.screenshot("german")
    # Durations as people say them, in the page's language (the page's own formatter).
    said = page.evaluate("""async () => {
        const f = await import("/static/js/analytics/format.js");
        return [f.duration(240), f.duration(45), f.duration(5400)];
    }""")
    assert said == ["4 Min.", "45 Sek.", "1,5 Std."]


def test_client_side_csv_quotes_and_defuses_formulas(browser, system, world, request):
    alice, _, _, _ = world
    chat = open_analytics(browser, system, request, alice.username)
    goto_page(chat)
    text = chat.page.evaluate("""async () => (await import("/static/js/analytics/csv.js"))
        .csvText([["=1+1", "+2", "-3", "@SUM(A1)", "a,b", 'say "hi"', "two\\nlines", 7, -7]])""")
    assert rows(text.encode()) == [["'=1+1", "'+2", "'-3", "'@SUM(A1)", "a,b", 'say "hi"', "two\nlines", "7", "-7"]]
    assert text.endswith("\r\n")


def test_keyboard_reaches_every_control_with_a_visible_ring(browser, system, world, request):
    alice, _, _, _ = world
    chat = open_analytics(browser, system, request, alice.username)
    goto_page(chat)
    drawn(chat)
    page = chat.page
    page.focus("#ana-group")
    reached = []
    for _ in range(24):   # a date field takes four stops (day, month, year, its calendar button)
        page.keyboard.press("Tab")
        reached.append(page.evaluate("""() => {
            const el = document.activeElement;
            if (el === document.body) return ["(past the last control)", "n/a"];
            return [el.id || el.className || el.tagName, getComputedStyle(el).outlineStyle];
        }"""))
    names = [name for name, _ in reached]
    for control in ("ana-conv", "ana-preset", "ana-from", "ana-to", "ana-show", "ana-summary-csv", "ana-days-csv",
                    "ana-heat-csv"):
        assert control in names, (control, names)
    assert "ana-scroll" in names   # the heat map's region scrolls by keyboard on a phone
    # Each control's ring when the Tab key lands on it (a date field's calendar button inside it is Chromium's own).
    first = {name: ring for name, ring in reversed(reached)}
    assert [name for name, ring in first.items() if ring == "none"] == [], reached
    # Enter on the period's button asks again, from the keyboard alone.
    before = page.evaluate("() => performance.getEntriesByName('analytics:drawn').length")
    page.focus("#ana-show")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => performance.getEntriesByName('analytics:drawn').length > {before}")


def test_a_system_admin_picks_any_group_and_one_conversation(browser, system, world, request):
    alice, _, group, conv = world
    Api(system, ROOT)   # signs up the system admin, a member of no group
    chat = open_analytics(browser, system, request, ROOT)
    goto_page(chat)
    drawn(chat)
    page = chat.page
    page.select_option("#ana-group", group["id"])
    expect(page.locator("#ana-conv option", has_text="Weekly sync")).to_have_count(1)
    with page.expect_request(lambda r: f"/api/conversations/{conv['id']}/analytics?" in r.url):
        page.select_option("#ana-conv", conv["id"])
    expect(page.locator("[data-figure=messages] dd")).to_have_text("5")
    expect(page.locator("#ana-top tbody tr").first).to_contain_text(alice.username)


def test_loading_and_error_states(browser, system, world, request):
    alice, _, _, _ = world
    chat = open_analytics(browser, system, request, alice.username)
    page = chat.page
    # The server unreachable for the figures (and only them): the page says so, and shows no stale figure.
    page.route("**/api/groups/*/analytics?*", lambda route: route.abort())
    goto_page(chat)
    expect(page.locator("#ana-error")).to_contain_text("The figures could not be loaded")
    expect(page.locator("#ana-results")).to_be_hidden()
    page.unroute("**/api/groups/*/analytics?*")
    # Asked again: "Loading" while the answer comes (every text the status took is recorded), then the figures.
    page.evaluate("""() => {
        window.__said = [];
        const status = document.querySelector("#ana-status");
        new MutationObserver(() => window.__said.push(status.textContent))
          .observe(status, {childList: true, characterData: true, subtree: true});
    }""")
    page.click("#ana-show")
    expect(page.locator("[data-figure=messages] dd")).to_have_text("5")
    assert "Loading the figures…" in page.evaluate("() => window.__said")
    expect(page.locator("#ana-status")).to_have_text("")
    expect(page.locator("#ana-error")).to_have_text("")
