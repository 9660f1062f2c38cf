"""The web front: Flask + Flask-SocketIO. Transport only: authenticate, validate, ack, enqueue, read."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, abort, jsonify, send_from_directory
from flask_socketio import SocketIO
from werkzeug.exceptions import HTTPException

from app.api import api
from app.health import health
from app.sockets import register_socket_handlers
from infra.config import Settings, get_settings, use_settings
from infra.emitter import redis_manager
from schemas.errors import ApiError

log = logging.getLogger(__name__)

socketio = SocketIO()

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
# The only third-party files the page loads, served from node_modules (npm ci, package-lock.json).
VENDOR = {"socket.io.esm.min.js": "socket.io-client/dist/socket.io.esm.min.js"}
# The page runs its own modules only: no inline script or style, no plugin, not framed; avatars may be
# any http(s) image. 'self' in connect-src covers the same-origin WebSocket.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def create_app(settings: Settings | None = None) -> Flask:
    settings = use_settings(settings) if settings else get_settings()
    app = Flask(__name__, static_folder=WEB, static_url_path="/static")
    app.json.sort_keys = False
    app.register_blueprint(api)
    app.register_blueprint(health)

    def html(name: str):
        response = send_from_directory(WEB, name)
        response.headers.update({"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer",
                                 "X-Content-Type-Options": "nosniff"})
        return response

    @app.get("/")
    def page():
        """The chat page (web/): plain ES modules, no build step."""
        return html("index.html")

    @app.get("/moderation")
    def moderation_page():
        """The moderator dashboard (web/moderation.html, web/js/moderation/), same rules as the chat page."""
        return html("moderation.html")

    @app.get("/vendor/<name>")
    def vendor(name: str):
        if name not in VENDOR:
            abort(404)
        return send_from_directory(ROOT / "node_modules", VENDOR[name])

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return jsonify(error=exc.to_dict()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.code, "bad_request")
        return jsonify(error={"code": code, "message": exc.description}), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return jsonify(error={"code": "unavailable", "message": "the server could not handle this request"}), 503

    socketio.init_app(app, client_manager=redis_manager(settings.redis_url, write_only=False), async_mode="eventlet",
                      # One client's events are handled in arrival order: a sender's sends are
                      # queued in the order it emitted them.
                      async_handlers=False,
                      logger=False, engineio_logger=False)
    register_socket_handlers(socketio)
    return app
