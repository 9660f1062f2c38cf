"""The admins' export page (/exports): a CSV export requested from the page, its progress bar moved by
export:progress up to 100 %, the file downloaded holding every message in order; a PDF downloaded; a
member offered nothing and refused with no data; a running export cancelled; a system admin in no
conversation finding another group's conversation by search and exporting it; a group admin offered only
their groups'; toasts naming the conversation and the format; the expiry in the user's language; every text
in the four catalogues."""
from __future__ import annotations

import csv
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import person, post
from tests.e2e.harness import ROOT, Api, make_conversation, own_system, wait_until

pytestmark = pytest.mark.browser

# The worker reports progress at most once a second: an export must last a few seconds for the page to
# see export:progress before export:ready. Windows of 10 messages (the smallest the server takes) and
# 6,000 messages do that here (2-4 s for a CSV); fewer would finish before the first beat.
BIG = 6000


ROOT_ADMIN = "root"   # the system ADMIN of this module's system (ADMIN_USERNAMES)


@pytest.fixture(scope="module")
def slow():
    with own_system(EXPORT_BATCH="10", ADMIN_USERNAMES=ROOT_ADMIN) as system:
        yield system


@pytest.fixture(scope="module")
def big(slow):
    """A group admin and a member in a conversation of BIG messages, and its history (seq, content)."""
    admin, member = person(slow, "alice"), person(slow, "bob")
    group, conv = make_conversation(admin, member, title="Quarterly review")

    def send(i: int) -> None:
        post(admin if i % 3 else member, conv["id"], f"m{i}", f"message {i:05d} " + "lorem ipsum " * (i % 7))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(send, range(BIG)))
    history = wait_until(lambda: (h := every_message(admin, conv["id"])) and len(h) >= BIG + 1 and h,
                         60, what="the messages to be stored")
    return admin, member, group, conv, history


def every_message(api, conv_id: str) -> list[dict]:
    out, after = [], 0
    while True:
        page = api.ok("GET", f"/api/conversations/{conv_id}/messages?after={after}&limit=200")
        out += page["messages"]
        if not page["hasMore"] or not page["messages"]:
            return out
        after = page["messages"][-1]["seq"]


AXE = (ROOT / "node_modules" / "axe-core" / "axe.min.js").read_text()


def serious_violations(chat: ChatPage) -> list[str]:
    """axe-core's serious and critical findings on the page as it is (evaluated in the page, past its CSP)."""
    chat.page.evaluate(AXE)
    found = chat.page.evaluate("""async () => (await axe.run(document)).violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)""")
    return found


def export_page(chat: ChatPage) -> ChatPage:
    """From the chat page, the way an admin gets there: the Exports link (same tab, same session)."""
    chat.page.click("#exports-link")
    expect(chat.page.locator("#exp")).to_be_visible()
    expect(chat.page.locator("#live")).to_have_attribute("data-mode", "live")   # in user:{id}
    return chat


def choose(chat: ChatPage, conv_id: str, search: str | None = None) -> None:
    """Pick a conversation in the picker: typed (a search) when given, then clicked."""
    page = chat.page
    if search is not None:
        page.fill("#exp-conv-search", search)
    option = page.locator(f'#exp-conv-options [role=option][data-conv="{conv_id}"]')
    option.click()
    expect(option).to_have_attribute("aria-selected", "true")
    expect(page.locator("#exp-conv")).to_have_value(conv_id)


def request(chat: ChatPage, conv_id: str, fmt: str, search: str | None = None) -> str:
    page = chat.page
    choose(chat, conv_id, search)
    page.check(f"input[name=format][value={fmt}]")
    with page.expect_response(lambda r: r.url.endswith(f"/api/conversations/{conv_id}/exports")) as answer:
        page.click("#exp-submit")
    assert answer.value.status == 202, answer.value.text()
    return answer.value.json()["id"]


def row(chat: ChatPage, export_id: str):
    return chat.page.locator(f'#exp-list li.exp-row[data-id="{export_id}"]')


def download(chat: ChatPage, export_id: str) -> bytes:
    with chat.page.expect_download() as info:
        row(chat, export_id).locator("[data-action=download]").click()
    path = info.value.path()
    assert path, info.value.failure()
    return open(path, "rb").read()


WATCH_BARS = """() => {
  window.__bars = [];
  new MutationObserver((records) => {
    for (const r of records) for (const el of [r.target, ...(r.addedNodes || [])])
      if (el.querySelectorAll) for (const bar of [el, ...el.querySelectorAll("[role=progressbar]")])
        if (bar.getAttribute && bar.getAttribute("role") === "progressbar") window.__bars.push(Number(bar.getAttribute("aria-valuenow")));
  }).observe(document.getElementById("exp-list"), {subtree: true, childList: true, attributes: true});
}"""


def test_a_csv_export_shows_its_progress_and_downloads_every_message_in_order(slow, big, open_chat):
    admin, _, _, conv, history = big
    chat = open_chat(base_url=slow.url).sign_in(admin.username)
    expect(chat.page.locator("#exports-link")).to_be_visible()
    chat.screenshot("chat-link")
    frames: list[str] = []
    chat.page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(f if isinstance(f, str) else "")))
    export_page(chat)
    expect(chat.page.locator("#not-admin")).to_be_hidden()
    expect(chat.page.locator("#exp-timezone")).to_have_value(chat.page.evaluate(
        "Intl.DateTimeFormat().resolvedOptions().timeZone"))
    chat.page.evaluate(WATCH_BARS)

    export_id = request(chat, conv["id"], "csv")
    item = row(chat, export_id)
    expect(item).to_be_visible()
    expect(item.locator(".fmt-tag")).to_have_text("CSV")
    expect(item.locator(".exp-conv-title")).to_have_text("Quarterly review")
    expect(item.locator("[data-action=cancel]")).to_be_visible()
    expect(item.locator(".status-pill")).to_have_text("In progress", timeout=10_000)
    item.scroll_into_view_if_needed()
    chat.screenshot("running")
    expect(item.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "100", timeout=30_000)
    expect(item.locator(".status-pill")).to_have_text("Ready")
    expect(item.locator(".exp-counts")).to_contain_text(f"{len(history):,} of {len(history):,} messages")
    expect(item.locator(".exp-row-file")).to_contain_text("expires in 47 hours")
    expect(item.locator("[data-action=cancel]")).to_have_count(0)

    progress = [json.loads(f[2:])[1] for f in frames if f.startswith('42["export:progress"')]
    assert [p for p in progress if p["id"] == export_id and 0 < p["progress"] < 100], progress
    seen = chat.page.evaluate("window.__bars")
    assert any(0 < v < 100 for v in seen) and seen[-1] == 100, seen   # the bar moved, then reached 100
    chat.screenshot("ready")

    data = download(chat, export_id)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0][0] == "seq" and rows[0][6] == "content"
    assert [int(r[0]) for r in rows[1:]] == [m["seq"] for m in history]
    assert [r[6] for r in rows[1:]][1:] == [m["content"] for m in history][1:]   # (1: the system message)
    status = admin.ok("GET", f"/api/exports/{export_id}")
    assert status["status"] == "done" and status["processed"] == len(history)


def test_a_pdf_export_downloads_a_pdf_on_a_phone_in_dark_mode(slow, open_chat):
    admin, member = person(slow, "alice"), person(slow, "bob")
    _, conv = make_conversation(admin, member, title="Board minutes")
    for i in range(30):
        post(member if i % 2 else admin, conv["id"], f"p{i}", f"point {i}: <b>R&D</b>")
    chat = open_chat(base_url=slow.url, phone=True)
    chat.page.emulate_media(color_scheme="dark")
    chat.sign_in(admin.username)
    expect(chat.page.locator("#exports-link")).to_be_visible()
    chat.screenshot("chat-link-phone")
    export_page(chat)
    chat.page.select_option("#exp-language", "de")
    export_id = request(chat, conv["id"], "pdf")
    item = row(chat, export_id)
    expect(item.locator(".status-pill")).to_have_text("Ready", timeout=30_000)
    expect(item.locator(".exp-row-meta")).to_contain_text("Whole conversation")
    pdf = download(chat, export_id)
    assert pdf.startswith(b"%PDF")
    chat.screenshot("pdf-phone-dark")
    chat.page.locator("#exp-form").screenshot(path=str(SHOTS / f"{chat.test_name}-form.png"))
    assert admin.ok("GET", f"/api/exports/{export_id}")["language"] == "de"


def test_a_member_who_is_not_an_admin_is_offered_nothing_and_refused(slow, big, open_chat):
    admin, member, group, conv, _ = big
    admin_exports = admin.ok("GET", "/api/exports")["exports"]
    chat = open_chat(locale="fr-FR", base_url=slow.url).sign_in(member.username)
    expect(chat.page.locator("#conv-list")).to_contain_text("Quarterly review")
    expect(chat.page.locator("#exports-link")).to_be_hidden()        # no link for a plain member
    chat.page.goto("/exports")
    expect(chat.page.locator("#exp")).to_be_visible()
    expect(chat.page.locator("#not-admin")).to_contain_text("Vous ne pouvez exporter aucune conversation")
    expect(chat.page.locator("#exp-conv-status")).to_have_text("Aucune conversation à exporter pour l'instant.")
    expect(chat.page.locator("#exp-conv-options [role=option]")).to_have_count(0)   # the server's list: none
    expect(chat.page.locator("#exp-submit")).to_be_disabled()
    expect(chat.page.locator("#exp-empty")).to_have_text("Aucun export pour l'instant.")
    assert member.ok("GET", "/api/exportable-conversations")["conversations"] == []
    refused = member.call("POST", f"/api/conversations/{conv['id']}/exports", json={"format": "csv"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    expect(chat.page.locator("#exp-list li")).to_have_count(0)       # nothing made, nothing shown
    for e in admin_exports:                                          # and none of the admin's exports
        expect(chat.page.locator(f'li[data-id="{e["id"]}"]')).to_have_count(0)
    assert member.ok("GET", "/api/exports")["exports"] == []
    page_text = chat.page.locator("#exp").inner_text()
    for excuse in ("ne donne pas la liste", "seulement si le serveur", "n'acceptera votre demande"):
        assert excuse not in page_text, page_text                    # no internal excuses
    chat.screenshot("nothing-to-export")

    signed_out = open_chat(base_url=slow.url)
    signed_out.page.goto("/exports")
    expect(signed_out.page.locator("#gate-title")).to_have_text("You are signed out")
    expect(signed_out.page.locator("#exp")).to_be_hidden()


def test_a_running_export_is_cancelled_from_its_row(slow, big, open_chat):
    admin, _, _, conv, _ = big
    chat = export_page(open_chat(base_url=slow.url).sign_in(admin.username))
    export_id = request(chat, conv["id"], "json")
    item = row(chat, export_id)
    item.locator("[data-action=cancel]").click()
    expect(item.locator(".status-pill")).to_have_text("Cancelled")
    expect(item).to_contain_text("Cancelled: no file was kept.")
    expect(item.locator("[data-action=download], [data-action=cancel]")).to_have_count(0)
    assert admin.ok("GET", f"/api/exports/{export_id}")["status"] == "cancelled"
    chat.page.wait_for_timeout(4000)                                  # the worker stopped: no ready after it
    expect(item.locator(".status-pill")).to_have_text("Cancelled")
    assert admin.ok("GET", f"/api/exports/{export_id}")["status"] == "cancelled"
    chat.page.reload()                                                # the list from the server says the same
    expect(row(chat, export_id).locator(".status-pill")).to_have_text("Cancelled")
    row(chat, export_id).scroll_into_view_if_needed()
    chat.page.wait_for_timeout(400)                                   # (the rows' fade-in)
    chat.screenshot("cancelled")


def test_a_system_admin_in_no_conversation_finds_another_groups_conversation_and_exports_it(slow, open_chat):
    owner, other = person(slow, "dana"), person(slow, "erin")
    group, conv = make_conversation(owner, other, title="Roadmap Zephyr")
    owner.ok("POST", f"/api/groups/{group['id']}/conversations", json={"title": "Lunch plans", "members": []})
    for i in range(5):
        post(owner, conv["id"], f"z{i}", f"zephyr point {i}")
    root = Api(slow, ROOT_ADMIN)
    assert not any(c["id"] == conv["id"] for c in root.ok("GET", "/api/conversations")["conversations"])
    chat = open_chat(base_url=slow.url).sign_in(ROOT_ADMIN)
    export_page(chat)
    expect(chat.page.locator("#not-admin")).to_be_hidden()
    search = chat.page.locator("#exp-conv-search")
    search.fill("zeph")                                               # a word of the title, any case
    options = chat.page.locator("#exp-conv-options [role=option]")
    expect(options).to_have_count(1)
    expect(chat.page.locator("#exp-conv-options [role=group]")).to_have_attribute(
        "aria-labelledby", f"exp-grp-{group['id']}")
    expect(chat.page.locator("#exp-conv-options .picker-group-name")).to_have_text(group["name"])
    search.fill(group["name"].upper())                                # or its group's name
    expect(options).to_have_count(2)
    chat.screenshot("picker-by-group")
    assert serious_violations(chat) == []
    search.fill("roadmap z")
    expect(options).to_have_count(1)
    search.press("ArrowDown")                                         # the keyboard alone picks it
    search.press("Enter")
    expect(chat.page.locator("#exp-conv")).to_have_value(conv["id"])
    expect(chat.page.locator("#exp-conv-chosen")).to_contain_text("Roadmap Zephyr")
    chat.page.check("input[name=format][value=csv]")
    with chat.page.expect_response(lambda r: r.url.endswith(f"/api/conversations/{conv['id']}/exports")) as answer:
        chat.page.click("#exp-submit")
    assert answer.value.status == 202, answer.value.text()
    item = row(chat, answer.value.json()["id"])
    expect(item.locator(".status-pill")).to_have_text("Ready", timeout=30_000)
    expect(item.locator(".exp-conv-title")).to_have_text("Roadmap Zephyr")
    expect(chat.page.locator("#toasts")).to_contain_text("The CSV export of “Roadmap Zephyr” is ready.")
    chat.screenshot("admin-exported")


def test_a_group_admin_is_offered_only_their_groups_conversations(slow, open_chat):
    alice, bob = person(slow, "alice"), person(slow, "bob")
    mine, conv = make_conversation(alice, bob, title="Alice plans")
    _, elsewhere = make_conversation(bob, alice, title="Bob plans")   # alice is a member there, not its admin
    listed = alice.ok("GET", "/api/exportable-conversations")["conversations"]
    assert [c["id"] for c in listed] == [conv["id"]] and listed[0]["groupName"] == mine["name"]
    assert alice.call("GET", "/api/exportable-conversations?limit=0").json()["error"]["code"] == "invalid_limit"
    chat = open_chat(base_url=slow.url, phone=True).sign_in(alice.username)
    export_page(chat)
    options = chat.page.locator("#exp-conv-options [role=option]")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Alice plans")
    chat.page.fill("#exp-conv-search", "Bob plans")
    expect(chat.page.locator("#exp-conv-status")).to_contain_text("No conversation or group matches")
    expect(options).to_have_count(0)
    assert elsewhere["id"] not in chat.page.locator("#exp-conv-options").inner_html()
    chat.screenshot("group-admin-phone")


def test_two_ready_exports_name_their_format_and_the_expiry_is_french(slow, open_chat):
    admin, member = person(slow, "alice"), person(slow, "bob")
    _, conv = make_conversation(admin, member, title="Bilan annuel")
    post(admin, conv["id"], "b1", "bonjour")
    chat = open_chat(locale="fr-FR", base_url=slow.url, timezone_id="Europe/Paris").sign_in(admin.username)
    export_page(chat)
    toasts = chat.page.locator("#toasts .toast")
    first = request(chat, conv["id"], "csv", search="bilan")
    expect(row(chat, first).locator(".status-pill")).to_have_text("Prêt", timeout=30_000)
    expect(toasts.filter(has_text="L'export CSV de « Bilan annuel » est prêt.")).to_have_count(1)
    second = request(chat, conv["id"], "json")
    expect(row(chat, second).locator(".status-pill")).to_have_text("Prêt", timeout=30_000)
    expect(toasts.filter(has_text="L'export JSON de « Bilan annuel » est prêt.")).to_have_count(1)
    expires = admin.ok("GET", f"/api/exports/{first}")["expiresAt"]
    file_text = row(chat, first).locator(".exp-row-file").inner_text()
    assert "expire dans 47 heures" in file_text and expires not in file_text, file_text
    assert not re.search(r"\d{4}-\d{2}-\d{2}T|Z\b", file_text), file_text          # never raw ISO
    assert re.search(r"\b(janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)", file_text), file_text
    chat.screenshot("two-toasts-fr")


CATALOGUES = {lang: json.loads((ROOT / "web" / "i18n" / f"{lang}.json").read_text())
              for lang in ("en", "fr", "es", "de")}


def test_the_export_texts_are_in_every_catalogue():
    """Keys built from statuses and error codes (the page's t(`exp.status.${status}`)) exist everywhere."""
    built = [f"exp.status.{s}" for s in ("queued", "running", "done", "failed", "cancelled", "expired")]
    built += [f"exp.error.{c}" for c in ("not_ready", "expired", "forbidden", "invalid_range", "invalid_format",
                                         "invalid_timezone", "invalid_language", "export_failed",
                                         "too_many_attempts", "not_found")]
    built += [f"exp.format.{f}" for f in ("json", "csv", "pdf")]
    built += [f"mod.gate.{r}Title" for r in ("signedOut", "expired", "failed")]
    for lang, catalogue in CATALOGUES.items():
        assert set(built) <= set(catalogue), (lang, set(built) - set(catalogue))
        assert {k for k in CATALOGUES["en"] if k.startswith("exp.")} <= set(catalogue), lang


SHOTS = ROOT / "tests" / "artifacts" / "browser"
