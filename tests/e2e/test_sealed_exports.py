"""Encryption at rest end to end (ENCRYPT_ALL=1): the real server with its workers and a real moto S3 over
HTTP. An export of an encrypted conversation is stored sealed in S3 (read through moto's server: none of
the words written), downloads decrypted through this server's signed ``/file`` link with the presigned
URL's headers, and that link is refused to another user, altered or expired; notifications read back in
clear."""
from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
import requests

from infra.crypto import FILE_MAGIC, LocalMasterKeys
from pipelines.exports.tokens import make_file_token
from schemas.common import utcnow
from tests.e2e.harness import JWT_SECRET, Api, make_conversation, own_system, wait_until
from tests.servers import session_s3_server

pytestmark = pytest.mark.e2e
WORDS = ("Kerguelen", "rendezvous", "albatross")


@pytest.fixture(scope="module")
def sealed_system():
    with own_system(ENCRYPT_ALL="1", ENCRYPTION_MASTER_KEYS=LocalMasterKeys.generate("e2e-1")) as system:
        yield system


def s3_object(system, key: str) -> bytes:
    s3 = boto3.client("s3", endpoint_url=session_s3_server().url, aws_access_key_id="test",
                      aws_secret_access_key="test", region_name="us-east-1")
    return s3.get_object(Bucket=f"chat-media-{system.port}", Key=key)["Body"].read()


def exported(api: Api, conv_id: str, fmt: str) -> dict:
    job = api.ok("POST", f"/api/conversations/{conv_id}/exports", json={"format": fmt})
    return wait_until(lambda: (e := api.ok("GET", f"/api/exports/{job['id']}"))["status"] == "done" and e, 60,
                      what="the export to be done")


def test_an_encrypted_export_is_sealed_in_s3_and_downloads_decrypted_through_a_signed_link(sealed_system, clients):
    alice, bob = Api(sealed_system), Api(sealed_system)
    _, conv = make_conversation(alice, bob)
    texts = [f"the {WORDS[0]} {WORDS[1]} is moved", f"@{bob.username} bring the {WORDS[2]} book"]
    for i, text in enumerate(texts):
        alice.ok("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": f"m{i}", "content": text})
    wait_until(lambda: len(alice.chat(conv["id"])) == 2, 20, what="the messages to be stored")
    # The mention's notification reads back in clear (its body is sealed at rest).
    wait_until(lambda: any(WORDS[2] in n["body"] for n in bob.ok("GET", "/api/notifications?status=all")["notifications"]),
               20, what="bob's mention notification")

    for fmt in ("json", "csv"):
        export = exported(alice, conv["id"], fmt)
        raw = s3_object(sealed_system, f"exports/{export['id']}/export.{fmt}")
        assert raw.startswith(FILE_MAGIC) and [w for w in WORDS if w.encode() in raw] == []

        r = alice.call("GET", f"/api/exports/{export['id']}/download", allow_redirects=False)
        assert r.status_code == 302 and r.headers["Cache-Control"] == "private, no-store"
        link = r.headers["Location"]
        assert link.startswith(f"{sealed_system.url}/api/exports/{export['id']}/file?token=")
        got = requests.get(link, timeout=10)   # a navigation: no bearer token, the link is the credential
        assert got.status_code == 200, got.text
        assert got.headers["Content-Disposition"].startswith('attachment; filename="general export ')
        assert got.headers["Content-Disposition"].split(";")[1].strip().endswith(f'.{fmt}"')
        assert got.headers["Content-Type"].startswith({"json": "application/json", "csv": "text/csv"}[fmt])
        assert int(got.headers["Content-Length"]) == len(got.content) == export["size"]
        assert all(w in got.content.decode("utf-8-sig") for w in WORDS)
        if fmt == "json":
            assert [m["content"] for m in json.loads(got.content)["messages"][1:]] == texts

    # ?redirect=0: the same link as JSON; the requester's own bearer token is accepted with it.
    answer = alice.ok("GET", f"/api/exports/{export['id']}/download?redirect=0")
    assert answer["expiresIn"] == 300 and "/file?token=" in answer["url"]
    path = answer["url"][len(sealed_system.url):]
    assert alice.call("GET", path).status_code == 200

    # Another user showing the link (signed in as themselves), an altered token, an expired one, none.
    refused = bob.call("GET", path)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    token = path.rpartition("token=")[2]
    altered = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    expired = make_file_token(JWT_SECRET, export["id"], alice.id, utcnow() - timedelta(minutes=10), 300)
    for bad in (f"/api/exports/{export['id']}/file?token={altered}", f"/api/exports/{export['id']}/file?token={expired}",
                f"/api/exports/{export['id']}/file"):
        r = requests.get(sealed_system.url + bad, timeout=10)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", (bad, r.text)
    assert "expired" in requests.get(sealed_system.url + f"/api/exports/{export['id']}/file?token={expired}",
                                     timeout=10).json()["error"]["message"]
