"""pipelines/exports/cleanup.py: expired exports answer 410, before and after the clean-up."""
from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines.exports.cleanup import do_expire
from pipelines.exports.requests import download_url, get_export
from schemas.common import utcnow
from schemas.errors import ApiError, Code
from tests.pipelines.exports.world import SETTINGS, w  # noqa: F401 - w: the fixture


def test_expired_exports_are_410_before_and_after_the_clean_up(w, store):
    job = w.request(format="csv")
    w.run(job.id)
    url = download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    assert "attachment" in url and "general%20export" in url
    store.db.exports.update_one({"_id": job.id}, {"$set": {"expiresAt": utcnow() - timedelta(seconds=1)}})
    assert get_export(store, w.alice, job.id)["status"] == "expired"  # before the beat ran
    with pytest.raises(ApiError) as expired:
        download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    assert expired.value.code == Code.EXPIRED and expired.value.status == 410
    assert do_expire(store, w.blobs) == {"expired": 1}
    assert list(w.blobs.keys("exports/")) == [] and store.exports.get_export(job.id).status == "expired"
    with pytest.raises(ApiError) as still:
        download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    assert still.value.code == Code.EXPIRED
