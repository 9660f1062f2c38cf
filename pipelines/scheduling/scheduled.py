"""Scheduled messages ("send later"): create, list, edit, cancel; and their delivery, exactly once, in order.

Delivery (docs/notifications.md, "Exactly once"): beat runs ``dispatch_due`` every few seconds; it
finds conversations whose queue has something due and hands each to a worker (``send_due``). A
conversation's scheduled messages form a queue ordered by (sendAt, id), and only its head may go:
a worker reads the due part of the queue, then claims its items one by one in the database (pending -> claimed, with a lease ``claimedUntil`` and a
token; one conditional update, so of two dispatchers one wins), submits it through the conversation's
inbox exactly like a send (``pipelines.messages.submit_message``: same validation, membership checked
now, moderation in the drain), then marks it sent. The next item is the head only once this one is
final, and a worker stops at the first claim it loses, so the conversation gets them in order whatever
the number of beats and worker threads. (An item created now is due later than anything due now:
sendAt must be in the future.)

A worker that dies holding a claim blocks its conversation's queue until the lease expires; then any
dispatcher re-claims the item and submits it again with the same clientId, which the drain's unique
(convId, senderId, clientId) index makes a no-op if the first submit was stored. A due item later than
``max_lateness`` is failed (``scheduled_late``) with a ``scheduled_failed`` notification, never sent stale.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from infra.inbox import Inbox
from infra.storage import Store
from pipelines.events import Notifier
from pipelines.messages.submit import submit_message
from pipelines.policy.access import check_conversation_member, check_owner
from pipelines.policy.gate import Gate
from schemas.common import iso, new_id
from schemas.documents import ScheduledMessage, User
from schemas.errors import ApiError, Code
from schemas.payloads import IdPage, MessageSend, ScheduledMessageCreate, ScheduledMessageUpdate, parse_time
from schemas.tasks import NotificationRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    max_days_ahead: int = 365
    per_user: int = 500
    lease_seconds: int = 60
    max_lateness_seconds: int = 300
    max_backlog: int = 5000


# -- the sender's side (REST) ----------------------------------------------------------------------
def do_schedule(store: Store, user: User, conv_id: str, request: ScheduledMessageCreate, *, now: datetime,
                limits: Limits, gate: Gate | None = None) -> tuple[ScheduledMessage, bool]:
    """A member schedules a message; returns it and whether it is new (a retried create with the same
    clientId returns the first one). The write gate admits it now (member, not banned, not muted, under the
    ``scheduled`` rate; a blocked word refuses it at once) and again at send time, through ``submit_message``
    and the drain's filter, like any send."""
    gate = gate or Gate(store)
    admitted = gate.conversation(user, conv_id, "scheduled")
    send_at = parse_time(request.sendAt, request.timeZone, now, limits.max_days_ahead)
    if request.replyTo is not None and not store.messages.message_exists(request.replyTo, conv_id):
        raise ApiError(Code.NOT_FOUND, "replyTo must name a message of the same conversation")
    if store.scheduled.count_open_scheduled(user.id) >= limits.per_user:
        raise ApiError(Code.LIMIT_REACHED, f"you already have {limits.per_user} scheduled messages waiting")
    gate.count(admitted)
    gate.check_blocked(admitted, request.content or "")
    return store.scheduled.insert_scheduled(ScheduledMessage(
        id=new_id(), convId=conv_id, senderId=user.id, clientId=request.clientId, content=request.content,
        replyTo=request.replyTo, sendAt=send_at, timeZone=request.timeZone, createdAt=now, updatedAt=now))


def list_scheduled(store: Store, user: User, conv_id: str, page: IdPage) -> dict:
    """The caller's own scheduled messages of the conversation, newest first (sent and failed ones too)."""
    check_conversation_member(store, user, conv_id)
    items, more = store.scheduled.scheduled_of_sender(user.id, conv_id, before=page.before, limit=page.limit)
    return {"scheduledMessages": [i.public() for i in items], "hasMore": more}


def _own(store: Store, user: User, item_id: str) -> ScheduledMessage:
    item = store.scheduled.get_scheduled(item_id)
    message = f"no scheduled message {item_id} of yours"
    if item is None:
        raise ApiError(Code.NOT_FOUND, message)
    check_owner(store, user, "scheduled", item_id, item.senderId, message, hidden=True)  # others' are not confirmed
    if item.status != "pending":
        raise ApiError(Code.INVALID_STATE, f"this scheduled message is {item.status}: it can no longer change",
                       {"status": item.status})
    return item


def do_update_scheduled(store: Store, notifier: Notifier, user: User, item_id: str, request: ScheduledMessageUpdate,
                        *, now: datetime, limits: Limits, gate: Gate | None = None) -> ScheduledMessage:
    """The author changes a pending one's text or time, through the write gate as at creation."""
    item = _own(store, user, item_id)
    gate = gate or Gate(store)
    admitted = gate.conversation(user, item.convId, "scheduled")
    changes: dict = {"updatedAt": now}
    if request.content is not None:
        changes["content"] = request.content
    if request.sendAt is not None:
        changes["sendAt"] = parse_time(request.sendAt, request.timeZone, now, limits.max_days_ahead)
        changes["timeZone"] = request.timeZone
    elif request.timeZone is not None:
        raise ApiError(Code.INVALID_PAYLOAD, "timeZone goes with sendAt")
    gate.count(admitted)
    if request.content is not None:
        gate.check_blocked(admitted, request.content)
    updated = store.scheduled.update_pending_scheduled(item.id, user.id, changes)
    if updated is None:  # claimed between our read and the update: it is being sent
        raise ApiError(Code.INVALID_STATE, "this scheduled message is being sent: it can no longer change")
    notifier.notify_scheduled(updated)
    return updated


def do_cancel_scheduled(store: Store, notifier: Notifier, user: User, item_id: str, *, now: datetime) -> None:
    item = _own(store, user, item_id)
    cancelled = store.scheduled.update_pending_scheduled(item.id, user.id, {"status": "cancelled", "updatedAt": now})
    if cancelled is None:
        raise ApiError(Code.INVALID_STATE, "this scheduled message is being sent: it can no longer be cancelled")
    notifier.notify_scheduled(cancelled)


# -- delivery (notifications worker) --------------------------------------------------------------
def dispatch_due_scheduled(store: Store, enqueue_send: Callable[[str], None], *, now: datetime,
                           limit: int = 2000) -> list[str]:
    """Hand each conversation with something due to a worker. Two beats doing this at once is harmless:
    the claim in ``send_due`` decides."""
    convs = store.scheduled.due_scheduled_conversations(now, limit)
    for conv_id in convs:
        enqueue_send(conv_id)
    return convs


@dataclass
class SendDueResult:
    conv_id: str
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    blocked: bool = False        # the head is claimed by another (live, or crashed: wait for its lease)
    deferred: bool = False       # the inbox is full: left for the next tick
    more: bool = False           # the budget ran out with more due: the worker queues a follow-up


def send_due(conv_id: str, *, store: Store, inbox: Inbox, notifier: Notifier, enqueue_drain: Callable[[str], None],
             notify: Callable[[list[NotificationRequest]], None], clock: Callable[[], datetime], limits: Limits,
             budget: int = 200, gate: Gate | None = None) -> SendDueResult:
    """Send the conversation's due scheduled messages, head first, each once; at most ``budget`` per call
    (``more`` says to queue a follow-up), so one long queue does not hold a worker while others wait.

    Each passes the write gate again at send time: a sender no longer a member, banned or muted, or a text a
    rule now blocks, fails the item with that code (the drain would refuse it anyway; the item must not say
    ``sent``). A text a rule holds is handed over and waits for a moderator like any held send."""
    gate = gate or Gate(store)
    result = SendDueResult(conv_id)
    token = new_id()
    queue = store.scheduled.scheduled_queue(conv_id, clock(), budget)
    with notifier.batch():   # the senders' scheduled:updated events leave together
        _send_queue(queue, result, store, inbox, notifier, enqueue_drain, notify, clock, limits, token, gate)
    result.more = len(queue) == budget and not (result.blocked or result.deferred)
    return result


def _send_queue(queue, result, store, inbox, notifier, enqueue_drain, notify, clock, limits, token, gate) -> None:
    for head in queue:
        # ``queue`` was read once; each claim re-checks the item as read. Whoever fails a claim stops, so
        # nobody gets past an item another dispatcher holds (live, or dead until its lease expires).
        now = clock()
        if head.status == "claimed" and head.claimedUntil is not None and head.claimedUntil >= now:
            result.blocked = True
            break
        item = store.scheduled.claim_scheduled(head, now, now + timedelta(seconds=limits.lease_seconds), token)
        if item is None:
            result.blocked = True   # another dispatcher took it (or it was edited): it carries on
            break
        late = (now - item.sendAt).total_seconds()
        if late > limits.max_lateness_seconds:
            _fail(store, notifier, notify, item, token, now, Code.SCHEDULED_LATE,
                  f"it was due {int(late)} s ago, later than the {limits.max_lateness_seconds} s allowed; not sent stale")
            result.failed.append(item.id)
            continue
        user = store.users.get_user(item.senderId)
        try:
            if user is None or not user.active:
                raise ApiError(Code.FORBIDDEN, "the sender's account is no longer active")
            gate.check_blocked(gate.conversation(user, item.convId, "scheduled"), item.content or "")
            send = MessageSend(convId=item.convId, clientId=item.clientId, content=item.content, replyTo=item.replyTo)
            submit_message(store, inbox, enqueue_drain, user, send, {"platform": "scheduled"}, limits.max_backlog)
        except ApiError as exc:
            if exc.code == Code.RATE_LIMITED:
                # The conversation's inbox is full: give the claim back, the next tick tries again.
                store.scheduled.finish_scheduled(item, token, "pending", now)
                result.deferred = True
                break
            code = Code.NOT_A_MEMBER if exc.code == Code.FORBIDDEN and user is not None and user.active else exc.code
            _fail(store, notifier, notify, item, token, now, code, exc.message)
            result.failed.append(item.id)
            continue
        sent = store.scheduled.finish_scheduled(item, token, "sent", now, sentAt=now)
        if sent is not None:
            notifier.notify_scheduled(sent)
        result.sent.append(item.id)


def _fail(store: Store, notifier: Notifier, notify: Callable[[list[NotificationRequest]], None],
          item: ScheduledMessage, token: str, now: datetime, code: str, message: str) -> None:
    failed = store.scheduled.finish_scheduled(item, token, "failed", now, error={"code": str(code), "message": message})
    if failed is None:
        return  # our lease ran out and someone else holds it now: theirs to finish
    tell_failed(store, notifier, notify, failed, code, message)


def tell_failed(store: Store, notifier: Notifier, notify: Callable[[list[NotificationRequest]], None],
                item: ScheduledMessage, code: str, message: str) -> None:
    """The sender of a scheduled message that failed hears it: a ``scheduled_failed`` notification (once,
    by its key) and ``scheduled:updated``."""
    conv = store.conversations.get_conversation(item.convId)
    title = conv.title if conv else "a conversation"
    # Not subject to the conversation's preferences (no convId on the request): the sender asked for this send.
    notify([NotificationRequest(
        userId=item.senderId, type="scheduled_failed", key=f"scheduled_failed:{item.id}",
        title=f"Your scheduled message to {title} was not sent", body=message,
        data={"convId": item.convId, "scheduledId": item.id, "code": str(code), "sendAt": iso(item.sendAt),
              "clientId": item.clientId})])
    notifier.notify_scheduled(item)
    log.info("scheduled message %s of %s failed: %s", item.id, item.convId, code)
