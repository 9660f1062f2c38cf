"""Exports (contract v2): the request body, checked in pipelines.exports.jobs."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, Field

from schemas.errors import ApiError, Code
from schemas.payloads.base import Payload, parse_id_page

EXPORT_FORMATS = ("json", "csv", "pdf")
EXPORT_LANGUAGES = ("fr", "en", "es", "de")


class ExportCreate(Payload):
    """POST /api/conversations/{convId}/exports. ``from``/``to``: both seqs (integers) or both times
    (ISO-8601 with an offset), inclusive; either may be left out. Checked in pipelines.exports.jobs
    (check_export_request), which gives each mistake its own code."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    format: Any = None
    from_: Any = Field(None, alias="from")
    to: Any = None
    language: Any = None
    timezone: Any = None
    includeDeleted: Any = False


EXPORTABLE_MAX_QUERY_CHARS = 100
EXPORTABLE_MAX_LIMIT = 100


@dataclass(frozen=True)
class ExportableQuery:
    """GET /api/exportable-conversations: ``text`` searched in titles and group names (None: every one),
    ``before`` the id of the last conversation received (the next page), ``limit``."""
    text: str | None
    before: str | None
    limit: int


def parse_exportable_query(args: Mapping[str, str]) -> ExportableQuery:
    """?q=&before=&limit= -> a query, or a specific error (invalid_query, invalid_cursor, invalid_limit)."""
    page = parse_id_page(args, {"q"}, max_limit=EXPORTABLE_MAX_LIMIT, default_limit=30)
    text = (args.get("q") or "").strip()
    if len(text) > EXPORTABLE_MAX_QUERY_CHARS:
        raise ApiError(Code.INVALID_QUERY, f"q is {len(text)} characters; the limit is {EXPORTABLE_MAX_QUERY_CHARS}",
                       {"length": len(text), "limit": EXPORTABLE_MAX_QUERY_CHARS})
    return ExportableQuery(text=text or None, before=page.before, limit=page.limit)
