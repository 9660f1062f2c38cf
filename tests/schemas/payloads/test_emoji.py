"""Reactions accept every emoji the page's picker offers (emojibase-data, with skin tones, ZWJ sequences, flags
and keycaps) and refuse anything else with ``invalid_emoji``."""
from __future__ import annotations

import json

import pytest
import regex
from pydantic import ValidationError

from app.pages import ROOT, VENDOR
from schemas.errors import Code, from_validation_error
from schemas.payloads import ReactionChange

MESSAGE = "a" * 24
COMPONENT_GROUP = 2   # skin tones and hair styles alone: parts of emoji, which the picker does not offer


def offered() -> list[str]:
    """What the picker offers: every emoji of a group except the components, and each one's skin tones."""
    data = json.loads((ROOT / "node_modules" / VENDOR["emoji-en.json"]).read_text(encoding="utf-8"))
    emoji = [e for e in data if e.get("group") is not None and e["group"] != COMPONENT_GROUP]
    return [e["unicode"] for e in emoji] + [s["unicode"] for e in emoji for s in e.get("skins", [])]


def refusal(emoji) -> Code:
    with pytest.raises(ValidationError) as err:
        ReactionChange(messageId=MESSAGE, emoji=emoji)
    return from_validation_error(err.value).code


def canonical(emoji: str) -> str:
    """As the page sends it (emoji.js): no variation selector after a character shown as an emoji anyway."""
    return regex.sub(r"(?<=\p{Emoji_Presentation})\uFE0F", "", emoji)


def test_every_emoji_of_the_picker_is_accepted_as_sent():
    every = offered()
    assert len(every) > 3500   # the full set (with skin tones), not a short list
    refused = [e for e in every if ReactionChange(messageId=MESSAGE, emoji=canonical(e)).emoji != canonical(e)]
    assert refused == []


def test_a_redundant_variation_selector_is_dropped_so_one_emoji_is_one_reaction():
    assert ReactionChange(messageId=MESSAGE, emoji="👍\ufe0f").emoji == "👍"
    assert ReactionChange(messageId=MESSAGE, emoji="🧑🏽\u200d💻").emoji == "🧑🏽\u200d💻"
    assert ReactionChange(messageId=MESSAGE, emoji="❤\ufe0f").emoji == "❤\ufe0f"      # needed: ❤ alone is text
    assert ReactionChange(messageId=MESSAGE, emoji="#\ufe0f\u20e3").emoji == "#\ufe0f\u20e3"


@pytest.mark.parametrize("emoji", [
    "👍", "❤️", "🇫🇷", "🇯🇵", "#️⃣", "7️⃣", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🧑🏽‍💻", "👩🏻‍❤️‍💋‍👨🏼",
    "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",   # Scotland: a tag sequence
    "©️", "\U0001FAE9",   # an emoji of a later Unicode version than the server's tables: still pictographic
])
def test_multi_code_point_emoji_are_accepted(emoji):
    assert ReactionChange(messageId=MESSAGE, emoji=emoji).emoji == emoji


@pytest.mark.parametrize("text", [
    "a", "é", "日本", ":+1:", "+1", "#", "7", "👍👍", "👍 ", " 👍", "👍a", "🇫", "🏽", "\u200d", "\ufe0f", "",
    "🇫🇷🇫🇷", "x" * 500,
])
def test_anything_but_one_emoji_is_refused_with_invalid_emoji(text):
    assert refusal(text) == Code.INVALID_EMOJI


def test_an_emoji_of_the_wrong_type_is_an_invalid_payload():
    assert refusal(42) == Code.INVALID_PAYLOAD
