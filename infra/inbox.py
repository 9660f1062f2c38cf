"""Conversation inboxes: the accepted-but-not-yet-stored sends of each conversation, in Redis streams.

The web front appends (XADD) and enqueues a ``messages.drain`` task unless one is already scheduled;
whichever worker holds the conversation's drain lock stores the entries in stream order and deletes
them (XDEL) once stored.
A stream entry lives until its message is stored or rejected, so a worker that dies mid-drain loses
nothing: the redelivered task (acks_late) or the next drain of the conversation picks it up again.
"""
from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import redis
from pydantic import ValidationError
from redis.exceptions import LockError

from schemas.tasks import InboxEntry

log = logging.getLogger(__name__)

DEAD_LETTERS = "inbox:dead"


def _key(conv_id: str) -> str:
    return f"inbox:conv:{conv_id}"


def _flag(conv_id: str) -> str:
    return f"inbox:scheduled:{conv_id}"


@dataclass(frozen=True)
class RateWindow:
    """A moving-window rate limit hit taken in the same round trip as an append, before it: the list of
    hit times at ``key`` (the ``limits`` library's moving window, so its reads see these hits), at most
    ``limit`` of them within ``expiry`` seconds."""
    key: str
    limit: int
    expiry: int


@dataclass(frozen=True)
class Appended:
    entry_id: str | None    # None: refused (the rate window is full, or the backlog)
    schedule: bool          # this send must enqueue a drain task
    backlog: int
    limited: bool = False   # refused by the rate window: nothing counted, appended or scheduled


# One round trip for a send: the sender's rate window (limits' acquire_moving_window.lua, same list), then
# the backlog's length, the append unless the backlog is full, and the "drain scheduled" flag (SET NX).
# KEYS: stream, flag[, window]; ARGV: entry, max backlog, flag seconds[, now, limit, expiry].
# Returns {backlog, entry id or false, flag set} or {-1} when the window is full.
_APPEND = """
if #KEYS == 3 then
    local now, limit, expiry = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
    local oldest = redis.call('lindex', KEYS[3], limit - 1)
    if oldest and tonumber(oldest) >= now - expiry then
        return {-1}
    end
    redis.call('lpush', KEYS[3], ARGV[4])
    redis.call('ltrim', KEYS[3], 0, limit - 1)
    redis.call('expire', KEYS[3], expiry)
end
local backlog = redis.call('xlen', KEYS[1])
local entry_id = false
if backlog < tonumber(ARGV[2]) then
    entry_id = redis.call('xadd', KEYS[1], '*', 'e', ARGV[1])
    backlog = backlog + 1
end
local flag = redis.call('set', KEYS[2], 1, 'NX', 'EX', ARGV[3])
return {backlog, entry_id, flag and 1 or 0}
"""


class Inbox:
    def __init__(self, client: redis.Redis, lock_seconds: int = 30, flag_seconds: int = 60) -> None:
        self.redis = client
        self._append = client.register_script(_APPEND)
        self.lock_seconds = lock_seconds
        # The flag expires by itself so that a drain task lost on the way (it should not be: tasks are
        # acks_late) delays the conversation's next drain by this long at most.
        self.flag_seconds = flag_seconds

    def append(self, conv_id: str, entry: InboxEntry, *, max_backlog: int,
               window: RateWindow | None = None) -> Appended:
        """Append a send; say whether a drain must be enqueued, or refuse when the backlog is full (the
        flag is still set then, so a drain runs) or, with ``window``, when the sender's rate window is.

        One round trip (a script, ``_APPEND``): the window, XLEN, XADD, then SET NX of the conversation's
        "drain scheduled" flag. Only the send that sets the flag enqueues a drain task. A drainer clears the
        flag (``unschedule``) only just before its last read, so a send that found the flag set is always
        read by a drain.
        """
        keys = [_key(conv_id), _flag(conv_id)]
        args: list = [entry.model_dump_json(), max_backlog, self.flag_seconds]
        if window is not None:
            keys.append(window.key)
            args += [repr(time.time()), window.limit, window.expiry]
        result = self._append(keys=keys, args=args)
        if result[0] == -1:
            return Appended(None, False, 0, limited=True)
        backlog, entry_id, flag_set = result
        return Appended(entry_id.decode() if entry_id else None, bool(flag_set), backlog)

    def claim(self, conv_id: str, count: int) -> list[tuple[str, InboxEntry]]:
        """For the lock holder: the oldest ``count`` entries."""
        return self._parse(conv_id, self.redis.xrange(_key(conv_id), count=count))

    def _parse(self, conv_id: str, raw_entries) -> list[tuple[str, InboxEntry]]:
        """Entries as models; one that cannot be parsed goes to the dead letters."""
        out, dead = [], []
        for raw_id, fields in raw_entries:
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

    def advance(self, conv_id: str, done_ids: list[str], after_id: str, count: int,
                block_ms: int | None) -> list[tuple[str, InboxEntry]]:
        """Delete the stored entries and read the next ones, in one round trip (XDEL, then XREAD).

        With ``block_ms`` the read waits that long for new entries when there are none yet.
        """
        pipe = self.redis.pipeline(transaction=False)
        if done_ids:
            pipe.xdel(_key(conv_id), *done_ids)
        pipe.xread({_key(conv_id): after_id}, count=count, block=block_ms)
        reply = pipe.execute()[-1]
        return self._parse(conv_id, reply[0][1]) if reply else []

    def unschedule_and_claim(self, conv_id: str, count: int) -> list[tuple[str, InboxEntry]]:
        """Clear the "drain scheduled" flag (the next send enqueues a drain), then read what came before."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(_flag(conv_id))
        pipe.xrange(_key(conv_id), count=count)
        return self._parse(conv_id, pipe.execute()[1])

    def status(self, conv_id: str) -> tuple[int, bool]:
        """(entries waiting, whether a drain is scheduled)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.xlen(_key(conv_id))
        pipe.exists(_flag(conv_id))
        pending, scheduled = pipe.execute()
        return pending, bool(scheduled)

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

    # -- metrics (infra.metrics_server, at scrape time) --------------------------------------------
    def backlog(self, scan_keys: int, count: int = 1000) -> tuple[int, int, int]:
        """(sends waiting in every inbox, inboxes holding any, entries in the dead letters): SCAN walks at most
        ``scan_keys`` keys of the database (its cost's bound; past it the figures are a lower bound, logged),
        then one XLEN each, in one pipelined round trip per SCAN page. Drained inboxes stay as empty streams:
        they count in neither."""
        waiting = inboxes = walked = 0
        cursor = None
        while cursor != 0 and walked < scan_keys:
            cursor, keys = self.redis.scan(cursor or 0, match="inbox:conv:*", count=count, _type="stream")
            walked += count
            if keys:
                pipe = self.redis.pipeline(transaction=False)
                for key in keys:
                    pipe.xlen(key)
                lengths = pipe.execute()
                waiting += sum(lengths)
                inboxes += sum(1 for n in lengths if n)
        if cursor != 0:
            log.warning("inbox backlog: stopped after %d keys (METRICS_INBOX_SCAN_KEYS): a lower bound", walked)
        return waiting, inboxes, self.redis.xlen(DEAD_LETTERS)

    # -- upkeep (pipelines.upkeep.repair) ----------------------------------------------------------
    def stranded(self, limit: int = 1000) -> list[str]:
        """Conversations whose inbox holds entries while no drain is scheduled or running (a lost task
        whose flag expired): SCAN, then one round trip for the flags and locks of what it found."""
        convs = []
        for key in self.redis.scan_iter(match="inbox:conv:*", count=500):
            convs.append(key.decode().removeprefix("inbox:conv:"))
            if len(convs) >= limit:
                break
        if not convs:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for conv_id in convs:
            pipe.xlen(_key(conv_id))
            pipe.exists(_flag(conv_id), f"inbox:lock:{conv_id}")
        replies = pipe.execute()
        return [c for c, pending, busy in zip(convs, replies[::2], replies[1::2]) if pending and not busy]
