"""The content filter on the message path: this process's compiled rules per group (FilterCache), what the
drain needs of moderation (Screening), and what a text would get (do_test_filter)."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from infra.storage import Store
from pipelines.moderation.filters import Rule, RuleSet, Verdict, check_pattern, compile_rules, normalize
from pipelines.policy.access import check_group_moderator
from schemas.documents import User
from schemas.errors import ApiError
from schemas.payloads import FilterTest
from schemas.tasks import FilterHit, ReviewRequest

log = logging.getLogger(__name__)

MAX_RULES_PER_GROUP = 1000


def enabled_rules(store: Store, group_id: str) -> list[Rule]:
    return [Rule(id=r.id, kind=r.kind, pattern=r.pattern, action=r.action)
            for r in store.moderation.filter_rules_of(group_id, limit=MAX_RULES_PER_GROUP) if r.enabled]


def hits_of(verdict: Verdict) -> list[FilterHit]:
    return [FilterHit(filterId=h.rule_id, kind=h.kind, action=h.action, start=h.start, end=h.end, match=h.match)
            for h in verdict.hits]


def do_test_filter(store: Store, user: User, group_id: str, request: FilterTest) -> dict[str, Any]:
    """The group's enabled rules, and the candidate rule if given (its hits have ``filterId: null``), on a
    sample text: what a message with that text would get, and whether it would open a review item."""
    check_group_moderator(store, user, group_id)
    rules = enabled_rules(store, group_id)
    if request.rule is not None:
        candidate = request.rule
        rules.append(Rule(id=None, kind=candidate.kind, pattern=check_pattern(candidate.kind, candidate.pattern),
                          action=candidate.action))
    settings = store.moderation.group_moderation_of(group_id)
    verdict = compile_rules(rules, settings.allowlist, settings.reviewMasks).scan(request.text)
    return {"action": verdict.action, "hits": [h.model_dump() for h in hits_of(verdict)],
            "masked": verdict.masked, "review": verdict.review, "normalized": normalize(request.text)}


class FilterCache:
    """This process's compiled rules, per group. The drain asks once per batch of entries (after claiming
    them): one point read of the group's ``rulesVersion`` says whether the compiled rules are current, so a
    rule change applies to the very next batch on every worker process, without a restart or a stale
    window. Compiling happens only when the version moved."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._compiled: dict[str, tuple[int, RuleSet | None]] = {}
        self._lock = threading.Lock()  # worker threads share the cache

    def rules_for(self, group_id: str) -> RuleSet | None:
        """None when the group has no enabled rule: the message path then skips the filter entirely."""
        version = self.store.moderation.rules_version(group_id)
        cached = self._compiled.get(group_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        # The version was read before the rules: a change landing in between is compiled now and seen as a
        # new version at the next batch, never missed.
        rules = enabled_rules(self.store, group_id)
        settings = self.store.moderation.group_moderation_of(group_id)
        while True:
            try:
                ruleset = compile_rules(rules, settings.allowlist, settings.reviewMasks) if rules else None
                break
            except ApiError as exc:  # saved rules were checked; one written by other means must not stop the group
                bad = (exc.details or {}).get("ruleId")
                log.error("group %s: filter rule %s skipped: %s", group_id, bad, exc.message)
                if bad is None:
                    raise
                rules = [r for r in rules if r.id != bad]
        with self._lock:
            self._compiled[group_id] = (version, ruleset)
        return ruleset


@dataclass
class Screening:
    """What the message path needs of moderation, its I/O passed in: this process's compiled rules, and
    the moderation queue (review items and blocked-message records are made there)."""
    cache: FilterCache
    open_reviews: Callable[[list[ReviewRequest]], None]      # one task for a drain batch's review requests
    record_block: Callable[[str, str, str, str, str], None]  # (groupId, convId, senderId, clientId, match)


def blocked_reason(verdict: Verdict) -> str:
    """What the sender of a blocked message is told, in words a user understands."""
    blocking = [h for h in verdict.hits if h.action == "block"]
    what = {"word": "the word", "regex": "the text", "link": "the link"}[blocking[0].kind]
    return f"Your message was not sent: {what} “{blocking[0].match}” is not allowed in this group."
