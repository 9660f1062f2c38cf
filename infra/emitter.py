"""The write-only Socket.IO emitter: workers (and the web) publish events through Redis to every web process."""
from __future__ import annotations

from typing import Any, Protocol

from flask_socketio import SocketIO

SOCKETIO_CHANNEL = "chat-socketio"


class Emitter(Protocol):
    def emit(self, event: str, data: Any, room: str) -> None: ...


class SocketIOEmitter:
    """``SocketIO(message_queue=...)`` without an app: it can only publish, which is all a worker needs."""

    def __init__(self, redis_url: str) -> None:
        # async_mode="threading": a worker is not monkey patched, and publishing needs no event loop.
        self._socketio = SocketIO(message_queue=redis_url, channel=SOCKETIO_CHANNEL, async_mode="threading")

    def emit(self, event: str, data: Any, room: str) -> None:
        self._socketio.emit(event, data, to=room, namespace="/")
