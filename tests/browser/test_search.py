"""The search panel across all my conversations: results grouped by conversation as I type, the words found
marked in their other forms and by their beginning, a result opening its conversation at the message; a
conversation I am not in never answers. Desktop in English, phone in French, the keyboard alone."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import person, post
from tests.e2e.harness import make_conversation, wait_until

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page, selector: str) -> list[str]:
    """axe-core's serious and critical findings inside ``selector`` (from npm, tests only; evaluated through
    the browser's protocol, which the page's CSP does not govern, rather than as a script tag)."""
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    found = page.evaluate("sel => axe.run({include: [sel]}).then(r => r.violations"
                          ".filter(v => ['serious', 'critical'].includes(v.impact))"
                          ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))", selector)
    return found


def stored(api, conv_id: str, count: int) -> None:
    """Wait until the conversation holds ``count`` messages besides its "created" one."""
    wait_until(lambda: len(api.ok("GET", f"/api/conversations/{conv_id}/messages")["messages"]) >= count + 1,
               what=f"{count} stored messages")


def test_search_everywhere_grouped_and_a_result_opens_its_conversation(system, open_chat):
    alice, bob, carol = person(system, "alice"), person(system, "bob"), person(system, "carol")
    _, launch = make_conversation(alice, bob, title="launch")
    _, ops = make_conversation(alice, bob, title="ops")
    _, secret = make_conversation(alice, carol, title="secret")
    post(alice, launch["id"], "l1", "We deployed the checkout fix to staging")
    post(alice, launch["id"], "l2", "lunch at noon?")
    post(alice, secret["id"], "s1", "deploy the secret plan")
    for i in range(40):
        post(alice, ops["id"], f"o{i}", f"routine check {i}")
    post(alice, ops["id"], "o-last", "Deploying again tomorrow morning")
    stored(alice, launch["id"], 2)
    stored(alice, ops["id"], 41)
    stored(alice, secret["id"], 1)

    b = open_chat().sign_in(bob.username).open_conversation("launch")
    b.page.click("#search-toggle")
    expect(b.page.locator("#search-input")).to_be_focused()
    # This conversation: the last word typed is also the beginning of a word ("check" finds "checkout").
    b.page.type("#search-input", "check", delay=30)
    hits = b.page.locator("#search-results button.result")
    expect(hits).to_have_count(1)
    expect(hits.first.locator("mark")).to_have_text("checkout")

    # All conversations: grouped, newest first, never a conversation I am not in.
    b.page.locator("#search-scope label", has_text="All conversations").click()
    b.page.fill("#search-input", "")
    b.page.type("#search-input", "deploy", delay=30)
    groups = b.page.locator("#search-results .search-group")
    expect(groups).to_have_count(2)
    expect(groups.nth(0).locator(".search-group-title")).to_contain_text("ops")
    expect(groups.nth(1).locator(".search-group-title")).to_contain_text("launch")
    expect(groups.nth(0).locator("mark")).to_have_text("Deploying")     # another form of the word
    expect(groups.nth(1).locator("mark")).to_have_text("deployed")
    expect(b.page.locator("#search-results")).not_to_contain_text("secret")
    b.screenshot("search-everywhere")
    assert serious_violations(b.page, "#search") == []

    # A result in another conversation opens it at the message, and the panel stays (desktop).
    groups.nth(0).locator("button.result").click()
    expect(b.page.locator("#conv-title")).to_have_text("ops")
    target = b.message("Deploying again tomorrow morning")
    expect(target).to_be_in_viewport()
    expect(b.page.locator("#search")).to_be_visible()
    expect(groups).to_have_count(2)
    # ...and back to the first: older messages of "launch" in view.
    groups.nth(1).locator("button.result").click()
    expect(b.page.locator("#conv-title")).to_have_text("launch")
    expect(b.message("We deployed the checkout fix to staging")).to_be_in_viewport()
    b.screenshot("search-opened")

    # Nothing found, said plainly.
    b.page.fill("#search-input", "zebra ")
    b.page.press("#search-input", "Enter")
    expect(b.page.locator("#search-status")).to_contain_text("No message in your conversations matches “zebra”")


def test_search_on_a_phone_in_french_with_the_keyboard(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, classe = make_conversation(alice, bob, title="classe")
    _, sortie = make_conversation(alice, bob, title="sortie")
    post(alice, classe["id"], "c1", "Les élèves arrivent à 9h")
    for i in range(30):
        post(alice, classe["id"], f"f{i}", f"message de remplissage {i}")
    post(alice, sortie["id"], "s1", "Le niveau est très élevé cette année")
    stored(alice, classe["id"], 31)
    stored(alice, sortie["id"], 1)

    b = open_chat(locale="fr-FR", phone=True).sign_in(bob.username).open_conversation("sortie")
    b.page.click("#search-toggle")
    expect(b.page.locator("#search-scope")).to_contain_text("Toutes les conversations")
    b.page.locator("#search-scope label", has_text="Toutes les conversations").click()
    b.page.fill("#search-input", "eleve")
    b.page.press("#search-input", "Enter")
    groups = b.page.locator("#search-results .search-group")
    expect(groups).to_have_count(2)
    expect(b.page.locator("#search-status")).to_contain_text("2 résultats")
    expect(groups.nth(0).locator("mark")).to_have_text("élevé")
    expect(groups.nth(1).locator("mark")).to_have_text("élèves")
    b.screenshot("search-phone-fr")
    assert serious_violations(b.page, "#search") == []

    # The keyboard alone: down into the results, down again, Enter opens the older conversation.
    b.page.focus("#search-input")
    b.page.keyboard.press("ArrowDown")
    expect(groups.nth(0).locator("button.result")).to_be_focused()
    b.page.keyboard.press("ArrowDown")
    expect(groups.nth(1).locator("button.result")).to_be_focused()
    b.page.keyboard.press("Enter")
    expect(b.page.locator("#conv-title")).to_have_text("classe")
    expect(b.page.locator("#search")).to_be_hidden()                   # a phone shows the conversation
    target = b.message("Les élèves arrivent à 9h")
    expect(target).to_be_in_viewport()
    expect(target).to_have_class(re.compile("target"))
    b.screenshot("search-phone-opened")
    # Back to the search: the results are still there.
    b.page.click("#search-toggle")
    expect(groups).to_have_count(2)
    expect(b.page.locator("#search-input")).to_have_value("eleve")


def test_bad_input_says_what_is_wrong(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    make_conversation(alice, bob, title="words")
    b = open_chat(locale="de-DE").sign_in(bob.username).open_conversation("words")
    b.page.click("#search-toggle")
    b.page.fill("#search-input", " ".join(f"w{i}" for i in range(11)))
    b.page.press("#search-input", "Enter")
    expect(b.page.locator("#search-status")).to_have_text("Suche nach höchstens 10 Wörtern und 200 Zeichen.")
    b.page.keyboard.press("Escape")
    expect(b.page.locator("#search")).to_be_hidden()
    expect(b.page.locator("#search-toggle")).to_be_focused()
