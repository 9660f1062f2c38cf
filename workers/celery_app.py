"""The one Celery app: broker, routing by queue (a task's name starts with its queue's), and what every task
shares (acks late, JSON); each queue's retries and transient errors are in workers/reliability.py."""
from __future__ import annotations

import logging

from celery import Celery

from infra.config import get_settings
from workers import signals  # noqa: F401 - connects the tasks' metrics (Celery's signals), once
from workers.beat import beat_schedule
import workers.metrics  # noqa: F401 - the roles' /metrics listeners, wired to Celery's signals

QUEUES = ("messages", "moderation", "media", "notifications", "exports")
# Queues whose tasks wait on CPU-bound work (Pillow, reportlab: child processes in the embedded default).
# The embedded default consumes them with a pool of their own, so that their tasks, waiting for a CPU
# child, never hold the slots the message drains need (bench/media.py: p99 x7 when they shared one).
CPU_QUEUES = ("media", "exports")


def celery_config() -> dict:
    """Read lazily (on first use of celery.conf), so the embedded entry point can set REDIS_URL first."""
    s = get_settings()
    return {
        "broker_url": s.redis_url,
        "broker_connection_retry_on_startup": True,
        # Publishers share broker_pool_limit (10) producers; one that finds them all in use waits for one, as
        # the Redis pools do (infra/redis_pool.py), and as long at most (then OperationalError: retried or refused).
        "broker_pool_acquire_timeout": s.redis_pool_timeout_seconds,
        # A message taken by a worker that dies unacknowledged returns to the queue after this long.
        # Idle workers look for such abandoned messages on every empty poll (one sorted-set range read).
        "broker_transport_options": {"visibility_timeout": s.broker_visibility_timeout,
                                     "unacked_restore_throttle": 1},
        "task_routes": {f"{q}.*": {"queue": q} for q in QUEUES},
        "task_default_queue": "messages",
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        # Ack after the task ran, and give the message back if the worker process dies mid-task:
        # with idempotent tasks, nothing acked to a client is ever lost.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 4,
        "worker_concurrency": s.worker_concurrency,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "imports": [f"workers.{q}" for q in QUEUES],
        # Beat (its own Procfile role; inside the embedded process): the whole schedule is workers/beat.py.
        "beat_schedule": beat_schedule(s),
        "beat_max_loop_interval": 1,
    }


# Celery logs two INFO lines per task (received, succeeded): at hundreds of tasks a second that is
# noise that costs CPU. Failures and retries are still logged.
for _name in ("celery.app.trace", "celery.worker.strategy", "celery.beat"):  # beat: a line per tick
    logging.getLogger(_name).setLevel(logging.WARNING)

celery = Celery("chat")
celery.add_defaults(celery_config)
