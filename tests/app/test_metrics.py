"""GET /metrics on the web port (app/metrics.py) under each rule, and the web's own counts: every event the
Notifier sends, by name."""
from __future__ import annotations

import uuid

import pytest
import requests

import app.metrics as web_metrics
from app.web import create_app
from infra.config import Settings, get_settings, use_settings
from infra.metrics import EVENTS_SENT
from infra.embedded.redis_server import free_port
from infra.metrics_server import build_registry, inbox_gauges, stop_listener
from pipelines.events import Notifier
from schemas.events import Typing
from tests.fakes import RecordingEmitter

TOKEN = "m" * 16 + uuid.uuid4().hex


class Inbox:
    def backlog(self, scan_keys: int):
        return 12, 3


@pytest.fixture
def web(monkeypatch):
    """A client of the app made with ``settings``; its scrapes read a stand-in inbox."""
    before = get_settings()
    monkeypatch.setattr(web_metrics, "_registry", build_registry(None, [inbox_gauges(Inbox, 1000)]))

    def make(**settings):
        return create_app(Settings(redis_url="redis://127.0.0.1:1/0", **settings)).test_client()

    yield make
    use_settings(before)


def test_with_a_token_metrics_need_it(web):
    client = web(metrics_token=TOKEN, host="0.0.0.0")
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    assert client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1]}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.content_type.startswith("text/plain")
    assert "chat_inbox_backlog 12.0" in ok.text and "chat_inboxes_waiting 3.0" in ok.text


def test_without_a_token_only_a_loopback_web_answers_local_unforwarded_requests(web):
    local = web(host="127.0.0.1")
    assert local.get("/metrics").status_code == 200
    assert local.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 404
    assert local.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.4"}).status_code == 404
    public = web(host="0.0.0.0").get("/metrics")
    assert public.status_code == 404 and "METRICS_TOKEN" in public.json["error"]["message"]
    assert "chat_" not in public.text


def test_the_start_up_line_says_how_metrics_answer(web, caplog):
    caplog.set_level("INFO", logger="app.metrics")
    web(host="0.0.0.0")
    assert any("/metrics is OFF (404)" in r.getMessage() for r in caplog.records)


def test_the_notifier_counts_every_event_it_sends_by_name():
    emitter = RecordingEmitter()
    notifier = Notifier(emitter)
    typing_start, typing_stop = EVENTS_SENT.labels("typing:start"), EVENTS_SENT.labels("typing:stop")
    before = typing_start._value.get(), typing_stop._value.get()
    for started in (True, True, False):
        notifier.notify_typing(started, Typing(convId="c1", userId="u1"), skip_sid="s1")
    assert (typing_start._value.get() - before[0], typing_stop._value.get() - before[1]) == (2, 1)
    assert [e for e, _, _ in emitter.events] == ["typing:start", "typing:start", "typing:stop"]
    assert emitter.skipped == ["s1"] * 3


def test_with_metrics_port_the_web_serves_the_same_exposition_on_a_listener_of_its_own(web):
    port = free_port()
    try:
        web(metrics_token=TOKEN, metrics_port=port)
        url = f"http://127.0.0.1:{port}/metrics"
        assert requests.get(url, timeout=5).status_code == 401
        ok = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert ok.status_code == 200 and "chat_inbox_backlog 12.0" in ok.text
    finally:
        stop_listener()
