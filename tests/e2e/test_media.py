"""Media end to end: a real moto S3 over HTTP (parts PUT straight to it, as a browser does), the real server
and its media worker, real sockets; the virus scan against Debian's real clamd."""
from __future__ import annotations

import hashlib
import io
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image

from bench.thumbnails import photo_jpeg
from tests.e2e.harness import Api, make_conversation, own_system, wait_until

pytestmark = pytest.mark.e2e
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def upload(api: Api, conv_id: str, data: bytes, mime: str, name: str, parts=None) -> dict:
    """What the page does: create, ask for part URLs, PUT each part to S3 itself, complete."""
    created = api.ok("POST", "/api/uploads", json={"convId": conv_id, "filename": name, "size": len(data),
                                                   "mimeType": mime})
    numbers = parts or list(range(1, created["partCount"] + 1))
    urls = api.ok("POST", f"/api/uploads/{created['id']}/part-urls", json={"parts": numbers})["urls"]
    size = created["partSize"]
    for n in numbers:
        r = requests.put(urls[str(n)], data=data[(n - 1) * size:n * size], timeout=30)
        assert r.status_code == 200 and r.headers["ETag"], r.text
    return created


def complete(api: Api, media_id: str) -> None:
    r = api.call("POST", f"/api/uploads/{media_id}/complete")
    assert r.status_code == 202 and r.json() == {"id": media_id, "status": "processing"}, r.text


def _gps(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))


def test_a_photo_goes_straight_to_s3_and_comes_back_without_its_location(system, clients):
    alice, bob, eve = Api(system), Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    a, b = alice.socket(), bob.socket()
    clients.extend([a, b])
    for s in (a, b):
        s.wait_for("session:ready")
        assert s.call("conv:subscribe", {"convId": conv["id"]})["ok"]
    data = photo_jpeg((2000, 1500), orientation=6)
    # A name that tries a path, a header of its own and a right-to-left override ("...gpj.exe" shown reversed).
    created = upload(alice, conv["id"], data, "image/jpeg", 'C:\\fakepath\\IMG "0001"\r\nX-Evil: 1\u202egpj.JPG')
    assert alice.ok("GET", f"/api/uploads/{created['id']}")["uploadedParts"] == [1]
    complete(alice, created["id"])
    ack = a.call("message:send", {"convId": conv["id"], "clientId": "photo", "content": "regarde !",
                                  "attachments": [created["id"]]})
    assert ack["ok"], ack

    [new] = b.wait_for("message:new")
    assert new["type"] == "image" and new["metadata"]["files"][0]["mediaId"] == created["id"]
    wait_until(lambda: a.got("media:updated") and a.got("media:updated")[-1]["status"] == "ready", 30,
               what="the photo to be processed")
    assert b.got("media:updated") == []  # the uploader's own events
    # Delivered at once (processing, unless the worker was faster), then updated once the files are ready.
    def latest():
        seen = [m for m in b.got("message:new") + b.got("message:updated") if m["clientId"] == "photo"]
        return seen and seen[-1]["metadata"]["files"][0]["status"] == "ready" and seen[-1]
    [summary] = wait_until(latest, 10, what="the message to show the thumbnails")["metadata"]["files"]
    assert summary["status"] == "ready" and summary["dimensions"] == {"width": 1500, "height": 2000}

    for variant in ("original", "small", "large"):
        r = bob.call("GET", f"/api/media/{created['id']}/content?variant={variant}", allow_redirects=False)
        assert r.status_code == 302 and r.headers["Cache-Control"] == "private, no-store"
        expires = parse_qs(urlsplit(r.headers["Location"]).query)["X-Amz-Expires"]
        assert expires == ["300"]  # short-lived (moto does not enforce expiry: its value is what we check)
        got = requests.get(r.headers["Location"], timeout=10)
        assert got.status_code == 200 and _gps(got.content) == {}
        assert "attachment" not in got.headers.get("Content-Disposition", "")  # a safe image shows inline
        assert "X-Evil" not in got.headers and "\u202e" not in got.headers["Content-Disposition"]
    assert got.headers["Content-Disposition"] == (  # the large rendition's name, from the cleaned one
        "inline; filename=\"IMG _0001_ X-Evil_ 1gpj-large.webp\"; filename*=UTF-8''IMG%20_0001_%20X-Evil_%201gpj-large.webp")
    assert hashlib.sha256(got.content).digest() != hashlib.sha256(data).digest()

    # Nothing of it for someone outside the conversation.
    mid = created["id"]
    for method, path, body in [("GET", f"/api/media/{mid}", None), ("GET", f"/api/media/{mid}/content", None),
                               ("GET", f"/api/conversations/{conv['id']}/media", None),
                               ("POST", f"/api/media/{mid}/likes", None), ("DELETE", f"/api/media/{mid}/likes", None),
                               ("POST", f"/api/media/{mid}/comments", {"content": "x"}),
                               ("GET", f"/api/conversations/{conv['id']}/albums", None),
                               ("POST", f"/api/conversations/{conv['id']}/albums", {"name": "x"}),
                               ("POST", "/api/uploads", {"convId": conv["id"], "filename": "a.txt", "size": 1,
                                                         "mimeType": "text/plain"})]:
        r = eve.call(method, path, json=body, allow_redirects=False)
        assert r.status_code == 403 and "Location" not in r.headers, (method, path, r.status_code)
    gallery = bob.ok("GET", f"/api/conversations/{conv['id']}/media?type=image")
    assert [m["id"] for m in gallery["media"]] == [mid] and "key" not in gallery["media"][0]


def test_bad_uploads_get_a_specific_error_and_change_nothing(system):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    cases = [({"size": 0}, 400, "invalid_payload"), ({"size": 10 << 30}, 413, "file_too_large"),
             ({"mimeType": "application/x-sh"}, 415, "unsupported_type"), ({"mimeType": "nonsense"}, 400, "invalid_payload")]
    for change, status, code in cases:
        r = alice.call("POST", "/api/uploads", json={"convId": conv["id"], "filename": "f.txt", "size": 5,
                                                     "mimeType": "text/plain", **change})
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (change, r.text)
    assert alice.ok("GET", f"/api/conversations/{conv['id']}/media")["media"] == []

    created = upload(alice, conv["id"], b"hello", "text/plain", "hello.txt")
    for who, method, path, body, status, code in [
            (alice, "POST", "part-urls", {"parts": [2]}, 400, "invalid_part"),
            (alice, "POST", "part-urls", {"parts": list(range(1, 102))}, 400, "invalid_payload"),
            (bob, "POST", "part-urls", {"parts": [1]}, 403, "forbidden"),
            (bob, "POST", "complete", None, 403, "forbidden"),
            (bob, "DELETE", "", None, 403, "forbidden")]:
        r = who.call(method, f"/api/uploads/{created['id']}/{path}".rstrip("/"), json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (path, r.text)
    complete(alice, created["id"])
    r = alice.call("POST", f"/api/uploads/{created['id']}/complete")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_completed")
    ack_sock = bob.socket()
    try:
        ack_sock.wait_for("session:ready")
        ack = ack_sock.call("message:send", {"convId": conv["id"], "clientId": "x", "attachments": [created["id"]]})
        assert ack["ok"] is False and ack["error"]["code"] == "invalid_attachment"  # alice's file, not bob's
    finally:
        ack_sock.close()

    cancelled = upload(alice, conv["id"], b"bye", "text/plain", "bye.txt", parts=[])
    assert alice.call("DELETE", f"/api/uploads/{cancelled['id']}").status_code == 204
    assert alice.call("GET", f"/api/uploads/{cancelled['id']}").json()["status"] == "cancelled"
    assert alice.call("GET", f"/api/media/{cancelled['id']}").status_code == 404


def test_an_infected_file_is_quarantined_by_the_real_clamd(clamd_server):
    with own_system(CLAMD_URL=clamd_server.url) as system:
        alice, bob = Api(system), Api(system)
        _, conv = make_conversation(alice, bob)
        created = upload(alice, conv["id"], EICAR, "text/plain", "notes.txt")
        complete(alice, created["id"])
        doc = wait_until(lambda: (d := alice.ok("GET", f"/api/media/{created['id']}"))["status"] != "processing" and d,
                         30, what="the scan")
        assert doc["status"] == "quarantined" and doc["error"]["code"] == "infected"
        assert "Eicar-Test-Signature" in doc["error"]["message"]
        r = bob.call("GET", f"/api/media/{created['id']}/content", allow_redirects=False)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "not_ready")
        clean = upload(alice, conv["id"], b"just notes\n", "text/plain", "clean.txt")
        complete(alice, clean["id"])
        doc = wait_until(lambda: (d := alice.ok("GET", f"/api/media/{clean['id']}"))["status"] == "ready" and d, 30,
                         what="the clean file")
        assert doc["processingSteps"]["virusScan"]["result"] == "clean"
