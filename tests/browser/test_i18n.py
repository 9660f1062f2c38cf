"""Four languages (seed 002): chosen from the browser, switchable, remembered; every catalogue complete, and
every key a page can ask for (found statically: tests/browser/i18n_keys.py) in each of them."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from schemas.errors import Code
from schemas.payloads import REVIEW_STATUSES
from tests.browser import i18n_keys
from tests.browser.conftest import person, post
from tests.e2e.harness import ROOT, make_conversation

pytestmark = pytest.mark.browser
CATALOGUES = {lang: json.loads((ROOT / "web" / "i18n" / f"{lang}.json").read_text())
              for lang in ("en", "fr", "es", "de")}


def placeholders(text) -> set[str]:
    texts = text.values() if isinstance(text, dict) else [text]
    return {name for t in texts for name in re.findall(r"\{(\w+)\}", t)}


@pytest.mark.parametrize("lang", ["fr", "es", "de"])
def test_every_catalogue_has_every_text_with_the_same_placeholders(lang):
    english, other = CATALOGUES["en"], CATALOGUES[lang]
    assert set(other) == set(english)
    for key, text in english.items():
        assert isinstance(other[key], type(text)), key
        assert placeholders(other[key]) == placeholders(text), key
        if isinstance(text, dict):
            assert "other" in other[key], key


def _sources() -> dict[str, str]:
    """The three pages and every script (the pages share the catalogues)."""
    web = ROOT / "web"
    return {p.relative_to(ROOT).as_posix(): p.read_text()
            for p in [*sorted(web.glob("*.html")), *sorted((web / "js").rglob("*.js"))]}


NAMESPACES = {key.split(".")[0] for key in CATALOGUES["en"]}


def missing(usage: i18n_keys.Usage, catalogues: dict) -> list[str]:
    """Each used key that a catalogue lacks, with the language and where it is used."""
    return sorted(f"{key} ({lang}; used in {', '.join(sorted(where)[:3])})"
                  for key, where in usage.keys.items() for lang, catalogue in catalogues.items() if key not in catalogue)


def test_every_key_the_pages_use_is_found_and_is_in_all_four_catalogues():
    """A key built at run time would escape this test: every t() asks for a literal or a _KEYS map."""
    usage = i18n_keys.scan(_sources(), NAMESPACES)
    assert usage.problems == []
    assert len(usage.keys) > 400 and "mod.log.reported" in usage.keys and "mod.mode.live" in usage.keys
    assert missing(usage, CATALOGUES) == []


def test_the_check_fails_on_a_missing_key_and_on_a_key_built_at_run_time():
    usage = i18n_keys.scan(_sources(), NAMESPACES)
    for removed in ("mod.log.reported", "mod.queue.empty.pending", "error.gone", "mod.tab.log"):
        without = {**CATALOGUES, "de": {k: v for k, v in CATALOGUES["de"].items() if k != removed}}
        assert [m.split(" ")[0] for m in missing(usage, without)] == [removed]
    built = i18n_keys.scan({"web/js/x.js": 'h("p", t(`mod.log.${action}`));\nconst k = "mod.log." + a;\n'
                                            "t(key); t(n ? X_KEYS[n] : \"mod.log.other\");"}, NAMESPACES)
    for what in ("t(`mod.log.${action}`)", '"mod.log." +', "t(key)", "X_KEYS, which is no literal map"):
        assert any(what in problem for problem in built.problems), (what, built.problems)
    fine = i18n_keys.scan({"web/js/y.js": 'const Y_KEYS = {a: "mod.log.on", b: {c: "mod.log.off"}};\n'
                                          't(Y_KEYS[x] ?? "mod.log.none"); t(ok ? "mod.you" : Y_KEYS.b.c);'}, NAMESPACES)
    assert fine.problems == [] and set(fine.keys) == {"mod.log.on", "mod.log.off", "mod.log.none", "mod.you"}


def test_every_action_the_server_logs_and_every_error_code_has_its_text():
    actions, problems = i18n_keys.logged_actions(ROOT, tuple(s for s in REVIEW_STATUSES if s != "pending"))
    assert problems == [] and {"reported", "settings_updated", "review_approved", "retention"} <= actions
    usage = i18n_keys.scan(_sources(), NAMESPACES)
    log_keys = _map_keys(ROOT / "web/js/moderation/log.js", "LOG_KEYS")
    assert actions - set(log_keys) == set(), "web/js/moderation/log.js: LOG_KEYS lacks these actions"
    assert set(_map_keys(ROOT / "web/js/shared/texts.js", "ERROR_KEYS")) >= {c.value for c in Code}
    assert missing(usage, CATALOGUES) == []


def _map_keys(path, name: str) -> list[str]:
    """The property names of a flat literal map (what it maps from)."""
    code = i18n_keys.strip_comments(path.read_text())
    body = code[code.index(f"const {name} = {{"):]
    body = body[:body.index("};")]
    return re.findall(r"([A-Za-z_$][\w$]*)\s*:\s*[\"']", body)


@pytest.mark.parametrize("locale, title", [("fr-FR", "Connexion"), ("es-MX", "Iniciar sesión"),
                                           ("de-AT", "Anmelden"), ("ja-JP", "Sign in")])
def test_the_language_comes_from_the_browser(open_chat, locale, title):
    page = open_chat(locale=locale).page
    expect(page.locator("#signin h1")).to_have_text(title)


def test_switch_language_and_it_is_remembered(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="i18n")
    post(bob, conv["id"], "b1", "Bonjour !")
    c = open_chat(locale="fr-FR")
    c.screenshot("signin-fr")
    c.sign_in(alice.username).open_conversation("i18n")
    page = c.page
    expect(page.locator("#input")).to_have_attribute("placeholder", "Écrire un message…")
    expect(page.locator("#messages .day")).to_have_text("Aujourd'hui")
    c.screenshot("conversation-fr")

    page.select_option("#app select.language", "de")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("#input")).to_have_attribute("placeholder", "Nachricht schreiben…")
    expect(page.locator("#messages .day")).to_have_text("Heute")
    expect(page.locator("#history-top")).to_contain_text("Hier beginnt die Unterhaltung")
    c.screenshot("conversation-de")

    page.reload()   # the tab keeps its session (sessionStorage) and the language (localStorage)
    c.wait_loaded()
    expect(page.locator("#input")).to_have_attribute("placeholder", "Nachricht schreiben…")
    expect(c.message("Bonjour !")).to_be_visible()
    page.select_option("#app select.language", "es")
    expect(page.locator("#composer .hint")).to_contain_text("Intro para enviar")
    expect(page.locator("#app select.language")).to_have_value("es")
