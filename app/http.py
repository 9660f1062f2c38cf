"""What every HTTP request gets: a bounded body, and every error answered as JSON."""
from __future__ import annotations

import io
import logging
from typing import Any, TypeVar

from flask import Flask, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from infra.runtime import get_runtime
from schemas.errors import ApiError, Code, from_validation_error
from schemas.payloads import CONTENT_LIMIT

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any) -> M:
    """``data`` (a REST body or a socket event's payload) as ``model``, with the limits that come from settings
    (MAX_MESSAGE_CHARS); an ``invalid_payload`` error naming the fields otherwise."""
    try:
        return model.model_validate(data, context={CONTENT_LIMIT: get_runtime().settings.max_message_chars})
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def bound_request_bodies(app: Flask, limit: int) -> None:
    """Bodies are bounded: one that declares more is refused before a byte of it is read; one sent without
    a length (chunked) is read up to one byte past the limit, at most, and refused if it has that byte."""
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


def answer_errors_in_json(app: Flask) -> None:
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
