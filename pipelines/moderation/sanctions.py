"""Moderation of a group: its filter rules and the filter step of the message path, mutes and bans,
role changes, and the moderation log. The review queue's items live in ``pipelines.reviews``.

Who may do what: the group's moderators (its MODERATORs and GROUP_ADMINs, and system ADMINs) manage rules,
settings, reviews and mutes; bans and role changes are for group admins (GROUP_ADMINs and system ADMINs).
Nobody acts on themselves (``self_sanction``), on someone who outranks them (``outranked``), or while
muted in the group (``muted``); every refusal is logged (docs/moderation.md, "Authority").
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from infra.store import Store
from pipelines.policy.access import (MODERATING_ROLES, RANKS, check_group_manager, check_not_self, check_not_suspended,
                               check_outranks, deny, is_moderator, log_denied, rank_in_group)
from pipelines.moderation.filters import Rule, RuleSet, Verdict, check_pattern, compile_rules, normalize
from pipelines.events import Notifier
from schemas import events
from schemas.common import iso, new_id, utcnow
from schemas.documents import ActivityLog, FilterRule, Group, Sanction, User
from schemas.errors import ApiError, Code
from schemas.events import Lifted, Sanctioned
from schemas.payloads import (BanCreate, FilterCreate, FilterTest, FilterUpdate, IdPage, ModerationSettingsUpdate,
                              MuteCreate, RoleChange)
from schemas.tasks import FilterHit, NotificationRequest, ReviewRequest

log = logging.getLogger(__name__)

MAX_RULES_PER_GROUP = 1000
SANCTIONS_LIMIT = 200
MODERATION_GROUPS_LIMIT = 200
SYSTEM_ACTOR = "filter"  # the actor name of what the filter does by itself (blocks, automatic mutes)

# move(user_id, room, enter): make the user's live sockets, on any web process, enter or leave a room.
MoveSockets = Callable[[str, str, bool], None]
# announce(conv_id, actor, action, data): queue a system message (pipelines.messages.submit_system).
Announce = Callable[[str, User, str, dict], None]
# tell(request): leave the user a notification (workers.notifications.enqueue_notify).
Tell = Callable[[NotificationRequest], None]


def tell_user(tell: Tell | None, user_id: str, key: str, title: str, body: str, group_id: str) -> None:
    """A ``moderation`` notification about the user: it outlives the live event they may not see."""
    if tell is not None:
        tell(NotificationRequest(userId=user_id, type="moderation", key=key, title=title, body=body,
                                 data={"groupId": group_id}))


# -- who ------------------------------------------------------------------------------------------
def check_group_moderator(store: Store, user: User, group_id: str) -> Group:
    """The group, if the user moderates it; refusals are logged."""
    group = store.get_group(group_id)
    if group is None:
        raise ApiError(Code.NOT_FOUND, f"no group {group_id}")
    if not is_moderator(store, user, group_id):
        log_denied(store, user, "group", group_id, "moderation without a moderating role")
        raise ApiError(Code.FORBIDDEN, "only the group's moderators and admins can do this")
    return group


def check_acting_moderator(store: Store, user: User, group_id: str) -> Group:
    """The group, if the user moderates it and is not muted in it (a moderation write)."""
    group = check_group_moderator(store, user, group_id)
    check_not_suspended(store, user, group_id)
    return group


def moderated_groups(store: Store, user: User) -> list[dict[str, Any]]:
    """The groups the user moderates, with their role (system admins: every group, newest first)."""
    if user.role == "ADMIN":
        mine = {g.id: role for g, role in store.groups_of_user(user.id)}
        return [{**g.public(), "role": mine.get(g.id, "ADMIN")} for g in store.all_groups(MODERATION_GROUPS_LIMIT)]
    return [{**g.public(), "role": role} for g, role in store.groups_of_user(user.id) if role in MODERATING_ROLES]


def moderator_rooms(user: User, groups: list[dict[str, Any]]) -> list[str]:
    """The mod: rooms a socket of the user joins at connect (``groups``: the session's, with roles)."""
    rooms = [events.mod_room(g["id"]) for g in groups if g["role"] in MODERATING_ROLES]
    return rooms + ([events.MOD_ALL] if user.role == "ADMIN" else [])


# -- the moderation log ----------------------------------------------------------------------------
def do_log_action(store: Store, notifier: Notifier, actor: User | None, group_id: str, action: str,
                  target_type: str, target_id: str | None, *, target_name: str | None = None,
                  reason: str | None = None, changes: dict | None = None, once: str | None = None) -> None:
    """Record a moderation action and show it live to the group's moderators. ``once``, a key derived from
    what happened, makes a redelivered task record it once."""
    entry = ActivityLog(id=new_id(), key=once, userId=actor.id if actor else None, action=action,
                        resource=target_type, resourceId=target_id, changes=changes, groupId=group_id,
                        metadata={"actorName": actor.username if actor else SYSTEM_ACTOR,
                                  "targetName": target_name, "reason": reason},
                        timestamp=utcnow())
    if store.insert_activity_once(entry):
        notifier.notify_moderation_action(group_id, entry.moderation_entry())


def list_log(store: Store, user: User, group_id: str, page: IdPage) -> dict[str, Any]:
    check_group_moderator(store, user, group_id)
    entries, more = store.moderation_log(group_id, before=page.before, limit=page.limit)
    return {"entries": [e.moderation_entry() for e in entries], "hasMore": more}


# -- filter rules ----------------------------------------------------------------------------------
def list_filters(store: Store, user: User, group_id: str, page: IdPage) -> dict[str, Any]:
    check_group_moderator(store, user, group_id)
    rules = store.filter_rules_of(group_id, before=page.before, limit=page.limit + 1)
    return {"filters": [r.public() for r in rules[:page.limit]], "hasMore": len(rules) > page.limit}


def do_create_filter(store: Store, notifier: Notifier, user: User, group_id: str, request: FilterCreate) -> FilterRule:
    check_acting_moderator(store, user, group_id)
    pattern = check_pattern(request.kind, request.pattern)
    if store.count_filter_rules(group_id) >= MAX_RULES_PER_GROUP:
        raise ApiError(Code.LIMIT_REACHED, f"a group has at most {MAX_RULES_PER_GROUP} filter rules")
    now = utcnow()
    rule = FilterRule(id=new_id(), groupId=group_id, kind=request.kind, pattern=pattern, action=request.action,
                      enabled=request.enabled, createdBy=user.id, createdAt=now, updatedAt=now)
    store.insert_filter_rule(rule)
    store.bump_rules_version(group_id)  # after the write: a worker that sees the new version sees the rule
    do_log_action(store, notifier, user, group_id, "filter_created", "filter", rule.id, target_name=pattern,
                  changes={"kind": rule.kind, "pattern": pattern, "action": rule.action, "enabled": rule.enabled})
    return rule


def do_update_filter(store: Store, notifier: Notifier, user: User, group_id: str, rule_id: str,
                     request: FilterUpdate) -> FilterRule:
    check_acting_moderator(store, user, group_id)
    rule = store.get_filter_rule(group_id, rule_id)
    if rule is None:
        raise ApiError(Code.NOT_FOUND, f"no filter rule {rule_id} in this group")
    changes = request.model_dump(exclude_none=True)
    if not changes:
        raise ApiError(Code.INVALID_PAYLOAD, "give at least one of kind, pattern, action, enabled")
    if "kind" in changes or "pattern" in changes:
        changes["pattern"] = check_pattern(changes.get("kind", rule.kind), changes.get("pattern", rule.pattern))
    updated = store.update_filter_rule(group_id, rule_id, {**changes, "updatedAt": utcnow()})
    if updated is None:
        raise ApiError(Code.NOT_FOUND, f"no filter rule {rule_id} in this group")
    store.bump_rules_version(group_id)
    do_log_action(store, notifier, user, group_id, "filter_updated", "filter", rule_id, target_name=updated.pattern,
                  changes={k: {"from": getattr(rule, k), "to": v} for k, v in changes.items() if getattr(rule, k) != v})
    return updated


def do_delete_filter(store: Store, notifier: Notifier, user: User, group_id: str, rule_id: str) -> None:
    check_acting_moderator(store, user, group_id)
    rule = store.get_filter_rule(group_id, rule_id)
    if rule is None or not store.delete_filter_rule(group_id, rule_id):
        raise ApiError(Code.NOT_FOUND, f"no filter rule {rule_id} in this group")
    store.bump_rules_version(group_id)
    do_log_action(store, notifier, user, group_id, "filter_deleted", "filter", rule_id, target_name=rule.pattern,
                  changes={"kind": rule.kind, "pattern": rule.pattern, "action": rule.action})


def do_test_filter(store: Store, user: User, group_id: str, request: FilterTest) -> dict[str, Any]:
    """The group's enabled rules, and the candidate rule if given (its hits have ``filterId: null``), on a
    sample text: what a message with that text would get."""
    check_group_moderator(store, user, group_id)
    rules = _enabled_rules(store, group_id)
    if request.rule is not None:
        candidate = request.rule
        rules.append(Rule(id=None, kind=candidate.kind, pattern=check_pattern(candidate.kind, candidate.pattern),
                          action=candidate.action))
    verdict = compile_rules(rules, store.group_moderation_of(group_id).allowlist).scan(request.text)
    return {"action": verdict.action, "hits": [h.model_dump() for h in hits_of(verdict)],
            "masked": verdict.masked, "normalized": normalize(request.text)}


def _enabled_rules(store: Store, group_id: str) -> list[Rule]:
    return [Rule(id=r.id, kind=r.kind, pattern=r.pattern, action=r.action)
            for r in store.filter_rules_of(group_id, limit=MAX_RULES_PER_GROUP) if r.enabled]


def hits_of(verdict: Verdict) -> list[FilterHit]:
    return [FilterHit(filterId=h.rule_id, kind=h.kind, action=h.action, start=h.start, end=h.end, match=h.match)
            for h in verdict.hits]


def get_moderation_settings(store: Store, user: User, group_id: str) -> dict[str, Any]:
    check_group_moderator(store, user, group_id)
    return store.group_moderation_of(group_id).public()


def do_update_moderation_settings(store: Store, notifier: Notifier, user: User, group_id: str,
                                  request: ModerationSettingsUpdate) -> dict[str, Any]:
    check_acting_moderator(store, user, group_id)
    changes = request.model_dump(exclude_none=True)
    if not changes:
        raise ApiError(Code.INVALID_PAYLOAD, "give allowlist, autoMute or both")
    if "allowlist" in changes:
        changes["allowlist"] = list(dict.fromkeys(changes["allowlist"]))
    settings = store.bump_rules_version(group_id, changes)
    do_log_action(store, notifier, user, group_id, "settings_updated", "group", group_id, changes=changes)
    return settings.public()


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
        version = self.store.rules_version(group_id)
        cached = self._compiled.get(group_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        # The version was read before the rules: a change landing in between is compiled now and seen as a
        # new version at the next batch, never missed.
        rules = _enabled_rules(self.store, group_id)
        allowlist = self.store.group_moderation_of(group_id).allowlist
        while True:
            try:
                ruleset = compile_rules(rules, allowlist) if rules else None
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


# -- mutes and bans ----------------------------------------------------------------------------------
def _member_named(store: Store, group_id: str, username: str) -> tuple[User, str]:
    user = store.get_user_by_username(username)
    member = store.get_group_member(group_id, user.id) if user else None
    if user is None or member is None:
        raise ApiError(Code.NOT_FOUND, f"no member named {username} in this group")
    return user, member.role


def _check_can_sanction(store: Store, actor: User, group_id: str, target: User, target_role: str, kind: str) -> None:
    """Not oneself, not while muted, not a system admin, not someone of a higher rank; each refusal logged."""
    check_not_self(store, actor, target.id, f"you cannot {kind} yourself", group_id)
    check_not_suspended(store, actor, group_id)
    if target.role == "ADMIN":
        raise deny(store, actor, Code.OUTRANKED, "user", target.id,
                   f"{target.username} is a system admin: system admins are not {kind}d in groups", {"groupId": group_id})
    check_outranks(store, actor, target, group_id, kind, target_role)


def _check_placer(store: Store, actor: User, sanction: Sanction | None, what: str) -> None:
    """A sanction in force is changed or lifted only by someone of at least the rank of who placed it (the
    filter's own mutes rank as a moderator's)."""
    if sanction is None or (sanction.until is not None and sanction.until <= utcnow()) or sanction.by == actor.id:
        return
    placer = None if sanction.by == SYSTEM_ACTOR else store.get_user(sanction.by)
    check_outranks(store, actor, placer, sanction.groupId, what)


def _sanction(group_id: str, target: User, until, reason: str, actor: User | None) -> Sanction:
    return Sanction(id=Sanction.key(group_id, target.id), groupId=group_id, userId=target.id,
                    username=target.username, until=until, reason=reason, by=actor.id if actor else SYSTEM_ACTOR,
                    byName=actor.username if actor else SYSTEM_ACTOR, createdAt=utcnow())


def do_mute(store: Store, notifier: Notifier, actor: User | None, group_id: str, request: MuteCreate,
            target: User | None = None, tell: Tell | None = None) -> Sanction:
    """Mute a member for ``minutes``: their sends are refused (``muted``, with ``until``) on every path
    until then, when the mute ends by itself. A second mute replaces the first. ``actor`` None: the
    filter's escalation (``target`` given)."""
    if actor is not None:
        check_group_moderator(store, actor, group_id)
        target, role = _member_named(store, group_id, request.username)
        _check_can_sanction(store, actor, group_id, target, role, "mute")
        _check_placer(store, actor, store.get_sanction("mutes", group_id, target.id), "replace a mute placed by")
    until = utcnow() + timedelta(minutes=request.minutes)
    mute = _sanction(group_id, target, until, request.reason, actor)
    store.put_sanction("mutes", mute)
    store.set_muted_until(group_id, target.id, until)
    notifier.notify_sanction(events.MODERATION_MUTED, target.id,
                             Sanctioned(groupId=group_id, until=iso(until), reason=request.reason))
    do_log_action(store, notifier, actor, group_id, "muted" if actor else "auto_muted", "user", target.id,
                  target_name=target.username, reason=request.reason,
                  changes={"minutes": request.minutes, "until": iso(until)})
    tell_user(tell, target.id, f"muted:{mute.id}:{iso(until)}", "You are muted",
          f"You cannot send messages in this group until {iso(until)}: {request.reason}", group_id)
    return mute


def do_lift(store: Store, notifier: Notifier, actor: User, group_id: str, user_id: str, kind: str) -> None:
    """Lift a mute (the group's moderators) or a ban (its admins) before it ends: not one's own, not while
    muted, not one on someone who outranks the actor nor one placed by such a person."""
    (check_group_moderator if kind == "mute" else check_group_manager)(store, actor, group_id)
    check_not_self(store, actor, user_id, f"you cannot lift your own {kind}", group_id)
    check_not_suspended(store, actor, group_id)
    not_found = ApiError(Code.NOT_FOUND, f"this user is not {'muted' if kind == 'mute' else 'banned'}")
    current = store.get_sanction(f"{kind}s", group_id, user_id)
    if current is None or (current.until is not None and current.until <= utcnow()):
        raise not_found
    target = store.get_user(user_id)
    if target is not None:
        check_outranks(store, actor, target, group_id, f"lift the {kind} of")
    _check_placer(store, actor, current, f"lift a {kind} placed by")
    sanction = store.delete_sanction(f"{kind}s", group_id, user_id)
    if sanction is None:  # lifted by someone else meanwhile
        raise not_found
    if kind == "mute":
        store.set_muted_until(group_id, user_id, None)
    notifier.notify_sanction(events.MODERATION_LIFTED, user_id, Lifted(groupId=group_id, kind=kind))
    do_log_action(store, notifier, actor, group_id, {"mute": "unmuted", "ban": "unbanned"}[kind], "user", user_id,
                  target_name=sanction.username)


def list_sanctions(store: Store, user: User, group_id: str, collection: str) -> dict[str, Any]:
    """Mutes (for the group's moderators) or bans (for its admins) in force."""
    (check_group_moderator if collection == "mutes" else check_group_manager)(store, user, group_id)
    items, more = store.sanctions_of_group(collection, group_id, utcnow(), SANCTIONS_LIMIT)
    return {collection: [s.public() for s in items], "hasMore": more}


def active_mute_until(store: Store, group_id: str, user_id: str):
    """When the member's mute in the group ends, if one is in force (copied onto new memberships)."""
    mute = store.get_sanction("mutes", group_id, user_id)
    return mute.until if mute is not None and mute.until is not None and mute.until > utcnow() else None


def check_not_banned(store: Store, group_id: str, user: User) -> None:
    """A banned user cannot be added to the group again until the ban is lifted or ends."""
    ban = store.get_sanction("bans", group_id, user.id)
    if ban is not None and (ban.until is None or ban.until > utcnow()):
        until = f"until {iso(ban.until)}" if ban.until else "until a group admin lifts the ban"
        raise ApiError(Code.BANNED, f"{user.username} is banned from this group {until}",
                       {"until": iso(ban.until)})


def do_ban(store: Store, notifier: Notifier, move: MoveSockets, announce: Announce, actor: User, group_id: str,
           request: BanCreate, tell: Tell | None = None) -> Sanction:
    """Ban a member: they leave the group, its conversations and its rooms at once (every live socket),
    and cannot be added again until the ban ends (``minutes``) or is lifted."""
    check_group_manager(store, actor, group_id)
    target, role = _member_named(store, group_id, request.username)
    _check_can_sanction(store, actor, group_id, target, role, "ban")
    until = utcnow() + timedelta(minutes=request.minutes) if request.minutes else None
    ban = _sanction(group_id, target, until, request.reason, actor)
    store.put_sanction("bans", ban)  # first: from now on they cannot be added back
    conv_ids = store.remove_group_member(group_id, target.id)
    for room in [events.group_room(group_id), events.mod_room(group_id), *map(events.conv_room, conv_ids)]:
        move(target.id, room, False)
    for conv_id in conv_ids:
        announce(conv_id, actor, "member_left", {"userId": target.id, "username": target.username,
                                                 "by": actor.username})
        notifier.notify_conversation_left(target.id, conv_id, actor.id)
    notifier.notify_sanction(events.MODERATION_BANNED, target.id,
                             Sanctioned(groupId=group_id, until=iso(until), reason=request.reason))
    do_log_action(store, notifier, actor, group_id, "banned", "user", target.id, target_name=target.username,
                  reason=request.reason, changes={"minutes": request.minutes, "until": iso(until),
                                                  "conversations": len(conv_ids)})
    tell_user(tell, target.id, f"banned:{ban.id}:{iso(ban.createdAt)}", "You were banned from a group",
          f"{request.reason}" + (f" (until {iso(until)})" if until else ""), group_id)
    return ban


def do_change_role(store: Store, notifier: Notifier, move: MoveSockets, actor: User, group_id: str, user_id: str,
                   request: RoleChange) -> dict[str, Any]:
    """Group admins change a member's role (not their own, not a system admin's, not while muted); the
    member's sockets enter or leave ``mod:{groupId}`` at once."""
    check_group_manager(store, actor, group_id)
    check_not_self(store, actor, user_id, "you cannot change your own role: ask another admin", group_id)
    check_not_suspended(store, actor, group_id)
    before = store.get_group_member(group_id, user_id)
    target = store.get_user(user_id)
    if before is None or target is None:
        raise ApiError(Code.NOT_FOUND, "no such member in this group")
    check_outranks(store, actor, target, group_id, "change the role of", before.role)
    member = store.set_group_role(group_id, user_id, request.role)
    move(user_id, events.mod_room(group_id), request.role in MODERATING_ROLES)
    do_log_action(store, notifier, actor, group_id, "role_changed", "user", user_id, target_name=target.username,
                  changes={"from": before.role, "to": request.role})
    return {"groupId": group_id, "user": target.public(), "role": member.role}


# -- escalation ------------------------------------------------------------------------------------
def do_record_block(store: Store, notifier: Notifier, group_id: str, conv_id: str, sender_id: str, client_id: str,
                    match: str, tell: Tell | None = None) -> bool:
    """Log a blocked message (once per send) and apply the group's escalation: True when the sender was
    muted automatically for reaching ``autoMute.blocked`` blocked messages within its window."""
    sender = store.get_user(sender_id)
    if sender is None:
        return False
    do_log_action(store, notifier, None, group_id, "message_blocked", "user", sender_id,
                  target_name=sender.username, reason=f"blocked: {match}", changes={"convId": conv_id},
                  once=f"blocked:{conv_id}:{sender_id}:{client_id}")
    auto = store.group_moderation_of(group_id).autoMute
    if not auto.enabled or active_mute_until(store, group_id, sender_id) is not None:
        return False
    if rank_in_group(store, sender, group_id) > RANKS["MODERATOR"]:
        return False  # the filter acts as a moderator: it does not mute group admins nor system admins
    since = utcnow() - timedelta(minutes=auto.windowMinutes)
    if store.count_activity("user", sender_id, "message_blocked", group_id, since) < auto.blocked:
        return False
    do_mute(store, notifier, None, group_id, MuteCreate(username=sender.username, minutes=auto.muteMinutes,
            reason=f"{auto.blocked} blocked messages within {auto.windowMinutes} minutes"), target=sender, tell=tell)
    return True
