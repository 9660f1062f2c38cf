"""workers.reliability: every task carries its queue's options, and what each queue retries is what it meets."""
from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect
from redis.exceptions import ConnectionError as RedisConnectionError

from infra.blobs import StorageUnavailable
from infra.executor import WorkerDied
from infra.scanner import ScannerUnavailable
from pipelines.messages.drain import TransientError
from workers.celery_app import QUEUES, celery
from workers.reliability import OPTIONS


@pytest.fixture(scope="module")
def tasks():
    celery.loader.import_default_modules()
    return {name: t for name, t in celery.tasks.items() if not name.startswith("celery.")}


def test_every_task_is_acked_late_and_takes_its_queue_options(tasks):
    assert {name.partition(".")[0] for name in tasks} == set(QUEUES) == set(OPTIONS)
    for name, t in tasks.items():
        options = OPTIONS[name.partition(".")[0]]
        assert t.acks_late and t.retry_backoff, name
        assert (t.autoretry_for, t.max_retries, t.retry_backoff_max) == (
            options["autoretry_for"], options["max_retries"], options["retry_backoff_max"]), name


@pytest.mark.parametrize("error", [AutoReconnect("mongo away"), RedisConnectionError("redis away"),
                                   TransientError("lock lost")])
def test_every_queue_retries_a_database_or_redis_away(tasks, error):
    assert all(isinstance(error, t.autoretry_for) for t in tasks.values())


def test_where_files_are_made_s3_and_a_dead_cpu_child_are_retried_too():
    assert issubclass(StorageUnavailable, OPTIONS["media"]["autoretry_for"])
    assert issubclass(StorageUnavailable, OPTIONS["exports"]["autoretry_for"])
    assert issubclass(WorkerDied, OPTIONS["media"]["autoretry_for"])
    assert issubclass(WorkerDied, OPTIONS["exports"]["autoretry_for"])
    assert issubclass(ScannerUnavailable, OPTIONS["media"]["autoretry_for"])
    assert not issubclass(StorageUnavailable, OPTIONS["messages"]["autoretry_for"])


def test_a_bug_is_not_retried(tasks):
    assert not any(isinstance(ValueError("bug"), t.autoretry_for) for t in tasks.values())
