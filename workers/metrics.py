"""The worker roles' metrics, wired to Celery's signals: each ``celery -A workers worker`` (and ``beat``) process
serves GET /metrics on METRICS_PORT, under the web's rule (infra.metrics_server: the bearer token, or a loopback
listener). A prefork role (PROMETHEUS_MULTIPROC_DIR set) empties its directory as the worker starts, before its
pool forks; its listener sums every child's files, and a child that exits is marked dead.

The embedded workers inside the web process start nothing here: ``worker_ready`` is sent by the ``celery worker``
command only, and the web's own /metrics already holds what they count."""
from __future__ import annotations

import logging
import threading

from celery import signals

from infra.config import get_settings
from infra.metrics_server import build_registry, child_exited, clean_multiproc_dir, start_listener

log = logging.getLogger(__name__)
_removed: int | None = None  # files of an earlier run removed at worker_init (said once logging is set up)


@signals.worker_init.connect
def _empty_multiproc_dir(**_) -> None:
    global _removed
    path = get_settings().prometheus_multiproc_dir
    if path:
        _removed = clean_multiproc_dir(path)


@signals.worker_process_shutdown.connect
def _child_exit(pid=None, **_) -> None:
    path = get_settings().prometheus_multiproc_dir
    if path and pid:
        child_exited(pid, path)


@signals.worker_ready.connect
def _serve_worker(**_) -> None:
    if _removed is not None:
        log.info("metrics: multiprocess mode in %s (%d files emptied out at start)",
                 get_settings().prometheus_multiproc_dir, _removed)
    _serve("worker")


@signals.beat_init.connect
def _serve_beat(**_) -> None:
    # The embedded beat runs in a thread of the web process, which serves its own /metrics.
    if threading.current_thread() is threading.main_thread():
        _serve("beat")


def _serve(role: str) -> None:
    settings = get_settings()
    if not settings.metrics_port:
        log.info("metrics: no METRICS_PORT: this %s exposes no metrics", role)
        return
    start_listener(settings.metrics_token, settings.metrics_bind, settings.metrics_port,
                   build_registry(settings.prometheus_multiproc_dir))
