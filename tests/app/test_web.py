"""The Flask app around the sockets. Flask-SocketIO runs each socket event in a request context built
from the socket's handshake: nothing is matched there (app.web.ChatFlask), since a failed match keeps a
NotFound whose traceback's frames make a reference cycle per event, and a successful one leaves werkzeug's
recursive closure; REST routes still match."""
from __future__ import annotations

import gc

import pytest
from flask import request
from werkzeug.test import EnvironBuilder

from app.web import SOCKETIO_PATH, create_app
from infra.config import Settings, get_settings, use_settings

HANDSHAKES = {"websocket": ("GET", "websocket", {"Upgrade": "websocket", "Connection": "Upgrade"}),
              "polling": ("GET", "polling", {}), "polling post": ("POST", "polling", {})}


def handshake(transport: str) -> dict:
    method, name, headers = HANDSHAKES[transport]
    return EnvironBuilder(path=f"/{SOCKETIO_PATH}/", query_string=f"EIO=4&transport={name}", method=method,
                          headers=headers).get_environ()


@pytest.fixture
def app():
    before = get_settings()
    try:
        yield create_app(Settings(redis_url="redis://127.0.0.1:1/0"))  # made, never connected, here
    finally:
        use_settings(before)


@pytest.mark.parametrize("transport", HANDSHAKES)
def test_a_socket_events_request_context_matches_nothing(app, transport):
    with app.request_context(handshake(transport)):
        assert request.routing_exception is None
        assert request.url_rule is None


def test_rest_requests_still_match_their_routes(app):
    with app.request_context(EnvironBuilder(path="/healthz").get_environ()):
        assert request.url_rule is not None and request.url_rule.rule == "/healthz"
    with app.request_context(EnvironBuilder(path="/nowhere").get_environ()):
        assert request.routing_exception is not None and request.routing_exception.code == 404


def test_socket_events_leave_next_to_nothing_for_the_garbage_collector(app):
    environ, events = handshake("websocket"), 200
    gc.collect()
    gc.disable()
    try:
        for _ in range(events):
            with app.request_context(environ):
                pass
        in_cycles = gc.collect()
    finally:
        gc.enable()
    # Matched against the routes: 37 objects an event here (58 in the running server) without a rule for the
    # path, 9 with one (werkzeug's recursive closure per match).
    assert in_cycles < events
