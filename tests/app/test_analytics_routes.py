"""The analytics routes (contract v3): the report's shape, who may read it (the exports rule: group admins
for their groups, system admins), each bad query refused with its own code, the CSV of the days, the rebuild."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from app.auth import issue_token
from app.web import create_app
from infra.config import Settings, get_settings, use_settings
from infra.runtime import get_runtime
from pipelines.analytics.rollup import do_rollup
from schemas.common import new_id, utcnow
from tests.conftest import make_conversation, make_user
from tests.pipelines.exports.world import insert_message


@pytest.fixture
def world():
    before = get_settings()
    try:
        client = create_app(Settings(redis_url="redis://127.0.0.1:1/0")).test_client()  # never connected here
        store = get_runtime().store
        store.ensure_indexes()
        tag = new_id()[-6:]
        admin, bob, carol = (make_user(store, f"{n}-{tag}") for n in ("admin", "bob", "carol"))
        conv = make_conversation(store, [admin, bob])          # admin is the group's admin, bob a member
        other = make_conversation(store, [carol, bob])         # carol administers another group
        root = make_user(store, f"root-{tag}", role="ADMIN")
        for seq, who in enumerate([admin, bob, bob, admin, bob], 1):
            insert_message(store, conv, seq, who, f"m{seq}")
        do_rollup(store, utcnow() + timedelta(minutes=1))
        yield {"client": client, "store": store, "conv": conv, "other": other, "admin": admin, "bob": bob,
               "carol": carol, "root": root}
    finally:
        use_settings(before)


def _get(world, who, path):
    return world["client"].get(path, headers={"Authorization": f"Bearer {issue_token(world[who])}"})


def test_a_group_admin_reads_the_report_of_their_conversation_and_group(world):
    conv, today = world["conv"], utcnow().date()
    for path in (f"/api/conversations/{conv.id}/analytics?tz=Europe/Paris",
                 f"/api/groups/{conv.groupId}/analytics?tz=Europe/Paris"):
        r = _get(world, "admin", path)
        assert r.status_code == 200, r.json
        body = r.json
        assert list(body) == ["range", "days", "totals", "firstResponse", "heatmap", "topPosters"]
        assert body["range"] == {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat(),
                                 "days": 30, "timeZone": "Europe/Paris"}
        assert len(body["days"]) == 30 and body["days"][-1]["date"] == today.isoformat()
        assert set(body["days"][0]) == {"date", "messages", "activeMembers", "media"}
        assert body["totals"] == {"messages": 5, "activeMembers": 2, "media": 0, "exports": 0}
        assert sum(d["messages"] for d in body["days"]) == 5
        # 1 answered by 2 (1 s later), 2 and 3 by 4 (2 s, 1 s), 4 by 5 (1 s); 5 by nobody yet.
        assert body["firstResponse"] == {"medianSeconds": 1.0, "p90Seconds": 2, "samples": 4}
        assert len(body["heatmap"]) == 7 and all(len(row) == 24 for row in body["heatmap"])
        assert sum(map(sum, body["heatmap"])) == 5
        assert body["topPosters"][0] == {"userId": world["bob"].id, "username": world["bob"].username, "messages": 3}


def test_only_the_groups_admins_and_system_admins_may_read(world):
    conv = world["conv"]
    for path in (f"/api/conversations/{conv.id}/analytics", f"/api/groups/{conv.groupId}/analytics",
                 f"/api/conversations/{conv.id}/analytics.csv", f"/api/groups/{conv.groupId}/analytics.csv"):
        assert _get(world, "bob", path).json["error"]["code"] == "forbidden"
        assert _get(world, "carol", path).status_code == 403
        assert _get(world, "root", path).status_code == 200
        assert world["client"].get(path).status_code == 401
    assert _get(world, "admin", "/api/conversations/nope/analytics").status_code == 404
    assert _get(world, "admin", "/api/groups/nope/analytics").status_code == 404
    # An admin of another group only: carol reads her own group, not this one.
    assert _get(world, "carol", f"/api/groups/{world['other'].groupId}/analytics").status_code == 200


def test_a_member_promoted_to_group_admin_may_read(world):
    store, conv = world["store"], world["conv"]
    store.groups.set_group_role(conv.groupId, world["bob"].id, "GROUP_ADMIN")
    assert _get(world, "bob", f"/api/groups/{conv.groupId}/analytics").status_code == 200


@pytest.mark.parametrize("query, code", [
    ("from=2026-02-30", "invalid_range"), ("to=yesterday", "invalid_range"), ("from=2026-1-01", "invalid_range"),
    ("from=2026-03-02&to=2026-03-01", "invalid_range"), ("from=2025-01-01&to=2026-01-03", "range_too_long"),
    ("tz=Mars/Olympus", "invalid_timezone"), ("tz=../etc/passwd", "invalid_timezone"), ("page=2", "invalid_payload")])
def test_bad_queries_are_refused_with_their_own_code(world, query, code):
    for path in (f"/api/groups/{world['conv'].groupId}/analytics", f"/api/conversations/{world['conv'].id}/analytics.csv"):
        r = _get(world, "admin", f"{path}?{query}")
        assert (r.status_code, r.json["error"]["code"]) == (400, code)


def test_366_days_apart_is_the_longest_period(world):
    r = _get(world, "admin", f"/api/groups/{world['conv'].groupId}/analytics?from=2025-01-01&to=2026-01-02")
    assert r.status_code == 200 and len(r.json["days"]) == 367


def test_the_csv_is_the_days_table(world):
    conv, today = world["conv"], utcnow().date()
    path = f"/api/conversations/{conv.id}/analytics.csv?from={(today - timedelta(days=2)).isoformat()}"
    r = _get(world, "admin", path)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == \
        f'attachment; filename="analytics-general-{(today - timedelta(days=2)).isoformat()}-{today.isoformat()}.csv"'
    rows = list(csv.reader(io.StringIO(r.data.decode())))
    assert rows == [["date", "messages", "activeMembers", "media"],
                    [(today - timedelta(days=2)).isoformat(), "0", "0", "0"],
                    [(today - timedelta(days=1)).isoformat(), "0", "0", "0"],
                    [today.isoformat(), "5", "2", "0"]]


def test_the_rebuild_is_for_system_admins(world):
    client = world["client"]
    assert client.post("/api/analytics/rebuild",
                       headers={"Authorization": f"Bearer {issue_token(world['admin'])}"}).status_code == 403
    r = client.post("/api/analytics/rebuild", headers={"Authorization": f"Bearer {issue_token(world['root'])}"})
    assert r.status_code == 200 and r.json["messages"] >= 5
    assert _get(world, "admin", f"/api/conversations/{world['conv'].id}/analytics").json["totals"]["messages"] == 5
