"""Drive the real system: a real redis-server, `python -m app` (eventlet web + in-process Celery worker),
real Socket.IO clients (python-socketio) and plain HTTP; or Celery worker processes of one queue
(tests/e2e/worker_proc.py), a seed of the store they load, and the events they publish."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis as redis_client
import requests
import socketio
from bson import json_util

from infra.emitter import SOCKETIO_CHANNEL
from infra.embedded.redis_server import RedisServer, free_port, stop_process
from tests.servers import session_s3_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
JWT_SECRET = "e2e-secret-" + "x" * 32


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class ChannelEvents:
    """The events published for the web processes on the Socket.IO Redis channel (where every web
    process hears the workers), in arrival order, recorded by a thread until ``close``."""

    def __init__(self, url: str) -> None:
        self.pubsub = redis_client.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(SOCKETIO_CHANNEL)
        self.events: list[tuple[str, dict, str | None]] = []  # (event, data, room)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            item = self.pubsub.get_message(timeout=0.2)
            if item:
                event = json.loads(item["data"])
                if "event" in event:
                    data = event.get("data")
                    self.events.append((event["event"], data[0] if isinstance(data, list) else data,
                                        event.get("room")))

    def of(self, name: str) -> list[tuple[dict, str | None]]:
        """(data, room) of each ``name`` event so far."""
        return [(data, room) for event, data, room in list(self.events) if event == name]

    def close(self):
        self._stop.set()
        self._thread.join()
        self.pubsub.close()


# What a worker process on the embedded store needs to drain a conversation: its people and memberships.
CHAT_SEED = ("users", "groups", "group_members", "conversations", "conversation_members")


def dump_seed(store, path: Path, collections: tuple[str, ...] = CHAT_SEED) -> Path:
    """The collections as Extended JSON (dates stay dates), for worker processes on the embedded store,
    whose store is their own memory (tests.e2e.worker_proc.load_seed). Returns the path."""
    path.write_text(json_util.dumps({name: list(store.db[name].find()) for name in collections}))
    return path


def worker_env(redis_url: str, visibility: int, store, mongo_url: str | None, **extra: str) -> dict:
    """The environment of a worker process of tests/e2e: this Redis, a visibility timeout of ``visibility``
    seconds, and the embedded store, or with ``mongo_url`` the database of ``store``."""
    env = {**os.environ, "REDIS_URL": redis_url, "BROKER_VISIBILITY_TIMEOUT": str(visibility),
           "INBOX_LOCK_SECONDS": "2", "PYTHONUNBUFFERED": "1", **extra}
    env.pop("MONGO_URL", None)
    if mongo_url:
        env.update(MONGO_URL=mongo_url, MONGO_DB=store.db.name, JWT_SECRET="x" * 32)
    return env


def start_worker(module: str, args: list, env: dict, name: str) -> subprocess.Popen:
    """``python -m module *args`` (a worker process of tests/e2e), its output in tests/artifacts/name.log."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / f"{name}.log", "w")
    return subprocess.Popen([sys.executable, "-m", module, *map(str, args)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


@dataclass
class System:
    """One `python -m app` process."""
    redis_url: str
    env: dict = field(default_factory=dict)
    ready: tuple[int, ...] = (200,)   # /healthz statuses that mean "started" (503: started without workers)
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "System":
        self.port = free_port()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"server-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if k != "MONGO_URL"}
        env.update({"PORT": str(self.port), "REDIS_URL": self.redis_url, "JWT_SECRET": JWT_SECRET,
                    "WORKER_CONCURRENCY": "4", "LOG_LEVEL": "INFO", "TYPING_TTL_SECONDS": "1", "PYTHONUNBUFFERED": "1",
                    # Tests send bursts far above a person's rate; flood control has its own test.
                    "SEND_RATE_LIMIT": "100000/second",
                    # The session's moto S3 (not one per system), a bucket per system (its own CORS rule).
                    "S3_ENDPOINT_URL": session_s3_server().url, "S3_BUCKET": f"chat-media-{self.port}",
                    "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", **self.env})
        self.process = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=env,
                                        stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        wait_until(self._healthy, 30, 0.1, f"the server on port {self.port} (log: {self.log_path})")
        return self

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"server exited with {self.process.returncode}; log: {self.log_path.read_text()[-3000:]}")
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code in self.ready
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        stop_process(self.process, timeout=10)


@contextmanager
def own_system(ready: tuple[int, ...] = (200,), **env):
    """A real system (`python -m app`, embedded store and worker) on a redis-server of its own: two
    systems sharing one Redis would take each other's queued work, each with its own in-memory store."""
    redis = RedisServer().start()
    system = None
    try:
        system = System(redis.url, env=env, ready=ready).start()
        yield system
    finally:
        if system:
            system.stop()
        redis.stop()


class Api:
    """REST calls as one user."""

    def __init__(self, system: System, username: str | None = None) -> None:
        self.system = system
        self.username = username or f"u{uuid.uuid4().hex[:10]}"
        r = requests.post(system.url + "/api/dev/token", json={"username": self.username}, timeout=5)
        assert r.status_code == 200, r.text
        self.token, self.user = r.json()["token"], r.json()["user"]
        self.id = self.user["id"]

    def call(self, method: str, path: str, **kw) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return requests.request(method, self.system.url + path, headers=headers, timeout=10, **kw)

    def ok(self, method: str, path: str, **kw) -> dict:
        r = self.call(method, path, **kw)
        assert r.status_code < 300, (r.status_code, r.text)
        return r.json()

    def chat(self, conv_id: str, query: str = "") -> list[dict]:
        """The conversation's history without its system messages (member joined, created...)."""
        page = self.ok("GET", f"/api/conversations/{conv_id}/messages?{query}")
        return [m for m in page["messages"] if m["type"] != "system"]

    def socket(self) -> "Client":
        return Client(self.system, self.token)


class Client:
    """A real Socket.IO client (websocket transport) that records every event it receives."""

    def __init__(self, system: System, token: str | None, connect: bool = True) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.events: dict[str, list] = {}
        self._lock = threading.Lock()
        self.connect_error = None
        self.arrivals: queue.Queue = queue.Queue()

        @self.sio.on("*")
        def any_event(event, data=None):
            with self._lock:
                self.events.setdefault(event, []).append(data)
            self.arrivals.put((event, data))

        @self.sio.event
        def connect_error(data):
            self.connect_error = data

        if connect:
            self.sio.connect(system.url, auth={"token": token} if token is not None else None,
                             transports=["websocket"], wait_timeout=5)

    def got(self, event: str) -> list:
        with self._lock:
            return list(self.events.get(event, []))

    def wait_for(self, event: str, count: int = 1, timeout: float = 10.0) -> list:
        return wait_until(lambda: (items := self.got(event)) and len(items) >= count and items, timeout,
                          what=f"{count} {event} event(s)")

    def call(self, event: str, data=None) -> dict:
        return self.sio.call(event, data, timeout=10)

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


def make_conversation(owner: Api, *members: Api, title: str = "general") -> tuple[dict, dict]:
    group = owner.ok("POST", "/api/groups", json={"name": f"group {uuid.uuid4().hex[:6]}"})
    for m in members:
        owner.ok("POST", f"/api/groups/{group['id']}/members", json={"username": m.username})
    conv = owner.ok("POST", f"/api/groups/{group['id']}/conversations",
                    json={"title": title, "members": [m.username for m in members]})
    # Its first message, seq 1, is the "conversation created" system message: wait until it is stored,
    # so tests start from a settled conversation whose next message is seq 2.
    # (lastSeq moves just after the message is announced, so wait for it rather than for the history.)
    wait_until(lambda: any(c["id"] == conv["id"] and c["lastSeq"] >= 1
                           for c in owner.ok("GET", "/api/conversations")["conversations"]),
               what="the conversation_created system message")
    return group, conv


def two_members_and_an_outsider(system: System, clients: list) -> tuple:
    """alice and bob in a conversation, both subscribed; carol in the group but not the conversation.
    Returns (alice, bob, carol, conv, their three connected sockets)."""
    alice, bob, carol = Api(system), Api(system), Api(system)
    group, conv = make_conversation(alice, bob)
    alice.ok("POST", f"/api/groups/{group['id']}/members", json={"username": carol.username})
    a, b, c = alice.socket(), bob.socket(), carol.socket()
    clients.extend([a, b, c])
    for s in (a, b):
        s.wait_for("session:ready")
        assert s.call("conv:subscribe", {"convId": conv["id"]})["ok"]
    c.wait_for("session:ready")
    return alice, bob, carol, conv, a, b, c
