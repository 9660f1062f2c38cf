"""The drain: one conversation's inbox stored in order by one worker at a time (worker side of the
message path; accepting is pipelines.messages.submit, storing a batch pipelines.messages.writer).

Ordering and exactly-once, in short:
- ``submit_message`` (submit) appends the send to the conversation's inbox (a Redis stream, whose order is
  the order in which sends were accepted by any web process) and enqueues ``messages.drain`` unless
  a drain is already scheduled for the conversation.
- ``drain_inbox`` runs in a worker. One drainer per conversation at a time (a Redis lock); it stores
  entries in stream order with seq = previous + 1, so seq has no gaps or repeats, and one sender's
  messages keep their send order whatever the size of the worker pool. It removes an entry from the
  stream only after its message is stored, so a worker killed mid-drain loses nothing.
- Idempotency: a unique (convId, senderId, clientId) index. A redelivered task or a client retry finds
  the stored message instead of storing a second one. The room hears a message once: a retry of an
  announced message is answered to the retrying socket only; a message stored by a drain that died
  before announcing it (its seq is past the conversation's ``lastSeq``, which moves only after the
  batch's events are published) is announced to the room then.
- Edits and deletes travel through the same inbox (``submit_change``), so they apply in order with the
  sends, and are written so that applying one twice changes nothing.
"""
from __future__ import annotations

import time
from typing import Callable

from redis.exceptions import LockError

from infra.inbox import Inbox
from infra.storage import Store
from pipelines.events import Notifier
from pipelines.messages.writer import DrainResult, InboxWriter, TransientError
from pipelines.moderation.screening import Screening


def drain_inbox(conv_id: str, *, store: Store, inbox: Inbox, notifier: Notifier,
                enqueue_drain: Callable[[str], None], batch: int = 50, budget_seconds: float = 0.5,
                linger_ms: int = 0, screening: Screening | None = None,
                on_stored: Callable[[str, list[str]], None] | None = None,
                may_linger: Callable[[], bool] | None = None) -> DrainResult:
    """Store the pending sends of the conversation, in inbox order. Safe to run twice, or concurrently.

    The "drain scheduled" flag stays set while this runs, so senders do not enqueue more tasks. When
    the inbox is empty the drain lingers up to ``linger_ms`` for more (a chatty conversation then costs
    one task per burst, not one per message), clears the flag, reads once more, and stops. It lingers
    in slices of at most ``LINGER_SLICE_MS`` and asks ``may_linger()`` before each: a worker whose other
    tasks wait for a slot does not linger, or stops within a slice. After
    ``budget_seconds`` it hands over to a follow-up task, so one busy conversation cannot hold a
    worker while others wait. With ``screening``, each send and edit passes the group's content filter
    before anything is stored or announced (see ``InboxWriter.screen``). ``on_stored(convId, messageIds)``
    is called once per stored batch with the ids that may notify someone (mentions, replies, and every
    message of a direct conversation): the notifications worker does the rest, off the drain.
    """
    result = DrainResult(conv_id)
    deadline = time.monotonic() + budget_seconds
    while True:
        with inbox.drain_lock(conv_id) as lock:
            if lock is None:
                # The holder re-checks after releasing (below), so it will read what we were sent for.
                result.locked_out = True
                return result
            drain = InboxWriter(conv_id, store, notifier, result, _Renewer(lock), screening)
            drain.on_stored = on_stored
            unscheduled = False
            last_id, idle_ms = None, 0  # the last entry stored, and how long the drain has lingered since
            entries = inbox.claim(conv_id, batch)
            while True:
                done: list[str] = []
                if entries:
                    drain.store_entries(entries)
                    done = [entry_id for entry_id, _ in entries]
                    last_id, idle_ms = done[-1], 0
                    if time.monotonic() >= deadline:
                        inbox.remove(conv_id, done)
                        break
                elif unscheduled:
                    break
                wait = None if unscheduled or last_id is None else _linger_slice(
                    linger_ms, idle_ms, deadline, may_linger)
                if done or wait:
                    # Delete what was stored and read on, waiting a slice for more if the inbox is empty.
                    entries = inbox.advance(conv_id, done, last_id, batch, wait)
                    idle_ms += wait or 0
                    continue
                # Nothing more: sends from now on schedule their own drain; read once more what came before.
                entries = inbox.unschedule_and_claim(conv_id, batch)
                unscheduled = True
        pending, scheduled = inbox.status(conv_id)
        if pending and time.monotonic() > deadline:
            enqueue_drain(conv_id)
            result.continued = True
            return result
        # A send scheduled after our unschedule may have found the lock taken and left it to us.
        if not pending and not scheduled:
            return result


# Longest single wait of a lingering drain: how late it notices that its worker needs the slot.
LINGER_SLICE_MS = 100


def _linger_slice(linger_ms: int, idle_ms: int, deadline: float,
                  may_linger: Callable[[], bool] | None) -> int | None:
    """How long the drain's next read may wait for new entries (None: do not wait)."""
    wait = min(LINGER_SLICE_MS, linger_ms - idle_ms)
    if wait <= 0 or (deadline - time.monotonic()) * 1000 <= wait:
        return None
    if may_linger is not None and not may_linger():
        return None
    return wait


class _Renewer:
    """Renews the drain lock when a third of its timeout has passed, so a long drain keeps it."""

    def __init__(self, lock) -> None:
        self.lock = lock
        self.every = (lock.timeout or 30) / 3
        self.last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last < self.every:
            return
        try:
            self.lock.reacquire()
        except LockError as exc:
            # Another drainer may be running now; stop here, the entries stay for a retry.
            raise TransientError(f"drain lock lost: {exc}") from exc
        self.last = time.monotonic()
