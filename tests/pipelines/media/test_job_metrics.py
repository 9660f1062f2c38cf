"""The media job's metrics: each run that ends a file timed by kind of file; each failure counted by its code,
whether a step refused the file, a step raised, or the sweeper ended it; a transient error counts neither."""
from __future__ import annotations

import pytest

from bench.thumbnails import photo_jpeg
from infra.blobs import StorageUnavailable
from pipelines.media import job
from tests.metric_samples import sample
from tests.pipelines.media.samples import png_header
from tests.pipelines.media.world import Scanner, world  # noqa: F401 - world: the fixture


def jobs(kind: str) -> float:
    return sample("chat_media_job_seconds_count", kind=kind)


def failures(code: str) -> float:
    return sample("chat_media_failures_total", code=code)


def test_a_ready_image_and_a_ready_text_file_are_timed_by_their_kind(world):
    image, other = jobs("image"), jobs("other")
    assert world.finish(world.upload(photo_jpeg((400, 300)), "image/jpeg")["id"]).status == "ready"
    assert world.finish(world.upload(b"hello\n", "text/plain", name="a.txt")["id"]).status == "ready"
    assert (jobs("image") - image, jobs("other") - other) == (1, 1)
    again = jobs("image")
    world.finish(world.upload(photo_jpeg((400, 300)), "image/jpeg")["id"])
    assert jobs("image") == again + 1


def test_refusals_count_their_code_and_the_run_is_timed(world):
    refused, infected, image = failures("too_many_pixels"), failures("infected"), jobs("image")
    result = world.finish(world.upload(png_header(20000, 20000), "image/png", name="bomb.png")["id"])
    assert result.status == "failed" and failures("too_many_pixels") == refused + 1
    world.io.scanner = Scanner(infected=True)
    assert world.finish(world.upload(b"EICAR", "text/plain", name="e.txt")["id"]).status == "quarantined"
    assert failures("infected") == infected + 1
    assert jobs("image") == image + 1


def test_an_unexpected_exception_counts_processing_failed_and_a_transient_one_nothing(world, monkeypatch):
    created = world.upload(b"hello\n", "text/plain", name="a.txt")
    failed, other = failures("processing_failed"), jobs("other")

    def away(*_):
        raise StorageUnavailable("S3 away")
    monkeypatch.setattr(job, "STEPS", [("upload", away), *job.STEPS[1:]])
    with pytest.raises(StorageUnavailable):
        world.finish(created["id"])
    assert (failures("processing_failed"), jobs("other")) == (failed, other)   # the task retries: nothing ended

    def bug(*_):
        raise ZeroDivisionError("a bug")
    monkeypatch.setattr(job, "STEPS", [("upload", bug), *job.STEPS[1:]])
    assert job.process_media(created["id"], world.io).status == "failed"
    assert (failures("processing_failed"), jobs("other")) == (failed + 1, other + 1)


def test_the_sweepers_end_counts_its_code_once(store, world):
    created = world.upload(b"hello\n", "text/plain", name="a.txt")
    store.db.media.update_one({"_id": created["id"]}, {"$set": {"status": "processing"}})
    timeouts = failures("processing_timeout")
    media = store.media.get_media(created["id"])
    assert job.do_fail_stale(world.io, media, "processing_timeout", "no step done in 30 min") is not None
    assert job.do_fail_stale(world.io, media, "processing_timeout", "no step done in 30 min") is None  # moved
    assert failures("processing_timeout") == timeouts + 1


def test_the_kind_label_names_pdfs_apart_from_other_documents():
    class M:
        def __init__(self, file_type, mime):
            self.fileType, self.mimeType = file_type, mime
    assert [job.media_kind(M(*a)) for a in (("image", "image/png"), ("video", "video/mp4"), ("audio", "audio/ogg"),
                                            ("document", "application/pdf"), ("document", "text/plain"))] == [
        "image", "video", "audio", "pdf", "other"]
