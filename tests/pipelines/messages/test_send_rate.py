"""A send's per-user rate is counted in the same round trip as its append (infra.inbox's script, hitting the
moving window that the ``limits`` library keeps in Redis): past the rate the send is refused with when to
retry, and leaves nothing queued or counted; the window is the one ``limits`` reads and writes elsewhere."""
from __future__ import annotations

import uuid

import pytest
import redis
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from infra.inbox import Inbox
from pipelines.messages.submit import submit_message
from pipelines.policy.gate import Gate
from pipelines.policy.rate_limits import RateLimits
from schemas.errors import ApiError, Code
from schemas.payloads import MessageSend
from tests.conftest import make_conversation, make_user

LIMIT = "3/10 seconds"


@pytest.fixture
def limits(redis_server) -> RateLimits:
    return RateLimits(MovingWindowRateLimiter(storage_from_string(redis_server.url)), {"send": LIMIT})


@pytest.fixture
def inbox(redis_server) -> Inbox:
    return Inbox(redis.Redis.from_url(redis_server.url))


@pytest.fixture
def people(store):
    alice, bob = make_user(store, f"alice{uuid.uuid4().hex[:6]}"), make_user(store, f"bob{uuid.uuid4().hex[:6]}")
    return alice, bob, make_conversation(store, [alice, bob])


def send(conv, client_id: str) -> MessageSend:
    return MessageSend(convId=conv.id, clientId=client_id, content="hi")


def test_the_send_past_the_rate_is_refused_with_when_to_retry_and_leaves_nothing(store, inbox, limits, people):
    alice, bob, conv = people
    gate, queued = Gate(store, limits), []
    for i in range(3):
        submit_message(store, inbox, queued.append, alice, send(conv, f"a{i}"), gate=gate)
    with pytest.raises(ApiError) as err:
        submit_message(store, inbox, queued.append, alice, send(conv, "a3"), gate=gate)
    assert err.value.code == Code.RATE_LIMITED and 1 <= err.value.details["retryAfter"] <= 10
    assert inbox.pending(conv.id) == 3 and queued == [conv.id]
    # The refused send was not counted: the window still holds three hits, as limits reads it.
    assert limits.limiter.get_window_stats(parse(LIMIT), "send", alice.id).remaining == 0
    assert len(inbox.redis.lrange(limits.window(alice.id, "send").key, 0, -1)) == 3
    # Counted per user: bob still sends.
    submit_message(store, inbox, queued.append, bob, send(conv, "b0"), gate=gate)
    assert inbox.pending(conv.id) == 4


def test_the_script_and_limits_count_into_the_same_window(store, inbox, limits, people):
    alice, _, conv = people
    gate = Gate(store, limits)
    limits.check(alice.id, "send")            # counted by limits itself (another path, another process)
    limits.check(alice.id, "send")
    submit_message(store, inbox, lambda c: None, alice, send(conv, "one"), gate=gate)
    with pytest.raises(ApiError):
        limits.check(alice.id, "send")         # the script's hit filled what limits reads
    with pytest.raises(ApiError):
        submit_message(store, inbox, lambda c: None, alice, send(conv, "two"), gate=gate)
    assert inbox.pending(conv.id) == 1


def test_limits_kept_elsewhere_than_redis_are_counted_before_the_append(store, inbox, people):
    alice, _, conv = people
    in_memory = RateLimits(MovingWindowRateLimiter(storage_from_string("memory://")), {"send": "1/10 seconds"})
    assert in_memory.window(alice.id, "send") is None
    gate = Gate(store, in_memory)
    submit_message(store, inbox, lambda c: None, alice, send(conv, "one"), gate=gate)
    with pytest.raises(ApiError) as err:
        submit_message(store, inbox, lambda c: None, alice, send(conv, "two"), gate=gate)
    assert err.value.code == Code.RATE_LIMITED and inbox.pending(conv.id) == 1


def test_a_full_backlog_still_counts_the_send_and_schedules_a_drain(store, inbox, limits, people):
    alice, _, conv = people
    gate, queued = Gate(store, limits), []
    submit_message(store, inbox, queued.append, alice, send(conv, "kept"), gate=gate, max_backlog=1)
    inbox.redis.delete(f"inbox:scheduled:{conv.id}")   # as a drain that stopped would have left it
    with pytest.raises(ApiError) as err:
        submit_message(store, inbox, queued.append, alice, send(conv, "over"), gate=gate, max_backlog=1)
    assert err.value.code == Code.RATE_LIMITED and "waiting to be stored" in err.value.message
    assert inbox.pending(conv.id) == 1 and queued == [conv.id, conv.id]
    assert limits.limiter.get_window_stats(parse(LIMIT), "send", alice.id).remaining == 1
