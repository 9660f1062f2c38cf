"""The PDF export writer: a printable transcript drawn with reportlab's canvas, from a JSON-lines file.

Why the canvas and not platypus: platypus keeps the whole story (every flowable) in memory until the
build, which for 100,000 messages is the whole conversation; the canvas here lays out one message at a
time and emits each page as it fills (reportlab keeps only each finished page's compressed stream).
And text is drawn with text objects, never given to reportlab's markup: ``<b>x</b>``, ``<img src=...>`` and
``R&D`` print exactly as typed. A message's Markdown subset (the page's: ``**bold**``, ``_italic_``, code,
quotes, lists) is parsed with raw HTML off into styled pieces (``pdf_markdown``) drawn in the matching fonts.

Why a file: the PDF is CPU-bound pure Python (reportlab holds the GIL), so in the embedded default it runs
in a child process (the executor's ``run_cpu``), which has no access to the in-memory store. The walk writes
the records to a JSON-lines file as it reads them (``writers.write_jsonl``), the child renders it
to another file, and the worker uploads that in parts. The child reports how far it got in
``{workdir}/progress`` and stops when ``{workdir}/cancel`` appears (checked every ``CHECK_EVERY`` records).
Fonts and text shaping: ``pdf_text``.
"""
from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.exports.pdf_markdown import INDENT, Block, Piece, markdown, plain, wrap_pieces
from pipelines.exports.pdf_text import Fonts, clean, has_rtl, is_rtl
from schemas.common import one_line


CHECK_EVERY = 200
PAGE_W, PAGE_H = 595.27, 841.89  # A4 in points
MARGIN = 50
BODY = 10
SMALL = 8
LEADING = 1.3
THUMB_MAX_W, THUMB_MAX_H = 200, 150


LABELS: dict[str, dict[str, Any]] = {
    "en": {"title": "Conversation export", "group": "Group", "range": "Range", "all": "all messages",
           "exported": "Exported on {when} by {who}", "members": "Members", "timezone": "Time zone",
           "page": "Page {n}", "deleted": "message deleted", "deleted_kept": "deleted", "edited": "edited",
           "reply": "in reply to", "messages": "{n} messages", "seq": "messages {a} to {b}",
           "time": "from {a} to {b}", "open_start": "the beginning", "open_end": "now",
           "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
           "months": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                      "October", "November", "December"], "date": "{weekday}, {month} {day}, {year}"},
    "fr": {"title": "Export de conversation", "group": "Groupe", "range": "Période", "all": "tous les messages",
           "exported": "Exporté le {when} par {who}", "members": "Membres", "timezone": "Fuseau horaire",
           "page": "Page {n}", "deleted": "message supprimé", "deleted_kept": "supprimé", "edited": "modifié",
           "reply": "en réponse à", "messages": "{n} messages", "seq": "messages {a} à {b}",
           "time": "du {a} au {b}", "open_start": "début", "open_end": "maintenant",
           "days": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
           "months": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                      "octobre", "novembre", "décembre"], "date": "{weekday} {day} {month} {year}"},
    "es": {"title": "Exportación de la conversación", "group": "Grupo", "range": "Intervalo",
           "all": "todos los mensajes", "exported": "Exportado el {when} por {who}", "members": "Miembros",
           "timezone": "Zona horaria", "page": "Página {n}", "deleted": "mensaje eliminado",
           "deleted_kept": "eliminado", "edited": "editado", "reply": "en respuesta a", "messages": "{n} mensajes",
           "seq": "mensajes {a} a {b}", "time": "del {a} al {b}", "open_start": "inicio", "open_end": "ahora",
           "days": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
           "months": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
                      "octubre", "noviembre", "diciembre"], "date": "{weekday}, {day} de {month} de {year}"},
    "de": {"title": "Export der Unterhaltung", "group": "Gruppe", "range": "Zeitraum", "all": "alle Nachrichten",
           "exported": "Exportiert am {when} von {who}", "members": "Mitglieder", "timezone": "Zeitzone",
           "page": "Seite {n}", "deleted": "Nachricht gelöscht", "deleted_kept": "gelöscht",
           "edited": "bearbeitet", "reply": "Antwort auf", "messages": "{n} Nachrichten",
           "seq": "Nachrichten {a} bis {b}", "time": "vom {a} bis {b}", "open_start": "Anfang", "open_end": "jetzt",
           "days": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
           "months": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
                      "Oktober", "November", "Dezember"], "date": "{weekday}, {day}. {month} {year}"},
}


class ExportCancelled(Exception):
    """The worker asked the renderer to stop (the job was cancelled or its lease was lost)."""


@dataclass
class Line:
    text: str                 # in visual order, ready to draw left to right
    style: str = "regular"
    size: float = BODY
    color: tuple[float, float, float] = (0, 0, 0)
    indent: float = 0
    align: str = "left"       # left, right, center


@dataclass
class Renderer:
    canvas: Any
    fonts: Fonts
    labels: dict[str, Any]
    tz: ZoneInfo
    title: str
    page: int = 1
    y: float = PAGE_H - MARGIN
    width: float = PAGE_W - 2 * MARGIN
    day: str | None = None
    images: dict[str, Any] = field(default_factory=dict)

    # -- pages -------------------------------------------------------------------------------------
    def footer(self) -> None:
        c = self.canvas
        c.setFillColorRGB(0.45, 0.45, 0.45)
        self._draw_runs(self.fonts.runs(self.labels["page"].format(n=self.page)), PAGE_W / 2, MARGIN / 2, SMALL,
                        "center")
        if self.page > 1:
            text = self.title if len(self.title) < 90 else self.title[:89] + "…"
            self._draw_runs(self.fonts.runs(text), MARGIN, PAGE_H - MARGIN / 2, SMALL, "left")

    def new_page(self) -> None:
        self.footer()
        self.canvas.showPage()
        self.page += 1
        self.y = PAGE_H - MARGIN

    def room(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.new_page()

    # -- text --------------------------------------------------------------------------------------
    def _draw_runs(self, runs: list[tuple[str, str]], x: float, y: float, size: float, align: str) -> None:
        """One text object per line (font changes inside it), so that text extraction reads one line."""
        if align != "left":
            total = sum(self.fonts.stringWidth(t, f, size) for f, t in runs)
            x -= total if align == "right" else total / 2
        text = self.canvas.beginText(x, y)
        for font, chars in runs:
            text.setFont(font, size)
            text.textOut(chars)
        self.canvas.drawText(text)

    def draw(self, line: Line) -> None:
        height = line.size * LEADING
        self.room(height)
        self.y -= height
        self.canvas.setFillColorRGB(*line.color)
        x = {"left": MARGIN + line.indent, "right": PAGE_W - MARGIN, "center": PAGE_W / 2}[line.align]
        self._draw_runs(self.fonts.runs(line.text, line.style), x, self.y + line.size * 0.25, line.size, line.align)

    def paragraph(self, text: str, *, style: str = "regular", size: float = BODY,
                  color=(0, 0, 0), indent: float = 0, center: bool = False) -> None:
        """Wrapped to the width; each paragraph (line of the text) in its own direction."""
        for para in clean(text).split("\n"):
            rtl = has_rtl(para)
            if rtl and any(unicodedata.bidirectional(c) == "AL" for c in para):
                import arabic_reshaper
                para = arabic_reshaper.reshape(para)
            base_rtl = bool(is_rtl(para)) if rtl else False
            for logical in self.wrap(para, self.width - indent, size, style) or [""]:
                if rtl:
                    from bidi import get_display
                    visual = get_display(logical, base_dir="R" if base_rtl else "L")
                else:
                    visual = logical
                align = "center" if center else ("right" if base_rtl else "left")
                self.draw(Line(visual, style, size, color, indent if align == "left" else 0, align))

    def blocks(self, blocks: list[Block]) -> None:
        """A message's Markdown: each block wrapped in its styles, quotes and lists indented."""
        for n, block in enumerate(blocks):
            if n and not (block.prefix and blocks[n - 1].prefix):
                self.y -= BODY * 0.3      # paragraphs apart; a list's items together
            if block.rtl:
                # python-bidi reorders a line's plain text: such a block keeps its words and direction, not
                # its emphasis.
                text = f"{block.prefix} {block.plain()}" if block.prefix else block.plain()
                self.paragraph(text, style="mono" if block.code else "regular", indent=block.indent)
                continue
            size = BODY - 1 if block.code else BODY
            width = self.width - block.indent
            lines = wrap_pieces(block.pieces, width, lambda text, style, size=size: self.fonts.width(text, size, style))
            for n, pieces in enumerate(lines):
                self.draw_pieces(pieces, size, block, block.prefix if n == 0 else "")

    def draw_pieces(self, pieces: list[Piece], size: float, block: Block, prefix: str) -> None:
        """One line of styled pieces (a code block's on a grey band, a quote's after a bar, struck text crossed)."""
        height = size * LEADING
        self.room(height)
        self.y -= height
        c, x, base = self.canvas, MARGIN + block.indent, self.y + size * 0.25
        if block.code:
            c.setFillColorRGB(0.94, 0.94, 0.95)
            c.rect(x - 4, self.y, self.width - block.indent + 4, height, stroke=0, fill=1)
        if block.quote:
            c.setStrokeColorRGB(0.7, 0.7, 0.75)
            c.setLineWidth(2)
            c.line(x - INDENT + 3, self.y, x - INDENT + 3, self.y + height)
        c.setFillColorRGB(*((0.3, 0.3, 0.3) if block.quote else (0, 0, 0)))
        if prefix:
            self._draw_runs(self.fonts.runs(prefix), x - INDENT + 2, base, size, "left")
        runs = [run for p in pieces for run in self.fonts.runs(p.text, p.style)]
        if runs:
            self._draw_runs(runs, x, base, size, "left")
        if any(p.strike for p in pieces):
            c.setStrokeColorRGB(0.3, 0.3, 0.3)
            c.setLineWidth(0.6)
            for p in pieces:
                w = self.fonts.width(p.text, size, p.style)
                if p.strike:
                    c.line(x, base + size * 0.3, x + w, base + size * 0.3)
                x += w

    def wrap(self, text: str, width: float, size: float, style: str) -> list[str]:
        if len(text) < 60 and self.fonts.width(text, size, style) <= width:
            return [text]  # most messages: one line
        lines, current, current_w = [], "", 0.0
        for token in re.split(r"(\s+)", text):
            if not token:
                continue
            w = self.fonts.width(token, size, style)
            if current_w + w <= width:
                current, current_w = current + token, current_w + w
                continue
            if token.isspace():
                lines.append(current)
                current, current_w = "", 0.0
                continue
            if current.strip():
                lines.append(current.rstrip())
            current, current_w = "", 0.0
            if w <= width:
                current, current_w = token, w
                continue
            for ch in token:  # a word longer than the line: cut it
                cw = self.fonts.width(ch, size, style)
                if current_w + cw > width and current:
                    lines.append(current)
                    current, current_w = "", 0.0
                current, current_w = current + ch, current_w + cw
        if current.strip() or not lines:
            lines.append(current.rstrip())
        return lines

    # -- parts of the transcript ---------------------------------------------------------------------
    def local(self, iso_utc: str) -> datetime:
        return datetime.fromisoformat(iso_utc.replace("Z", "+00:00")).astimezone(self.tz)

    def date_text(self, when: datetime) -> str:
        L = self.labels
        return L["date"].format(weekday=L["days"][when.weekday()], day=when.day, month=L["months"][when.month - 1],
                                year=when.year)

    def title_block(self, header: dict[str, Any]) -> None:
        L, conv = self.labels, header["conversation"]
        self.paragraph(L["title"], style="bold", size=SMALL + 1, color=(0.4, 0.4, 0.4))
        self.paragraph(conv.get("title", ""), style="bold", size=18)
        group = (conv.get("group") or {}).get("name")
        if group:
            self.paragraph(f"{L['group']}: {group}", size=BODY)
        self.paragraph(f"{L['range']}: {self.range_text(header['range'])}", size=BODY)
        when = self.local(header["exportedAt"])
        who = header["exportedBy"].get("name") or header["exportedBy"].get("username", "")
        self.paragraph(L["exported"].format(when=f"{self.date_text(when)} {when:%H:%M}", who=who), size=BODY)
        self.paragraph(f"{L['timezone']}: {header.get('timezone', 'UTC')}", size=BODY)
        members = ", ".join(m.get("name") or m.get("username", "") for m in conv.get("members", []))
        if members:
            self.paragraph(f"{L['members']} ({len(conv.get('members', []))}): {members}", size=SMALL,
                           color=(0.3, 0.3, 0.3))
        self.y -= BODY
        self.canvas.setStrokeColorRGB(0.7, 0.7, 0.7)
        self.canvas.line(MARGIN, self.y, PAGE_W - MARGIN, self.y)
        self.y -= BODY / 2

    def range_text(self, r: dict[str, Any]) -> str:
        L = self.labels
        if r.get("kind") == "seq":
            return L["seq"].format(a=r.get("from") or 1, b=r.get("to") or L["open_end"])
        if r.get("kind") == "time":
            a = f"{self.local(r['from']):%Y-%m-%d %H:%M}" if r.get("from") else L["open_start"]
            b = f"{self.local(r['to']):%Y-%m-%d %H:%M}" if r.get("to") else L["open_end"]
            return L["time"].format(a=a, b=b)
        return L["all"]

    def message(self, record: dict[str, Any]) -> None:
        L = self.labels
        when = self.local(record["createdAt"])
        day = when.date().isoformat()
        if day != self.day:
            self.day = day
            self.y -= BODY * 0.6
            self.paragraph(f"— {self.date_text(when)} —", style="bold", size=SMALL + 1, color=(0.35, 0.35, 0.55),
                           center=True)
        if record.get("system"):
            self.paragraph(f"{when:%H:%M}  {record['system']['text']}", style="italic", size=SMALL,
                           color=(0.45, 0.45, 0.45), center=True)
            return
        self.room(BODY * LEADING * 2)  # a sender's name is never alone at the bottom of a page
        marks = []
        if record.get("editedAt"):
            marks.append(L["edited"])
        if record["deleted"] and record.get("content") is not None:
            marks.append(L["deleted_kept"])
        head = f"{record['sender']['name']}  {when:%H:%M}" + (f"  ({', '.join(marks)})" if marks else "")
        self.y -= BODY * 0.3
        self.paragraph(head, style="bold", size=BODY - 0.5, color=(0.1, 0.2, 0.45))
        reply = record.get("replyTo")
        if reply and reply.get("excerpt") is not None:
            self.paragraph(f"↪ {L['reply']} {reply.get('username', '')}: {plain(reply['excerpt'])}", style="italic",
                           size=SMALL, color=(0.4, 0.4, 0.4), indent=12)
        if record.get("content") is None:
            self.paragraph(f"({L['deleted']})", style="italic", size=BODY, color=(0.5, 0.5, 0.5))
        elif record["content"]:
            blocks = markdown(record["content"])
            if blocks is None:
                self.paragraph(record["content"])
            else:
                self.blocks(blocks)
        for a in record.get("attachments", []):
            self.attachment(a)
        if record.get("reactions"):
            self.paragraph("   ".join(f"{r['emoji']} {r['count']}" for r in record["reactions"]), size=SMALL,
                           color=(0.3, 0.3, 0.3))

    def attachment(self, a: dict[str, Any]) -> None:
        size = a.get("size") or 0
        human = f"{size / 1048576:.1f} MB" if size >= 1048576 else f"{max(1, round(size / 1024))} KB"
        self.paragraph(f"📎 {a.get('filename', '')} · {a.get('mimeType', '')} · {human}", size=SMALL,
                       color=(0.25, 0.25, 0.25), indent=12)
        thumb = a.get("thumbnail")
        if not thumb or not os.path.exists(thumb.get("path", "")):
            return
        w, h = thumb.get("width") or THUMB_MAX_W, thumb.get("height") or THUMB_MAX_H
        scale = min(THUMB_MAX_W / w, THUMB_MAX_H / h, 1.0)
        w, h = w * scale, h * scale
        self.room(h + 4)
        self.y -= h + 4
        try:
            from reportlab.lib.utils import ImageReader
            image = self.images.get(thumb["path"]) or ImageReader(thumb["path"])
            self.canvas.drawImage(image, MARGIN + 12, self.y, w, h)
        except Exception:  # noqa: BLE001 - a thumbnail that cannot be read is left out, not the export
            self.y += h + 4


def render_pdf(jsonl_path: str, out_path: str, workdir: str | None = None) -> dict[str, int]:
    """Render the records of ``jsonl_path`` (header line first) to ``out_path``. Returns {messages, pages}.
    Raises ExportCancelled when ``{workdir}/cancel`` appears."""
    from reportlab import rl_config
    from reportlab.pdfgen.canvas import Canvas

    rl_config.useA85 = 0  # binary streams: ASCII85 made them 25 % larger and cost a tenth of the time

    fonts = Fonts()
    with open(jsonl_path, encoding="utf-8") as source:
        header = json.loads(source.readline())
        language = header.get("language", "en")
        labels = LABELS.get(language, LABELS["en"])
        title = header["conversation"].get("title", "")
        canvas = Canvas(out_path, pagesize=(PAGE_W, PAGE_H), pageCompression=1, invariant=0)
        # The document's properties, shown by viewers in a title bar: one line each (reportlab escapes
        # parentheses and backslashes in them, so no text can end the string).
        canvas.setTitle(one_line(f"{labels['title']}: {title}"))
        canvas.setAuthor(one_line(header["exportedBy"].get("name") or header["exportedBy"].get("username", "")))
        canvas.setSubject(one_line(header["conversation"].get("group", {}).get("name", "")))
        renderer = Renderer(canvas, fonts, labels, ZoneInfo(header.get("timezone", "UTC")), title)
        renderer.title_block(header)
        count = 0
        for raw in source:
            if not raw.strip():
                continue
            renderer.message(json.loads(raw))
            count += 1
            if workdir and count % CHECK_EVERY == 0:
                if os.path.exists(os.path.join(workdir, "cancel")):
                    raise ExportCancelled("cancelled")
                write_progress(workdir, count)
        renderer.footer()
        canvas.showPage()
        canvas.save()
    if workdir:
        write_progress(workdir, count)
    return {"messages": count, "pages": renderer.page}


def write_progress(workdir: str, count: int) -> None:
    tmp = os.path.join(workdir, "progress.tmp")
    with open(tmp, "w") as f:
        f.write(str(count))
    os.replace(tmp, os.path.join(workdir, "progress"))


def read_progress(workdir: str) -> int:
    try:
        with open(os.path.join(workdir, "progress")) as f:
            return int(f.read() or 0)
    except (OSError, ValueError):
        return 0
