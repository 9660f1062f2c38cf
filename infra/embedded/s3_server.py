"""Starts a real moto S3 server process (a real HTTP endpoint) for the embedded default and the tests.

moto's server (`python -m moto.server`, from the `moto[server,s3]` dependency) keeps everything in
memory: nothing survives a restart. `MOTO_DISABLE_GLOBAL_CORS=1` turns off moto's allow-everything CORS,
so that the bucket's own CORS rule (`S3Blobs.ensure_bucket`) answers browsers, as on S3 and MinIO.

moto does NOT check presigned URLs' signatures or expiry: anything signed for any host and any time is
accepted. Tests of expiry or signing must not rely on it.
"""
from __future__ import annotations

import http.client
import subprocess
import sys
import time
from dataclasses import dataclass

from infra.embedded.cpu import lower_priority
from infra.embedded.redis_server import _die_with_parent, free_port, stop_process


def _background() -> None:
    # Below the web process, like the CPU child: the embedded S3 carries uploads and the media workers'
    # transfers, never a chat message.
    _die_with_parent()
    lower_priority()


@dataclass
class MotoS3Server:
    port: int = 0
    host: str = "127.0.0.1"
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> "MotoS3Server":
        self.port = self.port or free_port()
        # Its own small environment (not this process's: no credentials or settings of ours leak into it).
        env = {"MOTO_DISABLE_GLOBAL_CORS": "1", "MOTO_PORT": str(self.port), "LANG": "C.UTF-8"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_background)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto S3 did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=1)
        try:
            conn.request("GET", "/")  # ListBuckets
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self) -> None:
        stop_process(self.process)
