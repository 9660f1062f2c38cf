"""The figures of a period for a conversation or a group (contract v3), read from the daily roll-ups only:
who may read them (the exports rule), the JSON report, and the ``days`` table as CSV."""
from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from infra.storage import Store
from pipelines.exports.files import ExportSettings
from pipelines.exports.requests import export_scope
from pipelines.policy.access import log_denied
from schemas.documents import AnalyticsDay, Conversation, Group, User
from schemas.errors import ApiError, Code
from schemas.payloads import AnalyticsQuery

TOP_POSTERS = 10
DAYS_COLUMNS = ("date", "messages", "activeMembers", "media")


def _admin_scope(store: Store, user: User, settings: ExportSettings, conv: Conversation | None = None):
    # The exports rule without its members' option: analytics are for group admins and system admins.
    return export_scope(store, user, replace(settings, for_members=False), conv)


def check_may_read_conversation(store: Store, user: User, conv_id: str, settings: ExportSettings) -> Conversation:
    """The conversation's group admins and system admins (403 for anyone else, 404 for no conversation)."""
    conv = store.conversations.get_conversation(conv_id)
    if conv is None:
        raise ApiError(Code.NOT_FOUND, f"no conversation {conv_id}")
    if _admin_scope(store, user, settings, conv).allows(conv):
        return conv
    log_denied(store, user, "conversation", conv_id, "analytics without an admin role")
    raise ApiError(Code.FORBIDDEN, "only the group's admins can see this conversation's analytics")


def check_may_read_group(store: Store, user: User, group_id: str, settings: ExportSettings) -> Group:
    """The group's admins and system admins (403 for anyone else, 404 for no group)."""
    group = store.groups.get_group(group_id)
    if group is None:
        raise ApiError(Code.NOT_FOUND, f"no group {group_id}")
    scope = _admin_scope(store, user, settings)
    if scope.everything or group_id in scope.groups:
        return group
    log_denied(store, user, "group", group_id, "analytics without an admin role")
    raise ApiError(Code.FORBIDDEN, "only the group's admins can see its analytics")


def check_may_rebuild(store: Store, user: User) -> None:
    """System admins only: a rebuild reads every message."""
    if user.role != "ADMIN":
        log_denied(store, user, "analytics", "rebuild", "rebuild without the system admin role")
        raise ApiError(Code.FORBIDDEN, "only system admins can rebuild the analytics")


def caller_zone(query: AnalyticsQuery, user: User) -> str:
    """``tz`` when given, else the user's profile time zone when they have one, else UTC."""
    return query.tz or getattr(user, "timeZone", None) or "UTC"


def _percentile(samples: list[int], fraction: float) -> int | None:
    """Nearest rank: the smallest sample with at least ``fraction`` of them at or below it."""
    if not samples:
        return None
    return samples[max(0, math.ceil(fraction * len(samples)) - 1)]


def _median(samples: list[int]) -> float | None:
    if not samples:
        return None
    mid = len(samples) // 2
    return float(samples[mid]) if len(samples) % 2 else (samples[mid - 1] + samples[mid]) / 2


def heatmap(days: Iterable[AnalyticsDay], zone: ZoneInfo) -> list[list[int]]:
    """7 rows (Monday first) of 24 hours in ``zone``: each UTC hour's count goes to the local weekday and
    hour that hour starts in (exact for whole-hour offsets, DST included; a zone at a half-hour offset
    moves each hour's count by that half hour). The conversations' hours are summed by date first, so a
    group's year costs 366 × 24 conversions, whatever its number of conversations."""
    by_date: dict[str, list[int]] = {}
    for day in days:
        hours = by_date.setdefault(day.date, [0] * 24)
        for hour, count in enumerate(day.hours):
            hours[hour] += count
    grid = [[0] * 24 for _ in range(7)]
    for key, hours in by_date.items():
        start = datetime.fromisoformat(key).replace(tzinfo=timezone.utc)
        for hour, count in enumerate(hours):
            if count:
                local = (start + timedelta(hours=hour)).astimezone(zone)
                grid[local.weekday()][local.hour] += count
    return grid


def _dates(start: date, end: date) -> list[str]:
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def build_report(store: Store, days: list[AnalyticsDay], query: AnalyticsQuery, zone_name: str) -> dict:
    """The contract's report from the period's roll-up documents (a group's: all its conversations')."""
    by_date: dict[str, list[AnalyticsDay]] = {}
    for day in days:
        by_date.setdefault(day.date, []).append(day)
    table = []
    for key in _dates(query.start, query.end):
        group = by_date.get(key, [])
        table.append({"date": key, "messages": sum(d.messages for d in group),
                      "activeMembers": len({s for d in group for s in d.senders}),
                      "media": sum(d.media for d in group)})
    senders: Counter[str] = Counter()
    for day in days:
        senders.update(day.senders)
    samples = sorted(t for d in days for t in d.responses)
    top = sorted(senders.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_POSTERS]
    users = store.users.users_by_ids([uid for uid, _ in top])
    return {
        "range": {"from": query.start.isoformat(), "to": query.end.isoformat(), "days": len(table),
                  "timeZone": zone_name},
        "days": table,
        "totals": {"messages": sum(d.messages for d in days), "activeMembers": len(senders),
                   "media": sum(d.media for d in days), "exports": sum(d.exports for d in days)},
        "firstResponse": {"medianSeconds": _median(samples), "p90Seconds": _percentile(samples, 0.9),
                          "samples": len(samples)},
        "heatmap": heatmap(days, ZoneInfo(zone_name)),
        "topPosters": [{"userId": uid, "username": users[uid].username if uid in users else None, "messages": n}
                       for uid, n in top],
    }


def conversation_report(store: Store, user: User, conv_id: str, query: AnalyticsQuery,
                        settings: ExportSettings) -> tuple[dict, str]:
    """The report and a name for its file."""
    conv = check_may_read_conversation(store, user, conv_id, settings)
    days = store.analytics.days_of_conversation(conv.id, query.start.isoformat(), query.end.isoformat())
    return build_report(store, days, query, caller_zone(query, user)), conv.title


def group_report(store: Store, user: User, group_id: str, query: AnalyticsQuery,
                 settings: ExportSettings) -> tuple[dict, str]:
    group = check_may_read_group(store, user, group_id, settings)
    days = store.analytics.days_of_group(group.id, query.start.isoformat(), query.end.isoformat())
    return build_report(store, days, query, caller_zone(query, user)), group.name


def render_days_csv(report: dict) -> str:
    """The ``days`` table: a header, then one row per day (numbers and dates only: nothing a spreadsheet
    could take for a formula)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(DAYS_COLUMNS)
    for row in report["days"]:
        writer.writerow([row[c] for c in DAYS_COLUMNS])
    return out.getvalue()


def csv_filename(name: str, query: AnalyticsQuery) -> str:
    """analytics-<name>-<from>-<to>.csv, with only letters, digits and dashes from the name."""
    safe = "".join(c if c.isascii() and c.isalnum() else "-" for c in name).strip("-")[:40] or "analytics"
    return f"analytics-{safe}-{query.start.isoformat()}-{query.end.isoformat()}.csv"
