"""A bound on the Socket.IO handshakes a web process works on at once.

A handshake (the Engine.IO open, the websocket upgrade, then the Socket.IO connect: the token, the session
snapshot, the rooms, presence) is a few milliseconds of the one event loop's CPU. A reconnect wave of
hundreds at once makes every turn of the loop hold hundreds of such steps, and a chat message, which
crosses the loop several times between its send and its delivery, waits a whole turn each time (1-1.5 s
during a 2,000-connect storm, docs/performance.md). With at most ``limit`` in progress, the others wait
for a slot before they start: the connects take as long overall, and each turn stays short.

A new session's first request (the Engine.IO path without a ``sid``) takes a slot, and the session's
Socket.IO connect handler gives it back when it is done (``release_handshake``), whatever its outcome. A
client that never sends its connect gives it back after ``wait_seconds``. A request that waits
``wait_seconds`` without a slot goes ahead anyway: the bound paces a storm and never refuses a client, so
clients that hold slots without finishing cannot lock others out.
"""
from __future__ import annotations

import threading
from typing import Callable, Iterable

RELEASE = "chat.handshake.release"  # the environ key of the slot's release (the handshake's own environ)


class HandshakeBound:
    def __init__(self, wsgi_app: Callable, limit: int, wait_seconds: float, path: str) -> None:
        self.app, self.wait_seconds, self.prefix = wsgi_app, wait_seconds, f"/{path.strip('/')}/"
        self.slots = threading.BoundedSemaphore(limit)
        self.waited_out = 0  # handshakes that went ahead without a slot

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(self.prefix) and "sid=" not in environ.get("QUERY_STRING", ""):
            if self.slots.acquire(timeout=self.wait_seconds):
                environ[RELEASE] = _Slot(self.slots, self.wait_seconds)
            else:
                self.waited_out += 1
        return self.app(environ, start_response)


def release_handshake(environ: dict) -> None:
    """The handshake of this environ is done: give its slot back (once; nothing if it had none)."""
    release = environ.get(RELEASE)
    if release is not None:
        release()


class _Slot:
    """A taken slot: given back once, by the connect handler or by its timer, whichever comes first."""

    def __init__(self, slots: threading.BoundedSemaphore, seconds: float) -> None:
        self.slots, self._once = slots, threading.Lock()
        self.timer = threading.Timer(seconds, self)
        self.timer.daemon = True
        self.timer.start()

    def __call__(self) -> None:
        if self._once.acquire(blocking=False):
            self.timer.cancel()
            self.slots.release()
