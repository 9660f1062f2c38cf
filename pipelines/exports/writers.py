"""Export writers as plain functions over an iterator: records (plain dicts) -> a binary sink.

They know nothing of MongoDB or S3: ``pipelines.exports`` turns stored messages into records
(``build_record``) batch by batch and hands the writers a generator, and the sink is whatever has a
``write(bytes)`` (the S3 multipart writer, a file, a BytesIO in tests). Memory is a batch of records and
a small text buffer, whatever the conversation's size.

The PDF writer is ``pipelines.exports.pdf.render_pdf`` (it reads records from a JSON-lines file, so it
can run in a child process).
"""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any, Iterable, Iterator, Protocol
from zoneinfo import ZoneInfo

import orjson

from schemas.common import iso
from schemas.documents import system_text

# A record is serialised by orjson, about 18 times faster than ``json.dumps`` on a typical message, which is
# most of a JSON export's time (docs/exports.md). Its output is compact UTF-8 (no spaces after separators).
FLUSH_EVERY = 256  # records buffered before one write to the sink


class Sink(Protocol):
    def write(self, data: bytes) -> Any: ...


# -- records ---------------------------------------------------------------------------------------------
def display_name(username: str, fname: str = "", lname: str = "") -> str:
    full = f"{fname} {lname}".strip()
    return f"{full} ({username})" if full else username


def build_record(doc: dict[str, Any], *, usernames: dict[str, str], include_deleted: bool) -> dict[str, Any]:
    """One stored message (a ``messages`` document, as ``schemas.documents.Message.to_mongo`` writes it,
    read as the driver returns it: see ``MessagesRepo.message_window``) as every format sees it. A deleted message
    keeps its place (seq, sender, time) but not its content, edits or quote unless ``include_deleted``
    (moderators' exports). ``usernames`` maps the ids of reacting users to names (ids not in it are shown
    as ids)."""
    info = doc.get("senderInfo") or {}
    deleted = bool(doc.get("isDeleted"))
    hidden = deleted and not include_deleted
    meta = doc.get("metadata") or {}
    username = info.get("username", "")
    record: dict[str, Any] = {
        "seq": doc["seq"], "id": doc["_id"], "createdAt": iso(doc["createdAt"]), "type": doc.get("type", "text"),
        "sender": {"id": doc["senderId"], "username": username,
                   "name": display_name(username, info.get("fname") or "", info.get("lname") or "")},
        "content": None if hidden else doc.get("content", ""),
        "deleted": deleted,
    }
    if deleted:
        record["deletedAt"] = iso(doc.get("deletedAt"))
    if record["type"] == "system":
        action = meta.get("systemAction")
        record["system"] = {"action": action, "text": system_text(action or "", meta.get("systemData") or {})}
    quote = meta.get("quote")
    if quote is not None and not hidden:
        record["replyTo"] = {"messageId": quote["messageId"], "seq": quote["seq"], "username": quote["username"],
                             "excerpt": quote["excerpt"]}
    elif meta.get("replyTo") and not hidden:
        record["replyTo"] = {"messageId": meta["replyTo"]}
    if doc.get("reactions"):
        grouped: dict[str, list[str]] = {}
        for r in doc["reactions"]:
            grouped.setdefault(r["emoji"], []).append(usernames.get(r["userId"], r["userId"]))
        record["reactions"] = [{"emoji": e, "count": len(users), "users": users} for e, users in grouped.items()]
    if doc.get("isEdited"):
        record["editedAt"] = iso(doc.get("editedAt"))
        if not hidden:
            record["edits"] = [{"content": e["content"], "replacedAt": iso(e["replacedAt"])}
                               for e in doc.get("editHistory") or []]
    if meta.get("files"):
        record["attachments"] = [{
            "mediaId": f.get("mediaId"), "filename": f.get("filename"), "mimeType": f.get("mimeType"),
            "fileType": f.get("fileType"), "size": f.get("fileSize"), "status": f.get("status"),
            # The media's own route: members download it there, after its own membership check.
            "url": f"/api/media/{f.get('mediaId')}/content"} for f in meta["files"]]
    return record


# -- JSON ------------------------------------------------------------------------------------------------
def write_json(header: dict[str, Any], records: Iterable[dict[str, Any]], sink: Sink) -> int:
    """One document ``{conversation, range, exportedAt, exportedBy, ..., messages: [...]}``, written as it
    goes: the header, then one line per message. Returns the number of messages."""
    head = json.dumps(header, ensure_ascii=False, indent=1)
    sink.write((head[:-2] + ',\n "messages": [').encode())  # the header object, left open

    def lines() -> Iterator[bytes]:
        separator = b"\n  "
        for record in records:
            yield separator + orjson.dumps(record)
            separator = b",\n  "

    count = _write_batched(lines(), sink)
    sink.write(b"\n ]\n}\n")
    return count


def _write_batched(pieces: Iterable[bytes], sink: Sink) -> int:
    """``pieces`` written FLUSH_EVERY at a time; returns how many."""
    count, buffer = 0, []
    for piece in pieces:
        buffer.append(piece)
        count += 1
        if count % FLUSH_EVERY == 0:
            sink.write(b"".join(buffer))
            buffer.clear()
    if buffer:
        sink.write(b"".join(buffer))
    return count


# -- CSV -------------------------------------------------------------------------------------------------
CSV_COLUMNS = ("seq", "time", "utc", "sender", "username", "type", "content", "reply_to_seq", "reply_to",
               "reply_excerpt", "reactions", "edited_at", "edits", "deleted", "attachments", "message_id")
# Formula injection (OWASP's "CSV Injection"). A spreadsheet reads a cell that starts with "=", "+", "-" or
# "@" as a formula (and may drop a leading tab, carriage return or line feed and read what follows as one).
# Quoting every field is not enough: a spreadsheet that splits on another separator than ours (French
# Excel splits on ";") or on line breaks, without honouring our quotes, starts a new cell after any ",",
# ";", tab, CR or LF inside a text, and a reader that does honour quotes may strip a '"' there. So an
# apostrophe, which spreadsheets take as "this is text", goes:
# - before a cell that starts with a formula character, a tab, CR, LF or NUL (OWASP's rule);
# - after every ",", ";", tab, CR and LF in a cell that a formula character follows (past any spaces,
#   quotes or NULs, which a spreadsheet may trim or take as quoting);
# - before an apostrophe already standing in one of those places, so that removing one apostrophe from
#   each of them gives back exactly what was written (and Excel, which hides a cell's first apostrophe,
#   shows it as written).
# Formula characters are "=+-@" and every character whose compatibility form (NFKC) starts with one
# (full-width "＝", small "﹢", superscript "⁻", ...): input paths that normalise them would make them
# formulas; tests/pipelines/exports/test_writers.py checks the list against unicodedata. defusedcsv was
# considered: it looks at a cell's first character only and rewrites every "|" in such a cell.
FORMULA_CHARS = "=+-@⁺⁼₊₌⩵⩶﬩﹢﹣﹦﹫＋－＝＠"
SEPARATORS = ",;\t\r\n"
# After a separator, or where the cell starts: apostrophes, then any spaces, quotes or NULs (which a
# spreadsheet may trim or take as quoting; never a separator: each separator is a place of its own), then
# a formula character. At the cell's start also: apostrophes, then a tab, CR, LF or NUL.
_FORMULA = "'*(?:[^\\S\t\r\n]|[\"\x00])*[" + re.escape(FORMULA_CHARS) + "]"
_START = re.compile(f"(?:{_FORMULA}|'*[\t\r\n\x00])")
_INSIDE = re.compile(f"([{SEPARATORS}])(?={_FORMULA})")
_INSIDE_ADDED = re.compile(f"([{SEPARATORS}])'(?={_FORMULA})")
# No formula character, tab, line break or NUL anywhere: nothing to do (most cells; a C-speed scan).
_ANY_RISK = re.compile("[" + re.escape(FORMULA_CHARS) + "\t\r\n\x00]")


def neutralise(cell: str) -> str:
    """``cell`` with an apostrophe wherever a spreadsheet could start a formula (see above). A cell without
    a formula character, tab, line break or NUL (most) costs one regex scan; ``sub`` runs only where there
    is a place to neutralise."""
    if not _ANY_RISK.search(cell):
        return cell
    at_start = _START.match(cell)
    if _INSIDE.search(cell):
        cell = _INSIDE.sub(r"\1'", cell)
    return "'" + cell if at_start else cell


def restore(cell: str) -> str:
    """What was written, from a neutralised cell: one apostrophe less at each place ``neutralise`` adds one."""
    cell = _INSIDE_ADDED.sub(r"\1", cell)
    return cell[1:] if cell.startswith("'") and _START.match(cell, 1) else cell


def local_time(iso_utc: str | None, tz: ZoneInfo) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in the requested time zone (what spreadsheets read as a date and time)."""
    if not iso_utc:
        return ""
    return datetime.fromisoformat(iso_utc).astimezone(tz).isoformat(" ", "seconds")[:19]


def csv_row(record: dict[str, Any], tz: ZoneInfo) -> list[Any]:
    """One message's cells: people's text neutralised (``neutralise``); numbers, times and ids are ours."""
    reply = record.get("replyTo") or {}
    system = record.get("system")
    content = system["text"] if system else record["content"] or ""
    sender = record["sender"]
    created = record["createdAt"]
    reactions, edits, attachments = record.get("reactions"), record.get("edits"), record.get("attachments")
    return [
        record["seq"], local_time(created, tz), created,
        *map(neutralise, (sender["name"], sender["username"], record["type"], content)),
        reply.get("seq", ""),
        *map(neutralise, (
            reply.get("username", ""), reply.get("excerpt", ""),
            "; ".join(f"{r['emoji']} {r['count']}" for r in reactions) if reactions else "")),
        local_time(record.get("editedAt"), tz),
        neutralise(" | ".join(e["content"] for e in edits) if edits else ""),
        "yes" if record["deleted"] else "",
        neutralise("; ".join(f"{a['filename']} ({a['mimeType']}) {a['url']}" for a in attachments)
                   if attachments else ""),
        record["id"],
    ]


def write_csv(records: Iterable[dict[str, Any]], sink: Sink, *, timezone: str = "UTC") -> int:
    """UTF-8 with a BOM (so Excel reads it as UTF-8), a header row, one row per message, every field
    quoted (RFC 4180: CRLF line ends, quotes doubled), times in ``timezone``, every text of a person
    neutralised against formula injection whatever separator the spreadsheet splits on."""
    tz = ZoneInfo(timezone)
    buffer = io.StringIO()
    out = csv.writer(buffer, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    out.writerow(CSV_COLUMNS)
    sink.write(b"\xef\xbb\xbf" + buffer.getvalue().encode())
    buffer.seek(0), buffer.truncate()
    count, rows = 0, []
    for record in records:
        rows.append(csv_row(record, tz))
        count += 1
        if len(rows) == FLUSH_EVERY:
            out.writerows(rows)
            rows.clear()
            sink.write(buffer.getvalue().encode())
            buffer.seek(0), buffer.truncate()
    out.writerows(rows)
    sink.write(buffer.getvalue().encode())
    return count


# -- JSON lines (the PDF renderer's input) ----------------------------------------------------------------
def write_jsonl(header: dict[str, Any], records: Iterable[dict[str, Any]], sink: Sink) -> int:
    """The header on the first line, then one record per line: what ``render_pdf`` reads, in a child
    process, without any access to the store."""
    sink.write(orjson.dumps(header) + b"\n")
    return _write_batched((orjson.dumps(record) + b"\n" for record in records), sink)
