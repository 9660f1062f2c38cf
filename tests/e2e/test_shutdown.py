"""The embedded default (`python -m app` with nothing given, as `make run` starts it) stopped by a signal to
its process group, as a terminal's Ctrl-C or a supervisor's SIGTERM sends it, after a client connected and
while its CPU children are still loading: it exits 0, takes its own redis-server and S3 with it, and its
output is what an operator needs (its "serving on" line) without upstream warnings, tracebacks or errors."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from infra.embedded.redis_server import free_port
from tests.e2e.harness import ARTIFACTS, ROOT, wait_until

pytestmark = pytest.mark.e2e

FILTERED = ("DSA is deprecated", "Eventlet is deprecated", "Warning:")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_process_group_stops_the_embedded_system_cleanly_and_quietly(sig):
    process, port, log_path = _start()
    url = f"http://127.0.0.1:{port}"
    try:
        # An Engine.IO handshake: the Socket.IO manager starts its listener on Redis.
        handshake = requests.get(url + "/socket.io/?EIO=4&transport=polling", timeout=5)
        assert handshake.status_code == 200 and '"sid"' in handshake.text
        os.killpg(process.pid, sig)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    text = log_path.read_text()
    assert f"serving on http://127.0.0.1:{port}" in text, text
    assert "Traceback" not in text and not any(warning in text for warning in FILTERED), text
    after_stop = text[text.index(" app: stopping"):]
    assert "ERROR" not in after_stop and "Cannot receive" not in after_stop, after_stop


def _start(attempts: int = 3) -> tuple[subprocess.Popen, int, Path]:
    """The embedded system serving on a free port. The port is free when chosen, but the redis-server and
    moto the process starts first take ports of their own and may take that one: then it is tried again
    on another port (the failed attempt's log says "Address already in use")."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URL", "REDIS_URL", "S3_ENDPOINT_URL")}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for _ in range(attempts):
        port = free_port()
        log_path = ARTIFACTS / f"shutdown-{port}.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT,
                                       env={**env, "PORT": str(port), "PYTHONUNBUFFERED": "1"}, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}/healthz"
        wait_until(lambda: _status(url) == 200 or "Address already in use" in log_path.read_text(), 60, 0.2,
                   "the embedded system")
        if _status(url) == 200:
            return process, port, log_path
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    raise AssertionError(f"no free port for the web process in {attempts} attempts")


def _status(url: str) -> int | None:
    try:
        return requests.get(url, timeout=1).status_code
    except requests.ConnectionError:
        return None
