"""Who moderates what, as the front sees it: the groups a user moderates, and the moderators' rooms their
sockets join."""
from __future__ import annotations

from typing import Any

from infra.storage import Store
from pipelines.policy.access import MODERATING_ROLES
from schemas import events
from schemas.documents import User

MODERATION_GROUPS_LIMIT = 200


def moderated_groups(store: Store, user: User) -> list[dict[str, Any]]:
    """The groups the user moderates, with their role (system admins: every group, newest first)."""
    if user.role == "ADMIN":
        mine = {g.id: role for g, role in store.groups.groups_of_user(user.id)}
        return [{**g.public(), "role": mine.get(g.id, "ADMIN")} for g in store.groups.all_groups(MODERATION_GROUPS_LIMIT)]
    return [{**g.public(), "role": role} for g, role in store.groups.groups_of_user(user.id) if role in MODERATING_ROLES]


def moderator_rooms(user: User, groups: list[dict[str, Any]]) -> list[str]:
    """The mod: rooms a socket of the user joins at connect (``groups``: the session's, with roles)."""
    rooms = [events.mod_room(g["id"]) for g in groups if g["role"] in MODERATING_ROLES]
    return rooms + ([events.MOD_ALL] if user.role == "ADMIN" else [])
