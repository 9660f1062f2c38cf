"""The moderator dashboard says why an action is refused by authority: a moderator muting the group's admin
(outranked) or themselves (self_sanction) reads it in their language, and nothing is muted."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import person
from tests.browser.test_moderation import dashboard
from tests.e2e.harness import make_conversation

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("locale, outranked, self_sanction", [
    ("en-US", "this person outranks you", "you cannot do this to yourself"),
    ("fr-FR", "cette personne a un rang supérieur au vôtre", "vous ne pouvez pas le faire pour vous-même"),
])
def test_a_moderator_is_told_who_they_cannot_mute(system, open_chat, locale, outranked, self_sanction):
    admin, moderator = person(system, "alice"), person(system, "carol")
    group, _ = make_conversation(admin, moderator, title="authority")
    admin.ok("PATCH", f"/api/groups/{group['id']}/members/{moderator.id}", json={"role": "MODERATOR"})
    page = dashboard(open_chat(locale=locale).sign_in(moderator.username)).page
    page.click("#tabs a[data-tab=sanctions]")
    form = page.locator("#mutes form")
    for username, said in ((admin.username, outranked), (moderator.username, self_sanction)):
        form.locator("input[name=username]").fill(username)
        form.locator("input[name=minutes]").fill("5")
        form.locator("input[name=reason]").fill("x")
        form.locator("button[type=submit]").click()
        expect(form.locator(".form-error")).to_contain_text(said)
    assert admin.ok("GET", f"/api/groups/{group['id']}/mutes")["mutes"] == []
