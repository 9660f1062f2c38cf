"""app.loop_watch: a stall of the event loop is logged once, with its length, its CPU time, the garbage
collector's share and what ran."""
from __future__ import annotations

import gc
import logging
import time

import eventlet
import pytest
from eventlet import patcher

from app.loop_watch import LoopWatch


_threading = patcher.original("threading")


class OsThreads(logging.Handler):
    """The operating-system thread each record is emitted from."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(_threading.get_ident())


def compute(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # on the CPU, never yielding to the hub
        pass


def block(seconds: float) -> None:
    patcher.original("time").sleep(seconds)  # off the CPU, but the hub cannot run either


@pytest.mark.parametrize("hold, on_cpu", [(compute, True), (block, False)])
def test_a_stall_is_logged_once_with_its_length_cpu_time_and_the_running_code(caplog, hold, on_cpu):
    threads = OsThreads()
    logging.getLogger("app.loop_watch").addHandler(threads)
    watch = LoopWatch(threshold_ms=40).start()
    try:
        with caplog.at_level(logging.WARNING, logger="app.loop_watch"):
            eventlet.sleep(0.1)           # the loop turns freely: nothing to report
            assert watch.stalls == 0
            hold(0.2)
            eventlet.sleep(0.1)           # the loop turns again: the stall is reported
    finally:
        watch.stop()
        logging.getLogger("app.loop_watch").removeHandler(threads)
    stalls = [r.getMessage() for r in caplog.records if "stalled" in r.getMessage()]
    assert len(stalls) == 1 and watch.stalls == 1
    stalled_ms, cpu_ms, _ = watch.last
    assert 180 <= stalled_ms < 400
    assert (cpu_ms > 150) if on_cpu else (cpu_ms < 50)
    assert hold.__name__ in stalls[0] and "test_loop_watch.py" in stalls[0]
    # Logged from the loop's thread, not the watch's: logging's locks are green, and a real thread that
    # waits on one breaks the hub ("Cannot switch to a different thread", seen with LOOP_STALL_MS=10).
    assert threads.seen and set(threads.seen) == {_threading.main_thread().ident}


def collect_everything(seconds: float) -> None:
    """A full collection over a heap made large enough to take about ``seconds``."""
    heap = [[i] for i in range(200_000)]
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        gc.collect()
    del heap


def test_a_stall_says_how_much_of_it_the_garbage_collector_took():
    watch = LoopWatch(threshold_ms=40).start()
    try:
        eventlet.sleep(0.1)
        compute(0.15)                     # no collection
        eventlet.sleep(0.1)
        assert watch.stalls == 1 and watch.last[2] < 5
        collect_everything(0.2)
        eventlet.sleep(0.1)
    finally:
        watch.stop()
    assert watch.stalls == 2
    stalled_ms, _, gc_ms = watch.last
    assert gc_ms > 0.6 * stalled_ms and watch.collections.oldest_since(0) == 2
    assert watch.collections not in gc.callbacks
