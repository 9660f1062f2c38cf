"""Typing indicators: one start per burst, stop on request, on disconnect or by themselves."""
from __future__ import annotations

from pipelines.people.typing import TypingTracker


class FakeClock:
    """schedule(delay, fn) that fires only when the test advances time."""

    def __init__(self) -> None:
        self.now, self.timers = 0.0, []

    def schedule(self, delay, fn):
        timer = _Timer(self.now + delay, fn)
        self.timers.append(timer)
        return timer

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for t in [t for t in self.timers if t.at <= self.now and not t.cancelled]:
            t.cancelled = True
            t.fn()


class _Timer:
    def __init__(self, at, fn) -> None:
        self.at, self.fn, self.cancelled = at, fn, False

    def cancel(self) -> None:
        self.cancelled = True


def tracker(notifier):
    clock = FakeClock()
    return TypingTracker(notifier, clock.schedule, ttl=5), clock


def events(emitter):
    return [(e, d["userId"], r) for e, d, r in emitter.events]


def test_start_is_broadcast_once_then_refreshed_and_stop_ends_it(notifier, emitter):
    typing, clock = tracker(notifier)
    assert typing.do_start("c1", "u1", sid="s1") is True
    clock.advance(4)
    assert typing.do_start("c1", "u1", sid="s1") is False   # a refresh: nothing broadcast
    clock.advance(4)                                         # 8 s after the first start, 4 after the refresh
    assert typing.is_typing("c1", "u1")
    assert typing.do_stop("c1", "u1") is True
    assert typing.do_stop("c1", "u1") is False
    assert events(emitter) == [("typing:start", "u1", "conv:c1"), ("typing:stop", "u1", "conv:c1")]
    assert emitter.skipped == ["s1", "s1"]  # never echoed to the typist's own socket


def test_an_indicator_without_stop_expires_by_itself(notifier, emitter):
    typing, clock = tracker(notifier)
    typing.do_start("c1", "u1", sid="s1")
    clock.advance(4.9)
    assert typing.is_typing("c1", "u1")
    clock.advance(0.2)
    assert not typing.is_typing("c1", "u1")
    assert events(emitter)[-1] == ("typing:stop", "u1", "conv:c1")


def test_disconnect_ends_only_that_sockets_indicators(notifier, emitter):
    typing, clock = tracker(notifier)
    typing.do_start("c1", "u1", sid="tab-1")
    typing.do_start("c2", "u1", sid="tab-2")
    typing.do_stop_all("u1", "tab-1")
    assert not typing.is_typing("c1", "u1") and typing.is_typing("c2", "u1")
    assert events(emitter)[-1] == ("typing:stop", "u1", "conv:c1")
