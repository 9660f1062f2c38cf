"""What every client payload shares: the base model, a message's content check, and the query-string
helpers (unknown parameters, cursors, limits, pages by id)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationInfo
from pydantic_core import PydanticCustomError

from schemas.errors import ApiError, Code

# A mail address: one @, no white space or angle brackets (it goes into a To: header), bounded.
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                         pattern=r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


CONTENT_LIMIT = "max_message_chars"  # the validation context's key: MAX_MESSAGE_CHARS, given by app/


def content_limit(info: ValidationInfo) -> int | None:
    """The longest content allowed, from the validation context (``{CONTENT_LIMIT: n}``), which the place
    that holds the setting passes (app/: every socket event and REST body). Without one (a payload built
    by a pipeline from content checked when it came in: a scheduled message being sent) None."""
    return (info.context or {}).get(CONTENT_LIMIT)


def check_content(value: str | None, limit: int | None) -> str:
    """A text message's content: present, not blank, at most ``limit`` characters (None: not measured)."""
    if value is None or not value.strip():
        raise PydanticCustomError(Code.CONTENT_REQUIRED.value, "a text message needs content")
    if limit is not None and len(value) > limit:
        raise PydanticCustomError(Code.CONTENT_TOO_LONG.value,
                                  "content is {length} characters; the limit is {limit}",
                                  {"length": len(value), "limit": limit})
    return value


def check_params(args: Mapping[str, str], allowed: set[str]) -> None:
    unknown = set(args) - allowed
    if unknown:
        raise ApiError(Code.INVALID_PAYLOAD, f"unknown query parameter(s): {', '.join(sorted(unknown))}")


def seq_param(args: Mapping[str, str], name: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) > 2**62:
        raise ApiError(Code.INVALID_CURSOR, f"{name} must be a message seq (a whole number >= 0), got {raw!r}")
    return int(raw)


def limit_param(args: Mapping[str, str], max_limit: int, default_limit: int) -> int:
    raw = args.get("limit")
    if raw is None or raw == "":
        return default_limit
    if not raw.isdigit() or not 1 <= int(raw) <= max_limit:
        raise ApiError(Code.INVALID_LIMIT, f"limit must be a whole number from 1 to {max_limit}, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class IdPage:
    """A page of a list newest first, by id: ``before`` is the id of the last item received."""
    before: str | None
    limit: int


def parse_id_page(args: Mapping[str, str], allowed: set[str] = frozenset(), max_limit: int = 100,
                  default_limit: int = 50) -> IdPage:
    check_params(args, {"before", "limit"} | set(allowed))
    before = args.get("before") or None
    if before is not None and not is_id(before):
        raise ApiError(Code.INVALID_CURSOR, f"before must be an id (24 hex characters), got {before!r}")
    return IdPage(before=before, limit=limit_param(args, max_limit, default_limit))


def is_id(value: str) -> bool:
    return len(value) == 24 and all(c in "0123456789abcdef" for c in value)
