"""Presence: online while at least one socket is live, on any web process; offline with ``lastSeen``
when the last one closes (seed 003). Ephemeral: kept in Redis (infra.presence), never queued or stored.

``presence:update`` goes to each ``group:{id}`` room of the user, so it reaches exactly the members of
the user's groups.
"""
from __future__ import annotations

from typing import Any, Iterable

from infra.presence import PresenceRegistry
from infra.store import Store
from pipelines.access import check_group_member
from pipelines.directory import MEMBERS_LIMIT
from pipelines.notify import Notifier
from schemas.common import iso, utcnow
from schemas.documents import User
from schemas.events import PresenceUpdate


class PresenceTracker:
    def __init__(self, registry: PresenceRegistry, store: Store, notifier: Notifier) -> None:
        self.registry, self.store, self.notifier = registry, store, notifier

    def do_connect(self, user_id: str, sid: str) -> bool:
        """A socket opened; announces ``online`` when it is the user's first. True when announced."""
        if not self.registry.connect(user_id, sid):
            return False
        self._announce(user_id, "online", iso(utcnow()))
        return True

    def do_disconnect(self, user_id: str, sid: str) -> bool:
        """A socket closed; announces ``offline`` when it was the user's last. True when announced."""
        now = iso(utcnow())
        if not self.registry.disconnect(user_id, sid, now):
            return False
        self._announce(user_id, "offline", now)
        return True

    def do_heartbeat(self, sockets: Iterable[tuple[str, str]]) -> None:
        """Keep this process's live sockets alive in Redis."""
        self.registry.heartbeat(sockets)

    def do_sweep(self) -> int:
        """Close the sockets of web processes that stopped refreshing them (crashed); returns how many
        users went offline because of it. Safe to run in every web process at once."""
        return sum(self.do_disconnect(user_id, sid) for user_id, sid in self.registry.expired())

    def _announce(self, user_id: str, status: str, last_seen: str) -> None:
        data = PresenceUpdate(userId=user_id, status=status, lastSeen=last_seen).model_dump()
        with self.notifier.batch():
            for group_id in self.store.group_ids_of_user(user_id):
                self.notifier.notify_presence(group_id, data)


def group_presence(store: Store, registry: PresenceRegistry, user: User, group_id: str) -> dict[str, Any]:
    """The current presence of a group's members, for its members."""
    check_group_member(store, user, group_id)
    member_ids = [m.userId for m in store.group_members_of(group_id, MEMBERS_LIMIT)]
    now = iso(utcnow())
    return {"groupId": group_id, "presence": [
        {"userId": uid, "status": "online" if s.online else "offline", "lastSeen": now if s.online else s.last_seen}
        for uid, s in registry.status(member_ids).items()]}
