"""A group's filter rules and moderation settings, as its moderators manage them; every change bumps the
group's rules version, so the next drain batch on every worker compiles the new rules."""
from __future__ import annotations

from typing import Any

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.moderation.filters import check_pattern
from pipelines.moderation.log import do_log_action
from pipelines.moderation.screening import MAX_RULES_PER_GROUP
from pipelines.policy.access import check_acting_moderator, check_group_moderator
from schemas.common import new_id, utcnow
from schemas.documents import FilterRule, User
from schemas.errors import ApiError, Code
from schemas.payloads import FilterCreate, FilterUpdate, IdPage, ModerationSettingsUpdate


def list_filters(store: Store, user: User, group_id: str, page: IdPage) -> dict[str, Any]:
    check_group_moderator(store, user, group_id)
    rules = store.moderation.filter_rules_of(group_id, before=page.before, limit=page.limit + 1)
    return {"filters": [r.public() for r in rules[:page.limit]], "hasMore": len(rules) > page.limit}


def do_create_filter(store: Store, notifier: Notifier, user: User, group_id: str, request: FilterCreate) -> FilterRule:
    check_acting_moderator(store, user, group_id)
    pattern = check_pattern(request.kind, request.pattern)
    if store.moderation.count_filter_rules(group_id) >= MAX_RULES_PER_GROUP:
        raise ApiError(Code.LIMIT_REACHED, f"a group has at most {MAX_RULES_PER_GROUP} filter rules")
    now = utcnow()
    rule = FilterRule(id=new_id(), groupId=group_id, kind=request.kind, pattern=pattern, action=request.action,
                      enabled=request.enabled, createdBy=user.id, createdAt=now, updatedAt=now)
    store.moderation.insert_filter_rule(rule)
    store.moderation.bump_rules_version(group_id)  # after the write: a worker that sees the new version sees the rule
    do_log_action(store, notifier, user, group_id, "filter_created", "filter", rule.id, target_name=pattern,
                  changes={"kind": rule.kind, "pattern": pattern, "action": rule.action, "enabled": rule.enabled})
    return rule


def do_update_filter(store: Store, notifier: Notifier, user: User, group_id: str, rule_id: str,
                     request: FilterUpdate) -> FilterRule:
    check_acting_moderator(store, user, group_id)
    rule = store.moderation.get_filter_rule(group_id, rule_id)
    if rule is None:
        raise ApiError(Code.NOT_FOUND, f"no filter rule {rule_id} in this group")
    changes = request.model_dump(exclude_none=True)
    if not changes:
        raise ApiError(Code.INVALID_PAYLOAD, "give at least one of kind, pattern, action, enabled")
    if "kind" in changes or "pattern" in changes:
        changes["pattern"] = check_pattern(changes.get("kind", rule.kind), changes.get("pattern", rule.pattern))
    updated = store.moderation.update_filter_rule(group_id, rule_id, {**changes, "updatedAt": utcnow()})
    if updated is None:
        raise ApiError(Code.NOT_FOUND, f"no filter rule {rule_id} in this group")
    store.moderation.bump_rules_version(group_id)
    do_log_action(store, notifier, user, group_id, "filter_updated", "filter", rule_id, target_name=updated.pattern,
                  changes={k: {"from": getattr(rule, k), "to": v} for k, v in changes.items() if getattr(rule, k) != v})
    return updated


def do_delete_filter(store: Store, notifier: Notifier, user: User, group_id: str, rule_id: str) -> None:
    check_acting_moderator(store, user, group_id)
    rule = store.moderation.get_filter_rule(group_id, rule_id)
    if rule is None or not store.moderation.delete_filter_rule(group_id, rule_id):
        raise ApiError(Code.NOT_FOUND, f"no filter rule {rule_id} in this group")
    store.moderation.bump_rules_version(group_id)
    do_log_action(store, notifier, user, group_id, "filter_deleted", "filter", rule_id, target_name=rule.pattern,
                  changes={"kind": rule.kind, "pattern": rule.pattern, "action": rule.action})


def get_moderation_settings(store: Store, user: User, group_id: str) -> dict[str, Any]:
    check_group_moderator(store, user, group_id)
    return store.moderation.group_moderation_of(group_id).public()


def do_update_moderation_settings(store: Store, notifier: Notifier, user: User, group_id: str,
                                  request: ModerationSettingsUpdate) -> dict[str, Any]:
    """Change the settings given; the log records each one that changed, from what to what."""
    check_acting_moderator(store, user, group_id)
    changes = request.model_dump(exclude_none=True)
    if not changes:
        raise ApiError(Code.INVALID_PAYLOAD, "give at least one of allowlist, autoMute, reviewMasks")
    if "allowlist" in changes:
        changes["allowlist"] = list(dict.fromkeys(changes["allowlist"]))
    before = store.moderation.group_moderation_of(group_id).public()
    settings = store.moderation.bump_rules_version(group_id, changes)
    after = settings.public()
    changed = {k: {"from": before[k], "to": after[k]} for k in changes if before[k] != after[k]}
    if changed:
        do_log_action(store, notifier, user, group_id, "settings_updated", "group", group_id, changes=changed)
    return after
