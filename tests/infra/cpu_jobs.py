"""Functions for tests/infra/test_cpu.py to run in the CPU pool (importable by the child processes)."""
import os
import time


def burn(seconds: float) -> int:
    """Hold the CPU (and the GIL) for about that long; returns the process id that did it."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return os.getpid()


def fail(message: str) -> None:
    raise ValueError(message)


def die() -> None:
    os._exit(3)


def burn_span(seconds: float) -> tuple[int, float, float]:
    """burn(), and when it ran (wall clock, comparable between processes)."""
    start = time.time()
    return burn(seconds), start, time.time()


def put_and_pid(blobs, key: str, data: bytes) -> int:
    """Write through storage sent to the child; returns the child's process id."""
    blobs.put_bytes(key, data, "application/octet-stream")
    return os.getpid()


def has_module(name: str) -> tuple[int, bool]:
    """This process's id, and whether it has imported ``name`` (without importing it)."""
    import sys
    return os.getpid(), name in sys.modules


def scheduling() -> tuple[int, int, int]:
    """This process's pid, nice value and scheduling policy."""
    return os.getpid(), os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0)


def lag_during(work) -> tuple[float, object]:
    """The worst lateness of a 5 ms ticker while ``work`` runs in another green thread (under eventlet)."""
    import eventlet

    lags, done = [], []

    def ticker():
        while not done:
            t = time.perf_counter()
            eventlet.sleep(0.005)
            lags.append(time.perf_counter() - t - 0.005)

    eventlet.spawn(ticker)
    eventlet.sleep(0.02)
    result = eventlet.spawn(work).wait()
    done.append(True)
    eventlet.sleep(0.02)
    return max(lags) * 1000, result
