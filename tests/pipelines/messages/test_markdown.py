"""Messages' Markdown on one line: the words without the markers, raw HTML and unsafe links as typed."""
from __future__ import annotations

import pytest

from pipelines.messages.markdown import plain_text
from pipelines.notifications.stored import EXCERPT_CHARS, excerpt


@pytest.mark.parametrize("text, plain", [
    ("**done**, see `make test` and _this_", "done, see make test and this"),
    ("> quoted\n\n- one\n- two", "quoted one two"),
    ("```\ncode  block\n```", "code block"),
    ("[the docs](https://example.org/docs) ~~old~~", "the docs old"),
    ("<b>raw</b> [x](javascript:alert(1))", "<b>raw</b> [x](javascript:alert(1))"),
    ("plain line\nsecond line", "plain line second line"),
])
def test_plain_text_keeps_the_words_and_drops_the_markers(text, plain):
    assert plain_text(text) == plain


def test_a_notification_shows_the_words_without_markers_cut_to_its_length():
    assert excerpt("**Deploy** is _done_") == "Deploy is done"
    long = excerpt("**" + " ".join(["word"] * 100) + "**")
    assert len(long) == EXCERPT_CHARS and long.endswith("…") and "*" not in long
