"""The PDF's text: its fonts, and text made printable with its direction found.

DejaVu Sans (Debian's fonts-dejavu-core; Latin, Greek, Cyrillic, Hebrew, Arabic and its presentation
forms, many symbols) in regular, bold, italic and bold italic, DejaVu Sans Mono for code, then per character the first font that has it: Symbola (fonts-symbola, monochrome
emoji and symbols), Droid Sans Fallback (fonts-droid-fallback, CJK). Right-to-left paragraphs are shaped
(arabic-reshaper: Arabic letters take their joined forms) and reordered line by line after wrapping
(python-bidi, the Unicode bidirectional algorithm), and set flush right (``pdf.Renderer.paragraph``).
"""
from __future__ import annotations

import os
import re
import unicodedata
from typing import Any


FONT_CANDIDATES = {
    "regular": ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"],
    "bold": ["/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"],
    "italic": ["/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf"],
    "bolditalic": ["/usr/share/fonts/truetype/dejavu/DejaVuSans-BoldOblique.ttf"],
    "mono": ["/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"],
    "emoji": ["/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",
              "/usr/share/fonts/truetype/noto/NotoEmoji-Regular.ttf"],
    "cjk": ["/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"],
}


def _utf16_to_unicode_cmap() -> None:
    """reportlab writes a ToUnicode entry for a character above U+FFFF (most emoji) as its code point in
    five hex digits, where PDF wants UTF-16 (a surrogate pair): readers then lose those characters when
    text is copied or extracted. Replace the function that builds the table with one that writes UTF-16."""
    from reportlab.pdfbase import ttfonts

    if getattr(ttfonts.makeToUnicodeCMap, "utf16", False):
        return
    original = ttfonts.makeToUnicodeCMap

    def make(fontname, subset):
        text = original(fontname, subset)
        head, _, rest = text.partition("beginbfchar\n")
        _, _, tail = rest.partition("endbfchar")
        pairs = "\n".join("<%02X> <%s>" % (i, chr(v).encode("utf-16-be").hex().upper()) for i, v in enumerate(subset))
        return f"{head}beginbfchar\n{pairs}\nendbfchar{tail}"

    make.utf16 = True
    ttfonts.makeToUnicodeCMap = make


class FontsMissing(Exception):
    """DejaVu Sans is not installed (Debian: fonts-dejavu-core; `make install` installs it)."""


def _first(paths: list[str]) -> str | None:
    return next((p for p in paths if os.path.exists(p)), None)


class Fonts:
    """The TTF fonts, registered once per process; for each character, the first font that has it."""

    _registered: dict[str, Any] = {}

    def __init__(self) -> None:
        from reportlab.pdfbase import pdfmetrics

        _utf16_to_unicode_cmap()
        self.paths = {role: _first(paths) for role, paths in FONT_CANDIDATES.items()}
        if self.paths["regular"] is None:
            raise FontsMissing(f"no {FONT_CANDIDATES['regular'][0]}: install Debian's fonts-dejavu-core")
        # Messages' Markdown (pdf_markdown) uses bold italic and mono: registered on first use only.
        for role, fallback in (("bold", "regular"), ("italic", "regular"), ("bolditalic", "bold"),
                               ("mono", "regular")):
            if self.paths[role] is None:
                self.paths[role] = self.paths[fallback]
        self.names: dict[str, str] = {}
        self.cmaps: dict[str, Any] = {}
        for role in ("regular", "bold", "italic"):
            self._load(role)
        self._choice: dict[tuple[str, str], str] = {}
        self._widths: dict[tuple[str, float, str], float] = {}
        self.stringWidth = pdfmetrics.stringWidth

    def _load(self, role: str) -> bool:
        """Register the role's font (the emoji and CJK ones, large files, only when a character needs them)."""
        if role in self.cmaps:
            return True
        path = self.paths.get(role)
        if path is None:
            return False
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        name = f"X-{role}"
        if name not in Fonts._registered:
            font = TTFont(name, path)
            pdfmetrics.registerFont(font)
            Fonts._registered[name] = font
        self.names[role] = name
        self.cmaps[role] = Fonts._registered[name].face.charToGlyph
        return True

    def _name(self, style: str) -> str:
        self._load(style)
        return self.names[style]

    def font_for(self, ch: str, style: str) -> str:
        key = (ch, style)
        name = self._choice.get(key)
        if name is None:
            code = ord(ch)
            for role in (style, "regular", "emoji", "cjk"):
                if self._load(role) and code in self.cmaps[role]:
                    name = self.names[role]
                    break
            else:
                name = self._name(style)  # no font has it: the font's own "missing" box
            self._choice[key] = name
        return name

    def runs(self, text: str, style: str = "regular") -> list[tuple[str, str]]:
        """The text cut where the font changes: [(font name, characters)]. (DejaVu has all of ASCII.)"""
        if text.isascii():
            return [(self.names.get(style) or self._name(style), text)]
        out: list[tuple[str, str]] = []
        for ch in text:
            name = self.font_for(ch, style)
            if out and out[-1][0] == name:
                out[-1] = (name, out[-1][1] + ch)
            else:
                out.append((name, ch))
        return out

    def width(self, text: str, size: float, style: str = "regular") -> float:
        key = (text, size, style)
        found = self._widths.get(key)
        if found is None:
            found = sum(self.stringWidth(t, f, size) for f, t in self.runs(text, style))
            if len(text) <= 32:  # words and short lines repeat; a bounded cache of them
                if len(self._widths) > 100_000:
                    self._widths.clear()
                self._widths[key] = found
        return found


_IGNORED = dict.fromkeys(map(ord, "\ufe0e\ufe0f\u200d\u200b\ufeff"), None)  # variation selectors, ZWJ, BOM


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """Printable text: tabs as spaces, control and format characters that no font draws removed
    (emoji variation selectors and joiners: a ZWJ sequence prints as its parts)."""
    text = text.replace("\t", "    ")
    if text.isascii():
        return _ASCII_CONTROL.sub("", text)
    text = text.translate(_IGNORED)
    return "".join(c for c in text if c == "\n" or unicodedata.category(c) not in ("Cc", "Cs"))


def is_rtl(text: str) -> bool | None:
    """The paragraph's direction from its first strong character (None: none, e.g. digits only)."""
    for c in text:
        kind = unicodedata.bidirectional(c)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return None


def has_rtl(text: str) -> bool:
    if text.isascii():
        return False
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)
