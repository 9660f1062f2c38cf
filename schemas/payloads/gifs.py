"""The GIF picker's query strings (contract v3: GET /api/gifs/search, /api/gifs/trending, /api/gifs/preview)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from schemas.errors import ApiError, Code
from schemas.payloads.base import check_params, is_id, limit_param

GIF_QUERY_MAX_CHARS = 50
GIF_MAX_LIMIT = 50
GIF_DEFAULT_LIMIT = 24
PREVIEW_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


@dataclass(frozen=True)
class GifQuery:
    conv_id: str
    q: str | None     # None: trending
    limit: int


def _conv_id(args: Mapping[str, str]) -> str:
    conv_id = args.get("convId") or ""
    if not is_id(conv_id):
        raise ApiError(Code.INVALID_PAYLOAD, "convId (the conversation the GIF is for) is required: a conversation id")
    return conv_id


def parse_gif_search(args: Mapping[str, str]) -> GifQuery:
    """GET /api/gifs/search?q=&convId=&limit= -> a query, or a specific error."""
    check_params(args, {"q", "convId", "limit"})
    q = " ".join((args.get("q") or "").split())
    if not q:
        raise ApiError(Code.INVALID_QUERY, "q (the words to search GIFs for) is required and must not be blank")
    if len(q) > GIF_QUERY_MAX_CHARS:
        raise ApiError(Code.INVALID_QUERY, f"q is {len(q)} characters; the limit is {GIF_QUERY_MAX_CHARS}",
                       {"length": len(q), "limit": GIF_QUERY_MAX_CHARS})
    return GifQuery(_conv_id(args), q, limit_param(args, GIF_MAX_LIMIT, GIF_DEFAULT_LIMIT))


def parse_gif_trending(args: Mapping[str, str]) -> GifQuery:
    """GET /api/gifs/trending?convId=&limit= -> a query, or a specific error."""
    check_params(args, {"convId", "limit"})
    return GifQuery(_conv_id(args), None, limit_param(args, GIF_MAX_LIMIT, GIF_DEFAULT_LIMIT))


def check_preview_token(token: str) -> str:
    """A preview token as a search handed it out; anything else is no preview of ours (404)."""
    if not PREVIEW_TOKEN.fullmatch(token or ""):
        raise ApiError(Code.NOT_FOUND, "no such GIF preview")
    return token
