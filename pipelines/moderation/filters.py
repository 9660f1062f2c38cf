"""The content filter's matching engine: a group's word, regex and link rules, compiled once, run on each message.

Pure: no I/O beyond the data files of the libraries it uses (the Unicode confusables table of
``confusable-homoglyphs``, the Public Suffix List snapshot bundled with ``tldextract``), both read once.
docs/moderation.md ("Matching") describes the semantics for moderators; the why of the code is here.

Every rule runs on the *folded* text (``normalize``): NFKD, casefold, NFKD again, then one
``str.translate`` that drops combining marks (accents) and invisible characters and maps look-alikes
to Latin. A scan folds the message once with those C-level calls and answers "clean" without ever
building a position map: most messages are clean. Only when something matched is the message folded
again character by character, which gives each folded character its original index.
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Literal, Sequence, get_args

import idna
import re2
import regex
import tldextract
from confusable_homoglyphs import utils as confusables_data

from schemas.errors import ApiError, Code

Kind = Literal["word", "regex", "link"]
Action = Literal["mask", "block", "flag", "hold"]
ACTION_ORDER = ("mask", "flag", "hold", "block")   # weakest -> strongest
KINDS: tuple[str, ...] = get_args(Kind)
ACTIONS: tuple[str, ...] = get_args(Action)

MASK_CHAR = "•"             # one per masked code point: `masked` keeps the original's length and positions
MAX_WORD_CHARS = 200
MAX_REGEX_CHARS = 500
MAX_LINK_CHARS = 2048       # before the scheme and path are stripped; the host itself is at most 253
MAX_REGEX_PROGRAM = 1000    # RE2 instructions; `[a-z]{1,100}` is 703, `.{1,1000}` 9,003
REGEX_MAX_MEM = 1 << 20     # per user regex; what does not fit is "pattern too large"
SET_MAX_MEM = 64 << 20      # the combined sets' DFA cache (200 words + 20 regexes use a fraction)


# --- Folding -------------------------------------------------------------------------------------------

# Latin letters with a stroke or ligatures that neither NFKD nor the confusables table takes to ASCII.
_SUPPLEMENT = {"ð": "d", "þ": "th", "ŀ": "l", "ĸ": "k", "ƀ": "b", "ɨ": "i", "ʉ": "u", "。": "."}


def _build_table() -> dict[int, str | None]:
    """The translate table: marks and invisibles -> removed, look-alikes -> lower-case ASCII."""
    # Planes 0-3 and the tags/variation-selectors block of plane 14 hold every assigned mark and invisible.
    every = "".join(map(chr, [*range(0xD800), *range(0xE000, 0x40000), *range(0xE0000, 0xE1000)]))
    # Mn/Me: accents and other combining marks (variation selectors are Mn); Default_Ignorable_Code_Point
    # and Cf: zero-width spaces and joiners, bidi controls, soft hyphen, Hangul fillers, tag characters.
    table: dict[int, str | None] = dict.fromkeys(
        map(ord, regex.findall(r"[\p{Mn}\p{Me}\p{Cf}\p{Default_Ignorable_Code_Point}]", every)))

    confusables = confusables_data.load("confusables.json")

    def plain(s: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", s) if ord(c) not in table).lower()

    def resolve(ch: str, depth: int = 0) -> str | None:
        # The data maps a character to its look-alikes, one step at a time ("т" -> "ᴛ" -> "T"): follow up
        # to three steps to an ASCII letter, preferring letters to digits and punctuation.
        found = [plain(c["c"]) for c in confusables.get(ch, ())]
        for want in (str.isalpha, lambda s: True):
            for s in found:
                if s and s.isascii() and want(s):
                    return s
        if depth < 2:
            for c in confusables.get(ch, ()):
                if len(c["c"]) == 1 and (s := resolve(c["c"], depth + 1)):
                    return s
        return None

    for ch in confusables:
        if len(ch) == 1 and not ch.isascii() and ord(ch) not in table:
            target = resolve(ch)
            # Never map to whitespace: that would split a word in two where the text shows one.
            if target and not target.isspace():
                table[ord(ch)] = target
    for ch, target in _SUPPLEMENT.items():
        table[ord(ch)] = target
    return table


_TABLE = _build_table()
_NOT_LATIN = re.compile("[^\x00-\x7f\u0300-\u036f]")   # beyond ASCII and the combining accents of Latin


def normalize(text: str) -> str:
    """The folded text every rule runs on: no accents, no invisible characters, look-alikes as Latin."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    # Most non-ASCII messages are accented Latin: ASCII once the accents are dropped, which encode() does
    # at C speed; translate()'s dict lookup per character would be two thirds of a scan's cost.
    if not _NOT_LATIN.search(decomposed):
        return decomposed.encode("ascii", "ignore").decode("ascii").lower()
    # Look-alikes are mapped first as written, since NFKD and casefold turn some into others (lunate
    # sigma "ϲ", a "c", becomes "σ", an "o"), and again at the end for what NFKD and casefold made;
    # NFKD again after casefold, which can make characters that decompose.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text.translate(_TABLE)).casefold())
    return folded.translate(_TABLE)


@lru_cache(maxsize=1 << 16)
def _fold_char(ch: str) -> str:
    return normalize(ch)


@dataclass(frozen=True)
class _Folded:
    """A text folded one character at a time, which tells where each folded character came from."""
    text: str
    ends: list[int]       # ends[i]: the folded length of original[:i + 1]
    original: str

    @classmethod
    def of(cls, original: str) -> "_Folded":
        pieces = list(map(_fold_char, original))
        return cls("".join(pieces), list(accumulate(map(len, pieces))), original)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of folded[start:end], with the combining marks that follow its last character."""
        o_start = bisect.bisect_right(self.ends, start)
        o_end = bisect.bisect_right(self.ends, end - 1) + 1
        while o_end < len(self.original) and unicodedata.category(self.original[o_end]) in ("Mn", "Me"):
            o_end += 1
        return o_start, o_end


# --- Words -----------------------------------------------------------------------------------------------

# A word is a run of letters and digits (Python's str.isalnum, any script), in the folded text; anything
# else (spaces, punctuation, apostrophes, hyphens, underscores, emoji) separates words.
_WORD = re.compile(r"[^\W_]+")
_RULE_WORD = re.compile(r"(?:[^\W_]|\*)+")


def _words(text: str) -> list[str]:
    return _WORD.findall(normalize(text))


# The fast path's classes are ASCII-only supersets of the exact ones (compiling \pL and \pN into 200
# patterns took 0.4 s): a letter there is an ASCII letter or digit or any non-ASCII character, a
# separator anything but an ASCII letter or digit. So the Set never misses what the exact matcher of the
# slow path finds; at worst it sends a message with a non-ASCII neighbour ("жcon") to the slow path.
_ANY_LETTER = r"[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"
_ANY_SEPARATOR = r"[^a-z0-9]"


def _word_regex(words: Sequence[str], lines: bool) -> str:
    """A word rule as an RE2 pattern: for the fast path's Set, over the folded text with word edges that
    only ask whether; or over the text's words one per line, where ^ and $ are zero-width word edges and
    finditer finds adjacent hits ("con con") and their positions."""
    letter, separator = ("[^\\n]", "\\n") if lines else (_ANY_LETTER, _ANY_SEPARATOR + "+")

    def one(word: str) -> str:
        if word == "*":
            return letter + "+"
        return (letter + "*").join(re2.escape(part) for part in word.split("*"))
    body = separator.join(one(w) for w in words)
    return f"(?m)^{body}$" if lines else f"(?:^|{_ANY_SEPARATOR}){body}(?:{_ANY_SEPARATOR}|$)"


# --- Links -----------------------------------------------------------------------------------------------

_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
# Our own fixed pattern (linear: no nested quantifiers), on the folded text. Not after a word character, a
# dot, a hyphen or "@" (so not the middle of a longer host, nor an e-mail address).
_LINK = re.compile(
    r"(?<![\w@.-])(?:(?P<scheme>[a-z][a-z0-9+.-]{0,15})://)?"
    rf"(?P<host>{_LABEL}(?:\.{_LABEL})+)\.?(?::\d{{1,5}})?(?P<path>[/?#][^\s<>\"]*)?")
_TRAILING = ".,;:!?)]}'\""
_DOTTED = rf"{_ANY_LETTER}\.{_ANY_LETTER}"     # (RE2) the fast path's question: could a host be there?


@lru_cache(maxsize=1)
def _top_level_domains() -> frozenset[str]:
    """The ICANN top-level domains of the Public Suffix List snapshot bundled with tldextract (no network)."""
    suffixes = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False).tlds
    tops = {s.rsplit(".", 1)[-1] for s in suffixes}
    return frozenset(tops | {normalize(t) for t in tops})


def _host(pattern: str) -> str:
    """A link rule's domain, from what a moderator may paste: scheme, userinfo, port, path and www. dropped."""
    host = pattern.strip().lower()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host)
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]
    host = re.sub(r":\d*$", "", host).rstrip(".")
    host = host.removeprefix("*.").removeprefix("www.")
    return host


# --- Validation ------------------------------------------------------------------------------------------

def _invalid(message: str) -> ApiError:
    return ApiError(Code.INVALID_PATTERN, message)


def _regex_options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEM
    return options


def _fold_regex(pattern: str) -> str:
    # Every RE2 metacharacter is ASCII, so a non-ASCII character is a literal: fold it like the text is
    # folded ("é" -> "e", Cyrillic "о" -> "o", a zero-width space -> nothing). ASCII is left alone: case is
    # the case_sensitive=False option's business, and lower-casing would turn \S into \s.
    return "".join(ch if ch.isascii() else _fold_char(ch) for ch in pattern)


def _check_length(pattern: str, limit: int, what: str) -> None:
    if len(pattern) > limit:
        raise _invalid(f"{what} is {len(pattern):,} characters long; at most {limit} are allowed")


def check_pattern(kind: str, pattern: str) -> str:
    """Validate a rule's pattern at save time; return the pattern to store, or raise ApiError.

    Stored: a word rule stripped, with its inner whitespace collapsed to single spaces (its accents kept,
    for display); a regex stripped; a link rule as its bare host (lower case, Unicode form) or "*".
    """
    if kind not in KINDS:
        raise ApiError(Code.INVALID_PAYLOAD, f"unknown rule kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(pattern, str) or not pattern.strip():
        raise _invalid(f"the {kind} pattern is empty")
    if kind == "word":
        _check_length(pattern, MAX_WORD_CHARS, "the word pattern")
        stored = " ".join(pattern.split())
        _rule_words(stored)
        return stored
    if kind == "regex":
        _check_length(pattern, MAX_REGEX_CHARS, "the regex")
        stored = pattern.strip()
        _compile_regex(stored)
        return stored
    _check_length(pattern, MAX_LINK_CHARS, "the link pattern")
    if pattern.strip() == "*":
        return "*"
    return _check_domain(pattern)


def _rule_words(pattern: str) -> list[str]:
    """A word rule's folded words; a lone "*" stands for any one word of a phrase."""
    words = [re.sub(r"\*+", "*", w) for w in _RULE_WORD.findall(normalize(pattern))]
    literal = [w for w in words if w.replace("*", "")]
    if not literal:
        raise _invalid("a word rule needs letters or digits (punctuation and * alone match nothing useful)")
    for word in literal:
        if "*" in word and len(word.replace("*", "")) < 2:
            raise _invalid(f"the wildcard word {word!r} needs at least 2 letters or digits besides *: "
                           "it would match almost every message")
    while words[0] == "*":      # a leading or trailing "any word" adds nothing to where the phrase is found
        words.pop(0)
    while words[-1] == "*":
        words.pop()
    return words


def _compile_regex(pattern: str) -> re2._Regexp:
    try:
        compiled = re2.compile(_fold_regex(pattern), _regex_options())
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise _invalid(f"the regex does not compile in RE2 (no backreferences or lookarounds): {reason}") from None
    if compiled.programsize > MAX_REGEX_PROGRAM:
        raise _invalid(f"the regex compiles to {compiled.programsize:,} RE2 instructions; at most "
                       f"{MAX_REGEX_PROGRAM:,} (large counted repetitions such as .{{1,1000}} cost the most)")
    for sample in ("", "a", "ab cd", "1"):
        if any(m.start() == m.end() for m in compiled.finditer(sample)):
            raise _invalid("the regex matches empty text, so it would hit every message; "
                           "make it require at least one character")
    return compiled


def _check_domain(pattern: str) -> str:
    host = _host(pattern)
    if not host or "." not in host:
        raise _invalid(f"{pattern.strip()!r} is not a domain: a link rule is a domain such as example.com, or *")
    try:
        ascii_host = idna.encode(host, uts46=True).decode()
    except idna.IDNAError as exc:
        raise _invalid(f"{host!r} is not a valid domain name: {exc}") from None
    top = ascii_host.rsplit(".", 1)[-1]
    if top not in _top_level_domains():
        raise _invalid(f"{host!r} does not end with a known top-level domain (.{top})")
    return idna.decode(ascii_host)


# --- Compiled rules --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    id: str | None      # None for a candidate rule under test (Hit.rule_id is then None too)
    kind: Kind
    pattern: str
    action: Action


@dataclass(frozen=True)
class Hit:
    rule_id: str | None   # None for a candidate rule under test without id
    kind: Kind
    action: Action
    start: int            # positions in the ORIGINAL text (what the user typed), end exclusive
    end: int
    match: str            # original_text[start:end]


@dataclass(frozen=True)
class Verdict:
    action: Action | None     # the strongest action among hits; None = clean
    hits: tuple[Hit, ...]     # in text order
    masked: str               # the original text, each code point of a `mask` hit replaced by MASK_CHAR
    review: bool = False      # whether it asks for a review item: a flag or a hold; a mask only if the group wants


_STRENGTH = {action: i for i, action in enumerate(ACTION_ORDER)}


def _new_set() -> re2.Set:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = SET_MAX_MEM
    options.case_sensitive = False
    return re2.Set.SearchSet(options)


class RuleSet:
    """A group's rules, compiled for scanning many messages; safe to share between threads (read-only)."""

    def __init__(self, rules: Sequence[Rule], allowlist: Sequence[str] = (), review_masks: bool = False) -> None:
        self.rules = tuple(rules)
        self.review_masks = review_masks
        # Allowlist entries folded like the text, words joined by one space ("Second" -> "second").
        self.allowlist = frozenset(" ".join(_words(entry)) for entry in allowlist) - {""}
        self._literal: dict[str, list[int]] = {}    # single literal word -> rule indexes
        self._by_line: dict[int, re2._Regexp] = {}  # other word rules, over the words one per line
        self._regex: dict[int, re2._Regexp] = {}
        self._domains: dict[int, tuple[str, ...]] = {}   # link rule -> folded hosts; () for "*"
        # The fast path: one RE2 Set over the folded text holds every word and regex rule, and a pattern
        # that says whether a host could be there at all; `_set_rule` maps its indexes back to rules.
        self._set, self._set_rule = _new_set(), []
        for i, rule in enumerate(self.rules):
            if rule.action not in ACTIONS:
                raise ApiError(Code.INVALID_PAYLOAD, f"rule {rule.id}: unknown action {rule.action!r}; "
                                                     f"expected one of {', '.join(ACTIONS)}")
            try:
                pattern = check_pattern(rule.kind, rule.pattern)
            except ApiError as exc:
                raise ApiError(exc.code, f"rule {rule.id}: {exc.message}", {"ruleId": rule.id}) from None
            if rule.kind == "word":
                words = _rule_words(pattern)
                if len(words) == 1 and "*" not in words[0]:
                    self._literal.setdefault(words[0], []).append(i)
                else:
                    self._by_line[i] = re2.compile(_word_regex(words, lines=True), _regex_options())
                self._add(_word_regex(words, lines=False), i)
            elif rule.kind == "regex":
                self._regex[i] = _compile_regex(pattern)
                self._add(_fold_regex(pattern), i)
            elif pattern == "*":
                self._domains[i] = ()
            else:
                self._domains[i] = tuple({normalize(pattern), idna.encode(pattern, uts46=True).decode()})
        if self._domains:
            self._add(_DOTTED, None)
            _top_level_domains()    # loaded now, not on the first scan
        self._literal_rules = frozenset(i for found in self._literal.values() for i in found)
        if self._set_rule:
            self._set.Compile()

    def _add(self, pattern: str, rule_index: int | None) -> None:
        self._set.Add(pattern)
        self._set_rule.append(rule_index)

    def scan(self, text: str) -> Verdict:
        """Every hit of every rule in `text`; never raises on odd text."""
        if not isinstance(text, str) or not text or not self._set_rule:
            return Verdict(None, (), text if isinstance(text, str) else "")
        folded = normalize(text)
        matched = self._set.Match(folded)
        if not matched:
            return Verdict(None, (), text)
        if matched == [len(self._set_rule) - 1] and self._domains and not any(
                self._link_rules(host, marked, lambda: host.rsplit(".", 1)[-1] in _top_level_domains())
                for _, _, host, marked in _links(folded)):
            return Verdict(None, (), text)     # dotted words ("fin.Et", "v1.2") but no link a rule wants
        return self._slow_scan(text, folded, matched)

    def _link_rules(self, host: str, marked: bool, bare_is_link) -> list[int]:
        """The link rules that want this host: its domain or a parent of it, or, for "*", any link."""
        return [i for i, domains in self._domains.items()
                if (any(host == d or host.endswith("." + d) for d in domains) if domains
                    else marked or bare_is_link())]

    def _slow_scan(self, text: str, fast_folded: str, matched: list[int]) -> Verdict:
        folded = _Folded.of(text)
        if folded.text != fast_folded:      # not seen in practice; the per-character fold is the authority
            matched = self._set.Match(folded.text) or []
        rules = {self._set_rule[j] for j in matched}
        tokens = [(m.start(), m.end()) for m in _WORD.finditer(folded.text)]
        token_starts = [s for s, _ in tokens]
        spans: list[tuple[int, int, int]] = []    # (folded start, folded end, rule index)

        if not rules.isdisjoint(self._literal_rules):
            literal = self._literal.get
            for s, e in tokens:
                if found := literal(folded.text[s:e]):
                    spans.extend((s, e, i) for i in found)
        if any(i in self._by_line for i in rules):
            # The words one per line, and where each line starts, to turn a line match back into words.
            lines = "\n".join(folded.text[s:e] for s, e in tokens)
            line_starts = list(accumulate((e - s + 1 for s, e in tokens[:-1]), initial=0))
            for i in rules & self._by_line.keys():
                for m in self._by_line[i].finditer(lines):
                    first = bisect.bisect_right(line_starts, m.start()) - 1
                    last = bisect.bisect_right(line_starts, m.end() - 1) - 1
                    spans.append((tokens[first][0], tokens[last][1], i))
        for i in rules & self._regex.keys():
            spans.extend((m.start(), m.end(), i) for m in self._regex[i].finditer(folded.text) if m.end() > m.start())
        if None in rules:
            for s, e, host, marked in _links(folded.text):
                spans.extend((s, e, i) for i in self._link_rules(host, marked, lambda: _bare_link(folded, s, host)))

        hits = []
        for s, e, i in spans:
            rule = self.rules[i]
            if rule.kind != "link" and self.allowlist and self._allowed(folded.text, tokens, token_starts, s, e):
                continue
            o_start, o_end = folded.span(s, e)
            hits.append(Hit(rule.id, rule.kind, rule.action, o_start, o_end, text[o_start:o_end]))
        hits.sort(key=lambda h: (h.start, h.end, _STRENGTH[h.action]))
        return _verdict(text, hits, self.review_masks)

    def _allowed(self, folded: str, tokens, token_starts, start: int, end: int) -> bool:
        """Whether the words a hit lies in (all of each word it touches) make an allowlist entry."""
        first = max(bisect.bisect_right(token_starts, start) - 1, 0)
        words = []
        for s, e in tokens[first:]:
            if s >= end:
                break
            if e > start:
                words.append(folded[s:e])
        return bool(words) and " ".join(words) in self.allowlist


def _links(folded: str):
    """(start, end, host, marked) of each link-like thing in the folded text: scheme://host, www.host, bare
    host.tld[/path]; `marked` when a scheme or "www." says it is a link whatever its top-level domain."""
    for m in _LINK.finditer(folded):
        end = m.end()
        while end > m.end("host") and folded[end - 1] in _TRAILING:
            end -= 1
        host = m.group("host")
        yield m.start(), end, host, bool(m.group("scheme")) or host.startswith("www.")


def _bare_link(folded: _Folded, start: int, host: str) -> bool:
    """For the "*" rule, a bare host is a link when its top-level domain is known and not written like the
    first word of a sentence ("fini.Et toi" is two sentences, "exemple.fr" or "EXEMPLE.FR" a link)."""
    top = host.rsplit(".", 1)[-1]
    if top not in _top_level_domains():
        return False
    host_start = folded.text.index(host, start)
    o_start, o_end = folded.span(host_start + len(host) - len(top), host_start + len(host))
    written = folded.original[o_start:o_end]
    return not (written[:1].isupper() and not written.isupper())


def _verdict(text: str, hits: list[Hit], review_masks: bool) -> Verdict:
    if not hits:
        return Verdict(None, (), text)
    action = max((h.action for h in hits), key=_STRENGTH.__getitem__)
    review = action in ("flag", "hold") or (action == "mask" and review_masks)
    masked = text
    mask_spans = [(h.start, h.end) for h in hits if h.action == "mask"]
    if mask_spans:
        chars = list(text)
        for s, e in mask_spans:
            chars[s:e] = MASK_CHAR * (e - s)
        masked = "".join(chars)
    return Verdict(action, tuple(hits), masked, review)


def compile_rules(rules: Sequence[Rule], allowlist: Sequence[str] = (), review_masks: bool = False) -> RuleSet:
    """Compile a group's rules once (a few ms for hundreds); raises ApiError naming a rule that is invalid.
    ``review_masks``: the group's setting, whether a message whose words were only masked is reviewed."""
    return RuleSet(rules, allowlist, review_masks)
