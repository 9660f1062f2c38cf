"""Messages' Markdown in the PDF: the page's subset (pipelines/messages/markdown.py), parsed by markdown-it-py
into blocks of styled pieces that ``pdf.Renderer`` wraps and draws in the matching fonts (``pdf_text.Fonts``:
bold, italic, bold italic, mono).

Why a test before parsing: most messages have no marker at all, and they keep the plain path (``markdown``
returns None), so the export pays the parser only for messages that use it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipelines.exports.pdf_text import clean, has_rtl
from pipelines.messages.markdown import may_have_markup, parser

_SPACES = re.compile(r"(\s+)")
INDENT = 14      # points per quote or list level
CODE_INDENT = 8


@dataclass
class Piece:
    text: str
    style: str = "regular"   # regular, bold, italic, bolditalic, mono
    strike: bool = False


@dataclass
class Block:
    pieces: list[Piece] = field(default_factory=list)
    indent: float = 0
    prefix: str = ""          # a list item's bullet or number, drawn in the indent before its first line
    code: bool = False        # a code block: its lines as typed, in the mono font
    quote: bool = False

    def plain(self) -> str:
        return "".join(p.text for p in self.pieces)

    @property
    def rtl(self) -> bool:
        return has_rtl(self.plain())


def markdown(text: str) -> list[Block] | None:
    """The message's blocks, or None when it has no Markdown marker (then it is drawn as plain text)."""
    if not may_have_markup(text):
        return None
    return _Builder().build(parser().parse(clean(text)))


def plain(text: str) -> str:
    """The words without their markers, on one line (a reply's excerpt)."""
    blocks = markdown(text)
    if blocks is None:
        return text
    return " ".join(" ".join(b.plain().split()) for b in blocks)


def wrap_pieces(pieces: list[Piece], width: float, measure: Callable[[str, str], float]) -> list[list[Piece]]:
    """The pieces cut into lines no wider than ``width`` (``measure(text, style)`` in points): at spaces, at
    the block's own line breaks, and inside a word longer than a line."""
    lines: list[list[tuple[str, Piece]]] = [[]]
    used = 0.0

    def new_line() -> None:
        if any(text.strip() for text, _ in lines[-1]):
            lines.append([])
        else:
            lines[-1] = []       # a line of spaces only is dropped, as in plain text

    for piece in pieces:
        for n, part in enumerate(piece.text.split("\n")):
            if n:
                lines.append([])
                used = 0.0
            whole = measure(part, piece.style) if len(part) <= 200 else width + 1
            if used + whole <= width:   # most pieces: whole, without measuring each word
                lines[-1].append((part, piece))
                used += whole
                continue
            for token in _SPACES.split(part):
                if not token:
                    continue
                w = measure(token, piece.style)
                if used + w <= width:
                    lines[-1].append((token, piece))
                    used += w
                    continue
                new_line()
                used = 0.0
                if token.isspace():
                    continue
                if w <= width:
                    lines[-1].append((token, piece))
                    used = w
                    continue
                for ch in token:   # a word longer than the line: cut it
                    cw = measure(ch, piece.style)
                    if used + cw > width and used:
                        new_line()
                        used = 0.0
                    lines[-1].append((ch, piece))
                    used += cw
    return [_joined(line) for line in lines]


def _joined(line: list[tuple[str, Piece]]) -> list[Piece]:
    """A line's parts as one piece per style, without its trailing spaces."""
    out: list[Piece] = []
    for text, piece in line:
        if out and out[-1].style == piece.style and out[-1].strike == piece.strike:
            out[-1].text += text
        elif text:
            out.append(Piece(text, piece.style, piece.strike))
    while out and not out[-1].text.strip():
        out.pop()
    if out:
        out[-1].text = out[-1].text.rstrip()
    return out


class _Builder:
    """Walks markdown-it's flat token list keeping the nesting of quotes and lists."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.quotes = 0
        self.lists: list[str] = []       # "ul" / "ol" per open list
        self.prefix = ""                 # the bullet waiting for the item's first block

    def indent(self) -> float:
        return INDENT * (self.quotes + len(self.lists))

    def take_prefix(self) -> str:
        prefix, self.prefix = self.prefix, ""
        return prefix

    def build(self, tokens: list[Any]) -> list[Block]:
        for t in tokens:
            kind = t.type
            if kind == "blockquote_open":
                self.quotes += 1
            elif kind == "blockquote_close":
                self.quotes -= 1
            elif kind in ("bullet_list_open", "ordered_list_open"):
                self.lists.append(t.tag)
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
            elif kind == "list_item_open":
                self.prefix = f"{t.info}{t.markup}" if self.lists[-1] == "ol" else "•"
            elif kind == "inline":
                self.blocks.append(Block(inline(t.children or []), self.indent(), self.take_prefix(),
                                         quote=self.quotes > 0))
            elif kind in ("fence", "code_block"):
                self.blocks.append(Block([Piece(t.content.rstrip("\n"), "mono")], self.indent() + CODE_INDENT,
                                         self.take_prefix(), code=True, quote=self.quotes > 0))
        return self.blocks


def inline(children: list[Any]) -> list[Piece]:
    """Inline tokens as pieces of one style each; a link keeps its address after its text when they differ."""
    pieces: list[Piece] = []
    bold = italic = strike = 0
    links: list[tuple[str, int]] = []    # open links: (address, index of their first piece)
    for c in children:
        kind = c.type
        if kind == "text":
            style = ("bolditalic" if italic else "bold") if bold else ("italic" if italic else "regular")
            pieces.append(Piece(c.content, style, strike > 0))
        elif kind == "code_inline":
            pieces.append(Piece(c.content, "mono", strike > 0))
        elif kind in ("softbreak", "hardbreak"):
            pieces.append(Piece("\n"))
        elif kind.endswith(("_open", "_close")):
            step = 1 if kind.endswith("_open") else -1
            if c.tag == "strong":
                bold += step
            elif c.tag == "em":
                italic += step
            elif c.tag == "s":
                strike += step
            elif kind == "link_open":
                links.append((str(c.attrs.get("href", "")), len(pieces)))
            elif kind == "link_close" and links:
                href, start = links.pop()
                shown = "".join(p.text for p in pieces[start:])
                if href.removeprefix("mailto:") != shown and href != shown:
                    pieces.append(Piece(f" ({href})", "regular"))
        else:
            pieces.append(Piece(c.content))
    merged: list[Piece] = []   # one piece per change of style: fewer font switches to draw
    for p in pieces:
        if merged and merged[-1].style == p.style and merged[-1].strike == p.strike:
            merged[-1] = Piece(merged[-1].text + p.text, p.style, p.strike)
        elif p.text:
            merged.append(p)
    return merged
