"""Conversation exports (contract v2 "Exports"): the request's range, the job's lease and its state."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.common import iso
from schemas.documents.base import Document, Timestamp

ExportFormat = Literal["json", "csv", "pdf"]
ExportStatus = Literal["queued", "running", "done", "failed", "cancelled", "expired"]
EXPORT_TERMINAL = ("done", "failed", "cancelled", "expired")


class ExportRange(BaseModel):
    """What part of the conversation: every message (``all``), a seq range, or a time range (createdAt,
    inclusive). ``fromSeq``/``toSeq`` are what the worker reads, fixed when the job starts (``toSeq``:
    the newest message at that moment, so an export is a snapshot)."""
    kind: Literal["all", "seq", "time"] = "all"
    fromSeq: int | None = None
    toSeq: int | None = None
    fromTime: Timestamp | None = None
    toTime: Timestamp | None = None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "seq":
            out.update({"from": self.fromSeq, "to": self.toSeq})
        elif self.kind == "time":
            out.update({"from": iso(self.fromTime), "to": iso(self.toTime)})
        return out


class ExportLease(BaseModel):
    """Who runs the job, until when (renewed while it works): a redelivered task that finds a live lease
    returns without work; one that finds it stale takes the job over and starts the file again."""
    owner: str
    until: Timestamp


class Export(Document):
    """An export job and, once done, its file in S3 (``key``) until ``expiresAt``."""
    convId: str
    groupId: str
    requestedBy: str
    requesterName: str
    format: ExportFormat
    range: ExportRange = Field(default_factory=ExportRange)
    language: str = "en"
    timezone: str = "UTC"
    includeDeleted: bool = False
    status: ExportStatus = "queued"
    progress: int = 0
    processed: int = 0
    total: int = 0
    size: int | None = None
    key: str | None = None           # the file's S3 key (set when done, cleared when expired or cancelled)
    uploadId: str | None = None      # the multipart upload of the attempt in progress (aborted on restart)
    lease: ExportLease | None = None
    attempts: int = 0
    requeues: int = 0                # times the sweeper queued it again (once, then it fails it)
    error: dict[str, str] | None = None
    readyAnnounced: bool = False     # export:ready was sent (a redelivery after the send does not repeat it)
    sealed: bool = False             # its file is sealed with the conversation's key (downloaded through this server)
    createdAt: Timestamp
    startedAt: Timestamp | None = None
    finishedAt: Timestamp | None = None
    expiresAt: Timestamp | None = None
    purgeAt: Timestamp | None = None  # the record itself goes (TTL index) after this
    updatedAt: Timestamp

    def public(self, now: datetime | None = None) -> dict[str, Any]:
        """The job as the requester sees it; a done export past its expiry reads as expired even before
        the clean-up job has run (a TTL index or a beat tick can be late)."""
        status = self.status
        if status == "done" and now is not None and self.expiresAt is not None and self.expiresAt <= now:
            status = "expired"
        out: dict[str, Any] = {"id": self.id, "convId": self.convId, "format": self.format, "status": status,
                               "progress": self.progress, "processed": self.processed, "total": self.total,
                               "range": self.range.public(), "language": self.language, "timezone": self.timezone,
                               "includeDeleted": self.includeDeleted, "createdAt": iso(self.createdAt)}
        if status == "done":
            out.update({"size": self.size, "expiresAt": iso(self.expiresAt)})
        elif status == "expired":
            out["expiresAt"] = iso(self.expiresAt)
        if self.error:
            out["error"] = self.error
        if self.finishedAt:
            out["finishedAt"] = iso(self.finishedAt)
        return out
