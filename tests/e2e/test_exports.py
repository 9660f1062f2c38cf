"""Exports end to end: the real server and its exports worker (the PDF in a child process), real sockets,
a real moto S3 over HTTP: request, live progress, export:ready, the 302 to the file, cancel, expiry."""
from __future__ import annotations

import csv
import io
import json
import time

import boto3
import pytest
import requests
from pypdf import PdfReader

from tests.e2e.harness import Api, make_conversation, own_system, wait_until
from tests.servers import session_s3_server

pytestmark = pytest.mark.e2e
MARKUP = '<b>x</b> <img src="/etc/passwd"> R&D'
ISSUE = "hi;=cmd|' /C calc'!A0"   # a formula cell in French Excel, which splits on ";"
TEXTS = [MARKUP, "=1+1", "@SUM(A1)", "+1", "-1", "שלום עולם", "Grüße 👍", ISSUE, "a\n- b"]


def _s3(system):
    s3 = boto3.client("s3", endpoint_url=session_s3_server().url, aws_access_key_id="test",
                      aws_secret_access_key="test", region_name="us-east-1")
    return s3, f"chat-media-{system.port}"


def _objects(system, prefix: str) -> tuple[list, list]:
    s3, bucket = _s3(system)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
    return keys, uploads


def _seed(alice: Api, bob: Api, conv_id: str, n: int) -> list[dict]:
    for i in range(n):
        who = alice if i % 2 else bob
        text = TEXTS[i] if i < len(TEXTS) else f"message {i}"
        who.ok("POST", f"/api/conversations/{conv_id}/messages", json={"clientId": f"m{i}", "content": text})
    def stored():
        page = alice.ok("GET", f"/api/conversations/{conv_id}/messages?after=0&limit=200")["messages"]
        return len(page) >= n + 1 and page  # (+ the conversation_created system message)
    return wait_until(stored, 20, what="the messages to be stored")


def _export(api: Api, sock, conv_id: str, **body) -> dict:
    r = api.call("POST", f"/api/conversations/{conv_id}/exports", json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert set(job) == {"id", "convId", "format", "status"} and job["status"] == "queued"
    wait_until(lambda: any(e["id"] == job["id"] for e in sock.got("export:ready")), 30, what="export:ready")
    return job


def _download(api: Api, export_id: str) -> bytes:
    r = api.call("GET", f"/api/exports/{export_id}/download", allow_redirects=False)
    assert r.status_code == 302, r.text
    got = requests.get(r.headers["Location"], timeout=10)
    assert got.status_code == 200 and got.headers["Content-Disposition"].startswith("attachment")
    return got.content


def test_json_csv_and_pdf_hold_the_history_and_come_back_through_s3(system, clients):
    alice, bob = Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    history = _seed(alice, bob, conv["id"], 30)
    a = alice.socket()
    clients.append(a)
    a.wait_for("session:ready")
    seqs = [m["seq"] for m in history]

    job = _export(alice, a, conv["id"], format="json")
    doc = json.loads(_download(alice, job["id"]))
    assert [m["seq"] for m in doc["messages"]] == seqs
    assert [m["content"] for m in doc["messages"][1:]] == [m["content"] for m in history[1:]]
    ready = [e for e in a.got("export:ready") if e["id"] == job["id"]]
    assert len(ready) == 1 and ready[0]["format"] == "json" and ready[0]["size"] > 0
    status = alice.ok("GET", f"/api/exports/{job['id']}")
    assert status["status"] == "done" and status["progress"] == 100 and status["processed"] == len(seqs)
    assert status["total"] == len(seqs) and status["expiresAt"] and status["finishedAt"]

    job = _export(alice, a, conv["id"], format="csv", timezone="Europe/Paris")
    data = _download(alice, job["id"])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))[1:]
    assert [int(r[0]) for r in rows] == seqs
    contents = [r[6] for r in rows]
    assert {"'=1+1", "'@SUM(A1)", "'+1", "'-1", MARKUP, "hi;'=cmd|' /C calc'!A0", "a\n'- b"} <= set(contents)
    text = data.decode("utf-8-sig")
    for separator in (",", ";", "\t"):   # as a spreadsheet that ignores quotes would cut it
        cells = [c.lstrip(' "') for line in text.splitlines() for c in line.split(separator)]
        assert [c for c in cells if c[:1] in ("=", "+", "-", "@")] == []

    job = _export(alice, a, conv["id"], format="pdf", language="de")
    pdf = PdfReader(io.BytesIO(_download(alice, job["id"])))
    text = "\n".join(p.extract_text() for p in pdf.pages)
    assert MARKUP in text and "Export der Unterhaltung" in text and "שלום עולם" in text
    positions = [text.find(f"message {i}\n") for i in range(len(TEXTS), 30)]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)

    listed = alice.ok("GET", "/api/exports?limit=2")
    assert [e["format"] for e in listed["exports"]] == ["pdf", "csv"] and listed["hasMore"]


def test_members_are_refused_and_bad_input_queues_nothing(system):
    alice, bob, carol = Api(system), Api(system), Api(system)
    _, conv = make_conversation(alice, bob)
    make_conversation(carol)  # carol is the admin of another group
    for who in (bob, carol):
        r = who.call("POST", f"/api/conversations/{conv['id']}/exports", json={"format": "json"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    for body, code in [({"format": "xml"}, "invalid_format"), ({"format": "csv", "from": 5, "to": 2}, "invalid_range"),
                       ({"format": "csv", "from": 2, "to": "2025-01-01T00:00:00Z"}, "invalid_range"),
                       ({"format": "csv", "timezone": "Nowhere/Land"}, "invalid_timezone"),
                       ({"format": "pdf", "language": "it"}, "invalid_language"),
                       ({"format": "pdf", "colour": "red"}, "invalid_payload")]:
        r = alice.call("POST", f"/api/conversations/{conv['id']}/exports", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == code, (body, r.text)
    assert alice.ok("GET", "/api/exports")["exports"] == []
    # The requester's export is theirs alone: no status, no URL for anyone else.
    job = alice.ok("POST", f"/api/conversations/{conv['id']}/exports", json={"format": "json"})
    for who in (bob, carol):
        for path in (f"/api/exports/{job['id']}", f"/api/exports/{job['id']}/download"):
            r = who.call("GET", path, allow_redirects=False)
            assert r.status_code == 403 and "Location" not in r.headers


def test_cancel_leaves_nothing_and_expired_is_410():
    # A tiny TTL (about 2 s), and small batches so that a cancel lands while the job runs.
    with own_system(EXPORT_TTL_HOURS="0.0006", EXPORT_BATCH="10") as system:
        alice, bob = Api(system), Api(system)
        _, conv = make_conversation(alice, bob)
        _seed(alice, bob, conv["id"], 60)
        a = alice.socket()
        try:
            a.wait_for("session:ready")
            job = _export(alice, a, conv["id"], format="csv")
            assert _download(alice, job["id"])
            time.sleep(2.5)
            r = alice.call("GET", f"/api/exports/{job['id']}/download", allow_redirects=False)
            assert r.status_code == 410 and r.json()["error"]["code"] == "expired" and "Location" not in r.headers
            assert alice.ok("GET", f"/api/exports/{job['id']}")["status"] == "expired"

            r = alice.call("POST", f"/api/conversations/{conv['id']}/exports", json={"format": "pdf"})
            doomed = r.json()["id"]
            assert alice.call("DELETE", f"/api/exports/{doomed}").status_code == 204
            wait_until(lambda: alice.ok("GET", f"/api/exports/{doomed}")["status"] == "cancelled", 10,
                       what="the cancel")
            time.sleep(2)  # whatever the worker was doing has stopped by now
            keys, uploads = _objects(system, f"exports/{doomed}/")
            assert keys == [] and uploads == []
            assert not [e for e in a.got("export:ready") if e["id"] == doomed]
            r = alice.call("GET", f"/api/exports/{doomed}/download", allow_redirects=False)
            assert r.status_code == 409 and "Location" not in r.headers
        finally:
            a.close()


def test_a_walk_in_a_fork_of_the_embedded_server_holds_the_history():
    # Every export forks here (the default forks from 10,000 messages): the walk reads the store as it was
    # at the fork, in another process, and the file still holds every message once, in seq order.
    with own_system(EXPORT_FORK_MIN_MESSAGES="0") as system:
        alice, bob = Api(system), Api(system)
        _, conv = make_conversation(alice, bob)
        history = _seed(alice, bob, conv["id"], 30)
        a = alice.socket()
        try:
            a.wait_for("session:ready")
            job = _export(alice, a, conv["id"], format="json")
            doc = json.loads(_download(alice, job["id"]))
            assert [m["seq"] for m in doc["messages"]] == [m["seq"] for m in history]
            assert [m["content"] for m in doc["messages"][1:]] == [m["content"] for m in history[1:]]
            job = _export(alice, a, conv["id"], format="pdf")
            text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(_download(alice, job["id"]))).pages)
            positions = [text.find(f"message {i}\n") for i in range(len(TEXTS), 30)]
            assert all(p >= 0 for p in positions) and positions == sorted(positions) and MARKUP in text
            assert system.log_path.read_text().count("walked in a fork") == 2
            keys, uploads = _objects(system, "exports/")
            assert len(keys) == 2 and uploads == []
        finally:
            a.close()
