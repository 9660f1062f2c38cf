"""Identity: JWTs (PyJWT, HS256) issued by the dev login and checked on every socket connect and REST call."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from functools import wraps

import jwt
from flask import g, request

from infra.config import Settings, get_settings
from infra.runtime import get_runtime
from schemas.documents import User
from schemas.errors import ApiError, Code

ISSUER = "chat-pipeline"
_embedded_secret = secrets.token_urlsafe(32)


def server_secret(settings: Settings) -> str:
    """The key sessions' tokens are signed with (and other signed links derive theirs from)."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.embedded_store:
        return _embedded_secret  # one per run: tokens end with the in-memory data they refer to
    raise RuntimeError("JWT_SECRET must be set when MONGO_URL is set")


def issue_token(user: User) -> str:
    settings = get_settings()
    now = datetime.now(timezone.utc)
    claims = {"sub": user.id, "username": user.username, "iss": ISSUER, "iat": now,
              "exp": now + timedelta(seconds=settings.jwt_ttl_seconds)}
    return jwt.encode(claims, server_secret(settings), algorithm="HS256")


def authenticate(token: object) -> User:
    """The active user a token names, or ApiError(UNAUTHORIZED) saying why not."""
    return authenticate_session(token)[0]


def authenticate_session(token: object) -> tuple[User, float]:
    """The active user a token names and when the token expires (seconds since the epoch: a socket is
    disconnected then), or ApiError(UNAUTHORIZED) saying why not."""
    if not isinstance(token, str) or not token:
        raise ApiError(Code.UNAUTHORIZED, "missing token")
    try:
        claims = jwt.decode(token, server_secret(get_settings()), algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["sub", "exp", "iat", "iss"]})
    except jwt.ExpiredSignatureError:
        raise ApiError(Code.UNAUTHORIZED, "token expired") from None
    except jwt.InvalidTokenError as exc:
        raise ApiError(Code.UNAUTHORIZED, f"invalid token ({exc})") from None
    user = get_runtime().store.users.get_user(str(claims["sub"]))
    if user is None or not user.active:
        raise ApiError(Code.UNAUTHORIZED, "unknown or deactivated user")
    return user, float(claims["exp"])


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def login_required(view):
    """REST: the caller's user in ``g.user``, or a 401 with the reason."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        g.user = authenticate(bearer_token())
        return view(*args, **kwargs)

    return wrapper
