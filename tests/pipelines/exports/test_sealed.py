"""Export files at rest (pipelines/exports/sealed.py, tokens.py, the download in requests.py): an encrypted
conversation's export is stored sealed (none of its words in the object), for each way the job writes it;
its download is a link to this server signed for its user and export, which streams the file opened; the
link is refused when expired, altered, for another export or shown by another user."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from pypdf import PdfReader

from infra.crypto import FILE_MAGIC, CryptoError
from pipelines.exports.requests import FileLinks, check_file_token, download_url, open_export_file
from pipelines.exports.sealed import SealingWriter
from schemas.common import utcnow
from schemas.errors import ApiError, Code
from tests.pipelines.exports.world import HEBREW, SETTINGS, insert_message, w  # noqa: F401 - w: the fixture
from tests.sealed import encrypted, store  # noqa: F401 - the fixtures

SECRET = "test-secret-" + "x" * 20
LINKS = FileLinks(SECRET, lambda export_id, token: f"https://chat.test/api/exports/{export_id}/file?token={token}")
WORDS = ("Bonjour", "meeting", "message number", "fixed text", "typo", HEBREW)


def token_of(url: str) -> str:
    return url.rpartition("token=")[2]


def stored_object(w, export_id) -> bytes:
    return w.blobs.open_read(w.store.exports.get_export(export_id).key).read()


def downloaded(w, export_id, user=None) -> bytes:
    user = user or w.alice
    url = download_url(w.store, w.blobs, SETTINGS, user, export_id, LINKS)
    export = check_file_token(w.store, SETTINGS, SECRET, export_id, token_of(url), None, utcnow())
    file = open_export_file(w.store, w.blobs, export)
    return b"".join(file.chunks)


@pytest.mark.parametrize("fmt", ["json", "csv", "pdf"])
def test_an_encrypted_conversations_export_is_sealed_in_s3_and_downloads_in_clear(w, store, fmt):
    job = w.request(format=fmt)
    assert w.run(job.id).status == "done"
    raw = stored_object(w, job.id)
    assert raw.startswith(FILE_MAGIC)
    assert [word for word in WORDS if word.encode() in raw] == []
    export = store.exports.get_export(job.id)
    assert export.sealed
    url = download_url(store, w.blobs, SETTINGS, w.alice, job.id, LINKS)
    assert url.startswith(f"https://chat.test/api/exports/{job.id}/file?token=")
    file = open_export_file(store, w.blobs, check_file_token(store, SETTINGS, SECRET, job.id, token_of(url), w.alice, utcnow()))
    data = b"".join(file.chunks)
    assert len(data) == export.size and file.filename.endswith(f".{fmt}")
    if fmt == "json":
        doc = json.loads(data)
        assert len(doc["messages"]) == w.last and doc["messages"][1]["content"].startswith("Bonjour")
        assert file.content_type == "application/json"
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert any("Bonjour à tous, R&D meeting at 10" in row for row in rows)
    else:
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
        assert "Bonjour" in text and file.content_type == "application/pdf"


def test_a_file_of_several_records_and_parts_round_trips(w, store):
    for i in range(1200):   # about 11 MiB of JSON: several sealed records, several 5 MiB parts
        insert_message(store, w.conv, w.last + 1 + i, w.bob, f"lorem ipsum {i} " * 700)
    job = w.request(format="json")
    assert w.run(job.id).status == "done"
    raw = stored_object(w, job.id)
    assert len(raw) > 10 << 20 and b"lorem" not in raw
    doc = json.loads(downloaded(w, job.id))
    assert len(doc["messages"]) == w.last + 1200 and doc["messages"][-1]["content"].startswith("lorem ipsum 1199 ")


def test_the_link_is_refused_when_altered_expired_for_another_export_or_shown_by_someone_else(w, store):
    job, other = w.request(format="csv"), w.request(format="json")
    w.run(job.id), w.run(other.id)
    token = token_of(download_url(store, w.blobs, SETTINGS, w.alice, job.id, LINKS))
    now = utcnow()
    cases = [
        (job.id, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), None, now, Code.UNAUTHORIZED),  # altered
        (job.id, token, None, now + timedelta(seconds=SETTINGS.presign_seconds + 1), Code.UNAUTHORIZED),  # expired
        (other.id, token, None, now, Code.UNAUTHORIZED),                                  # another export
        (job.id, token, w.bob, now, Code.FORBIDDEN),                                      # another user
        (job.id, None, None, now, Code.UNAUTHORIZED),                                     # none
        (job.id, token.split(".")[0] + ".e30." + token.split(".")[2], None, now, Code.UNAUTHORIZED),  # claims swapped
    ]
    for export_id, tok, caller, at, code in cases:
        with pytest.raises(ApiError) as err:
            check_file_token(store, SETTINGS, SECRET, export_id, tok, caller, at)
        assert err.value.code == code, (export_id, caller, at)
    with pytest.raises(ApiError) as err:   # signed with another server's secret
        check_file_token(store, SETTINGS, "another" + SECRET, job.id, token, None, now)
    assert err.value.code == Code.UNAUTHORIZED
    # The right one still works, and a link stops working once its export no longer may be downloaded.
    assert check_file_token(store, SETTINGS, SECRET, job.id, token, w.alice, now).id == job.id
    store.db.exports.update_one({"_id": job.id}, {"$set": {"expiresAt": now - timedelta(seconds=1)}})
    with pytest.raises(ApiError) as err:
        check_file_token(store, SETTINGS, SECRET, job.id, token, None, now)
    assert err.value.code == Code.EXPIRED


def test_a_tampered_object_does_not_open(w, store):
    job = w.request(format="json")
    w.run(job.id)
    export = store.exports.get_export(job.id)
    raw = bytearray(stored_object(w, job.id))
    raw[-40] ^= 1
    w.blobs.put_bytes(export.key, bytes(raw), "application/octet-stream")
    with pytest.raises(CryptoError):
        b"".join(open_export_file(store, w.blobs, export).chunks)


@pytest.mark.parametrize("encrypted", [False])
def test_a_plain_conversation_keeps_its_plain_file_and_presigned_url(w):
    plain = w.store   # no master key: encryption off
    job = w.request(format="json")
    assert w.run(job.id).status == "done"
    export = plain.exports.get_export(job.id)
    assert not export.sealed and b"Bonjour" in stored_object(w, job.id)
    assert download_url(plain, w.blobs, SETTINGS, w.alice, job.id, LINKS).startswith("memory://")


def test_the_sealing_writer_gives_back_what_it_was_given_whatever_the_writes(store):
    conv_id = "c" * 24
    for sizes in ([], [0], [5], [10, 10, 10], [7] * 13, [64], [1, 63, 64, 65]):
        sink = io.BytesIO()
        writer = SealingWriter(store.vault, conv_id, sink, sealed=True, chunk_size=16)
        data = b"".join(bytes([i % 251]) * n for i, n in enumerate(sizes))
        at = 0
        for n in sizes:
            writer.write(data[at:at + n])
            at += n
        writer.finish()
        assert writer.size == len(data)
        sink.seek(0)
        assert b"".join(store.vault.open_chunks(conv_id, sink.read)) == data, sizes
