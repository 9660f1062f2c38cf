"""A mentioned member hears of it in their own room, even without subscribing to the conversation."""
from __future__ import annotations

import time

import pytest

from tests.e2e.harness import two_members_and_an_outsider

pytestmark = pytest.mark.e2e


def test_mention_reaches_an_unsubscribed_member_and_no_outsider(system, clients):
    alice, bob, carol, conv, a, b, c = two_members_and_an_outsider(system, clients)
    b.call("conv:unsubscribe", {"convId": conv["id"]})
    a.call("message:send", {"convId": conv["id"], "clientId": "m1",
                            "content": f"@{bob.username} and @{carol.username}, look"})
    [mention] = b.wait_for("mention:new")
    assert mention["clientId"] == "m1" and mention["metadata"]["mentions"] == [bob.id]
    time.sleep(0.3)
    assert c.got("mention:new") == [] and a.got("mention:new") == []
    assert b.got("message:new") == []  # unsubscribed: only the mention reached bob
