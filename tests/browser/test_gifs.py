"""The GIF picker and GIF messages in the browser (contract v3): offline, the group's own library (an animated
GIF a member uploaded, found by a caption word, sent, animating; the still under reduced motion); with a provider,
the local Giphy server of tests/gif_provider.py (trending first, search as you type, previews only from this
server, the attribution, a failure shown as an error with Retry); keyboard only, on a phone; no button where a
group has nothing to show."""
from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import person
from tests.browser.test_accessibility import assert_no_serious
from tests.browser.test_media import upload_via_api
from tests.e2e.harness import make_conversation, own_system, wait_until
from tests.gif_provider import gif_provider, gif_provider_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
PHONE_390 = {"width": 390, "height": 844}


def dancing_gif(frames: int = 6) -> bytes:
    """An animated GIF whose frames differ in colour (every 120 ms), so two screenshots apart differ."""
    colours = [(230, 40, 40), (40, 200, 60), (40, 60, 230), (230, 200, 30), (160, 40, 200), (30, 200, 200)]
    images = [Image.new("RGB", (160, 120), colours[i % len(colours)]) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=120, loop=0)
    return out.getvalue()


def library_group(system, title: str):
    """alice and bob in a conversation; alice uploaded an animated GIF captioned with a #tag. Returns (alice,
    bob, conv, mediaId) once the library finds it by a caption word."""
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title=title)
    media_id = upload_via_api(alice, conv["id"], "office-dance.gif", dancing_gif(), "image/gif")
    alice.ok("PATCH", f"/api/media/{media_id}", json={"caption": "Friday #celebration in the office"})
    wait_until(lambda: alice.ok("GET", f"/api/gifs/search?q=celebration&convId={conv['id']}&limit=5")["gifs"], 20,
               what="the uploaded GIF in the group's library")
    return alice, bob, conv, media_id


def open_picker(chat: ChatPage):
    page = chat.page
    button = page.locator("#gif-button")
    expect(button).to_be_visible(timeout=15_000)
    button.click()
    picker = page.locator("#gif-picker")
    expect(picker).to_be_visible()
    expect(page.locator("#gif-search")).to_be_focused()
    return picker


def gif_message(chat: ChatPage):
    return chat.page.locator("#messages li.msg .gif-message").last


def screenshots_differ(locator, tries: int = 6, pause: float = 0.15) -> bool:
    """Whether what the element shows changes over about a second (an animation runs)."""
    first = locator.screenshot()
    for _ in range(tries):
        time.sleep(pause)
        if locator.screenshot() != first:
            return True
    return False


def wait_gif_ready(chat: ChatPage):
    message = gif_message(chat)
    expect(message).to_have_attribute("data-status", "ready", timeout=30_000)
    box = message.locator(".gif-box")
    wait_until(lambda: "loaded" in (box.get_attribute("class") or ""), 15, what="the GIF drawn")
    return message, box


def test_offline_the_groups_gif_is_found_by_its_caption_sent_and_animates(system, open_chat):
    alice, bob, conv, media_id = library_group(system, "library gifs")
    b = open_chat().sign_in(bob.username).open_conversation("library gifs")
    page = b.page
    picker = open_picker(b)
    expect(picker.locator("#gif-credit")).to_have_text("Your group's GIFs")
    expect(picker.locator(".gif-option").first).to_be_visible()          # trending: the group's newest GIFs
    page.fill("#gif-search", "celebr")                                     # a word's beginning is no word
    page.fill("#gif-search", "celebration")
    option = picker.locator(".gif-option[aria-selected=true]")
    expect(option).to_have_count(1)
    expect(option).to_have_attribute("data-id", f"library:{media_id}")
    expect(picker.locator("#gif-status")).to_contain_text("1 GIF found")
    preview = option.locator("img")
    wait_until(lambda: preview.evaluate("img => img.complete && img.naturalWidth > 0"), 10, what="the preview")
    # this server's preview (shown from an object URL), or the thumbnail's presigned URL on S3
    assert preview.get_attribute("src").startswith(("blob:", "http://127.0.0.1:", "http://localhost:"))
    b.screenshot("picker-library")
    page.keyboard.press("Enter")
    expect(picker).to_be_hidden()
    message, box = wait_gif_ready(b)
    img = box.locator("img")
    assert img.get_attribute("alt")                                       # named by the GIF's title
    expect(img).to_have_attribute("data-variant", "original")             # the file itself, not its still
    assert screenshots_differ(box), "the GIF does not animate"
    sent = wait_until(lambda: [m for m in bob.chat(conv["id"]) if m["metadata"].get("files")
                               and m["metadata"]["files"][0].get("gif")], 10, what="the stored GIF message")[0]
    file = sent["metadata"]["files"][0]
    assert file["gif"]["provider"] == "library" and file["mediaId"] != media_id   # a copy, not the upload
    b.screenshot("gif-message")

    # Someone who asked for less motion: the still, until they press play.
    a = open_chat().sign_in(alice.username)
    a.page.emulate_media(reduced_motion="reduce")
    a.open_conversation("library gifs")
    _, still_box = wait_gif_ready(a)
    expect(still_box.locator("img")).to_have_attribute("data-variant", "small")
    assert not screenshots_differ(still_box), "the GIF moves under reduced motion"
    toggle = still_box.locator(".gif-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(still_box.locator("img")).to_have_attribute("data-variant", "original")
    assert screenshots_differ(still_box), "play does not animate the GIF"
    a.screenshot("gif-reduced-motion-played")


def test_keyboard_only_on_a_phone_and_escape_gives_the_focus_back(system, open_chat):
    alice, bob, conv, media_id = library_group(system, "keys gifs")
    b = open_chat(phone=True).sign_in(bob.username)
    b.page.set_viewport_size(PHONE_390)
    b.open_conversation("keys gifs")
    page = b.page
    expect(page.locator("#gif-button")).to_be_visible(timeout=15_000)
    page.focus("#input")
    for _ in range(6):                                                    # Tab from the input to the GIF button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "gif-button":
            break
    assert page.evaluate("document.activeElement.id") == "gif-button"
    page.keyboard.press("Enter")
    picker = page.locator("#gif-picker")
    expect(picker).to_be_visible()
    expect(page.locator("#gif-search")).to_be_focused()
    box = picker.bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
    page.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(page.locator("#gif-button")).to_be_focused()
    expect(page.locator("#gif-button")).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Enter")
    expect(picker).to_be_visible()
    expect(picker.locator(".gif-option").first).to_be_visible()
    page.keyboard.press("ArrowDown")                                      # into the grid
    expect(picker.locator(".gif-option.active")).to_have_count(1)
    active = page.locator("#gif-search").get_attribute("aria-activedescendant")
    assert active == picker.locator(".gif-option.active").get_attribute("id")
    b.screenshot("picker-phone")
    assert_no_serious(page, "the GIF picker on a phone")
    page.keyboard.press("Enter")
    expect(picker).to_be_hidden()
    wait_gif_ready(b)
    b.screenshot("gif-message-phone")


def test_no_gif_button_where_the_group_has_nothing_to_show(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="no gifs here")
    b = open_chat().sign_in(bob.username)
    with b.page.expect_response(lambda r: "/api/gifs/trending" in r.url) as answer:
        b.open_conversation("no gifs here")
    trending = answer.value.json()
    assert (trending["provider"], trending["gifs"]) == ("library", [])
    b.page.wait_for_timeout(200)
    expect(b.page.locator("#gif-button")).to_be_hidden()


@pytest.fixture
def giphy_system(gif_provider):  # noqa: F811  (the fixture of tests/gif_provider.py)
    with own_system(**gif_provider.env("giphy")) as s:
        yield s, gif_provider


def test_the_providers_gifs_come_through_this_server_and_its_failure_shows_an_error(giphy_system, open_chat):
    system, provider = giphy_system
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="giphy")
    b = open_chat(base_url=system.url).sign_in(bob.username).open_conversation("giphy")
    page: Page = b.page
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    picker = open_picker(b)
    expect(picker.locator("#gif-credit")).to_have_text("Powered by GIPHY")
    options = picker.locator(".gif-option")
    expect(options.first).to_be_visible()
    trending_titles = options.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert "happy cat dancing" in trending_titles and "wild party night" not in trending_titles   # rated g
    # Each preview is this server's (fetched with the token, shown from an object URL), never the provider's.
    for preview, src in options.locator("img").evaluate_all("els => els.map(e => [e.dataset.preview, e.src])"):
        assert preview.startswith("/api/gifs/preview/"), preview
        assert src == "" or src.startswith("blob:"), src
    wait_until(lambda: options.first.locator("img").evaluate("img => img.complete && img.naturalWidth > 0"), 10,
               what="a preview through the server")
    assert_no_serious(page, "the GIF picker with a provider")
    b.screenshot("picker-giphy")

    page.fill("#gif-search", "cat")
    expect(picker.locator("#gif-status")).to_contain_text("2 GIFs found")
    expect(options).to_have_count(2)
    page.keyboard.press("ArrowRight")
    expect(picker.locator(".gif-option.active")).to_have_attribute("aria-label", "sad cat in the rain")
    page.keyboard.press("ArrowLeft")
    expect(picker.locator(".gif-option.active")).to_have_attribute("aria-label", "happy cat dancing")

    provider.fail("error")
    page.fill("#gif-search", "thumbs")
    expect(picker.locator("#gif-status")).to_contain_text("the GIF service is not answering")
    expect(options).to_have_count(0)
    assert_no_serious(page, "the GIF picker's error")
    b.screenshot("picker-provider-down")
    provider.reset()
    picker.get_by_role("button", name="Retry").click()
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("aria-label", "thumbs up great job")
    page.fill("#gif-search", "party")                                    # party dog is pg, wild party r: over g
    expect(picker.locator("#gif-status")).to_contain_text("No GIF found for “party”")
    page.fill("#gif-search", "happy")
    expect(options).to_have_count(1)
    page.keyboard.press("Enter")
    message, _ = wait_gif_ready(b)
    expect(message).to_have_attribute("data-provider", "giphy")
    expect(message.locator(".gif-via")).to_have_text("via GIPHY")
    b.screenshot("gif-message-giphy")

    # A GIF whose file is not what the provider said: the copy is refused, and the message says so.
    page.click("#gif-button")
    page.fill("#gif-search", "liar")
    expect(options).to_have_count(1)
    page.keyboard.press("Enter")
    refused = page.locator("#messages li.msg .file-card.gone").last
    expect(refused).to_contain_text("could not be used", timeout=30_000)
    assert not [u for u in asked if f":{provider.port}/" in u], "the browser contacted the provider"
