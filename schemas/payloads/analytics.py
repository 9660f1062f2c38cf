"""Analytics (contract v3): the period and time zone of GET /api/{groups,conversations}/{id}/analytics[.csv]."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.errors import ApiError, Code
from schemas.payloads.base import check_params

ANALYTICS_MAX_DAYS = 366      # to - from, at most
ANALYTICS_DEFAULT_DAYS = 30   # the period when ``from`` is left out: the 30 days up to ``to``


@dataclass(frozen=True)
class AnalyticsQuery:
    """``start``..``end`` inclusive (UTC days); ``tz`` the zone asked for (None: the caller's default)."""
    start: date
    end: date
    tz: str | None


def _date(args: Mapping[str, str], name: str) -> date | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(Code.INVALID_RANGE, f"{name} must be a date (YYYY-MM-DD), got {raw!r}") from None


def check_time_zone(raw: str) -> str:
    """An IANA zone name that zoneinfo knows; ``invalid_timezone`` otherwise."""
    try:
        if not raw or len(raw) > 64 or raw.startswith("/") or ".." in raw:
            raise ValueError
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(Code.INVALID_TIMEZONE, f"tz must be an IANA time zone name such as Europe/Paris, "
                                              f"got {raw!r}") from None
    return raw


def parse_analytics_query(args: Mapping[str, str], today: date) -> AnalyticsQuery:
    """?from=&to=&tz= -> a query, or invalid_range (not a date, from after to), range_too_long (over 366
    days apart) or invalid_timezone. ``to`` defaults to ``today``, ``from`` to 29 days before ``to``."""
    check_params(args, {"from", "to", "tz"})
    end = _date(args, "to") or today
    start = _date(args, "from") or end - timedelta(days=ANALYTICS_DEFAULT_DAYS - 1)
    if start > end:
        raise ApiError(Code.INVALID_RANGE, f"from ({start}) is after to ({end})")
    if (end - start).days > ANALYTICS_MAX_DAYS:
        raise ApiError(Code.RANGE_TOO_LONG, f"from and to are {(end - start).days} days apart; at most "
                                            f"{ANALYTICS_MAX_DAYS}", {"days": (end - start).days,
                                                                      "limit": ANALYTICS_MAX_DAYS})
    tz = args.get("tz")
    return AnalyticsQuery(start=start, end=end, tz=check_time_zone(tz) if tz else None)
