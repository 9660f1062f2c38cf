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
