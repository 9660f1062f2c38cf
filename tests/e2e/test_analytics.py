"""Analytics end to end: the real server's beat rolls up what was sent (ANALYTICS_ROLLUP_EVERY_SECONDS),
the routes read it back for the group's admin and refuse a member."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.e2e.harness import Api, make_conversation, own_system, wait_until

pytestmark = pytest.mark.e2e


def test_beat_rolls_up_the_sends_and_the_group_admin_reads_them():
    with own_system(ANALYTICS_ROLLUP_EVERY_SECONDS="1") as system:
        alice, bob = Api(system), Api(system)
        group, conv = make_conversation(alice, bob)
        for i, who in enumerate([alice, bob, bob, alice, bob]):
            who.ok("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": f"a{i}", "content": f"m{i}"})
        wait_until(lambda: len(alice.chat(conv["id"])) == 5, what="the five messages stored")
        path = f"/api/groups/{group['id']}/analytics?tz=Europe/Paris"
        report = wait_until(lambda: (r := alice.ok("GET", path))["totals"]["messages"] == 5 and r,
                            timeout=20, what="beat's roll-up of the five messages")
        today = datetime.now(timezone.utc).date().isoformat()
        assert report["days"][-1] == {"date": today, "messages": 5, "activeMembers": 2, "media": 0}
        assert report["totals"]["activeMembers"] == 2 and report["firstResponse"]["samples"] == 4
        assert [p["username"] for p in report["topPosters"]] == [bob.username, alice.username]
        assert bob.call("GET", path).status_code == 403
        csv_text = alice.call("GET", f"/api/conversations/{conv['id']}/analytics.csv").text
        assert csv_text.splitlines()[-1] == f"{today},5,2,0"
