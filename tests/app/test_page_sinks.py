"""The pages never read text as HTML or code: no script under web/ uses a sink that parses a string
(people's names, titles and messages become text nodes through dom.h; links go through dom.safeUrl)."""
from __future__ import annotations

import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"
SINKS = re.compile(r"\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\bsrcdoc\b|"
                   r"createContextualFragment|DOMParser|\beval\s*\(|new\s+Function\s*\(|setTimeout\s*\(\s*['\"`]|"
                   r"\bon[a-z]+\s*=\s*['\"]|javascript:")


def _scripts() -> list[Path]:
    return sorted(p for p in WEB.rglob("*") if p.suffix in (".js", ".html") and "vendor" not in p.parts)


def test_no_page_script_parses_a_string_as_html_or_code():
    scripts = _scripts()
    assert len(scripts) > 20 and any(p.name == "dom.js" for p in scripts)
    found = [f"{p.relative_to(WEB)}:{n}: {line.strip()}" for p in scripts
             for n, line in enumerate(p.read_text().splitlines(), 1)
             if SINKS.search(line) and not line.lstrip().startswith(("//", "/*", "*"))]
    assert found == []


def test_the_sink_pattern_finds_what_it_is_meant_to():
    for line in ["el.innerHTML = text;", "x.insertAdjacentHTML('beforeend', s)", "document.write(s)",
                 "eval(code)", "new Function(src)", 'setTimeout("go()", 1)', '<a onclick="go()">',
                 "a.href = 'javascript:void 0'", "new DOMParser()", "frame.srcdoc = html"]:
        assert SINKS.search(line), line
    assert not SINKS.search("el.textContent = text; h('a', {href}, url)")
