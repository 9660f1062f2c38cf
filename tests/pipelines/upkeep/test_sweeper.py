"""pipelines.sweeper and the bounded ends of every job: a fault injected at each step (an exception nobody
expected, a worker stopped right after its record write, an enqueue that fails, retries that run out), then
the sweeper with a clock past the bound: the final state, the reason the user sees, and the quota."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bench.thumbnails import photo_jpeg
from infra.blobs import StorageUnavailable
from infra.scanner import ScanError
from infra.executor import DirectExecutor
from pipelines.exports.cleanup import do_fail_stale as fail_stale_export
from pipelines.exports.job import MAX_ATTEMPTS, ExportIO, run_export
from pipelines.exports.requests import do_request_export
from pipelines.media import cleanup as media_cleanup
from pipelines.media import job as media_job
from pipelines.media import uploads
from pipelines.notifications import stored as notifications
from pipelines.scheduling import scheduled as scheduling
from pipelines.upkeep import sweeper
from schemas.common import new_id, utcnow
from schemas.documents import ScheduledMessage
from schemas.errors import Code
from schemas.payloads import ExportCreate, UploadCreate
from tests.conftest import make_conversation, make_user
from tests.fakes import MemoryBlobs
from tests.pipelines.exports.world import SETTINGS
from tests.pipelines.media.world import LIMITS, world  # noqa: F401 - the media fixture

TIMEOUT = timedelta(minutes=30)


def usage(store, user):
    return store.db.upload_usage.find_one({"_id": user.id})


def sweep_media(world, now, queued=None):
    return sweeper.sweep_media(world.io, (queued if queued is not None else []).append, now=now,
                               processing_timeout=TIMEOUT, upload_ttl=LIMITS.upload_ttl).done


# -- media ------------------------------------------------------------------------------------------
class Boom(Exception):
    pass


def _raise(exc):
    def step(*args, **kwargs):
        raise exc
    return step


@pytest.mark.parametrize("step, exc, code", [
    ("upload", Boom("S3 answered something odd"), "processing_failed"),
    ("verification", Boom("a bug"), "processing_failed"),
    ("virusScan", ScanError("INSTREAM size limit exceeded. ERROR"), "scan_failed"),
    ("metadata", Boom("a parser crashed"), "processing_failed"),
    ("thumbnails", MemoryError("too big"), "processing_failed"),
])
def test_an_unexpected_exception_at_any_step_fails_the_file_with_its_reason_and_returns_the_quota_once(
        store, emitter, world, monkeypatch, step, exc, code):
    created = world.upload(photo_jpeg((400, 300)), "image/jpeg")
    steps = [(name, _raise(exc) if name == step else fn) for name, fn in media_job.STEPS]
    monkeypatch.setattr(media_job, "STEPS", steps)
    result = world.finish(created["id"])
    doc = store.media.get_media(created["id"])
    assert result.status == doc.status == "failed" and doc.error["code"] == code
    assert str(exc) in doc.error["message"] and doc.processingSteps[step].status == "failed"
    assert emitter.of("media:updated")[-1][0]["error"]["code"] == code
    assert usage(store, world.alice)["bytes"] == 0 and list(world.blobs.keys(f"media/{world.conv.id}/")) == []
    # A redelivered task, the sweeper and a second refusal all find it final: the quota came back once.
    assert media_job.process_media(created["id"], world.io).ran == []
    media_job._refuse(world.io, doc, media_job._Refused("failed", "x", "again"))
    assert sweep_media(world, utcnow() + 3 * TIMEOUT) == {} and usage(store, world.alice)["bytes"] == 0


def test_s3_refusing_a_part_too_small_fails_the_upload_step(store, world):
    """Two parts whose sizes add up to the declared size, the first under S3's 5 MiB minimum: the
    completion is refused (InvalidUpload, EntityTooSmall), and the file fails instead of staying processing."""
    size = 9 << 20
    created = uploads.do_create_upload(store, world.blobs, LIMITS, world.alice, UploadCreate(
        convId=world.conv.id, filename="big.bin", size=size, mimeType="application/pdf"))
    urls = uploads.part_urls(store, world.blobs, LIMITS, world.alice, created["id"], [1, 2])["urls"]
    world.blobs.accept_put(urls["1"], b"%PDF" + b"a" * ((1 << 20) - 4))
    world.blobs.accept_put(urls["2"], b"b" * (8 << 20))
    result = world.finish(created["id"])
    doc = store.media.get_media(created["id"])
    assert result.status == "failed" and doc.error["code"] == "upload_refused" and "EntityTooSmall" in doc.error["message"]
    assert usage(store, world.alice)["bytes"] == 0


def test_transient_failures_leave_it_to_the_retries_then_the_sweeper_queues_once_then_fails(store, emitter, world):
    created = world.upload(photo_jpeg((400, 300)), "image/jpeg")
    uploads.do_complete_upload(store, lambda m: None, world.alice, created["id"])
    world.blobs.unavailable = True   # S3 away at every retry, until the task's retries run out
    with pytest.raises(StorageUnavailable):
        media_job.process_media(created["id"], world.io)
    world.blobs.unavailable = False
    assert store.media.get_media(created["id"]).status == "processing"
    queued = []
    t0 = utcnow()
    assert sweep_media(world, t0 + TIMEOUT / 2, queued) == {}   # within the bound: left alone
    assert sweep_media(world, t0 + TIMEOUT * 1.1, queued) == {"requeued": 1} and queued == [created["id"]]
    # The requeued task is lost too: after another bound the file fails, with the reason.
    assert sweep_media(world, t0 + TIMEOUT * 1.5, queued) == {}
    assert sweep_media(world, t0 + TIMEOUT * 2.2, queued) == {"failed": 1}
    doc = store.media.get_media(created["id"])
    assert doc.status == "failed" and doc.error["code"] == "processing_timeout" and "30 min" in doc.error["message"]
    assert emitter.of("media:updated")[-1][0]["status"] == "failed"
    assert usage(store, world.alice) == {"_id": world.alice.id, "bytes": 0, "open": {}}
    # The late task finally runs: it finds the file failed and changes nothing (no second return).
    assert media_job.process_media(created["id"], world.io).ran == [] and usage(store, world.alice)["bytes"] == 0


def test_a_completion_that_died_before_enqueueing_is_swept_on(store, world):
    created = world.upload(photo_jpeg((400, 300)), "image/jpeg")

    def broken(media_id):
        raise ConnectionError("broker away")
    # The enqueue fails after the record was written: the client is still told "processing".
    assert uploads.do_complete_upload(store, broken, world.alice, created["id"])["status"] == "processing"
    queued = []
    assert sweep_media(world, utcnow() + TIMEOUT * 1.1, queued) == {"requeued": 1} and queued == [created["id"]]
    assert media_job.process_media(created["id"], world.io).status == "ready"
    assert usage(store, world.alice)["open"] == {} and usage(store, world.alice)["bytes"] > 0   # held: ready


def test_a_worker_killed_between_closing_the_upload_and_moving_the_file_on(store, world):
    created = world.upload(photo_jpeg((400, 300)), "image/jpeg")
    store.media.close_upload(created["id"], "completed", utcnow())   # ...and the web process died here
    queued = []
    assert sweep_media(world, utcnow() + TIMEOUT) == {}
    assert sweep_media(world, utcnow() + LIMITS.upload_ttl + TIMEOUT * 1.1, queued) == {"completed": 1}
    assert queued == [created["id"]] and store.media.get_media(created["id"]).status == "processing"


def test_an_abandoned_upload_whose_record_is_gone_returns_its_quota_once_whatever_races(store, world):
    created = world.upload(photo_jpeg((400, 300)), "image/jpeg")
    assert usage(store, world.alice)["bytes"] > 0
    store.media.delete_upload(created["id"])   # MongoDB's TTL index ran before the clean-up job did
    later = utcnow() + LIMITS.upload_ttl + TIMEOUT * 1.1
    assert sweep_media(world, later) == {"abandoned": 1}
    assert store.media.get_media(created["id"]) is None and usage(store, world.alice)["bytes"] == 0
    assert sweep_media(world, later) == {} and store.media.return_quota(world.alice.id, created["id"]) is False
    assert usage(store, world.alice)["bytes"] == 0


def test_cancel_and_clean_up_racing_on_one_upload_return_its_quota_once(store, world, monkeypatch):
    created = world.upload(photo_jpeg((400, 300)), "image/jpeg")
    store.db.uploads.update_one({"_id": created["id"]}, {"$set": {"expiresAt": utcnow() - timedelta(seconds=1)}})
    read = store.media.get_media

    def racing(media_id):   # the clean-up reads the file as uploading; the cancel lands right after
        doc = read(media_id)
        monkeypatch.setattr(store.media, "get_media", read)
        uploads.do_cancel_upload(store, world.blobs, world.alice, created["id"])
        return doc
    monkeypatch.setattr(store.media, "get_media", racing)
    media_cleanup.do_cleanup(store, world.blobs)
    assert store.media.get_media(created["id"]) is None and usage(store, world.alice)["bytes"] == 0


@pytest.mark.parametrize("fails", ["create_multipart", "insert_upload"])
def test_an_upload_whose_creation_fails_midway_returns_its_quota(store, world, monkeypatch, fails):
    owner = world.blobs if fails == "create_multipart" else store.media
    monkeypatch.setattr(owner, fails, _raise(ConnectionError("away")))
    with pytest.raises(ConnectionError):
        uploads.do_create_upload(store, world.blobs, LIMITS, world.alice, UploadCreate(
            convId=world.conv.id, filename="a.jpg", size=1000, mimeType="image/jpeg"))
    assert usage(store, world.alice) == {"_id": world.alice.id, "bytes": 0, "open": {}}


# -- exports ----------------------------------------------------------------------------------------
@pytest.fixture
def ex(store, notifier, emitter):
    alice = make_user(store, "alice")
    conv = make_conversation(store, [alice])

    class X:
        pass
    x = X()
    x.alice, x.conv, x.blobs, x.emitter, x.queued = alice, conv, MemoryBlobs(), emitter, []
    x.io = ExportIO(store=store, blobs=x.blobs, notifier=notifier, settings=SETTINGS,
                    executor=DirectExecutor(), part_size=5 << 20)
    x.sweep = lambda now: sweeper.sweep_exports(store, x.blobs, notifier, x.queued.append, now=now,
                                                queued_timeout=TIMEOUT).done
    x.request = lambda enqueue=x.queued.append: do_request_export(
        store, enqueue, SETTINGS, alice, conv.id, ExportCreate.model_validate({"format": "json"}))
    return x


def test_an_export_whose_enqueue_failed_is_queued_again_once_then_failed(store, ex):
    def broken(export_id):
        raise ConnectionError("broker away")
    job = ex.request(broken)
    assert job.status == "queued" and store.exports.get_export(job.id).status == "queued"   # stored, 202 all the same
    t0 = utcnow()
    assert ex.sweep(t0 + TIMEOUT / 2) == {}
    assert ex.sweep(t0 + TIMEOUT * 1.1) == {"requeued": 1} and ex.queued == [job.id]
    assert ex.sweep(t0 + TIMEOUT * 1.5) == {}            # the requeued task gets a bound of its own
    assert ex.sweep(t0 + TIMEOUT * 2.2) == {"failed": 1}  # lost as well
    done = store.exports.get_export(job.id)
    assert done.status == "failed" and done.error["code"] == "export_not_started" and done.finishedAt
    [(event, room)] = ex.emitter.of("export:failed")
    assert event["code"] == "export_not_started" and room == f"user:{ex.alice.id}"
    assert run_export(job.id, ex.io).ran is False   # a late task: nothing to do


def test_a_requeued_export_that_runs_finishes_and_the_sweeper_leaves_it(store, ex):
    job = ex.request(lambda _: None)
    assert ex.sweep(utcnow() + TIMEOUT * 1.1) == {"requeued": 1}
    assert run_export(job.id, ex.io).status == "done"
    assert ex.sweep(utcnow() + TIMEOUT * 5) == {} and store.exports.get_export(job.id).status == "done"


def test_retries_that_ran_out_leave_it_queued_and_the_sweeper_ends_it(store, ex):
    job = ex.request()
    ex.blobs.unavailable = True
    with pytest.raises(StorageUnavailable):   # Celery would retry this; say its retries all ran out
        run_export(job.id, ex.io)
    assert store.exports.get_export(job.id).status == "queued"   # (and S3 is still away when the sweeper ends it)
    ex.sweep(utcnow() + TIMEOUT * 1.1)
    assert ex.sweep(utcnow() + TIMEOUT * 2.2) == {"failed": 1} and store.exports.get_export(job.id).status == "failed"


def test_a_running_export_whose_worker_died_at_its_last_attempt_fails_at_once(store, ex):
    job = ex.request()
    now = utcnow()
    store.db.exports.update_one({"_id": job.id}, {"$set": {"attempts": MAX_ATTEMPTS - 1}})
    store.exports.claim_export(job.id, "dead", now - timedelta(minutes=5), now - timedelta(minutes=4))
    assert ex.sweep(now) == {"failed": 1}
    done = store.exports.get_export(job.id)
    assert done.error["code"] == "too_many_attempts" and done.lease is None


def test_the_sweeper_never_takes_a_job_from_a_live_worker(store, ex):
    job = ex.request()
    now = utcnow()
    store.exports.claim_export(job.id, "alive", now, now + timedelta(minutes=1))
    assert ex.sweep(now + timedelta(seconds=30)) == {} and store.exports.get_export(job.id).status == "running"
    # Between the sweeper's read and its write the worker renews: the conditional update loses.
    [stale] = store.exports.exports_with_stale_lease(now + timedelta(minutes=2), 10)
    store.exports.renew_export(job.id, "alive", now + timedelta(minutes=3), {"updatedAt": utcnow()})
    assert fail_stale_export(store, ex.blobs, ex.io.notifier, stale, "x", "y", now) is None
    assert store.exports.get_export(job.id).status == "running"


# -- scheduled messages -------------------------------------------------------------------------------
def _scheduled(store, conv, user, send_at, **fields):
    item = ScheduledMessage(id=new_id(), convId=conv.id, senderId=user.id, clientId=new_id(), content="later",
                            sendAt=send_at, createdAt=send_at, updatedAt=send_at, **fields)
    store.scheduled.insert_scheduled(item)
    return item


def test_scheduled_messages_no_dispatcher_reached_are_failed_with_a_notification(store, notifier, emitter):
    alice = make_user(store, "alice")
    conv = make_conversation(store, [alice])
    now = utcnow()
    bound = timedelta(minutes=7)
    pending = _scheduled(store, conv, alice, now - bound - timedelta(seconds=1))
    dead = _scheduled(store, conv, alice, now - bound - timedelta(seconds=2), status="claimed", claimToken="t",
                      claimedUntil=now - timedelta(minutes=1))
    live = _scheduled(store, conv, alice, now - bound - timedelta(seconds=3), status="claimed", claimToken="u",
                      claimedUntil=now + timedelta(minutes=1))
    recent = _scheduled(store, conv, alice, now - timedelta(minutes=1))
    told = []
    report = sweeper.sweep_scheduled(store, notifier, told.append, now=now, bound=bound)
    assert report.done == {"failed": 2}
    assert [store.scheduled.get_scheduled(i.id).status for i in (pending, dead, live, recent)] == [
        "failed", "failed", "claimed", "pending"]
    assert store.scheduled.get_scheduled(pending.id).error["code"] == Code.SCHEDULED_LATE
    assert sorted(r.data["scheduledId"] for [r] in told) == sorted([pending.id, dead.id])
    assert all(r.type == "scheduled_failed" and "7 min" in r.body for [r] in told)
    assert len(emitter.of("scheduled:updated")) == 2
    assert sweeper.sweep_scheduled(store, notifier, told.append, now=now, bound=bound).done == {}


def test_a_claimed_scheduled_message_is_finished_only_by_its_claim(store, notifier):
    alice = make_user(store, "alice")
    conv = make_conversation(store, [alice])
    now = utcnow()
    item = _scheduled(store, conv, alice, now - timedelta(hours=1))
    [stale] = store.scheduled.stale_scheduled("pending", now, 10)
    claimed = store.scheduled.claim_scheduled(stale, now, now + timedelta(minutes=1), "mine")
    assert claimed is not None and store.scheduled.fail_stale_scheduled(stale, now, {"code": "x", "message": "y"}) is None
    assert store.scheduled.finish_scheduled(claimed, "not mine", "sent", now) is None
    assert store.scheduled.finish_scheduled(claimed, "mine", "sent", now).status == "sent"
    assert store.scheduled.get_scheduled(item.id).status == "sent"


def test_dispatch_fails_a_late_item_with_the_shared_notification(store, notifier, inbox):
    alice = make_user(store, "alice")
    conv = make_conversation(store, [alice])
    item = _scheduled(store, conv, alice, utcnow() - timedelta(hours=1))
    told = []
    result = scheduling.send_due(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None,
                                 notify=told.append, clock=utcnow, limits=scheduling.Limits())
    assert result.failed == [item.id] and told[0][0].data["code"] == Code.SCHEDULED_LATE


# -- the config's bounds -------------------------------------------------------------------------------
def test_every_sweep_is_on_beats_timetable():
    from infra.config import Settings
    from workers.beat import beat_schedule
    tasks = {entry["task"] for entry in beat_schedule(Settings()).values()}
    assert {"media.sweep", "exports.sweep", "notifications.sweep"} <= tasks



# -- reminders -----------------------------------------------------------------------------------------
def _reminder(store, notifier, deleted=False):
    from schemas.payloads import ReminderCreate
    from tests.pipelines.notifications.test_stored import post
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    message = post(store, conv, alice, "the plan")
    now = utcnow()
    reminder = notifications.do_create_reminder(store, bob, message.id, ReminderCreate(
        at=(now + timedelta(minutes=5)).isoformat()), now=now, max_days_ahead=365, ttl_days=30)
    if deleted:
        store.messages.delete_message(message.id, alice.id, now)
    return reminder, now + timedelta(minutes=6)


def test_no_reminder_for_a_deleted_message(store, notifier, emitter):
    reminder, due = _reminder(store, notifier, deleted=True)
    result = notifications.dispatch_due_reminders(store, notifier, now=due, lease_seconds=30)
    assert (result.reminders, result.dropped) == (0, 1) and store.notifications.get_notification(reminder.id) is None
    assert emitter.of("notification:new") == []


def test_a_reminder_whose_emission_keeps_failing_is_marked_sent_after_its_attempts(store, notifier, emitter,
                                                                                   monkeypatch):
    reminder, due = _reminder(store, notifier)

    def broken(notification):
        raise ConnectionError("Redis away")
    monkeypatch.setattr(notifier, "notify_notification_new", broken)
    for i in range(notifications.REMINDER_MAX_ATTEMPTS):   # each dispatcher dies emitting; its lease runs out
        with pytest.raises(ConnectionError):
            notifications.dispatch_due_reminders(store, notifier, now=due + timedelta(minutes=i), lease_seconds=30)
    result = notifications.dispatch_due_reminders(store, notifier, now=due + timedelta(minutes=9), lease_seconds=30)
    stored = store.notifications.get_notification(reminder.id)
    assert result.reminders == 1 and stored.status == "sent" and stored.attempts == notifications.REMINDER_MAX_ATTEMPTS + 1


def test_only_the_reminders_claim_holder_marks_it_sent(store, notifier):
    reminder, due = _reminder(store, notifier)
    assert store.notifications.claim_due_notification(due, due + timedelta(seconds=30), "first") is not None
    later = due + timedelta(seconds=31)
    assert store.notifications.claim_due_notification(later, later + timedelta(seconds=30), "second") is not None
    assert store.notifications.mark_notification_sent(reminder.id, later, token="first") is False
    store.notifications.drop_claimed_notification(reminder.id, "first")
    assert store.notifications.get_notification(reminder.id).status == "pending"
    assert store.notifications.mark_notification_sent(reminder.id, later, token="second") is True


def test_a_notification_stored_by_a_task_that_died_before_emitting_it_is_sent_by_the_sweeper(store, notifier, emitter):
    from schemas.documents import Notification
    bob = make_user(store, "bob")
    now = utcnow()
    stored = store.notifications.insert_notification(Notification(   # the task's insert; then it died, never redelivered
        id=new_id(), key="k", userId=bob.id, type="added", title="You were added", createdAt=now, updatedAt=now,
        expiresAt=now + timedelta(days=30)))
    assert notifications.list_notifications(store, bob, _query(), now)["notifications"] == []
    assert sweeper.sweep_notifications(store, notifier, now=now + timedelta(seconds=30), bound=timedelta(minutes=1)).done == {}
    later = now + timedelta(minutes=2)
    assert sweeper.sweep_notifications(store, notifier, now=later, bound=timedelta(minutes=1)).done == {"sent": 1}
    [(event, room)] = emitter.of("notification:new")
    assert event["id"] == stored.id and room == f"user:{bob.id}"
    assert [n["id"] for n in notifications.list_notifications(store, bob, _query(), later)["notifications"]] == [stored.id]
    assert sweeper.sweep_notifications(store, notifier, now=later, bound=timedelta(minutes=1)).done == {}


def _query():
    from schemas.payloads import IdPage, NotificationQuery
    return NotificationQuery("all", IdPage(None, 50))
