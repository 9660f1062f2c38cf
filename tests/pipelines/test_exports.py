"""pipelines.exports without Celery, Redis or S3: the embedded store, MemoryBlobs, a recording emitter."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import unicodedata
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from bidi import get_display
from pypdf import PdfReader

from infra.blobs import StorageUnavailable
from pipelines.exports import jobs as exports
from pipelines.upkeep import sweeper
from pipelines.exports.jobs import ExportIO, ExportSettings
from schemas.common import new_id, utcnow
from schemas.documents import Edit, Media, Message, MessageMetadata, Quote, Reaction, SenderInfo, Variant
from schemas.errors import ApiError, Code
from schemas.payloads import ExportCreate, IdPage
from tests.conftest import make_conversation, make_user
from tests.fakes import MemoryBlobs

SETTINGS = ExportSettings(ttl=timedelta(hours=48), for_members=False, batch=50, lease_seconds=30, presign_seconds=300)
MARKUP = '<b>x</b> <img src="/etc/passwd"> R&D'
HEBREW = "שלום עולם"
ARABIC = "مرحبا بالعالم"
FORMULAS = ["=1+1", "@SUM(A1)", "+33 6 12", "-2+3", "\tTAB", "\rCR"]


class World:
    pass


def _insert(store, conv, seq, sender, content, **extra) -> Message:
    now = utcnow() + timedelta(seconds=seq)
    m = Message(id=new_id(), convId=conv.id, seq=seq, clientId=f"c{seq}", senderId=sender.id,
                senderInfo=SenderInfo.of(sender), content=content, createdAt=now, updatedAt=now, **extra)
    store.insert_message(m)
    store.advance_conversation(conv.id, seq, now)  # as the drain does once the message is announced
    return m


@pytest.fixture(params=["here", "in a snapshot", "embedded, small"])
def w(request, store, notifier, emitter):
    """Each test runs three ways: as a worker on MongoDB (JSON and CSV streamed to S3); as the embedded
    default with a walk handed to ``run_on_snapshot`` (which forks there; here it is a plain call, which
    is enough for what the pipeline does with it: the file written first, then sent;
    tests/infra/test_cpu.py and tests/e2e/test_exports.py cover the fork itself); and as the embedded
    default with an export below ``fork_min_messages`` (walked here into a file, then sent)."""
    x = World()
    x.walk = request.param
    x.alice, x.bob = make_user(store, "alice", fname="Alice", lname="Martin"), make_user(store, "bob")
    x.carol = make_user(store, "carol")
    x.conv = make_conversation(store, [x.alice, x.bob])
    x.other = make_conversation(store, [x.carol], title="elsewhere")  # carol is the admin of another group
    x.blobs, x.emitter, x.store = MemoryBlobs(), emitter, store
    x.queued = []
    embedded = x.walk != "here"
    x.io = ExportIO(store=store, blobs=x.blobs, notifier=notifier,
                    settings=dataclasses.replace(SETTINGS, fork_min_messages=0 if x.walk == "in a snapshot" else 10**9),
                    run_cpu=lambda fn, *a, **k: fn(*a, **k), part_size=5 << 20,
                    run_on_snapshot=(lambda fn, *a: fn(*a)) if embedded else None)
    conv, alice, bob = x.conv, x.alice, x.bob
    _insert(store, conv, 1, alice, "", type="system",
            metadata=MessageMetadata(systemAction="conversation_created", systemData={"username": "alice",
                                                                                     "title": "general"}))
    first = _insert(store, conv, 2, alice, "Bonjour à tous, R&D meeting at 10")
    _insert(store, conv, 3, bob, MARKUP, metadata=MessageMetadata(replyTo=first.id, quote=Quote.of(first)),
            reactions=[Reaction(userId=alice.id, emoji="👍", at=utcnow()), Reaction(userId=bob.id, emoji="👍", at=utcnow())])
    _insert(store, conv, 4, bob, HEBREW)
    _insert(store, conv, 5, alice, ARABIC)
    _insert(store, conv, 6, bob, "secret plans", isDeleted=True, deletedAt=utcnow(), deletedBy=bob.id)
    _insert(store, conv, 7, alice, "fixed text", isEdited=True, editedAt=utcnow(),
            editHistory=[Edit(content="typo txet", replacedAt=utcnow())])
    _insert(store, conv, 8, bob, "", type="image", metadata=MessageMetadata(files=[{
        "mediaId": "m" * 24, "filename": "photo.jpg", "mimeType": "image/jpeg", "fileType": "image",
        "fileSize": 1234, "status": "ready"}]))
    for i, f in enumerate(FORMULAS):
        _insert(store, conv, 9 + i, alice, f)
    seq = 9 + len(FORMULAS)
    for i in range(120):  # more than two windows of 50
        _insert(store, conv, seq + i, bob if i % 2 else alice, f"message number {seq + i} emoji 🎉 中文")
    x.last = seq + 119

    def request(who=alice, conv_id=None, **body):
        return exports.do_request_export(store, x.queued.append, SETTINGS, who, conv_id or conv.id,
                                         ExportCreate.model_validate({"format": "json", **body}))

    def run(export_id):
        return exports.run_export(export_id, x.io)

    def file_of(export_id):
        e = store.get_export(export_id)
        return x.blobs.open_read(e.key).read()

    x.request, x.run, x.file_of = request, run, file_of
    return x


def _history(store, conv_id):
    return [m for m in store.history(conv_id, before=None, after=0, limit=1000).messages]


def test_json_holds_every_message_once_in_seq_order(w):
    job = w.request(format="json")
    assert w.queued == [job.id] and job.status == "queued"
    result = w.run(job.id)
    assert result.status == "done" and result.messages == w.last
    doc = json.loads(w.file_of(job.id))
    assert [m["seq"] for m in doc["messages"]] == [m.seq for m in _history(w.store, w.conv.id)] == list(range(1, w.last + 1))
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
    member = exports.ExportSettings(**{**SETTINGS.__dict__, "for_members": True})
    with pytest.raises(ApiError) as refused:
        exports.do_request_export(store, w.queued.append, member, w.bob, w.conv.id,
                                  ExportCreate.model_validate({"format": "json", "includeDeleted": True}))
    assert refused.value.code == Code.FORBIDDEN


def test_a_range_of_seqs_or_of_times(w, store):
    job = w.request(format="json", **{"from": 3, "to": 7})
    w.run(job.id)
    assert [m["seq"] for m in json.loads(w.file_of(job.id))["messages"]] == [3, 4, 5, 6, 7]
    history = _history(store, w.conv.id)
    since, until = history[9].createdAt, history[19].createdAt
    job = w.request(format="csv", **{"from": since.isoformat(), "to": until.isoformat()})
    w.run(job.id)
    rows = list(csv.reader(io.StringIO(w.file_of(job.id).decode("utf-8-sig"))))
    assert [int(r[0]) for r in rows[1:]] == list(range(10, 21))
    assert store.get_export(job.id).total == 11


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


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_pdf_transcript_holds_every_message_in_order_as_typed(w, store):
    job = w.request(format="pdf", language="fr", timezone="Europe/Paris")
    assert w.run(job.id).status == "done"
    data = w.file_of(job.id)
    assert data.startswith(b"%PDF")
    text = _pdf_text(data)
    assert MARKUP in text                          # printed exactly as typed, never read as markup
    assert "Export de conversation" in text and "Page 1" in text and "message supprimé" in text
    assert "secret plans" not in text and "typo" not in text
    # Every message once, in seq order: each numbered message's line appears after the previous one.
    positions = [text.find(f"message number {n} ") for n in range(15, w.last + 1)]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    assert all(text.count(f"message number {n} ") == 1 for n in range(15, w.last + 1))
    assert "🎉" in text and "中文" in text        # emoji (Symbola) and CJK (Droid) fallbacks, extractable


def test_pdf_properties_are_one_line_and_its_title_prints_as_typed(w, store):
    title = 'Q3 ") /JS (app.alert(1)) \\ <b>plan</b>\r\nX\u202e'
    store.conversations.update_one({"_id": w.conv.id}, {"$set": {"title": title}})
    job = w.request(format="pdf")
    assert w.run(job.id).status == "done"
    reader = PdfReader(io.BytesIO(w.file_of(job.id)))
    info = reader.metadata
    assert info.title == 'Conversation export: Q3 ") /JS (app.alert(1)) \\ <b>plan</b> X'
    assert info.author == "Alice Martin (alice)" and info.subject == "team"
    assert "/JavaScript" not in reader.trailer["/Root"] and "/OpenAction" not in reader.trailer["/Root"]
    assert '<b>plan</b>' in _pdf_text(w.file_of(job.id))


def test_pdf_shows_the_thumbnails_the_media_pipeline_made(w, store):
    from PIL import Image

    thumb = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(thumb, "WEBP")
    key = f"media/{'m' * 24}/small.webp"
    w.blobs.put_bytes(key, thumb.getvalue(), "image/webp")
    now = utcnow()
    store.media.insert_one(Media(
        id="m" * 24, convId=w.conv.id, groupId=w.conv.groupId, uploadedBy=w.bob.id, uploaderInfo=SenderInfo.of(w.bob),
        filename="photo.jpg", originalFilename="photo.jpg", mimeType="image/jpeg", fileType="image", fileSize=1234,
        status="ready", key=f"media/{'m' * 24}/original", createdAt=now, updatedAt=now,
        variants={"small": Variant(width=64, height=48, mimeType="image/webp", size=len(thumb.getvalue()),
                                   key=key)}).to_mongo())
    job = w.request(format="pdf")
    assert w.run(job.id).status == "done"
    images = [image for page in PdfReader(io.BytesIO(w.file_of(job.id))).pages for image in page.images]
    assert [i.image.size for i in images] == [(64, 48)]  # the one image message, drawn once
    store.mark_media_deleted("m" * 24, w.bob.id, utcnow())   # deleted on its own: no longer drawn
    again = w.request(format="pdf")
    assert w.run(again.id).status == "done"
    assert [image for page in PdfReader(io.BytesIO(w.file_of(again.id))).pages for image in page.images] == []


def test_pdf_right_to_left_text_is_drawn_in_visual_order(w):
    """We draw RTL lines in visual order (python-bidi after wrapping); pypdf's extraction puts RTL runs
    back into logical order. So the check is two-sided: the text extracts as typed (logical order,
    after Unicode normalisation of Arabic presentation forms), and the content stream holds the
    visual order, which is what get_display gives for the logical text."""
    job = w.request(format="pdf")
    w.run(job.id)
    data = w.file_of(job.id)
    lines = [unicodedata.normalize("NFKC", line).strip() for line in _pdf_text(data).splitlines()]
    assert HEBREW in lines and ARABIC in lines
    visual = [unicodedata.normalize("NFKC", t).strip() for t in _drawn_lines(PdfReader(io.BytesIO(data)).pages[0])]
    assert get_display(HEBREW) in visual and HEBREW not in visual
    assert unicodedata.normalize("NFKC", get_display(ARABIC)) in visual and ARABIC not in visual
    assert MARKUP in visual


def _drawn_lines(page) -> list[str]:
    """Each text object's characters in the order they are drawn (left to right), decoded through the
    fonts' own ToUnicode maps: what pypdf's extraction would otherwise reorder."""
    import re
    from pypdf.generic import ContentStream

    maps = {}
    for name, ref in page["/Resources"]["/Font"].items():
        to_unicode = ref.get_object().get("/ToUnicode")
        if to_unicode is not None:
            table = to_unicode.get_object().get_data().decode()
            table = table.split("beginbfchar", 1)[1].split("endbfchar", 1)[0]
            maps[name] = {int(a, 16): bytes.fromhex(b).decode("utf-16-be")
                          for a, b in re.findall(r"<([0-9A-F]{2})> <([0-9A-F]+)>", table)}
    lines, current, font = [], [], None
    for operands, op in ContentStream(page.get_contents(), page.pdf).operations:
        if op == b"BT":
            current = []
        elif op == b"Tf":
            font = operands[0]
        elif op == b"Tj":
            raw = operands[0]
            raw = raw.original_bytes if hasattr(raw, "original_bytes") else bytes(raw)
            current.append("".join(maps.get(font, {}).get(b, "?") for b in raw))
        elif op == b"ET":
            lines.append("".join(current))
    return lines


def test_members_are_refused_unless_allowed_and_never_get_a_url(w, store):
    with pytest.raises(ApiError) as refused:
        w.request(who=w.bob)
    assert refused.value.code == Code.FORBIDDEN and w.queued == []
    with pytest.raises(ApiError) as other_group:
        w.request(who=w.carol)  # admin of another group
    assert other_group.value.code == Code.FORBIDDEN and w.queued == []
    job = w.request()
    w.run(job.id)
    for who in (w.bob, w.carol):
        with pytest.raises(ApiError) as no_url:
            exports.download_url(store, w.blobs, SETTINGS, who, job.id)
        assert no_url.value.code == Code.FORBIDDEN
        with pytest.raises(ApiError):
            exports.get_export(store, who, job.id)
    members = exports.ExportSettings(**{**SETTINGS.__dict__, "for_members": True})
    allowed = exports.do_request_export(store, w.queued.append, members, w.bob, w.conv.id,
                                        ExportCreate.model_validate({"format": "csv"}))
    assert allowed.status == "queued"
    # An admin who loses the role loses the download too.
    store.set_group_role(w.conv.groupId, w.alice.id, "MEMBER")
    with pytest.raises(ApiError) as demoted:
        exports.download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    assert demoted.value.code == Code.FORBIDDEN


def test_the_download_is_named_after_the_title_without_a_path_or_a_header_of_its_own(w, store):
    store.conversations.update_one({"_id": w.conv.id}, {"$set": {"title": '../Q3 "plan"\r\nX-Evil: 1\u202e'}})
    job = w.request(format="csv")
    w.run(job.id)
    url = exports.download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    disposition = parse_qs(urlsplit(url).query)["response-content-disposition"][0]
    saved = f"_Q3 _plan_ X-Evil_ 1 export {store.get_export(job.id).createdAt:%Y-%m-%d}.csv"
    assert disposition == f"attachment; filename=\"{saved}\"; filename*=UTF-8''{quote(saved, safe='')}"


@pytest.mark.parametrize("body, code", [
    ({"format": "xml"}, Code.INVALID_FORMAT),
    ({"format": None}, Code.INVALID_FORMAT),
    ({"from": 9, "to": 3}, Code.INVALID_RANGE),
    ({"from": "2025-03-02T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, Code.INVALID_RANGE),
    ({"from": 3, "to": "2025-03-01T00:00:00Z"}, Code.INVALID_RANGE),
    ({"from": "yesterday"}, Code.INVALID_RANGE),
    ({"from": "2025-03-01T00:00:00"}, Code.INVALID_RANGE),
    ({"from": 0}, Code.INVALID_RANGE),
    ({"from": True}, Code.INVALID_RANGE),
    ({"timezone": "Mars/Olympus"}, Code.INVALID_TIMEZONE),
    ({"timezone": "../../etc/passwd"}, Code.INVALID_TIMEZONE),
    ({"language": "it"}, Code.INVALID_LANGUAGE),
    ({"includeDeleted": "yes"}, Code.INVALID_PAYLOAD),
])
def test_bad_input_gets_its_own_error_and_queues_nothing(w, store, body, code):
    with pytest.raises(ApiError) as refused:
        w.request(**{"format": "json", **body})
    assert refused.value.code == code and refused.value.status == 400
    assert w.queued == [] and store.exports.count_documents({}) == 0


def test_unknown_fields_are_refused():
    from pydantic import ValidationError
    with pytest.raises(ValidationError):
        ExportCreate.model_validate({"format": "json", "pages": 3})


def test_a_redelivered_task_makes_one_file_and_one_ready_event(w, store):
    job = w.request(format="csv")
    assert w.run(job.id).ran
    assert not w.run(job.id).ran and not w.run(job.id).ran
    assert len(w.emitter.of("export:ready")) == 1
    assert list(w.blobs.keys("exports/")) == [f"exports/{job.id}/export.csv"]
    assert list(w.blobs.multipart_uploads("exports/")) == []


def test_a_live_lease_is_not_run_twice_at_once(w, store):
    job = w.request(format="json")
    now = utcnow()
    assert store.claim_export(job.id, "other-worker", now, now + timedelta(seconds=60)) is not None
    result = w.run(job.id)
    assert not result.ran and "live lease" in result.reason
    assert list(w.blobs.keys("exports/")) == [] and store.get_export(job.id).lease.owner == "other-worker"


def test_a_job_whose_worker_died_is_taken_over_and_restarts_its_file(w, store):
    job = w.request(format="json")
    now = utcnow()
    store.claim_export(job.id, "dead-worker", now - timedelta(minutes=5), now - timedelta(minutes=4))
    dead_upload = w.blobs.create_multipart(f"exports/{job.id}/export.json", "application/json")
    w.blobs.upload_part(f"exports/{job.id}/export.json", dead_upload, 1, b"x" * (5 << 20))
    store.exports.update_one({"_id": job.id}, {"$set": {"uploadId": dead_upload}})
    result = w.run(job.id)
    assert result.status == "done"
    assert list(w.blobs.multipart_uploads("exports/")) == []  # the dead worker's upload was aborted
    assert len(json.loads(w.file_of(job.id))["messages"]) == w.last
    assert store.get_export(job.id).attempts == 2


def _big(w, store, n=1200):
    """Enough text for several 5 MiB parts (a real multipart upload)."""
    for i in range(n):
        _insert(store, w.conv, w.last + 1 + i, w.bob, "lorem ipsum " * 800)


def test_cancel_while_running_leaves_nothing_behind(w, store, monkeypatch):
    _big(w, store)
    job = w.request(format="json")
    original = store.message_window
    calls = []

    def window(*a, **k):
        calls.append(1)
        if len(calls) == 22:  # mid-way (of 27 windows), after parts have been uploaded (when read here)
            assert bool(list(w.blobs.multipart_uploads("exports/"))) is (w.walk == "here")
            exports.do_cancel_export(store, w.blobs, w.alice, job.id)
            monkeypatch.setattr(exports, "PROGRESS_SECONDS", 0)  # the next window's heartbeat sees it
        return original(*a, **k)

    monkeypatch.setattr(store, "message_window", window)
    result = w.run(job.id)
    assert result.status == "cancelled"
    assert list(w.blobs.keys("exports/")) == [] and list(w.blobs.multipart_uploads("exports/")) == []
    e = store.get_export(job.id)
    assert e.status == "cancelled" and e.key is None and e.size is None
    assert w.emitter.of("export:ready") == []


def test_cancel_of_a_done_export_deletes_its_file(w, store):
    job = w.request(format="csv")
    w.run(job.id)
    exports.do_cancel_export(store, w.blobs, w.alice, job.id)
    assert list(w.blobs.keys("exports/")) == []
    with pytest.raises(ApiError) as gone:
        exports.download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    assert gone.value.code == Code.NOT_READY


def test_a_failure_aborts_the_upload_and_ends_failed_with_a_reason(w, store, monkeypatch):
    _big(w, store)
    job = w.request(format="json")
    parts = []
    original = w.blobs.upload_part

    def upload_part(key, upload_id, n, data):
        parts.append(n)
        if n == 2:
            raise ValueError("disk on fire")
        return original(key, upload_id, n, data)

    monkeypatch.setattr(w.blobs, "upload_part", upload_part)
    result = w.run(job.id)
    assert result.status == "failed" and parts == [1, 2]
    e = store.get_export(job.id)
    assert e.error["code"] == "export_failed" and "disk on fire" in e.error["message"]
    assert list(w.blobs.multipart_uploads("exports/")) == [] and list(w.blobs.keys("exports/")) == []
    [(failed, room)] = w.emitter.of("export:failed")
    assert failed["code"] == "export_failed" and room == f"user:{w.alice.id}"


def test_s3_away_is_retried_not_failed(w, store):
    job = w.request(format="csv")
    w.blobs.unavailable = True
    with pytest.raises(StorageUnavailable):
        w.run(job.id)
    assert store.get_export(job.id).status == "queued"  # released for the retry
    w.blobs.unavailable = False
    assert w.run(job.id).status == "done"


def test_progress_is_recorded_and_sent(w, store, monkeypatch):
    monkeypatch.setattr(exports, "PROGRESS_SECONDS", 0)
    job = w.request(format="json")
    w.run(job.id)
    sent = [d for d, _ in w.emitter.of("export:progress")]
    assert sent and [d["progress"] for d in sent] == sorted(d["progress"] for d in sent)
    assert sent[-1]["total"] == w.last and all(0 <= d["progress"] <= 100 for d in sent)
    view = exports.get_export(store, w.alice, job.id)
    assert view["status"] == "done" and view["progress"] == 100 and view["processed"] == w.last


def test_expired_exports_are_410_before_and_after_the_clean_up(w, store):
    job = w.request(format="csv")
    w.run(job.id)
    url = exports.download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    assert "attachment" in url and "general%20export" in url
    store.exports.update_one({"_id": job.id}, {"$set": {"expiresAt": utcnow() - timedelta(seconds=1)}})
    assert exports.get_export(store, w.alice, job.id)["status"] == "expired"  # before the beat ran
    with pytest.raises(ApiError) as expired:
        exports.download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    assert expired.value.code == Code.EXPIRED and expired.value.status == 410
    assert exports.do_expire(store, w.blobs) == {"expired": 1}
    assert list(w.blobs.keys("exports/")) == [] and store.get_export(job.id).status == "expired"
    with pytest.raises(ApiError) as still:
        exports.download_url(store, w.blobs, SETTINGS, w.alice, job.id)
    assert still.value.code == Code.EXPIRED


def test_the_sweeper_queues_again_a_job_whose_worker_died(w, store):
    job = w.request()
    w.queued.clear()
    now = utcnow()
    store.claim_export(job.id, "dead", now - timedelta(minutes=5), now - timedelta(minutes=4))
    report = sweeper.sweep_exports(store, w.blobs, w.io.notifier, w.queued.append, now=now,
                                   queued_timeout=timedelta(minutes=30))
    assert report.done == {"requeued": 1} and w.queued == [job.id]


def test_the_requester_lists_their_exports_newest_first(w, store):
    ids = [w.request(format=f).id for f in ("json", "csv", "pdf")]
    page = exports.list_exports(store, w.alice, IdPage(before=None, limit=2))
    assert [e["id"] for e in page["exports"]] == ids[::-1][:2] and page["hasMore"]
    assert exports.list_exports(store, w.bob, IdPage(before=None, limit=10))["exports"] == []


def test_system_admins_export_any_conversation(w, store):
    root = make_user(store, "root", role="ADMIN")
    assert exports.do_request_export(store, w.queued.append, SETTINGS, root, w.conv.id,
                                     ExportCreate.model_validate({"format": "json"})).status == "queued"


def test_a_deleted_messages_files_leave_in_no_members_export(w, store):
    seq = w.last + 1
    _insert(store, w.conv, seq, w.bob, "my photo", type="image", isDeleted=True, deletedAt=utcnow(), deletedBy=w.bob.id,
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
