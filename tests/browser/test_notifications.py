"""Notifications, send later and reminders in the page (issue 12, item 6): the bell and its panel, live on
every device; scheduled messages listed, edited, cancelled and delivered once; reminders; each
conversation's level; the browser's Notification only while the tab is hidden."""
from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import person, post
from tests.e2e.harness import ROOT, make_conversation, own_system, wait_until

pytestmark = pytest.mark.browser

# Browser time zone of the person who schedules: far from the machine's (UTC here), so a local time sent
# without its zone, or read in the wrong one, would be hours off and the test would time out.
ZONE = "America/New_York"

# window.Notification that records what the page shows, and a visibility the test sets (headless Chromium
# is always "visible"; a second page in front does not change that reliably).
NOTIFICATION_STUB = """
window.__shown = []; window.__asked = 0; window.__hidden = false;
class RecordingNotification {
  constructor(title, options = {}) { window.__shown.push({title, body: options.body || ""}); }
  close() {}
}
RecordingNotification.permission = "default";
RecordingNotification.requestPermission = async () => {
  window.__asked += 1; RecordingNotification.permission = "granted"; return "granted";
};
window.Notification = RecordingNotification;
Object.defineProperty(Document.prototype, "visibilityState",
  {configurable: true, get() { return window.__hidden ? "hidden" : "visible"; }});
Object.defineProperty(Document.prototype, "hidden", {configurable: true, get() { return window.__hidden; }});
window.__setHidden = (hidden) => { window.__hidden = hidden; document.dispatchEvent(new Event("visibilitychange")); };
"""

# A local date and time N seconds from now in the page's own zone, as a datetime-local input takes it.
LOCAL_IN = """(seconds) => {
  const d = new Date(Date.now() + seconds * 1000), p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}"""


@pytest.fixture(scope="module")
def system():
    """This module's own system: beat asks for due scheduled messages and reminders every 0.3 s."""
    with own_system(DISPATCH_EVERY_SECONDS="0.3") as s:
        yield s


def bell(chat):
    return chat.page.locator("#bell-count")


def notifications(api, status="all") -> list[dict]:
    return api.ok("GET", f"/api/notifications?status={status}&limit=100")["notifications"]


def read_the_welcome(api) -> None:
    """Being added to the group left the user an 'added' notification (from the worker): wait for it, read it."""
    wait_until(lambda: any(n["type"] == "added" for n in notifications(api)), what="the 'added' notification")
    api.ok("POST", "/api/notifications/read", json={"all": True})


def test_a_mention_rings_every_device_and_opens_at_the_message(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    group, conv = make_conversation(bob, alice, title="plans")
    alice.ok("POST", f"/api/groups/{group['id']}/conversations", json={"title": "elsewhere", "members": [bob.username]})
    laptop = open_chat().sign_in(alice.username).open_conversation("elsewhere")
    phone = open_chat(phone=True).sign_in(alice.username)
    wait_until(lambda: any(n["type"] == "added" for n in notifications(alice)), what="the 'added' notification")
    expect(bell(laptop)).to_have_text("1")   # bob added alice to the group
    expect(bell(phone)).to_have_text("1")
    alice.ok("POST", "/api/notifications/read", json={"all": True})
    expect(bell(laptop)).to_be_hidden()
    expect(bell(phone)).to_be_hidden()

    mention = f"@{alice.username} can you check the plan?"
    post(bob, conv["id"], "p0", mention)
    for i in range(1, 71):   # the mention ends up above the newest page: opening it loads history around it
        post(bob, conv["id"], f"p{i}", f"filler {i}")
    expect(bell(laptop)).to_have_text("1")   # live, while alice looks at another conversation
    expect(bell(phone)).to_have_text("1")
    wait_until(lambda: notifications(alice)[0]["status"] == "delivered", what="the page acknowledged delivery")

    laptop.page.click("#bell")
    item = laptop.page.locator("#notif-list li.notif.unread")
    expect(item).to_have_count(1)
    expect(item).to_contain_text(f"{bob.username} mentioned you in #plans")
    expect(item).to_contain_text("can you check the plan?")
    laptop.screenshot("panel")
    item.locator("button").click()
    expect(laptop.page.locator("#notif-panel")).to_be_hidden()
    expect(laptop.page.locator("#conv-title")).to_have_text("plans")
    target = laptop.message(mention)
    expect(target).to_be_in_viewport()
    expect(target).to_have_class(has_class("target"))
    laptop.screenshot("opened-at-message")
    expect(bell(laptop)).to_be_hidden()
    expect(bell(phone)).to_be_hidden()   # notification:read keeps the other device in step
    assert alice.ok("GET", "/api/notifications?status=unread")["unread"] == 0

    phone.page.click("#bell")   # the phone's panel follows too: read, not marked
    expect(phone.page.locator("#notif-list li.notif").first).not_to_have_class(has_class("unread"))
    phone.page.emulate_media(color_scheme="dark")
    phone.screenshot("panel-phone-dark")


def test_what_is_typed_as_soon_as_the_send_later_dialog_closes_is_kept(system, open_chat):
    """The composer is emptied when the scheduled message is made, not when the dialog's close event comes
    (a task later): text typed in between is the next message, and must stay."""
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="typed after")
    page = open_chat(timezone_id=ZONE).sign_in(alice.username).open_conversation("typed after").page
    page.fill("#input", "in an hour")
    page.click("#send-later")
    page.fill("#field-sendAt", page.evaluate(LOCAL_IN, 3600))
    # The moment the dialog closes (its `open` attribute goes: before its close event is fired), the person
    # has already typed the next message.
    page.evaluate("""() => new MutationObserver((changes, observer) => {
      if (!document.querySelector("#dialog").open) {
        observer.disconnect();
        document.querySelector("#input").value = "the next message";
      }
    }).observe(document.querySelector("#dialog"), {attributes: true, attributeFilter: ["open"]})""")
    page.locator("#dialog button[type=submit]").click()
    expect(page.locator("#scheduled-strip")).to_have_text("1 scheduled message")
    expect(page.locator("#input")).to_have_value("the next message")


def test_send_later_is_listed_then_delivered_once_and_can_be_edited_or_cancelled(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="later")
    a = open_chat(timezone_id=ZONE).sign_in(alice.username).open_conversation("later")
    b = open_chat().sign_in(bob.username).open_conversation("later")
    page = a.page

    page.fill("#input", "see you at the meeting")
    page.click("#send-later")
    dialog = page.locator("#dialog")
    expect(dialog).to_contain_text(ZONE)
    page.fill("#field-sendAt", page.evaluate(LOCAL_IN, -60))   # a minute ago: the server's reason is shown
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".form-error")).to_contain_text("this time cannot be used (sendAt is in the past)")
    page.fill("#field-sendAt", page.evaluate(LOCAL_IN, 5))
    a.screenshot("send-later-dialog")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#input")).to_have_value("")
    strip = page.locator("#scheduled-strip")
    expect(strip).to_have_text("1 scheduled message")
    strip.click()
    listed = page.locator("#scheduled-list li.scheduled-item")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("see you at the meeting")
    a.screenshot("scheduled-list")
    expect(b.message("see you at the meeting")).to_be_visible(timeout=15_000)   # at its time, to the other member
    expect(strip).to_be_hidden()          # sent: it leaves the list
    expect(listed).to_have_count(0)

    # Two more, an hour ahead: one edited to go in a few seconds with other words, one cancelled.
    for text in ("draft to edit", "draft to cancel"):
        page.fill("#input", text)
        page.click("#send-later")
        page.fill("#field-sendAt", page.evaluate(LOCAL_IN, 3600))
        dialog.locator("button[type=submit]").click()
        expect(dialog).to_be_hidden()
    expect(page.locator("#scheduled")).to_be_visible()   # the list stayed open
    expect(strip).to_have_text("2 scheduled messages")
    expect(listed).to_have_count(2)
    listed.filter(has_text="draft to edit").locator("[data-action=edit]").click()
    page.fill("#field-content", "edited before it left")
    page.fill("#field-sendAt", page.evaluate(LOCAL_IN, 4))
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    expect(listed.filter(has_text="edited before it left")).to_have_count(1)
    listed.filter(has_text="draft to cancel").locator("[data-action=cancel]").click()
    dialog.locator("button[type=submit]").click()
    expect(listed).to_have_count(1)
    expect(b.message("edited before it left")).to_be_visible(timeout=15_000)
    expect(listed).to_have_count(0)
    time.sleep(1.5)   # a second delivery, or the cancelled one, would have come by now
    texts = [m["content"] for m in bob.chat(conv["id"])]
    assert texts == ["see you at the meeting", "edited before it left"]
    assert b.texts() == texts
    items = alice.ok("GET", f"/api/conversations/{conv['id']}/scheduled-messages")["scheduledMessages"]
    assert sorted(i["status"] for i in items) == ["cancelled", "sent", "sent"]


def test_remind_me_brings_a_reminder_at_the_time(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(bob, alice, title="remind")
    post(bob, conv["id"], "r1", "the report is due friday")
    post(bob, conv["id"], "r2", "and the slides")
    read_the_welcome(alice)
    a = open_chat(timezone_id=ZONE).sign_in(alice.username).open_conversation("remind")
    expect(bell(a)).to_be_hidden()
    page = a.page

    a.act("and the slides", "remind")   # a preset: in 20 minutes
    page.locator("#dialog [data-preset=in20]").click()
    expect(page.locator("#dialog")).to_be_hidden()
    [later] = notifications(alice, "scheduled")
    assert abs(time.time() + 1200 - _epoch(later["scheduledFor"])) < 30

    a.act("the report is due friday", "remind")   # custom: a few seconds ahead, in the browser's zone
    expect(page.locator("#dialog .preset")).to_have_count(3)
    a.screenshot("remind-dialog")
    page.fill("#remind-at", page.evaluate(LOCAL_IN, 3))
    page.locator("#dialog button[type=submit]").click()
    expect(page.locator("#dialog")).to_be_hidden()
    expect(bell(a)).to_have_text("1", timeout=15_000)
    page.click("#bell")
    item = page.locator("#notif-list li.notif[data-type=reminder]")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Reminder: a message in #remind")
    expect(item).to_contain_text("the report is due friday")
    time.sleep(1)
    assert [n["type"] for n in notifications(alice, "unread")] == ["reminder"]   # once
    assert len(notifications(alice, "scheduled")) == 1   # the 20-minute one still waits


def test_a_conversation_set_to_nothing_notifies_nothing(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    group, quiet = make_conversation(bob, alice, title="quiet")
    loud = bob.ok("POST", f"/api/groups/{group['id']}/conversations", json={"title": "loud", "members": [alice.username]})
    read_the_welcome(alice)
    a = open_chat().sign_in(alice.username).open_conversation("quiet")
    page = a.page
    page.click("#notify-level")
    page.select_option("#field-level", "none")
    a.screenshot("conversation-level")
    page.locator("#dialog button[type=submit]").click()
    expect(page.locator("#dialog")).to_be_hidden()
    expect(page.locator("#notify-level")).to_have_attribute("data-level", "none")
    assert alice.ok("GET", "/api/me/notification-settings")["conversations"] == {quiet["id"]: "none"}
    a.open_conversation("loud")
    expect(page.locator("#notify-level")).to_have_attribute("data-level", "all")
    expect(bell(a)).to_be_hidden()

    post(bob, quiet["id"], "q1", f"@{alice.username} nobody hears this")
    post(bob, loud["id"], "l1", f"@{alice.username} but this one rings")
    expect(bell(a)).to_have_text("1")
    time.sleep(1.5)   # the quiet one, had it been stored, would be here too
    expect(bell(a)).to_have_text("1")
    assert [n["data"]["convId"] for n in notifications(alice) if n["type"] == "mention"] == [loud["id"]]

    phone = open_chat(phone=True).sign_in(alice.username).open_conversation("quiet")   # the same on a phone
    phone.page.emulate_media(color_scheme="dark")
    expect(phone.page.locator("#notify-level")).to_have_attribute("data-level", "none")
    phone.page.fill("#input", "later, on a phone")
    phone.screenshot("conversation-phone-dark")


def test_the_browser_notification_shows_only_while_the_page_is_hidden(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(bob, alice, title="ping")
    wait_until(lambda: notifications(alice), what="the 'added' notification")
    a = open_chat(init_script=NOTIFICATION_STUB).sign_in(alice.username)
    page = a.page
    assert page.evaluate("window.__asked") == 0   # never asked at load
    page.click("#bell")
    page.click("#notif-settings")
    dialog = page.locator("#dialog")
    expect(dialog.locator(".browser-status")).to_have_text("Off.")
    page.click("#browser-enable")
    expect(dialog.locator(".browser-status")).to_have_text("On.")
    assert page.evaluate("window.__asked") == 1
    a.screenshot("settings")
    dialog.locator("button", has_text="Cancel").click()

    post(bob, conv["id"], "v1", f"@{alice.username} while you look")
    expect(bell(a)).to_have_text("2")   # the 'added' one and this one
    page.wait_for_timeout(300)
    assert page.evaluate("window.__shown") == []   # visible: the bell only

    page.evaluate("window.__setHidden(true)")
    post(bob, conv["id"], "v2", f"@{alice.username} while you are away")
    expect(bell(a)).to_have_text("3")
    wait_until(lambda: page.evaluate("window.__shown.length") == 1, what="one browser notification")
    [shown] = page.evaluate("window.__shown")
    assert shown == {"title": f"{bob.username} mentioned you in #ping", "body": f"@{alice.username} while you are away"}

    page.evaluate("window.__setHidden(false)")
    post(bob, conv["id"], "v3", f"@{alice.username} back again")
    expect(bell(a)).to_have_text("4")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__shown.length") == 1


def test_email_settings_are_saved(system, open_chat):
    alice = person(system, "alice")
    a = open_chat(locale="fr-FR").sign_in(alice.username)
    page = a.page
    page.click("#bell")
    expect(page.locator("#notif-panel h3")).to_have_text("Notifications")
    page.click("#notif-settings")
    page.check("#field-email")
    page.fill("#field-delay", "5000")
    page.locator("#dialog button[type=submit]").click()
    expect(page.locator("#dialog .form-error")).to_have_text("indiquez une adresse pour recevoir des e-mails")
    page.fill("#field-address", "alice@example.test")
    page.locator("#dialog button[type=submit]").click()
    expect(page.locator("#dialog .form-error")).to_have_text("le délai doit être de 0 à 1440 minutes")
    page.fill("#field-delay", "15")
    a.screenshot("settings-fr")
    page.locator("#dialog button[type=submit]").click()
    expect(page.locator("#dialog")).to_be_hidden()
    settings = alice.ok("GET", "/api/me/notification-settings")
    assert (settings["email"], settings["emailDelayMinutes"]) == (True, 15)
    assert alice.ok("GET", "/api/me")["email"] == "alice@example.test"


CATALOGUES = {lang: json.loads((ROOT / "web" / "i18n" / f"{lang}.json").read_text()) for lang in ("en", "fr", "es", "de")}


@pytest.mark.parametrize("lang", sorted(CATALOGUES))
def test_the_notification_texts_are_in_every_catalogue(lang):
    """The keys the page builds from values (levels, email outcomes, failure codes), in all four languages."""
    built = [f"notif.level.{level}" for level in ("all", "mentions", "none")]
    built += [f"notif.lastEmail.{s}" for s in ("sent", "skipped", "failed")]
    built += [f"error.{code}" for code in ("not_a_member", "muted", "banned", "forbidden", "not_found", "scheduled_late",
                                           "invalid_time", "invalid_time_zone", "invalid_state", "invalid_settings")]
    missing = [key for key in built if key not in CATALOGUES[lang]]
    assert missing == []


def has_class(name: str) -> re.Pattern:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def _epoch(iso: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
