"""The moderator dashboard (/moderation) and the chat page's side of moderation: a flagged message reaches
the queue live with its match highlighted; a held one waits, is approved in one click and is delivered;
a non-moderator is refused; the filter editor tests rules as one types and explains a bad pattern; a mute
counts down and can be lifted."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat import ChatPage
from tests.browser.conftest import person
from tests.e2e.harness import make_conversation, wait_until

pytestmark = pytest.mark.browser


def moderated(system, title: str):
    """A group admin (who moderates) and a member, in one conversation."""
    admin, member = person(system, "alice"), person(system, "bob")
    group, conv = make_conversation(admin, member, title=title)
    return admin, member, group, conv


def add_rule(api, group_id: str, pattern: str, action: str, kind: str = "word") -> dict:
    return api.ok("POST", f"/api/groups/{group_id}/filters", json={"kind": kind, "pattern": pattern, "action": action})


def dashboard(chat: ChatPage) -> ChatPage:
    """From the chat page, the way a moderator gets there: the Moderation link (same tab, same session)."""
    chat.page.click("#moderation-link")
    expect(chat.page.locator("#mod")).to_be_visible()
    expect(chat.page.locator("#live")).to_have_attribute("data-mode", "live")   # in mod:{groupId}
    return chat


def review(chat: ChatPage, text: str):
    return chat.page.locator("#queue-list li.review", has=chat.page.locator(".review-text", has_text=text))


def test_a_flagged_message_appears_live_in_the_queue_with_its_match_highlighted(system, open_chat):
    admin, member, group, _ = moderated(system, "flags")
    add_rule(admin, group["id"], "bazinga", "flag")
    m = dashboard(open_chat().sign_in(admin.username))
    expect(m.page.locator("#queue-list")).to_contain_text("Nothing to review")
    b = open_chat().sign_in(member.username).open_conversation("flags")

    b.send("well, Bazinga to you too")
    expect(b.message("well, Bazinga to you too")).to_be_visible()   # flag delivers
    item = review(m, "well, Bazinga to you too")
    expect(item).to_be_visible()                                    # no reload: moderation:flagged
    expect(item.locator("mark.hit")).to_have_text("Bazinga")
    expect(item.locator(".kind")).to_have_text("Filter")
    expect(item.locator(".review-where")).to_contain_text(member.username)
    expect(item.locator(".review-where")).to_contain_text("#flags")
    expect(m.page.locator("#queue-count")).to_have_text("1")

    item.locator("[data-action=context]").click()                   # the message among its neighbours
    expect(item.locator(".context li.focus")).to_contain_text("well, Bazinga to you too")
    m.screenshot("queue")
    b.screenshot("flagged-delivered")


def test_a_held_message_waits_and_is_delivered_once_approved(system, open_chat):
    admin, member, group, conv = moderated(system, "held")
    add_rule(admin, group["id"], "secretword", "hold")
    m = dashboard(open_chat(phone=True).sign_in(admin.username))
    b = open_chat().sign_in(member.username).open_conversation("held")

    b.send("the secretword is swordfish")
    echo = b.echoes()
    expect(echo).to_contain_text("Held for review")
    expect(echo.locator("[data-action=retry]")).to_have_count(0)   # not failed, nothing to retry
    client_id = echo.get_attribute("data-client-id")
    assert not [x for x in member.chat(conv["id"]) if "secretword" in x["content"]]   # not delivered yet
    b.screenshot("held")

    item = review(m, "the secretword is swordfish")
    expect(item.locator(".kind")).to_have_text("Held")
    m.screenshot("held-phone")
    item.get_by_role("button", name="Approve and deliver").click()
    expect(item.locator(".decided")).to_contain_text("Approved by you")

    delivered = b.message("the secretword is swordfish")
    expect(delivered).to_be_visible()
    expect(b.echoes()).to_have_count(0)
    stored = wait_until(lambda: [x for x in member.chat(conv["id"]) if x["clientId"] == client_id],
                        what="the approved message in the history")
    assert len(stored) == 1 and stored[0]["content"] == "the secretword is swordfish"
    assert int(delivered.get_attribute("data-seq")) == stored[0]["seq"]
    expect(item).to_have_count(0)   # it leaves the pending queue by itself
    b.screenshot("approved")


def test_a_flagged_display_name_reaches_the_queue_as_a_text_to_keep_or_dismiss(system, open_chat):
    """The write gate screens texts that are not messages: a flagged name is a ``text`` item, without a
    conversation to show, decided with Keep or Dismiss."""
    admin, member, group, _ = moderated(system, "names")
    add_rule(admin, group["id"], "kapow", "flag")
    m = dashboard(open_chat().sign_in(admin.username))
    member.ok("PATCH", "/api/me", json={"fname": "Captain Kapow"})
    item = review(m, "Captain Kapow")
    expect(item.locator(".kind")).to_have_text("Text")
    expect(item.locator("mark.hit")).to_have_text("Kapow")
    expect(item.locator("[data-action=context]")).to_have_count(0)
    expect(item.locator("button[data-decision]")).to_have_count(2)
    item.get_by_role("button", name="Dismiss").click()
    expect(item.locator(".decided")).to_contain_text("Dismissed by you")


def test_a_rejected_held_message_is_marked_failed_with_the_reason(system, open_chat):
    admin, member, group, _ = moderated(system, "rejects")
    add_rule(admin, group["id"], "forbidden*", "hold")
    m = dashboard(open_chat().sign_in(admin.username))
    b = open_chat().sign_in(member.username).open_conversation("rejects")
    b.send("forbiddenfruit for all")
    expect(b.echoes()).to_contain_text("Held for review")
    item = review(m, "forbiddenfruit for all")
    item.locator("input.note").fill("off topic")
    item.locator("[data-decision=reject]").click()
    expect(b.echoes()).to_contain_text("a moderator rejected it")
    expect(b.echoes()).to_have_class(re.compile(r"\bfailed\b"))


def test_someone_who_moderates_nothing_is_refused_and_sees_nothing(system, open_chat):
    _, member, _, _ = moderated(system, "nothing")
    c = open_chat(locale="fr-FR").sign_in(member.username)
    expect(c.page.locator("#conv-list")).to_contain_text("nothing")
    expect(c.page.locator("#moderation-link")).to_be_hidden()       # no link for a plain member
    assert member.call("GET", "/api/moderation/groups").status_code in (200, 403)
    c.page.goto("/moderation")
    expect(c.page.locator("#gate-title")).to_have_text("Vous n'êtes pas modérateur")
    expect(c.page.locator("#mod")).to_be_hidden()
    expect(c.page.locator("li.review, li.rule, li.entry")).to_have_count(0)
    c.screenshot("refused")

    signed_out = open_chat()
    signed_out.page.goto("/moderation")
    expect(signed_out.page.locator("#gate-title")).to_have_text("You are signed out")
    expect(signed_out.page.locator("#gate a[href='/']")).to_be_visible()


def test_the_filter_editor_tests_rules_as_one_types_and_explains_a_bad_pattern(system, open_chat):
    admin, _, group, _ = moderated(system, "filters")
    m = dashboard(open_chat().sign_in(admin.username))
    page = m.page
    page.click("#tabs a[data-tab=filters]")
    expect(page.locator("#filter-list")).to_contain_text("No rule yet")

    form = page.locator("#filter-new form")
    form.locator("select[name=kind]").select_option("word")
    form.locator("input[name=pattern]").fill("wombat*")
    form.locator("select[name=action]").select_option("block")
    form.get_by_role("button", name="Create").click()
    rule = page.locator("#filter-list li.rule", has=page.locator("code.pattern", has_text="wombat*"))
    expect(rule).to_be_visible()
    assert [r["pattern"] for r in admin.ok("GET", f"/api/groups/{group['id']}/filters")["filters"]] == ["wombat*"]

    page.fill("#sample", "my wombats are cute")
    result = page.locator("#filter-test .test-result")
    expect(result.locator("mark.hit")).to_have_text("wombats")
    expect(result.locator(".verdict")).to_have_text("It would be blocked.")
    page.fill("#sample", "my cat is cute")
    expect(result.locator(".verdict")).to_have_text("Nothing matches: it would be delivered as it is.")

    bad = {"kind": "regex", "pattern": "(?<=a)b", "action": "flag"}
    r = admin.call("POST", f"/api/groups/{group['id']}/filters", json=bad)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_pattern"
    form.locator("select[name=kind]").select_option("regex")
    form.locator("input[name=pattern]").fill(bad["pattern"])
    form.get_by_role("button", name="Create").click()
    expect(form.locator(".form-error")).to_have_text(r.json()["error"]["message"])   # the server's why
    expect(page.locator("#filter-list li.rule")).to_have_count(1)
    m.screenshot("filters")


def test_a_mute_counts_down_reaches_the_member_and_can_be_lifted(system, open_chat):
    admin, member, group, _ = moderated(system, "mutes")
    m = dashboard(open_chat().sign_in(admin.username))
    b = open_chat().sign_in(member.username).open_conversation("mutes")
    page = m.page
    page.click("#tabs a[data-tab=sanctions]")
    form = page.locator("#mutes form")
    form.locator("input[name=username]").fill(member.username)
    form.locator("input[name=minutes]").fill("5")
    form.locator("input[name=reason]").fill("cool down")
    form.get_by_role("button", name="Mute").click()
    row = page.locator("#mutes li.sanction", has_text=member.username)
    expect(row.locator(".left")).to_have_text(re.compile(r"^[45] min left$"))
    expect(row).to_contain_text("cool down")

    expect(b.page.locator("#sanctions")).to_contain_text("You are muted")   # moderation:muted
    # The composer says so and takes nothing (a send cannot fail: test_sanction_state.py has the details).
    expect(b.page.locator("#composer-blocked")).to_contain_text("Muted by a moderator for")
    expect(b.page.locator("#input")).to_be_disabled()
    m.screenshot("mutes")
    b.screenshot("muted")

    form.locator("input[name=username]").fill("nobody-like-this")
    form.locator("input[name=minutes]").fill("5")
    form.locator("input[name=reason]").fill("x")
    form.get_by_role("button", name="Mute").click()
    expect(form.locator(".form-error")).not_to_be_empty()          # unknown user: said, not thrown

    row.get_by_role("button", name="Lift").click()
    expect(row).to_have_count(0)
    assert admin.ok("GET", f"/api/groups/{group['id']}/mutes")["mutes"] == []
    expect(page.locator("#mutes")).to_contain_text("Nobody is muted.")
    expect(b.page.locator("#sanctions")).to_be_hidden()             # moderation:lifted
    expect(b.page.locator("#input")).to_be_enabled()
