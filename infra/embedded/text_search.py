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

The stemmer is ``snowballstemmer`` 1.2.1: its French tables and groupings are those of the
libstemmer_c that MongoDB bundles (src/third_party/libstemmer_c), which predates Snowball 2's
changes for "ë"/"ï" and Snowball 3's for "-aise"/"-oux". The French stop words are MongoDB's own list
(src/mongo/db/fts/stop_words_french.txt). Case- or diacritic-sensitive searches and languages other
than French and "none" are not emulated: they raise NotImplementedError rather than answer differently.
"""
from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import regex
import snowballstemmer

_DELIMITERS = regex.compile(r"[\p{White_Space}\p{Dash}\p{Hyphen}\p{Quotation_Mark}\p{Terminal_Punctuation}"
                            r"\p{Pattern_Syntax}\p{Sentence_Terminal}]+")
_DIACRITIC = regex.compile(r"\p{Diacritic}")

# MongoDB's French stop-word list, as the server ships it.
FRENCH_STOP_WORDS = frozenset("""
a ai aie aient aies ait alors as au aucun aura aurai auraient aurais aurait auras aurez auriez aurions
aurons auront aussi autre aux avaient avais avait avant avec avez aviez avions avoir avons ayant ayez
ayons bon c car ce ceci cela ces cet cette ceux chaque ci comme comment d dans de dedans dehors depuis
des deux devoir devrait devrez devriez devrions devrons devront dois doit donc dos droite du dès début
dù elle elles en encore es est et eu eue eues eurent eus eusse eussent eusses eussiez eussions eut eux
eûmes eût eûtes faire fais faisez fait faites fois font force furent fus fusse fussent fusses fussiez
fussions fut fûmes fût fûtes haut hors ici il ils j je juste l la le les leur leurs lui là m ma
maintenant mais me mes moi moins mon mot même n ne ni nom nommé nommée nommés nos notre nous nouveau
nouveaux on ont ou où par parce parole pas personne personnes peu peut plupart pour pourquoi qu quand
que quel quelle quelles quels qui s sa sans se sera serai seraient serais serait seras serez seriez
serions serons seront ses seulement si sien soi soient sois soit sommes son sont sous soyez soyons suis
sujet sur t ta tandis te tellement tels tes toi ton tous tout trop très tu un une valeur voient vois
voit vont vos votre vous vu y à ça étaient étais était étant état étiez étions été étés êtes être
""".split())


@dataclass(frozen=True)
class Language:
    name: str
    stop_words: frozenset[str]
    stemmer: str | None  # snowballstemmer's algorithm name; None: words are not stemmed

    def stem(self, word: str) -> str:
        return _stem(self.stemmer, word) if self.stemmer else word


LANGUAGES = {
    "french": Language("french", FRENCH_STOP_WORDS, "french"),
    "none": Language("none", frozenset(), None),
}


def language(name: str) -> Language:
    try:
        return LANGUAGES[name]
    except KeyError:
        raise NotImplementedError(f"the embedded store's $text supports {sorted(LANGUAGES)}, not {name!r}") from None


@lru_cache(maxsize=100_000)
def _stem(algorithm: str, word: str) -> str:
    return _stemmer(algorithm).stemWord(word)


_local = threading.local()  # a Snowball stemmer keeps its word in itself while it works: one per thread


def _stemmer(algorithm: str):
    stemmers = _local.__dict__.setdefault("stemmers", {})
    if algorithm not in stemmers:
        stemmers[algorithm] = snowballstemmer.stemmer(algorithm)
    return stemmers[algorithm]


# -- characters ------------------------------------------------------------------------------------
@lru_cache(maxsize=10_000)
def _lower_char(char: str) -> str:
    lower = char.lower()
    return lower if len(lower) == 1 else char  # one code point to one, like MongoDB's case map


@lru_cache(maxsize=10_000)
def _strip_char(char: str) -> str:
    """The code point without its diacritics ("" for a pure diacritic), as MongoDB's generated map:
    decompose, drop the Diacritic marks, recompose, and keep the result only if it is one code point."""
    if _DIACRITIC.match(char):
        return ""
    bare = unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", char)
                                                 if not _DIACRITIC.match(c)))
    return bare if len(bare) == 1 else char


def lower(text: str) -> str:
    return "".join(map(_lower_char, text))


def strip_diacritics(text: str) -> str:
    return "".join(map(_strip_char, text))


def fold(text: str) -> str:
    """Case- and diacritic-insensitive form, for phrase matching."""
    return strip_diacritics(lower(text))


# -- words -----------------------------------------------------------------------------------------
def terms(text: str, lang: Language, *, stop_words: bool = True) -> list[str]:
    """The index terms of a text: words, lower-cased, without stop words (unless ``stop_words`` is
    False), stemmed, then stripped of diacritics."""
    out = []
    for word in _DELIMITERS.split(text):
        if not word:
            continue
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
        """Whether a document whose text fields hold ``texts`` is returned by this $text query."""
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
