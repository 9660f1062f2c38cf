"""Background work on an eventlet loop goes after the chat's work.

The web process is one event loop for every socket. The upload routes run on it everywhere; in the
embedded default the workers are green threads of that process too, so a media task's steps share the
loop as well. Eventlet runs whatever is ready in turn, so a burst of background
work makes each chat message queue behind it (a loop busy 80 % of the time makes a message wait several
times longer than at 50 %). ``give_way()`` is called before a slice of background work: it returns when
the loop has nothing else to run, so chat goes first and background work fills the loop's idle moments.

- "Nothing else to run": two yields in a row (``sleep(0)``) each come back within ``FREE_WITHIN``. A yield
  lets every ready green thread run once; the second one also lets the hub poll the sockets.
- One caller checks at a time (a semaphore): twenty media tasks waiting do not spin the loop twenty
  times. While the loop is busy the checker sleeps ``RECHECK`` between checks.
- Never starved: after ``MAX_WAIT`` of checking, the slice runs anyway (a loop that never idles is
  overloaded, and background work still has to finish).
- Elsewhere (a prefork worker, a script, a test without eventlet) it returns at once.

It bounds nothing by itself: a slice, once started, runs to its end. Callers keep their slices short (an
one step's store update, one request).
"""
from __future__ import annotations

import sys
import time

FREE_WITHIN = 0.0003  # a yield that comes back within this found nothing else to run
RECHECK = 0.001  # while the loop is busy
MAX_WAIT = 0.25  # then the slice runs anyway

_lane = None


def green() -> bool:
    """Whether eventlet patched this process (the embedded default's web process): only there is an event
    loop to make way for. A process that never imported eventlet is not patched, and is not made to import
    it just to ask (0.6 s of a Celery export worker's walk, py-spy)."""
    if "eventlet" not in sys.modules:
        return False
    from eventlet import patcher
    return patcher.is_monkey_patched("socket")


def _free(sleep) -> bool:
    for _ in range(2):
        began = time.perf_counter()
        sleep(0)
        if time.perf_counter() - began > FREE_WITHIN:
            return False
    return True


def give_way(max_wait: float = MAX_WAIT) -> float:
    """Wait (under eventlet) until the event loop has nothing else to run, at most ``max_wait`` seconds;
    returns the seconds waited."""
    if not green():
        return 0.0
    global _lane
    import eventlet
    import eventlet.semaphore

    if _lane is None:
        _lane = eventlet.semaphore.Semaphore(1)
    began = time.perf_counter()
    with _lane:
        turn = time.perf_counter()  # the wait for the lane itself is not bounded: the slices before go first
        while not _free(eventlet.sleep) and time.perf_counter() - turn < max_wait:
            eventlet.sleep(RECHECK)
    return time.perf_counter() - began
