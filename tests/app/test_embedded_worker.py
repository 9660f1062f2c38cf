"""The in-process worker is started again when Celery's worker stops on its own."""
from __future__ import annotations

import threading

import app.embedded_worker as ew


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
    worker = ew.EmbeddedWorker(concurrency=1)
    monkeypatch.setattr(worker, "_new_controller", lambda: CrashingController(starts, enough, worker))
    worker.start()
    assert enough.wait(5)
    worker._thread.join(5)
    assert len(starts) == 3 and not worker._thread.is_alive()
