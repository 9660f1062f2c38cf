"""workers.signals: every task run is counted by queue, task and outcome, and timed, from Celery's signals,
through Celery's tracer (``apply`` runs a task through the tracer a worker uses; a real worker role's counts
are read back from a real Prometheus in tests/e2e/test_metrics.py)."""
from __future__ import annotations

from celery import Celery, signals as celery_signals

from tests.metric_samples import sample
from workers import signals  # noqa: F401 - what workers/celery_app.py connects
from workers.celery_app import celery


class Away(Exception):
    """A transient error of these tests' tasks (retried)."""


def tasks_of(app: Celery, queue: str, calls: dict[str, int]) -> dict:
    """Four tasks of ``queue``: one that succeeds, one that is away until its third run, one that is always
    away (gives up after 2 retries), one with a bug (never retried)."""
    retrying = dict(autoretry_for=(Away,), max_retries=2, retry_backoff=False, default_retry_delay=0)

    @app.task(name=f"{queue}.ok", shared=False)
    def ok() -> int:
        return 1

    @app.task(name=f"{queue}.flaky", shared=False, **retrying)
    def flaky() -> int:
        calls["flaky"] = calls.get("flaky", 0) + 1
        if calls["flaky"] < 3:
            raise Away("briefly away")
        return 1

    @app.task(name=f"{queue}.away", shared=False, **retrying)
    def away() -> None:
        raise Away("away for good")

    @app.task(name=f"{queue}.bug", shared=False, **retrying)
    def bug() -> None:
        raise ValueError("a bug")

    return {"ok": ok, "flaky": flaky, "away": away, "bug": bug}


def outcomes(queue: str, name: str) -> dict[str, float]:
    return {o: sample("chat_tasks_total", queue=queue, task=f"{queue}.{name}", outcome=o) for o in signals.OUTCOMES}


def runs(queue: str, name: str) -> float:
    return sample("chat_task_seconds_count", queue=queue, task=f"{queue}.{name}")


def test_the_product_app_connects_the_signals_once():
    assert celery.main == "chat"
    for signal, uid in ((celery_signals.task_prerun, "chat-metrics-prerun"),
                        (celery_signals.task_postrun, "chat-metrics-postrun"),
                        (celery_signals.task_retry, "chat-metrics-retry"),
                        (celery_signals.task_failure, "chat-metrics-failure")):
        assert [r for r in signal.receivers if uid in str(r[0])], signal.name
    assert sum("chat-metrics-prerun" in str(r[0]) for r in celery_signals.task_prerun.receivers) == 1


def test_each_outcome_is_counted_under_the_tasks_queue_and_every_run_is_timed():
    calls: dict[str, int] = {}
    t = tasks_of(Celery("signals-eager", set_as_current=False), "unitq", calls)
    before = {n: (outcomes("unitq", n), runs("unitq", n)) for n in t}
    t["ok"].apply()
    t["flaky"].apply()      # away, away, then fine: two retries and a success
    t["away"].apply()       # away three times: two retries, then it gives up (dead letter)
    t["bug"].apply()        # a permanent error: failed once, never retried
    delta = {n: {o: v - before[n][0][o] for o, v in outcomes("unitq", n).items()} for n in t}
    zero = dict.fromkeys(signals.OUTCOMES, 0.0)
    assert delta["ok"] == {**zero, "success": 1}
    assert delta["flaky"] == {**zero, "retry": 2, "success": 1}
    assert delta["away"] == {**zero, "retry": 2, "dead_letter": 1}
    assert delta["bug"] == {**zero, "failure": 1}
    assert {n: runs("unitq", n) - before[n][1] for n in t} == {"ok": 1, "flaky": 3, "away": 3, "bug": 1}


def test_the_queue_label_is_the_task_names_prefix():
    assert signals.bound("media.process").outcomes["success"] is signals.bound("media.process").outcomes["success"]
    before = sample("chat_tasks_total", queue="media", task="media.process", outcome="success")
    signals.bound("media.process").outcomes["success"].inc()
    assert sample("chat_tasks_total", queue="media", task="media.process", outcome="success") == before + 1
