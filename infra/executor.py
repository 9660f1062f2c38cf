"""How CPU-bound calls and long walks run in this process: the small interface the pipelines receive.

A pipeline never asks which runtime it is in; it calls its executor. Every worker role runs tasks in a
pool of its own, so there ``DirectExecutor`` simply calls. The embedded default (one process serving the
chat on an event loop) passes its own implementation: CPU calls in child processes, long walks over its
in-memory store in a fork, and work on the loop in small slices that let chat go first.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol


class WorkerDied(Exception):
    """The process running a call died (killed, out of memory): the call may be retried."""


class Executor(Protocol):
    # The work shares an event loop with the chat: walk in small windows and pause between them.
    shares_loop: bool
    # Runs ``fn(*args)`` in a copy of this process taken now (reading its in-memory store as it was), or
    # None where the store is a server that any process reads.
    run_on_snapshot: Callable[..., Any] | None

    def run_cpu(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, CPU-bound, run where it does not hold up the chat; its result."""

    def give_way(self) -> None:
        """A point where other work (the chat) may run first."""


class DirectExecutor:
    """The worker roles' executor: the task already has a pool slot of its own."""

    shares_loop = False
    run_on_snapshot = None

    def run_cpu(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    def give_way(self) -> None:
        return None
