"""The Celery application (``celery -A workers worker -Q messages``): one module per queue."""
from infra.quiet import filter_upstream_warnings

filter_upstream_warnings()  # first: what the task modules import warns as it loads

from workers.celery_app import celery  # noqa: E402

__all__ = ["celery"]
