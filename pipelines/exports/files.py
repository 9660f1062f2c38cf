"""An export's file and record: the exports' settings, the key its file is stored under, the type and the
name it downloads as, and how long an ended job's record stays."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from infra.blobs import download_name
from schemas.documents import Export


CONTENT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
PURGE_AFTER = timedelta(days=7)  # an ended job's record stays this long (then its TTL index removes it)


@dataclass(frozen=True)
class ExportSettings:
    ttl: timedelta
    for_members: bool
    batch: int
    lease_seconds: int
    presign_seconds: int
    fork_min_messages: int = 10_000  # with ``run_on_snapshot``: the walks of this many messages or more


def file_key(export: Export) -> str:
    return f"exports/{export.id}/export.{export.format}"


def filename_of(export: Export, title: str) -> str:
    """``{title} export {date}.{ext}``, safe to save anywhere (``infra.blobs.download_name``: no path, no
    control character; the title cut at 60 characters)."""
    return download_name(f"{title.strip()[:60] or 'conversation'} export {export.createdAt:%Y-%m-%d}.{export.format}")
