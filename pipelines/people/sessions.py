"""Which of a web process's sockets must end (their token expired, or their user is deactivated or gone),
and which rooms they must leave when the room moves published meanwhile may have been missed.

The web process holds its sockets (sid -> user, and when the token expires); its presence loop asks this
every ``PRESENCE_TTL_SECONDS / 3`` and disconnects the answer after telling each socket why
(``session:expired``). The database is asked once for all the users of the process (``_id $in``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from infra.storage import Store
from pipelines.moderation.moderators import moderator_rooms
from schemas import events
from schemas.documents import User

MEMBERSHIP_ROOMS = ("conv:", "group:", "mod:")  # rooms a socket holds because of a membership or a role

REASONS = {"token_expired": "your session has expired: sign in again",
           "deactivated": "this account is deactivated"}


@dataclass(frozen=True)
class Ending:
    sid: str
    reason: str  # a key of REASONS

    @property
    def message(self) -> str:
        return REASONS[self.reason]


def sessions_to_end(store: Store, users: Mapping[str, User], expires: Mapping[str, float], now: float) -> list[Ending]:
    """The sockets (sid -> user, sid -> token expiry in seconds since the epoch) to disconnect, and why."""
    endings = [Ending(sid, "token_expired") for sid, at in expires.items() if at <= now]
    ending = {e.sid for e in endings}
    current = store.users.users_by_ids({user.id for user in users.values()}) if users else {}
    return endings + [Ending(sid, "deactivated") for sid, user in users.items()
                      if sid not in ending and not getattr(current.get(user.id), "active", False)]


def rooms_to_leave(store: Store, user: User, rooms_by_sid: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Of the rooms of the user's sockets (sid -> rooms), those the user's current memberships and roles no
    longer justify: after a web process may have missed room moves (its subscription to them dropped)."""
    groups = [{"id": group.id, "role": role} for group, role in store.groups.groups_of_user(user.id)]
    allowed = ({events.group_room(g["id"]) for g in groups} | set(moderator_rooms(user, groups))
               | {events.conv_room(conv.id) for conv, _ in store.conversations.conversations_of_user(user.id)})
    return {sid: [r for r in rooms if r.startswith(MEMBERSHIP_ROOMS) and r not in allowed]
            for sid, rooms in rooms_by_sid.items()}
