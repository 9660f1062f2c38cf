"""The language of a chat line, the words a message stores, and a search text cut into what each word
must match."""
from __future__ import annotations

import pytest

from pipelines.messages.words import (MAX_WORD_CHARS, MAX_WORDS, detect_language, message_words, parse_search,
                                      word_forms)


@pytest.mark.parametrize("text, fallback, language", [
    ("we deployed the fix to staging", None, "english"),
    ("the checkout is broken again", "fr", "english"),
    ("Les élèves arrivent à 9h", "en", "french"),
    ("Réunion demain à 10h, salle B", None, "french"),
    ("¿Dónde están las canciones?", None, "spanish"),
    ("mañana tenemos reunión con el cliente", "en", "spanish"),
    ("Die Häuser sind schön", None, "german"),
    ("Wir haben das Update gestern installiert", "en", "german"),
    # too short or too mixed to tell: the author's language, else none
    ("ok", "fr", "french"), ("merci !", "de", "german"), ("lol", None, "none"), ("la casa", "en", "english"),
    ("👍", "es", "spanish"), ("", None, "none"),
])
def test_the_language_of_a_chat_line(text, fallback, language):
    assert detect_language(text, fallback) == language


def test_a_message_stores_its_folded_words_then_its_stems():
    words = message_words("We DEPLOYED the Checkout; customer's élèves", "english")
    assert words[:7] == ["we", "deployed", "the", "checkout", "customer", "s", "eleves"]
    assert {":en:deploy", ":en:checkout", ":en:custom"} <= set(words[7:])
    assert ":en:the" not in words and ":en:we" not in words          # stop words: no stem
    assert message_words("Les élèves", "french") == ["les", "eleves", ":fr:elev"]
    assert message_words("the houses", "none") == ["the", "houses"]   # no language: the words alone


def test_what_a_message_stores_is_bounded():
    assert message_words("x" * 100, "none") == ["x" * MAX_WORD_CHARS]
    words = message_words(" ".join(f"w{i}" for i in range(1000)), "none")
    assert len(words) == MAX_WORDS and words[-1] == f"w{MAX_WORDS - 1}"


def test_a_query_word_meets_the_stem_of_each_language():
    forms = word_forms("Élèves")
    assert forms[0] == "eleves" and ":fr:elev" in forms and len(forms) == 5
    assert ":en:deploy" in word_forms("deployed") and ":de:haus" in word_forms("Häuser")


def test_a_search_text_as_people_type_it():
    terms = parse_search("deploy stag")
    assert [t.prefix for t in terms.required] == [None, "stag"]
    assert parse_search("deploy stag ").required[-1].prefix is None    # a space: the word is complete
    assert parse_search("c").required[0].prefix is None                # too short for a prefix
    assert [t.forms[0] for t in parse_search("the deploy").required] == ["deploy"]   # stop word left out
    assert [t.forms[0] for t in parse_search("the").required] == ["the"]             # unless alone
    quoted = parse_search('"Élèves" fix')
    assert quoted.required[0].forms == ("eleves",) and quoted.required[0].prefix is None
    negated = parse_search("deploy -failed")
    assert len(negated.required) == 1 and "failed" in negated.excluded and ":en:fail" in negated.excluded
    assert parse_search("-failed").empty and parse_search("!!! ...").empty
    assert [t.prefix for t in parse_search("re-deploy").required] == [None, "deploy"]  # hyphens cut words
