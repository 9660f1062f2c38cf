"""The embedded default's executor: CPU calls in the child-process pool, long walks in a fork that reads the
in-memory store as it was, and work on the event loop in slices that let chat go first.

Each call asks eventlet whether this process is the embedded web process (``priority.green``): in any
other process (a script, a test, a prefork worker) every method is a plain call, as ``DirectExecutor``'s.
"""
from __future__ import annotations

from typing import Any, Callable

from infra.embedded import cpu, priority


class EmbeddedExecutor:
    """``infra.executor.Executor`` for the process that serves the chat and runs the workers on one loop.
    ``snapshots``: the store is this process's memory, which a long walk reads in a fork (``run_forked``)."""

    def __init__(self, *, snapshots: bool = True) -> None:
        self.run_on_snapshot: Callable[..., Any] | None = cpu.run_forked if snapshots else None

    @property
    def shares_loop(self) -> bool:
        return priority.green()

    def run_cpu(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return cpu.run_cpu(fn, *args, **kwargs)

    def give_way(self) -> None:
        priority.give_way()
