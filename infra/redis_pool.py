"""Redis clients whose connection pool waits for a free connection instead of failing.

redis-py's default pool raises ``MaxConnectionsError: Too many connections`` when a burst of green
threads asks for more connections than it allows (100 in redis-py 8), and the write is lost
(tests/e2e/test_presence_storm.py, 4,000 sockets closing at once, fails that way on a plain pool).
A ``BlockingConnectionPool`` holds at most ``REDIS_MAX_CONNECTIONS`` connections and makes a caller wait
(``REDIS_POOL_TIMEOUT_SECONDS`` at most, then ``redis.ConnectionError``) for one to come back, so a storm
is served in turn, a little late.
"""
from __future__ import annotations

import redis

from infra.config import Settings, get_settings

HEALTH_CHECK_SECONDS = 30


def blocking_pool(url: str, settings: Settings | None = None) -> redis.BlockingConnectionPool:
    s = settings or get_settings()
    return redis.BlockingConnectionPool.from_url(url, max_connections=s.redis_max_connections,
                                                 timeout=s.redis_pool_timeout_seconds,
                                                 health_check_interval=HEALTH_CHECK_SECONDS)


def blocking_client(url: str, settings: Settings | None = None) -> redis.Redis:
    """A client that owns its own blocking pool (closing the client closes the pool)."""
    return redis.Redis.from_pool(blocking_pool(url, settings))
