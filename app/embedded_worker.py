"""A real Celery worker consuming the real queues inside the web process (embedded default only).

The embedded store lives in this process's memory, so the workers must too. The pool is Celery's
``threads`` pool; under eventlet's monkey patching its threads are green threads.
"""
from __future__ import annotations

import logging
import threading

from celery.worker import WorkController

from workers.celery_app import QUEUES, celery

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(self, concurrency: int) -> None:
        celery.loader.import_default_modules()
        self.controller = WorkController(
            app=celery, hostname="embedded@localhost", pool_cls="threads", concurrency=concurrency,
            queues=list(QUEUES), without_heartbeat=True, without_mingle=True, without_gossip=True,
            loglevel=logging.WARNING)
        self.thread = threading.Thread(target=self.controller.start, name="celery-worker", daemon=True)

    def start(self) -> "EmbeddedWorker":
        self.thread.start()
        log.info("Celery worker started in-process: queues %s, %d threads", ",".join(QUEUES),
                 self.controller.concurrency)
        return self

    def stop(self) -> None:
        # Tasks cut short here are redelivered by the broker (acks_late); closing the consumer while
        # its green thread sits in a blocking read can raise, which changes nothing at exit.
        try:
            self.controller.stop(in_sighandler=False)
        except Exception as exc:  # noqa: BLE001
            log.debug("worker stop: %s", exc)
