"""The moderation log: every moderation action recorded once and shown live to the group's moderators,
and the notification that tells a member what was done to them."""
from __future__ import annotations

from typing import Any, Callable

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.policy.access import check_group_moderator
from schemas.common import new_id, utcnow
from schemas.documents import ActivityLog, User
from schemas.payloads import IdPage
from schemas.tasks import NotificationRequest

SYSTEM_ACTOR = "filter"  # the actor name of what the filter does by itself (blocks, automatic mutes)
# The targets that are people (a message's, a review's or a file's target name is its author's username);
# a filter's target name is its pattern, a group's is nothing.
PERSON_TARGETS = frozenset({"user", "message", "review", "media"})

# tell(request): leave the user a notification (workers.notifications.enqueue_notify).
Tell = Callable[[NotificationRequest], None]


def tell_user(tell: Tell | None, user_id: str, key: str, title: str, body: str, group_id: str) -> None:
    """A ``moderation`` notification about the user: it outlives the live event they may not see."""
    if tell is not None:
        tell(NotificationRequest(userId=user_id, type="moderation", key=key, title=title, body=body,
                                 data={"groupId": group_id}))


def do_log_action(store: Store, notifier: Notifier, actor: User | None, group_id: str, action: str,
                  target_type: str, target_id: str | None, *, target_name: str | None = None,
                  reason: str | None = None, changes: dict | None = None, once: str | None = None,
                  conv_id: str | None = None) -> None:
    """Record a moderation action and show it live to the group's moderators. ``once``, a key derived from
    what happened, makes a redelivered task record it once. ``conv_id``: the conversation whose content
    ``reason`` quotes (a report's reason, a blocked match, a decision's note): stored sealed with its key
    when it is encrypted."""
    entry = ActivityLog(id=new_id(), key=once, userId=actor.id if actor else None, action=action,
                        resource=target_type, resourceId=target_id, changes=changes, groupId=group_id,
                        metadata={"actorName": actor.username if actor else SYSTEM_ACTOR,
                                  "targetName": target_name, "reason": reason},
                        timestamp=utcnow())
    if store.audit.insert_activity_once(entry, conv_id):
        notifier.notify_moderation_action(group_id, with_display_names(store, [entry.moderation_entry()])[0])


def list_log(store: Store, user: User, group_id: str, page: IdPage) -> dict[str, Any]:
    check_group_moderator(store, user, group_id)
    entries, more = store.audit.moderation_log(group_id, before=page.before, limit=page.limit)
    return {"entries": with_display_names(store, [e.moderation_entry() for e in entries]), "hasMore": more}


def with_display_names(store: Store, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each entry with ``actorDisplayName`` and ``targetDisplayName``: the names people know (first and last
    name, as the profile says now), None where there is no such person (the filter, a rule, the group) or the
    profile has no name; the log records usernames, which stay the fallback."""
    wanted = {e["actorName"] for e in entries if e.get("actorId") and e.get("actorName")}
    wanted |= {e["targetName"] for e in entries if e.get("targetType") in PERSON_TARGETS and e.get("targetName")}
    users = store.users.users_by_usernames(wanted) if wanted else {}

    def full(name: str | None) -> str | None:
        found = users.get(name or "")
        return f"{found.fname} {found.lname}".strip() or None if found else None
    for e in entries:
        e["actorDisplayName"] = full(e.get("actorName")) if e.get("actorId") else None
        e["targetDisplayName"] = full(e.get("targetName")) if e.get("targetType") in PERSON_TARGETS else None
    return entries
