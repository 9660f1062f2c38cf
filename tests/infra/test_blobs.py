"""infra.blobs.S3Blobs against a real moto S3 server (HTTP, as MinIO or AWS would be reached), and the
tests' MemoryBlobs held to the same behaviour where it makes sense."""
from __future__ import annotations

import hashlib
import io
import os
import re
import tracemalloc
import uuid
from urllib.parse import unquote

import pytest
import requests

from infra.blobs import (MIN_PART_SIZE, BlobNotFound, InvalidUpload, S3Blobs, StorageUnavailable,
                         content_disposition, download_name)
from infra.embedded.redis_server import free_port
from tests.fakes import MemoryBlobs

MiB = 1 << 20
ORIGIN = "http://127.0.0.1:5000"


def s3_blobs(url: str, **kw) -> S3Blobs:
    return S3Blobs(endpoint_url=url, bucket=f"test-{uuid.uuid4().hex[:12]}", access_key_id="test",
                   secret_access_key="test", **kw)


@pytest.fixture(params=["s3", "memory"])
def blobs(request):
    if request.param == "s3":
        b = s3_blobs(request.getfixturevalue("s3_server").url)
    else:
        b = MemoryBlobs()
    b.ensure_bucket([ORIGIN, "http://localhost:5000"])
    return b


@pytest.fixture
def s3(s3_server) -> S3Blobs:
    b = s3_blobs(s3_server.url)
    b.ensure_bucket([ORIGIN, "http://localhost:5000"])
    return b


def browser_put(blobs, url: str, data: bytes) -> str:
    """A browser's PUT of one part to its presigned URL, straight to S3; returns the ETag header."""
    if isinstance(blobs, MemoryBlobs):
        return blobs.accept_put(url, data)
    r = requests.put(url, data=data, headers={"Origin": ORIGIN}, timeout=30)
    assert r.status_code == 200, r.text
    return r.headers["ETag"]


def test_a_multipart_upload_by_presigned_part_puts_is_completed_from_list_parts(blobs):
    data = os.urandom(2 * MIN_PART_SIZE + 12345)
    key = f"uploads/{uuid.uuid4().hex}/photo.bin"
    upload_id = blobs.create_multipart(key, "application/octet-stream")
    pieces = [data[:MIN_PART_SIZE], data[MIN_PART_SIZE:2 * MIN_PART_SIZE], data[2 * MIN_PART_SIZE:]]
    etags = {}
    for number in (3, 1, 2):  # in any order, as parallel browser PUTs finish
        etags[number] = browser_put(blobs, blobs.presign_part(key, upload_id, number), pieces[number - 1])
    assert blobs.head(key) is None  # nothing until completed

    parts = blobs.list_parts(key, upload_id)
    assert [(p.number, p.etag, p.size) for p in parts] == [(n, etags[n], len(pieces[n - 1])) for n in (1, 2, 3)]
    assert any(u.upload_id == upload_id and u.key == key for u in blobs.multipart_uploads("uploads/"))

    blobs.complete_multipart(key, upload_id, parts)
    info = blobs.head(key)
    assert info.size == len(data) and info.content_type == "application/octet-stream" and info.etag
    body = blobs.open_read(key)
    digest = hashlib.sha256()
    for chunk in body.iter_chunks(1 * MiB):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert not list(blobs.multipart_uploads("uploads/"))


def test_list_parts_reads_every_page(s3):
    key = f"uploads/{uuid.uuid4().hex}"
    upload_id = s3.create_multipart(key, "application/octet-stream")
    for n in range(1, 8):
        browser_put(s3, s3.presign_part(key, upload_id, n), b"part %d" % n)
    pages = []
    s3.s3.meta.events.register("before-send.s3.ListParts", lambda request, **_: pages.append(request.url))
    assert [p.number for p in s3.list_parts(key, upload_id, page_size=3)] == list(range(1, 8))
    assert len(pages) == 3
    s3.abort_multipart(key, upload_id)


def test_completion_with_a_wrong_etag_or_a_small_middle_part_is_refused(blobs):
    key = f"uploads/{uuid.uuid4().hex}"
    upload_id = blobs.create_multipart(key, "application/octet-stream")
    browser_put(blobs, blobs.presign_part(key, upload_id, 1), b"too small to be a middle part")
    browser_put(blobs, blobs.presign_part(key, upload_id, 2), b"last")
    parts = blobs.list_parts(key, upload_id)
    with pytest.raises(InvalidUpload):
        blobs.complete_multipart(key, upload_id, parts)
    with pytest.raises(InvalidUpload):
        blobs.complete_multipart(key, upload_id, [parts[0].__class__(1, '"0123456789abcdef"', 5)])
    blobs.abort_multipart(key, upload_id)
    blobs.abort_multipart(key, upload_id)  # already gone: no error
    assert not list(blobs.multipart_uploads(key))
    assert blobs.head(key) is None


def test_ranged_reads(blobs):
    data = bytes(range(256)) * 100
    blobs.put_bytes("r/obj", data, "application/octet-stream")
    assert blobs.get_range("r/obj", 0, 7) == data[:8]
    assert blobs.get_range("r/obj", 1000, 1999) == data[1000:2000]
    assert blobs.get_range("r/obj", len(data) - 3, len(data) + 100) == data[-3:]
    assert blobs.get_range("r/obj", len(data) + 10, len(data) + 20) == b""
    with pytest.raises(BlobNotFound):
        blobs.get_range("r/missing", 0, 10)
    with pytest.raises(BlobNotFound):
        blobs.open_read("r/missing")


def test_multipart_writer_uploads_a_20_mib_stream_in_parts_with_bounded_memory(blobs):
    part_size = MIN_PART_SIZE
    source = hashlib.sha256()
    tracemalloc.start()
    try:
        with blobs.multipart_writer("exports/big.csv", "text/csv", part_size=part_size) as out:
            for i in range(20 * 16):  # 20 MiB in 64 KiB writes
                chunk = hashlib.sha256(b"%d" % i).digest() * 2048
                source.update(chunk)
                out.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.size == 20 * MiB
    if isinstance(blobs, S3Blobs):  # (MemoryBlobs keeps what it stores in memory, of course)
        # About one part buffered, plus the part in flight: far below the 20 MiB written.
        assert peak < 3 * part_size, peak
    assert blobs.head("exports/big.csv").size == 20 * MiB
    assert blobs.head("exports/big.csv").etag.endswith('-4"')  # four parts
    assert hashlib.sha256(blobs.open_read("exports/big.csv").read()).digest() == source.digest()
    assert not list(blobs.multipart_uploads("exports/"))


def test_multipart_writer_aborts_on_an_exception(blobs):
    with pytest.raises(RuntimeError, match="export failed"):
        with blobs.multipart_writer("exports/broken.csv", "text/csv", part_size=MIN_PART_SIZE) as out:
            out.write(b"x" * (MIN_PART_SIZE + 10))  # one part uploaded: the multipart upload exists
            assert list(blobs.multipart_uploads("exports/"))
            raise RuntimeError("export failed")
    assert not list(blobs.multipart_uploads("exports/"))
    assert blobs.head("exports/broken.csv") is None


def test_multipart_writer_sends_a_small_output_as_one_object_and_works_under_a_text_wrapper(blobs):
    with blobs.multipart_writer("exports/small.csv", "text/csv; charset=utf-8") as out:
        text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
        text.write("é,ü\r\n")
        text.flush()
    assert out.size == len("\ufeffé,ü\r\n".encode())
    assert blobs.open_read("exports/small.csv").read() == "\ufeffé,ü\r\n".encode()
    assert blobs.head("exports/small.csv").content_type == "text/csv; charset=utf-8"


def test_put_file_and_keys_and_delete_prefix(blobs):
    blobs.put_file("e/1/a.json", io.BytesIO(b"{}"), "application/json")
    blobs.put_bytes("e/1/b.json", b"[]", "application/json")
    blobs.put_bytes("e/2/c.json", b"1", "application/json")
    assert sorted(blobs.keys("e/1/")) == ["e/1/a.json", "e/1/b.json"]
    assert blobs.delete_prefix("e/1/") == 2
    assert list(blobs.keys("e/")) == ["e/2/c.json"]
    blobs.delete("e/2/c.json")
    blobs.delete("e/2/c.json")  # idempotent
    assert blobs.head("e/2/c.json") is None


def test_copy_is_a_server_side_copy_with_its_content_type(blobs):
    """A library GIF's copy (pipelines.media.remote): S3's CopyObject, the source left as it is."""
    tag = uuid.uuid4().hex
    blobs.put_bytes(f"c/{tag}/original", b"GIF89a-bytes", "image/gif")
    blobs.copy(f"c/{tag}/original", f"c/{tag}-copy/original")
    copied = blobs.head(f"c/{tag}-copy/original")
    assert copied.size == 12 and copied.content_type == "image/gif"
    assert blobs.get_range(f"c/{tag}-copy/original", 0, 99) == b"GIF89a-bytes"
    assert blobs.head(f"c/{tag}/original") is not None
    with pytest.raises(BlobNotFound):
        blobs.copy(f"c/{tag}/missing", f"c/{tag}/other")


def test_put_file_uploads_a_large_file_in_parts(s3):
    data = os.urandom(17 * MiB)
    s3.put_file("big/file", io.BytesIO(data), "application/octet-stream")
    assert s3.head("big/file").etag.endswith('-3"')  # 8 + 8 + 1 MiB
    assert s3.get_range("big/file", 17 * MiB - 5, 17 * MiB) == data[-5:]


def test_presigned_get_carries_the_disposition_and_type(s3):
    s3.put_bytes("m/report", b"%PDF-1.4 ...", "application/octet-stream")
    url = s3.presign_get("m/report", filename="Compte rendu é.pdf", content_type="application/pdf", attachment=True)
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.content == b"%PDF-1.4 ..."
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Disposition"] == (
        "attachment; filename=\"Compte rendu e.pdf\"; filename*=UTF-8''Compte%20rendu%20%C3%A9.pdf")
    inline = requests.get(s3.presign_get("m/report", filename="a.png", content_type="image/png", attachment=False),
                          timeout=10)
    assert inline.headers["Content-Disposition"].startswith("inline;")


def test_presigned_urls_are_signed_for_the_public_endpoint(s3_server):
    public = f"http://localhost:{s3_server.port}"
    b = s3_blobs(s3_server.url, public_url=public)
    b.ensure_bucket([ORIGIN])
    upload_id = b.create_multipart("k", "image/png")
    url = b.presign_part("k", upload_id, 1, expires=60)
    assert url.startswith(public + "/") and "X-Amz-Expires=60" in url and "X-Amz-Signature=" in url
    assert b.presign_get("k", filename="k", content_type="image/png", attachment=True).startswith(public + "/")
    b.abort_multipart("k", upload_id)


def test_the_bucket_cors_rule_answers_the_apps_origin_only(s3, s3_server):
    url = f"{s3_server.url}/{s3.bucket}/uploads/x?partNumber=1&uploadId=abc"
    ok = requests.options(url, timeout=5, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type"})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PUT" in ok.headers["Access-Control-Allow-Methods"]
    assert ok.headers["Access-Control-Expose-Headers"] == "ETag"
    other = requests.options(url, timeout=5, headers={"Origin": "http://evil.example",
                                                       "Access-Control-Request-Method": "PUT"})
    assert other.status_code == 403 and "Access-Control-Allow-Origin" not in other.headers
    # A real part PUT from the page's origin gets the ETag exposed to the page's script.
    upload_id = s3.create_multipart("uploads/y", "application/octet-stream")
    put = requests.put(s3.presign_part("uploads/y", upload_id, 1), data=b"abc", headers={"Origin": ORIGIN}, timeout=5)
    assert put.headers["Access-Control-Allow-Origin"] == ORIGIN and put.headers["ETag"]
    assert "ETag" in put.headers["Access-Control-Expose-Headers"]
    s3.abort_multipart("uploads/y", upload_id)


def test_ensure_bucket_is_idempotent(s3):
    s3.put_bytes("keep", b"1", "text/plain")
    s3.ensure_bucket([ORIGIN])
    assert s3.head("keep").size == 1


def test_unreachable_s3_raises_storage_unavailable():
    b = S3Blobs(endpoint_url=f"http://127.0.0.1:{free_port()}", bucket="nowhere", access_key_id="test",
                secret_access_key="test", connect_timeout=0.5)
    with pytest.raises(StorageUnavailable):
        b.ping()
    with pytest.raises(StorageUnavailable):
        b.head("k")
    with pytest.raises(StorageUnavailable):
        b.put_bytes("k", b"1", "text/plain")


def test_memory_blobs_can_play_an_outage():
    b = MemoryBlobs()
    b.unavailable = True
    with pytest.raises(StorageUnavailable):
        b.create_multipart("k", "text/plain")


def test_content_disposition_keeps_the_exact_name_and_an_ascii_fallback():
    assert content_disposition("a b.png", attachment=False) == "inline; filename=\"a b.png\"; filename*=UTF-8''a%20b.png"
    assert content_disposition("写真 été.jpg", attachment=True) == (
        "attachment; filename=\"__ ete.jpg\"; filename*=UTF-8''%E5%86%99%E7%9C%9F%20%C3%A9t%C3%A9.jpg")


@pytest.mark.parametrize("name, saved", [
    ('évil"\r\nX-Evil: 1.txt', 'évil_ X-Evil_ 1.txt'),        # a header of its own: the break is a space
    ("../../etc/passwd", "_.._etc_passwd"), ("..\\boot.ini", "_boot.ini"), ("..", "file"), ("", "file"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),                # a right-to-left override hides ".exe"
    ("a\u200bb\x00c\x7f.txt", "abc.txt"), ("tab\tand\u2028line.txt", "tab and line.txt"),
    ("  .hidden . ", "hidden"), ('what?<>|*:".txt', "what_______.txt"), ("x" * 300 + ".txt", "x" * 251 + ".txt"),
    ("y" * 300, "y" * 255),
])
def test_download_names_carry_no_path_control_character_or_header(name, saved):
    assert download_name(name) == saved
    header = content_disposition(name, attachment=True)
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    encoded = header.rsplit("filename*=UTF-8''", 1)[1]
    assert header.isprintable() and header.isascii() and header.count('"') == 2
    assert re.fullmatch(r"[A-Za-z0-9._ ()-]+", fallback) and not fallback.startswith(".")
    assert unquote(encoded) == saved


def test_s3_blobs_travel_to_a_cpu_child_as_their_settings(s3):
    """The embedded default's media work runs in a child process (infra.embedded.cpu): the storage is sent as its
    settings, and the child builds its own client, once, on the same bucket."""
    import pickle

    from infra.embedded.cpu import CpuPool
    from tests.infra import cpu_jobs

    copy = pickle.loads(pickle.dumps(s3))
    assert copy is not s3 and copy.bucket == s3.bucket and copy is pickle.loads(pickle.dumps(s3))
    key = f"t/{uuid.uuid4().hex}"
    pool = CpuPool(size=1, timeout=30)
    try:
        pid = pool.run(cpu_jobs.put_and_pid, s3, key, b"from the child")
    finally:
        pool.close()
    assert pid != os.getpid() and s3.get_range(key, 0, 99) == b"from the child"
