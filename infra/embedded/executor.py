"""The executor of a process on an event loop (the embedded default's web process and its workers): CPU
calls in the child pool, long walks in a fork of the in-memory store, slices of work that let chat go first.

Each call falls back to a plain call where eventlet did not patch the process (a test, a Celery worker
process on the embedded store), exactly as the functions it delegates to do.
"""
from __future__ import annotations

from typing import Any, Callable

from infra.embedded import cpu, priority


class EmbeddedExecutor:
    """``infra.executor.Executor`` for the embedded default; ``snapshots``: the store is this process's
    memory, so a long walk can read it in a fork (``run_on_snapshot``)."""

    def __init__(self, *, snapshots: bool) -> None:
        self.run_on_snapshot: Callable[..., Any] | None = cpu.run_forked if snapshots else None

    @property
    def shares_loop(self) -> bool:
        return priority.green()

    def run_cpu(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return cpu.run_cpu(fn, *args, **kwargs)

    def give_way(self) -> None:
        priority.give_way()
