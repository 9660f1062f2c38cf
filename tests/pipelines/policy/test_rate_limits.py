"""Per-user rate limits: one moving window per user and action in a real Redis, shared by web processes."""
from __future__ import annotations

import uuid

import pytest
import redis
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from pipelines.policy.rate_limits import RateLimits
from schemas.errors import ApiError, Code

LIMITS = {"reaction": "3/10 seconds", "upload": "2/minute", "read": ""}


@pytest.fixture
def web_processes(redis_server):
    """Two web processes: each its own RateLimits and its own connection to the same Redis (the session's:
    each test counts for users of its own)."""
    return [RateLimits(MovingWindowRateLimiter(storage_from_string(redis_server.url)), LIMITS) for _ in range(2)]


@pytest.fixture
def u1():
    return uuid.uuid4().hex


@pytest.fixture
def u2():
    return uuid.uuid4().hex


def refused(limits: RateLimits, user: str, action: str) -> ApiError:
    with pytest.raises(ApiError) as err:
        limits.check(user, action)
    return err.value


def test_two_web_processes_share_the_count(web_processes, u1):
    one, two = web_processes
    one.check(u1, "reaction")
    two.check(u1, "reaction")
    one.check(u1, "reaction")
    for process in (two, one):  # the fourth, on either process, is over 3 per 10 s
        err = refused(process, u1, "reaction")
        assert (err.code, err.status) == (Code.RATE_LIMITED, 429)
        assert 1 <= err.details["retryAfter"] <= 10 and "reactions" in err.message


def test_users_and_actions_are_counted_apart(web_processes, u1, u2):
    one, two = web_processes
    for _ in range(3):
        one.check(u1, "reaction")
    refused(two, u1, "reaction")
    two.check(u2, "reaction")              # another user
    one.check(u1, "upload")                # another action of the same user
    two.check(u1, "upload")
    assert refused(one, u1, "upload").details["retryAfter"] <= 60


def test_an_action_without_a_limit_is_never_refused(web_processes, u1):
    one, _ = web_processes
    for _ in range(50):
        one.check(u1, "read")              # an empty limit turns it off
        one.check(u1, "export")            # not configured at all


def test_a_loop_on_one_event_keeps_a_bounded_window_in_redis(redis_server, web_processes, u1):
    """Refused events are not counted: a client looping on one event holds at most ``amount`` entries."""
    one, _ = web_processes
    for _ in range(200):
        try:
            one.check(u1, "reaction")
        except ApiError:
            pass
    client = redis.Redis.from_url(redis_server.url)
    [key] = client.keys(f"*reaction*{u1}*")
    assert client.llen(key) == 3
