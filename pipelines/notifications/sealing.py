"""Notifications stored before their conversation had a key, sealed afterwards (docs/security.md): the
walk that seals a conversation's history once it is encrypted calls ``do_seal_stored_notifications`` until
it returns 0. Until then those bodies stay readable: the repository opens a plain body as it is."""
from __future__ import annotations

from infra.storage import Store


def do_seal_stored_notifications(store: Store, conv_id: str, limit: int) -> int:
    """Seal up to ``limit`` plain notification bodies of the conversation (one indexed query, one conditional
    update each); how many plain bodies were found, 0 when none is left (or the conversation is not
    encrypted). A body redacted meanwhile is left as it now is (it is no longer plain text to seal)."""
    if limit <= 0 or not store.vault.encrypted(conv_id):
        return 0
    found = store.notifications.plain_notifications(conv_id, limit)
    for doc in found:
        store.notifications.seal_notification_body(doc["_id"], conv_id, doc["body"])
    return len(found)
