"""REST routes of notifications and scheduling (contract v2): thin wrappers over pipelines."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from app.api import body, limited
from app.gate import write_gate
from app.auth import login_required
from app.sockets import web_notifier
from infra.runtime import get_runtime
from pipelines.notifications import stored as notifications
from pipelines.scheduling import scheduled as scheduling
from pipelines.upkeep import retention
from schemas.common import utcnow
from schemas.payloads import (NotificationSettingsUpdate, NotificationsRead, ReminderCreate, RetentionUpdate,
                              ScheduledMessageCreate, ScheduledMessageUpdate, parse_id_page, parse_notification_query)

notifications_api = Blueprint("notifications", __name__, url_prefix="/api")


@notifications_api.get("/notifications")
@login_required
def list_notifications():
    """The caller's own, newest first, never expired ones; ?status=unread|all|scheduled&before=id&limit=."""
    query = parse_notification_query(request.args)
    return jsonify(notifications.list_notifications(get_runtime().store, g.user, query, utcnow()))


@notifications_api.post("/notifications/read")
@login_required
@limited("read")
def read_notifications():
    """{ids} or {all: true}: read; notification:read tells every device of the user."""
    unread = notifications.do_mark_read(get_runtime().store, web_notifier(), g.user, body(NotificationsRead), utcnow())
    return jsonify(unread=unread)


@notifications_api.get("/me/notification-settings")
@login_required
def get_notification_settings():
    rt = get_runtime()
    return jsonify(notifications.get_settings(rt.store, g.user, rt.settings.email_default_delay_minutes))


@notifications_api.patch("/me/notification-settings")
@login_required
def update_notification_settings():
    rt = get_runtime()
    return jsonify(notifications.do_update_settings(rt.store, g.user, body(NotificationSettingsUpdate),
                                                    rt.settings.email_default_delay_minutes))


@notifications_api.post("/conversations/<conv_id>/scheduled-messages")
@login_required
def schedule_message(conv_id: str):
    """201 the scheduled message (200 with the first one for a retried clientId); at sendAt it is sent."""
    item, created = scheduling.do_schedule(get_runtime().store, g.user, conv_id, body(ScheduledMessageCreate),
                                           now=utcnow(), limits=get_runtime().scheduling_limits, gate=write_gate())
    return jsonify(item.public()), 201 if created else 200


@notifications_api.get("/conversations/<conv_id>/scheduled-messages")
@login_required
def list_scheduled(conv_id: str):
    return jsonify(scheduling.list_scheduled(get_runtime().store, g.user, conv_id, parse_id_page(request.args)))


@notifications_api.patch("/scheduled-messages/<item_id>")
@login_required
def update_scheduled(item_id: str):
    item = scheduling.do_update_scheduled(get_runtime().store, web_notifier(), g.user, item_id,
                                          body(ScheduledMessageUpdate), now=utcnow(),
                                          limits=get_runtime().scheduling_limits, gate=write_gate())
    return jsonify(item.public())


@notifications_api.delete("/scheduled-messages/<item_id>")
@login_required
def cancel_scheduled(item_id: str):
    scheduling.do_cancel_scheduled(get_runtime().store, web_notifier(), g.user, item_id, now=utcnow())
    return "", 204


@notifications_api.post("/messages/<message_id>/reminders")
@login_required
@limited("reminder", ReminderCreate)
def create_reminder(message_id: str, payload: ReminderCreate):
    """201 a reminder notification (status pending, scheduledFor = at), sent at that time."""
    s = get_runtime().settings
    reminder = notifications.do_create_reminder(get_runtime().store, g.user, message_id, payload,
                                                now=utcnow(), max_days_ahead=s.scheduled_max_days_ahead,
                                                ttl_days=s.notification_ttl_days)
    return jsonify(reminder.public()), 201


@notifications_api.get("/groups/<group_id>/retention")
@login_required
def get_retention(group_id: str):
    return jsonify(retention.get_retention(get_runtime().store, g.user, group_id))


@notifications_api.put("/groups/<group_id>/retention")
@login_required
def set_retention(group_id: str):
    """Group admins: {days?, maxMessages?}; applied by the retention job (beat)."""
    return jsonify(retention.do_set_retention(get_runtime().store, g.user, group_id, body(RetentionUpdate), utcnow()))
