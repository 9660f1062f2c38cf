"""workers.messages: when a lingering drain may keep its pool slot (Celery's own worker state)."""
from __future__ import annotations

import pytest
from celery.worker import state

from workers.messages import nothing_waits_for_a_slot


class Request:
    def __init__(self, hostname: str) -> None:
        self.hostname = hostname


@pytest.fixture
def requests():
    taken: list[Request] = []  # strong references: Celery's sets are weak
    yield taken
    for r in taken:
        state.reserved_requests.discard(r)
        state.active_requests.discard(r)


def test_only_a_task_of_the_same_worker_that_waits_for_a_slot_counts(requests):
    running, waiting, elsewhere = Request("messages@h"), Request("messages@h"), Request("media@h")
    requests += [running, waiting, elsewhere]
    for r in requests:
        state.reserved_requests.add(r)   # Celery keeps a running task in both sets
    state.active_requests.add(running)
    assert nothing_waits_for_a_slot("messages@h") is False
    assert nothing_waits_for_a_slot("media@h") is False
    assert nothing_waits_for_a_slot("other@h") is True
    state.active_requests.add(waiting)
    state.active_requests.add(elsewhere)
    assert nothing_waits_for_a_slot("messages@h") is True
    assert nothing_waits_for_a_slot("media@h") is True
