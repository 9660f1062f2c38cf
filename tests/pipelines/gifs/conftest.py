from __future__ import annotations

import pytest
from redis import Redis

from schemas.common import new_id
from tests.conftest import make_conversation, make_user
from tests.gif_provider import gif_provider, gif_provider_server  # noqa: F401
from tests.pipelines.gifs.world import World, clear_gif_keys


@pytest.fixture
def redis(redis_server):
    client = Redis.from_url(redis_server.url)
    clear_gif_keys(client)
    yield client
    clear_gif_keys(client)
    client.close()


@pytest.fixture
def w(store, redis, redis_server, gif_provider):
    tag = new_id()[-6:]
    alice, bob, carol = (make_user(store, f"{n}-{tag}") for n in ("alice", "bob", "carol"))
    return World(store, redis, redis_server.url, gif_provider, alice, bob, carol, make_conversation(store, [alice, bob]),
                 make_conversation(store, [carol]))
