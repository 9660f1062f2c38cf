"""Socket orders and Redis pools on a real redis-server: each ``SocketOrders`` plays one web process."""
from __future__ import annotations

import threading
import time

import pytest
import redis

from infra.config import Settings
from infra.emitter import SOCKET_ORDERS_CHANNEL, SocketOrders
from infra.redis_pool import blocking_client
from tests.e2e.harness import wait_until


@pytest.fixture
def client(redis_server):
    return redis.Redis.from_url(redis_server.url)


def _subscribers(client) -> int:
    return client.pubsub_numsub(SOCKET_ORDERS_CHANNEL)[0][1]


def _process(client, host_id: str) -> tuple[SocketOrders, list]:
    applied: list = []
    orders, before = SocketOrders(client, host_id, applied.append), _subscribers(client)
    threading.Thread(target=orders.listen, daemon=True).start()
    wait_until(lambda: _subscribers(client) == before + 1, what="subscribed")
    return orders, applied


def test_an_order_reaches_every_web_process_once(client):
    web1, got1 = _process(client, "web-1")
    web2, got2 = _process(client, "web-2")
    try:
        order = {"userId": "u1", "room": "conv:c1", "enter": False}
        web1.publish(order)
        assert got1 == [order]                       # its own sockets at once
        wait_until(lambda: got2 == [order], what="the other web process")
        client.publish(SOCKET_ORDERS_CHANNEL, b"not json")  # a bad order is logged, the subscription lives
        web2.publish({"userId": "u2", "room": "group:g", "enter": True})
        wait_until(lambda: len(got1) == 2, what="web-1 hears web-2")
        time.sleep(0.2)
        assert got1[1] == {"userId": "u2", "room": "group:g", "enter": True} and len(got2) == 2
    finally:
        web1.stop()
        web2.stop()


def test_a_blocking_pool_serves_a_burst_in_turn_and_times_out_only_when_starved(redis_server):
    settings = Settings(redis_url=redis_server.url, redis_max_connections=20, redis_pool_timeout_seconds=0.5)
    client, errors = blocking_client(redis_server.url, settings), []

    def burst(i):
        try:
            client.eval("redis.call('SET', KEYS[1], ARGV[1]); return 1", 1, f"burst:{i}", i)
        except redis.RedisError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=burst, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(client.keys("burst:*")) == 200
    assert len(client.connection_pool._connections) <= 20
    held = [client.connection_pool.get_connection() for _ in range(20)]
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    assert 0.4 < time.monotonic() - started < 2
    for connection in held:
        client.connection_pool.release(connection)
    assert client.ping()


def test_a_dropped_subscription_comes_back_and_says_orders_may_have_been_missed(redis_server, client):
    own = redis.Redis.from_url(redis_server.url, client_name="orders-under-test")
    applied, resubscribed = [], []
    orders = SocketOrders(own, "web-1", applied.append, resubscribed=lambda: resubscribed.append(True),
                          sleep=lambda _: time.sleep(0.05))
    threading.Thread(target=orders.listen, daemon=True).start()
    try:
        wait_until(lambda: any(c["name"] == "orders-under-test" for c in client.client_list(_type="pubsub")),
                   what="subscribed")
        assert resubscribed == []                                  # the first subscription misses nothing
        for c in client.client_list(_type="pubsub"):
            if c["name"] == "orders-under-test":
                client.client_kill_filter(_id=c["id"])
        wait_until(lambda: resubscribed == [True], what="subscribed again, and said so")
        client.publish(SOCKET_ORDERS_CHANNEL, '{"userId": "u", "room": "conv:c", "enter": false, "host": "web-2"}')
        wait_until(lambda: applied == [{"userId": "u", "room": "conv:c", "enter": False}], what="orders flow again")
    finally:
        orders.stop()


def test_a_pool_smaller_than_the_drains_that_may_each_hold_a_connection_is_refused_at_start_up():
    with pytest.raises(ValueError, match="REDIS_MAX_CONNECTIONS must exceed WORKER_CONCURRENCY"):
        Settings(redis_max_connections=16, worker_concurrency=16)
    assert Settings(redis_max_connections=17, worker_concurrency=16).redis_max_connections == 17
