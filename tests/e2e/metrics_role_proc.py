"""A real prefork worker role (``celery worker --pool prefork``) whose pool children run tasks, for the test of its
metrics listener (tests/e2e/test_metrics.py): each run is counted in chat_tasks by the child that runs it
(workers/signals.py), so the listener's sum over the children's files can be checked against what was sent.
Usage (PROMETHEUS_MULTIPROC_DIR, METRICS_PORT and REDIS_URL in the environment): python -m tests.e2e.metrics_role_proc
"""
import time

from workers.celery_app import celery


@celery.task(name="media.count_for_metrics_test")
def count(n: int) -> int:
    return n


if __name__ == "__main__":
    celery.worker_main(["worker", "-Q", "media", "-P", "prefork", "-c", "2", "--without-mingle", "--without-gossip",
                        "--without-heartbeat", "-l", "INFO", "-n", f"metrics-{time.time_ns()}@%h"])
