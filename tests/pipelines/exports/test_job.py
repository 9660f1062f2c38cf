"""pipelines/exports/job.py: redelivery, the lease, a takeover, cancelling a running job, failures, progress."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from infra.blobs import StorageUnavailable
from pipelines.exports.requests import do_cancel_export, get_export
from pipelines.upkeep import sweeper
from schemas.common import utcnow
from tests.pipelines.exports.world import insert_message, w  # noqa: F401 - w: the fixture


def test_a_redelivered_task_makes_one_file_and_one_ready_event(w, store):
    job = w.request(format="csv")
    assert w.run(job.id).ran
    assert not w.run(job.id).ran and not w.run(job.id).ran
    assert len(w.emitter.of("export:ready")) == 1
    assert list(w.blobs.keys("exports/")) == [f"exports/{job.id}/export.csv"]
    assert list(w.blobs.multipart_uploads("exports/")) == []


def test_a_live_lease_is_not_run_twice_at_once(w, store):
    job = w.request(format="json")
    now = utcnow()
    assert store.exports.claim_export(job.id, "other-worker", now, now + timedelta(seconds=60)) is not None
    result = w.run(job.id)
    assert not result.ran and "live lease" in result.reason
    assert list(w.blobs.keys("exports/")) == [] and store.exports.get_export(job.id).lease.owner == "other-worker"


def test_a_job_whose_worker_died_is_taken_over_and_restarts_its_file(w, store):
    job = w.request(format="json")
    now = utcnow()
    store.exports.claim_export(job.id, "dead-worker", now - timedelta(minutes=5), now - timedelta(minutes=4))
    dead_upload = w.blobs.create_multipart(f"exports/{job.id}/export.json", "application/json")
    w.blobs.upload_part(f"exports/{job.id}/export.json", dead_upload, 1, b"x" * (5 << 20))
    store.db.exports.update_one({"_id": job.id}, {"$set": {"uploadId": dead_upload}})
    result = w.run(job.id)
    assert result.status == "done"
    assert list(w.blobs.multipart_uploads("exports/")) == []  # the dead worker's upload was aborted
    assert len(json.loads(w.file_of(job.id))["messages"]) == w.last
    assert store.exports.get_export(job.id).attempts == 2


def _big(w, store, n=1200):
    """Enough text for several 5 MiB parts (a real multipart upload)."""
    for i in range(n):
        insert_message(store, w.conv, w.last + 1 + i, w.bob, "lorem ipsum " * 800)


def test_cancel_while_running_leaves_nothing_behind(w, store, monkeypatch):
    _big(w, store)
    job = w.request(format="json")
    original = store.messages.message_window
    calls = []

    def window(*a, **k):
        calls.append(1)
        if len(calls) == 22:  # mid-way (of 27 windows), after parts have been uploaded (when read here)
            assert bool(list(w.blobs.multipart_uploads("exports/"))) is (w.walk == "here")
            do_cancel_export(store, w.blobs, w.alice, job.id)
            monkeypatch.setattr("pipelines.exports.job.PROGRESS_SECONDS", 0)  # the next window's heartbeat sees it
        return original(*a, **k)

    monkeypatch.setattr(store.messages, "message_window", window)
    result = w.run(job.id)
    assert result.status == "cancelled"
    assert list(w.blobs.keys("exports/")) == [] and list(w.blobs.multipart_uploads("exports/")) == []
    e = store.exports.get_export(job.id)
    assert e.status == "cancelled" and e.key is None and e.size is None
    assert w.emitter.of("export:ready") == []


def test_a_failure_aborts_the_upload_and_ends_failed_with_a_reason(w, store, monkeypatch):
    _big(w, store)
    job = w.request(format="json")
    parts = []
    original = w.blobs.upload_part

    def upload_part(key, upload_id, n, data):
        parts.append(n)
        if n == 2:
            raise ValueError("disk on fire")
        return original(key, upload_id, n, data)

    monkeypatch.setattr(w.blobs, "upload_part", upload_part)
    result = w.run(job.id)
    assert result.status == "failed" and parts == [1, 2]
    e = store.exports.get_export(job.id)
    assert e.error["code"] == "export_failed" and "disk on fire" in e.error["message"]
    assert list(w.blobs.multipart_uploads("exports/")) == [] and list(w.blobs.keys("exports/")) == []
    [(failed, room)] = w.emitter.of("export:failed")
    assert failed["code"] == "export_failed" and room == f"user:{w.alice.id}"


def test_s3_away_is_retried_not_failed(w, store):
    job = w.request(format="csv")
    w.blobs.unavailable = True
    with pytest.raises(StorageUnavailable):
        w.run(job.id)
    assert store.exports.get_export(job.id).status == "queued"  # released for the retry
    w.blobs.unavailable = False
    assert w.run(job.id).status == "done"


def test_progress_is_recorded_and_sent(w, store, monkeypatch):
    monkeypatch.setattr("pipelines.exports.job.PROGRESS_SECONDS", 0)
    job = w.request(format="json")
    w.run(job.id)
    sent = [d for d, _ in w.emitter.of("export:progress")]
    assert sent and [d["progress"] for d in sent] == sorted(d["progress"] for d in sent)
    assert sent[-1]["total"] == w.last and all(0 <= d["progress"] <= 100 for d in sent)
    view = get_export(store, w.alice, job.id)
    assert view["status"] == "done" and view["progress"] == 100 and view["processed"] == w.last


def test_the_sweeper_queues_again_a_job_whose_worker_died(w, store):
    job = w.request()
    w.queued.clear()
    now = utcnow()
    store.exports.claim_export(job.id, "dead", now - timedelta(minutes=5), now - timedelta(minutes=4))
    report = sweeper.sweep_exports(store, w.blobs, w.io.notifier, w.queued.append, now=now,
                                   queued_timeout=timedelta(minutes=30))
    assert report.done == {"requeued": 1} and w.queued == [job.id]
