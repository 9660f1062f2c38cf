"""The embedded default stopped by a signal after clients have connected: it exits 0, takes its own
redis-server and S3 with it, and logs no error about them (an operator reads an ERROR line as a failure)."""
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


def test_a_signal_stops_the_embedded_system_cleanly_after_a_socket_connected():
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / f"shutdown-{port}.log"
    # Nothing given: it starts its own redis-server and S3, as `make run` does.
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URL", "REDIS_URL", "S3_ENDPOINT_URL")}
    env.update({"PORT": str(port), "PYTHONUNBUFFERED": "1"})
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _status(url + "/healthz") == 200, 60, 0.2, "the embedded system")
        # An Engine.IO handshake: the Socket.IO manager starts its listener on Redis.
        handshake = requests.get(url + "/socket.io/?EIO=4&transport=polling", timeout=5)
        assert handshake.status_code == 200 and '"sid"' in handshake.text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log_path.read_text()
    after_stop = text[text.index(" app: stopping"):]
    assert "ERROR" not in after_stop and "Traceback" not in after_stop and "Cannot receive" not in after_stop, after_stop


def _status(url: str) -> int | None:
    try:
        return requests.get(url, timeout=1).status_code
    except requests.ConnectionError:
        return None
