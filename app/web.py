"""The web front: Flask + Flask-SocketIO. Transport only: authenticate, validate, ack, enqueue, read."""
from __future__ import annotations

import io
import logging
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, abort, jsonify, request, send_from_directory
from flask_socketio import SocketIO
from werkzeug.exceptions import HTTPException

from app.api import api
from app.exports import exports_api
from app.health import health
from app.media import media_api
from app.moderation import moderation_api
from app.notifications import notifications_api
from app.sockets import register_socket_handlers
from infra.config import Settings, get_settings, use_settings
from infra.emitter import redis_manager
from schemas.errors import ApiError, Code

log = logging.getLogger(__name__)

socketio = SocketIO()
SOCKETIO_PATH = "socket.io"   # Engine.IO's path, the page's (socket.io-client's default)

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
# The only third-party files the page loads, served from node_modules (npm ci, package-lock.json).
VENDOR = {"socket.io.esm.min.js": "socket.io-client/dist/socket.io.esm.min.js"}


def content_security_policy(settings: Settings) -> str:
    """The page runs its own modules only: no inline script or style, no plugin, not framed; avatars may be
    any http(s) image. 'self' in connect-src covers the same-origin WebSocket. Files are PUT to S3 and
    shown from it (presigned URLs): its public origin (and its subdomains, for virtual-hosted buckets) is
    allowed for connections, images, audio and video (blob: for a voice message being recorded)."""
    s3 = urlsplit(settings.s3_public_url or settings.s3_endpoint_url or "")
    origins = f"{s3.scheme}://{s3.netloc} {s3.scheme}://*.{s3.hostname}" if s3.netloc else ""
    return (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data: blob: {origins}; "
            f"media-src 'self' blob: {origins}; connect-src 'self' {origins}; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'").replace("  ", " ")


def create_app(settings: Settings | None = None) -> Flask:
    settings = use_settings(settings) if settings else get_settings()
    app = Flask(__name__, static_folder=WEB, static_url_path="/static")
    app.json.sort_keys = False
    app.register_blueprint(api)
    app.register_blueprint(health)
    app.register_blueprint(moderation_api)
    app.register_blueprint(notifications_api)
    app.register_blueprint(media_api)
    app.register_blueprint(exports_api)
    # Bodies are bounded: one that declares more is refused before a byte of it is read; one sent without
    # a length (chunked) is read up to one byte past the limit, at most, and refused if it has that byte.
    limit = settings.max_request_bytes
    app.config["MAX_CONTENT_LENGTH"] = limit

    @app.before_request
    def bounded_body():
        length = request.content_length
        if length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            # (werkzeug reads a chunked body under eventlet as empty, or cut silently at the limit)
            data = request.environ["wsgi.input"].read(limit + 1)
            length = len(data)
            request.environ.pop("HTTP_TRANSFER_ENCODING")  # from here on, a body of known length
            request.environ.update({"wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(length)})
        if (length or 0) > limit:
            raise ApiError(Code.REQUEST_TOO_LARGE,
                           f"the request body is {'over ' if length == limit + 1 else ''}{length} bytes; the limit "
                           f"is {limit}", {"length": length, "limit": limit})

    csp = content_security_policy(settings)

    def html(name: str):
        response = send_from_directory(WEB, name)
        response.headers.update({"Content-Security-Policy": csp, "Referrer-Policy": "no-referrer",
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

    @app.get("/exports")
    def exports_page():
        """The admins' export page (web/exports.html, web/js/exports/), same rules as the chat page."""
        return html("exports.html")

    @app.get("/vendor/<name>")
    def vendor(name: str):
        if name not in VENDOR:
            abort(404)
        return send_from_directory(ROOT / "node_modules", VENDOR[name])

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        response = jsonify(error=exc.to_dict())
        if isinstance(exc.details, dict) and "retryAfter" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retryAfter"])
        return response, exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: Code.REQUEST_TOO_LARGE.value}.get(exc.code,
                                                                                                 "bad_request")
        return jsonify(error={"code": code, "message": exc.description}), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return jsonify(error={"code": "unavailable", "message": "the server could not handle this request"}), 503

    # Flask-SocketIO runs each socket event in a request context built from the socket's handshake
    # (/socket.io/). Flask matches that path against its routes when the context is pushed; with no route
    # the NotFound it keeps in request.routing_exception holds its traceback's frames, which hold the
    # context: a reference cycle of about 60 objects per event, left to the garbage collector (at 100
    # events/s, a young collection of 35 ms every 6 s, measured). This rule only makes the path match:
    # the Engine.IO middleware answers it before Flask is called.
    # (Two rules: werkzeug matches a WebSocket's handshake only against rules marked websocket.)
    for endpoint, websocket in (("socketio", False), ("socketio_websocket", True)):
        app.add_url_rule(f"/{SOCKETIO_PATH}/", endpoint, lambda: abort(404), websocket=websocket,
                         methods=["GET"] if websocket else ["GET", "POST"])

    socketio.init_app(app, client_manager=redis_manager(settings.redis_url, write_only=False), async_mode="eventlet",
                      # One client's events are handled in arrival order: a sender's sends are
                      # queued in the order it emitted them.
                      async_handlers=False,
                      # The same bound as REST bodies: a larger packet (or WebSocket frame) closes the socket.
                      max_http_buffer_size=settings.max_request_bytes,
                      path=SOCKETIO_PATH, logger=False, engineio_logger=False)
    register_socket_handlers(socketio)
    return app
