"""The dashboard and the alerts use only metrics infra/metrics.py defines, each with the suffixes of its type
(a counter's _total, a histogram's _bucket/_count/_sum), and the dashboard shows every one of them."""
from __future__ import annotations

import re

from tests.ops.conftest import SUFFIXES, alert_exprs, dashboard_exprs, defined_metrics


def used_names(exprs: list[str]) -> set[str]:
    return {name for e in exprs for name in re.findall(r"\bchat_\w+", e)}


def resolve(name: str, defined: dict[str, str]) -> str | None:
    """The defined metric a series name belongs to, when its suffix fits the metric's type."""
    for metric, kind in defined.items():
        if any(name == metric + suffix for suffix in SUFFIXES[kind]):
            return metric
    return None


def test_the_definitions_are_read():
    defined = defined_metrics()
    assert defined["chat_tasks"] == "counter" and defined["chat_ack_seconds"] == "histogram"
    assert {"chat_inbox_backlog", "chat_inboxes_waiting", "chat_review_queue_size"} <= set(defined)


def test_a_wrong_suffix_is_caught():
    defined = defined_metrics()
    assert resolve("chat_tasks", defined) is None            # a counter is scraped as chat_tasks_total
    assert resolve("chat_ack_seconds_total", defined) is None
    assert resolve("chat_ack_seconds_bucket", defined) == "chat_ack_seconds"


def test_alerts_use_defined_metrics():
    defined = defined_metrics()
    names = used_names(alert_exprs())
    assert names
    assert {n for n in names if resolve(n, defined) is None} == set()


def test_dashboard_uses_defined_metrics_and_shows_them_all():
    defined = defined_metrics()
    names = used_names(dashboard_exprs())
    assert {n for n in names if resolve(n, defined) is None} == set()
    assert set(defined) - {resolve(n, defined) for n in names} == set()
