"""Session fixtures for end-to-end tests: one running system (on the session's redis-server)."""
from __future__ import annotations

import pytest

from tests.e2e.harness import System


@pytest.fixture(scope="session")
def system(redis_server):
    s = System(redis_server.url).start()
    yield s
    s.stop()


@pytest.fixture
def clients():
    """Socket clients opened by a test, closed after it."""
    opened = []
    yield opened
    for c in opened:
        c.close()
