"""MongoDB's ``$text`` semantics, rebuilt for the embedded store (mongomock has no ``$text``).

What a real MongoDB does with a text index (index version 3) and a ``$search`` string, and what this
module repeats step by step so that the embedded store returns the same documents:

- **Words.** Text is cut at Unicode delimiters: the characters with the properties White_Space, Dash,
  Hyphen, Quotation_Mark, Terminal_Punctuation, Pattern_Syntax or Sentence_Terminal. In every language
  but English the apostrophe is one of them, so "l'élève" is "l" + "élève".
- **Each word** is lower-cased (one code point at a time); dropped if it is a stop word of the
  language (the check sees the accents: "été" is a stop word, "ete" is not); stemmed by the language's
  Snowball stemmer, accents still on; then stripped of diacritics. So "Élevés", "élevé" and "eleve"
  all become "elev", and "messages" becomes "messag" like "message".
- **The query.** Words separated by spaces are OR-ed: a document matches when it holds any of them.
  ``-word`` (a hyphen right after a space or at the start) excludes documents holding that word;
  "-foo-bar" excludes both. ``"a phrase"`` is required: every positive phrase must occur in the text,
  compared case- and diacritic-insensitively as a plain substring; ``-"a phrase"`` excludes.
  The words of a positive phrase count as OR-ed terms too. A query with no positive term left (only
  stop words, or only negations) matches nothing.
- A negated word is looked for among all the words of the document, stop words included (MongoDB's
  matcher re-reads the document without the stop-word filter); positive words are looked up in the
  index, which holds no stop words.
- **Languages.** The query's words are cut, dropped and stemmed in the query's language (``$language``,
  else the index's ``default_language``); each document's words in the document's own language: the value
  of its ``language_override`` field ("language" unless the index names another), else the index's default.
  So an English document's "deployed" is indexed as "deploy", and a query for "deploy" finds it only when
  the query's language stems "deploy" to the same term. A language MongoDB does not know makes a real
  server refuse the write; here it raises when the document is matched.

The stemmer is ``snowballstemmer`` 1.2.1: its French tables and groupings are those of the
libstemmer_c that MongoDB bundles (src/third_party/libstemmer_c), which predates Snowball 2's
changes for "ë"/"ï" and Snowball 3's for "-aise"/"-oux". The stop words are MongoDB's own lists
(src/mongo/db/fts/stop_words_*.txt, in infra.text). Case- or diacritic-sensitive searches and languages
other than English, French, Spanish, German and "none" are not emulated: they raise NotImplementedError
rather than answer differently.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import regex

from infra.text import LANGUAGE_OF_CODE, NO_LANGUAGE, STOP_WORDS, fold, lower, split_words, stem, strip_diacritics


@dataclass(frozen=True)
class Language:
    name: str
    stop_words: frozenset[str]

    def stem(self, word: str) -> str:
        return stem(self.name, word)


LANGUAGES = {name: Language(name, words) for name, words in STOP_WORDS.items()}
LANGUAGES[NO_LANGUAGE] = Language(NO_LANGUAGE, frozenset())


def language(name: str) -> Language:
    """By MongoDB's name ("french") or its two-letter code ("fr"), as a server accepts both."""
    try:
        return LANGUAGES[LANGUAGE_OF_CODE.get(name, name)]
    except KeyError:
        raise NotImplementedError(f"the embedded store's $text supports {sorted(LANGUAGES)}, not {name!r}") from None


# -- words -----------------------------------------------------------------------------------------
def terms(text: str, lang: Language, *, stop_words: bool = True) -> list[str]:
    """The index terms of a text: words, lower-cased, without stop words (unless ``stop_words`` is
    False), stemmed, then stripped of diacritics."""
    out = []
    for word in split_words(text, lang.name):
        word = lower(word)
        if stop_words and word in lang.stop_words:
            continue
        out.append(strip_diacritics(lang.stem(word)))
    return out


@lru_cache(maxsize=50_000)
def analyze(text: str, lang_name: str) -> tuple[frozenset[str], frozenset[str], str]:
    """What matching needs of one stored text: its index terms, all its terms (stop words
    included, for negations), and its folded form (for phrases). Cached: a conversation's messages
    are analysed once, not at every search."""
    lang = language(lang_name)
    return (frozenset(terms(text, lang)), frozenset(terms(text, lang, stop_words=False)), fold(text))


# -- queries ---------------------------------------------------------------------------------------
# MongoDB's query parser (FTSQueryParser) splits on these spaces only (not on tabs), and reads "-" and '"'
# as tokens of their own; the first token counts as coming after a space.
_QUERY_SPACE = "\n\v\f\r "
_QUERY_TOKEN = regex.compile(r'[-"]|[^-"\n\v\f\r ]+')


def _query_tokens(search: str):
    """(kind, text, offset, after_space) for each token: kind is "-", '"' or "text"."""
    for n, match in enumerate(_QUERY_TOKEN.finditer(search)):
        text, start = match.group(), match.start()
        yield (text if text in ('-', '"') else "text"), text, start, n == 0 or search[start - 1] in _QUERY_SPACE


@dataclass(frozen=True)
class TextQuery:
    positive: frozenset[str]
    negated: frozenset[str]
    phrases: tuple[str, ...]          # folded
    negated_phrases: tuple[str, ...]  # folded

    def matches(self, texts: list[str], lang_name: str) -> bool:
        """Whether a document in language ``lang_name`` whose text fields hold ``texts`` is returned by
        this $text query (whose terms were stemmed in the query's language)."""
        analysed = [analyze(t, lang_name) for t in texts]
        if not any(self.positive & indexed for indexed, _, _ in analysed):
            return False
        if any(self.negated & every for _, every, _ in analysed):
            return False
        if not all(any(p in folded for _, _, folded in analysed) for p in self.phrases):
            return False
        return not any(p in folded for p in self.negated_phrases for _, _, folded in analysed)


def parse_query(search: str, lang: Language) -> TextQuery:
    """A ``$search`` string, split into terms and phrases the way MongoDB's FTSQueryImpl::parse does."""
    positive, negated, phrases, negated_phrases = [], [], [], []
    in_negation = in_phrase = False
    quote_at = 0
    for kind, text, offset, after_space in _query_tokens(search):
        if kind == "text":
            if in_phrase and in_negation:
                continue  # the words of a negated phrase are not terms
            if in_negation and after_space:
                in_negation = False  # a negation lasts until the next space
            (negated if in_negation else positive).append(text)
        elif kind == "-":
            if not in_phrase and after_space:
                in_negation = True
        elif in_phrase:  # closing quote
            (negated_phrases if in_negation else phrases).append(fold(search[quote_at + 1:offset]))
            in_phrase = False
        else:  # opening quote
            in_phrase = True
            if in_negation and after_space:
                in_negation = False
            quote_at = offset
    return TextQuery(frozenset(terms(" ".join(positive), lang)), frozenset(terms(" ".join(negated), lang)),
                     tuple(phrases), tuple(negated_phrases))
