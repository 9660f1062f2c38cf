"""Socket.IO handlers: authenticate at connect, then validate, authorize, ack and queue each event."""
from __future__ import annotations

import logging
import time
import uuid
from functools import lru_cache, wraps
from typing import Any, Callable

import eventlet
from flask import request
from limits import parse
from flask_socketio import ConnectionRefusedError, SocketIO, join_room, leave_room, rooms
from pydantic import BaseModel, ValidationError

from app.auth import authenticate_session
from app.gate import write_gate
from infra.emitter import ServerEmitter, SocketOrders
from infra.runtime import get_runtime
from pipelines.people import directory
from pipelines.messages import drain as messages
from pipelines.moderation import sanctions as moderation
from pipelines.notifications import stored as notifications
from pipelines.messages import reactions
from pipelines.messages import receipts
from pipelines.people import sessions
from pipelines.policy.access import check_conversation_member
from pipelines.events import Notifier
from pipelines.people.presence import PresenceTracker, PresenceWriter
from pipelines.policy.rate_limits import Action
from pipelines.people.typing import TypingTracker
from schemas import events
from schemas.common import utcnow
from schemas.documents import User
from schemas.errors import ApiError, Code, from_validation_error
from schemas.payloads import (ConvRef, MessageDelete, MessageEdit, MessageSend, NotificationsDelivered, ReactionChange,
                              ReadUpTo)
from workers.enqueue import enqueue_drain

log = logging.getLogger(__name__)

# sid -> the authenticated user of that socket (this process's sockets only).
_users: dict[str, User] = {}
# sid -> when that socket's token expires (seconds since the epoch): the socket is disconnected then.
_expires: dict[str, float] = {}
# sid -> room moves for its user that arrived while its connect handler was joining its rooms.
_joining: dict[str, list[dict]] = {}
_typing: TypingTracker | None = None
_presence: PresenceWriter | None = None
_orders: SocketOrders | None = None
_notifier: Notifier | None = None
_socketio: SocketIO | None = None
_HOST_ID = uuid.uuid4().hex  # this web process, in the socket orders it publishes


def web_notifier() -> Notifier:
    """Events that start in this web process go out through its own Socket.IO server (ServerEmitter)."""
    assert _notifier is not None, "register_socket_handlers() has not run"
    return _notifier


def _typing_tracker() -> TypingTracker:
    global _typing
    if _typing is None:
        rt = get_runtime()
        _typing = TypingTracker(web_notifier(), eventlet.spawn_after, ttl=rt.settings.typing_ttl_seconds)
    return _typing


def _presence_writer(socketio: SocketIO) -> PresenceWriter:
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
        writer.heartbeat([(user.id, sid) for sid, user in list(_users.items())])
        try:
            tracker.do_sweep()
        except Exception:  # noqa: BLE001 - Redis away: the next beat tries again
            log.warning("presence sweep failed", exc_info=True)


def _end_sessions(socketio: SocketIO, now: float) -> None:
    """Disconnect this process's sockets whose token expired or whose user was deactivated, saying why
    first (session:expired)."""
    for ending in sessions.sessions_to_end(get_runtime().store, dict(_users), dict(_expires), now):
        if _expires.pop(ending.sid, None) is None:  # already gone
            continue
        log.info("ending the session of socket %s: %s", ending.sid, ending.reason)
        socketio.emit(events.SESSION_EXPIRED, events.SessionExpired(reason=ending.reason, message=ending.message)
                      .model_dump(), to=ending.sid, ignore_queue=True)
        socketio.server.disconnect(ending.sid, namespace="/", ignore_queue=True)


def _socket_orders() -> SocketOrders:
    """Built at first use, with its subscription (a green thread): orders from the other web processes."""
    global _orders
    if _orders is None:
        assert _socketio is not None, "register_socket_handlers() has not run"
        _orders = SocketOrders(get_runtime().redis, _HOST_ID, _apply_order, sleep=_socketio.sleep,
                               resubscribed=_recheck_rooms)
        _socketio.start_background_task(_orders.listen)
    return _orders


def _apply_order(order: dict) -> None:
    """A room move for a user, applied to the sockets of that user this process holds (after its connect
    handler joined the rooms of its snapshot, for a socket still connecting: the move is newer)."""
    for sid in [sid for sid, user in list(_users.items()) if user.id == order["userId"]]:
        if sid in _joining:
            _joining[sid].append(order)
        else:
            _move(sid, order)


def _recheck_rooms() -> None:
    """Room moves may have been missed (the subscription dropped): each socket of this process leaves the
    rooms its user's memberships no longer justify (two reads per user)."""
    manager, store, left = _socketio.server.manager, get_runtime().store, 0
    rooms_of: dict[str, list[str]] = {}
    for name, members in list(manager.rooms.get("/", {}).items()):  # one pass over the rooms, not one per sid
        for sid in list(members) if isinstance(name, str) else ():  # (None: every connected socket)
            rooms_of.setdefault(sid, []).append(name)
    by_user: dict[str, tuple[User, dict[str, list[str]]]] = {}
    for sid, user in list(_users.items()):
        by_user.setdefault(user.id, (user, {}))[1][sid] = rooms_of.get(sid, [])
    for user, rooms_by_sid in by_user.values():
        for sid, stale in sessions.rooms_to_leave(store, user, rooms_by_sid).items():
            for room in stale:
                manager.leave_room(sid, "/", room)
                left += 1
    log.info("socket orders: subscribed again; %d sockets checked, %d rooms left", len(_users), left)


def _move(sid: str, order: dict) -> None:
    manager = _socketio.server.manager
    (manager.enter_room if order["enter"] else manager.leave_room)(sid, "/", order["room"])


def move_user_sockets(user_id: str, room: str, *, enter: bool) -> None:
    """Make every live socket of the user, on any web process, enter or leave ``room`` (membership
    changed while they were connected): this process's own at once, the others' through Redis."""
    try:
        _socket_orders().publish({"userId": user_id, "room": room, "enter": enter})
    except Exception:  # noqa: BLE001 - the change is stored; their next connect has the right rooms
        log.exception("could not move the sockets of %s %s %s", user_id, "into" if enter else "out of", room)


_parse_limit = lru_cache(maxsize=4)(parse)  # "20/10 seconds" parsed once, not per typing event


def _check_typing(user: User, conv_id: str) -> None:
    """A member of the conversation, within the per-user typing rate."""
    rt = get_runtime()
    if events.conv_room(conv_id) not in rooms():  # subscribed: membership was checked then
        check_conversation_member(rt.store, user, conv_id, _context())
    if not rt.rate_limiter.hit(_parse_limit(rt.settings.typing_rate_limit), "typing", user.id):
        raise ApiError(Code.RATE_LIMITED, f"typing events are limited to {rt.settings.typing_rate_limit}")


def _context() -> dict:
    return {"ip": request.remote_addr, "platform": "socket", "sid": request.sid}


def handler(socketio: SocketIO, event: str, model: type[BaseModel], limit: Action | None = None):
    """Register ``fn(user, payload) -> dict`` for ``event``; every outcome becomes the ack. ``limit``: the
    per-user rate limit the event counts against (``RateLimits``, shared by every web process), checked
    after authentication and validation, before the work."""

    def register(fn: Callable[[User, Any], dict]):
        @wraps(fn)
        def on_event(data=None):
            user = _users.get(request.sid)
            try:
                if user is None:
                    raise ApiError(Code.UNAUTHORIZED, "not authenticated")
                if _expires.get(request.sid, float("inf")) <= time.time():  # the loop disconnects it soon
                    raise ApiError(Code.UNAUTHORIZED, "token expired: sign in again")
                try:
                    payload = model.model_validate(data if data is not None else {})
                except ValidationError as exc:
                    raise from_validation_error(exc) from None
                if limit is not None:
                    get_runtime().rate_limits.check(user.id, limit)
                return {"ok": True, **fn(user, payload)}
            except ApiError as exc:
                return {"ok": False, "error": exc.to_dict()}
            except Exception:  # noqa: BLE001 - the client always gets an answer
                log.exception("socket event %s failed", event)
                return {"ok": False, "error": {"code": Code.UNAVAILABLE.value,
                                               "message": "the server could not handle this event; retry"}}

        socketio.on_event(event, on_event)
        return fn

    return register


def register_socket_handlers(socketio: SocketIO) -> None:
    global _notifier, _typing, _presence, _orders, _socketio
    _notifier, _socketio = Notifier(ServerEmitter(socketio.server)), socketio
    _typing = _presence = _orders = None  # rebuilt on first use, with this server
    @socketio.on("connect")
    def on_connect(auth=None):
        """A client connects with {auth: {token}}: refused unless the token is good; joins user and group rooms."""
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            user, expires = authenticate_session(token)
        except ApiError as exc:
            raise ConnectionRefusedError("unauthorized", {"reason": exc.message}) from None
        sid = request.sid
        _users[sid], _expires[sid], _joining[sid] = user, expires, []
        _socket_orders()  # subscribed from the first socket on: room moves from other web processes
        try:
            snapshot = directory.session_snapshot(get_runtime().store, user)
            join_room(events.user_room(user.id))
            for group in snapshot["groups"]:
                join_room(events.group_room(group["id"]))
            for room in moderation.moderator_rooms(user, snapshot["groups"]):  # content-filter results, reports
                join_room(room)
        finally:
            moves = _joining.pop(sid)
        for order in moves:  # membership changed while the snapshot was read: a ban must not be undone
            _move(sid, order)
        _presence_writer(socketio).submit(user.id, sid, True)  # written (and announced) by its green thread
        # After the handler returns the CONNECT packet goes out; session:ready must follow it. The socket
        # is on this process, so the event skips the Redis message queue (ignore_queue).
        socketio.start_background_task(socketio.emit, events.SESSION_READY,
                                       events.SessionReady(**snapshot).model_dump(), to=sid, ignore_queue=True)

    @socketio.on("disconnect")
    def on_disconnect(reason=None):
        user = _users.pop(request.sid, None)
        _expires.pop(request.sid, None)
        if user:
            _typing_tracker().do_stop_all(user.id, request.sid)
            _presence_writer(socketio).submit(user.id, request.sid, False)

    @handler(socketio, "conv:subscribe", ConvRef)
    def conv_subscribe(user: User, ref: ConvRef) -> dict:
        """A member asks for a conversation's live events: joins conv:{id} after the membership check."""
        check_conversation_member(get_runtime().store, user, ref.convId, _context())
        join_room(events.conv_room(ref.convId))
        return {"convId": ref.convId}

    @handler(socketio, "conv:unsubscribe", ConvRef)
    def conv_unsubscribe(user: User, ref: ConvRef) -> dict:
        """Stop a conversation's live events."""
        leave_room(events.conv_room(ref.convId))
        return {"convId": ref.convId}

    @handler(socketio, "message:send", MessageSend)
    def message_send(user: User, send: MessageSend) -> dict:
        """A member sends: queued at once; message:new (or message:rejected) follows from the worker."""
        rt = get_runtime()
        appended = messages.submit_message(rt.store, rt.inbox, enqueue_drain, user, send, _context(),
                                           rt.settings.inbox_max_backlog, write_gate())
        _pace(socketio, appended.backlog, rt.settings.inbox_soft_backlog)
        return {"clientId": send.clientId, "status": "queued"}

    @handler(socketio, "typing:start", ConvRef)
    def typing_start(user: User, ref: ConvRef) -> dict:
        """A member types: typing:start to the room's other sockets (never queued or stored); it ends
        with typing:stop, a disconnect, or TYPING_TTL_SECONDS after the last start."""
        _check_typing(user, ref.convId)
        _typing_tracker().do_start(ref.convId, user.id, request.sid)
        return {"convId": ref.convId}

    @handler(socketio, "typing:stop", ConvRef)
    def typing_stop(user: User, ref: ConvRef) -> dict:
        """A member stops typing: typing:stop to the room's other sockets, if they were told of a start."""
        _check_typing(user, ref.convId)
        _typing_tracker().do_stop(ref.convId, user.id)
        return {"convId": ref.convId}

    @handler(socketio, "message:edit", MessageEdit)
    def message_edit(user: User, edit: MessageEdit) -> dict:
        """The author edits: queued behind the conversation's earlier sends; message:updated follows."""
        rt = get_runtime()
        messages.submit_change(rt.store, rt.inbox, enqueue_drain, user, edit.messageId, content=edit.content,
                               max_backlog=rt.settings.inbox_max_backlog, gate=write_gate())
        return {"messageId": edit.messageId, "status": "queued"}

    @handler(socketio, "message:delete", MessageDelete, limit="delete")
    def message_delete(user: User, delete: MessageDelete) -> dict:
        """The author, a moderator or a group admin deletes (softly); message:updated follows."""
        rt = get_runtime()
        messages.submit_change(rt.store, rt.inbox, enqueue_drain, user, delete.messageId,
                               max_backlog=rt.settings.inbox_max_backlog)
        return {"messageId": delete.messageId, "status": "queued"}

    @handler(socketio, "reaction:add", ReactionChange, limit="reaction")
    def reaction_add(user: User, change: ReactionChange) -> dict:
        """A member reacts: stored at once (one atomic update), message:updated to the room."""
        rt = get_runtime()
        reactions.do_react(rt.store, web_notifier(), user, change, add=True, gate=write_gate())
        return {"messageId": change.messageId}

    @handler(socketio, "reaction:remove", ReactionChange, limit="reaction")
    def reaction_remove(user: User, change: ReactionChange) -> dict:
        """A member takes a reaction back: message:updated to the room if there was one."""
        rt = get_runtime()
        reactions.do_react(rt.store, web_notifier(), user, change, add=False)
        return {"messageId": change.messageId}

    @handler(socketio, "message:read", ReadUpTo, limit="read")
    def message_read(user: User, read: ReadUpTo) -> dict:
        """A member has read up to seq: the mark moves forward only; message:read goes to the room."""
        rt = get_runtime()
        return {"convId": read.convId, "seq": receipts.do_mark_read(rt.store, web_notifier(), user, read)}

    @handler(socketio, events.NOTIFICATION_DELIVERED, NotificationsDelivered, limit="delivered")
    def notification_delivered(user: User, delivered: NotificationsDelivered) -> dict:
        """A socket received notification:new (or listed them): sent -> delivered; ack {ok, delivered: n}."""
        return {"delivered": notifications.do_mark_delivered(get_runtime().store, user, delivered.ids, utcnow())}


def _pace(socketio: SocketIO, backlog: int, soft_limit: int) -> None:
    """Backpressure: when the workers fall behind, the ack comes later.

    Past the soft limit the ack waits about 2 ms per message waiting beyond it (at most 1 s). A
    socket's events are handled one after another, so its next sends wait too, and the CPU the front
    would spend accepting goes to storing instead; past INBOX_MAX_BACKLOG sends are refused outright.
    """
    excess = backlog - soft_limit
    if excess > 0:
        socketio.sleep(min(1.0, excess * 0.002))
