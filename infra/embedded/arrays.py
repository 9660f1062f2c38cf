"""The embedded store's answers to ``$in`` of strings on array fields (a search's ``{words: {$in: [forms,
/^prefix/]}}``): an inverted map for an index whose second field holds arrays (``(convId, words)``, a
multikey index on a server), and a quick screen that rules documents out before mongomock's filter.

``$in`` of strings and regexes matches only strings: a document matches when its value is such a string,
or an element of its top-level array is (a regex: a string it matches). So a document holding no string
is never a candidate, and one whose strings meet none of the values cannot match. mongomock's filter
costs 60-80 µs a document; the screen costs a few."""
from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable
from typing import Any

from bson.regex import Regex

ANY = object()  # a head value that is not plain (an array, a document): looked at whatever the heads asked


class ArrayIndex:
    """For an index prefix (head, field) whose field holds arrays: which documents hold each string, per
    head value, and the strings held per head value (what a regex is tried on)."""

    def __init__(self, prefix: tuple[str, ...]) -> None:
        self.head, self.field = prefix
        self.holders: dict[tuple, dict[Any, None]] = {}        # (head, string) -> ids
        self.strings: dict[Any, dict[str, int]] = {}           # head -> string -> how many documents hold it
        self.ordered: dict[Any, list[str]] = {}                # head -> its strings sorted (made when asked)

    @staticmethod
    def entry(head: Any, value: Any) -> tuple:
        """What a document is indexed under: its head value (or ANY) and the strings it holds."""
        items = value if isinstance(value, list) else [value]
        return head, frozenset(i for i in items if type(i) is str)

    def add(self, key, entry: tuple) -> tuple:
        head, strings = entry
        counts = self.strings.setdefault(head, {})
        for string in strings:
            self.holders.setdefault((head, string), {})[key] = None
            if string not in counts:
                self.ordered.pop(head, None)
            counts[string] = counts.get(string, 0) + 1
        return entry

    def remove(self, key, entry: tuple) -> None:
        head, strings = entry
        counts = self.strings.get(head, {})
        for string in strings:
            holders = self.holders.get((head, string), {})
            holders.pop(key, None)
            if not holders:
                self.holders.pop((head, string), None)
            counts[string] = counts.get(string, 1) - 1
            if counts[string] <= 0:
                counts.pop(string, None)
                self.ordered.pop(head, None)

    def lookup(self, heads: list, plain: set[str], patterns: list) -> list:
        """The ids of documents under one of ``heads`` (or ANY) holding a string of ``plain`` or one that a
        pattern matches."""
        found: dict[Any, None] = {}
        for head in [*heads, ANY]:
            wanted = set(plain)
            for pattern in patterns:
                wanted.update(self._matching(head, pattern))
            for string in wanted:
                found.update(self.holders.get((head, string), {}))
        return list(found)

    def _matching(self, head, pattern) -> list[str]:
        """The strings held under ``head`` that the regex matches: an anchored literal prefix (what a search
        sends) is one range of the sorted strings, as on a server's index; another regex tries each."""
        if head not in self.strings:
            return []
        prefix = literal_prefix(pattern.pattern)
        if prefix is None:
            return [s for s in self.strings[head] if pattern.match(s)]
        ordered = self.ordered.get(head)
        if ordered is None:
            ordered = self.ordered[head] = sorted(self.strings[head])
        start = bisect.bisect_left(ordered, prefix)
        end = start
        while end < len(ordered) and ordered[end].startswith(prefix):
            end += 1
        return ordered[start:end]


def strings_and_patterns(values: Any) -> tuple[set[str], list] | None:
    """The strings and compiled flagless regexes of an ``$in`` list; None if it holds anything else."""
    if not isinstance(values, list):
        return None
    plain, patterns = set(), []
    for value in values:
        if type(value) is str:
            plain.add(value)
        elif isinstance(value, Regex) and not value.flags:
            patterns.append(_compiled(value.pattern))
        else:
            return None
    return plain, patterns


def in_conditions(filter: dict, field: str) -> list[Any]:
    """The value lists of every ``{field: {$in: [...]}}`` of the filter, at its top or in its ``$and``."""
    clauses = [filter, *(c for c in filter.get("$and", ()) if isinstance(c, dict))]
    return [c[field]["$in"] for c in clauses if isinstance(c.get(field), dict) and set(c[field]) == {"$in"}]


def in_screens(filter: dict) -> list[Callable[[dict], bool]]:
    """A necessary condition per ``$in`` of strings and flagless regexes on a top-level field."""
    clauses = [filter, *(c for c in filter.get("$and", ()) if isinstance(c, dict))]
    screens = []
    for clause in clauses:
        for field, condition in clause.items():
            if field.startswith("$") or "." in field or not isinstance(condition, dict) or set(condition) != {"$in"}:
                continue
            split = strings_and_patterns(condition["$in"])
            if split is not None:
                screens.append(_screen(field, *split))
    return screens


def _screen(field: str, plain: set[str], patterns: list) -> Callable[[dict], bool]:
    def may_match(doc: dict) -> bool:
        value = doc.get(field)
        items = value if isinstance(value, list) else [value]
        if not all(type(item) is str for item in items):
            return True  # (numbers, documents, nested arrays: the filter decides)
        return not plain.isdisjoint(items) or any(p.match(item) for p in patterns for item in items)
    return may_match


_META = frozenset("\\^$.|?*+()[]{}")


def literal_prefix(pattern: str) -> str | None:
    """"abc" for ``^abc`` (metacharacters escaped with a backslash allowed, as in ``^a\+b``); None when the
    regex is anything else."""
    if not pattern.startswith("^"):
        return None
    out, escaped = [], False
    for char in pattern[1:]:
        if escaped:
            if char.isalnum():
                return None  # (\d, \w...: classes, not literals)
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _META:
            return None
        else:
            out.append(char)
    return None if escaped else "".join(out)


@functools.lru_cache(maxsize=1_000)
def _compiled(pattern: str):
    return re.compile(pattern)
