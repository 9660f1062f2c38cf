"""The sockets one web process holds: whose each one is, when its token expires, which room moves apply to
it, which rooms it must leave after moves may have been missed, and which sessions end now.

The web front (app.sockets) owns the transport (joining rooms, emitting, disconnecting) and passes it in;
this module only decides. A room move is ``{"userId", "room", "enter"}`` (infra.emitter.SocketOrders).
"""
from __future__ import annotations

from typing import Callable, Mapping

from infra.storage import Store
from pipelines.people import sessions
from schemas.documents import User

Move = Callable[[str, dict], None]  # (sid, room move): the socket enters or leaves the room


class LocalSockets:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}     # sid -> the authenticated user of that socket
        self.expires: dict[str, float] = {}  # sid -> when its token expires (seconds since the epoch)
        # sid -> room moves for its user that arrived while its connect handler was joining its rooms
        self._joining: dict[str, list[dict]] = {}

    def connect(self, sid: str, user: User, expires: float) -> None:
        """A socket authenticated; until ``joined`` the room moves for its user wait for it."""
        self.users[sid], self.expires[sid], self._joining[sid] = user, expires, []

    def joined(self, sid: str) -> list[dict]:
        """The socket joined the rooms of its snapshot: the moves that arrived meanwhile, to apply now (they
        are newer: a ban must not be undone)."""
        return self._joining.pop(sid)

    def disconnect(self, sid: str) -> User | None:
        """The socket closed: its user, if it had authenticated."""
        user = self.users.pop(sid, None)
        self.expires.pop(sid, None)
        return user

    def user(self, sid: str) -> User | None:
        return self.users.get(sid)

    def expired(self, sid: str, now: float) -> bool:
        """Its token expired (the session loop disconnects it soon)."""
        return self.expires.get(sid, float("inf")) <= now

    def live(self) -> list[tuple[str, str]]:
        """(user id, sid) of every authenticated socket: what the presence heartbeat keeps alive."""
        return [(user.id, sid) for sid, user in list(self.users.items())]

    def apply(self, order: dict, move: Move) -> None:
        """A room move for a user, applied to the sockets of that user this process holds (after its
        connect handler joined the rooms of its snapshot, for a socket still connecting)."""
        for sid in [sid for sid, user in list(self.users.items()) if user.id == order["userId"]]:
            if sid in self._joining:
                self._joining[sid].append(order)
            else:
                move(sid, order)

    def rooms_to_leave(self, store: Store, rooms_of: Mapping[str, list[str]]) -> dict[str, list[str]]:
        """Of the rooms each socket is in (sid -> rooms), those its user's memberships no longer justify
        (two reads per user): after room moves may have been missed (the subscription dropped)."""
        by_user: dict[str, tuple[User, dict[str, list[str]]]] = {}
        for sid, user in list(self.users.items()):
            by_user.setdefault(user.id, (user, {}))[1][sid] = rooms_of.get(sid, [])
        stale: dict[str, list[str]] = {}
        for user, rooms_by_sid in by_user.values():
            stale.update(sessions.rooms_to_leave(store, user, rooms_by_sid))
        return stale

    def sessions_to_end(self, store: Store, now: float) -> list[sessions.Ending]:
        """The sockets whose token expired or whose user was deactivated, each once: to tell why
        (session:expired) and disconnect."""
        endings = sessions.sessions_to_end(store, dict(self.users), dict(self.expires), now)
        return [ending for ending in endings if self.expires.pop(ending.sid, None) is not None]
