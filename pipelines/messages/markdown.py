"""Messages' Markdown subset, parsed as the page parses it (web/js/shared/markdown.js): emphasis,
strikethrough, inline code, code blocks, quotes, lists and links; raw HTML, headings, tables and images stay
text; a link is http(s) or mailto only. The PDF export draws it (pipelines/exports/pdf_markdown.py); the
texts that show a message on one line (notifications, emails) take its words without the markers.
"""
from __future__ import annotations

import re
from functools import lru_cache

# A character that may open inline syntax, or a line that may open a block (quote, list, indented code): a
# text without one is not parsed at all (most chat lines).
_MAYBE = re.compile(r"[*_`~\[<\\]|^ {0,3}(?:[>+-]|\d{1,9}[.)])(?:[ \t]|$)|^ {4}", re.MULTILINE)
_LINK = re.compile(r"^(https?:|mailto:)", re.IGNORECASE)


def may_have_markup(text: str) -> bool:
    return bool(_MAYBE.search(text))


@lru_cache(maxsize=1)
def parser():
    from markdown_it import MarkdownIt

    md = MarkdownIt("zero", {"breaks": True, "html": False, "typographer": False}).enable(
        ["code", "fence", "blockquote", "list", "newline", "escape", "backticks", "strikethrough", "emphasis",
         "link", "autolink"])
    md.validateLink = lambda url: bool(_LINK.match(url.strip()))  # as the page: javascript:, data: stay text
    return md


def plain_text(text: str) -> str:
    """The words without their markers, on one line ("**done**, see `x`" → "done, see x")."""
    if not may_have_markup(text):
        return " ".join(text.split())
    words: list[str] = []
    for token in parser().parse(text):
        if token.type in ("code_block", "fence"):
            words.append(token.content)
        for child in token.children or ():
            if child.type in ("text", "code_inline"):
                words.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                words.append(" ")
        words.append(" ")
    return " ".join("".join(words).split())
