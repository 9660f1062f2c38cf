"""The PDF export (pipelines/exports/pdf.py, run by the job): every message as typed, its properties, the
thumbnails, right-to-left text."""
from __future__ import annotations

import io
import unicodedata

from bidi import get_display
from pypdf import PdfReader

from schemas.common import utcnow
from schemas.documents import Media, SenderInfo, Variant
from tests.pipelines.exports.world import MARKUP, HEBREW, ARABIC, w  # noqa: F401 - w: the fixture


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
    store.db.conversations.update_one({"_id": w.conv.id}, {"$set": {"title": title}})
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
    store.db.media.insert_one(Media(
        id="m" * 24, convId=w.conv.id, groupId=w.conv.groupId, uploadedBy=w.bob.id, uploaderInfo=SenderInfo.of(w.bob),
        filename="photo.jpg", originalFilename="photo.jpg", mimeType="image/jpeg", fileType="image", fileSize=1234,
        status="ready", key=f"media/{'m' * 24}/original", createdAt=now, updatedAt=now,
        variants={"small": Variant(width=64, height=48, mimeType="image/webp", size=len(thumb.getvalue()),
                                   key=key)}).to_mongo())
    job = w.request(format="pdf")
    assert w.run(job.id).status == "done"
    images = [image for page in PdfReader(io.BytesIO(w.file_of(job.id))).pages for image in page.images]
    assert [i.image.size for i in images] == [(64, 48)]  # the one image message, drawn once
    store.media.mark_media_deleted("m" * 24, w.bob.id, utcnow())   # deleted on its own: no longer drawn
    again = w.request(format="pdf")
    assert w.run(again.id).status == "done"
    assert [image for page in PdfReader(io.BytesIO(w.file_of(again.id))).pages for image in page.images] == []


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
