"""A group's settings, as its admins manage them (GET/PATCH /api/groups/{id}/settings): whether originals
keep their metadata, encryption at rest of what members write (docs/security.md), and the GIF content
rating. Each change is recorded in the group's moderation log, from what to what."""
from __future__ import annotations

from typing import Any

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.moderation.log import do_log_action
from pipelines.policy.access import check_group_manager
from schemas.documents import Conversation, Group, User
from schemas.errors import ApiError, Code
from schemas.payloads import GroupSettingsUpdate

PAGE = 200   # conversation ids read at a time when a group turns encryption on


def _public(store: Store, group: Group) -> dict[str, Any]:
    return {"groupId": group.id, **group.settings.model_dump(), "encryptionAvailable": store.vault.enabled}


def get_group_settings(store: Store, user: User, group_id: str) -> dict[str, Any]:
    return _public(store, check_group_manager(store, user, group_id))


def do_update_group_settings(store: Store, notifier: Notifier, user: User, group_id: str,
                             request: GroupSettingsUpdate) -> dict[str, Any]:
    """Change the settings given. Encryption needs master keys (409 ``encryption_unavailable``) and is one
    way (400 ``invalid_settings`` to turn it off: what was sealed stays sealed); turning it on makes the data
    keys of every conversation of the group at once, so their next writes are sealed in every process."""
    group = check_group_manager(store, user, group_id)
    changes = request.changes()
    before = group.settings.model_dump()
    if changes.get("encryption") is True and not store.vault.enabled:
        raise ApiError(Code.ENCRYPTION_UNAVAILABLE, "encryption at rest is not configured on this server "
                                                    "(no master key): ask its operator")
    if changes.get("encryption") is False and before["encryption"]:
        raise ApiError(Code.INVALID_SETTINGS, "encryption cannot be turned off once on: what was sealed stays sealed")
    updated = store.groups.set_group_settings(group_id, changes)
    if updated is None:
        raise ApiError(Code.NOT_FOUND, f"no group {group_id}")
    after = updated.settings.model_dump()
    if after["encryption"] and changes.get("encryption"):
        do_encrypt_group(store, group_id)   # again on a repeat: finishes what a failed call left half done
    changed = {k: {"from": before[k], "to": after[k]} for k in changes if before[k] != after[k]}
    if changed:
        do_log_action(store, notifier, user, group_id, "group_settings", "group", group_id, changes=changed)
    return _public(store, updated)


def do_encrypt_group(store: Store, group_id: str) -> int:
    """Make the data key of each of the group's conversations that has none; how many were made."""
    made, after = 0, None
    while ids := store.conversations.conversation_ids_of_group(group_id, after, PAGE):
        made += sum(store.vault.ensure_key(conv_id) for conv_id in ids)
        after = ids[-1]
    return made


def mark_encrypted(store: Store, conv: Conversation) -> Conversation:
    """A conversation just stored, with its data key made now when its group (or ENCRYPT_ALL) asks for
    encryption, so that it is announced ``encrypted`` from the start."""
    if store.vault.enabled and store.vault.encrypted(conv.id):
        conv.encrypted = True
    return conv
