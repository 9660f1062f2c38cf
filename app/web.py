"""The web front: Flask + Flask-SocketIO. Transport only: authenticate, validate, ack, enqueue, read.

``create_app`` is the application factory: the extension (``socketio``) is a module object, initialised
here; each resource is a blueprint (app.api, app.moderation, ...), the socket events register in
app.socket_events."""
from __future__ import annotations

from flask import Flask, Request
from flask_socketio import SocketIO
from werkzeug.routing import MapAdapter

from app.analytics import analytics_api
from app.api import api
from app.exports import exports_api
from app.gifs import gifs_api
from app.handshakes import HandshakeBound
from app.health import health
from app.http import answer_errors_in_json, bound_request_bodies
from app.media import media_api
from app.metrics import metrics_api
from app.moderation import moderation_api
from app.notifications import notifications_api
from app.search import search_api
from app.pages import CSP, WEB, content_security_policy, pages
from app.socket_events import register_socket_handlers
from infra.config import Settings, get_settings, use_settings
from infra.emitter import redis_manager

socketio = SocketIO()
SOCKETIO_PATH = "socket.io"   # Engine.IO's path, the page's (socket.io-client's default)
BLUEPRINTS = (api, health, moderation_api, notifications_api, media_api, exports_api, search_api, analytics_api,
              pages, metrics_api, gifs_api)


class ChatFlask(Flask):
    """Flask-SocketIO runs each socket event in a request context built from the socket's handshake
    (/socket.io/), and Flask binds and matches that path against the routes when the context is pushed.
    Nothing there routes (the Engine.IO middleware answers the path before Flask is called), and matching
    costs CPU per event and garbage: with no rule, the NotFound kept in ``request.routing_exception``
    holds its traceback's frames, which hold the context (about 60 objects in a cycle per event); with a
    rule, werkzeug's matcher still leaves a recursive closure per match. So these contexts get no URL
    adapter: nothing is matched, and ``url_for`` is for REST routes only."""

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        if request is not None and request.path.startswith(f"/{SOCKETIO_PATH}/"):
            return None
        return super().create_url_adapter(request)


def create_app(settings: Settings | None = None) -> Flask:
    settings = use_settings(settings) if settings else get_settings()
    app = ChatFlask(__name__, static_folder=WEB, static_url_path="/static")
    app.json.sort_keys = False
    app.config[CSP] = content_security_policy(settings)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    bound_request_bodies(app, settings.max_request_bytes)
    answer_errors_in_json(app)
    socketio.init_app(app, client_manager=redis_manager(settings.redis_url, write_only=False), async_mode="eventlet",
                      # One client's events are handled in arrival order: a sender's sends are
                      # queued in the order it emitted them.
                      async_handlers=False,
                      # The same bound as REST bodies: a larger packet (or WebSocket frame) closes the socket.
                      max_http_buffer_size=settings.max_request_bytes,
                      path=SOCKETIO_PATH, logger=False, engineio_logger=False)
    register_socket_handlers(socketio)
    if settings.handshakes_in_progress:
        app.wsgi_app = HandshakeBound(app.wsgi_app, settings.handshakes_in_progress,
                                      settings.handshake_wait_seconds, SOCKETIO_PATH)
    return app

