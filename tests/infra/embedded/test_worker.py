"""The in-process worker is started again when Celery's worker stops on its own."""
from __future__ import annotations

import threading

import infra.embedded.worker as ew
from workers.celery_app import celery


class CrashingController:
    """Stands in for Celery's WorkController: start() returns at once, as after an unrecoverable error."""

    def __init__(self, starts: list, enough: threading.Event, worker) -> None:
        self.starts, self.enough, self.worker = starts, enough, worker

    def start(self) -> None:
        self.starts.append(1)
        if len(self.starts) == 3:
            self.worker._stopping.set()
            self.enough.set()
        elif len(self.starts) == 2:
            raise RuntimeError("broker connection lost")

    def stop(self, in_sighandler=False) -> None:
        pass


def test_a_stopped_worker_is_started_again(monkeypatch):
    monkeypatch.setattr(ew, "RESTART_DELAY", 0)
    starts, enough = [], threading.Event()
    worker = ew.EmbeddedWorker(celery, concurrency=1, queues=("messages",))
    monkeypatch.setattr(worker, "_new_controller", lambda: CrashingController(starts, enough, worker))
    worker.start()
    assert enough.wait(5)
    worker._thread.join(5)
    assert len(starts) == 3 and not worker._thread.is_alive()


def test_the_error_celery_logs_when_we_stop_it_is_silenced_and_only_then(caplog):
    worker = ew.EmbeddedWorker(celery, concurrency=1, queues=("messages",))
    celery_log = ew.logging.getLogger("celery.worker")
    try:
        celery_log.critical("Unrecoverable error: AttributeError('boom')")
        worker.stop()  # no controller yet: only the filter is installed
        celery_log.critical("Unrecoverable error: AttributeError(\"'NoneType' object has no attribute '_callbacks'\")")
        celery_log.critical("something else entirely")
    finally:
        celery_log.removeFilter(worker._quiet_at_exit)
    assert [r.getMessage() for r in caplog.records] == ["Unrecoverable error: AttributeError('boom')",
                                                        "something else entirely"]
