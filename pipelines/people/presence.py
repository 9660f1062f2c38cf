"""Presence: online while at least one socket is live, on any web process; offline with ``lastSeen``
when the last one closes (seed 003). Ephemeral: kept in Redis (infra.presence), never queued or stored.

``presence:update`` goes to each ``group:{id}`` room of the user, so it reaches exactly the members of
the user's groups.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from infra.presence import Change, PresenceRegistry
from infra.storage import Store
from pipelines.events import Notifier
from pipelines.people.directory import MEMBERS_LIMIT
from pipelines.policy.access import check_group_member
from schemas.common import iso, utcnow
from schemas.documents import User
from schemas.events import PresenceUpdate

log = logging.getLogger(__name__)


class PresenceTracker:
    def __init__(self, registry: PresenceRegistry, store: Store, notifier: Notifier) -> None:
        self.registry, self.store, self.notifier = registry, store, notifier

    def do_connect(self, user_id: str, sid: str) -> bool:
        """A socket opened; announces ``online`` when it is the user's first. True when announced."""
        return self.do_changes([Change(user_id, sid, True)]) == 1

    def do_disconnect(self, user_id: str, sid: str) -> bool:
        """A socket closed; announces ``offline`` when it was the user's last. True when announced."""
        return self.do_changes([Change(user_id, sid, False)]) == 1

    def do_changes(self, changes: list[Change]) -> int:
        """Sockets opened and closed, recorded in one round trip; announces each user's transitions, to
        each group of theirs in one event for all of them (``presence:batch`` when there are several: a
        storm of connects would otherwise send every socket of a group one frame per member).
        Returns how many were announced."""
        now = iso(utcnow())
        flips = [c for c, flipped in zip(changes, self.registry.apply(changes, now)) if flipped]
        groups = self.store.groups.group_ids_of_users([c.user_id for c in flips]) if flips else {}
        by_group: dict[str, list[PresenceUpdate]] = {}
        for c in flips:
            data = PresenceUpdate(userId=c.user_id, status="online" if c.online else "offline", lastSeen=now)
            for group_id in groups.get(c.user_id, ()):
                by_group.setdefault(group_id, []).append(data)
        with self.notifier.batch():
            for group_id, group_changes in by_group.items():
                self.notifier.notify_presence(group_id, group_changes)
        return len(flips)

    def do_heartbeat(self, sockets: Iterable[tuple[str, str]]) -> int:
        """Keep this process's live sockets alive in Redis, and register again those it lost (Redis
        restarted empty, or was away longer than the TTL and another process swept them); those users
        are announced online again if the loss had made them offline. Returns how many were lost."""
        lost = self.registry.heartbeat(sockets)
        if lost:
            log.warning("presence: %d live sockets were missing from Redis; registered again", len(lost))
            self.do_changes([Change(user_id, sid, True) for user_id, sid in lost])
        return len(lost)

    def do_sweep(self) -> int:
        """Close the sockets of web processes that stopped refreshing them (crashed); returns how many
        users went offline because of it. Safe to run in every web process at once."""
        return self.do_changes([Change(user_id, sid, False) for user_id, sid in self.registry.expired()])


@dataclass(frozen=True)
class _Heartbeat:
    sockets: list[tuple[str, str]]


class PresenceWriter:
    """This web process's presence writes (connects and disconnects, heartbeats), made in order by one
    green thread, the changes in batches.

    A storm (4,000 sockets closing at once, or reconnecting after a restart) is then a few pipelines on
    one Redis connection instead of 4,000 scripts competing for the pool, and the announcements go out
    from that thread one after another. A heartbeat runs after every change queued before it, so a
    socket whose connect is still queued is never taken for one the registry lost. A write that fails
    (Redis away) is logged and dropped: closed sockets expire and are swept, open ones are registered
    again by the next heartbeat.
    """

    def __init__(self, tracker: PresenceTracker, spawn: Callable[[Callable[[], None]], Any], batch: int = 500) -> None:
        self.tracker, self.spawn, self.batch = tracker, spawn, batch
        self._pending: list[Change | _Heartbeat] = []
        self._running = False

    def submit(self, user_id: str, sid: str, online: bool) -> None:
        self._queue(Change(user_id, sid, online))

    def heartbeat(self, sockets: list[tuple[str, str]]) -> None:
        """Refresh these live (userId, sid) sockets, once what was queued before is written."""
        self._queue(_Heartbeat(sockets))

    def _queue(self, item: Change | _Heartbeat) -> None:
        self._pending.append(item)
        if not self._running:
            self._running = True
            self.spawn(self._drain)

    def _drain(self) -> None:
        try:
            while self._pending:
                head = self._pending[0]
                if isinstance(head, _Heartbeat):
                    self._pending.pop(0)
                    self._write(self.tracker.do_heartbeat, head.sockets)
                    continue
                n = next((i for i, x in enumerate(self._pending[:self.batch]) if isinstance(x, _Heartbeat)),
                         min(len(self._pending), self.batch))
                batch, self._pending = self._pending[:n], self._pending[n:]
                self._write(self.tracker.do_changes, batch)
        finally:
            self._running = False

    @staticmethod
    def _write(write: Callable[[list], Any], items: list) -> None:
        try:
            write(items)
        except Exception:  # noqa: BLE001 - see the class: the heartbeat and the sweep repair it
            log.warning("presence: %s of %d sockets failed", write.__name__, len(items), exc_info=True)


def group_presence(store: Store, registry: PresenceRegistry, user: User, group_id: str) -> dict[str, Any]:
    """The current presence of a group's members, for its members."""
    check_group_member(store, user, group_id)
    member_ids = [m.userId for m in store.groups.group_members_of(group_id, MEMBERS_LIMIT)]
    now = iso(utcnow())
    return {"groupId": group_id, "presence": [
        {"userId": uid, "status": "online" if s.online else "offline", "lastSeen": now if s.online else s.last_seen}
        for uid, s in registry.status(member_ids).items()]}
