"""Exports (contract v2): the request body, checked in pipelines.exports.jobs."""
from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from schemas.payloads.base import Payload

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
