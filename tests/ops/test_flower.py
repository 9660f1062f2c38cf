"""Flower's configuration (ops/flower/flowerconfig.py) from the settings, its refusals, and a real Flower
that asks for basic auth."""
from __future__ import annotations

import base64
import os
import runpy
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from infra.config import Settings, get_settings, use_settings
from infra.embedded.redis_server import free_port, stop_process

from tests.ops.conftest import OPS, ROOT

CONFIG = OPS / "flower" / "flowerconfig.py"
OPTIONS = ("address", "port", "basic_auth")


def flower_config(**settings) -> dict:
    """The options Flower keeps from executing the file under these settings."""
    before = get_settings()
    use_settings(Settings(redis_url="redis://127.0.0.1:6379/0", **settings))
    try:
        namespace = runpy.run_path(str(CONFIG))
    finally:
        use_settings(before)
    return {k: namespace[k] for k in OPTIONS if k in namespace}


def test_loopback_by_default_without_auth():
    assert flower_config() == {"address": "127.0.0.1", "port": 5555}


def test_basic_auth_users_are_passed_as_a_list():
    got = flower_config(flower_address="0.0.0.0", flower_basic_auth="ops:one, admin:two:three")
    assert got == {"address": "0.0.0.0", "port": 5555, "basic_auth": ["ops:one", "admin:two:three"]}


@pytest.mark.parametrize("address", ["0.0.0.0", "", "10.1.2.3", "flower.example.org", "::"])
def test_a_public_address_without_auth_is_refused(address):
    with pytest.raises(SystemExit, match="without FLOWER_BASIC_AUTH"):
        flower_config(flower_address=address)


@pytest.mark.parametrize("address", ["localhost", "::1", "127.0.0.2"])
def test_loopback_addresses_need_no_auth(address):
    assert flower_config(flower_address=address)["address"] == address


@pytest.mark.parametrize("auth", ["ops", "ops:", ":secret"])
def test_malformed_auth_is_refused(auth):
    with pytest.raises(SystemExit, match="must be user:password"):
        flower_config(flower_address="0.0.0.0", flower_basic_auth=auth)


def test_without_a_broker_it_says_so():
    before = get_settings()
    use_settings(Settings(redis_url=None))
    try:
        with pytest.raises(SystemExit, match="REDIS_URL is not set"):
            runpy.run_path(str(CONFIG))
    finally:
        use_settings(before)


def _get(url: str, auth: str | None = None) -> int:
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_real_flower_asks_for_basic_auth(redis_server):
    """The Procfile's flower line, for real: 401 without the credentials, its pages with them."""
    port = free_port()
    env = dict(os.environ, REDIS_URL=redis_server.url, FLOWER_PORT=str(port), FLOWER_BASIC_AUTH="ops:s3cret")
    celery = str(Path(sys.executable).with_name("celery"))
    process = subprocess.Popen([celery, "-A", "workers", "flower", f"--conf={CONFIG}"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = _get(f"http://127.0.0.1:{port}/workers")
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "flower did not start"
                time.sleep(0.1)
        assert status == 401
        assert _get(f"http://127.0.0.1:{port}/workers", "ops:wrong") == 401
        assert _get(f"http://127.0.0.1:{port}/workers", "ops:s3cret") == 200
    finally:
        stop_process(process)
