"""Direct conversations: the one conversation of a pair of people who share a group
(POST /api/direct-conversations), and the other person of each, for the lists.

Which group it belongs to: the oldest group the two share when it is made (the same whoever asks). It stays
in that group: its moderators moderate it, its rules filter it, its admins may export it. When one of the two
leaves that group (removed, banned), they leave its conversations, this one too, like any other; asking again
while both are members of that group again brings them back into it, with its history. While they do not
share it, asking is refused (``not_a_member``, or ``banned``), even if they share another group: a pair has
one direct conversation, never a second one elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.moderation.sanctions import active_mute_until, check_not_banned
from pipelines.people.group_settings import mark_encrypted
from schemas.common import new_id, utcnow
from schemas.documents import ActivityLog, Conversation, ConversationMember, User
from schemas.errors import ApiError, Code
from schemas.payloads import DirectConversationCreate


@dataclass
class Direct:
    """The pair's conversation as its requester sees it, whether this request made it, and who came (back)
    into it (their sockets enter its room)."""
    conversation: dict[str, Any]
    created: bool
    joined: list[str] = field(default_factory=list)


def direct_key(a: str, b: str) -> str:
    return ":".join(sorted((a, b)))


def do_start_direct(store: Store, notifier: Notifier, user: User, request: DirectConversationCreate) -> Direct:
    """The pair's direct conversation: made in their oldest shared group the first time (of two concurrent
    requests, the unique ``directKey`` lets one store it; the other reads it), the same one afterwards."""
    other = store.users.get_user_by_username(request.username)
    if other is None or not other.active:
        raise ApiError(Code.NOT_FOUND, f"no user named {request.username}")
    if other.id == user.id:
        raise ApiError(Code.DIRECT_SELF, "a direct conversation needs someone else")
    key = direct_key(user.id, other.id)
    conv = store.conversations.get_direct(key)
    if conv is None:
        group_id = _oldest_shared_group(store, user, other)
        conv, members = _new_direct(store, group_id, key, user, other)
        if store.conversations.insert_direct(conv, members):
            mark_encrypted(store, conv)
            _log(store, user, conv.id, other.id)
            notifier.notify_conversation_joined(other.id, _payload(conv, user))
            return Direct(_payload(conv, other), True, [user.id, other.id])
        conv = store.conversations.get_direct(key)
    for person in (user, other):
        check_not_banned(store, conv.groupId, person)
        if store.groups.get_group_member(conv.groupId, person.id) is None:
            who = "you are" if person is user else f"{other.username} is"
            raise ApiError(Code.NOT_A_MEMBER, f"{who} no longer a member of the group of this direct conversation")
    joined = [p.id for p in (user, other) if store.conversations.insert_conversation_member(
        _member(store, conv, p.id, utcnow()))]
    if other.id in joined:
        notifier.notify_conversation_joined(other.id, _payload(conv, user))
    return Direct(_payload(conv, other, store.conversations.get_conversation_member(conv.id, user.id)), False, joined)


def with_peers(store: Store, user: User, conversations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation payloads of a list, each direct one with ``peer``, the other person (one read for
    all), and titled by them: each of the two sees the other's name (the stored title names both)."""
    peer_ids = {pid for c in conversations if c.get("kind") == "direct" for pid in c.get("directUserIds") or ()
                if pid != user.id}
    if not peer_ids:
        return conversations
    peers = store.users.users_by_ids(peer_ids)
    for c in conversations:
        if c.get("kind") == "direct":
            peer = next((peers[p] for p in c.get("directUserIds") or () if p in peers), None)
            c["peer"] = peer.public() if peer else None
            c["title"] = _name(peer) if peer else c["title"]
    return conversations


def _oldest_shared_group(store: Store, user: User, other: User) -> str:
    shared = set(store.groups.group_ids_of_user(user.id)) & set(store.groups.group_ids_of_user(other.id))
    if not shared:
        raise ApiError(Code.NOT_A_MEMBER, f"you and {other.username} share no group")
    groups = store.groups.groups_by_ids(shared)
    return min(groups.values(), key=lambda g: (g.createdAt, g.id)).id


def _new_direct(store: Store, group_id: str, key: str, user: User, other: User):
    now = utcnow()
    pair = sorted((user, other), key=lambda u: u.id)
    conv = Conversation(id=new_id(), groupId=group_id, title=", ".join(u.username for u in pair), createdBy=user.id,
                        createdAt=now, kind="direct", directKey=key, directUserIds=[u.id for u in pair])
    return conv, [_member(store, conv, u.id, now) for u in pair]


def _member(store: Store, conv: Conversation, user_id: str, at) -> ConversationMember:
    return ConversationMember(id=new_id(), convId=conv.id, userId=user_id, groupId=conv.groupId, joinedAt=at,
                              mutedUntil=active_mute_until(store, conv.groupId, user_id))


def _payload(conv: Conversation, peer: User, member: ConversationMember | None = None) -> dict[str, Any]:
    read = member.lastReadSeq if member is not None else 0
    return {**conv.public(), "title": _name(peer), "unread": max(0, conv.lastSeq - read), "lastReadSeq": read,
            "peer": peer.public()}


def _name(user: User) -> str:
    return " ".join(p for p in (user.fname, user.lname) if p) or user.username


def _log(store: Store, user: User, conv_id: str, other_id: str) -> None:
    store.audit.log_activity(ActivityLog(id=new_id(), userId=user.id, action="create", resource="conversation",
                                         resourceId=conv_id, changes={"direct": other_id}, timestamp=utcnow()))
