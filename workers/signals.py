"""Every task counted by queue, task and outcome, and timed, from Celery's signals (connected once, on
import, by workers/celery_app.py): the same in the embedded default's in-process workers and in each
worker role, since signals fire in the process that runs the task.

Outcomes: ``success``; ``retry`` (a transient error, retried with backoff); ``failure`` (a permanent error:
failed once); ``dead_letter`` (a transient error whose retries ran out: the task gives up for good and its
record is left to the sweeper, pipelines/upkeep/sweeper.py).
"""
from __future__ import annotations

import time

from celery import signals

from infra.metrics import TASK_SECONDS, TASKS

OUTCOMES = ("success", "failure", "retry", "dead_letter")


class _Bound:
    """One task's metric children, labelled once: a task's signals then cost no label lookup."""
    __slots__ = ("seconds", "outcomes")

    def __init__(self, name: str) -> None:
        queue = name.partition(".")[0]
        self.seconds = TASK_SECONDS.labels(queue, name)
        self.outcomes = {o: TASKS.labels(queue, name, o) for o in OUTCOMES}


_bound: dict[str, _Bound] = {}


def bound(name: str) -> _Bound:
    children = _bound.get(name)
    if children is None:  # (two threads may build it at once: the same children either way)
        children = _bound[name] = _Bound(name)
    return children


def gave_up(task, exception: BaseException | None) -> bool:
    """Whether a failure is a transient error whose retries ran out (Celery's autoretry re-raises the
    error itself when ``request.retries`` reached ``max_retries``)."""
    retryable = getattr(task, "autoretry_for", ())
    if not retryable or not isinstance(exception, tuple(retryable)):
        return False
    return task.max_retries is not None and task.request.retries >= task.max_retries


@signals.task_prerun.connect(weak=False, dispatch_uid="chat-metrics-prerun")
def _started(sender=None, task=None, **_) -> None:
    task = task or sender
    # The request context is this run's own (pushed before prerun, popped after postrun).
    task.request.chat_started = time.perf_counter()


@signals.task_postrun.connect(weak=False, dispatch_uid="chat-metrics-postrun")
def _finished(sender=None, task=None, state=None, **_) -> None:
    task = task or sender
    started = getattr(task.request, "chat_started", None)
    children = bound(task.name)
    if started is not None:
        children.seconds.observe(time.perf_counter() - started)
    if state == "SUCCESS":
        children.outcomes["success"].inc()


@signals.task_retry.connect(weak=False, dispatch_uid="chat-metrics-retry")
def _retried(sender=None, **_) -> None:
    bound(sender.name).outcomes["retry"].inc()


@signals.task_failure.connect(weak=False, dispatch_uid="chat-metrics-failure")
def _failed(sender=None, exception=None, **_) -> None:
    bound(sender.name).outcomes["dead_letter" if gave_up(sender, exception) else "failure"].inc()
