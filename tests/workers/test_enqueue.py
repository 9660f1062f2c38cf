"""workers.enqueue: each function publishes its task by name, to its queue, with ids and short values only.

A real Redis broker (the session's redis-server) and Celery's own routing from workers/celery_app.py; the
test reads what arrived in each queue's list, as a worker would take it.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
import redis
from celery import Celery

from schemas.tasks import NotificationRequest, ReviewRequest
from workers import enqueue
from workers.celery_app import QUEUES, celery_config

DB = 7  # a database of the session's redis-server that no other test uses


@pytest.fixture(scope="module")
def app(redis_server):
    """workers/celery_app.py's configuration (its routes), on the session's Redis."""
    app = Celery("enqueue-test")
    app.conf.update({**celery_config(), "broker_url": f"{redis_server.url.rsplit('/', 1)[0]}/{DB}",
                     "beat_schedule": {}})
    return app


@pytest.fixture
def broker(app, monkeypatch):
    client = redis.Redis.from_url(app.conf.broker_url)
    client.flushdb()
    monkeypatch.setattr(enqueue, "celery", app)
    monkeypatch.setattr(enqueue, "get_runtime", lambda: SimpleNamespace(
        redis=client, settings=SimpleNamespace(scheduled_lease_seconds=30)))
    yield client
    client.flushdb()


def published(client: redis.Redis) -> list[tuple[str, str, list, dict]]:
    """(queue, task name, args, delivery info) of every message waiting in the queues, oldest first."""
    out = []
    for queue in QUEUES:
        for raw in reversed(client.lrange(queue, 0, -1)):
            message = json.loads(raw)
            args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            assert kwargs == {}
            out.append((queue, message["headers"]["task"], args, message["headers"]))
    return out


def review() -> ReviewRequest:
    return ReviewRequest(kind="filter", groupId="g1", convId="c1", senderId="u1", clientId="k1", content="bad",
                         messageId="m1", receivedAt=datetime(2026, 1, 1, tzinfo=timezone.utc), hits=[])


def notification() -> NotificationRequest:
    return NotificationRequest(userId="u1", type="export_ready", key="export:e1", title="ready", body="",
                               data={"exportId": "e1"})


@pytest.mark.parametrize("call, queue, name, args", [
    (lambda: enqueue.enqueue_drain("c1"), "messages", "messages.drain", ["c1"]),
    (lambda: enqueue.enqueue_profile_sync("u1"), "messages", "messages.sync_profile", ["u1"]),
    (lambda: enqueue.enqueue_decision("r1"), "moderation", "moderation.apply_decision", ["r1"]),
    (lambda: enqueue.enqueue_block("g1", "c1", "u1", "k1", "bad"), "moderation", "moderation.record_block",
     ["g1", "c1", "u1", "k1", "bad"]),
    (lambda: enqueue.enqueue_process("m1"), "media", "media.process", ["m1"]),
    (lambda: enqueue.enqueue_run("e1"), "exports", "exports.run", ["e1"]),
    (lambda: enqueue.enqueue_from_messages("c1", ["m1", "m2"]), "notifications", "notifications.from_messages",
     ["c1", ["m1", "m2"]]),
    (lambda: enqueue.enqueue_digest("d1"), "notifications", "notifications.send_digest", ["d1", 0]),
    (lambda: enqueue.enqueue_send_due("c1"), "notifications", "notifications.send_due", ["c1"]),
])
def test_each_function_publishes_its_task_by_name_to_its_queue_with_ids(broker, call, queue, name, args):
    call()
    [(got_queue, got_name, got_args, _)] = published(broker)
    assert (got_queue, got_name, got_args) == (queue, name, args)


def test_requests_travel_as_json_of_their_fields(broker):
    enqueue.enqueue_reviews([review()])
    enqueue.enqueue_notify(notification(), notification())
    [(q1, n1, a1, _), (q2, n2, a2, _)] = published(broker)   # (in the order of QUEUES)
    assert (q1, n1, a1) == ("moderation", "moderation.open_reviews", [[review().model_dump(mode="json")]])
    assert (q2, n2, a2) == ("notifications", "notifications.create", [[notification().model_dump(mode="json")] * 2])


def test_nothing_to_notify_publishes_nothing(broker):
    enqueue.enqueue_notify()
    assert published(broker) == []


def test_a_digest_retry_carries_its_attempt_and_waits_its_countdown(broker):
    enqueue.enqueue_digest("d1", 2, countdown=30)
    [(queue, name, args, headers)] = published(broker)
    assert (queue, name, args) == ("notifications", "notifications.send_digest", ["d1", 2])
    assert headers["eta"] is not None


def test_send_due_is_queued_once_per_conversation_until_its_flag_is_cleared(broker):
    enqueue.enqueue_send_due("c1")
    enqueue.enqueue_send_due("c1")
    enqueue.enqueue_send_due("c2")
    assert [args for _, _, args, _ in published(broker)] == [["c1"], ["c2"]]
    assert 0 < broker.ttl(enqueue.send_due_flag("c1")) <= 30
    broker.delete(enqueue.send_due_flag("c1"))
    enqueue.enqueue_send_due("c1")
    assert [args for _, _, args, _ in published(broker)] == [["c1"], ["c2"], ["c1"]]
