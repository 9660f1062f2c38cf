"""What the walk puts in an export (pipelines/exports/walk.py and the writers, run by the job): every message
once in order, ranges, deleted content, CSV."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from pipelines.exports.files import ExportSettings
from pipelines.exports.requests import do_request_export
from schemas.common import utcnow
from schemas.documents import MessageMetadata
from schemas.errors import ApiError, Code
from schemas.payloads import ExportCreate
from tests.pipelines.exports.world import SETTINGS, MARKUP, HEBREW, FORMULAS, insert_message, history_of, w  # noqa: F401 - w: the fixture


def test_json_holds_every_message_once_in_seq_order(w):
    job = w.request(format="json")
    assert w.queued == [job.id] and job.status == "queued"
    result = w.run(job.id)
    assert result.status == "done" and result.messages == w.last
    doc = json.loads(w.file_of(job.id))
    assert [m["seq"] for m in doc["messages"]] == [m.seq for m in history_of(w.store, w.conv.id)] == list(range(1, w.last + 1))
    assert set(doc) >= {"conversation", "range", "exportedAt", "exportedBy", "messages"}
    assert doc["conversation"]["title"] == "general" and {m["username"] for m in doc["conversation"]["members"]} == {"alice", "bob"}
    assert doc["exportedBy"]["name"] == "Alice Martin (alice)"
    by_seq = {m["seq"]: m for m in doc["messages"]}
    assert by_seq[1]["system"]["text"] == 'alice created the conversation "general"'
    assert by_seq[3]["content"] == MARKUP and by_seq[3]["replyTo"]["seq"] == 2
    assert by_seq[3]["reactions"] == [{"emoji": "👍", "count": 2, "users": ["alice", "bob"]}]
    assert by_seq[6]["deleted"] is True and by_seq[6]["content"] is None and "secret" not in json.dumps(doc)
    assert by_seq[7]["edits"] == [{"content": "typo txet", "replacedAt": by_seq[7]["edits"][0]["replacedAt"]}]
    assert by_seq[8]["attachments"][0]["url"] == f"/api/media/{'m' * 24}/content"
    ready = w.emitter.of("export:ready")
    assert len(ready) == 1 and ready[0][1] == f"user:{w.alice.id}" and ready[0][0]["size"] == len(w.file_of(job.id))


def test_moderators_may_include_deleted_content_and_nobody_else(w, store):
    job = w.request(format="json", includeDeleted=True)
    w.run(job.id)
    deleted = next(m for m in json.loads(w.file_of(job.id))["messages"] if m["seq"] == 6)
    assert deleted["deleted"] is True and deleted["content"] == "secret plans"
    member = ExportSettings(**{**SETTINGS.__dict__, "for_members": True})
    with pytest.raises(ApiError) as refused:
        do_request_export(store, w.queued.append, member, w.bob, w.conv.id,
                                  ExportCreate.model_validate({"format": "json", "includeDeleted": True}))
    assert refused.value.code == Code.FORBIDDEN


def test_a_range_of_seqs_or_of_times(w, store):
    job = w.request(format="json", **{"from": 3, "to": 7})
    w.run(job.id)
    assert [m["seq"] for m in json.loads(w.file_of(job.id))["messages"]] == [3, 4, 5, 6, 7]
    history = history_of(store, w.conv.id)
    since, until = history[9].createdAt, history[19].createdAt
    job = w.request(format="csv", **{"from": since.isoformat(), "to": until.isoformat()})
    w.run(job.id)
    rows = list(csv.reader(io.StringIO(w.file_of(job.id).decode("utf-8-sig"))))
    assert [int(r[0]) for r in rows[1:]] == list(range(10, 21))
    assert store.exports.get_export(job.id).total == 11


def test_csv_has_a_bom_a_header_one_row_per_message_and_formulas_neutralised(w):
    job = w.request(format="csv", timezone="America/New_York")
    w.run(job.id)
    data = w.file_of(job.id)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0][:7] == ["seq", "time", "utc", "sender", "username", "type", "content"]
    body = rows[1:]
    assert [int(r[0]) for r in body] == list(range(1, w.last + 1))
    contents = [r[6] for r in body]
    for formula in FORMULAS:
        assert "'" + formula in contents  # opens as text
    assert all(not c.startswith(("=", "+", "-", "@", "\t", "\r")) for r in body for c in r[1:])
    assert MARKUP in contents and HEBREW in contents
    # times in the requested zone: New York is 4 or 5 hours behind UTC
    utc, local = body[1][2], body[1][1]
    from datetime import datetime
    shift = datetime.fromisoformat(utc.replace("Z", "+00:00")).replace(tzinfo=None, microsecond=0) - datetime.fromisoformat(local)
    assert shift in (timedelta(hours=4), timedelta(hours=5))
    assert b"\r\n" in data  # RFC 4180 line ends


def test_a_deleted_messages_files_leave_in_no_members_export(w, store):
    seq = w.last + 1
    insert_message(store, w.conv, seq, w.bob, "my photo", type="image", isDeleted=True, deletedAt=utcnow(), deletedBy=w.bob.id,
            metadata=MessageMetadata(files=[{"mediaId": "d" * 24, "filename": "private.jpg", "mimeType": "image/jpeg",
                                             "fileType": "image", "fileSize": 99, "status": "ready"}]))
    job = w.request(format="json")
    w.run(job.id)
    [record] = [m for m in json.loads(w.file_of(job.id))["messages"] if m["seq"] == seq]
    assert record["deleted"] and record["content"] is None and "attachments" not in record
    assert "private.jpg" not in w.file_of(job.id).decode()
    moderated = w.request(format="json", includeDeleted=True)   # a moderator's export shows what was there
    w.run(moderated.id)
    [record] = [m for m in json.loads(w.file_of(moderated.id))["messages"] if m["seq"] == seq]
    assert record["attachments"][0]["filename"] == "private.jpg"
