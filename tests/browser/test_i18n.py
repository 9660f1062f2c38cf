"""Four languages (seed 002): chosen from the browser, switchable, remembered; every catalogue complete."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

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


def test_every_text_the_page_uses_is_in_the_catalogue():
    web = ROOT / "web"
    # The chat page and the moderator dashboard (web/js/moderation/) share the catalogues.
    source = "\n".join(p.read_text() for p in [*sorted(web.glob("*.html")), *sorted((web / "js").rglob("*.js"))])
    used = {*re.findall(r'\bt\("([a-zA-Z]+\.[\w.]+)"', source), *re.findall(r'data-i18n[a-z-]*="([^"]+)"', source)}
    assert used and used <= set(CATALOGUES["en"]), used - set(CATALOGUES["en"])


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
