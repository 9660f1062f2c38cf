"""The words search reads: the language a message's text is in (a small detector over the four languages the
product speaks), the words stored with each message (folded words for prefixes, stems in the text's
language), and a search text cut into what each word must match.

Why a detector of our own: chat lines are short ("ok", "deployed the fix", "merci !"), where statistical
detectors guess wildly, and a wrong guess costs little (the folded word itself always matches; only the
stemming differs). So: count the words of each language's stop-word list (MongoDB's lists, the same that
its text indexes use) and the letters only one of the languages writes (ß, ñ, ç...); a language wins
only with a clear lead, otherwise the author's own language decides (their profile's, which the page
sets), and "none" (no stemming) when there is no author."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from infra.text import (CODE_OF_LANGUAGE, LANGUAGE_OF_CODE, NO_LANGUAGE, STOP_WORDS, fold, lower, split_words,
                        stem, strip_diacritics)

MAX_WORD_CHARS = 40      # longer words (links, hashes) are kept cut: a prefix search still finds them
MAX_WORDS = 300          # distinct words kept per message (then as many stems): bounds the index entries
MIN_PREFIX_CHARS = 2     # a last word shorter than this matches as a whole word only
MAX_QUERY_WORDS = 10
STEM_MARK = ":"          # stems are stored as ":en:deploy"; no word holds a ":" (a delimiter), so a prefix
#                          of a word never reaches a stem

# Letters each language writes and the others (nearly) never do, and how much one counts.
_LETTERS = {"german": ("ßäöü", 1.0), "spanish": ("ñ¿¡áíóú", 1.0), "french": ("çœæèêëàùâîôûÿ", 1.0)}
_WORD_WEIGHT = {word: 1.0 / sum(word in words for words in STOP_WORDS.values())
                for words in STOP_WORDS.values() for word in words}
_LEAD = 1.0  # the winner's score must pass the runner-up's by this much


def detect_language(text: str, fallback: str | None) -> str:
    """MongoDB's name of the language ``text`` is written in ("english", "french", "spanish", "german"), or
    ``fallback`` (a page language code such as "fr", or None: "none") when the text does not say clearly."""
    scores: Counter[str] = Counter()
    text = lower(text)
    for word in split_words(text, "french"):  # (apostrophes cut: "l'été" counts "l" and "été")
        weight = _WORD_WEIGHT.get(word)
        if weight:
            for language, words in STOP_WORDS.items():
                if word in words:
                    scores[language] += weight
    for char in set(text):
        for language, (letters, weight) in _LETTERS.items():
            if char in letters:
                scores[language] += weight
    ranked = scores.most_common(2) + [("", 0.0), ("", 0.0)]
    (best, top), (_, second) = ranked[0], ranked[1]
    if best and top >= _LEAD and top - second >= _LEAD:
        return best
    return LANGUAGE_OF_CODE.get(fallback or "", NO_LANGUAGE)


def stem_term(language: str, word: str) -> str:
    """How a stem of a lower-cased word in that language is stored and looked for."""
    return f"{STEM_MARK}{CODE_OF_LANGUAGE[language]}{STEM_MARK}{strip_diacritics(stem(language, word))}"


def message_words(text: str, language: str) -> list[str]:
    """What a message stores for search: its distinct folded words (cut to MAX_WORD_CHARS, the first
    MAX_WORDS), then the stems of those that are not stop words, in the message's language."""
    words: dict[str, None] = {}
    stems: dict[str, None] = {}
    stop_words = STOP_WORDS.get(language, frozenset())
    for word in split_words(text, "french"):  # (apostrophes cut in every language: "customer's" is
        word = lower(word)                     # "customer" + "s", as the query cuts it)
        folded = strip_diacritics(word)[:MAX_WORD_CHARS]
        if not folded or (folded not in words and len(words) >= MAX_WORDS):
            continue
        words[folded] = None
        if language != NO_LANGUAGE and word not in stop_words and _has_letters(word):
            stems[stem_term(language, word)[:MAX_WORD_CHARS + 4]] = None
    return [*words, *stems]


def word_forms(word: str) -> list[str]:
    """Every stored form a query word matches: the folded word itself, and its stem in each language
    (a message's stems are in its own language, so the stem in that language is the one that meets it)."""
    word = lower(word)
    forms = {strip_diacritics(word)[:MAX_WORD_CHARS]: None}
    if _has_letters(word):
        for language in STOP_WORDS:
            forms[stem_term(language, word)[:MAX_WORD_CHARS + 4]] = None
    return list(forms)


def _has_letters(word: str) -> bool:
    """Numbers, emoji and the like have no other forms: no stems stored or looked for."""
    return any(c.isalpha() for c in word)


@dataclass(frozen=True)
class Term:
    """One word of a search: a message matches it when it holds one of ``forms``, or (``prefix``) a word
    beginning with it."""
    forms: tuple[str, ...]
    prefix: str | None = None


@dataclass(frozen=True)
class SearchTerms:
    required: tuple[Term, ...]     # every one must match (AND)
    excluded: tuple[str, ...]      # forms no matching message may hold (from -word)

    @property
    def empty(self) -> bool:
        return not self.required


def parse_search(text: str) -> SearchTerms:
    """A search text as people type it: every word must match, by its stem in the message's language (or
    as typed); the last word typed (no space after it) also matches as the beginning of a word ("check"
    finds "checkout"); ``-word`` excludes; ``"exact words"`` match as typed (no stem, no prefix). Words
    that are stop words in one of the languages ("the", "le", "die") are left out, unless nothing else
    is left."""
    required: list[tuple[str, str]] = []   # (kind, word): kind "stem" or "exact"
    excluded: list[str] = []
    for n, chunk in enumerate(text.split('"')):
        exact = n % 2 == 1
        for token in chunk.split():
            negated = token.startswith("-") and not exact
            for word in split_words(token.lstrip("-") if negated else token, "french"):
                if negated:
                    excluded.extend(word_forms(word))
                else:
                    required.append(("exact" if exact else "stem", word))
    ends_open = bool(required) and required[-1][0] == "stem" and not text[-1:].isspace() and \
        not text.rstrip().endswith('"')
    kept = [(kind, word) for kind, word in required if kind == "exact" or not _stop_word(word)] or required
    terms = []
    for i, (kind, word) in enumerate(kept[:MAX_QUERY_WORDS]):
        if kind == "exact":
            terms.append(Term((fold(word)[:MAX_WORD_CHARS],)))
            continue
        last = ends_open and i == len(kept) - 1 and (kind, word) == required[-1]
        prefix = fold(word)[:MAX_WORD_CHARS] if last and len(fold(word)) >= MIN_PREFIX_CHARS else None
        terms.append(Term(tuple(word_forms(word)), prefix))
    return SearchTerms(tuple(terms), tuple(dict.fromkeys(excluded)))


def _stop_word(word: str) -> bool:
    word = lower(word)
    return any(word in words for words in STOP_WORDS.values())
