"""The exposition of a process (infra/metrics_server.py): who may scrape, what a scrape holds (the values read at
scrape time, every pool child's in multiprocess mode), a source that fails, and the listener of the worker roles."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from infra.config import Settings
from infra.inbox import Inbox
from infra.metrics import COLLECTOR_ERRORS, EVENTS_RECEIVED
from infra.metrics_server import (build_registry, check_scrape, child_exited, clean_multiproc_dir, exposition,
                                  inbox_gauges, is_loopback, review_gauges, start_listener, stop_listener)

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t" * 20 + uuid.uuid4().hex


def samples(registry) -> dict[str, float]:
    """Every sample of a scrape, as {name{labels}: value}."""
    body, _ = exposition(registry, None)
    return {s.name + "".join(f" {k}={v}" for k, v in sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


# -- the rule -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("authorization, refused", [
    (f"Bearer {TOKEN}", None), (f"bearer {TOKEN}", None),
    (f"Bearer {TOKEN}x", 401), ("Bearer ", 401), (None, 401), (f"Basic {TOKEN}", 401), (TOKEN, 401)])
def test_with_a_token_only_the_bearer_token_is_answered_wherever_the_listener(authorization, refused):
    for local in (True, False):
        refusal = check_scrape(TOKEN, authorization, local=local, forwarded=False)
        assert (refusal and refusal.status) == refused
        if refusal:
            assert refusal.code == "unauthorized"
            assert ("WWW-Authenticate", 'Bearer realm="metrics"') in refusal.headers()


def test_without_a_token_only_a_loopback_listener_answers_and_never_through_a_proxy():
    assert check_scrape(None, None, local=True, forwarded=False) is None
    assert check_scrape(None, f"Bearer {TOKEN}", local=True, forwarded=False) is None
    public = check_scrape(None, None, local=False, forwarded=False)
    assert (public.status, public.code) == (404, "not_found") and "METRICS_TOKEN" in public.message
    assert check_scrape(None, None, local=True, forwarded=True).status == 404


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.5", True), ("::1", True), ("[::1]", True),
                                            ("localhost", True), ("0.0.0.0", False), ("::", False),
                                            ("10.0.0.7", False), ("", False), ("example.org", False)])
def test_which_bind_addresses_are_loopback(host, loopback):
    assert is_loopback(host) is loopback


# -- what a scrape holds ----------------------------------------------------------------------------------
class Source:
    def __init__(self, value=None, error: Exception | None = None) -> None:
        self.value, self.error, self.calls = value, error, 0

    def backlog(self, scan_keys: int):
        self.calls += 1
        if self.error:
            raise self.error
        return self.value


class Store:
    """What the review gauge reads: store.moderation.count_pending_reviews()."""

    def __init__(self, pending: int) -> None:
        self.moderation = self
        self.pending = pending

    def count_pending_reviews(self) -> int:
        return self.pending


def test_a_scrape_holds_the_process_metrics_and_the_values_read_at_scrape_time():
    EVENTS_RECEIVED.labels("test:scrape").inc(2)
    registry = build_registry(None, [inbox_gauges(lambda: Source((7, 2)), 1000), review_gauges(lambda: Store(3))])
    got = samples(registry)
    assert got["chat_inbox_backlog"] == 7 and got["chat_inboxes_waiting"] == 2 and got["chat_review_queue_size"] == 3
    assert got["chat_socket_events_received_total event=test:scrape"] >= 2


def test_a_failing_source_is_skipped_logged_once_and_counted(caplog):
    source = Source(error=redis.ConnectionError("Redis is away"))
    gauges = inbox_gauges(lambda: source, 1000)
    registry = build_registry(None, [gauges, review_gauges(lambda: Store(4))])
    errors = COLLECTOR_ERRORS.labels("inbox")
    before = errors._value.get()
    with caplog.at_level(logging.INFO, logger="infra.metrics_server"):
        first, second = samples(registry), samples(registry)
        source.error, source.value = None, (1, 1)
        third = samples(registry)
    for got in (first, second):
        assert "chat_inbox_backlog" not in got and got["chat_review_queue_size"] == 4
    assert third["chat_inbox_backlog"] == 1
    assert errors._value.get() - before == 2 and source.calls == 3
    messages = [r.getMessage() for r in caplog.records]
    assert sum("could not read inbox" in m for m in messages) == 1
    assert sum("inbox can be read again" in m for m in messages) == 1


def test_the_inbox_backlog_counts_waiting_sends_and_the_inboxes_holding_any(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    inbox = Inbox(client)
    for conv, sends in (("a", 3), ("b", 2), ("drained", 1)):
        for i in range(sends):
            client.xadd(f"inbox:conv:{conv}", {"e": f"{conv}{i}"})
    client.xdel("inbox:conv:drained", client.xrange("inbox:conv:drained")[0][0])  # an empty stream stays
    client.set("inbox:conv:not-a-stream", 1)
    for i in range(50):
        client.set(f"other:{i}", i)
    client.xadd("inbox:dead", {"raw": "unreadable"})
    assert inbox.backlog(100_000, count=10) == (5, 2, 1)
    assert inbox.backlog(100, count=10)[0] <= 5  # bounded: the walk stops early, a lower bound


# -- multiprocess mode (the prefork roles) ------------------------------------------------------------------
CHILD = """
from infra.metrics import TASKS, SOCKETS_CONNECTED
TASKS.labels("media", "media.process", "success").inc({n})
SOCKETS_CONNECTED.inc()
"""


def test_the_exposition_of_a_prefork_role_sums_its_children(tmp_path):
    directory = tmp_path / "multiproc"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"stale")
    assert clean_multiproc_dir(str(directory)) == 1 and not list(directory.iterdir())
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    children = [subprocess.Popen([sys.executable, "-c", CHILD.format(n=n)], cwd=ROOT, env=env) for n in (2, 3)]
    assert [c.wait(timeout=60) for c in children] == [0, 0]
    got = samples(build_registry(str(directory)))
    assert got["chat_tasks_total outcome=success queue=media task=media.process"] == 5
    # The children are gone: their live gauge files are removed at the scrape (and by child_exited on exit).
    assert got.get("chat_sockets_connected", 0) == 0
    assert not list(directory.glob("gauge_live*"))
    live = directory / "gauge_livesum_4242.db"
    live.write_bytes(b"")
    child_exited(4242, str(directory))
    assert not live.exists()


# -- the listener of a worker role ----------------------------------------------------------------------------
@pytest.fixture
def listener():
    started = []

    def start(token, bind):
        started.append(start_listener(token, bind, 0, build_registry()))
        return started[-1]

    yield start
    stop_listener()


def test_the_listener_answers_the_bearer_token_only(listener):
    served = listener(TOKEN, "127.0.0.1")
    url = f"http://127.0.0.1:{served.port}/metrics"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 401
    ok = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert ok.status_code == 200 and ok.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE chat_metrics_collector_errors_total counter" in ok.text
    assert requests.get(url.replace("/metrics", "/other"), timeout=5).status_code == 404
    assert start_listener(None, "127.0.0.1", 0, build_registry()) is served  # one per process


def test_a_loopback_listener_without_token_answers_locally_but_not_through_a_proxy(listener):
    served = listener(None, "127.0.0.1")
    url = f"http://127.0.0.1:{served.port}/metrics"
    assert requests.get(url, timeout=5).status_code == 200
    assert requests.get(url, headers={"X-Forwarded-For": "203.0.113.9"}, timeout=5).status_code == 404


def test_a_public_listener_without_token_answers_nothing(listener):
    served = listener(None, "0.0.0.0")
    refused = requests.get(f"http://127.0.0.1:{served.port}/metrics", timeout=5)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert "chat_" not in refused.text


def test_a_short_token_is_refused_at_start_and_an_empty_one_means_none():
    with pytest.raises(ValidationError, match="metrics_token"):
        Settings(metrics_token="short")
    assert Settings(metrics_token="").metrics_token is None
    assert Settings(metrics_token=TOKEN).metrics_token == TOKEN


def test_the_review_queue_counts_pending_items_of_every_group_along_its_index(store):
    store.db.reviews.insert_many([{"_id": f"r{i}", "key": f"k{i}", "groupId": f"g{i % 3}", "status": status}
                                  for i, status in enumerate(["pending"] * 4 + ["approved", "dismissed", "deleted"])])
    assert store.moderation.count_pending_reviews() == 4
    assert "status" in store.db.reviews.index_information()
    assert samples(build_registry(None, [review_gauges(lambda: store)]))["chat_review_queue_size"] == 4
