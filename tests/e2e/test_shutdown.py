"""The embedded default (`python -m app` with nothing given, as `make run` starts it) stopped by a signal to
its process group, as a terminal's Ctrl-C or a supervisor's SIGTERM sends it, after a client connected and
while its CPU children are still loading: it exits 0, takes its own redis-server and S3 with it, and its
output is what an operator needs (its "serving on" line) without upstream warnings, tracebacks or errors."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests

from infra.embedded.redis_server import free_port
from tests.e2e.harness import ARTIFACTS, ROOT, wait_until

pytestmark = pytest.mark.e2e

FILTERED = ("DSA is deprecated", "Eventlet is deprecated", "Warning:")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_process_group_stops_the_embedded_system_cleanly_and_quietly(sig):
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / f"shutdown-{port}.log"
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URL", "REDIS_URL", "S3_ENDPOINT_URL")}
    env.update({"PORT": str(port), "PYTHONUNBUFFERED": "1"})
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _status(url + "/healthz") == 200, 60, 0.2, "the embedded system")
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


def _status(url: str) -> int | None:
    try:
        return requests.get(url, timeout=1).status_code
    except requests.ConnectionError:
        return None
