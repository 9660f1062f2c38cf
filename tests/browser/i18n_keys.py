"""Every i18n key the pages can ask for, found statically (tests/browser/test_i18n.py).

The pages ask for a text with ``t(key)``. A key is findable when ``t``'s first argument is a literal
(``t("mod.log.empty")``), a lookup in a literal map of keys (``t(LOG_KEYS[action])``: a ``const`` whose name ends
with ``_KEYS``, whose values are key strings or such maps), or a choice between those (``a ? "x.y" : X_KEYS[k]``,
``X_KEYS[k] ?? "x.other"``). Anything else (a template literal, a concatenation, a variable) is reported,
unless ``SANCTIONED`` says how its keys are checked instead (the ``data-i18n`` attributes)."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

# Arguments of t() that are not literal, and why their keys are checked all the same.
SANCTIONED = {
    ("web/js/shared/i18n.js", "el.dataset.i18n"): "data-i18n attributes, each a literal (attribute_keys)",
    ("web/js/shared/i18n.js", "el.dataset.i18nPlaceholder"): "data-i18n-placeholder attributes (attribute_keys)",
    ("web/js/shared/i18n.js", "el.dataset.i18nTitle"): "data-i18n-title attributes (attribute_keys)",
    ("web/js/shared/i18n.js", "el.dataset.i18nLabel"): "data-i18n-label attributes (attribute_keys)",
}
MAP_NAME = re.compile(r"\b(?:export\s+)?const\s+([A-Z][A-Z0-9_]*_KEYS)\s*=\s*(?=\{)")
MAP_LOOKUP = re.compile(r"^([A-Z][A-Z0-9_]*_KEYS)(?:\[[^\[\]]+\]|\.[A-Za-z_$][\w$]*)+$")
T_CALL = re.compile(r"(?<![\w$.])t\(")
ATTRIBUTE = re.compile(r'data-i18n(?:-placeholder|-title|-label)?="([^"]*)"')
DATASET = re.compile(r"(?<![\w$])(?:i18n(?:Placeholder|Title|Label)?\s*:|dataset\.i18n\w*\s*=(?!=)|"
                     r"\"data-i18n[\w-]*\"\s*[:,])\s*")
STRING = re.compile(r"""^(?:"([^"\\]*)"|'([^'\\]*)'|`([^`$\\]*)`)$""")


# -- reading JavaScript -----------------------------------------------------------------------------------
def _skip_literal(src: str, i: int) -> int:
    """The index after the string or template literal that starts at i (templates' ${...} included)."""
    quote, i = src[i], i + 1
    while i < len(src):
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            return i + 1
        if quote == "`" and src.startswith("${", i):
            i = _skip_braces(src, i + 1)
            continue
        i += 1
    return i


def _skip_braces(src: str, i: int) -> int:
    """From an opening brace, the index after its closing one (strings inside skipped)."""
    depth = 0
    while i < len(src):
        c = src[i]
        if c in "\"'`":
            i = _skip_literal(src, i)
            continue
        depth += c == "{"
        depth -= c == "}"
        i += 1
        if depth == 0:
            return i
    return i


def _regex_may_start(src: str, i: int) -> bool:
    before = src[:i].rstrip()
    return not before or before[-1] in "(,=:[!&|?{};" or before.endswith("return")


def strip_comments(src: str) -> str:
    """The code with its comments blanked (strings, templates and regex literals kept as they are)."""
    out, i = [], 0
    while i < len(src):
        c = src[i]
        if c in "\"'`":
            end = _skip_literal(src, i)
        elif src.startswith("//", i):
            end = src.find("\n", i)
            end = len(src) if end < 0 else end
            out.append(" ")
            i = end
            continue
        elif src.startswith("/*", i):
            end = src.find("*/", i + 2) + 2 or len(src)
            out.append(" " * (end - i))
            i = end
            continue
        elif c == "/" and _regex_may_start(src, i):
            end = i + 1
            in_class = False
            while end < len(src) and (src[end] != "/" or in_class) and src[end] != "\n":
                in_class = (in_class or src[end] == "[") and src[end] != "]"
                end += 2 if src[end] == "\\" else 1
            end += 1
        else:
            end = i + 1
        out.append(src[i:end])
        i = end
    return "".join(out)


def first_argument(src: str, i: int) -> str:
    """The text of the first argument of the call whose "(" is at i - 1."""
    start, depth = i, 0
    while i < len(src):
        c = src[i]
        if c in "\"'`":
            i = _skip_literal(src, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            break
        i += 1
    return src[start:i].strip()


# -- what a key expression can be ---------------------------------------------------------------------------
def _top_level(expr: str, token: str) -> list[int]:
    """Positions of `token` outside brackets and literals."""
    found, depth, i = [], 0, 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _skip_literal(expr, i)
            continue
        depth += c in "([{"
        depth -= c in ")]}"
        if depth == 0 and expr.startswith(token, i):
            found.append(i)
            i += len(token)
            continue
        i += 1
    return found


def _ternary(expr: str) -> tuple[str, str] | None:
    """The two branches of a top-level `a ? b : c` (not `??` nor `?.`), or None."""
    marks = [p for p in _top_level(expr, "?") if expr[p + 1:p + 2] not in ("?", ".") and expr[p - 1:p] != "?"]
    if not marks:
        return None
    rest = expr[marks[0] + 1:]
    nested = 0
    for p in sorted(set(_top_level(rest, "?")) | set(_top_level(rest, ":"))):
        if rest[p] == "?" and rest[p + 1:p + 2] not in ("?", ".") and rest[p - 1:p] != "?":
            nested += 1
        elif rest[p] == ":":
            if nested == 0:
                return rest[:p], rest[p + 1:]
            nested -= 1
    return None


def leaves(expr: str) -> list[tuple[str, str]]:
    """("key", k) for a literal, ("map", NAME) for a map lookup, ("dynamic", text) for anything else."""
    expr = expr.strip()
    if expr.startswith("(") and expr.endswith(")") and _skip_parens(expr) == len(expr):
        return leaves(expr[1:-1])
    branches = _ternary(expr)
    if branches:
        return leaves(branches[0]) + leaves(branches[1])
    for op in ("??", "||"):
        cuts = _top_level(expr, op)
        if cuts:
            parts = [expr[a:b] for a, b in zip([0] + [c + 2 for c in cuts], cuts + [len(expr)])]
            return [leaf for part in parts for leaf in leaves(part)]
    if m := STRING.match(expr):
        return [("key", next(g for g in m.groups() if g is not None))]
    if m := MAP_LOOKUP.match(expr):
        return [("map", m.group(1))]
    return [("dynamic", expr)]


def _skip_parens(expr: str) -> int:
    depth, i = 0, 0
    while i < len(expr):
        if expr[i] in "\"'`":
            i = _skip_literal(expr, i)
            continue
        depth += expr[i] == "("
        depth -= expr[i] == ")"
        i += 1
        if depth == 0:
            return i
    return i


# -- maps of keys -------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""\s*(?:("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([A-Za-z_$][\w$]*|\d+)|([{}:,]))""")


def map_values(body: str) -> list[str]:
    """The key strings of a literal map `{a: "x.y", b: {c: "x.z"}}`; ValueError when a value is anything else."""
    tokens, pos = [], 0
    while pos < len(body.rstrip()):
        m = _TOKEN.match(body, pos)
        if not m:
            raise ValueError(f"not a literal map of keys near {body[pos:pos + 40]!r}")
        tokens.append(m.group(1) and ("str", m.group(1)[1:-1]) or m.group(2) and ("name", m.group(2))
                      or ("punct", m.group(3)))
        pos = m.end()
    values: list[str] = []

    def obj(i: int) -> int:
        assert tokens[i] == ("punct", "{")
        i += 1
        while tokens[i] != ("punct", "}"):
            if tokens[i][0] not in ("str", "name") or tokens[i + 1] != ("punct", ":"):
                raise ValueError(f"not a literal map of keys at {tokens[i]}")
            kind, value = tokens[i + 2]
            if kind == "str":
                values.append(value)
                i += 3
            elif (kind, value) == ("punct", "{"):
                i = obj(i + 2)
            else:
                raise ValueError(f"a map of keys holds {value!r}, not a key string")
            if tokens[i] == ("punct", ","):
                i += 1
        return i + 1
    if obj(0) != len(tokens):
        raise ValueError("text after the map")
    return values


@dataclass
class Usage:
    """What the pages ask the catalogues for."""
    keys: dict[str, set[str]] = field(default_factory=dict)        # key -> files
    maps: dict[str, list[str]] = field(default_factory=dict)       # NAME_KEYS -> its key strings
    lookups: list[tuple[str, str]] = field(default_factory=list)  # (NAME_KEYS, where) of each map t() reads
    problems: list[str] = field(default_factory=list)

    def use(self, key: str, where: str) -> None:
        self.keys.setdefault(key, set()).add(where)


def scan(sources: dict[str, str], namespaces: set[str]) -> Usage:
    """Every key used by these files ({path: text}, .js and .html), and every way a key escapes the check."""
    usage = Usage()
    for path, text in sources.items():
        if path.endswith(".html"):
            for key in ATTRIBUTE.findall(text):
                usage.use(key, path)
            continue
        code = strip_comments(text)
        _scan_maps(code, path, usage)
        _scan_calls(code, path, usage)
        _scan_attributes(code, path, usage)
        _scan_built_keys(code, path, namespaces, usage)
    for name in {n for n, _ in usage.lookups} - set(usage.maps):
        usage.problems.append(f"t() looks keys up in {name}, which is no literal map of keys in web/js")
    for name, values in usage.maps.items():
        for key in values:
            usage.use(key, name)
    return usage


def _scan_maps(code: str, path: str, usage: Usage) -> None:
    for m in MAP_NAME.finditer(code):
        body = code[m.end():_skip_braces(code, m.end())]
        try:
            usage.maps[m.group(1)] = map_values(body)
        except ValueError as exc:
            usage.problems.append(f"{path}: {m.group(1)}: {exc}")


def _scan_calls(code: str, path: str, usage: Usage) -> None:
    for m in T_CALL.finditer(code):
        if code[max(0, m.start() - 9):m.start()].endswith("function "):
            continue
        arg = first_argument(code, m.end())
        line = code.count("\n", 0, m.start()) + 1
        for kind, value in leaves(arg):
            if kind == "key":
                usage.use(value, f"{path}:{line}")
            elif kind == "map":
                usage.lookups.append((value, f"{path}:{line}"))
            elif (path, value) not in SANCTIONED:
                usage.problems.append(f"{path}:{line}: t({arg}) builds its key at run time: use a literal or a "
                                      "_KEYS map (web/js/shared/texts.js)")


def _scan_attributes(code: str, path: str, usage: Usage) -> None:
    """data-i18n attributes set from scripts: literals only, so that translatePage's keys are all known."""
    for m in DATASET.finditer(code):
        rest = code[m.end():]
        value = first_argument(rest, 0) if rest[:1] in "\"'`" else rest.split("\n", 1)[0]
        literal = STRING.match(value)
        line = code.count("\n", 0, m.start()) + 1
        if literal:
            usage.use(next(g for g in literal.groups() if g is not None), f"{path}:{line}")
        else:
            usage.problems.append(f"{path}:{line}: a data-i18n key set from {value.strip()[:40]!r}: use a literal")


def _scan_built_keys(code: str, path: str, namespaces: set[str], usage: Usage) -> None:
    """A key assembled outside t() (`mod.log.${x}`, "mod.log." + x) would escape the call check."""
    heads = "|".join(sorted(map(re.escape, namespaces)))
    built = re.compile(rf"""`(?:{heads})\.[\w.]*\$\{{|["'](?:{heads})\.[\w.]*\.["']\s*\+""")
    for m in built.finditer(code):
        line = code.count("\n", 0, m.start()) + 1
        usage.problems.append(f"{path}:{line}: an i18n key built from pieces ({m.group(0)}…): use a _KEYS map")


# -- what the server can put on the page ----------------------------------------------------------------------
def _strings_of(node: ast.AST, statuses: tuple[str, ...]) -> set[str] | None:
    """The strings an action argument can be: a literal, `a if c else b`, `{...}[k]`, or f"review_{x.status}"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        a, b = _strings_of(node.body, statuses), _strings_of(node.orelse, statuses)
        return a | b if a is not None and b is not None else None
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Dict):
        found = [_strings_of(v, statuses) for v in node.value.values]
        return set().union(*found) if all(f is not None for f in found) else None
    if isinstance(node, ast.JoinedStr) and len(node.values) == 2:
        head, value = node.values
        if (isinstance(head, ast.Constant) and isinstance(value, ast.FormattedValue)
                and isinstance(value.value, ast.Attribute) and value.value.attr == "status"):
            return {f"{head.value}{s}" for s in statuses}
    return None


def logged_actions(root: Path, statuses: tuple[str, ...]) -> tuple[set[str], list[str]]:
    """Every action the moderation log can hold: do_log_action's, and ActivityLog entries given a groupId."""
    actions: set[str] = set()
    problems: list[str] = []
    for path in sorted((root / "pipelines").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            kw = {k.arg: k.value for k in node.keywords}
            if name == "do_log_action":
                arg = node.args[4] if len(node.args) > 4 else kw.get("action")
            elif name == "ActivityLog" and "groupId" in kw and path.name != "log.py":   # log.py: do_log_action's own
                arg = kw.get("action")
            else:
                continue
            found = _strings_of(arg, statuses) if arg is not None else None
            if found is None:
                problems.append(f"{path.relative_to(root)}:{node.lineno}: a logged action that is not a literal")
            else:
                actions |= found
    return actions, problems
