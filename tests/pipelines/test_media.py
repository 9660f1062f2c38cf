"""pipelines.media without S3, Celery or a server: the embedded store, MemoryBlobs, a memory inbox.

The browser's part of an upload (PUT each part to its presigned URL) is played by MemoryBlobs.accept_put.
"""
from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from PIL import Image

from bench.thumbnails import photo_jpeg
from pipelines.media import uploads as media
from pipelines.media.uploads import Limits, Processing
from pipelines.messages.drain import drain_inbox
from pipelines.messages.submit import submit_message
from schemas.common import utcnow
from schemas.errors import ApiError, Code
from schemas.payloads import AlbumCreate, MessageSend, UploadCreate
from tests.conftest import make_conversation, make_user
from tests.fakes import MemoryBlobs
from tests.pipelines.test_media_processing import _png_header

LIMITS = Limits(max_upload_bytes=50 << 20, quota_bytes=60 << 20, upload_ttl=timedelta(hours=1), presign_seconds=300)
PART = 8 << 20


class Scanner:
    def __init__(self, infected: bool = False) -> None:
        self.infected, self.scanned = infected, 0

    def scan(self, chunks):
        from infra.scanner import ScanResult
        data = b"".join(chunks)
        self.scanned += len(data)
        return ScanResult("infected", "Eicar-Test-Signature") if self.infected else ScanResult("clean", None)


@pytest.fixture
def world(store, inbox, notifier, emitter):
    alice, bob, eve = (make_user(store, n) for n in ("alice", "bob", "eve"))
    conv = make_conversation(store, [alice, bob])
    other = make_conversation(store, [alice], title="elsewhere")
    blobs = MemoryBlobs()

    class W:
        pass
    w = W()
    w.alice, w.bob, w.eve, w.conv, w.other, w.blobs, w.scanner = alice, bob, eve, conv, other, blobs, Scanner()
    w.io = Processing(store=store, blobs=blobs, notifier=notifier, scanner=w.scanner, run_cpu=lambda fn, *a, **k: fn(*a, **k))

    def upload(data: bytes, mime: str, name="photo.jpg", who=alice, conv_id=None, declared=None, parts=None):
        created = media.do_create_upload(store, blobs, LIMITS, who, UploadCreate(
            convId=conv_id or conv.id, filename=name, size=declared or len(data), mimeType=mime))
        numbers = parts or list(range(1, created["partCount"] + 1))
        urls = media.part_urls(store, blobs, LIMITS, who, created["id"], numbers)["urls"]
        for n in numbers:
            blobs.accept_put(urls[str(n)], data[(n - 1) * created["partSize"]:n * created["partSize"]])
        return created

    def finish(media_id, who=alice):
        media.do_complete_upload(store, lambda m: None, who, media_id)
        return media.process_media(media_id, w.io)

    w.upload, w.finish = upload, finish
    return w


def _gps(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))


def test_an_image_is_completed_verified_scanned_and_rendered_without_gps(store, emitter, world):
    data = photo_jpeg((1600, 1200), orientation=6)
    assert _gps(data)  # the phone's photo has its location
    created = world.upload(data, "image/jpeg")
    result = world.finish(created["id"])

    assert result.status == "ready" and result.ran == ["upload", "verification", "virusScan", "metadata", "thumbnails"]
    doc = store.get_media(created["id"])
    assert {n: s.status for n, s in doc.processingSteps.items()} == {
        "upload": "done", "verification": "done", "virusScan": "done", "metadata": "done", "thumbnails": "done"}
    assert doc.processingSteps["virusScan"].result == "clean" and world.scanner.scanned == len(data)
    assert doc.metadata["dimensions"] == {"width": 1200, "height": 1600}  # orientation 6 applied
    assert set(doc.variants) == {"small", "large"}
    for v in doc.variants.values():
        stored = world.blobs._objects[v.key][0]
        assert _gps(stored) == {} and max(Image.open(io.BytesIO(stored)).size) <= (320 if "small" in v.key else 1280)
    original = world.blobs._objects[doc.key][0]
    assert _gps(original) == {} and Image.open(io.BytesIO(original)).size == (1600, 1200)
    statuses = [d["status"] for d, room in emitter.of("media:updated")]
    assert statuses[-1] == "ready" and {room for _, room in emitter.of("media:updated")} == {f"user:{world.alice.id}"}


def test_each_step_and_each_record_of_it_gives_way_to_the_loop_first(store, world):
    """infra.embedded.priority: chat goes first; the task's slices on the loop wait for a free moment."""
    calls = []
    world.io.give_way = lambda: calls.append(store.get_media(created["id"]).processingSteps)  # noqa: E731
    created = world.upload(photo_jpeg((400, 300)), "image/jpeg")
    assert world.finish(created["id"]).status == "ready"
    # Once at the start, before and after each of the five steps, and before the media is marked ready.
    assert len(calls) == 1 + 2 * 5 + 1
    assert [n for n, s in calls[-1].items() if s.status == "done"] == list(calls[-1])  # the last, after them all


def test_a_group_that_keeps_originals_keeps_their_exif(store, world):
    store.set_group_settings(world.conv.groupId, {"keepOriginalMetadata": True})
    data = photo_jpeg((800, 600))
    created = world.upload(data, "image/jpeg")
    world.finish(created["id"])
    doc = store.get_media(created["id"])
    assert world.blobs._objects[doc.key][0] == data
    assert all(_gps(world.blobs._objects[v.key][0]) == {} for v in doc.variants.values())  # thumbnails never


def test_an_interrupted_upload_resumes_from_the_parts_s3_holds(store, world):
    data = b"PK\x03\x04" + bytes(range(256)) * ((2 * PART + 12345) // 256 + 1)
    data = data[:2 * PART + 12345]  # three parts, of a zip (by its magic bytes)
    created = world.upload(data, "application/zip", name="archive.zip", parts=[1])
    status = media.upload_status(store, world.blobs, world.alice, created["id"])
    assert status["uploadedParts"] == [1] and status["partCount"] == 3
    urls = media.part_urls(store, world.blobs, LIMITS, world.alice, created["id"], [2, 3])["urls"]
    for n in (2, 3):
        world.blobs.accept_put(urls[str(n)], data[(n - 1) * PART:n * PART])
    assert world.finish(created["id"]).status == "ready"
    stored = world.blobs._objects[store.get_media(created["id"]).key][0]
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("case", ["short", "not_a_png", "bomb"])
def test_a_file_that_is_not_what_it_claims_is_refused_and_removed(store, emitter, world, case):
    if case == "short":
        data, mime = photo_jpeg((400, 300)), "image/jpeg"
        created = world.upload(data, mime)
        store.uploads.update_one({"_id": created["id"]}, {"$set": {"size": len(data) + 10}})
        store.media.update_one({"_id": created["id"]}, {"$set": {"fileSize": len(data) + 10}})
        store.upload_usage.update_one({"_id": world.alice.id}, {"$inc": {"bytes": 10},
                                                                "$set": {f"open.{created['id']}": len(data) + 10}})
    elif case == "not_a_png":
        created = world.upload(b"#!/bin/sh\nrm -rf /\n" * 10, "image/png", name="cat.png")
    else:  # a PNG header of under 80 bytes announcing 20000 x 20000 = 400 megapixels
        created = world.upload(_png_header(20000, 20000), "image/png", name="bomb.png")
    result = world.finish(created["id"])
    doc = store.get_media(created["id"])
    expected = {"short": "size_mismatch", "not_a_png": "type_mismatch", "bomb": "too_many_pixels"}[case]
    assert result.status == "failed" and doc.error["code"] == expected and doc.error["message"]
    assert list(world.blobs.keys(f"media/{world.conv.id}/{created['id']}/")) == []  # nothing left in S3
    assert doc.variants == {} and emitter.of("media:updated")[-1][0]["status"] == "failed"
    assert store.upload_usage.find_one({"_id": world.alice.id})["bytes"] == 0  # the quota came back


def test_an_infected_file_is_quarantined_and_deleted(store, world):
    world.io.scanner = Scanner(infected=True)
    created = world.upload(b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*", "text/plain",
                           name="eicar.txt")
    result = world.finish(created["id"])
    doc = store.get_media(created["id"])
    assert result.status == "quarantined" and doc.error["code"] == "infected" and "Eicar" in doc.error["message"]
    assert list(world.blobs.keys("media/")) == []


def test_without_a_scanner_the_step_says_skipped_never_clean(store, world):
    world.io.scanner = None
    created = world.upload(b"hello\n", "text/plain", name="a.txt")
    world.finish(created["id"])
    step = store.get_media(created["id"]).processingSteps["virusScan"]
    assert step.status == "skipped" and step.result != "clean"


@pytest.mark.parametrize("orientation", [6, 1])  # 1: the stripped original needs no Orientation tag
def test_a_worker_that_dies_mid_way_finishes_with_one_set_of_thumbnails(store, inbox, notifier, emitter, world,
                                                                        monkeypatch, orientation):
    created = world.upload(photo_jpeg((1000, 800), orientation=orientation), "image/jpeg")
    media.do_complete_upload(store, lambda m: None, world.alice, created["id"])
    submit_message(store, inbox, lambda c: None, world.alice, MessageSend(
        convId=world.conv.id, clientId="pic", content="", attachments=[created["id"]]))
    drain_inbox(world.conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)
    real_update = store.update_media

    def die_after_thumbnails(media_id, changes, **kw):
        if "processingSteps.thumbnails" in changes:
            raise SystemExit("SIGKILL")  # the renditions are in S3, the step is not recorded
        return real_update(media_id, changes, **kw)

    monkeypatch.setattr(store, "update_media", die_after_thumbnails)
    with pytest.raises(SystemExit):
        media.process_media(created["id"], world.io)
    monkeypatch.setattr(store, "update_media", real_update)
    result = media.process_media(created["id"], world.io)  # the redelivered task
    assert result.status == "ready" and result.ran == ["thumbnails"]
    keys = sorted(world.blobs.keys(f"media/{world.conv.id}/{created['id']}/"))
    assert [k.rsplit("/", 1)[1] for k in keys] == ["large.webp", "original", "small.webp"]
    doc = store.get_media(created["id"])  # the size recorded is the stored original's (stripped by the dead run)
    assert doc.fileSize == len(world.blobs._objects[doc.key][0]) and _gps(world.blobs._objects[doc.key][0]) == {}
    assert media.process_media(created["id"], world.io).ran == []  # and once more: nothing to do
    [(updated, _)] = emitter.of("message:updated")  # one message update, with the ready file
    assert updated["metadata"]["files"][0]["status"] == "ready"


def test_a_message_with_files_is_delivered_at_once_then_updated_when_ready(store, inbox, notifier, emitter, world):
    created = world.upload(photo_jpeg((640, 480), orientation=1), "image/jpeg")
    media.do_complete_upload(store, lambda m: None, world.alice, created["id"])
    submit_message(store, inbox, lambda c: None, world.alice, MessageSend(
        convId=world.conv.id, clientId="pic", content="", attachments=[created["id"]]))
    drain_inbox(world.conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)
    [(new, room)] = emitter.of("message:new")
    assert room == f"conv:{world.conv.id}" and new["type"] == "image" and new["content"] == ""
    assert new["metadata"]["files"][0]["status"] == "processing"
    media.process_media(created["id"], world.io)
    [(updated, _)] = emitter.of("message:updated")  # one update, when the files are ready
    [summary] = updated["metadata"]["files"]
    assert summary["status"] == "ready" and set(summary["variants"]) == {"small", "large"}
    assert summary["dimensions"] == {"width": 640, "height": 480}


def test_bad_input_gets_a_specific_error_and_changes_nothing(store, inbox, world):
    def create(**kw):
        body = {"convId": world.conv.id, "filename": "f.jpg", "size": 10, "mimeType": "image/jpeg", **kw}
        who = body.pop("who", world.alice)
        return media.do_create_upload(store, world.blobs, LIMITS, who, UploadCreate(**body))

    for kw, code in [({"size": 51 << 20}, Code.FILE_TOO_LARGE), ({"mimeType": "application/x-msdownload"},
                     Code.UNSUPPORTED_TYPE), ({"mimeType": "application/postscript"}, Code.UNSUPPORTED_TYPE),
                     ({"who": world.eve}, Code.NOT_A_MEMBER)]:
        with pytest.raises(ApiError) as err:
            create(**kw)
        assert err.value.code == code, kw
    store.upload_usage.update_one({"_id": world.alice.id}, {"$set": {"bytes": 55 << 20}}, upsert=True)
    with pytest.raises(ApiError) as err:
        create(size=10 << 20)
    assert (err.value.code, err.value.status) == (Code.QUOTA_EXCEEDED, 413)
    store.upload_usage.update_one({"_id": world.alice.id}, {"$set": {"bytes": 0}})
    assert store.media.count_documents({}) == 0 and list(world.blobs.multipart_uploads()) == []

    created = world.upload(b"x" * 10, "text/plain", name="a.txt")
    for call, code in [(lambda: media.part_urls(store, world.blobs, LIMITS, world.alice, created["id"], [0, 2]),
                        Code.INVALID_PART),
                       (lambda: media.part_urls(store, world.blobs, LIMITS, world.bob, created["id"], [1]), Code.FORBIDDEN),
                       (lambda: media.do_complete_upload(store, lambda m: None, world.bob, created["id"]), Code.FORBIDDEN)]:
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.code == code
    world.finish(created["id"])
    with pytest.raises(ApiError) as err:  # twice
        media.do_complete_upload(store, lambda m: None, world.alice, created["id"])
    assert err.value.code == Code.ALREADY_COMPLETED

    mine_elsewhere = world.upload(b"y", "text/plain", name="b.txt", conv_id=world.other.id)
    for who, ids, code in [(world.bob, [created["id"]], Code.INVALID_ATTACHMENT),
                           (world.alice, [mine_elsewhere["id"]], Code.INVALID_ATTACHMENT),
                           (world.alice, ["0" * 24], Code.NOT_FOUND)]:
        with pytest.raises(ApiError) as err:
            submit_message(store, inbox, lambda c: None, who, MessageSend(convId=world.conv.id, clientId="c",
                                                                          attachments=ids))
        assert err.value.code == code
    assert inbox.pending(world.conv.id) == 0


def test_non_members_get_nothing_of_a_file(store, world):
    created = world.upload(photo_jpeg((300, 200)), "image/jpeg")
    world.finish(created["id"])
    for call in (lambda: media.get_media(store, world.eve, created["id"]),
                 lambda: media.content_url(store, world.blobs, LIMITS, world.eve, created["id"], "small"),
                 lambda: media.gallery(store, world.eve, world.conv.id, None, media.IdPage(None, 10)),
                 lambda: media.do_like(store, world.eve, created["id"], True)):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.code == Code.FORBIDDEN
    url = media.content_url(store, world.blobs, LIMITS, world.bob, created["id"], "small")
    assert url.startswith("memory://")


def test_a_file_is_saved_without_its_path_control_characters_or_a_header_of_its_own(store, world):
    name = 'C:\\fakepath\\a"b\r\nX-Evil: 1\u202egpj.exe.jpg'   # the override shows "...exe.jpg" as "...gpj.exe"
    created = world.upload(photo_jpeg((300, 200)), "image/jpeg", name=name)
    world.finish(created["id"])
    stored = store.get_media(created["id"])
    assert stored.filename == "a_b X-Evil_ 1gpj.exe.jpg" and stored.originalFilename == name
    for variant, saved in [("original", "a_b X-Evil_ 1gpj.exe.jpg"), ("small", "a_b X-Evil_ 1gpj.exe-small.webp")]:
        url = media.content_url(store, world.blobs, LIMITS, world.bob, created["id"], variant)
        disposition = parse_qs(urlsplit(url).query)["response-content-disposition"][0]
        assert disposition == f"inline; filename=\"{saved}\"; filename*=UTF-8''{quote(saved, safe='')}"


def test_gallery_albums_likes_comments(store, world):
    ids = [world.upload(photo_jpeg((200, 150)), "image/jpeg")["id"] for _ in range(2)]
    doc_id = world.upload(b"%PDF-1.4\n", "application/pdf", name="doc.pdf")["id"]
    for i in ids + [doc_id]:
        world.finish(i)
    page = media.gallery(store, world.bob, world.conv.id, None, media.IdPage(None, 10))
    assert [m["id"] for m in page["media"]] == [doc_id, *reversed(ids)]
    images = media.gallery(store, world.bob, world.conv.id, "image", media.IdPage(None, 1))
    assert [m["id"] for m in images["media"]] == [ids[1]] and images["hasMore"]
    album = media.do_create_album(store, world.bob, world.conv.id, AlbumCreate(name="Vacances"))
    for i in ids:
        album = media.do_add_to_album(store, world.bob, album.id, i)
    assert (album.mediaCount, album.coverMediaId, album.mediaTypes) == (2, ids[0], ["image"])
    assert album.totalSize == sum(store.get_media(i).fileSize for i in ids)
    with pytest.raises(ApiError) as err:
        media.do_add_to_album(store, world.bob, album.id, ids[0])
    assert err.value.code == Code.CONFLICT
    liked = media.do_like(store, world.bob, ids[0], True)
    assert media.do_like(store, world.bob, ids[0], True)["likeCount"] == liked["likeCount"] == 1
    assert media.do_like(store, world.bob, ids[0], False)["likeCount"] == 0
    media.do_comment(store, world.bob, ids[0], "Belle photo !")
    assert [c.content for c in store.get_media(ids[0]).comments] == ["Belle photo !"]


def test_cleanup_aborts_abandoned_uploads_and_deletes_orphans(store, world):
    abandoned = world.upload(b"z" * 100, "text/plain", name="z.txt", parts=[])
    finished = world.upload(b"ok", "text/plain", name="ok.txt")
    world.finish(finished["id"])
    world.blobs.put_bytes(f"media/{world.conv.id}/{'f' * 24}/original", b"orphan", "text/plain")
    later = utcnow() + timedelta(hours=2)
    report = media.do_cleanup(store, world.blobs, now=later)
    assert report["aborted"] >= 1 and report["orphanObjects"] == 1
    assert list(world.blobs.multipart_uploads()) == [] and store.get_media(abandoned["id"]) is None
    assert list(world.blobs.keys("media/")) == [store.get_media(finished["id"]).key]
    assert media.do_cleanup(store, world.blobs, now=later) == {"aborted": 0, "expiredRecords": 0, "orphanObjects": 0}
