"""The web process's Socket.IO plumbing: its sockets (pipelines.people.rooms.LocalSockets), the event sender
of events that start here, room moves across web processes, the session loop, and ``handler``, which turns
every outcome of an event into its ack. The events themselves are in app.socket_events."""
from __future__ import annotations

import logging
import time
import uuid
from functools import wraps
from typing import Any, Callable

import eventlet
from flask import request
from flask_socketio import SocketIO
from pydantic import BaseModel

from app.http import validated
from infra.emitter import ServerEmitter, SocketOrders
from infra.metrics import ACK_SECONDS, EVENTS_RECEIVED, SOCKETS_CONNECTED
from infra.runtime import get_runtime
from pipelines.events import Notifier
from pipelines.people.presence import PresenceTracker, PresenceWriter
from pipelines.people.rooms import LocalSockets
from pipelines.people.typing import TypingTracker
from pipelines.policy.rate_limits import Action
from schemas import events
from schemas.documents import User
from schemas.errors import ApiError, Code

log = logging.getLogger(__name__)

local = LocalSockets()  # this process's sockets only
# Read at each scrape from the signed-in sockets this process holds: exact, and nothing to do per connect.
SOCKETS_CONNECTED.set_function(lambda: len(local.users))
_typing: TypingTracker | None = None
_presence: PresenceWriter | None = None
_orders: SocketOrders | None = None
_notifier: Notifier | None = None
_socketio: SocketIO | None = None
_HOST_ID = uuid.uuid4().hex  # this web process, in the socket orders it publishes


def bind(socketio: SocketIO) -> None:
    """The server this process's sockets are on; what is built from it is rebuilt on first use."""
    global _notifier, _typing, _presence, _orders, _socketio
    _notifier, _socketio = Notifier(ServerEmitter(socketio.server)), socketio
    _typing = _presence = _orders = None


def web_notifier() -> Notifier:
    """Events that start in this web process go out through its own Socket.IO server (ServerEmitter)."""
    assert _notifier is not None, "register_socket_handlers() has not run"
    return _notifier


def typing_tracker() -> TypingTracker:
    global _typing
    if _typing is None:
        rt = get_runtime()
        _typing = TypingTracker(web_notifier(), eventlet.spawn_after, ttl=rt.settings.typing_ttl_seconds)
    return _typing


def presence_writer(socketio: SocketIO) -> PresenceWriter:
    """Built at the first connect, with the loop that keeps this process's sockets alive in Redis,
    sweeps those of web processes that died and ends the sessions that must end."""
    global _presence
    if _presence is None:
        rt = get_runtime()
        tracker = PresenceTracker(rt.presence, rt.store, web_notifier())
        _presence = PresenceWriter(tracker, socketio.start_background_task)
        socketio.start_background_task(_presence_loop, socketio, _presence, tracker,
                                       rt.settings.presence_ttl_seconds / 3)
    return _presence


def _presence_loop(socketio: SocketIO, writer: PresenceWriter, tracker: PresenceTracker, every: float) -> None:
    while True:
        socketio.sleep(every)
        try:
            _end_sessions(socketio, time.time())
        except Exception:  # noqa: BLE001 - the store away: the next beat tries again (tokens still expire)
            log.warning("could not check the sessions of this process's sockets", exc_info=True)
        writer.heartbeat(local.live())
        try:
            tracker.do_sweep()
        except Exception:  # noqa: BLE001 - Redis away: the next beat tries again
            log.warning("presence sweep failed", exc_info=True)


def _end_sessions(socketio: SocketIO, now: float) -> None:
    """Disconnect this process's sockets whose token expired or whose user was deactivated, saying why
    first (session:expired)."""
    for ending in local.sessions_to_end(get_runtime().store, now):
        log.info("ending the session of socket %s: %s", ending.sid, ending.reason)
        socketio.emit(events.SESSION_EXPIRED, events.SessionExpired(reason=ending.reason, message=ending.message)
                      .model_dump(), to=ending.sid, ignore_queue=True)
        socketio.server.disconnect(ending.sid, namespace="/", ignore_queue=True)


def socket_orders() -> SocketOrders:
    """Built at first use, with its subscription (a green thread): orders from the other web processes."""
    global _orders
    if _orders is None:
        assert _socketio is not None, "register_socket_handlers() has not run"
        _orders = SocketOrders(get_runtime().redis, _HOST_ID, lambda order: local.apply(order, move),
                               sleep=_socketio.sleep, resubscribed=_recheck_rooms)
        _socketio.start_background_task(_orders.listen)
    return _orders


def _recheck_rooms() -> None:
    """Room moves may have been missed (the subscription dropped): each socket of this process leaves the
    rooms its user's memberships no longer justify."""
    manager, left = _socketio.server.manager, 0
    rooms_of: dict[str, list[str]] = {}
    for name, members in list(manager.rooms.get("/", {}).items()):  # one pass over the rooms, not one per sid
        for sid in list(members) if isinstance(name, str) else ():  # (None: every connected socket)
            rooms_of.setdefault(sid, []).append(name)
    for sid, stale in local.rooms_to_leave(get_runtime().store, rooms_of).items():
        for room in stale:
            manager.leave_room(sid, "/", room)
            left += 1
    log.info("socket orders: subscribed again; %d sockets checked, %d rooms left", len(local.users), left)


def move(sid: str, order: dict) -> None:
    manager = _socketio.server.manager
    (manager.enter_room if order["enter"] else manager.leave_room)(sid, "/", order["room"])


def move_user_sockets(user_id: str, room: str, *, enter: bool) -> None:
    """Make every live socket of the user, on any web process, enter or leave ``room`` (membership
    changed while they were connected): this process's own at once, the others' through Redis."""
    try:
        socket_orders().publish({"userId": user_id, "room": room, "enter": enter})
    except Exception:  # noqa: BLE001 - the change is stored; their next connect has the right rooms
        log.exception("could not move the sockets of %s %s %s", user_id, "into" if enter else "out of", room)


def context() -> dict:
    """The activity log's context of the event being handled."""
    return {"ip": request.remote_addr, "platform": "socket", "sid": request.sid}


def handler(socketio: SocketIO, event: str, model: type[BaseModel], limit: Action | None = None):
    """Register ``fn(user, payload) -> dict`` for ``event``; every outcome becomes the ack. ``limit``: the
    per-user rate limit the event counts against (``RateLimits``, shared by every web process), checked
    after authentication and validation, before the work."""

    received, ack_seconds = EVENTS_RECEIVED.labels(event), ACK_SECONDS.labels(event)  # bound once: per event, an add

    def register(fn: Callable[[User, Any], dict]):
        @wraps(fn)
        def on_event(data=None):
            arrived = time.perf_counter()
            received.inc()
            try:
                user = _authenticated(request.sid)
                payload = validated(model, data if data is not None else {})
                if limit is not None:
                    get_runtime().rate_limits.check(user.id, limit)
                return {"ok": True, **fn(user, payload)}
            except ApiError as exc:
                return {"ok": False, "error": exc.to_dict()}
            except Exception:  # noqa: BLE001 - the client always gets an answer
                log.exception("socket event %s failed", event)
                return {"ok": False, "error": {"code": Code.UNAVAILABLE.value,
                                               "message": "the server could not handle this event; retry"}}
            finally:
                ack_seconds.observe(time.perf_counter() - arrived)

        socketio.on_event(event, on_event)
        return fn

    return register


def _authenticated(sid: str) -> User:
    user = local.user(sid)
    if user is None:
        raise ApiError(Code.UNAUTHORIZED, "not authenticated")
    if local.expired(sid, time.time()):  # the session loop disconnects it soon
        raise ApiError(Code.UNAUTHORIZED, "token expired: sign in again")
    return user


def pace(socketio: SocketIO, backlog: int, soft_limit: int) -> None:
    """Backpressure: when the workers fall behind, the ack comes later.

    Past the soft limit the ack waits about 2 ms per message waiting beyond it (at most 1 s). A
    socket's events are handled one after another, so its next sends wait too, and the CPU the front
    would spend accepting goes to storing instead; past INBOX_MAX_BACKLOG sends are refused outright.
    """
    excess = backlog - soft_limit
    if excess > 0:
        socketio.sleep(min(1.0, excess * 0.002))
