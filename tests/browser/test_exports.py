"""The admins' export page (/exports): a CSV export requested from the page, its progress bar moved by
export:progress up to 100 %, the file downloaded holding every message in order; a PDF downloaded; a
member refused with no data; a running export cancelled; every text in the four catalogues."""
from __future__ import annotations

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import person, post
from tests.e2e.harness import ROOT, make_conversation, own_system, wait_until

pytestmark = pytest.mark.browser

# The worker reports progress at most once a second: an export must last a few seconds for the page to
# see export:progress before export:ready. Windows of 10 messages (the smallest the server takes) and
# 6,000 messages do that here (2-4 s for a CSV); fewer would finish before the first beat.
BIG = 6000


@pytest.fixture(scope="module")
def slow():
    with own_system(EXPORT_BATCH="10") as system:
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


def export_page(chat: ChatPage) -> ChatPage:
    """From the chat page, the way an admin gets there: the Exports link (same tab, same session)."""
    chat.page.click("#exports-link")
    expect(chat.page.locator("#exp")).to_be_visible()
    expect(chat.page.locator("#live")).to_have_attribute("data-mode", "live")   # in user:{id}
    return chat


def request(chat: ChatPage, conv_id: str, fmt: str) -> str:
    page = chat.page
    page.select_option("#exp-conv", conv_id)
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


def test_a_member_who_is_not_an_admin_is_refused_and_sees_no_data(slow, big, open_chat):
    admin, member, group, conv, _ = big
    admin_exports = admin.ok("GET", "/api/exports")["exports"]
    chat = open_chat(locale="fr-FR", base_url=slow.url).sign_in(member.username)
    expect(chat.page.locator("#conv-list")).to_contain_text("Quarterly review")
    expect(chat.page.locator("#exports-link")).to_be_hidden()        # no link for a plain member
    chat.page.goto("/exports")
    expect(chat.page.locator("#exp")).to_be_visible()
    expect(chat.page.locator("#not-admin")).to_contain_text("Vous n'administrez aucun groupe")
    expect(chat.page.locator("#exp-empty")).to_have_text("Aucun export pour l'instant.")
    chat.page.select_option("#exp-conv", conv["id"])
    with chat.page.expect_response(lambda r: r.url.endswith("/exports") and r.request.method == "POST") as answer:
        chat.page.click("#exp-submit")
    assert answer.value.status == 403
    refusal = chat.page.locator("#exp-refusal")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("Export refusé")
    expect(refusal).to_contain_text(f"Seuls les administrateurs de {group['name']}")
    expect(chat.page.locator("#exp-list li")).to_have_count(0)       # nothing made, nothing shown
    for e in admin_exports:                                          # and none of the admin's exports
        expect(chat.page.locator(f'li[data-id="{e["id"]}"]')).to_have_count(0)
    assert member.ok("GET", "/api/exports")["exports"] == []
    chat.screenshot("refused")

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
