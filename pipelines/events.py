"""The one sender of socket events: ``Notifier`` turns what happened into the events of the public contract
and emits them to their rooms (through the emitter: Redis, then every web process). Stored notifications
are pipelines.notifications'; this module only speaks to live sockets."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from infra.emitter import Emitter
from infra.metrics import EVENTS_SENT
from schemas import events
from schemas.common import iso
from schemas.documents import (Conversation, Export, Group, Media, Message, Notification, ReviewItem, ScheduledMessage,
                               User)
from schemas.events import (ConversationLeft, ExportFailed, ExportProgress, ExportReady, GroupMemberJoined, MessageHeld,
                            MessageRead, MessageRejected, NotificationRead, PresenceBatch, PresenceUpdate, Typing,
                            UserUpdated)

# chat_socket_events_sent's child of each event name, bound at its first emit: per emit, a lookup and an add.
_SENT: dict[str, Any] = {}


class Notifier:
    """Every socket event the pipelines send goes through here, one method per event."""

    def __init__(self, emitter: Emitter) -> None:
        self.emitter = emitter

    def _emit(self, event: str, data: Any, room: str, skip_sid: str | None = None) -> None:
        """Every emit: counted by event name (chat_socket_events_sent), then handed to the emitter."""
        sent = _SENT.get(event)
        if sent is None:
            sent = _SENT[event] = EVENTS_SENT.labels(event)
        sent.inc()
        self.emitter.emit(event, data, room, skip_sid=skip_sid)

    def batch(self):
        """Events sent inside the block leave together when it ends (one round trip)."""
        return self.emitter.batch()

    def notify_message_new(self, message: Message) -> None:
        self._emit(events.MESSAGE_NEW, message.public(), events.conv_room(message.convId))

    def notify_message_to_sender(self, message: Message, sid: str | None) -> None:
        """A retried send that was already stored and announced: ``message:new`` again, to the retrying
        socket only (every socket is a room of its own), or to the sender's sockets for a REST retry."""
        self._emit(events.MESSAGE_NEW, message.public(), sid or events.user_room(message.senderId))

    def notify_mention(self, user_id: str, message: Message) -> None:
        """To the mentioned member's own room: reaches them even when not subscribed to the conversation."""
        self._emit(events.MENTION_NEW, message.public(), events.user_room(user_id))

    def notify_message_updated(self, message: Message) -> None:
        self._emit(events.MESSAGE_UPDATED, message.public(), events.conv_room(message.convId))

    def notify_message_rejected(self, sender_id: str, rejected: MessageRejected) -> None:
        self._emit(events.MESSAGE_REJECTED, rejected.model_dump(exclude_none=True), events.user_room(sender_id))

    def notify_message_read(self, read: MessageRead) -> None:
        self._emit(events.MESSAGE_READ, read.model_dump(), events.conv_room(read.convId))

    def notify_typing(self, started: bool, typing: Typing, skip_sid: str | None = None) -> None:
        event = events.TYPING_START if started else events.TYPING_STOP
        self._emit(event, typing.model_dump(), events.conv_room(typing.convId), skip_sid=skip_sid)

    def notify_conversation_created(self, conv: Conversation) -> None:
        self._emit(events.CONVERSATION_CREATED, conv.public(), events.group_room(conv.groupId))

    def notify_conversation_joined(self, user_id: str, conversation: dict) -> None:
        """To the added member's own room: their sockets are not in conv:{id} yet."""
        self._emit(events.CONVERSATION_JOINED, conversation, events.user_room(user_id))

    def notify_conversation_left(self, user_id: str, conv_id: str, by: str) -> None:
        data = ConversationLeft(convId=conv_id, userId=user_id, by=by).model_dump()
        self._emit(events.CONVERSATION_LEFT, data, events.user_room(user_id))

    def notify_presence(self, group_id: str, changes: list[PresenceUpdate]) -> None:
        """One change as ``presence:update``; several, written together, as one ``presence:batch``."""
        if len(changes) == 1:
            self._emit(events.PRESENCE_UPDATE, changes[0].model_dump(), events.group_room(group_id))
        elif changes:
            data = PresenceBatch(groupId=group_id, changes=changes).model_dump()
            self._emit(events.PRESENCE_BATCH, data, events.group_room(group_id))

    def notify_group_member_joined(self, group: Group, user: User, role: str) -> None:
        data = GroupMemberJoined(groupId=group.id, user=user.public(), role=role, group=group.public()).model_dump()
        self._emit(events.GROUP_MEMBER_JOINED, data, events.group_room(group.id))
        # The new member's sockets enter the group room only after this (app.sockets.move_user_sockets).
        self._emit(events.GROUP_MEMBER_JOINED, data, events.user_room(user.id))

    def notify_user_updated(self, user: User, group_ids: list[str]) -> None:
        """To each of the user's groups, once their messages carry the new profile."""
        data = UserUpdated(user=user.public()).model_dump()
        with self.batch():
            for group_id in group_ids:
                self._emit(events.USER_UPDATED, data, events.group_room(group_id))

    # -- moderation ----------------------------------------------------------------------------
    def notify_review(self, item: ReviewItem, *, flagged: bool) -> None:
        """moderation:flagged (new or grown) or moderation:decided, to the group's moderators only."""
        event = events.MODERATION_FLAGGED if flagged else events.MODERATION_DECIDED
        self._emit(event, item.public(), events.mod_rooms(item.groupId))

    def notify_moderation_action(self, group_id: str, entry: dict) -> None:
        self._emit(events.MODERATION_ACTION, entry, events.mod_rooms(group_id))

    def notify_message_held(self, sender_id: str, held: MessageHeld) -> None:
        self._emit(events.MESSAGE_HELD, held.model_dump(), events.user_room(sender_id))

    def notify_sanction(self, event: str, user_id: str, data: BaseModel) -> None:
        """moderation:muted, moderation:banned or moderation:lifted, to the user concerned."""
        self._emit(event, data.model_dump(), events.user_room(user_id))

    # -- notifications and scheduling ------------------------------------------------------------
    def notify_notification_new(self, notification: Notification) -> None:
        self._emit(events.NOTIFICATION_NEW, notification.public(), events.user_room(notification.userId))

    def notify_notification_read(self, user_id: str, read: NotificationRead) -> None:
        """To every socket of the user, so each device shows the same unread count."""
        self._emit(events.NOTIFICATION_READ, read.model_dump(exclude_none=True), events.user_room(user_id))

    def notify_scheduled(self, item: ScheduledMessage) -> None:
        """scheduled:updated to the sender: their scheduled message was sent, failed, edited or cancelled."""
        self._emit(events.SCHEDULED_UPDATED, item.public(), events.user_room(item.senderId))
    # -- media -----------------------------------------------------------------------------------
    def notify_media_updated(self, media: Media) -> None:
        """To the uploader, after each processing step (``status`` ends ready, failed or quarantined)."""
        self._emit(events.MEDIA_UPDATED, media.public(), events.user_room(media.uploadedBy))

    # -- exports ---------------------------------------------------------------------------------
    def notify_export_progress(self, export: Export, progress: int, processed: int, total: int) -> None:
        data = ExportProgress(id=export.id, progress=progress, processed=processed, total=total).model_dump()
        self._emit(events.EXPORT_PROGRESS, data, events.user_room(export.requestedBy))

    def notify_export_ready(self, export: Export) -> None:
        data = ExportReady(id=export.id, format=export.format, size=export.size or 0,
                           expiresAt=iso(export.expiresAt)).model_dump()
        self._emit(events.EXPORT_READY, data, events.user_room(export.requestedBy))

    def notify_export_failed(self, export: Export, code: str, message: str) -> None:
        data = ExportFailed(id=export.id, code=code, message=message).model_dump()
        self._emit(events.EXPORT_FAILED, data, events.user_room(export.requestedBy))
