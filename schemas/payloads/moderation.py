"""Moderation (contract v2): filters, settings, reports, reviews, mutes, bans, roles, and the review queue's query."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StringConstraints

from schemas.common import Username
from schemas.documents import AutoMute, FilterAction, FilterKind
from schemas.errors import ApiError, Code
from schemas.payloads.base import IdPage, Payload, parse_id_page

# Patterns are not bounded here: check_pattern (pipelines.moderation.filters) refuses what is too long or
# does not compile with a reason a moderator can act on (invalid_pattern); the body limit bounds the rest.
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
AllowWord = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
MINUTES_MAX = 525_600  # a year


class FilterCreate(Payload):
    kind: FilterKind
    pattern: str
    action: FilterAction
    enabled: bool = True


class FilterUpdate(Payload):
    """PATCH: the fields given change."""
    kind: FilterKind | None = None
    pattern: str | None = None
    action: FilterAction | None = None
    enabled: bool | None = None


class FilterCandidate(Payload):
    kind: FilterKind
    pattern: str
    action: FilterAction = "flag"


class FilterTest(Payload):
    """POST /api/groups/{id}/filters/test: the group's rules (and a candidate rule) on a sample text."""
    text: str = Field(max_length=10_000)
    rule: FilterCandidate | None = None


class ModerationSettingsUpdate(Payload):
    """PATCH: the fields given change."""
    allowlist: list[AllowWord] | None = Field(None, max_length=500)
    autoMute: AutoMute | None = None
    reviewMasks: StrictBool | None = None   # true or false, not "yes" or 1


class ReportCreate(Payload):
    reason: Reason


class ReviewDecision(Payload):
    decision: Literal["approve", "reject", "dismiss", "delete"]
    note: Note | None = None


class MuteCreate(Payload):
    username: Username
    minutes: int = Field(ge=1, le=MINUTES_MAX)
    reason: Reason


class BanCreate(Payload):
    username: Username
    reason: Reason
    minutes: int | None = Field(None, ge=1, le=MINUTES_MAX)  # None: until lifted


class RoleChange(Payload):
    role: Literal["GROUP_ADMIN", "MODERATOR", "MEMBER"]


REVIEW_STATUSES = ("pending", "approved", "rejected", "dismissed", "deleted")
REVIEW_KINDS = ("filter", "report", "held")


@dataclass(frozen=True)
class ReviewQuery:
    statuses: tuple[str, ...]
    kind: str | None
    page: IdPage


def parse_review_query(args: Mapping[str, str]) -> ReviewQuery:
    """?status=pending|approved|rejected|dismissed|deleted|decided|all&kind=filter|report|held&before=&limit="""
    page = parse_id_page(args, {"status", "kind"})
    status = args.get("status") or "pending"
    statuses = {"decided": REVIEW_STATUSES[1:], "all": REVIEW_STATUSES}.get(status, (status,))
    if not set(statuses) <= set(REVIEW_STATUSES):
        raise ApiError(Code.INVALID_PAYLOAD, f"status must be one of {', '.join(REVIEW_STATUSES)}, decided or all, "
                                             f"got {status!r}")
    kind = args.get("kind") or None
    if kind is not None and kind not in REVIEW_KINDS:
        raise ApiError(Code.INVALID_PAYLOAD, f"kind must be one of {', '.join(REVIEW_KINDS)}, got {kind!r}")
    return ReviewQuery(statuses=statuses, kind=kind, page=page)
