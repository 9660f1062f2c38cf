"""The signed link to an encrypted export's file (docs/security.md): S3 holds only ciphertext, so its
download is a route of this server, ``GET /api/exports/{id}/file?token=``, whose token (HS256) is bound to
the export and the user it was made for and lasts as long as a presigned URL would. Its key is derived from
the server's secret for this use alone: a session token is no file token, and a file token no session."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from schemas.errors import ApiError, Code

AUDIENCE = "export-file"


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"chat export file link", hashlib.sha256).digest()


@dataclass(frozen=True)
class FileToken:
    export_id: str
    user_id: str


def make_file_token(secret: str, export_id: str, user_id: str, now: datetime, ttl_seconds: int) -> str:
    claims = {"aud": AUDIENCE, "sub": user_id, "export": export_id, "iat": now,
              "exp": now + timedelta(seconds=ttl_seconds)}
    return jwt.encode(claims, _key(secret), algorithm="HS256")


def read_file_token(secret: str, token: object, now: datetime) -> FileToken:
    """What a token says, or 401 ``unauthorized`` saying why not (missing, forged or altered, expired)."""
    if not isinstance(token, str) or not token:
        raise ApiError(Code.UNAUTHORIZED, "this download link has no token")
    try:
        claims = jwt.decode(token, _key(secret), algorithms=["HS256"], audience=AUDIENCE,
                            options={"require": ["sub", "exp", "aud", "export"], "verify_iat": False})
    except jwt.ExpiredSignatureError:
        raise ApiError(Code.UNAUTHORIZED, "this download link has expired; download the export again") from None
    except jwt.InvalidTokenError:
        raise ApiError(Code.UNAUTHORIZED, "this download link is not valid") from None
    if claims["exp"] <= now.timestamp():   # (PyJWT checked the clock; ``now`` is the caller's)
        raise ApiError(Code.UNAUTHORIZED, "this download link has expired; download the export again")
    return FileToken(export_id=str(claims["export"]), user_id=str(claims["sub"]))
