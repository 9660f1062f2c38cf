"""pipelines/media/job.py without S3, Celery or a server: the steps of a file's processing, each recorded,
what is refused, a worker that dies mid-way."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from bench.thumbnails import photo_jpeg
from infra.executor import DirectExecutor
from pipelines.media import job, uploads
from pipelines.messages.drain import drain_inbox
from pipelines.messages.submit import submit_message
from schemas.payloads import MessageSend
from tests.pipelines.media.samples import png_header
from tests.pipelines.media.world import Scanner, gps_of, world  # noqa: F401 - world: the fixture


def test_an_image_is_completed_verified_scanned_and_rendered_without_gps(store, emitter, world):
    data = photo_jpeg((1600, 1200), orientation=6)
    assert gps_of(data)  # the phone's photo has its location
    created = world.upload(data, "image/jpeg")
    result = world.finish(created["id"])

    assert result.status == "ready" and result.ran == ["upload", "verification", "virusScan", "metadata", "thumbnails"]
    doc = store.media.get_media(created["id"])
    assert {n: s.status for n, s in doc.processingSteps.items()} == {
        "upload": "done", "verification": "done", "virusScan": "done", "metadata": "done", "thumbnails": "done"}
    assert doc.processingSteps["virusScan"].result == "clean" and world.scanner.scanned == len(data)
    assert doc.metadata["dimensions"] == {"width": 1200, "height": 1600}  # orientation 6 applied
    assert set(doc.variants) == {"small", "large"}
    for v in doc.variants.values():
        stored = world.blobs._objects[v.key][0]
        assert gps_of(stored) == {} and max(Image.open(io.BytesIO(stored)).size) <= (320 if "small" in v.key else 1280)
    original = world.blobs._objects[doc.key][0]
    assert gps_of(original) == {} and Image.open(io.BytesIO(original)).size == (1600, 1200)
    statuses = [d["status"] for d, room in emitter.of("media:updated")]
    assert statuses[-1] == "ready" and {room for _, room in emitter.of("media:updated")} == {f"user:{world.alice.id}"}


def test_each_step_and_each_record_of_it_gives_way_to_the_loop_first(store, world):
    """The executor's give_way (infra.embedded.priority in the embedded default): chat goes first; the task's
    slices on the loop wait for a free moment."""
    calls = []

    class GivingWay(DirectExecutor):
        def give_way(self) -> None:
            calls.append(store.media.get_media(created["id"]).processingSteps)
    world.io.executor = GivingWay()
    created = world.upload(photo_jpeg((400, 300)), "image/jpeg")
    assert world.finish(created["id"]).status == "ready"
    # Once at the start, before and after each of the five steps, and before the media is marked ready.
    assert len(calls) == 1 + 2 * 5 + 1
    assert [n for n, s in calls[-1].items() if s.status == "done"] == list(calls[-1])  # the last, after them all


def test_a_group_that_keeps_originals_keeps_their_exif(store, world):
    store.groups.set_group_settings(world.conv.groupId, {"keepOriginalMetadata": True})
    data = photo_jpeg((800, 600))
    created = world.upload(data, "image/jpeg")
    world.finish(created["id"])
    doc = store.media.get_media(created["id"])
    assert world.blobs._objects[doc.key][0] == data
    assert all(gps_of(world.blobs._objects[v.key][0]) == {} for v in doc.variants.values())  # thumbnails never


@pytest.mark.parametrize("case", ["short", "not_a_png", "bomb"])
def test_a_file_that_is_not_what_it_claims_is_refused_and_removed(store, emitter, world, case):
    if case == "short":
        data, mime = photo_jpeg((400, 300)), "image/jpeg"
        created = world.upload(data, mime)
        store.db.uploads.update_one({"_id": created["id"]}, {"$set": {"size": len(data) + 10}})
        store.db.media.update_one({"_id": created["id"]}, {"$set": {"fileSize": len(data) + 10}})
        store.db.upload_usage.update_one({"_id": world.alice.id}, {"$inc": {"bytes": 10},
                                                                "$set": {f"open.{created['id']}": len(data) + 10}})
    elif case == "not_a_png":
        created = world.upload(b"#!/bin/sh\nrm -rf /\n" * 10, "image/png", name="cat.png")
    else:  # a PNG header of under 80 bytes announcing 20000 x 20000 = 400 megapixels
        created = world.upload(png_header(20000, 20000), "image/png", name="bomb.png")
    result = world.finish(created["id"])
    doc = store.media.get_media(created["id"])
    expected = {"short": "size_mismatch", "not_a_png": "type_mismatch", "bomb": "too_many_pixels"}[case]
    assert result.status == "failed" and doc.error["code"] == expected and doc.error["message"]
    assert list(world.blobs.keys(f"media/{world.conv.id}/{created['id']}/")) == []  # nothing left in S3
    assert doc.variants == {} and emitter.of("media:updated")[-1][0]["status"] == "failed"
    assert store.db.upload_usage.find_one({"_id": world.alice.id})["bytes"] == 0  # the quota came back


def test_an_infected_file_is_quarantined_and_deleted(store, world):
    world.io.scanner = Scanner(infected=True)
    created = world.upload(b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*", "text/plain",
                           name="eicar.txt")
    result = world.finish(created["id"])
    doc = store.media.get_media(created["id"])
    assert result.status == "quarantined" and doc.error["code"] == "infected" and "Eicar" in doc.error["message"]
    assert list(world.blobs.keys("media/")) == []


def test_without_a_scanner_the_step_says_skipped_never_clean(store, world):
    world.io.scanner = None
    created = world.upload(b"hello\n", "text/plain", name="a.txt")
    world.finish(created["id"])
    step = store.media.get_media(created["id"]).processingSteps["virusScan"]
    assert step.status == "skipped" and step.result != "clean"


@pytest.mark.parametrize("orientation", [6, 1])  # 1: the stripped original needs no Orientation tag
def test_a_worker_that_dies_mid_way_finishes_with_one_set_of_thumbnails(store, inbox, notifier, emitter, world,
                                                                        monkeypatch, orientation):
    created = world.upload(photo_jpeg((1000, 800), orientation=orientation), "image/jpeg")
    uploads.do_complete_upload(store, lambda m: None, world.alice, created["id"])
    submit_message(store, inbox, lambda c: None, world.alice, MessageSend(
        convId=world.conv.id, clientId="pic", content="", attachments=[created["id"]]))
    drain_inbox(world.conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)
    real_update = store.media.update_media

    def die_after_thumbnails(media_id, changes, **kw):
        if "processingSteps.thumbnails" in changes:
            raise SystemExit("SIGKILL")  # the renditions are in S3, the step is not recorded
        return real_update(media_id, changes, **kw)

    monkeypatch.setattr(store.media, "update_media", die_after_thumbnails)
    with pytest.raises(SystemExit):
        job.process_media(created["id"], world.io)
    monkeypatch.setattr(store.media, "update_media", real_update)
    result = job.process_media(created["id"], world.io)  # the redelivered task
    assert result.status == "ready" and result.ran == ["thumbnails"]
    keys = sorted(world.blobs.keys(f"media/{world.conv.id}/{created['id']}/"))
    assert [k.rsplit("/", 1)[1] for k in keys] == ["large.webp", "original", "small.webp"]
    doc = store.media.get_media(created["id"])  # the size recorded is the stored original's (stripped by the dead run)
    assert doc.fileSize == len(world.blobs._objects[doc.key][0]) and gps_of(world.blobs._objects[doc.key][0]) == {}
    assert job.process_media(created["id"], world.io).ran == []  # and once more: nothing to do
    [(updated, _)] = emitter.of("message:updated")  # one message update, with the ready file
    assert updated["metadata"]["files"][0]["status"] == "ready"
