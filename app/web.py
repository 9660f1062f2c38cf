"""The web front: Flask + Flask-SocketIO. Transport only: authenticate, validate, ack, enqueue, read.

``create_app`` is the application factory: the extension (``socketio``) is a module object, initialised
here; each resource is a blueprint (app.api, app.moderation, ...), the socket events register in
app.socket_events."""
from __future__ import annotations

from flask import Flask, abort
from flask_socketio import SocketIO

from app.analytics import analytics_api
from app.api import api
from app.exports import exports_api
from app.gifs import gifs_api
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


def create_app(settings: Settings | None = None) -> Flask:
    settings = use_settings(settings) if settings else get_settings()
    app = Flask(__name__, static_folder=WEB, static_url_path="/static")
    app.json.sort_keys = False
    app.config[CSP] = content_security_policy(settings)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    bound_request_bodies(app, settings.max_request_bytes)
    answer_errors_in_json(app)
    _route_socketio_path(app)
    socketio.init_app(app, client_manager=redis_manager(settings.redis_url, write_only=False), async_mode="eventlet",
                      # One client's events are handled in arrival order: a sender's sends are
                      # queued in the order it emitted them.
                      async_handlers=False,
                      # The same bound as REST bodies: a larger packet (or WebSocket frame) closes the socket.
                      max_http_buffer_size=settings.max_request_bytes,
                      path=SOCKETIO_PATH, logger=False, engineio_logger=False)
    register_socket_handlers(socketio)
    return app


def _route_socketio_path(app: Flask) -> None:
    """Flask-SocketIO runs each socket event in a request context built from the socket's handshake
    (/socket.io/). Flask matches that path against its routes when the context is pushed; with no route
    the NotFound it keeps in request.routing_exception holds its traceback's frames, which hold the
    context: a reference cycle of about 60 objects per event, left to the garbage collector (at 100
    events/s, a young collection of 35 ms every 6 s, measured). This rule only makes the path match:
    the Engine.IO middleware answers it before Flask is called.
    (Two rules: werkzeug matches a WebSocket's handshake only against rules marked websocket.)"""
    for endpoint, websocket in (("socketio", False), ("socketio_websocket", True)):
        app.add_url_rule(f"/{SOCKETIO_PATH}/", endpoint, lambda: abort(404), websocket=websocket,
                         methods=["GET"] if websocket else ["GET", "POST"])
