"""The one lease helper, on the embedded store: claim, a second claim refused, renew and finish by the
owner only, release, and the take-over of a lease that ran out; in both shapes the jobs store."""
from __future__ import annotations

from datetime import timedelta

import pytest

from infra.embedded.mongo import embedded_client
from infra.storage.lease import Lease
from schemas.common import new_id, utcnow

SHAPES = {
    "flat": {},                                                        # claimToken / claimedUntil
    "nested": {"token": "owner", "until": "until", "within": "lease"},  # an export's lease: {owner, until}
}


@pytest.fixture(params=list(SHAPES))
def lease(request) -> Lease:
    collection = embedded_client()["lease_test"][f"jobs_{new_id()}"]
    return Lease(collection, **SHAPES[request.param])


def _insert(lease: Lease) -> str:
    job_id = new_id()
    lease.collection.insert_one({"_id": job_id, "status": "queued", "attempts": 0, **lease.ended()})
    return job_id


def _claimable(lease: Lease, job_id: str, now) -> dict:
    """Queued, or running with a lease that ran out (the callers' own filters have this shape)."""
    return {"_id": job_id, "$or": [{"status": "queued"}, {"status": "running", **lease.ran_out(now)}]}


def test_claim_records_the_owner_the_end_and_the_attempt(lease):
    job_id, now = _insert(lease), utcnow()
    doc = lease.claim(_claimable(lease, job_id, now), "a", now + timedelta(seconds=30),
                      changes={"status": "running"})
    assert doc["status"] == "running" and doc["attempts"] == 1
    assert lease.collection.find_one(lease.owned({"_id": job_id}, "a")) is not None


def test_a_live_lease_cannot_be_claimed_twice(lease):
    job_id, now = _insert(lease), utcnow()
    assert lease.claim(_claimable(lease, job_id, now), "a", now + timedelta(seconds=30),
                       changes={"status": "running"}) is not None
    assert lease.claim(_claimable(lease, job_id, now), "b", now + timedelta(seconds=30),
                       changes={"status": "running"}) is None
    assert lease.collection.find_one({"_id": job_id})["attempts"] == 1


def test_renew_and_finish_by_another_owner_are_refused(lease):
    job_id, now = _insert(lease), utcnow()
    lease.claim(_claimable(lease, job_id, now), "a", now + timedelta(seconds=30), changes={"status": "running"})
    running = {"_id": job_id, "status": "running"}
    assert lease.renew(running, "b", now + timedelta(minutes=5)) is False
    assert lease.finish(running, "b", {"status": "done"}) is False
    assert lease.finish_and_read(running, "b", {"status": "done"}) is None
    assert lease.release(running, "b", {"status": "queued"}) is False
    assert lease.drop(running, "b") is False
    assert lease.collection.find_one({"_id": job_id})["status"] == "running"
    assert lease.renew(running, "a", now + timedelta(minutes=5)) is True
    assert lease.finish(running, "a", {"status": "done", **lease.ended()}) is True
    assert lease.collection.find_one({"_id": job_id})["status"] == "done"


def test_a_lease_that_ran_out_is_taken_over_and_the_old_owner_is_locked_out(lease):
    job_id, now = _insert(lease), utcnow()
    lease.claim(_claimable(lease, job_id, now), "dead", now + timedelta(seconds=30), changes={"status": "running"})
    later = now + timedelta(minutes=1)
    taken = lease.claim(_claimable(lease, job_id, later), "alive", later + timedelta(seconds=30),
                        changes={"status": "running"})
    assert taken is not None and taken["attempts"] == 2
    running = {"_id": job_id, "status": "running"}
    assert lease.renew(running, "dead", later + timedelta(minutes=5)) is False
    assert lease.finish(running, "dead", {"status": "done"}) is False
    assert lease.finish(running, "alive", {"status": "done"}) is True


def test_release_ends_the_lease_and_the_job_can_be_claimed_again(lease):
    job_id, now = _insert(lease), utcnow()
    lease.claim(_claimable(lease, job_id, now), "a", now + timedelta(seconds=30), changes={"status": "running"})
    assert lease.release({"_id": job_id, "status": "running"}, "a", {"status": "queued"}) is True
    assert lease.claim(_claimable(lease, job_id, now), "b", now + timedelta(seconds=30),
                       changes={"status": "running"})["attempts"] == 2


def test_free_matches_no_lease_or_one_that_ran_out(lease):
    now = utcnow()
    never, expired, live = _insert(lease), _insert(lease), _insert(lease)
    lease.collection.update_one({"_id": expired}, {"$set": lease.held("x", now - timedelta(seconds=1))})
    lease.collection.update_one({"_id": live}, {"$set": lease.held("y", now + timedelta(seconds=30))})
    assert {d["_id"] for d in lease.collection.find(lease.free(now))} == {never, expired}


def test_claim_as_read_says_whether_it_won(lease):
    job_id, now = _insert(lease), utcnow()
    assert lease.claim_as_read({"_id": job_id, "status": "queued"}, "a", now, changes={"status": "running"}) is True
    assert lease.claim_as_read({"_id": job_id, "status": "queued"}, "b", now, changes={"status": "running"}) is False
