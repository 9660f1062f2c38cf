"""Sanctions in a group: mutes, bans, their lifting, role changes, and the filter's escalation (an automatic
mute after too many blocked messages).

Who may do what: the group's moderators (its MODERATORs and GROUP_ADMINs, and system ADMINs) mute and lift
mutes; bans and role changes are for group admins (GROUP_ADMINs and system ADMINs). Nobody acts on
themselves (``self_sanction``), on someone who outranks them (``outranked``), or while muted in the group
(``muted``); every refusal is logged (docs/moderation.md, "Authority").
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.moderation.log import SYSTEM_ACTOR, Tell, do_log_action, tell_user
from pipelines.policy.access import (MODERATING_ROLES, RANKS, check_group_manager, check_group_moderator,
                                     check_not_self, check_not_suspended, check_outranks, deny, rank_in_group)
from schemas import events
from schemas.common import iso, utcnow
from schemas.documents import Sanction, User
from schemas.errors import ApiError, Code
from schemas.events import Lifted, Sanctioned, SanctionState
from schemas.payloads import BanCreate, MuteCreate, RoleChange

SANCTIONS_LIMIT = 200

# move(user_id, room, enter): make the user's live sockets, on any web process, enter or leave a room.
MoveSockets = Callable[[str, str, bool], None]
# announce(conv_id, actor, action, data): queue a system message (pipelines.messages.submit.submit_system).
Announce = Callable[[str, User, str, dict], None]


def _member_named(store: Store, group_id: str, username: str) -> tuple[User, str]:
    user = store.users.get_user_by_username(username)
    member = store.groups.get_group_member(group_id, user.id) if user else None
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
    placer = None if sanction.by == SYSTEM_ACTOR else store.users.get_user(sanction.by)
    check_outranks(store, actor, placer, sanction.groupId, what)


def _sanction(group_id: str, target: User, until, reason: str, actor: User | None) -> Sanction:
    return Sanction(id=Sanction.key(group_id, target.id), groupId=group_id, userId=target.id,
                    username=target.username, until=until, reason=reason, by=actor.id if actor else SYSTEM_ACTOR,
                    byName=actor.username if actor else SYSTEM_ACTOR, createdAt=utcnow())


def _group_name(store: Store, group_id: str) -> str | None:
    group = store.groups.get_group(group_id)
    return group.name if group else None


def _state(store: Store, kind: str, sanction: Sanction, lifted: bool = False) -> SanctionState:
    return SanctionState(groupId=sanction.groupId, kind=kind, until=None if lifted else iso(sanction.until),
                         reason=sanction.reason, groupName=_group_name(store, sanction.groupId), lifted=lifted)


def notify_sanction_state(store: Store, notifier: Notifier, kind: str, sanction: Sanction, lifted: bool = False) -> None:
    """moderation:sanction to the user concerned, beside the older muted/banned/lifted events (public too). A
    mute that simply runs out sends nothing: the page counts down to ``until`` itself."""
    notifier.notify_sanction(events.MODERATION_SANCTION, sanction.userId, _state(store, kind, sanction, lifted))


def active_sanctions(store: Store, user_id: str) -> list[SanctionState]:
    """The user's mutes and bans in force, in every group (session:ready's ``sanctions``)."""
    now = utcnow()
    return [_state(store, kind, s) for kind in ("mute", "ban")
            for s in store.moderation.sanctions_of_user(f"{kind}s", user_id, now)]


def do_mute(store: Store, notifier: Notifier, actor: User | None, group_id: str, request: MuteCreate,
            target: User | None = None, tell: Tell | None = None) -> Sanction:
    """Mute a member for ``minutes``: their sends are refused (``muted``, with ``until``) on every path
    until then, when the mute ends by itself. A second mute replaces the first. ``actor`` None: the
    filter's escalation (``target`` given)."""
    if actor is not None:
        check_group_moderator(store, actor, group_id)
        target, role = _member_named(store, group_id, request.username)
        _check_can_sanction(store, actor, group_id, target, role, "mute")
        _check_placer(store, actor, store.moderation.get_sanction("mutes", group_id, target.id), "replace a mute placed by")
    until = utcnow() + timedelta(minutes=request.minutes)
    mute = _sanction(group_id, target, until, request.reason, actor)
    store.moderation.put_sanction("mutes", mute)
    store.conversations.set_muted_until(group_id, target.id, until)
    notifier.notify_sanction(events.MODERATION_MUTED, target.id,
                             Sanctioned(groupId=group_id, until=iso(until), reason=request.reason))
    notify_sanction_state(store, notifier, "mute", mute)
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
    current = store.moderation.get_sanction(f"{kind}s", group_id, user_id)
    if current is None or (current.until is not None and current.until <= utcnow()):
        raise not_found
    target = store.users.get_user(user_id)
    if target is not None:
        check_outranks(store, actor, target, group_id, f"lift the {kind} of")
    _check_placer(store, actor, current, f"lift a {kind} placed by")
    sanction = store.moderation.delete_sanction(f"{kind}s", group_id, user_id)
    if sanction is None:  # lifted by someone else meanwhile
        raise not_found
    if kind == "mute":
        store.conversations.set_muted_until(group_id, user_id, None)
    notifier.notify_sanction(events.MODERATION_LIFTED, user_id, Lifted(groupId=group_id, kind=kind))
    notify_sanction_state(store, notifier, kind, sanction, lifted=True)
    do_log_action(store, notifier, actor, group_id, {"mute": "unmuted", "ban": "unbanned"}[kind], "user", user_id,
                  target_name=sanction.username)


def list_sanctions(store: Store, user: User, group_id: str, collection: str) -> dict[str, Any]:
    """Mutes (for the group's moderators) or bans (for its admins) in force."""
    (check_group_moderator if collection == "mutes" else check_group_manager)(store, user, group_id)
    items, more = store.moderation.sanctions_of_group(collection, group_id, utcnow(), SANCTIONS_LIMIT)
    return {collection: [s.public() for s in items], "hasMore": more}


def active_mute_until(store: Store, group_id: str, user_id: str):
    """When the member's mute in the group ends, if one is in force (copied onto new memberships)."""
    mute = store.moderation.get_sanction("mutes", group_id, user_id)
    return mute.until if mute is not None and mute.until is not None and mute.until > utcnow() else None


def check_not_banned(store: Store, group_id: str, user: User) -> None:
    """A banned user cannot be added to the group again until the ban is lifted or ends."""
    ban = store.moderation.get_sanction("bans", group_id, user.id)
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
    store.moderation.put_sanction("bans", ban)  # first: from now on they cannot be added back
    conv_ids = store.groups.remove_group_member(group_id, target.id)
    for room in [events.group_room(group_id), events.mod_room(group_id), *map(events.conv_room, conv_ids)]:
        move(target.id, room, False)
    for conv_id in conv_ids:
        announce(conv_id, actor, "member_left", {"userId": target.id, "username": target.username,
                                                 "by": actor.username})
        notifier.notify_conversation_left(target.id, conv_id, actor.id)
    notifier.notify_sanction(events.MODERATION_BANNED, target.id,
                             Sanctioned(groupId=group_id, until=iso(until), reason=request.reason))
    notify_sanction_state(store, notifier, "ban", ban)
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
    before = store.groups.get_group_member(group_id, user_id)
    target = store.users.get_user(user_id)
    if before is None or target is None:
        raise ApiError(Code.NOT_FOUND, "no such member in this group")
    check_outranks(store, actor, target, group_id, "change the role of", before.role)
    member = store.groups.set_group_role(group_id, user_id, request.role)
    move(user_id, events.mod_room(group_id), request.role in MODERATING_ROLES)
    do_log_action(store, notifier, actor, group_id, "role_changed", "user", user_id, target_name=target.username,
                  changes={"from": before.role, "to": request.role})
    return {"groupId": group_id, "user": target.public(), "role": member.role}


def do_record_block(store: Store, notifier: Notifier, group_id: str, conv_id: str, sender_id: str, client_id: str,
                    match: str, tell: Tell | None = None) -> bool:
    """Log a blocked message (once per send) and apply the group's escalation: True when the sender was
    muted automatically for reaching ``autoMute.blocked`` blocked messages within its window."""
    sender = store.users.get_user(sender_id)
    if sender is None:
        return False
    do_log_action(store, notifier, None, group_id, "message_blocked", "user", sender_id,
                  target_name=sender.username, reason=f"blocked: {match}", changes={"convId": conv_id},
                  once=f"blocked:{conv_id}:{sender_id}:{client_id}", conv_id=conv_id)
    auto = store.moderation.group_moderation_of(group_id).autoMute
    if not auto.enabled or active_mute_until(store, group_id, sender_id) is not None:
        return False
    if rank_in_group(store, sender, group_id) > RANKS["MODERATOR"]:
        return False  # the filter acts as a moderator: it does not mute group admins nor system admins
    since = utcnow() - timedelta(minutes=auto.windowMinutes)
    if store.audit.count_activity("user", sender_id, "message_blocked", group_id, since) < auto.blocked:
        return False
    do_mute(store, notifier, None, group_id, MuteCreate(username=sender.username, minutes=auto.muteMinutes,
            reason=f"{auto.blocked} blocked messages within {auto.windowMinutes} minutes"), target=sender, tell=tell)
    return True
