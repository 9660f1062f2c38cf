"""A watchdog for the event loop (``LOOP_STALL_MS``): when it is slow to come round, and what ran.

A socket event that arrives while the loop is busy waits until the loop comes round to it, so an
operator who sees slow deliveries needs to know what held the loop. A green thread marks each turn of the
loop (a timer, run once per turn); a real OS thread (eventlet's original ``threading``, so it runs while
the loop does not) looks every few milliseconds, and when the mark is older than the threshold it samples
the main thread's stack, which is the stack of whatever green thread is running. When the loop comes
round it logs one warning (from the loop's own thread: logging's locks are green here, and a real
thread that waits on one breaks the hub with "Cannot switch to a different thread"): how long the turn
took, how much of it the process's main thread spent on a CPU (the rest it was runnable but not running,
i.e. waiting for a core, or blocked in a system call), how much of it the garbage collector took (timed by
its callbacks, ``gc.callbacks``, and named by the oldest generation it collected), and the stacks it sampled. (The sampler gets the GIL most often where the running code releases it,
at a socket call, so the stacks say which green thread ran rather than which line cost the time.)

It lives in app/, not in the embedded default: every web process (the ``web`` role as much as ``make run``)
is one event loop, and any of them can be watched.
"""
from __future__ import annotations

import collections
import gc
import logging
import sys
import traceback

import eventlet
from eventlet import patcher

log = logging.getLogger(__name__)
_threading = patcher.original("threading")
_time = patcher.original("time")

SAMPLES = 3       # stacks kept per stall: at the threshold, and at each further threshold's worth
FRAMES = 12       # innermost frames shown per stack


class Collections:
    """Time the garbage collector stopped the process, from its callbacks: a running total, and the oldest
    generation collected. Plain attributes, written only by the collecting thread: no lock (a lock taken
    inside a collection could be the one the interrupted code holds)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.runs = 0
        self.generations: collections.deque[int] = collections.deque(maxlen=64)  # of the latest runs, in order
        self._began: float | None = None

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began = _time.perf_counter()
        elif self._began is not None:
            self.seconds += _time.perf_counter() - self._began
            self.generations.append(info["generation"])
            self.runs += 1
            self._began = None

    def oldest_since(self, runs: int) -> int | None:
        """The oldest generation collected by the runs after the first ``runs`` (None: no run since)."""
        new = min(self.runs - runs, len(self.generations))
        return max(list(self.generations)[-new:]) if new > 0 else None


class LoopWatch:
    def __init__(self, threshold_ms: float, tick_ms: float = 2.0) -> None:
        self.threshold = threshold_ms / 1000
        self.tick = tick_ms / 1000
        self.beat = _time.monotonic()
        self.stalls = 0          # stalls logged since start
        self.longest_ms = 0.0
        self.last: tuple[float, float, float] | None = None  # the last stall: ms, ms on a CPU, ms collecting
        self.collections = Collections()
        self._main = _threading.get_ident()
        try:  # the main thread's CPU time
            clock = _time.pthread_getcpuclockid(self._main)
            self._cpu = lambda: _time.clock_gettime(clock)
        except (AttributeError, OSError):  # not on every system (macOS): the whole process's instead
            self._cpu = _time.process_time
        self._stop = _threading.Event()
        self._reports: collections.deque = collections.deque()  # from the watch thread to the loop

    def start(self) -> "LoopWatch":
        gc.callbacks.append(self.collections)
        eventlet.spawn(self._mark)
        _threading.Thread(target=self._watch, name="loop-watch", daemon=True).start()
        log.info("event loop watch on: stalls over %.0f ms are logged with what ran", self.threshold * 1000)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.collections in gc.callbacks:
            gc.callbacks.remove(self.collections)

    def _mark(self) -> None:
        while not self._stop.is_set():
            self.beat = _time.monotonic()
            while self._reports:
                self._report(*self._reports.popleft())
            eventlet.sleep(self.tick)

    def _watch(self) -> None:
        gcs = self.collections
        seen_beat, cpu_at_beat, gc_at_beat, gcs_at_beat = self.beat, self._cpu(), gcs.seconds, gcs.runs
        samples: list[str] = []
        while not self._stop.wait(self.tick):
            beat, cpu, gc_seconds, gc_runs = self.beat, self._cpu(), gcs.seconds, gcs.runs
            if beat != seen_beat:  # the loop turned since the last look
                if samples:        # after a stall: report it, with the CPU and collector time in it
                    stalled = beat - seen_beat
                    self._reports.append((stalled * 1000, min(stalled, cpu - cpu_at_beat) * 1000,
                                          min(stalled, gc_seconds - gc_at_beat) * 1000,
                                          gcs.oldest_since(gcs_at_beat), samples))
                    samples = []
                # all within a tick of the loop's last turn
                seen_beat, cpu_at_beat, gc_at_beat, gcs_at_beat = beat, cpu, gc_seconds, gc_runs
                continue
            lag = _time.monotonic() - beat
            if lag >= self.threshold * (len(samples) + 1) and len(samples) < SAMPLES:
                samples.append(self._stack(lag))

    def _stack(self, lag: float) -> str:
        frame = sys._current_frames().get(self._main)
        frames = traceback.extract_stack(frame)[-FRAMES:] if frame is not None else []
        where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames))
        return f"at {lag * 1000:.0f} ms: {where or 'unknown'}"

    def _report(self, stalled_ms: float, on_cpu_ms: float, gc_ms: float, oldest: int | None,
                samples: list[str]) -> None:
        self.stalls += 1
        self.longest_ms = max(self.longest_ms, stalled_ms)
        self.last = (stalled_ms, on_cpu_ms, gc_ms)
        collected = f"{gc_ms:.0f} ms in garbage collection (up to generation {oldest})" if oldest is not None \
            else "no garbage collection"
        log.warning("event loop stalled: %.0f ms to come round, %.0f ms of it on a CPU, %s (socket events "
                    "arriving meanwhile waited); running %s", stalled_ms, on_cpu_ms, collected, "; ".join(samples))
