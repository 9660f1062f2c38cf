"""Who may do what: check_* functions raise ApiError(FORBIDDEN / NOT_FOUND) or return what they checked."""
from __future__ import annotations

from infra.store import Store
from schemas.documents import ActivityLog, Conversation, ConversationMember, Group, GroupMember, User
from schemas.common import new_id, utcnow
from schemas.errors import ApiError, Code

GROUP_MANAGERS = ("GROUP_ADMIN",)
MODERATING_ROLES = ("MODERATOR", "GROUP_ADMIN")


def log_denied(store: Store, user: User, resource: str, resource_id: str, reason: str,
               context: dict | None = None) -> None:
    store.log_activity(ActivityLog(id=new_id(), userId=user.id, action="denied", resource=resource,
                                   resourceId=resource_id, metadata={"reason": reason, **(context or {})},
                                   timestamp=utcnow()))


def check_conversation_member(store: Store, user: User, conv_id: str,
                              context: dict | None = None) -> tuple[Conversation, ConversationMember]:
    """The conversation and the user's membership; refusals are written to the activity log."""
    conv = store.get_conversation(conv_id)
    if conv is None:
        raise ApiError(Code.NOT_FOUND, f"no conversation {conv_id}")
    member = store.get_conversation_member(conv_id, user.id)
    if member is None:
        log_denied(store, user, "conversation", conv_id, "not a member", context)
        raise ApiError(Code.FORBIDDEN, "you are not a member of this conversation")
    return conv, member


def check_group_member(store: Store, user: User, group_id: str) -> tuple[Group, GroupMember | None]:
    """The group and the user's membership (None for a system ADMIN who is not a member)."""
    group = store.get_group(group_id)
    if group is None:
        raise ApiError(Code.NOT_FOUND, f"no group {group_id}")
    member = store.get_group_member(group_id, user.id)
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
    member = store.get_group_member(group_id, user.id)
    return member is not None and member.role in MODERATING_ROLES


def check_moderator(store: Store, user: User, conv_id: str) -> Conversation:
    """The conversation, if the user moderates its group (membership of the conversation is not needed);
    refusals are written to the activity log."""
    conv = store.get_conversation(conv_id)
    if conv is None:
        raise ApiError(Code.NOT_FOUND, f"no conversation {conv_id}")
    if not is_moderator(store, user, conv.groupId):
        log_denied(store, user, "conversation", conv_id, "moderation view without a moderating role")
        raise ApiError(Code.FORBIDDEN, "only the group's moderators and admins can see deleted content")
    return conv
