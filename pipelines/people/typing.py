"""Typing indicators: ephemeral, never queued, never stored (seed 003).

``TypingTracker`` lives in a web process and knows who is typing where through that process's sockets.
``typing:start`` is broadcast once, then only refreshed; the indicator ends with ``typing:stop``, when
the socket disconnects, or by itself ``ttl`` seconds after the last start. Its clock is passed in
(``schedule``), so the tracker is tested without waiting.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from pipelines.events import Notifier
from schemas.events import Typing


class Timer(Protocol):
    def cancel(self) -> Any: ...


Schedule = Callable[[float, Callable[[], None]], Timer]


@dataclass
class _Typing:
    timer: Timer
    skip_sid: str | None


class TypingTracker:
    def __init__(self, notifier: Notifier, schedule: Schedule, ttl: float = 5.0) -> None:
        self.notifier, self.schedule, self.ttl = notifier, schedule, ttl
        self._active: dict[tuple[str, str], _Typing] = {}  # (convId, userId) -> its expiry timer

    def do_start(self, conv_id: str, user_id: str, sid: str | None = None) -> bool:
        """True when this start was broadcast (the user was not already typing there)."""
        key = (conv_id, user_id)
        current = self._active.pop(key, None)
        if current:
            current.timer.cancel()
        self._active[key] = _Typing(self.schedule(self.ttl, lambda: self._expire(key)), sid)
        if current is None:
            self.notifier.notify_typing(True, Typing(convId=conv_id, userId=user_id), skip_sid=sid)
        return current is None

    def do_stop(self, conv_id: str, user_id: str) -> bool:
        """True when a stop was broadcast (the user was typing there)."""
        current = self._active.pop((conv_id, user_id), None)
        if current is None:
            return False
        current.timer.cancel()
        self.notifier.notify_typing(False, Typing(convId=conv_id, userId=user_id), skip_sid=current.skip_sid)
        return True

    def do_stop_all(self, user_id: str, sid: str) -> None:
        """The socket closed: end what it was typing."""
        for conv_id, uid in [k for k, t in self._active.items() if k[1] == user_id and t.skip_sid == sid]:
            self.do_stop(conv_id, uid)

    def is_typing(self, conv_id: str, user_id: str) -> bool:
        return (conv_id, user_id) in self._active

    def _expire(self, key: tuple[str, str]) -> None:
        if key in self._active:
            self.do_stop(*key)
