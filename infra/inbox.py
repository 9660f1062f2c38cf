"""Conversation inboxes: the accepted-but-not-yet-stored sends of each conversation, in Redis streams.

The web front appends (XADD) and then enqueues a ``messages.drain`` task; whichever worker holds the
conversation's drain lock stores the entries in stream order and deletes them (XDEL) once stored.
A stream entry lives until its message is stored or rejected, so a worker that dies mid-drain loses
nothing: the redelivered task (acks_late) or the next drain of the conversation picks it up again.
"""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from typing import Iterator

import redis
from pydantic import ValidationError
from redis.exceptions import LockError

from schemas.tasks import InboxEntry

log = logging.getLogger(__name__)

DEAD_LETTERS = "inbox:dead"


def _key(conv_id: str) -> str:
    return f"inbox:conv:{conv_id}"


class Inbox:
    def __init__(self, client: redis.Redis, lock_seconds: int = 30) -> None:
        self.redis = client
        self.lock_seconds = lock_seconds

    def append(self, conv_id: str, entry: InboxEntry) -> str:
        """Returns the stream id, which orders this send among all sends to the conversation."""
        return self.redis.xadd(_key(conv_id), {"e": entry.model_dump_json()}).decode()

    def read(self, conv_id: str, count: int) -> list[tuple[str, InboxEntry]]:
        """The oldest ``count`` entries. An entry that cannot be parsed goes to the dead letters."""
        out, dead = [], []
        for raw_id, fields in self.redis.xrange(_key(conv_id), count=count):
            entry_id = raw_id.decode()
            try:
                out.append((entry_id, InboxEntry.model_validate_json(fields[b"e"])))
            except (KeyError, ValidationError, ValueError) as exc:
                log.error("inbox %s entry %s is unreadable (%s): moved to %s", conv_id, entry_id, exc, DEAD_LETTERS)
                dead.append(entry_id)
                self.redis.xadd(DEAD_LETTERS, {"conv": conv_id, "id": entry_id,
                                               "raw": json.dumps({k.decode(): v.decode(errors="replace")
                                                                  for k, v in fields.items()})})
        if dead:
            self.remove(conv_id, dead)
        return out

    def remove(self, conv_id: str, entry_ids: list[str]) -> None:
        if entry_ids:
            self.redis.xdel(_key(conv_id), *entry_ids)

    def pending(self, conv_id: str) -> int:
        return self.redis.xlen(_key(conv_id))

    @contextmanager
    def drain_lock(self, conv_id: str) -> Iterator[redis.lock.Lock | None]:
        """The conversation's drain lock, or None at once when another worker holds it.

        Its timeout bounds how long a worker that died holding it blocks the conversation; it must
        stay below the broker's visibility timeout, after which the dead worker's task is redelivered.
        """
        lock = self.redis.lock(f"inbox:lock:{conv_id}", timeout=self.lock_seconds, blocking=False)
        if not lock.acquire(blocking=False):
            yield None
            return
        try:
            yield lock
        finally:
            try:
                lock.release()
            except LockError:
                log.warning("drain lock of %s expired before release (a drain outlived %ss)",
                            conv_id, self.lock_seconds)
