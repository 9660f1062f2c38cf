"""A drain that lingers for more sends gives its pool slot up as soon as another task of its worker needs it.

A real `messages` worker process with one thread, on a real Redis; the web side is played by the test
(pipelines.messages.submit_message on a real inbox and a real Celery publish), and announcements are
read on the Socket.IO Redis channel.
"""
from __future__ import annotations

import time

import pytest
import redis
from celery import Celery

from infra.embedded.mongo import embedded_client
from infra.inbox import Inbox
from infra.embedded.redis_server import RedisServer, stop_process
from infra.storage import Store
from pipelines.messages.submit import submit_message
from schemas.payloads import MessageSend
from tests.conftest import make_conversation, make_user
from tests.e2e.harness import ChannelEvents, dump_seed, start_worker, wait_until, worker_env

pytestmark = pytest.mark.e2e
LINGER_MS = 4000


def test_a_lingering_drain_yields_its_only_slot_to_another_conversation(tmp_path):
    store = Store(embedded_client()["linger"])
    store.ensure_indexes()
    alice = make_user(store, "alice")
    first, second = make_conversation(store, [alice]), make_conversation(store, [alice])
    server = RedisServer().start()
    announced = ChannelEvents(server.url)
    worker = None
    try:
        env = worker_env(server.url, 60, store, None, INBOX_LINGER_MS=str(LINGER_MS), INBOX_BUDGET_MS="20000",
                         INBOX_LOCK_SECONDS="30")
        worker = start_worker("tests.e2e.worker_proc", [dump_seed(store, tmp_path / "seed.json"), 0, 1],
                              env, "worker-linger")
        broker = Celery(broker=server.url)
        wait_until(lambda: broker.control.ping(timeout=0.5), 30, what="the worker")
        client = redis.Redis.from_url(server.url)
        inbox = Inbox(client, lock_seconds=30)

        published = []

        def publish(conv_id):
            published.append(conv_id)
            broker.send_task("messages.drain", args=[conv_id], queue="messages")

        def send(conv, client_id):
            submit_message(store, inbox, publish, alice,
                           MessageSend(convId=conv.id, clientId=client_id, content=client_id))

        def delivered(client_id):
            return any(m["clientId"] == client_id for m, _ in announced.of("message:new"))

        send(first, "first-1")
        wait_until(lambda: delivered("first-1"), 15, what="the first conversation's message")
        time.sleep(0.5)
        # Nothing else to do: the drain lingers, holding the worker's one thread and the lock.
        assert client.exists(f"inbox:lock:{first.id}"), "the drain did not linger"
        send(first, "first-2")
        wait_until(lambda: delivered("first-2"), 2, what="a send taken by the lingering drain")
        assert published == [first.id] and client.exists(f"inbox:lock:{first.id}")  # no second task

        send(second, "second-1")
        wait_until(lambda: delivered("second-1"), LINGER_MS / 1000 / 2,
                   what="the other conversation's message, before the linger would have ended")
        assert not client.exists(f"inbox:lock:{first.id}"), "the lingering drain kept its lock"
        assert published == [first.id, second.id]
        assert sorted(m["clientId"] for m, _ in announced.of("message:new")) == ["first-1", "first-2", "second-1"]
    finally:
        if worker is not None:
            stop_process(worker, timeout=3)
        announced.close()
        server.stop()
