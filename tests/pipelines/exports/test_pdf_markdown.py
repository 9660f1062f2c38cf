"""Messages' Markdown in the PDF (pipelines/exports/pdf_markdown.py, drawn by pdf.py): emphasis in the bold and
italic fonts, code in the mono font, quotes and lists indented, no marker left; raw HTML still prints as typed,
right-to-left text keeps its direction, a huge message still paginates; the CSV and JSON keep the raw text."""
from __future__ import annotations

import io
import json
import unicodedata

import pytest
from bidi import get_display
from pypdf import PdfReader

from pipelines.exports.pdf import render_pdf
from pipelines.exports.pdf_markdown import Piece, markdown, plain, wrap_pieces
from tests.pipelines.exports.test_pdf import _drawn_lines

HEADER = {"conversation": {"title": "formatting", "members": [{"name": "Alice"}], "group": {"name": "team"}},
          "range": {"kind": "all"}, "exportedAt": "2026-12-07T07:00:00Z", "exportedBy": {"name": "Alice"},
          "timezone": "Europe/Paris", "language": "en"}


def render(tmp_path, *contents: str) -> PdfReader:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.pdf"
    with open(source, "w", encoding="utf-8") as f:
        f.write(json.dumps(HEADER) + "\n")
        f.writelines(json.dumps({"createdAt": f"2026-12-07T06:{i % 60:02d}:00Z", "sender": {"name": "Bob"},
                                 "deleted": False, "content": content}) + "\n" for i, content in enumerate(contents))
    result = render_pdf(str(source), str(out))
    assert result["messages"] == len(contents)
    return PdfReader(str(out))


def drawn(reader: PdfReader) -> list[tuple[str, str, float]]:
    """Every piece of text drawn: (its font's name without the subset tag, the text, its x)."""
    pieces = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            pieces.append((str(font["/BaseFont"]).split("+")[-1] if font else "", text, tm[4] + cm[4]))

    for page in reader.pages:
        page.extract_text(visitor_text=visit)
    return pieces


def font_of(pieces, text: str) -> str:
    return next(font for font, t, _ in pieces if t == text)


def test_emphasis_and_code_use_their_fonts_and_no_marker_is_left(tmp_path):
    reader = render(tmp_path, "**bold** and _italic_ and ***both*** and `code` and ~~gone~~",
                    "```\ndef f():\n    return 1\n```", "plain <b>x</b> R&D *not closed")
    pieces = drawn(reader)
    assert font_of(pieces, "bold") == "DejaVuSans-Bold"
    assert font_of(pieces, "italic") == "DejaVuSans-Oblique"
    assert font_of(pieces, "both") == "DejaVuSans-BoldOblique"
    assert font_of(pieces, "code") == "DejaVuSansMono"
    assert font_of(pieces, " and ") == "DejaVuSans"
    assert font_of(pieces, "    return 1") == "DejaVuSansMono"       # a code block keeps its lines and spaces
    text = reader.pages[0].extract_text()
    assert "bold and italic and both and code and gone" in text
    assert "**" not in text and "`" not in text and "~~" not in text and "_italic_" not in text
    assert "plain <b>x</b> R&D *not closed" in text                  # raw HTML off: printed as typed


def test_quotes_and_lists_are_indented_with_bullets(tmp_path):
    pieces = drawn(render(tmp_path, "> quoted words\n\nafter", "- one\n- two\n  - nested\n\n3. three\n4. four",
                          "see [the docs](https://example.org/docs) or <https://example.org/a>"))
    x = {t: at for _, t, at in pieces}
    assert x["quoted words"] > x["after"]                             # a quote is indented
    assert x["one"] == x["two"] == x["three"] > x["after"] and x["nested"] > x["one"]
    assert [t for _, t, _ in pieces if t in ("•", "3.", "4.")] == ["•", "•", "•", "3.", "4."]
    assert next(at for _, t, at in pieces if t == "•") < x["one"]
    assert any(t == "see the docs (https://example.org/docs) or https://example.org/a" for _, t, _ in pieces)


def test_right_to_left_text_in_markdown_keeps_its_direction(tmp_path):
    hebrew = "שלום עולם"
    reader = render(tmp_path, f"**{hebrew}**", f"- {hebrew}")
    visual = [t.strip() for t in _drawn_lines(reader.pages[0])]
    assert get_display(hebrew) in visual                               # drawn in visual order, markers gone
    assert get_display("• " + hebrew, base_dir="R") in visual          # the bullet on its right
    lines = [unicodedata.normalize("NFKC", line).strip() for line in reader.pages[0].extract_text().splitlines()]
    assert hebrew in lines and "**" not in "".join(lines)


def test_a_huge_message_with_markdown_paginates(tmp_path):
    huge = ("**bold** words and `code` " * 700) + "\n```\n" + "line of code\n" * 200 + "```"
    reader = render(tmp_path, huge, "the end")
    assert len(reader.pages) >= 5
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert text.count("line of code") == 200 and "the end" in text and "**" not in text
    for page in reader.pages[1:-1]:
        assert page.extract_text().strip()                           # no empty page in between


def test_plain_messages_skip_the_parser_and_excerpts_lose_their_markers():
    assert markdown("see you at 10. ok - thanks!") is None              # no marker: the plain path
    assert markdown("2026 - a year") is None
    assert markdown("**a**") is not None and markdown("- item") is not None and markdown("> q") is not None
    assert plain("**bold** and `code`\n> quoted") == "bold and code quoted"
    assert plain("just words") == "just words"
    assert [b.plain() for b in markdown("[x](javascript:alert(1)) ![i](http://evil.test/x.png)")] == [
        "[x](javascript:alert(1)) !i (http://evil.test/x.png)"]         # no script link, no image


@pytest.mark.parametrize("width", [30.0, 200.0])
def test_wrapping_keeps_styles_and_cuts_long_words(width):
    pieces = [Piece("hello ", "regular"), Piece("wonderful", "bold"), Piece(" " + "x" * 40, "mono")]
    lines = wrap_pieces(pieces, width, lambda text, style: 6.0 * len(text))
    assert "".join(p.text for line in lines for p in line).replace(" ", "") == "hellowonderful" + "x" * 40
    assert all(sum(6.0 * len(p.text) for p in line) <= width for line in lines)
    assert {p.style for line in lines for p in line if "wonderful" in p.text or "wonder" in p.text} <= {"bold"}


def test_csv_and_json_keep_the_raw_text():
    from pipelines.exports.writers import write_csv, write_json
    from tests.pipelines.exports.test_writers import _record

    raw = "**bold** _italic_ `code`\n```\nblock\n```"
    for write in (write_csv, lambda records, sink: write_json(HEADER, records, sink)):
        sink = io.BytesIO()
        write([_record(2, raw)], sink)
        data = sink.getvalue().decode("utf-8-sig")
        assert "**bold** _italic_ `code`" in data and "```" in data
