"""Messages render their Markdown subset (emphasis, code, code blocks, quotes, lists, links) as elements built
one by one, and every attempt to smuggle HTML, script or a remote image through it shows as text."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import person, post
from tests.e2e.harness import make_conversation

pytestmark = pytest.mark.browser
WEB = Path(__file__).resolve().parents[2] / "web"

FORMATTED = [
    "**bold** and _italic_ and `code` and ~~gone~~",
    "```\ndef f():\n    return 1\n```",
    "> quoted words\n\nafter the quote",
    "- one\n- two\n\n1. first\n2. second",
    "see [the docs](https://example.org/docs) or <https://example.org/auto> or https://example.org/bare",
    "line one\nline two",
]

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    "[x](javascript:alert(3))",
    "[y](JaVaScRiPt:alert(4))",
    "[z](data:text/html,<script>alert(5)</script>)",
    "![pic](http://evil.test/x.png)",
    "<javascript:alert(6)>",
    "&lt;b&gt;entity&lt;/b&gt; &#60;script&#62;",
    "**_`<b>nested</b>`_** and `unclosed",
    "[rel](//evil.test/path) [file](file:///etc/passwd)",
    'visit [site](https://example.org/ok "a title") or write to someone@example.org',
]


def formatted_conversation(system, open_chat, **chat_options):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="formatting")
    for i, text in enumerate(FORMATTED):
        post(alice, conv["id"], f"f{i}", text)
    b = open_chat(**chat_options).sign_in(bob.username).open_conversation("formatting")
    expect(b.page.locator("#messages li.msg:not(.system)")).to_have_count(len(FORMATTED))
    return b, alice, bob, conv


def bubble(chat, index: int):
    return chat.page.locator("#messages li.msg:not(.system) .text").nth(index)


def check_formatting(chat) -> None:
    first = bubble(chat, 0)
    expect(first.locator("strong")).to_have_text("bold")
    expect(first.locator("em")).to_have_text("italic")
    expect(first.locator("code")).to_have_text("code")
    expect(first.locator("s")).to_have_text("gone")
    expect(first).to_have_text("bold and italic and code and gone")    # no marker left

    code = bubble(chat, 1).locator("pre > code")
    assert code.evaluate("el => el.textContent") == "def f():\n    return 1"   # its spaces and line breaks kept
    quote = bubble(chat, 2)
    expect(quote.locator("blockquote")).to_have_text("quoted words")
    expect(quote.locator("p").last).to_have_text("after the quote")
    lists = bubble(chat, 3)
    expect(lists.locator("ul > li")).to_have_text(["one", "two"])
    expect(lists.locator("ol > li")).to_have_text(["first", "second"])

    links = bubble(chat, 4).locator("a")
    expect(links).to_have_text(["the docs", "https://example.org/auto", "https://example.org/bare"])
    for i, href in enumerate(["https://example.org/docs", "https://example.org/auto", "https://example.org/bare"]):
        expect(links.nth(i)).to_have_attribute("href", href)
        expect(links.nth(i)).to_have_attribute("rel", "noopener noreferrer")
        expect(links.nth(i)).to_have_attribute("target", "_blank")
    expect(bubble(chat, 5).locator("br")).to_have_count(1)          # a plain message keeps its line breaks
    assert bubble(chat, 5).inner_text() == "line one\nline two"


def test_markdown_renders_as_elements_on_desktop(system, open_chat):
    b, alice, bob, conv = formatted_conversation(system, open_chat)
    check_formatting(b)
    post(alice, conv["id"], "m1", f"**@{bob.username}** see `@{bob.username}` and _@{bob.username}_")
    mentioned = bubble(b, len(FORMATTED))
    expect(mentioned.locator("strong .mention.self")).to_have_text(f"@{bob.username}")   # highlighted inside
    expect(mentioned.locator("em .mention.self")).to_have_text(f"@{bob.username}")
    expect(mentioned.locator("code .mention")).to_have_count(0)                          # code stays code
    b.screenshot("formatted")

    b.send("my own **strong** reply with `inline code`")             # the sender's echo and bubble too
    mine = b.page.locator("#messages li.msg.mine .text").last
    expect(mine.locator("strong")).to_have_text("strong")
    expect(mine.locator("code")).to_have_text("inline code")
    b.screenshot("formatted-mine")
    assert serious_violations(b.page, "#messages") == []

    previews = b.page.evaluate("""async (texts) => {
      const {plainText} = await import("/static/js/shared/markdown.js");
      return texts.map(plainText);
    }""", FORMATTED[:4] + ["[x](javascript:alert(1)) <b>hi</b>"])
    assert previews == ["bold and italic and code and gone", "def f(): return 1", "quoted words after the quote",
                        "one two first second", "[x](javascript:alert(1)) <b>hi</b>"]   # one line, no marker


def serious_violations(page, selector: str) -> list[str]:
    """axe-core's serious and critical findings on the messages' rendered text (run through the driver,
    outside the CSP)."""
    axe = (Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js").read_text()
    page.evaluate(axe)
    found = page.evaluate("async (s) => (await axe.run(s)).violations"
                          ".filter(v => ['serious', 'critical'].includes(v.impact))"
                          ".flatMap(v => v.nodes.map(n => v.id + ': ' + n.target.join(' ')))", selector)
    return [f for f in found if " > .text" in f]


def test_markdown_on_a_phone_in_french_keeps_the_layout(system, open_chat):
    b, *_ = formatted_conversation(system, open_chat, locale="fr-FR", phone=True)
    check_formatting(b)
    french = json.loads((WEB / "i18n" / "fr.json").read_text())
    expect(b.page.locator("#input")).to_have_attribute("placeholder", french["composer.placeholder"])
    wide = "```\n" + "x = " + "1 + " * 80 + "1\n```"
    b.send(wide)
    pre = b.page.locator("#messages li.msg.mine .text pre").last
    expect(pre).to_be_visible()
    sizes = pre.evaluate("el => [el.scrollWidth, el.clientWidth, el.getBoundingClientRect().right]")
    assert sizes[0] > sizes[1], "the long line scrolls inside the block"
    assert sizes[2] <= 375, "the block stays on the screen"
    assert b.page.evaluate("document.documentElement.scrollWidth") <= 375   # the page does not scroll sideways
    pre.focus()                                                            # reachable by keyboard to scroll it
    b.page.keyboard.press("ArrowRight")
    b.screenshot("formatted-phone")
    assert serious_violations(b.page, "#messages") == []


def test_markdown_payloads_show_as_text(system, open_chat):
    alice, bob = person(system, "alice"), person(system, "bob")
    _, conv = make_conversation(alice, bob, title="payloads")
    b = open_chat().sign_in(bob.username)
    remote: list[str] = []
    b.page.on("request", lambda r: remote.append(r.url) if "evil.test" in r.url else None)
    b.open_conversation("payloads")
    for i, text in enumerate(PAYLOADS):
        post(alice, conv["id"], f"x{i}", text)
    messages = b.page.locator("#messages li.msg:not(.system) .text")
    expect(messages).to_have_count(len(PAYLOADS))

    texts = messages.all_inner_texts()
    for text in PAYLOADS[:5] + [PAYLOADS[6], PAYLOADS[7]]:
        assert text in texts, text                      # exactly as typed: no tag, no link, no entity decoded
    assert "!pic" in texts                              # an image is never loaded: at most a plain link
    assert "<b>nested</b> and `unclosed" in texts       # code shows its tags as text; a lone backtick stays
    assert messages.nth(8).locator("strong em code").inner_text() == "<b>nested</b>"
    assert b.page.locator("#messages img, #messages script, #messages iframe, #messages b").count() == 0

    links = b.page.locator("#messages .text a")
    hrefs = links.evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert hrefs == ["http://evil.test/x.png", "https://example.org/ok", "mailto:someone@example.org"]
    for i in range(2):
        expect(links.nth(i)).to_have_attribute("rel", "noopener noreferrer")
        expect(links.nth(i)).to_have_attribute("target", "_blank")
    b.page.wait_for_timeout(300)    # an onerror would have fired by now; the fixture asserts no dialog opened
    assert remote == []
    b.screenshot("payloads")


def test_the_moderators_context_panel_renders_markdown_and_the_item_shows_it_raw(system, open_chat):
    from tests.browser.test_moderation import add_rule, dashboard, moderated, review

    admin, member, group, conv = moderated(system, "flagged-md")
    add_rule(admin, group["id"], "bazinga", "flag")
    m = dashboard(open_chat(locale="es-ES", phone=True).sign_in(admin.username))
    text = "**bazinga** said `twice`\n```\nbazinga()\n" + "x = 1 + " * 40 + "1\n```\n> <img src=x onerror=alert(1)>"
    post(member, conv["id"], "md1", text)
    item = review(m, "said `twice`")
    expect(item).to_be_visible()
    expect(item.locator(".review-text")).to_contain_text("**bazinga** said `twice`")   # the item: as typed
    item.locator("[data-action=context]").click()
    focus = item.locator(".context li.focus .context-text")
    expect(focus.locator("strong")).to_have_text("bazinga")
    expect(focus.locator("p code")).to_have_text("twice")
    expect(focus.locator("pre code")).to_contain_text("bazinga()")
    expect(focus.locator("blockquote")).to_have_text("<img src=x onerror=alert(1)>")
    assert m.page.locator("#queue-list img").count() == 0
    assert m.page.evaluate("document.documentElement.scrollWidth") <= 375   # the code block scrolls instead
    m.screenshot("context-markdown")
