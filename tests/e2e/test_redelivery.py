"""Nothing acked is lost: SIGKILL the worker while it holds messages; a new worker delivers all of them.

The web side is played by the test process (the same pipelines.messages.submit_message the front
calls, on a real Redis inbox and a real Celery publish); events are read where every web process
reads them, on the Socket.IO Redis channel.
"""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid

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
from tests.e2e.harness import ARTIFACTS, ChannelEvents, dump_seed, start_worker, wait_until, worker_env

pytestmark = pytest.mark.e2e
VISIBILITY = 4


class Announcements(ChannelEvents):
    def client_ids(self) -> set[str]:
        return {m["clientId"] for m, _ in self.of("message:new")}


def _seed(store: Store):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    return alice, conv


def _worker(env, seed_path, delay, name):
    return start_worker("tests.e2e.worker_proc", [seed_path, delay], env, name)


def _run_kill_scenario(tmp_path, store: Store, mongo_url: str | None):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = RedisServer().start()
    announced = Announcements(server.url)
    workers = []
    try:
        env = worker_env(server.url, VISIBILITY, store, mongo_url)
        alice, conv = _seed(store)
        seed_path = dump_seed(store, tmp_path / "seed.json")

        broker = Celery(broker=server.url)
        client = redis.Redis.from_url(server.url)
        workers.append(_worker(env, seed_path, 0.3, "worker-killed"))
        wait_until(lambda: broker.control.ping(timeout=0.5), 30, what="the first worker")

        inbox = Inbox(client, lock_seconds=2)
        sent = [f"m{i:02d}" for i in range(12)]  # fewer tasks than the worker prefetches: it takes them all
        for cid in sent:  # each return is an ack to a client
            submit_message(store, inbox, lambda c: broker.send_task("messages.drain", args=[c], queue="messages"),
                           alice, MessageSend(convId=conv.id, clientId=cid, content=f"content {cid}"))
        # The worker is draining (it holds the conversation's lock) and has stored a few messages.
        wait_until(lambda: client.exists(f"inbox:lock:{conv.id}"), 20, what="the first worker to start draining")
        time.sleep(1.0)

        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        before_kill = announced.client_ids()
        assert len(before_kill) < len(sent), "the worker finished before it could be killed"
        assert client.xlen(f"inbox:conv:{conv.id}") == len(sent) - len(before_kill)
        assert client.llen("messages") == 0, "tasks still queued: the new worker would not need redelivery"
        assert client.hlen("unacked") >= 1, "the killed worker held no unacknowledged task"

        workers.append(_worker(env, seed_path, 0, "worker-restarted"))
        wait_until(lambda: announced.client_ids() == set(sent), VISIBILITY + 25,
                   what="every acked message to be delivered after the restart")
        wait_until(lambda: client.xlen(f"inbox:conv:{conv.id}") == 0, 10, what="the inbox to empty")
        wait_until(lambda: client.hlen("unacked") == 0, 10, what="the redelivered task to be acked")
        return conv, sent, announced
    finally:
        for w in workers:
            stop_process(w, timeout=3)
        announced.close()
        server.stop()


def test_sigkilled_worker_loses_no_acked_message(tmp_path):
    """Embedded store: the killed worker's memory is gone, so this proves redelivery, not storage."""
    store = Store(embedded_client()["redelivery"])
    store.ensure_indexes()
    conv, sent, announced = _run_kill_scenario(tmp_path, store, None)
    assert announced.client_ids() == set(sent)
    # The killed worker had stored some of them without announcing them: the room hears each once.
    to_room = [m["clientId"] for m, room in announced.of("message:new") if room == f"conv:{conv.id}"]
    assert sorted(to_room) == sorted(sent)


@pytest.mark.mongo
@pytest.mark.skipif(not os.environ.get("MONGO_URL"), reason="needs a real MongoDB: set MONGO_URL")
def test_sigkilled_worker_stores_each_acked_message_exactly_once_on_mongodb(tmp_path):
    import pymongo

    client = pymongo.MongoClient(os.environ["MONGO_URL"], tz_aware=True)
    db_name = f"chat_test_{uuid.uuid4().hex[:8]}"
    store = Store(client[db_name])
    store.ensure_indexes()
    try:
        conv, sent, _ = _run_kill_scenario(tmp_path, store, os.environ["MONGO_URL"])
        stored = list(store.db.messages.find({"convId": conv.id}).sort("seq", 1))
        assert sorted(m["clientId"] for m in stored) == sorted(sent)          # exactly once each
        assert [m["seq"] for m in stored] == list(range(1, len(sent) + 1))    # no gap, no repeat
        assert [m["clientId"] for m in stored] == sent                        # the sender's order
    finally:
        client.drop_database(db_name)


@pytest.mark.mongo
@pytest.mark.skipif(not os.environ.get("MONGO_URL"), reason="needs a real MongoDB: set MONGO_URL")
def test_order_with_several_worker_processes_on_mongodb(tmp_path):
    """Three worker processes, three senders at once, one conversation: seq 1..N, each sender's order."""
    import pymongo

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    client = pymongo.MongoClient(os.environ["MONGO_URL"], tz_aware=True)
    db_name = f"chat_test_{uuid.uuid4().hex[:8]}"
    store = Store(client[db_name])
    store.ensure_indexes()
    server = RedisServer().start()
    workers = []
    try:
        users = [make_user(store, f"sender{i}") for i in range(3)]
        conv = make_conversation(store, users)
        env = {**os.environ, "REDIS_URL": server.url, "MONGO_DB": db_name, "JWT_SECRET": "x" * 32}
        workers = [_worker(env, tmp_path / "unused.json", 0, f"worker-mongo-{i}") for i in range(3)]
        broker = Celery(broker=server.url)
        wait_until(lambda: len(broker.control.ping(timeout=0.5)) == 3, 30, what="three workers")
        inbox = Inbox(redis.Redis.from_url(server.url), lock_seconds=2)
        per_sender = 50

        def blast(user):
            for n in range(per_sender):
                submit_message(store, inbox,
                               lambda c: broker.send_task("messages.drain", args=[c], queue="messages"),
                               user, MessageSend(convId=conv.id, clientId=f"{user.username}-{n:03d}", content="x"))

        threads = [threading.Thread(target=blast, args=(u,)) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = per_sender * len(users)
        wait_until(lambda: store.db.messages.count_documents({"convId": conv.id}) == total, 60, what="all messages")
        stored = list(store.db.messages.find({"convId": conv.id}).sort("seq", 1))
        assert [m["seq"] for m in stored] == list(range(1, total + 1))
        for user in users:
            mine = [m["clientId"] for m in stored if m["senderId"] == user.id]
            assert mine == [f"{user.username}-{n:03d}" for n in range(per_sender)]
    finally:
        for w in workers:
            w.kill()
            w.wait(10)
        server.stop()
        client.drop_database(db_name)
