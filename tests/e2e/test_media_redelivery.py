"""A media worker SIGKILLed mid-processing: after redelivery, one set of thumbnails, one message update,
the media ready, nothing orphaned in S3.

The web side is played by the test process (the pipeline functions the routes call, on a real moto S3
over HTTP: the part is PUT to its presigned URL as a browser does); the `media` workers are real Celery
processes (tests/e2e/media_worker_proc.py) on a real redis-server; events are read where every web
process reads them, on the Socket.IO Redis channel.
"""
from __future__ import annotations

import io
import json
import os
import signal
import time
import uuid
from datetime import timedelta

import pytest
import redis
import requests
from celery import Celery
from PIL import Image

from bench.thumbnails import photo_jpeg
from infra.blobs import S3Blobs
from infra.embedded.mongo import embedded_client
from infra.embedded.redis_server import RedisServer, stop_process
from infra.storage import Store
from pipelines.media import uploads
from pipelines.messages.drain import drain_inbox
from pipelines.messages.submit import submit_message
from pipelines.events import Notifier
from schemas.payloads import MessageSend, UploadCreate
from tests.conftest import make_conversation, make_user
from tests.e2e.harness import CHAT_SEED, ChannelEvents, dump_seed, start_worker, wait_until, worker_env
from tests.fakes import MemoryInbox, RecordingEmitter

pytestmark = pytest.mark.e2e
VISIBILITY = 4
LIMITS = uploads.Limits(max_upload_bytes=50 << 20, quota_bytes=60 << 20, upload_ttl=timedelta(hours=1),
                      presign_seconds=300)
SEEDED = (*CHAT_SEED, "messages", "media", "uploads", "upload_usage")


def _seed(store: Store, blobs: S3Blobs):
    """alice's photo, uploaded (its part PUT to S3) and completed, attached to a stored message: the state
    in which the web process queues media.process. Returns the media, the message's id and what was queued."""
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    data = photo_jpeg((1600, 1200))  # EXIF orientation 6 and GPS, like a phone's
    created = uploads.do_create_upload(store, blobs, LIMITS, alice, UploadCreate(
        convId=conv.id, filename="IMG_0001.JPG", size=len(data), mimeType="image/jpeg"))
    numbers = list(range(1, created["partCount"] + 1))
    urls = uploads.part_urls(store, blobs, LIMITS, alice, created["id"], numbers)["urls"]
    for n in numbers:
        r = requests.put(urls[str(n)], data=data[(n - 1) * created["partSize"]:n * created["partSize"]], timeout=30)
        assert r.status_code == 200, r.text
    queued: list[str] = []
    uploads.do_complete_upload(store, queued.append, alice, created["id"])
    inbox = MemoryInbox()
    submit_message(store, inbox, lambda c: None, alice, MessageSend(
        convId=conv.id, clientId="photo", content="", attachments=[created["id"]]))
    drain_inbox(conv.id, store=store, inbox=inbox, notifier=Notifier(RecordingEmitter()), enqueue_drain=lambda c: None)
    [message] = store.db.messages.find({"convId": conv.id, "clientId": "photo"})
    doc = store.media.get_media(created["id"])
    assert doc.status == "processing" and doc.messageIds == [message["_id"]]
    return doc, message["_id"], queued


def _worker(env, seed_path, delay, name):
    return start_worker("tests.e2e.media_worker_proc", [seed_path, delay], env, name)


def _gps(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))


def _run_kill_scenario(tmp_path, store: Store, s3_url: str, mongo_url: str | None):
    bucket = f"media-kill-{uuid.uuid4().hex[:8]}"
    blobs = S3Blobs(endpoint_url=s3_url, bucket=bucket, access_key_id="test", secret_access_key="test")
    blobs.ensure_bucket(["http://127.0.0.1"])
    server = RedisServer().start()
    events = ChannelEvents(server.url)
    workers = []
    try:
        env = worker_env(server.url, VISIBILITY, store, mongo_url, S3_ENDPOINT_URL=s3_url, S3_BUCKET=bucket,
                         AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
        env.pop("CLAMD_URL", None)  # the scan is skipped: this test is about the thumbnails
        doc, message_id, queued = _seed(store, blobs)
        prefix = doc.key.rsplit("/", 1)[0] + "/"
        seed_path = dump_seed(store, tmp_path / "seed.json", SEEDED)

        broker = Celery(broker=server.url)
        client = redis.Redis.from_url(server.url)
        workers.append(_worker(env, seed_path, 60, "media-worker-killed"))
        wait_until(lambda: broker.control.ping(timeout=0.5), 30, what="the first worker")
        [media_id] = queued
        broker.send_task("media.process", args=[media_id], queue="media")
        renditions = {prefix + "small.webp", prefix + "large.webp"}
        wait_until(lambda: renditions <= set(blobs.keys(prefix)), 20, what="the first worker to write the renditions")

        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        # Killed mid-way: the renditions are in S3, the file is not ready, nobody heard of it, the task is held.
        assert set(blobs.keys(prefix)) == renditions | {doc.key}, "the kill came before the renditions"
        assert _gps(blobs.open_read(doc.key).read()), "the kill came after the original was rewritten"
        assert events.of("message:updated") == [], "the kill came after the file was announced"
        wait_until(lambda: len(events.of("media:updated")) >= 4, 5, what="the first four steps' media:updated")
        assert [d["status"] for d, _ in events.of("media:updated")] == ["processing"] * 4  # upload ... metadata
        if mongo_url:
            assert store.media.get_media(media_id).processingSteps["thumbnails"].status == "pending"
        assert client.llen("media") == 0, "the task is still queued: the next worker would not need redelivery"
        [held] = client.hvals("unacked")
        headers = json.loads(held)[0]["headers"]
        assert headers["task"] == "media.process" and media_id in headers["argsrepr"]

        # A worker looks for abandoned tasks when it starts (then every 10 s): start the next one once the
        # visibility timeout has passed since the delivery, so that it takes the task at once.
        [(_, delivered)] = client.zrange("unacked_index", 0, -1, withscores=True)
        time.sleep(max(0.0, delivered + VISIBILITY + 0.2 - time.time()))
        workers.append(_worker(env, seed_path, 0, "media-worker-restarted"))
        wait_until(lambda: events.of("message:updated"), VISIBILITY + 25, what="the message update after redelivery")
        wait_until(lambda: client.hlen("unacked") == 0, 10, what="the redelivered task to be acked")
        time.sleep(0.5)  # room for a second update, were one to come
        return doc, message_id, blobs, events
    finally:
        for w in workers:
            stop_process(w, timeout=3)
        events.close()
        server.stop()


def _check_one_outcome(doc, message_id, blobs: S3Blobs, events: ChannelEvents) -> dict:
    """One message update with the ready file; media:updated ends ready; in the bucket the original and
    one set of thumbnails, each what the file's summary says, and nothing else. Returns the summary."""
    [(updated, room)] = events.of("message:updated")
    assert updated["id"] == message_id and room == f"conv:{doc.convId}"
    [summary] = updated["metadata"]["files"]
    assert summary["mediaId"] == doc.id and summary["status"] == "ready"
    assert set(summary["variants"]) == {"small", "large"}
    statuses = [d["status"] for d, r in events.of("media:updated")]
    assert statuses[-1] == "ready" and statuses.count("ready") == 1
    assert {r for _, r in events.of("media:updated")} == {f"user:{doc.uploadedBy}"}

    prefix = doc.key.rsplit("/", 1)[0] + "/"
    keys = {doc.key: summary["fileSize"]}
    for name, variant in summary["variants"].items():
        assert variant["mimeType"] == "image/webp"
        keys[f"{prefix}{name}.webp"] = variant["size"]
    assert sorted(blobs.keys("")) == sorted(keys)  # the whole bucket
    assert {key: blobs.head(key).size for key in keys} == keys
    assert list(blobs.multipart_uploads("")) == []
    assert _gps(blobs.open_read(doc.key).read()) == {}  # the original rewritten without its location
    return summary


def test_sigkilled_media_worker_leaves_one_set_of_thumbnails(tmp_path, s3_server):
    """Embedded store: the killed worker's records die with it, so the next one starts from the seed
    and redoes every step, over what the dead one left in S3."""
    store = Store(embedded_client()["media_redelivery"])
    store.ensure_indexes()
    doc, message_id, blobs, events = _run_kill_scenario(tmp_path, store, s3_server.url, None)
    _check_one_outcome(doc, message_id, blobs, events)


@pytest.mark.mongo
@pytest.mark.skipif(not os.environ.get("MONGO_URL"), reason="needs a real MongoDB: set MONGO_URL")
def test_sigkilled_media_worker_finishes_once_on_mongodb(tmp_path, s3_server):
    """Shared MongoDB: the next worker skips the steps the dead one recorded and redoes the thumbnails."""
    import pymongo

    client = pymongo.MongoClient(os.environ["MONGO_URL"], tz_aware=True)
    db_name = f"chat_test_{uuid.uuid4().hex[:8]}"
    store = Store(client[db_name])
    store.ensure_indexes()
    try:
        doc, message_id, blobs, events = _run_kill_scenario(tmp_path, store, s3_server.url, os.environ["MONGO_URL"])
        summary = _check_one_outcome(doc, message_id, blobs, events)
        stored = store.media.get_media(doc.id)
        assert stored.status == "ready" and all(s.status in ("done", "skipped") for s in stored.processingSteps.values())
        assert {n: v.key for n, v in stored.variants.items()} == {n: f"{doc.key.rsplit('/', 1)[0]}/{n}.webp"
                                                                  for n in ("small", "large")}
        assert stored.fileSize == summary["fileSize"] == blobs.head(doc.key).size
        message = store.messages.get_message(message_id)
        assert message.metadata.files == [summary]
    finally:
        client.drop_database(db_name)
