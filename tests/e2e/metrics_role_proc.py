"""A real prefork worker role (``celery worker --pool prefork``) whose pool children count something, for the test
of its metrics listener (tests/e2e/test_metrics.py): ``metrics.count`` adds ``n`` to chat_tasks in the child that
runs it, so the listener's sum over the children's files can be checked against what was sent.
Usage (PROMETHEUS_MULTIPROC_DIR, METRICS_PORT and REDIS_URL in the environment): python -m tests.e2e.metrics_role_proc
"""
import time

from infra.metrics import TASKS
from workers.celery_app import celery


@celery.task(name="media.count_for_metrics_test")
def count(n: int) -> None:
    TASKS.labels("media", "media.count_for_metrics_test", "success").inc(n)


if __name__ == "__main__":
    celery.worker_main(["worker", "-Q", "media", "-P", "prefork", "-c", "2", "--without-mingle", "--without-gossip",
                        "--without-heartbeat", "-l", "INFO", "-n", f"metrics-{time.time_ns()}@%h"])
