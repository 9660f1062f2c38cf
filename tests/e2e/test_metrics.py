"""A real Prometheus (Debian's ``prometheus``) scrapes a real running system every second with the bearer token;
after known traffic (N sends over sockets, an upload through the media API, an export) the values are read back
from Prometheus's HTTP API until they match. Skipped when ``prometheus`` is not installed, failed then when
REQUIRE_PROMETHEUS is set (CI)."""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
import requests
from celery import Celery

from bench.thumbnails import photo_jpeg
from infra.embedded.redis_server import RedisServer, free_port, stop_process
from tests.e2e.harness import ARTIFACTS, Api, make_conversation, own_system, start_worker, wait_until
from tests.e2e.test_media import complete, upload

pytestmark = pytest.mark.e2e
N = 20
TOKEN = "scrape-" + uuid.uuid4().hex


def _prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("REQUIRE_PROMETHEUS"):
            pytest.fail("Debian's prometheus is not installed (apt-get install prometheus), "
                        "and REQUIRE_PROMETHEUS is set")
        pytest.skip("Debian's prometheus is not installed (apt-get install prometheus)")
    return binary


class Prometheus:
    """``prometheus`` on a free port, with a tmp storage dir, scraping ``target`` every second."""

    def __init__(self, binary: str, target: str, workdir) -> None:
        token_file = workdir / "token"
        token_file.write_text(TOKEN)
        config = workdir / "prometheus.yml"
        config.write_text(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: chat
    metrics_path: /metrics
    authorization:
      credentials_file: {token_file}
    static_configs:
      - targets: ["{target}"]
""")
        self.url = f"http://127.0.0.1:{free_port()}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address={self.url.removeprefix('http://')}"],
            stdout=open(ARTIFACTS / "prometheus.log", "w"), stderr=subprocess.STDOUT)
        wait_until(self._ready, 30, 0.2, "prometheus to be ready (log: tests/artifacts/prometheus.log)")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited: {(ARTIFACTS / 'prometheus.log').read_text()[-2000:]}")
        try:
            return requests.get(self.url + "/-/ready", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def query(self, expr: str) -> list[dict]:
        r = requests.get(self.url + "/api/v1/query", params={"query": expr}, timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "success", r.text
        return r.json()["data"]["result"]

    def value(self, expr: str) -> float | None:
        """The value of an expression that yields one series (a sum), or None while it yields none."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def reaches(self, expr: str, at_least: float, timeout: float = 30) -> float:
        """Wait until Prometheus has scraped ``expr`` up to ``at_least``; returns the value."""
        return wait_until(lambda: (v := self.value(expr)) is not None and v >= at_least and (v or 1e-9), timeout,
                          0.5, f"{expr} >= {at_least} in prometheus")

    def stop(self) -> None:
        stop_process(self.process, timeout=10)


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    """The system, its traffic done and its sockets still open, and the Prometheus scraping it."""
    binary = _prometheus_binary()
    with own_system(METRICS_TOKEN=TOKEN) as system:
        prometheus = Prometheus(binary, f"127.0.0.1:{system.port}", tmp_path_factory.mktemp("prometheus"))
        alice, bob = Api(system), Api(system)
        _, conv = make_conversation(alice, bob)
        a, b = alice.socket(), bob.socket()
        try:
            for s in (a, b):
                s.wait_for("session:ready")
                assert s.call("conv:subscribe", {"convId": conv["id"]})["ok"]
            for i in range(N):
                assert a.call("message:send", {"convId": conv["id"], "clientId": f"m{i}", "content": f"hi {i}"})["ok"]
            b.wait_for("message:new", N, timeout=30)
            created = upload(alice, conv["id"], photo_jpeg((640, 480)), "image/jpeg", "photo.jpg")
            complete(alice, created["id"])
            wait_until(lambda: [m for m in a.got("media:updated") if m["status"] == "ready"], 30, what="the photo")
            r = alice.call("POST", f"/api/conversations/{conv['id']}/exports", json={"format": "json"})
            assert r.status_code == 202, r.text
            wait_until(lambda: a.got("export:ready"), 30, what="export:ready")
            yield system, prometheus
        finally:
            for s in (a, b):
                s.close()
            prometheus.stop()


def test_metrics_refuse_a_scrape_without_the_token(scraped):
    system, _ = scraped
    refused = requests.get(system.url + "/metrics", timeout=5)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    wrong = requests.get(system.url + "/metrics", headers={"Authorization": "Bearer wrong"}, timeout=5)
    assert wrong.status_code == 401
    assert "chat_" not in refused.text


def test_prometheus_reads_back_the_web_process_metrics(scraped):
    _, prometheus = scraped
    prometheus.reaches('up{job="chat"}', 1)
    prometheus.reaches('chat_socket_events_received_total{event="message:send"}', N)
    prometheus.reaches('chat_ack_seconds_count{event="message:send"}', N)
    assert prometheus.reaches('chat_ack_seconds_bucket{event="message:send", le="+Inf"}', N)
    prometheus.reaches('chat_socket_events_received_total{event="conv:subscribe"}', 2)
    prometheus.reaches('sum(chat_socket_events_sent_total{event="message:new"})', N)
    prometheus.reaches('chat_socket_events_sent_total{event="media:updated"}', 1)
    prometheus.reaches('chat_socket_events_sent_total{event="export:ready"}', 1)
    prometheus.reaches("chat_sockets_connected", 2)
    # Read at scrape time: present, whatever the backlog is by then (the drains keep it near empty).
    for gauge in ("chat_inbox_backlog", "chat_inboxes_waiting", "chat_review_queue_size"):
        assert prometheus.reaches(f"{gauge} + 1", 1) >= 1
    assert prometheus.value("sum(chat_metrics_collector_errors_total)") in (None, 0.0)


def test_prometheus_reads_back_what_the_workers_count(scraped):
    """Counted by the instrumentation of the tasks, the message path and the jobs (INSTRUMENT)."""
    _, prometheus = scraped
    prometheus.reaches("chat_message_store_seconds_count", N)
    prometheus.reaches("chat_message_broadcast_seconds_count", N)
    prometheus.reaches('sum(chat_tasks_total{queue="messages", outcome="success"})', 1)
    prometheus.reaches('sum(chat_tasks_total{queue="media", outcome="success"})', 1)
    prometheus.reaches('sum(chat_tasks_total{queue="exports", outcome="success"})', 1)
    prometheus.reaches("sum(chat_media_job_seconds_count)", 1)
    prometheus.reaches("sum(chat_export_job_seconds_count)", 1)


def test_a_prefork_role_serves_the_sum_of_its_children_under_the_rule(tmp_path):
    """``celery worker --pool prefork`` with PROMETHEUS_MULTIPROC_DIR and METRICS_PORT: the files of an earlier run
    are gone at start, the listener wants the token, and it sums what every pool child counted."""
    directory = tmp_path / "multiproc"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"an earlier run")
    redis, port = RedisServer().start(), free_port()
    env = {**os.environ, "REDIS_URL": redis.url, "METRICS_PORT": str(port), "METRICS_TOKEN": TOKEN,
           "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONUNBUFFERED": "1"}
    env.pop("MONGO_URL", None)
    role = start_worker("tests.e2e.metrics_role_proc", [], env, "metrics-role")
    url, auth = f"http://127.0.0.1:{port}/metrics", {"Authorization": f"Bearer {TOKEN}"}
    try:
        wait_until(lambda: _answers(url, auth, role), 60, 0.2, "the role's metrics listener")
        assert not (directory / "counter_1.db").exists()
        assert requests.get(url, timeout=5).status_code == 401
        sender = Celery(broker=redis.url)
        for n in range(1, 9):
            sender.send_task("media.count_for_metrics_test", args=[n], queue="media")
        series = 'chat_tasks_total{outcome="success",queue="media",task="media.count_for_metrics_test"}'
        wait_until(lambda: f"{series} 8.0" in requests.get(url, headers=auth, timeout=5).text, 30, 0.2,
                   "the children's counts, summed, in the role's exposition")
        pids = {name.stem.rsplit("_", 1)[1] for name in directory.glob("counter_*.db")}
        assert len(pids) >= 1 and str(role.pid) not in pids  # counted by the children, not the main process
    finally:
        stop_process(role, timeout=10)
        redis.stop()


def _answers(url: str, auth: dict, role) -> bool:
    if role.poll() is not None:
        raise AssertionError(f"the role exited: {(ARTIFACTS / 'metrics-role.log').read_text()[-3000:]}")
    try:
        return requests.get(url, headers=auth, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False
