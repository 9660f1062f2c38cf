"""Profile changes (seed 001 "synchronisation"): the user at once, the copies in their messages after.

Each message carries a copy of its sender's profile (``senderInfo``) so history needs no join. When a
user changes their profile, ``do_update_profile`` writes the user and enqueues ``messages.sync_profile``;
the worker runs ``sync_sender_info``, which walks the user's messages down the (senderId, createdAt)
index and rewrites the stale copies in bounded batches, then tells the user's groups (``user:updated``)
rather than sending one ``message:updated`` per message.

Why it cannot write an older profile: the task carries only the user id and reads the profile when it
runs, so a redelivered or late task writes what is current. Two syncs of one user may overlap (a change
made while one is running); each pass checks at its end that the profile it wrote is still the current
one, and walks again if not, so the last writer always writes the current profile. Messages stored
while a sync runs are checked by the drain itself (``pipelines.messages.writer.InboxWriter.recheck_senders``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.policy.gate import Gate
from schemas.common import new_id, utcnow
from schemas.documents import ActivityLog, SenderInfo, User
from schemas.errors import ApiError, Code
from schemas.payloads import ProfileUpdate

# The fields others see as who the user is (names, and the picture's address, which every client loads): they
# pass the write gate (pipelines.gate).
NAME_FIELDS = ("fname", "lname", "avatarUrl")


def do_update_profile(store: Store, enqueue_sync: Callable[[str], None], user: User,
                      update: ProfileUpdate, gate: Gate | None = None) -> User:
    """Write the fields given and answer the updated user; the messages follow in the background.

    A new display name or avatar address goes through the write gate in every group of the user, since
    every one of them shows it: refused while the user is muted in any, refused when a rule of any blocks or holds it, masked
    where one masks, and reviewed (in that group) where one flags. The email and language are the user's own.
    """
    changes = {k: v for k, v in update.model_dump(exclude_unset=True).items() if getattr(user, k) != v}
    if not changes:
        return user  # nothing changes: no write, no sync
    names = {k: changes[k] for k in NAME_FIELDS if changes.get(k)}   # (removing an avatar is not a write)
    screened = None
    if names:
        gate = gate or Gate(store)
        screened = gate.screen(gate.admit(user, "name"), names, user.id)
        changes.update(screened.texts)
    updated = store.users.update_user_profile(user.id, changes, utcnow())
    if updated is None:
        raise ApiError(Code.NOT_FOUND, "this account no longer exists")
    store.audit.log_activity(ActivityLog(id=new_id(), userId=user.id, action="update", resource="user",
                                   resourceId=user.id, timestamp=updated.updatedAt,
                                   changes={"before": SenderInfo.of(user).model_dump(),
                                            "after": SenderInfo.of(updated).model_dump()}))
    if screened is not None:
        gate.opened(screened)
    if SenderInfo.of(updated) != SenderInfo.of(user):  # email and language are not copied into messages
        enqueue_sync(user.id)
    return updated


@dataclass
class SyncResult:
    user_id: str
    updated: int = 0                                   # messages rewritten
    batches: list[int] = field(default_factory=list)  # size of each update_many
    passes: int = 0                                    # walks (more than one if the profile changed meanwhile)
    continued: bool = False                            # the profile kept changing: a follow-up task was enqueued
    notified_groups: int = 0


def sync_sender_info(user_id: str, *, store: Store, notifier: Notifier, enqueue_sync: Callable[[str], None],
                     batch: int = 500, max_passes: int = 3) -> SyncResult:
    """Bring the senderInfo of every message of the user to the user's current profile, ``batch`` messages
    per write. Idempotent: a second run finds nothing stale and writes nothing."""
    result = SyncResult(user_id)
    user = store.users.get_user(user_id)
    while user is not None:
        info = SenderInfo.of(user)
        until = None
        while docs := store.messages.stale_sender_messages(user_id, info, until=until, limit=batch):
            result.updated += store.messages.set_sender_info([d["_id"] for d in docs], info)
            result.batches.append(len(docs))
            until = docs[-1]["createdAt"]
        result.passes += 1
        user = store.users.get_user(user_id)
        if user is None or SenderInfo.of(user) == info:
            break
        # Changed during the walk: what we wrote may be older than what a sync running meanwhile wrote.
        if result.passes >= max_passes:
            # Changing over and over: hand over rather than hold a worker (each change enqueued its own task too).
            enqueue_sync(user_id)
            result.continued = True
            return result
    if user is not None:
        group_ids = store.groups.group_ids_of_user(user_id)
        notifier.notify_user_updated(user, group_ids)
        result.notified_groups = len(group_ids)
    return result
