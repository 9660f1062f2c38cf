"""The write-only Socket.IO emitter: workers (and the web) publish events through Redis to every web process."""
from __future__ import annotations

from typing import Any, Protocol

import socketio

SOCKETIO_CHANNEL = "chat-socketio"


# redis-py's pool refuses more than 100 connections at once by default; a burst of emits must not fail.
REDIS_OPTIONS = {"max_connections": 2000, "health_check_interval": 30}


def redis_manager(redis_url: str, write_only: bool) -> socketio.RedisManager:
    """The Socket.IO client manager on Redis, shared by the web front and the workers' emitter."""
    return socketio.RedisManager(redis_url, channel=SOCKETIO_CHANNEL, write_only=write_only,
                                 redis_options=dict(REDIS_OPTIONS))


class Emitter(Protocol):
    def emit(self, event: str, data: Any, room: str) -> None: ...


class SocketIOEmitter:
    """python-socketio's write-only Redis manager: it can only publish, which is all a worker needs.

    (Flask-SocketIO's ``SocketIO(message_queue=...)`` without an app builds the same thing.)
    """

    def __init__(self, redis_url: str) -> None:
        self._manager = redis_manager(redis_url, write_only=True)

    def emit(self, event: str, data: Any, room: str) -> None:
        self._manager.emit(event, data, namespace="/", room=room)
