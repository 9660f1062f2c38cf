"""Presence under a storm: 4,000 sockets (1,000 users with four tabs each, in groups of 20) close at
once, and presence stays exact: every user offline with ``lastSeen``, no socket left in Redis, no error
in the server's log (Redis pools wait for a free connection instead of dropping the write).

The sockets speak Engine.IO/Socket.IO over aiohttp websockets directly: 4,000 python-socketio clients
would cost the test more CPU than the server it measures.
"""
from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import aiohttp
import pytest
import redis
import requests

from tests.e2e.harness import own_system, wait_until

pytestmark = pytest.mark.e2e

USERS, TABS, GROUP_SIZE = 1000, 4, 20


def _users_in_groups(url: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(id, username, token) of USERS users, and (groupId, token of a member) of the groups of GROUP_SIZE
    they are in (the first of each creates it)."""
    session = requests.Session()

    def login(i: int):
        r = session.post(url + "/api/dev/token", json={"username": f"storm{i}"}, timeout=30)
        r.raise_for_status()
        return r.json()["user"]["id"], f"storm{i}", r.json()["token"]

    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(login, range(USERS)))

        def group(start: int) -> tuple[str, str]:
            owner = {"Authorization": f"Bearer {users[start][2]}"}
            gid = session.post(url + "/api/groups", json={"name": f"storm {start}"}, headers=owner,
                               timeout=30).json()["id"]
            for _, name, _ in users[start + 1:start + GROUP_SIZE]:
                session.post(url + f"/api/groups/{gid}/members", json={"username": name}, headers=owner,
                             timeout=30).raise_for_status()
            return gid, users[start][2]

        groups = list(pool.map(group, range(0, USERS, GROUP_SIZE)))
    return users, groups


async def _open(http: aiohttp.ClientSession, ws_url: str, token: str):
    """A Socket.IO connection (websocket transport), returned once the server sent session:ready."""
    ws = await http.ws_connect(ws_url, autoping=True, max_msg_size=0)
    await ws.receive_str()                                  # Engine.IO open
    await ws.send_str("40" + json.dumps({"token": token}))  # Socket.IO connect with auth
    while True:
        frame = await ws.receive_str()
        if frame == "2":
            await ws.send_str("3")
        elif frame.startswith("42") and json.loads(frame[2:])[0] == "session:ready":
            return ws
        elif frame.startswith("44"):
            raise AssertionError(f"connect refused: {frame}")


async def _storm(base: str, tokens: list[str], registered: Callable[[], int]) -> None:
    """Open every socket, check the registry holds them all, then close them all at once."""
    ws_url = base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        gate = asyncio.Semaphore(64)

        async def one(token: str):
            async with gate:
                return await _open(http, ws_url, token)

        sockets = await asyncio.gather(*(one(t) for t in tokens))
        for _ in range(200):  # the web process writes presence in batches, a moment after session:ready
            if registered() == len(tokens):
                break
            await asyncio.sleep(0.1)
        assert registered() == len(tokens)
        await asyncio.gather(*(ws.close() for ws in sockets))  # all at once: 4,000 disconnects together


def test_four_thousand_sockets_closing_at_once_leave_presence_exact():
    with own_system() as system:
        users, groups = _users_in_groups(system.url)
        tokens = [token for _, _, token in users for _ in range(TABS)]
        r = redis.Redis.from_url(system.redis_url)
        # Its own thread: a session-wide Playwright browser (tests/browser) keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, _storm(system.url, tokens, lambda: r.zcard("presence:all"))).result()
        ids = [uid for uid, _, _ in users]

        def settled():
            return r.zcard("presence:all") == 0 and not r.hlen("presence:last_seen") < USERS

        wait_until(settled, timeout=40, interval=0.5, what="every socket gone from presence")
        assert list(r.scan_iter("presence:sockets:*")) == []
        seen = r.hmget("presence:last_seen", ids)
        assert all(seen), f"{sum(not s for s in seen)} users without lastSeen"
        for group_id, token in groups:  # what members are told
            presence = requests.get(f"{system.url}/api/groups/{group_id}/presence", timeout=10,
                                    headers={"Authorization": f"Bearer {token}"}).json()["presence"]
            assert len(presence) == GROUP_SIZE
            assert all(p["status"] == "offline" and p["lastSeen"] for p in presence), presence
        log = system.log_path.read_text()
    # Nothing failed or was dropped on the way (the two warnings of every embedded start-up aside).
    errors = [line for line in log.splitlines() if (" ERROR " in line or " WARNING " in line or "Traceback" in line)
              and "MONGO_URL is not set" not in line and "SMTP_URL is not set" not in line]
    assert errors == [], errors[:5]
