"""Files, images and voice messages in the page (issue 10, the front): bytes go from the browser straight
to S3 (moto, started by `python -m app`) with presigned URLs; the page resumes an interrupted upload, shows
thumbnails in a box reserved before they arrive, a lightbox, a gallery, and records voice messages."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from pathlib import Path

import pytest
import requests
from PIL import ExifTags, Image
from playwright.sync_api import expect

from tests.browser.conftest import person, post
from tests.e2e.harness import ROOT, make_conversation, wait_until

pytestmark = pytest.mark.browser
PART = 8 << 20   # the server's part size (its minimum): a 17 MiB file is 3 parts


def jpeg_with_gps(path: Path, size=(1600, 1200)) -> Path:
    """A real JPEG (a gradient, so it is not trivially small) with EXIF orientation 6 and a GPS position."""
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "TestCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update({ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
                ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (2.0, 21.0, 3.0)})
    img.save(path, "JPEG", quality=90, exif=exif)
    assert ExifTags.IFD.GPSInfo in Image.open(path).getexif()   # the test file really carries GPS
    return path


def download(api, media_id: str, variant: str = "original") -> bytes:
    r = api.call("GET", f"/api/media/{media_id}/content?variant={variant}", allow_redirects=False)
    assert r.status_code == 302, (r.status_code, r.text)
    s3 = requests.get(r.headers["Location"], timeout=30)
    assert s3.status_code == 200
    return s3.content


def stored_files(api, conv_id: str) -> list[dict]:
    return [f for m in api.chat(conv_id) for f in m.get("metadata", {}).get("files", [])]


def uploads_in_page(page) -> list[dict]:
    """What the page keeps of its uploads for a reload (sessionStorage)."""
    return page.evaluate("""() => Object.keys(sessionStorage).filter(k => k.startsWith('chat.uploads.'))
        .flatMap(k => JSON.parse(sessionStorage.getItem(k)))""")


def part_number(url: str) -> int:
    return int(re.search(r"[?&]partNumber=(\d+)", url).group(1))


def is_part_put(request) -> bool:
    return request.method == "PUT" and "partNumber=" in request.url


def break_parts(page, blocked: dict, puts: list) -> None:
    """While blocked["on"], parts >= 2 point at a closed port (the network drops on the way to S3); every PUT
    of a part the browser makes to S3 is counted in puts. (The part-urls answer is rewritten rather than the
    PUTs intercepted: Playwright's interception of 8 MiB request bodies is too slow to test with.)"""
    def rewrite(route, request):
        answer = requests.post(request.url, data=request.post_data, timeout=10,
                               headers={k: v for k, v in request.headers.items() if k in ("authorization", "content-type")})
        if answer.status_code != 200:
            return route.fulfill(status=answer.status_code, body=answer.content, content_type="application/json")
        urls = answer.json()["urls"]
        if blocked["on"]:
            urls = {n: (re.sub(r"^http://[^/]+", "http://127.0.0.1:9", u) if int(n) >= 2 else u) for n, u in urls.items()}
        route.fulfill(status=200, json={"urls": urls})

    page.route(re.compile(r"/api/uploads/[^/]+/part-urls$"), rewrite)
    page.on("request", lambda r: is_part_put(r) and "127.0.0.1:9/" not in r.url and puts.append(part_number(r.url)))


def box(locator) -> dict:
    """The element's box. A message re-rendered (its file's state changed) between Playwright finding the
    element and measuring it leaves a detached element, which measures 0 by 0: it is measured again."""
    for _ in range(50):
        found = locator.evaluate("e => { const r = e.getBoundingClientRect();"
                                 " return {connected: e.isConnected, top: r.top, height: r.height, width: r.width}; }")
        if found.pop("connected"):
            return found
        time.sleep(0.05)
    raise AssertionError("the element was replaced again and again while being measured")


# -- (a) an image: reserved box, thumbnail without a jump, lightbox, no GPS in the original ----------------------
def test_an_image_arrives_in_a_reserved_box_opens_in_the_lightbox_and_has_no_gps(system, open_chat, tmp_path):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="photos")
    post(bob, conv["id"], "b-before", "Send me the picture of the bridge?")
    a = open_chat().sign_in(alice.username).open_conversation("photos")
    b = open_chat().sign_in(bob.username).open_conversation("photos")
    before = b.message("Send me the picture of the bridge?")
    expect(before).to_be_visible()

    a.page.set_input_files("#file-input", str(jpeg_with_gps(tmp_path / "bridge.jpg")))
    chip = a.page.locator("#tray .chip")
    expect(chip).to_be_visible()
    expect(chip).to_contain_text("bridge.jpg")
    expect(chip.locator(".chip-preview")).to_be_visible()       # a local preview while it uploads
    expect(chip).to_have_attribute("data-state", re.compile("processing|ready"), timeout=20_000)
    a.screenshot("tray")
    a.page.fill("#input", "The bridge")
    a.page.press("#input", "Enter")
    expect(a.page.locator("#tray")).to_be_hidden()

    # Bob: the message at once, its box already at its final height; then the thumbnail, nothing moving.
    message = b.page.locator("#messages li.msg.has-files")
    thumb = message.locator(".thumb")
    expect(thumb).to_be_visible(timeout=15_000)
    first_box, first_before = box(thumb), box(before)
    assert first_box["height"] == 240
    expect(thumb).to_have_class(re.compile(r"\bloaded\b"), timeout=20_000)
    img = thumb.locator("img")
    wait_until(lambda: img.evaluate("i => i.complete && i.naturalWidth") > 0, 10, what="the thumbnail decoded")
    natural = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert natural[0] < natural[1], natural          # EXIF orientation 6 applied: a portrait thumbnail
    assert box(thumb)["height"] == first_box["height"]
    assert box(before)["top"] == first_before["top"], "the list moved when the thumbnail arrived"
    expect(message.locator(".text")).to_have_text("The bridge")
    b.screenshot("image-message")

    # The lightbox: the large rendition, Esc closes it.
    thumb.click()
    lightbox = b.page.locator("#lightbox")
    expect(lightbox).to_be_visible()
    expect(lightbox).to_contain_text("bridge.jpg")
    large = lightbox.locator(".lb-image")
    wait_until(lambda: large.evaluate("i => i.complete && i.naturalWidth") > 0, 10, what="the large image")
    b.screenshot("lightbox")
    b.page.keyboard.press("Escape")
    expect(lightbox).to_be_hidden()

    # The original others download carries no GPS (read back with Pillow).
    media_id = thumb.get_attribute("data-media-id")
    original = Image.open(io.BytesIO(download(bob, media_id)))
    assert original.size == (1600, 1200) and ExifTags.IFD.GPSInfo not in original.getexif()
    small = Image.open(io.BytesIO(download(bob, media_id, "small")))
    assert ExifTags.IFD.GPSInfo not in small.getexif() and max(small.size) <= 320

    # On a phone, in the dark: the same message reads well.
    phone = open_chat(phone=True)
    phone.page.emulate_media(color_scheme="dark")
    phone.sign_in(bob.username).open_conversation("photos")
    expect(phone.page.locator("#messages .thumb.loaded")).to_be_visible(timeout=15_000)
    phone.screenshot("image-phone-dark")


# -- (b) a resumed upload: only the missing parts go, the stored file is the same -----------------------------
def test_an_interrupted_upload_resumes_after_a_reload_with_only_the_missing_parts(system, open_chat, tmp_path):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="big file")
    data = os.urandom(17 << 19).hex().encode()         # 17 MiB of text: 3 parts of 8 MiB
    path = tmp_path / "measurements.txt"
    path.write_bytes(data)
    a = open_chat().sign_in(alice.username).open_conversation("big file")
    page = a.page

    puts: list[int] = []
    blocked = {"on": True}
    break_parts(page, blocked, puts)
    page.set_input_files("#file-input", str(path))
    chip = page.locator("#tray .chip")
    wait_until(lambda: uploads_in_page(page), 10, what="the upload to be created")
    upload_id = uploads_in_page(page)[0]["id"]
    wait_until(lambda: alice.ok("GET", f"/api/uploads/{upload_id}")["uploadedParts"] == [1], 30,
               what="part 1 in S3")
    expect(chip).to_have_attribute("data-state", "waiting")   # parts 2 and 3 failed: it says it will retry
    a.screenshot("upload-waiting")

    # A reload: the File is gone; the page offers to resume with the same file.
    blocked["on"] = False
    page.reload()
    a.wait_loaded()
    expect(chip).to_have_attribute("data-state", "paused")
    expect(chip).to_contain_text("measurements.txt")
    a.screenshot("upload-paused")
    puts.clear()
    page.set_input_files("#file-input", str(path))
    expect(chip).to_have_attribute("data-state", re.compile("processing|ready"), timeout=60_000)
    assert sorted(puts) == [2, 3], puts               # only what S3 lacked
    page.press("#input", "Enter")

    card = page.locator("#messages li.msg .file-card", has_text="measurements.txt")
    expect(card.locator(".file-download")).to_be_visible(timeout=20_000)
    a.screenshot("file-card")
    files = stored_files(bob, conv["id"])
    assert [f["mediaId"] for f in files] == [upload_id]
    assert hashlib.sha256(download(bob, upload_id)).hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_dropped_connection_resumes_by_itself_without_sending_a_part_twice(system, open_chat, tmp_path):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="flaky")
    data = os.urandom(17 << 19).hex().encode()
    path = tmp_path / "log.txt"
    path.write_bytes(data)
    a = open_chat().sign_in(alice.username).open_conversation("flaky")
    puts: list[int] = []
    blocked = {"on": True}
    break_parts(a.page, blocked, puts)
    a.page.set_input_files("#file-input", str(path))
    a.page.fill("#input", "the log")
    a.page.press("#input", "Enter")                   # sent before the file is up: the echo waits for it
    echo = a.echoes()
    expect(echo).to_contain_text("log.txt")
    # (each probe is a Playwright call, which also lets the request events in)
    wait_until(lambda: a.page.locator("#outbox .chip[data-state=waiting]").count() and 1 in puts, 30, 0.25,
               what="the first failures")
    blocked["on"] = False                             # the network is back: it goes on by itself
    expect(a.message("the log").locator(".file-download")).to_be_visible(timeout=60_000)
    assert puts.count(1) == 1, puts                   # part 1 was never sent again
    assert hashlib.sha256(download(bob, stored_files(bob, conv["id"])[0]["mediaId"])).hexdigest() == \
        hashlib.sha256(data).hexdigest()


# -- (c) a voice message -----------------------------------------------------------------------------------------
def test_a_voice_message_is_recorded_sent_and_played_with_its_duration(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="voice")
    a = open_chat().sign_in(alice.username).open_conversation("voice")
    b = open_chat(locale="fr-FR").sign_in(bob.username).open_conversation("voice")
    a.page.click("#record")
    expect(a.page.locator("#recorder")).to_be_visible()
    time.sleep(2.2)
    expect(a.page.locator("#rec-time")).to_have_text(re.compile(r"0:0[2-3]"))
    a.screenshot("recording")
    a.page.click("#rec-send")
    expect(a.page.locator("#recorder")).to_be_hidden()

    player = b.page.locator("#messages .audio-player[data-status=ready]")
    expect(player).to_be_visible(timeout=30_000)
    duration = float(player.get_attribute("data-duration"))
    assert 1.5 <= duration <= 3.2, duration
    expect(player.locator(".audio-time")).to_have_text(re.compile(r"0:0[2-3]"))
    expect(player).to_contain_text("Message vocal")
    (f,) = stored_files(bob, conv["id"])
    assert f["fileType"] == "audio" and f["mimeType"] in ("audio/webm", "audio/ogg") and f["filename"].startswith("voice-")
    player.locator(".audio-play").click()               # it plays (the presigned URL loads in <audio>)
    expect(player).to_have_class(re.compile(r"\bplaying\b"))
    b.screenshot("voice-message")


# -- (d) cancel ---------------------------------------------------------------------------------------------------
def test_a_cancelled_upload_sends_nothing_and_is_gone(system, open_chat, tmp_path):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="cancel")
    path = tmp_path / "notes.txt"
    path.write_bytes(b"notes\n" * 2_000_000)         # 12 MB: two parts
    a = open_chat().sign_in(alice.username).open_conversation("cancel")
    a.page.route(lambda url: "partNumber=" in url, lambda route, request: None)   # PUTs hang: still uploading
    a.page.set_input_files("#file-input", str(path))
    wait_until(lambda: uploads_in_page(a.page), 10, what="the upload to be created")
    upload_id = uploads_in_page(a.page)[0]["id"]
    chip = a.page.locator("#tray .chip")
    expect(chip).to_have_attribute("data-state", "uploading")
    chip.locator(".chip-cancel").click()
    expect(a.page.locator("#tray")).to_be_hidden()
    wait_until(lambda: alice.call("GET", f"/api/uploads/{upload_id}").status_code == 404
               or alice.ok("GET", f"/api/uploads/{upload_id}")["status"] == "cancelled", 10, what="the upload gone")
    assert uploads_in_page(a.page) == []
    a.send("nothing attached")
    expect(a.message("nothing attached")).to_be_visible()
    assert stored_files(bob, conv["id"]) == []
    assert bob.call("GET", f"/api/media/{upload_id}").status_code == 404


def test_a_refused_file_shows_the_servers_reason(system, open_chat, tmp_path):
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="refused")
    path = tmp_path / "tool.exe"
    path.write_bytes(b"MZ" + b"\0" * 1000)
    a = open_chat().sign_in(alice.username).open_conversation("refused")
    a.page.set_input_files("#file-input", {"name": "tool.exe", "mimeType": "application/x-msdownload",
                                           "buffer": path.read_bytes()})
    chip = a.page.locator("#tray .chip")
    expect(chip).to_have_attribute("data-state", "error")
    expect(chip).to_contain_text("This type of file is not accepted")
    chip.locator(".chip-cancel").click()
    expect(a.page.locator("#tray")).to_be_hidden()


# -- (e) the gallery ----------------------------------------------------------------------------------------------
def upload_via_api(api, conv_id: str, name: str, data: bytes, mime: str) -> str:
    """What the page does, from Python: create, PUT the parts to S3, complete, attach to a message."""
    made = api.ok("POST", "/api/uploads", json={"convId": conv_id, "filename": name, "size": len(data), "mimeType": mime})
    parts = list(range(1, made["partCount"] + 1))
    urls = api.ok("POST", f"/api/uploads/{made['id']}/part-urls", json={"parts": parts})["urls"]
    for n in parts:
        chunk = data[(n - 1) * made["partSize"]: n * made["partSize"]]
        assert requests.put(urls[str(n)], data=chunk, timeout=30).status_code == 200
    api.ok("POST", f"/api/uploads/{made['id']}/complete")
    wait_until(lambda: api.ok("GET", f"/api/media/{made['id']}")["status"] == "ready", 30, what=f"{name} ready")
    api.ok("POST", f"/api/conversations/{conv_id}/messages",
           json={"clientId": f"c-{made['id']}", "content": "", "attachments": [made["id"]]})
    return made["id"]


def test_the_gallery_lists_images_and_files_filters_by_type_and_keeps_albums(system, open_chat, tmp_path):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="gallery")
    jpeg = jpeg_with_gps(tmp_path / "harbour.jpg", (900, 600)).read_bytes()
    image_id = upload_via_api(alice, conv["id"], "harbour.jpg", jpeg, "image/jpeg")
    upload_via_api(alice, conv["id"], "minutes.txt", b"Minutes of the meeting\n" * 50, "text/plain")
    b = open_chat().sign_in(bob.username).open_conversation("gallery")
    page = b.page
    page.click("#gallery-toggle")
    panel = page.locator("#gallery")
    expect(panel).to_be_visible()
    expect(panel.locator(".gallery-grid .grid-thumb")).to_have_count(1)
    expect(panel.locator(".gallery-grid .grid-thumb.loaded")).to_have_count(1, timeout=15_000)
    expect(panel.locator(".gallery-list .gallery-item")).to_have_count(1)
    expect(panel.locator(".gallery-list")).to_contain_text("minutes.txt")

    panel.get_by_role("button", name="Documents").click()
    expect(panel.locator(".gallery-grid")).to_have_count(0)
    expect(panel.locator(".gallery-list .gallery-item")).to_have_count(1)
    panel.get_by_role("button", name="Images").click()
    expect(panel.locator(".gallery-list")).to_have_count(0)
    expect(panel.locator(".gallery-grid .grid-thumb")).to_have_count(1)
    panel.get_by_role("button", name="Audio").click()
    expect(panel.locator(".gallery-status")).to_have_text("No files of this kind yet")
    panel.get_by_role("button", name="All").click()
    expect(panel.locator(".grid-thumb")).to_have_count(1)

    # An album, the image in it (cover, count, size), a like and a comment.
    panel.get_by_role("button", name="New album").click()
    page.fill("#field-name", "Holidays")
    page.click("#dialog button[type=submit]")
    expect(panel.locator(".album-card")).to_contain_text("Holidays")
    expect(panel.locator(".album-card")).to_contain_text("0 files")
    panel.locator(".grid-thumb").click()
    expect(panel.locator(".media-detail")).to_contain_text("harbour.jpg")
    panel.locator(".album-add button[type=submit]").click()
    expect(page.locator("#toasts")).to_contain_text("Added to Holidays")
    panel.locator(".like").click()
    expect(panel.locator(".like")).to_have_attribute("aria-pressed", "true")
    expect(panel.locator(".like-count")).to_have_text("1")
    panel.locator(".comment-form input").fill("Lovely light")
    panel.locator(".comment-form input").press("Enter")
    expect(panel.locator(".comment-list")).to_contain_text("Lovely light")
    b.screenshot("gallery-detail")
    media = bob.ok("GET", f"/api/media/{image_id}")
    assert media["likeCount"] == 1 and media["comments"][0]["content"] == "Lovely light"
    panel.locator(".detail-back").click()
    card = panel.locator(".album-card")
    expect(card).to_contain_text("1 file")
    expect(card.locator(".album-cover.loaded")).to_be_visible(timeout=15_000)
    b.screenshot("gallery")

    phone = open_chat(phone=True)
    phone.page.emulate_media(color_scheme="dark")
    phone.sign_in(bob.username).open_conversation("gallery")
    phone.page.click("#conv-more")        # on a phone the gallery is behind the header's "⋯" menu
    phone.page.click("#gallery-toggle")
    expect(phone.page.locator("#gallery .grid-thumb.loaded")).to_have_count(1, timeout=15_000)
    phone.screenshot("gallery-phone-dark")

    # Deleted: the text file on its own (its message shows it deleted), the image with its message; both
    # leave the open gallery at once.
    expect(panel.locator(".gallery-list .gallery-item")).to_have_count(1)
    text_id = next(f["mediaId"] for m in bob.chat(conv["id"]) for f in m["metadata"].get("files", [])
                   if f["filename"] == "minutes.txt")
    assert alice.call("DELETE", f"/api/media/{text_id}").status_code == 204
    expect(panel.locator(".gallery-list .gallery-item")).to_have_count(0)
    expect(page.locator("#messages .file-card.gone")).to_contain_text("This file was deleted")
    socket = alice.socket()
    socket.wait_for("session:ready")
    image_message = next(m for m in bob.chat(conv["id"]) if m["type"] == "image")
    assert socket.call("message:delete", {"messageId": image_message["id"]})["ok"]
    expect(panel.locator(".grid-thumb")).to_have_count(0)
    expect(page.locator("#messages li.msg.deleted")).to_have_count(1)
    socket.close()


# -- (f) the texts ------------------------------------------------------------------------------------------------
def test_the_media_texts_are_in_every_catalogue():
    """Keys the media modules build from a code or type (the catalogue test only sees literal keys)."""
    catalogues = {lang: json.loads((ROOT / "web" / "i18n" / f"{lang}.json").read_text()) for lang in ("en", "fr", "es", "de")}
    built = [f"gallery.type.{t}" for t in ("all", "image", "video", "audio", "document")] + \
        [f"upload.error.{c}" for c in ("file_too_large", "quota_exceeded", "unsupported_type", "upload_expired", "other")]
    for lang, texts in catalogues.items():
        assert [k for k in built if k not in texts] == [], lang
        media_keys = [k for k in texts if k.split(".")[0] in ("upload", "media", "voice", "gallery")]
        assert len(media_keys) > 50 and all(texts[k] for k in media_keys), lang
