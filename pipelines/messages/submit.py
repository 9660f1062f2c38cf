"""The web side of the message path: sends, edits, deletions and system messages admitted and appended to
the conversation's inbox, in the order accepted; the drain (pipelines.messages.drain) stores them."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from redis import Redis

from infra.inbox import Appended, Inbox, RateWindow
from infra.storage import Store
from pipelines.media.attachments import check_attachments
from pipelines.media.remote import GifLimits, do_create_gif_media, do_drop_gif_media
from pipelines.policy.access import check_conversation_member, check_may_moderate_content, check_owner, is_moderator
from pipelines.policy.gate import Gate
from schemas.common import new_id, utcnow
from schemas.documents import SystemAction, User, system_text
from schemas.errors import ApiError, Code
from schemas.payloads import MessageSend
from schemas.tasks import InboxEntry

log = logging.getLogger(__name__)

REVIEW_DELETE = "delete:review:"   # the clientId prefix of a review decision's deletion (pipelines.moderation.reviews)


@dataclass(frozen=True)
class GifSending:
    """What a GIF send needs besides a send's I/O: the offers (Redis), the bounds, and the media queue."""
    redis: Redis
    limits: GifLimits
    enqueue_process: Callable[[str], None]


def submit_message(store: Store, inbox: Inbox, enqueue_drain: Callable[[str], None], user: User,
                   send: MessageSend, context: dict | None = None, max_backlog: int = 5000,
                   gate: Gate | None = None, gifs: GifSending | None = None) -> Appended:
    """Admit a send through the write gate (member, not banned, not muted, under the per-user rate) and
    queue it; returns where it went and the backlog behind it. Nothing is queued when a check fails. The
    text meets the group's filter in the drain, once (``InboxWriter.screen``, pipelines.messages.writer).

    A conversation whose inbox already holds ``max_backlog`` sends refuses more (``rate_limited``):
    the workers are behind, and growing the queue without bound only makes every message later.

    A GIF send (``gif``) carries a file made now, in ``processing``, like an attachment still being
    processed: the message is queued at once with it, and its copy into S3 on the media queue
    (pipelines.media.remote); the message is updated when the file is ready or refused.
    """
    gate = gate or Gate(store)
    admitted = gate.conversation(user, send.convId, "send", context)
    if send.replyTo is not None and not store.messages.message_exists(send.replyTo, send.convId):
        raise ApiError(Code.NOT_FOUND, "replyTo must name a message of the same conversation")
    if send.attachments:
        check_attachments(store, user, send.convId, send.attachments)
    gif, made = None, False
    if send.gif is not None:
        if gifs is None:
            raise ApiError(Code.INVALID_GIF, "GIFs cannot be sent on this path")
        gif, made = do_create_gif_media(store, gifs.redis, gifs.limits, user, (send.convId, admitted.group_ids[0]),
                                        send.gif.id, send.clientId)
    window = gate.count_with(admitted)  # the per-user send rate, hit with the append (one round trip)
    entry = InboxEntry(senderId=user.id, clientId=send.clientId, content=send.content or "",
                       type=send.type, replyTo=send.replyTo, receivedAt=utcnow(),
                       sid=(context or {}).get("sid"), attachments=[gif.id] if gif else send.attachments)
    try:
        appended = submit_entry(inbox, enqueue_drain, send.convId, entry, max_backlog, window)
        if appended.limited:
            gate.refuse(admitted)
    except Exception:
        if made:   # the send is refused whole: no file left behind for it
            do_drop_gif_media(store, gifs.redis, gif, send.clientId)
        raise
    if made:
        _queue_copy(gifs, gif.id)
    return appended


def _queue_copy(gifs: GifSending, media_id: str) -> None:
    try:
        gifs.enqueue_process(media_id)
    except Exception:  # noqa: BLE001 - the message is queued; the sweeper queues the copy (pipelines.upkeep.sweeper)
        log.warning("media %s: could not queue its copy; the sweeper will", media_id, exc_info=True)


def submit_change(store: Store, inbox: Inbox, enqueue_drain: Callable[[str], None], user: User,
                  message_id: str, *, content: str | None = None, max_backlog: int = 5000,
                  gate: Gate | None = None) -> None:
    """Queue an edit (``content`` given) or a soft delete of a stored message, after the role check.

    The author edits, through the write gate (not muted, under the per-user ``edit`` rate); the author,
    the group's moderators and admins (and system admins) delete. The change goes through the
    conversation's inbox, so it is applied after every send accepted before it; like a send, it is refused
    (``rate_limited``) when ``max_backlog`` entries wait there, so an edit loop cannot grow the inbox or
    push other members' sends back.
    """
    message = store.messages.get_message(message_id)
    if message is None:
        raise ApiError(Code.NOT_FOUND, f"no message {message_id}")
    kind = "edit" if content is not None else "delete"
    gate = gate or Gate(store)
    if kind == "edit":
        admitted = gate.conversation(user, message.convId, "edit")
        conv_group = admitted.group_ids[0]
    else:
        conv_group = check_conversation_member(store, user, message.convId)[0].groupId
    if message.isDeleted:
        raise ApiError(Code.NOT_FOUND, "this message was deleted")
    if message.senderId != user.id:
        if kind == "edit" or not is_moderator(store, user, conv_group):
            check_owner(store, user, "message", message_id, message.senderId,
                        "only the author can edit a message" if kind == "edit" else
                        "only the author, a moderator or an admin of the group can delete a message",
                        reason=f"{kind} of another member's message")
        check_may_moderate_content(store, user, message.senderId, conv_group, "delete a message by")
    if kind == "edit":
        gate.count(admitted)
    submit_entry(inbox, enqueue_drain, message.convId, InboxEntry(
        kind=kind, senderId=user.id, clientId=f"{kind}:{new_id()}", content=content or "", messageId=message_id,
        receivedAt=utcnow()), max_backlog)


def submit_system(inbox: Inbox, enqueue_drain: Callable[[str], None], conv_id: str, actor: User,
                  action: SystemAction, data: dict) -> None:
    """Queue a system message (``type: "system"``) through the conversation's inbox, so it takes its
    seq in order with the sends. ``actor`` is who did it; ``data`` names who it concerns."""
    submit_entry(inbox, enqueue_drain, conv_id, InboxEntry(
        kind="system", senderId=actor.id, clientId=f"system:{new_id()}", type="system",
        content=system_text(action, data), systemAction=action, systemData=data, receivedAt=utcnow()))


def submit_entry(inbox: Inbox, enqueue_drain: Callable[[str], None], conv_id: str, entry: InboxEntry,
                 max_backlog: int = 2**31, window: RateWindow | None = None) -> Appended:
    """Append an entry to the conversation's inbox, in order with the sends, and schedule a drain if none is.
    Users' sends, edits and deletes pass their ``max_backlog`` and are refused (``rate_limited``) past it;
    entries the server writes itself (a system message, a moderator's approval or deletion) never are.
    With ``window`` (the sender's rate window) the append is refused when it is full, and the result says
    so (``limited``): the caller refuses the send."""
    appended = inbox.append(conv_id, entry, max_backlog=max_backlog, window=window)
    if appended.limited:
        return appended
    if appended.schedule:
        enqueue_drain(conv_id)
    if appended.entry_id is None:
        raise ApiError(Code.RATE_LIMITED, f"{appended.backlog} messages are waiting to be stored in this "
                                          "conversation; retry shortly with the same clientId",
                       {"retryAfter": 1})
    return appended
