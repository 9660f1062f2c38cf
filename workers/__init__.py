"""The Celery application (``celery -A workers worker -Q messages``): one module per queue."""
from workers.celery_app import celery

__all__ = ["celery"]
