"""Socket.IO emitters: workers publish events through Redis to every web process (SocketIOEmitter);
a web process emits through its own server, which reaches its sockets at once and the others through
Redis (ServerEmitter)."""
from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator, Protocol

import socketio

SOCKETIO_CHANNEL = "chat-socketio"


# redis-py's pool refuses more than 100 connections at once by default; a burst of emits must not fail.
REDIS_OPTIONS = {"max_connections": 2000, "health_check_interval": 30}


class BatchingRedisManager(socketio.RedisManager):
    """python-socketio's Redis manager, able to publish a batch of events in one round trip.

    ``_publish`` is the documented extension point of pub/sub managers; inside ``batch()`` it queues,
    and the batch goes out as one Redis pipeline when the block ends (per thread).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pending = threading.local()

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


def redis_manager(redis_url: str, write_only: bool) -> BatchingRedisManager:
    """The Socket.IO client manager on Redis, shared by the web front and the workers' emitter."""
    return BatchingRedisManager(redis_url, channel=SOCKETIO_CHANNEL, write_only=write_only,
                                redis_options=dict(REDIS_OPTIONS))


class Emitter(Protocol):
    def emit(self, event: str, data: Any, room: str, skip_sid: str | None = None) -> None: ...

    def batch(self): ...


class SocketIOEmitter:
    """A write-only Redis manager: it can only publish, which is all a worker needs.

    (Flask-SocketIO's ``SocketIO(message_queue=...)`` without an app builds the same thing.)
    """

    def __init__(self, redis_url: str) -> None:
        self._manager = redis_manager(redis_url, write_only=True)

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
