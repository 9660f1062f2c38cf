"""Socket.IO events: authenticate at connect, then validate, authorize, ack and queue each event (one small
function per area registers its handlers; app.sockets holds the plumbing)."""
from __future__ import annotations

from functools import lru_cache

from flask import request
from flask_socketio import ConnectionRefusedError, SocketIO, join_room, leave_room, rooms
from limits import parse

from app.auth import authenticate_session
from app.gate import gif_sending, write_gate
from app.handshakes import release_handshake
from app.sockets import (bind, context, handler, local, move, pace, presence_writer, socket_orders, typing_tracker,
                         web_notifier)
from infra.runtime import get_runtime
from pipelines.messages import reactions, receipts
from pipelines.messages.submit import submit_change, submit_message
from pipelines.moderation.moderators import moderator_rooms
from pipelines.moderation.sanctions import active_sanctions
from pipelines.notifications.stored import do_mark_delivered
from pipelines.people.directory import session_snapshot
from pipelines.policy.access import check_conversation_member
from schemas import events
from schemas.common import utcnow
from schemas.documents import User
from schemas.errors import ApiError, Code
from schemas.payloads import (ConvRef, MessageDelete, MessageEdit, MessageSend, NotificationsDelivered, ReactionChange, ReactionRemove,
                              ReadUpTo)
from workers.enqueue import enqueue_drain


def register_socket_handlers(socketio: SocketIO) -> None:
    bind(socketio)
    _register_session(socketio)
    _register_conversations(socketio)
    _register_messages(socketio)
    _register_typing(socketio)
    _register_reactions_and_receipts(socketio)
    _register_notifications(socketio)


def _register_session(socketio: SocketIO) -> None:
    @socketio.on("connect")
    def on_connect(auth=None):
        """A client connects with {auth: {token}}: refused unless the token is good; joins user and group rooms."""
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            try:
                user, expires = authenticate_session(token)
            except ApiError as exc:
                raise ConnectionRefusedError("unauthorized", {"reason": exc.message}) from None
            snapshot = _join_rooms(request.sid, user, expires)
            presence_writer(socketio).submit(user.id, request.sid, True)  # written (and announced) by its green thread
            _send_ready(socketio, request.sid, snapshot)
        finally:
            release_handshake(request.environ)  # the next waiting handshake may start (app/handshakes.py)

    @socketio.on("disconnect")
    def on_disconnect(reason=None):
        user = local.disconnect(request.sid)
        if user:
            typing_tracker().do_stop_all(user.id, request.sid)
            presence_writer(socketio).submit(user.id, request.sid, False)


def _join_rooms(sid: str, user: User, expires: float) -> dict:
    """The socket joins its user's rooms, then applies the room moves that arrived meanwhile (membership
    changed while the snapshot was read: a ban must not be undone). Returns the session snapshot."""
    local.connect(sid, user, expires)
    socket_orders()  # subscribed from the first socket on: room moves from other web processes
    try:
        store = get_runtime().store
        snapshot = {**session_snapshot(store, user), "sanctions": active_sanctions(store, user.id)}
        join_room(events.user_room(user.id))
        for group in snapshot["groups"]:
            join_room(events.group_room(group["id"]))
        for room in moderator_rooms(user, snapshot["groups"]):  # content-filter results, reports
            join_room(room)
    finally:
        moves = local.joined(sid)
    for order in moves:
        move(sid, order)
    return snapshot


def _send_ready(socketio: SocketIO, sid: str, snapshot: dict) -> None:
    """After the connect handler returns the CONNECT packet goes out; session:ready must follow it. The
    socket is on this process, so the event skips the Redis message queue (ignore_queue)."""
    limits = events.SessionLimits(maxMessageChars=get_runtime().settings.max_message_chars)
    ready = events.SessionReady(**snapshot, limits=limits).model_dump()
    socketio.start_background_task(socketio.emit, events.SESSION_READY, ready, to=sid, ignore_queue=True)


def _register_conversations(socketio: SocketIO) -> None:
    @handler(socketio, "conv:subscribe", ConvRef)
    def conv_subscribe(user: User, ref: ConvRef) -> dict:
        """A member asks for a conversation's live events: joins conv:{id} after the membership check."""
        check_conversation_member(get_runtime().store, user, ref.convId, context())
        join_room(events.conv_room(ref.convId))
        return {"convId": ref.convId}

    @handler(socketio, "conv:unsubscribe", ConvRef)
    def conv_unsubscribe(user: User, ref: ConvRef) -> dict:
        """Stop a conversation's live events."""
        leave_room(events.conv_room(ref.convId))
        return {"convId": ref.convId}


def _register_messages(socketio: SocketIO) -> None:
    @handler(socketio, "message:send", MessageSend)
    def message_send(user: User, send: MessageSend) -> dict:
        """A member sends: queued at once; message:new (or message:rejected) follows from the worker."""
        rt = get_runtime()
        appended = submit_message(rt.store, rt.inbox, enqueue_drain, user, send, context(),
                                  rt.settings.inbox_max_backlog, write_gate(), gif_sending())
        pace(socketio, appended.backlog, rt.settings.inbox_soft_backlog)
        return {"clientId": send.clientId, "status": "queued"}

    @handler(socketio, "message:edit", MessageEdit)
    def message_edit(user: User, edit: MessageEdit) -> dict:
        """The author edits: queued behind the conversation's earlier sends; message:updated follows."""
        rt = get_runtime()
        submit_change(rt.store, rt.inbox, enqueue_drain, user, edit.messageId, content=edit.content,
                      max_backlog=rt.settings.inbox_max_backlog, gate=write_gate())
        return {"messageId": edit.messageId, "status": "queued"}

    @handler(socketio, "message:delete", MessageDelete, limit="delete")
    def message_delete(user: User, delete: MessageDelete) -> dict:
        """The author, a moderator or a group admin deletes (softly); message:updated follows."""
        rt = get_runtime()
        submit_change(rt.store, rt.inbox, enqueue_drain, user, delete.messageId,
                      max_backlog=rt.settings.inbox_max_backlog)
        return {"messageId": delete.messageId, "status": "queued"}


_parse_limit = lru_cache(maxsize=4)(parse)  # "20/10 seconds" parsed once, not per typing event


def _check_typing(user: User, conv_id: str) -> None:
    """A member of the conversation, within the per-user typing rate."""
    rt = get_runtime()
    if events.conv_room(conv_id) not in rooms():  # subscribed: membership was checked then
        check_conversation_member(rt.store, user, conv_id, context())
    if not rt.rate_limiter.hit(_parse_limit(rt.settings.typing_rate_limit), "typing", user.id):
        raise ApiError(Code.RATE_LIMITED, f"typing events are limited to {rt.settings.typing_rate_limit}")


def _register_typing(socketio: SocketIO) -> None:
    @handler(socketio, "typing:start", ConvRef)
    def typing_start(user: User, ref: ConvRef) -> dict:
        """A member types: typing:start to the room's other sockets (never queued or stored); it ends
        with typing:stop, a disconnect, or TYPING_TTL_SECONDS after the last start."""
        _check_typing(user, ref.convId)
        typing_tracker().do_start(ref.convId, user.id, request.sid)
        return {"convId": ref.convId}

    @handler(socketio, "typing:stop", ConvRef)
    def typing_stop(user: User, ref: ConvRef) -> dict:
        """A member stops typing: typing:stop to the room's other sockets, if they were told of a start."""
        _check_typing(user, ref.convId)
        typing_tracker().do_stop(ref.convId, user.id)
        return {"convId": ref.convId}


def _register_reactions_and_receipts(socketio: SocketIO) -> None:
    @handler(socketio, "reaction:add", ReactionChange, limit="reaction")
    def reaction_add(user: User, change: ReactionChange) -> dict:
        """A member reacts: stored at once (one atomic update), message:updated to the room."""
        reactions.do_react(get_runtime().store, web_notifier(), user, change, add=True, gate=write_gate())
        return {"messageId": change.messageId}

    @handler(socketio, "reaction:remove", ReactionRemove, limit="reaction")
    def reaction_remove(user: User, change: ReactionRemove) -> dict:
        """A member takes a reaction back: message:updated to the room if there was one."""
        reactions.do_react(get_runtime().store, web_notifier(), user, change, add=False)
        return {"messageId": change.messageId}

    @handler(socketio, "message:read", ReadUpTo, limit="read")
    def message_read(user: User, read: ReadUpTo) -> dict:
        """A member has read up to seq: the mark moves forward only; message:read goes to the room."""
        return {"convId": read.convId, "seq": receipts.do_mark_read(get_runtime().store, web_notifier(), user, read)}


def _register_notifications(socketio: SocketIO) -> None:
    @handler(socketio, events.NOTIFICATION_DELIVERED, NotificationsDelivered, limit="delivered")
    def notification_delivered(user: User, delivered: NotificationsDelivered) -> dict:
        """A socket received notification:new (or listed them): sent -> delivered; ack {ok, delivered: n}."""
        return {"delivered": do_mark_delivered(get_runtime().store, user, delivered.ids, utcnow())}
