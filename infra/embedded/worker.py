"""Real Celery workers and Celery's beat inside the web process (the embedded default only), for the Celery
app the composition root passes in.

The embedded store lives in this process's memory, so the workers must too. The pool is Celery's
``threads`` pool; under eventlet's monkey patching its threads are green threads.

The worker is supervised: Celery's worker can stop for good on a broker connection loss (seen here:
"Unrecoverable error: AttributeError ... 'hostname'" while Redis restarts), which in this set-up would
leave the front accepting sends that nobody stores. A stopped worker is started again.
"""
from __future__ import annotations

import logging
import threading
import time
import warnings

from typing import Any, Callable

from celery.beat import EmbeddedService
from celery.worker import WorkController

from celery import Celery
from celery.exceptions import DuplicateTaskNameWarning

log = logging.getLogger(__name__)
RESTART_DELAY = 1.0


class EmbeddedWorker:
    def __init__(self, app: Celery, concurrency: int, queues: tuple[str, ...], name: str = "embedded") -> None:
        # A worker selects its queues on its app (app.amqp.queues, shared by every worker of that app), so
        # a second embedded worker with other queues needs an app of its own: see worker_app().
        app.loader.import_default_modules()
        self.app = app
        self.concurrency, self.queues, self.name = concurrency, queues, name
        self.controller: WorkController | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="celery-worker", daemon=True)

    def _new_controller(self) -> WorkController:
        return WorkController(
            app=self.app, hostname=f"{self.name}@localhost", pool_cls="threads", concurrency=self.concurrency,
            queues=list(self.queues), without_heartbeat=True, without_mingle=True, without_gossip=True,
            loglevel=logging.WARNING)

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            self.controller = self._new_controller()
            try:
                self.controller.start()
            except Exception:  # noqa: BLE001 - logged, then restarted
                log.exception("the in-process Celery worker failed")
            if self._stopping.is_set():
                return
            log.error("the in-process Celery worker stopped; starting it again in %.0f s", RESTART_DELAY)
            try:
                self.controller.stop(in_sighandler=False)
            except Exception:  # noqa: BLE001 - it is already down
                pass
            time.sleep(RESTART_DELAY)

    def _quiet_at_exit(self, record: logging.LogRecord) -> bool:
        return not (self._stopping.is_set() and record.getMessage().startswith("Unrecoverable error"))

    def start(self) -> "EmbeddedWorker":
        self._thread.start()
        log.info("Celery worker %s started in-process: queues %s, %d threads", self.name, ",".join(self.queues),
                 self.concurrency)
        return self

    def stop(self) -> None:
        self._stopping.set()
        # Closing the broker connection under the consumer's blocking read makes Celery log it as an
        # "Unrecoverable error" (CRITICAL, with a traceback) although nothing is wrong: we asked for it.
        logging.getLogger("celery.worker").addFilter(self._quiet_at_exit)
        # Tasks cut short here are redelivered by the broker (acks_late); closing the consumer while
        # its green thread sits in a blocking read can raise, which changes nothing at exit.
        try:
            if self.controller:
                self.controller.stop(in_sighandler=False)
        except Exception as exc:  # noqa: BLE001
            log.debug("worker stop: %s", exc)


def worker_app(base: Celery, config: Callable[[], dict[str, Any]]) -> Celery:
    """Another Celery app with ``base``'s settings (``config``, as ``base`` was given them) and the same tasks
    (the registry is shared), for a second worker in this process that consumes other queues."""
    base.loader.import_default_modules()
    app = Celery(base.main, tasks=base.tasks, set_as_current=False)
    app.add_defaults(config)
    with warnings.catch_warnings():
        # Finalizing adds Celery's built-in tasks (celery.map, celery.chord_unlock...) to the shared
        # registry again, each a new closure: Celery 5.7 warns that the first ones stay, which is right.
        warnings.filterwarnings("ignore", r"Task name 'celery\.", DuplicateTaskNameWarning)
        app.finalize()
    return app


class EmbeddedBeat:
    """Celery's own beat service (``celery.beat.Service``, the in-memory ``Scheduler``: nothing to persist
    in a process whose store is in memory), in a thread of this process, green under eventlet. It reads
    the same ``beat_schedule`` as the ``beat`` role (workers/beat.py) and sends the same tasks."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.service = EmbeddedService(app, thread=True, scheduler_cls="celery.beat:Scheduler")

    def start(self) -> "EmbeddedBeat":
        self.service.start()
        log.info("Celery beat started in-process: %s", ", ".join(
            f"{name} every {entry['schedule']:g} s" for name, entry in self.app.conf.beat_schedule.items()))
        return self

    def stop(self) -> None:
        try:
            self.service.service.stop(wait=False)
        except Exception as exc:  # noqa: BLE001 - exiting anyway
            log.debug("beat stop: %s", exc)
