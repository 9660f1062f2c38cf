"""Users, groups, conversations and membership: the writes behind the REST routes, and what a session sees."""
from __future__ import annotations

import unicodedata
from typing import Any, Callable

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.people.direct import with_peers
from pipelines.people.group_settings import mark_encrypted
from pipelines.moderation.sanctions import active_mute_until, check_not_banned
from pipelines.policy.access import check_conversation_member, check_group_manager, check_group_member, check_outranks
from pipelines.policy.gate import Gate
from schemas.common import iso, new_id, utcnow
from schemas.documents import ActivityLog, Conversation, ConversationMember, Group, GroupMember, User
from schemas.errors import ApiError, Code
from schemas.payloads import ConversationCreate, DevTokenRequest, GroupCreate, GroupMemberAdd, MemberQuery

# announce(conv_id, actor, action, data): queue a system message (pipelines.messages.submit_system).
Announce = Callable[[str, User, str, dict], None]


def do_dev_login(store: Store, request: DevTokenRequest, admins: frozenset[str]) -> User:
    """Find or create the user of that username (dev login only)."""
    now = utcnow()
    user = store.users.insert_user_if_absent(User(
        id=new_id(), username=request.username, fname=request.fname, lname=request.lname,
        avatarUrl=request.avatarUrl, role="ADMIN" if request.username in admins else "USER", email=request.email,
        createdAt=now, updatedAt=now))
    if not user.active:
        raise ApiError(Code.FORBIDDEN, "this account is deactivated")
    store.audit.log_activity(ActivityLog(id=new_id(), userId=user.id, action="login", resource="user",
                                   resourceId=user.id, metadata={"method": "dev"}, timestamp=now))
    return user


def do_create_group(store: Store, user: User, request: GroupCreate, gate: Gate | None = None) -> dict[str, Any]:
    """A new group, its creator its admin. Its name passes the write gate's rate limit (``text``); a new group
    has no members, sanctions or filter rules yet for the other checks to apply."""
    (gate or Gate(store)).admit(user, "group")
    now = utcnow()
    group = Group(id=new_id(), name=request.name, createdBy=user.id, createdAt=now)
    store.groups.insert_group(group, GroupMember(id=new_id(), groupId=group.id, userId=user.id, role="GROUP_ADMIN",
                                          joinedAt=now))
    _log(store, user, "create", "group", group.id)
    return {**group.public(), "role": "GROUP_ADMIN"}


def do_add_group_member(store: Store, notifier: Notifier, user: User, group_id: str,
                        request: GroupMemberAdd) -> dict[str, Any]:
    group = check_group_manager(store, user, group_id)
    new = _user_named(store, request.username)
    check_not_banned(store, group_id, new)
    if not store.groups.insert_group_member(GroupMember(id=new_id(), groupId=group_id, userId=new.id,
                                                 role=request.role, joinedAt=utcnow())):
        raise ApiError(Code.CONFLICT, f"{new.username} is already a member of this group")
    _log(store, user, "add_member", "group", group_id, {"userId": new.id, "role": request.role})
    notifier.notify_group_member_joined(group, new, request.role)
    return {"groupId": group_id, "user": new.public(), "role": request.role}


def do_create_conversation(store: Store, notifier: Notifier, announce: Announce, user: User, group_id: str,
                           request: ConversationCreate, gate: Gate | None = None) -> dict[str, Any]:
    """Any member of the group may open a conversation with other members of the group; its title goes
    through the write gate (a muted member opens none)."""
    gate = gate or Gate(store)
    admitted = gate.group(user, group_id, "title")
    others = _group_members_named(store, group_id, request.members)
    gate.count(admitted)
    conv_id, now = new_id(), utcnow()
    screened = gate.screen(admitted, {"title": request.title}, conv_id)
    conv = Conversation(id=conv_id, groupId=group_id, title=screened.texts["title"], createdBy=user.id, createdAt=now)
    member_ids = list(dict.fromkeys([user.id, *(u.id for u in others)]))
    store.conversations.insert_conversation(conv, [ConversationMember(id=new_id(), convId=conv.id, userId=uid, groupId=group_id,
                                                        joinedAt=now, mutedUntil=active_mute_until(store, group_id, uid))
                                     for uid in member_ids])
    mark_encrypted(store, conv)
    _log(store, user, "create", "conversation", conv.id, {"members": member_ids})
    gate.opened(screened)
    announce(conv.id, user, "conversation_created", {"userId": user.id, "username": user.username,
                                                     "title": conv.title})
    notifier.notify_conversation_created(conv)
    return {**conv.public(), "members": member_ids}


def do_add_conversation_member(store: Store, notifier: Notifier, announce: Announce, user: User, conv_id: str,
                               username: str) -> dict[str, Any]:
    """The conversation's creator or the group's admins add members; the new member must be in the group."""
    conv, _ = check_conversation_member(store, user, conv_id)
    if conv.kind == "direct":
        raise ApiError(Code.FORBIDDEN, "a direct conversation is for its two people: open a group conversation instead")
    if conv.createdBy != user.id:
        check_group_manager(store, user, conv.groupId)
    [new] = _group_members_named(store, conv.groupId, [username])
    if not store.conversations.insert_conversation_member(ConversationMember(
            id=new_id(), convId=conv_id, userId=new.id, groupId=conv.groupId, joinedAt=utcnow(),
            mutedUntil=active_mute_until(store, conv.groupId, new.id))):
        raise ApiError(Code.CONFLICT, f"{new.username} is already a member of this conversation")
    _log(store, user, "add_member", "conversation", conv_id, {"userId": new.id})
    announce(conv_id, user, "member_joined", {"userId": new.id, "username": new.username, "by": user.username})
    notifier.notify_conversation_joined(new.id, {**conv.public(), "unread": conv.lastSeq, "lastReadSeq": 0})
    return {"convId": conv_id, "user": new.public()}


def do_remove_conversation_member(store: Store, notifier: Notifier, announce: Announce, user: User, conv_id: str,
                                  member_id: str) -> User:
    """A member leaves (``member_id`` is their own id), or the conversation's creator or a group admin
    removes them (not someone who outranks the remover: ``outranked``). Returns the user who left."""
    conv, _ = check_conversation_member(store, user, conv_id)
    if member_id != user.id and conv.createdBy != user.id:
        check_group_manager(store, user, conv.groupId)
    gone = store.users.get_user(member_id)
    if gone is not None and member_id != user.id:
        check_outranks(store, user, gone, conv.groupId, "remove")
    if gone is None or not store.conversations.remove_conversation_member(conv_id, member_id):
        raise ApiError(Code.NOT_FOUND, "no such member in this conversation")
    _log(store, user, "remove_member", "conversation", conv_id, {"userId": member_id})
    announce(conv_id, user, "member_left", {"userId": gone.id, "username": gone.username, "by": user.username})
    notifier.notify_conversation_left(gone.id, conv_id, user.id)
    return gone


MEMBERS_LIMIT = 1000  # a member list is one page; groups larger than this need a paginated route


MEMBERS_SCAN_BATCH = 200
MEMBERS_SCAN_LIMIT = 2000  # memberships read for one page of a search, at most: the rest is the next page's


def list_group_members(store: Store, user: User, group_id: str, query: MemberQuery | None = None) -> dict[str, Any]:
    """The group's members with their roles, for its members (and system admins); with a query, one page of
    those whose names match (``search_group_members``)."""
    check_group_member(store, user, group_id)
    if query is not None:
        return search_group_members(store, group_id, query)
    members = store.groups.group_members_of(group_id, MEMBERS_LIMIT)
    users = store.users.users_by_ids(m.userId for m in members)
    return {"groupId": group_id, "members": [{"user": users[m.userId].public(), "role": m.role}
                                             for m in members if m.userId in users]}


def search_group_members(store: Store, group_id: str, query: MemberQuery) -> dict[str, Any]:
    """One page of the group's members whose username, first or last name starts with ``query.q``, in user
    id order. The memberships are read in batches along the (groupId, userId) index and their users by id;
    a page stops at ``limit`` matches or after ``MEMBERS_SCAN_LIMIT`` memberships, so one request costs a
    bounded range of the index whatever the group's size. ``next`` goes into ``after`` for the next page."""
    needle, after, found, scanned = _fold(query.q.removeprefix("@")), query.after, [], 0
    while scanned < MEMBERS_SCAN_LIMIT:
        batch = store.groups.group_members_after(group_id, after, min(MEMBERS_SCAN_BATCH, MEMBERS_SCAN_LIMIT - scanned))
        users = store.users.users_by_ids(m.userId for m in batch)
        for member in batch:
            scanned, after = scanned + 1, member.userId
            if member.userId in users and _name_matches(users[member.userId], needle):
                found.append({"user": users[member.userId].public(), "role": member.role})
                if len(found) == query.limit:
                    break
        if len(found) == query.limit or len(batch) < MEMBERS_SCAN_BATCH:
            break
    more = bool(store.groups.group_members_after(group_id, after, 1)) if batch else False
    return {"groupId": group_id, "members": found, "hasMore": more, "next": after if more else None}


def _fold(text: str) -> str:
    """Lowercase, without accents: "Zoë" and "zoe" match."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _name_matches(user: User, needle: str) -> bool:
    if not needle:
        return True
    names = [user.username, user.fname, user.lname, f"{user.fname} {user.lname}"]
    return any(_fold(name).startswith(needle) for name in names if name)


def list_conversation_members(store: Store, user: User, conv_id: str) -> dict[str, Any]:
    """The conversation's members with their read marks ("seen by", @ suggestions), for its members."""
    check_conversation_member(store, user, conv_id)
    members = store.conversations.conversation_members_of(conv_id, MEMBERS_LIMIT)
    users = store.users.users_by_ids(m.userId for m in members)
    return {"convId": conv_id, "members": [{"user": users[m.userId].public(), "lastReadSeq": m.lastReadSeq,
                                            "lastReadAt": iso(m.lastReadAt)}
                                           for m in members if m.userId in users]}


def list_conversations(store: Store, user: User) -> list[dict[str, Any]]:
    """The user's conversations, newest activity first, each with lastSeq and unread (no message scan), its
    ``kind``, and for a direct one the other person (``peer``)."""
    return with_peers(store, user, [{**conv.public(), "unread": max(0, conv.lastSeq - member.lastReadSeq),
                                     "lastReadSeq": member.lastReadSeq}
                                    for conv, member in store.conversations.conversations_of_user(user.id)])


def session_snapshot(store: Store, user: User) -> dict[str, Any]:
    groups = [{**g.public(), "role": role} for g, role in store.groups.groups_of_user(user.id)]
    return {"user": user.public(), "groups": groups, "conversations": list_conversations(store, user)}


def _user_named(store: Store, username: str) -> User:
    user = store.users.get_user_by_username(username)
    if user is None or not user.active:
        raise ApiError(Code.NOT_FOUND, f"no user named {username}")
    return user


def _group_members_named(store: Store, group_id: str, usernames: list[str]) -> list[User]:
    users = store.users.users_by_usernames(usernames)
    missing = sorted(set(usernames) - set(users))
    if missing:
        raise ApiError(Code.NOT_FOUND, f"no user named {', '.join(missing)}")
    outsiders = sorted(u.username for u in users.values() if store.groups.get_group_member(group_id, u.id) is None)
    if outsiders:
        raise ApiError(Code.FORBIDDEN, f"not members of the group: {', '.join(outsiders)}")
    return list(users.values())


def _log(store: Store, user: User, action: str, resource: str, resource_id: str, changes: dict | None = None):
    store.audit.log_activity(ActivityLog(id=new_id(), userId=user.id, action=action, resource=resource,
                                   resourceId=resource_id, changes=changes, timestamp=utcnow()))
