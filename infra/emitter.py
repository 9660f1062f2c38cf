"""Socket.IO emitters: workers publish events through Redis to every web process (SocketIOEmitter);
a web process emits through its own server, which reaches its sockets at once and the others through
Redis (ServerEmitter)."""
from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Iterator, Protocol
from urllib.parse import urlparse

import redis
import socketio

from infra.config import Settings
from infra.redis_pool import HEALTH_CHECK_SECONDS, blocking_client

SOCKETIO_CHANNEL = "chat-socketio"
SOCKET_ORDERS_CHANNEL = "chat-socket-orders"

log = logging.getLogger(__name__)


class BatchingRedisManager(socketio.RedisManager):
    """python-socketio's Redis manager, able to publish a batch of events in one round trip.

    ``_publish`` is the documented extension point of pub/sub managers; inside ``batch()`` it queues,
    and the batch goes out as one Redis pipeline when the block ends (per thread).
    """

    def __init__(self, *args, settings: Settings | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pending = threading.local()
        self._settings = settings

    def _redis_connect(self):
        """Like python-socketio's, on a blocking pool: a burst of emits waits for a connection, none fails
        with "Too many connections" (infra.redis_pool). Sentinel URLs keep python-socketio's own client."""
        if urlparse(self.redis_url).scheme.endswith("+sentinel"):
            return super()._redis_connect()
        self.redis = blocking_client(self.redis_url, self._settings)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    @contextmanager
    def batch(self) -> Iterator[None]:
        if getattr(self._pending, "items", None) is not None:
            yield  # nested: the outer block publishes
            return
        self._pending.items = []
        try:
            yield
            items = self._pending.items
        finally:
            self._pending.items = None
        if items:
            self._publish_many(items)

    def _publish(self, data):
        items = getattr(self._pending, "items", None)
        if items is None:
            return super()._publish(data)
        items.append(data)

    def _publish_many(self, items: list) -> None:
        if not self.connected:
            self._redis_connect()
        pipe = self.redis.pipeline(transaction=False)
        for data in items:
            pipe.publish(self.channel, self.json.dumps(data))
        pipe.execute()


def redis_manager(redis_url: str, write_only: bool, settings: Settings | None = None) -> BatchingRedisManager:
    """The Socket.IO client manager on Redis, shared by the web front and the workers' emitter."""
    return BatchingRedisManager(redis_url, channel=SOCKETIO_CHANNEL, write_only=write_only, settings=settings,
                                redis_options={"health_check_interval": HEALTH_CHECK_SECONDS})


class Emitter(Protocol):
    def emit(self, event: str, data: Any, room: str, skip_sid: str | None = None) -> None: ...

    def batch(self): ...


class SocketIOEmitter:
    """A write-only Redis manager: it can only publish, which is all a worker needs.

    (Flask-SocketIO's ``SocketIO(message_queue=...)`` without an app builds the same thing.)
    """

    def __init__(self, redis_url: str, settings: Settings | None = None) -> None:
        self._manager = redis_manager(redis_url, write_only=True, settings=settings)

    def emit(self, event: str, data: Any, room: str, skip_sid: str | None = None) -> None:
        self._manager.emit(event, data, namespace="/", room=room, skip_sid=skip_sid)

    def batch(self):
        """Events emitted inside the block are published together when it ends."""
        return self._manager.batch()


class ServerEmitter:
    """Emits through the web process's own Socket.IO server: its local sockets get the event at once,
    in the emitting greenlet, and the other web processes through Redis. For events that start in a
    web process (typing, presence, reactions, receipts), this saves the round trip through Redis and
    the wait for the Redis listener's turn, which under load is most of their latency."""

    def __init__(self, server) -> None:
        self._server = server  # a socketio.Server whose client manager is the Redis manager

    def emit(self, event: str, data: Any, room: str, skip_sid: str | None = None) -> None:
        self._server.emit(event, data, to=room, skip_sid=skip_sid, namespace="/")

    def batch(self):
        return nullcontext()


class SocketOrders:
    """Orders about a user's sockets (enter or leave a room), published to every web process; each applies
    them to the sockets it holds itself (``apply``). No registry is consulted, so a socket that the presence
    registry lost (a Redis outage longer than its TTL) still obeys.

    Redis pub/sub delivers at most once: an order published while a process's subscription is down is
    lost to it; so once subscribed again it calls ``resubscribed``, and the web process checks its sockets'
    rooms against the database.
    """

    def __init__(self, client: redis.Redis, host_id: str, apply: Callable[[dict], None],
                 sleep: Callable[[float], None] = time.sleep, resubscribed: Callable[[], None] | None = None) -> None:
        self.redis, self.host_id, self.apply, self.sleep = client, host_id, apply, sleep
        self.resubscribed = resubscribed  # called once subscribed again after a drop: orders may have been missed
        self.running = False

    def publish(self, order: dict) -> None:
        """Apply here at once, and send to the other web processes."""
        self.apply(order)
        self.redis.publish(SOCKET_ORDERS_CHANNEL, json.dumps({**order, "host": self.host_id}))

    def listen(self) -> None:
        """Run until ``stop()`` (a green thread of the web process): apply the other processes' orders."""
        retry, dropped, self.running = 1.0, False, True
        while self.running:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(SOCKET_ORDERS_CHANNEL)
                retry = 1.0
                if dropped and self.resubscribed:
                    dropped = False
                    self._catch_up()
                while self.running:
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._receive(message["data"])
            except Exception:  # noqa: BLE001 - Redis away: subscribe again
                dropped = True
                log.warning("socket orders: subscription lost; again in %.0f s", retry, exc_info=True)
                self.sleep(retry)
                retry = min(retry * 2, 30.0)
            finally:
                pubsub.close()

    def _catch_up(self) -> None:
        try:
            self.resubscribed()
        except Exception:  # noqa: BLE001 - the database away, say: logged; the subscription goes on
            log.exception("socket orders: could not check the rooms after subscribing again")

    def stop(self) -> None:
        self.running = False

    def _receive(self, data: bytes) -> None:
        try:
            order = json.loads(data)
            if order.pop("host", None) != self.host_id:
                self.apply(order)
        except Exception:  # noqa: BLE001 - one bad order must not end the subscription
            log.exception("socket orders: could not apply %r", data[:200])
