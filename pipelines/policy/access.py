"""Who may do what to which thing, answered in one place (Discourse's Guardian): check_* functions raise
ApiError (a 403 with a specific code, logged, or NOT_FOUND) or return what they checked. Ownership is
check_owner's; ranks order who may act on whom in a group's moderation."""
from __future__ import annotations

from infra.storage import Store
from schemas.common import iso, new_id, utcnow
from schemas.documents import ActivityLog, Conversation, ConversationMember, Group, GroupMember, User
from schemas.errors import ApiError, Code

GROUP_MANAGERS = ("GROUP_ADMIN",)
MODERATING_ROLES = ("MODERATOR", "GROUP_ADMIN")
# A system ADMIN outranks every group role; a group's roles rank MEMBER < MODERATOR < GROUP_ADMIN.
RANKS = {"MEMBER": 0, "MODERATOR": 1, "GROUP_ADMIN": 2, "ADMIN": 3}
RANK_NAMES = {0: "a member", 1: "a moderator", 2: "a group admin", 3: "a system admin"}


def log_denied(store: Store, user: User, resource: str, resource_id: str, reason: str,
               context: dict | None = None) -> None:
    store.audit.log_activity(ActivityLog(id=new_id(), userId=user.id, action="denied", resource=resource,
                                   resourceId=resource_id, metadata={"reason": reason, **(context or {})},
                                   timestamp=utcnow()))


def deny(store: Store, user: User, code: Code, resource: str, resource_id: str, message: str,
         context: dict | None = None, details: dict | None = None) -> ApiError:
    """Log a refusal (its code is the reason) and return the error to raise."""
    log_denied(store, user, resource, resource_id, str(code), {"message": message, **(context or {})})
    return ApiError(code, message, details)


def check_owner(store: Store, user: User, resource: str, resource_id: str, owner_id: str | None, message: str, *,
                hidden: bool = False, reason: str = "not the owner") -> None:
    """May this user act on that as its owner? Anyone else is refused, and the refusal is logged: ``404
    not_found`` when the thing is private to its owner (``hidden``: others may not learn it exists), else
    ``403 forbidden``. Which one a route answers is its contract (docs/api.md)."""
    if owner_id == user.id:
        return
    log_denied(store, user, resource, resource_id, reason)
    raise ApiError(Code.NOT_FOUND if hidden else Code.FORBIDDEN, message)


def check_conversation_member(store: Store, user: User, conv_id: str,
                              context: dict | None = None) -> tuple[Conversation, ConversationMember]:
    """The conversation and the user's membership; refusals are written to the activity log."""
    conv = store.conversations.get_conversation(conv_id)
    if conv is None:
        raise ApiError(Code.NOT_FOUND, f"no conversation {conv_id}")
    member = store.conversations.get_conversation_member(conv_id, user.id)
    if member is None:
        log_denied(store, user, "conversation", conv_id, "not a member", context)
        raise ApiError(Code.FORBIDDEN, "you are not a member of this conversation")
    return conv, member


def check_group_member(store: Store, user: User, group_id: str) -> tuple[Group, GroupMember | None]:
    """The group and the user's membership (None for a system ADMIN who is not a member)."""
    group = store.groups.get_group(group_id)
    if group is None:
        raise ApiError(Code.NOT_FOUND, f"no group {group_id}")
    member = store.groups.get_group_member(group_id, user.id)
    if member is None and user.role != "ADMIN":
        log_denied(store, user, "group", group_id, "not a member")
        raise ApiError(Code.FORBIDDEN, "you are not a member of this group")
    return group, member


def check_group_manager(store: Store, user: User, group_id: str) -> Group:
    """Group admins (and system admins) manage a group's members."""
    group, member = check_group_member(store, user, group_id)
    if user.role != "ADMIN" and (member is None or member.role not in GROUP_MANAGERS):
        log_denied(store, user, "group", group_id, "not a group admin")
        raise ApiError(Code.FORBIDDEN, "only the group's admins can do this")
    return group


def is_moderator(store: Store, user: User, group_id: str) -> bool:
    """System admins, and the group's moderators and admins, moderate the group's conversations."""
    if user.role == "ADMIN":
        return True
    member = store.groups.get_group_member(group_id, user.id)
    return member is not None and member.role in MODERATING_ROLES


def check_moderator(store: Store, user: User, conv_id: str) -> Conversation:
    """The conversation, if the user moderates its group (membership of the conversation is not needed);
    refusals are written to the activity log."""
    conv = store.conversations.get_conversation(conv_id)
    if conv is None:
        raise ApiError(Code.NOT_FOUND, f"no conversation {conv_id}")
    if not is_moderator(store, user, conv.groupId):
        log_denied(store, user, "conversation", conv_id, "moderation view without a moderating role")
        raise ApiError(Code.FORBIDDEN, "only the group's moderators and admins can see deleted content")
    return conv


def check_group_moderator(store: Store, user: User, group_id: str) -> Group:
    """The group, if the user moderates it; refusals are logged."""
    group = store.groups.get_group(group_id)
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


def rank_in_group(store: Store, user: User | None, group_id: str, role: str | None = None) -> int:
    """The user's rank in the group (``role``: their group role when the caller has read it already;
    no user: the content filter, which acts as a moderator)."""
    if user is None:
        return RANKS["MODERATOR"]
    if user.role == "ADMIN":
        return RANKS["ADMIN"]
    if role is None:
        member = store.groups.get_group_member(group_id, user.id)
        role = member.role if member is not None else "MEMBER"
    return RANKS.get(role, 0)


def check_outranks(store: Store, actor: User, target: User | None, group_id: str, what: str,
                   target_role: str | None = None) -> None:
    """``actor`` may act on ``target`` (``what``: the action, for the message): not on someone of a higher
    rank (a moderator on a group admin or a system admin), ``403 outranked``, logged."""
    mine = rank_in_group(store, actor, group_id)
    theirs = rank_in_group(store, target, group_id, target_role)
    if theirs > mine:
        raise deny(store, actor, Code.OUTRANKED, "user", target.id if target else "filter",
                   f"{RANK_NAMES[mine]} cannot {what} {RANK_NAMES[theirs]}", {"groupId": group_id})


def check_not_self(store: Store, actor: User, target_id: str, message: str, group_id: str) -> None:
    """Nobody places, lifts or changes their own sanction or role: ``403 self_sanction``, logged."""
    if actor.id == target_id:
        raise deny(store, actor, Code.SELF_SANCTION, "user", target_id, message, {"groupId": group_id})


def check_not_suspended(store: Store, actor: User, group_id: str) -> None:
    """A mute suspends a moderator's moderation actions in the group until it ends (reading stays open):
    ``403 muted`` with ``until``, logged."""
    mute = store.moderation.get_sanction("mutes", group_id, actor.id)
    if mute is not None and mute.until is not None and mute.until > utcnow():
        until = iso(mute.until)
        raise deny(store, actor, Code.MUTED, "group", group_id, f"you are muted in this group until {until}: "
                   "your moderation actions wait until then", details={"until": until})


def check_may_moderate_content(store: Store, actor: User, author_id: str, group_id: str, what: str) -> None:
    """A moderator acting on another's message (deciding its review item, deleting it): not while muted,
    and not on a message by someone who outranks them."""
    check_not_suspended(store, actor, group_id)
    author = store.users.get_user(author_id)
    if author is not None:
        check_outranks(store, actor, author, group_id, what)
