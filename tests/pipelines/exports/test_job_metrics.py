"""The export job's metrics: a run that stores its file timed by format (a redelivery that does nothing is
not); each failure counted once by its code, whether the job failed it or the sweeper did."""
from __future__ import annotations

import pytest

from infra.blobs import StorageUnavailable
from pipelines.exports.cleanup import do_fail_stale
from schemas.common import utcnow
from tests.metric_samples import sample
from tests.pipelines.exports.world import w  # noqa: F401 - w: the fixture


def jobs(fmt: str) -> float:
    return sample("chat_export_job_seconds_count", format=fmt)


def failures(code: str) -> float:
    return sample("chat_export_failures_total", code=code)


def test_each_file_made_is_timed_by_format_once(w, store):
    csv, json_ = jobs("csv"), jobs("json")
    job = w.request(format="csv")
    assert w.run(job.id).status == "done"
    assert not w.run(job.id).ran   # a redelivery: nothing made, nothing timed
    assert w.run(w.request(format="json").id).status == "done"
    assert (jobs("csv") - csv, jobs("json") - json_) == (1, 1)


def test_a_transient_error_counts_nothing_a_permanent_one_its_code(w, store, monkeypatch):
    job = w.request(format="csv")
    failed, csv = failures("export_failed"), jobs("csv")
    w.blobs.unavailable = True
    with pytest.raises(StorageUnavailable):
        w.run(job.id)
    w.blobs.unavailable = False
    assert (failures("export_failed"), jobs("csv")) == (failed, csv)   # the task retries

    def broken(*_a, **_k):
        raise ValueError("disk on fire")
    monkeypatch.setattr("pipelines.exports.job.write_export", broken)
    monkeypatch.setattr("pipelines.exports.job.write_to_file", broken)
    assert w.run(job.id).status == "failed"
    assert (failures("export_failed"), jobs("csv")) == (failed + 1, csv)


def test_the_sweepers_end_counts_its_code_once(w, store):
    job = w.request(format="pdf")
    stalled = failures("export_not_started")
    export = store.exports.get_export(job.id)
    assert do_fail_stale(store, w.blobs, w.io.notifier, export, "export_not_started", "not started", utcnow())
    assert do_fail_stale(store, w.blobs, w.io.notifier, export, "export_not_started", "not started", utcnow()) is None
    assert failures("export_not_started") == stalled + 1
