"""In-memory stand-ins for Redis-backed I/O, so pipelines are tested without any server."""
from __future__ import annotations

import itertools
import threading
import time
from contextlib import contextmanager

from infra.inbox import Appended
from schemas.tasks import InboxEntry


class MemoryInbox:
    """Same interface and semantics as infra.inbox.Inbox: ordered entries, the "drain scheduled"
    flag, the backlog limit, a non-blocking drain lock."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, str]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._ids = itertools.count(1)
        self._scheduled: set[str] = set()  # conversations whose "drain scheduled" flag is set

    def append(self, conv_id: str, entry: InboxEntry, *, max_backlog: int) -> Appended:
        with self._guard:
            entries = self._entries.setdefault(conv_id, {})
            schedule = conv_id not in self._scheduled
            self._scheduled.add(conv_id)
            if len(entries) >= max_backlog:
                return Appended(None, schedule, len(entries))
            entry_id = f"{next(self._ids)}-0"
            entries[entry_id] = entry.model_dump_json()
            return Appended(entry_id, schedule, len(entries))

    def claim(self, conv_id: str, count: int) -> list[tuple[str, InboxEntry]]:
        with self._guard:
            items = list(self._entries.get(conv_id, {}).items())[:count]
        return [(i, InboxEntry.model_validate_json(raw)) for i, raw in items]

    def advance(self, conv_id: str, done_ids: list[str], after_id: str, count: int,
                block_ms: int | None) -> list[tuple[str, InboxEntry]]:
        self.remove(conv_id, done_ids)
        deadline = time.monotonic() + (block_ms or 0) / 1000
        while True:
            with self._guard:
                newer = [(i, raw) for i, raw in self._entries.get(conv_id, {}).items() if _newer(i, after_id)]
            if newer or time.monotonic() >= deadline:
                return [(i, InboxEntry.model_validate_json(raw)) for i, raw in newer[:count]]
            time.sleep(0.001)

    def unschedule_and_claim(self, conv_id: str, count: int) -> list[tuple[str, InboxEntry]]:
        with self._guard:
            self._scheduled.discard(conv_id)
        return self.claim(conv_id, count)

    def status(self, conv_id: str) -> tuple[int, bool]:
        with self._guard:
            return len(self._entries.get(conv_id, {})), conv_id in self._scheduled

    def remove(self, conv_id: str, entry_ids: list[str]) -> None:
        with self._guard:
            for i in entry_ids:
                self._entries.get(conv_id, {}).pop(i, None)

    def pending(self, conv_id: str) -> int:
        with self._guard:
            return len(self._entries.get(conv_id, {}))

    def stranded(self, limit: int = 1000) -> list[str]:
        with self._guard:
            return [c for c, entries in self._entries.items()
                    if entries and c not in self._scheduled and not self._locks.get(c, threading.Lock()).locked()][:limit]

    @contextmanager
    def drain_lock(self, conv_id: str):
        with self._guard:
            lock = self._locks.setdefault(conv_id, threading.Lock())
        if not lock.acquire(blocking=False):
            yield None
            return
        try:
            yield _HeldLock()
        finally:
            lock.release()


def _newer(entry_id: str, after_id: str) -> bool:
    return tuple(map(int, entry_id.split("-"))) > tuple(map(int, after_id.split("-")))


class _HeldLock:
    timeout = 30

    def reacquire(self) -> None:
        pass


class RecordingEmitter:
    """Keeps every emitted event: (event, data, room)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict, str]] = []
        self.skipped: list[str | None] = []  # skip_sid of each event
        self._guard = threading.Lock()

    def emit(self, event, data, room, skip_sid=None) -> None:
        with self._guard:
            self.events.append((event, data, room))
            self.skipped.append(skip_sid)

    @contextmanager
    def batch(self):
        yield

    def of(self, event: str) -> list[tuple[dict, str]]:
        return [(d, r) for e, d, r in self.events if e == event]
