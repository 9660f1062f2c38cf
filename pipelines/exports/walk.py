"""The walk through a conversation for an export: the seqs to walk and the file's header, then windows of
``batch`` seqs read from the store, turned into records and written in the export's format, and the PDF's
thumbnails listed. The walk may run in a fork of the embedded process (``ForkProgress``): it never uses
the network."""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Iterator

from infra.blobs import Blobs
from infra.storage import Store
from pipelines.exports import pdf, writers
from schemas.common import iso, utcnow
from schemas.documents import Export

log = logging.getLogger(__name__)

MAX_MEMBERS_IN_HEADER = 10_000
THUMBNAIL_LIST = "thumbnails.jsonl"
# Where the walk shares the event loop with the chat (``executor.shares_loop``): windows of this many
# messages, a few milliseconds of the loop at a time,
SHARED_LOOP_BATCH = 100
# and of the loop's time, at most, this share. Chat at 100 msg/s takes 65-75 % of a core on a 2-vCPU
# machine; a quarter on top of that saturated the loop (JSON exports back to back: chat's p50 doubled and
# its p99 went to 4-8 times its value without them), a tenth leaves it room (docs/exports.md).
SHARED_LOOP_SHARE = 0.10


def seq_bounds(conv, export: Export) -> tuple[int, int]:
    """The seqs to walk: a seq range as asked (clipped to what exists), otherwise the whole conversation
    as its members have seen it when the job starts (``lastSeq``: every message up to it was announced;
    later ones are not in the export). Seqs start at 1 and have no gaps; messages retention moved to the
    archive keep theirs, and are read from there. No query: on the embedded store, asking for the highest
    and lowest seq sorted the whole conversation (2 s of a 30,000-message export, py-spy)."""
    r = export.range
    if r.kind == "seq":
        return r.fromSeq or 1, min(r.toSeq or conv.lastSeq, conv.lastSeq)
    return 1, conv.lastSeq


def count_messages(store: Store, export: Export, low: int, high: int) -> int:
    if export.range.kind == "time":
        return store.messages.count_messages_created(export.convId, export.range.fromTime, export.range.toTime)
    return max(0, high - low + 1)  # seqs have no gaps


def build_header(store: Store, export: Export, conv, low: int, high: int) -> dict[str, Any]:
    group = store.groups.get_group(conv.groupId)
    members = store.conversations.conversation_members_of(conv.id, MAX_MEMBERS_IN_HEADER)
    users = store.users.users_by_ids([m.userId for m in members] + [export.requestedBy])
    requester = users.get(export.requestedBy)
    rng = export.range.public()
    rng.update({"firstSeq": low, "lastSeq": high})
    return {
        "conversation": {
            "id": conv.id, "title": conv.title, "createdAt": iso(conv.createdAt),
            "group": {"id": conv.groupId, "name": group.name if group else ""},
            "members": [{"id": m.userId, "username": users[m.userId].username,
                         "name": writers.display_name(users[m.userId].username, users[m.userId].fname,
                                                             users[m.userId].lname)}
                        for m in members if m.userId in users]},
        "range": rng,
        "exportedAt": iso(utcnow()),
        "exportedBy": {"id": export.requestedBy, "username": export.requesterName,
                       "name": writers.display_name(requester.username, requester.fname, requester.lname)
                       if requester else export.requesterName},
        "format": export.format, "language": export.language, "timezone": export.timezone,
        "includeDeleted": export.includeDeleted,
    }


def write_export(store: Store, export: Export, header: dict[str, Any], low: int, high: int, batch: int, progress,
                 sink, workdir: str) -> int:
    """The messages of [low, high] from the store to ``sink`` in the export's format (for a PDF, the
    JSON-lines its renderer reads, and in THUMBNAIL_LIST the thumbnails it needs); how many.
    ``progress`` is told of each window (``advance``) and may stop the walk (``check``): the job's
    Heartbeat, or in a fork of the embedded process a ``ForkProgress``."""
    records = _records(store, export, low, high, batch, progress, workdir)
    if export.format == "json":
        return writers.write_json(header, records, sink)
    if export.format == "csv":
        return writers.write_csv(records, sink, timezone=export.timezone)
    return writers.write_jsonl(header, records, sink)


def write_to_file(path: str, store: Store, export: Export, header, low: int, high: int, batch: int, progress,
              workdir: str) -> int:
    """``write_export`` into the file at ``path`` (here, or in a fork)."""
    with open(path, "wb") as sink:
        return write_export(store, export, header, low, high, batch, progress, sink, workdir)


def _records(store: Store, export: Export, low: int, high: int, batch: int, progress,
             workdir: str) -> Iterator[dict]:
    """The messages of [low, high] as records, one window of ``batch`` seqs at a time."""
    names: dict[str, str] = {}
    listed: set[str] = set()
    r = export.range
    start = low
    while start <= high:
        progress.check()
        began = time.monotonic()
        end = min(start + batch - 1, high)
        messages = store.messages.message_window(export.convId, start, end,
                                        created_from=r.fromTime if r.kind == "time" else None,
                                        created_to=r.toTime if r.kind == "time" else None)
        unknown = {x["userId"] for m in messages for x in m.get("reactions") or () if x["userId"] not in names}
        if unknown:
            names.update({u.id: u.username for u in store.users.users_by_ids(unknown).values()})
            if len(names) > 50_000:
                names.clear()
        media = _thumbnails(store, messages, workdir, listed) if export.format == "pdf" else {}
        for m in messages:
            record = writers.build_record(m, usernames=names, include_deleted=export.includeDeleted)
            if record["deleted"] and not export.includeDeleted:
                record.pop("attachments", None)  # a deleted message's files are deleted with it
            for a in record.get("attachments", []):
                if a["mediaId"] in media:
                    a["thumbnail"] = media[a["mediaId"]]
            yield record
        progress.advance(len(messages), began)
        start = end + 1


class ForkProgress:
    """The walk's progress in a fork of the embedded process (``run_on_snapshot``), which must not touch
    the network or the loop: written to ``{workdir}/progress`` for the parent's heartbeat, which asks it
    to stop with ``{workdir}/cancel`` (as for the PDF renderer)."""

    def __init__(self, workdir: str) -> None:
        self.workdir, self.processed = workdir, 0

    def check(self) -> None:
        if os.path.exists(os.path.join(self.workdir, "cancel")):
            raise pdf.ExportCancelled("cancelled")

    def advance(self, count: int, began: float) -> None:
        self.processed += count
        pdf.write_progress(self.workdir, self.processed)


def _thumbnails(store: Store, messages, workdir: str, listed: set[str]) -> dict[str, dict]:
    """The small renditions of the images of a window (one query for the window's media): where the PDF
    finds each (``{workdir}/thumbs/{id}.webp``), each listed once in ``{workdir}/thumbnails.jsonl`` for
    ``fetch_thumbnails`` to download before the render (the walk itself may run where it cannot use the
    network: a fork of the embedded process)."""
    ids = [f["mediaId"] for m in messages if not m.get("isDeleted")
           for f in (m.get("metadata") or {}).get("files") or [] if f.get("fileType") == "image" and f.get("mediaId")]
    if not ids:
        return {}
    found, wanted = {}, []
    for media in store.media.media_by_ids(ids).values():
        small = media.variants.get("small")
        if media.status != "ready" or small is None or media.isDeleted:  # (a deleted file's objects are going)
            continue
        path = os.path.join(workdir, "thumbs", f"{media.id}.{small.mimeType.split('/')[-1]}")
        found[media.id] = {"path": path, "width": small.width, "height": small.height}
        if path not in listed:
            listed.add(path)
            wanted.append(json.dumps({"key": small.key, "path": path}))
    if wanted:
        with open(os.path.join(workdir, THUMBNAIL_LIST), "a", encoding="utf-8") as out:
            out.write("\n".join(wanted) + "\n")
    return found


def fetch_thumbnails(blobs: Blobs, workdir: str) -> int:
    """Download the thumbnails the walk listed (a CPU child's call in the embedded default: boto3 there
    does not cost the event loop); one that cannot be read is left out of the PDF, never the export.
    How many were fetched."""
    listing = os.path.join(workdir, THUMBNAIL_LIST)
    if not os.path.exists(listing):
        return 0
    os.makedirs(os.path.join(workdir, "thumbs"), exist_ok=True)
    fetched = 0
    with open(listing, encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            try:
                data = blobs.get_range(item["key"], 0, 4 << 20)
                with open(item["path"], "wb") as out:
                    out.write(data)
                fetched += 1
            except Exception:  # noqa: BLE001
                log.warning("export: thumbnail %s unreadable", item["key"], exc_info=True)
    return fetched
