"""Stored notifications: create (from any pipeline), emit, deliver, read; preferences; reminders.

The life of a notification (docs/notifications.md): ``pending`` (stored) -> ``sent`` (emitted as
``notification:new`` to ``user:{id}``) -> ``delivered`` (a socket of the user said it received it:
``notification:delivered``) -> ``read`` (``POST /api/notifications/read``, told to every device with
``notification:read``). Every move is a conditional update on the status, so none goes backwards and a
redelivered task or a repeated call changes nothing twice. Each notification has a ``key`` (unique):
the same fact reported twice is stored once.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.messages.markdown import plain_text
from pipelines.policy.access import check_conversation_member
from schemas.common import new_id
from schemas.documents import UNREAD, Message, Notification, NotificationSettings, User
from schemas.errors import ApiError, Code
from schemas.events import NotificationRead
from schemas.payloads import (NotificationQuery, NotificationSettingsUpdate, NotificationsRead, ReminderCreate,
                              parse_time)
from schemas.tasks import NotificationRequest

log = logging.getLogger(__name__)

# Types that a conversation set to "mentions" still lets through.
MENTION_TYPES = ("mention", "reply")
EXCERPT_CHARS = 140
MAX_LIST = 100


@dataclass
class NotifyResult:
    stored: list[str] = field(default_factory=list)     # ids stored (or found stored) and emitted now
    skipped: int = 0                                     # refused by the user's preferences
    already_sent: int = 0                                # a redelivery: stored and emitted before


def excerpt(text: str) -> str:
    """A message on one line, its words without Markdown's markers, cut to EXCERPT_CHARS."""
    text = plain_text(text)
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1].rstrip() + "…"


def allowed(settings: NotificationSettings, request: NotificationRequest) -> bool:
    """``none``: nothing from that conversation; ``mentions``: mentions and replies only."""
    level = settings.level(request.convId)
    return level == "all" or (level == "mentions" and request.type in MENTION_TYPES)


def do_notify(store: Store, notifier: Notifier, requests: list[NotificationRequest], *, now: datetime,
              ttl_days: int, default_delay: int = 5) -> NotifyResult:
    """Store each request as a notification (idempotent by key), emit the new ones in one round trip,
    and mark them sent. The entry point for every source: mentions, replies, additions, reminders'
    failures, exports (``export_ready``), moderation decisions (``moderation``)."""
    result = NotifyResult()
    settings: dict[str, NotificationSettings] = {}
    to_emit: list[Notification] = []
    for request in requests:
        if request.userId not in settings:
            settings[request.userId] = store.notifications.notification_settings_of(request.userId, default_delay)
        if not allowed(settings[request.userId], request):
            result.skipped += 1
            continue
        data = {**request.data, **({"convId": request.convId} if request.convId else {})}
        stored = store.notifications.insert_notification(Notification(
            id=new_id(), key=request.key, userId=request.userId, type=request.type, title=request.title,
            body=request.body, data=data, createdAt=now, updatedAt=now, expiresAt=now + timedelta(days=ttl_days)))
        if stored.status != "pending":
            result.already_sent += 1
            continue
        to_emit.append(stored)
    # The database first (stored above), then the events; a crash in between leaves them pending, and the
    # redelivered task emits them (the client dedupes by id).
    with notifier.batch():
        for n in to_emit:  # as it is once marked (below): sent
            notifier.notify_notification_new(n.model_copy(update={"status": "sent", "sentAt": now}))
    for n in to_emit:
        store.notifications.mark_notification_sent(n.id, now, token=None)  # stored unclaimed: nobody holds it
        result.stored.append(n.id)
    return result


# -- from stored messages (the drain queues one task per batch) ------------------------------------
@dataclass
class MessagesResult:
    notified: list[str] = field(default_factory=list)
    skipped: int = 0
    missed: dict[str, datetime] = field(default_factory=dict)  # offline user -> their first missed event


def notify_from_messages(store: Store, notifier: Notifier, conv_id: str, message_ids: list[str], *, now: datetime,
                         ttl_days: int, default_delay: int, is_online: Callable[[list[str]], dict[str, bool]] | None,
                         email_enabled: bool, minute: timedelta = timedelta(minutes=1)) -> MessagesResult:
    """Mentions and replies in a stored batch become notifications; with email on, each recipient who is
    offline (and each offline member of a direct conversation, i.e. one of exactly two members) opens or
    feeds an email window (pipelines.digests)."""
    result = MessagesResult()
    conv = store.conversations.get_conversation(conv_id)
    if conv is None:
        return result
    members = store.conversations.conversation_members_of(conv_id, 3)
    direct = len(members) == 2   # a "direct" conversation: exactly two members
    requests: list[NotificationRequest] = []
    events: list[tuple[str, datetime, str]] = []   # (userId, createdAt, type) for the email windows
    parents: dict[str, Message | None] = {}
    for message_id in message_ids:
        message = store.messages.get_message(message_id)
        if message is None or message.isDeleted or message.type == "system":
            continue
        told: set[str] = set()
        who = message.senderInfo.username
        data = {"messageId": message.id, "seq": message.seq, "senderId": message.senderId, "senderName": who,
                "convTitle": conv.title, "actionUrl": f"/#conv={conv_id}&seq={message.seq}"}
        for user_id in message.metadata.mentions or ():
            told.add(user_id)
            requests.append(NotificationRequest(
                userId=user_id, type="mention", key=f"msg:{message.id}:{user_id}", convId=conv_id, data=data,
                title=f"{who} mentioned you in {conv.title}", body=excerpt(message.content)))
        if message.metadata.replyTo:
            if message.metadata.replyTo not in parents:
                parents[message.metadata.replyTo] = store.messages.get_message(message.metadata.replyTo)
            parent = parents[message.metadata.replyTo]
            if parent is not None and parent.senderId not in told and parent.senderId != message.senderId \
                    and parent.type != "system" and store.conversations.get_conversation_member(conv_id, parent.senderId):
                told.add(parent.senderId)
                requests.append(NotificationRequest(
                    userId=parent.senderId, type="reply", key=f"msg:{message.id}:{parent.senderId}", convId=conv_id,
                    data={**data, "replyTo": parent.id}, title=f"{who} replied to you in {conv.title}",
                    body=excerpt(message.content)))
        events += [(u, message.createdAt, "mention") for u in told]
        if direct:
            events += [(m.userId, message.createdAt, "message") for m in members
                       if m.userId != message.senderId and m.userId not in told]
    outcome = do_notify(store, notifier, requests, now=now, ttl_days=ttl_days, default_delay=default_delay)
    result.notified, result.skipped = outcome.stored, outcome.skipped
    if email_enabled and events and is_online is not None:
        _note_missed(store, conv_id, events, is_online, default_delay, result, minute)
    return result


def _note_missed(store: Store, conv_id: str, events: list[tuple[str, datetime, str]],
                 is_online: Callable[[list[str]], dict[str, bool]], default_delay: int, result: MessagesResult,
                 minute: timedelta) -> None:
    online = is_online(sorted({u for u, _, _ in events}))
    for user_id, at, kind in events:
        if online.get(user_id, False):
            continue   # never an email while they are online: they saw it, or will in the app
        settings = store.notifications.notification_settings_of(user_id, default_delay)
        level = settings.level(conv_id)
        if not settings.email or level == "none" or (level == "mentions" and kind == "message"):
            continue
        store.digests.touch_email_window(user_id, at, at + minute * settings.emailDelayMinutes)
        result.missed[user_id] = min(result.missed.get(user_id, at), at)


# -- the user's side (REST and socket) -------------------------------------------------------------
def list_notifications(store: Store, user: User, query: NotificationQuery, now: datetime) -> dict:
    statuses = {"unread": UNREAD, "all": ("sent", "delivered", "read"), "scheduled": ("pending",)}[query.status]
    before = None
    if query.page.before:
        [before] = store.notifications.own_live_notifications(user.id, [query.page.before], now) or [None]
        if before is None:
            raise ApiError(Code.INVALID_CURSOR, "before must be the id of one of your notifications")
    items, more = store.notifications.notifications_of_user(user.id, statuses, now, before=before, limit=query.page.limit)
    return {"notifications": [n.public() for n in items], "hasMore": more, "unread": store.notifications.count_unread(user.id, now)}


def _check_own(store: Store, user: User, ids: list[str], now: datetime) -> None:
    """Every id must be one of the user's live notifications, or nothing changes (404 naming the others)."""
    found = {n.id for n in store.notifications.own_live_notifications(user.id, ids, now)}
    unknown = [i for i in dict.fromkeys(ids) if i not in found]
    if unknown:
        raise ApiError(Code.NOT_FOUND, f"no such notification(s) of yours: {', '.join(unknown)}", {"ids": unknown})


def do_mark_read(store: Store, notifier: Notifier, user: User, request: NotificationsRead, now: datetime) -> int:
    """Mark some (or all) of the user's notifications read; every device hears it. Returns the unread count."""
    if (request.ids is None) == (not request.all):
        raise ApiError(Code.INVALID_PAYLOAD, "give either ids (a non-empty list) or all: true")
    if request.ids is not None:
        _check_own(store, user, request.ids, now)
    store.notifications.mark_notifications(user.id, request.ids, "read", now, now)
    unread = store.notifications.count_unread(user.id, now)
    event = NotificationRead(ids=request.ids, unread=unread) if request.ids else NotificationRead(all=True, unread=unread)
    notifier.notify_notification_read(user.id, event)
    return unread


def do_mark_delivered(store: Store, user: User, ids: list[str], now: datetime) -> int:
    """A socket of the user received these: sent -> delivered (already delivered or read: unchanged)."""
    _check_own(store, user, ids, now)
    return store.notifications.mark_notifications(user.id, ids, "delivered", now, now)


def get_settings(store: Store, user: User, default_delay: int) -> dict:
    return store.notifications.notification_settings_of(user.id, default_delay).public()


def do_update_settings(store: Store, user: User, update: NotificationSettingsUpdate, default_delay: int) -> dict:
    """Change the fields given; each conversation named must be one of the user's (404/403 otherwise,
    and nothing changes)."""
    changes = update.model_dump(exclude_unset=True, exclude={"conversations"})
    if any(v is None for v in changes.values()):
        raise ApiError(Code.INVALID_SETTINGS, "email and emailDelayMinutes cannot be null")
    for conv_id, level in (update.conversations or {}).items():
        check_conversation_member(store, user, conv_id)
        changes[f"conversations.{conv_id}"] = level
    return store.notifications.update_notification_settings(user.id, changes, default_delay).public()


# -- reminders -----------------------------------------------------------------------------------
def do_create_reminder(store: Store, user: User, message_id: str, request: ReminderCreate, *, now: datetime,
                       max_days_ahead: int, ttl_days: int) -> Notification:
    """A ``reminder`` notification for the caller, pending until ``at`` (then sent by the dispatcher). None for
    a deleted message (410 ``gone``); the message's deletion drops it (pipelines.messages.lifecycle)."""
    message = store.messages.get_message(message_id)
    if message is None:
        raise ApiError(Code.NOT_FOUND, f"no message {message_id}")
    conv, _ = check_conversation_member(store, user, message.convId)
    if message.isDeleted:
        raise ApiError(Code.GONE, "this message was deleted")
    at = parse_time(request.at, request.timeZone, now, max_days_ahead, "at")
    reminder = Notification(
        id=new_id(), key=f"reminder:{new_id()}", userId=user.id, type="reminder",
        title=f"Reminder: {message.senderInfo.username} in {conv.title}", body=excerpt(message.content),
        data={"convId": conv.id, "messageId": message.id, "seq": message.seq, "convTitle": conv.title,
              "actionUrl": f"/#conv={conv.id}&seq={message.seq}"},
        scheduledFor=at, createdAt=at, updatedAt=now, expiresAt=at + timedelta(days=ttl_days))
    return store.notifications.insert_notification(reminder)


@dataclass
class DispatchResult:
    reminders: int = 0               # emitted now
    dropped: int = 0                 # the user is no longer a member (or the message is gone)
    conversations: list[str] = field(default_factory=list)   # scheduled-message queues handed to workers


REMINDER_MAX_ATTEMPTS = 3   # claims of one due reminder; then it is marked sent without the live event


def dispatch_due_reminders(store: Store, notifier: Notifier, *, now: datetime, lease_seconds: int,
                           limit: int = 500) -> DispatchResult:
    """Claim each due reminder (a lease in the database, with a token: one dispatcher wins, a crashed
    one's claim expires), emit it, then mark it sent, conditional on still holding the claim. A reminder
    whose emission failed REMINDER_MAX_ATTEMPTS times is marked sent without it (it is in the user's list):
    a due reminder is sent within REMINDER_MAX_ATTEMPTS leases, whatever fails."""
    result = DispatchResult()
    for _ in range(limit):
        token = new_id()
        claimed = store.notifications.claim_due_notification(now, now + timedelta(seconds=lease_seconds), token)
        if claimed is None:
            break
        if not _still_applies(store, claimed):
            store.notifications.drop_claimed_notification(claimed.id, token)
            result.dropped += 1
            continue
        if claimed.attempts <= REMINDER_MAX_ATTEMPTS:
            notifier.notify_notification_new(claimed.model_copy(update={"status": "sent", "sentAt": now}))
        else:
            log.warning("reminder %s: emitted %d times without being marked sent; marked sent now", claimed.id,
                        REMINDER_MAX_ATTEMPTS)
        if store.notifications.mark_notification_sent(claimed.id, now, token=token):
            result.reminders += 1
    return result


def _still_applies(store: Store, reminder: Notification) -> bool:
    """Not when they left the conversation (it would show them a message of one they no longer see), nor
    when the message is gone or deleted."""
    conv_id, message_id = reminder.data.get("convId"), reminder.data.get("messageId")
    if conv_id and store.conversations.get_conversation_member(conv_id, reminder.userId) is None:
        return False
    if message_id:
        message = store.messages.get_message(message_id)
        return message is not None and not message.isDeleted
    return True
