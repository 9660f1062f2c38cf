"""When Redis goes away: clear errors, nothing half-done, and the system recovers when it returns."""
from __future__ import annotations

import pytest
import requests

from infra.embedded.redis_server import RedisServer
from tests.e2e.harness import Api, System, make_conversation, wait_until

pytestmark = pytest.mark.e2e


def test_redis_outage_gives_clear_errors_and_the_system_recovers():
    redis_server = RedisServer().start()
    system = System(redis_server.url).start()
    clients = []
    try:
        alice, bob = Api(system), Api(system)
        _, conv = make_conversation(alice, bob)
        a = alice.socket()
        clients.append(a)
        a.wait_for("session:ready")
        assert a.call("conv:subscribe", {"convId": conv["id"]})["ok"]
        assert a.call("message:send", {"convId": conv["id"], "clientId": "before", "content": "1"})["ok"]
        a.wait_for("message:new")

        port = redis_server.port
        redis_server.stop()
        ack = a.call("message:send", {"convId": conv["id"], "clientId": "during", "content": "2"})
        assert ack["ok"] is False and ack["error"]["code"] == "unavailable", ack
        r = alice.call("POST", f"/api/conversations/{conv['id']}/messages", json={"clientId": "during-rest", "content": "2"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
        health = requests.get(system.url + "/healthz", timeout=10)
        assert health.status_code == 503 and health.json()["redis"].startswith("error")
        # History is served from MongoDB and does not need Redis.
        assert [m["clientId"] for m in bob.chat(conv["id"])] == ["before"]

        redis_server = RedisServer(port=port).start()  # Redis comes back (empty, like a restart without AOF)
        wait_until(lambda: requests.get(system.url + "/healthz", timeout=5).status_code == 200, 30,
                   what="healthz to recover")
        # The client retries with the same clientId, as the error told it to.
        wait_until(lambda: a.call("message:send", {"convId": conv["id"], "clientId": "during", "content": "2"})["ok"],
                   30, 0.5, what="sends to be accepted again")
        wait_until(lambda: [m["clientId"] for m in bob.chat(conv["id"])]
                   == ["before", "during"], 30, what="the retried message to be stored once")
        # Live events flow again: the web process's Socket.IO listener re-subscribed to Redis.
        wait_until(lambda: any(m["clientId"] == "during" for m in a.got("message:new")), 30,
                   what="message:new after the outage")
    finally:
        for c in clients:
            c.close()
        system.stop()
        redis_server.stop()
