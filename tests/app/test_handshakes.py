"""app.handshakes: at most N Socket.IO handshakes in progress; a slot is given back by the connect handler,
or by its timer; a handshake that waits too long goes ahead without one; other requests never wait."""
from __future__ import annotations

import threading
import time

from app.handshakes import RELEASE, HandshakeBound, release_handshake


class Inner:
    """A WSGI app that records the requests in it and keeps their environs."""

    def __init__(self) -> None:
        self.entered: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.entered.append(environ)
        return [b"ok"]


def handshake(bound: HandshakeBound, query: str = "EIO=4&transport=websocket") -> threading.Thread:
    environ = {"PATH_INFO": "/socket.io/", "QUERY_STRING": query}
    thread = threading.Thread(target=bound, args=(environ, lambda *a: None), daemon=True)
    thread.start()
    return thread


def wait_for(condition, timeout: float = 2.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.005)


def test_at_most_the_limit_start_and_a_release_lets_the_next_one_in():
    inner = Inner()
    bound = HandshakeBound(inner, limit=2, wait_seconds=5, path="socket.io")
    threads = [handshake(bound) for _ in range(4)]
    wait_for(lambda: len(inner.entered) == 2)
    time.sleep(0.05)
    assert len(inner.entered) == 2                     # the other two wait for a slot
    release_handshake(inner.entered[0])
    release_handshake(inner.entered[0])                # a second release of the same slot changes nothing
    wait_for(lambda: len(inner.entered) == 3)
    time.sleep(0.05)
    assert len(inner.entered) == 3
    for environ in list(inner.entered):
        release_handshake(environ)
    wait_for(lambda: len(inner.entered) == 4)
    release_handshake(inner.entered[3])
    for t in threads:
        t.join(1)
    assert bound.waited_out == 0 and all(RELEASE in e for e in inner.entered)


def test_requests_of_an_open_session_and_other_paths_never_wait():
    inner = Inner()
    bound = HandshakeBound(inner, limit=1, wait_seconds=5, path="socket.io")
    handshake(bound)
    wait_for(lambda: len(inner.entered) == 1)          # the one slot is taken
    bound({"PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4&transport=polling&sid=abc"}, None)
    bound({"PATH_INFO": "/api/groups", "QUERY_STRING": ""}, None)
    assert len(inner.entered) == 3 and RELEASE not in inner.entered[1] and RELEASE not in inner.entered[2]


def test_a_slot_never_released_comes_back_and_a_long_wait_goes_ahead_without_one():
    inner = Inner()
    bound = HandshakeBound(inner, limit=1, wait_seconds=0.2, path="socket.io")
    handshake(bound)                                   # its client never connects: the timer gives it back
    wait_for(lambda: len(inner.entered) == 1)
    handshake(bound)
    wait_for(lambda: len(inner.entered) == 2, timeout=1)
    assert RELEASE in inner.entered[1] and bound.waited_out == 0
    bound.slots.acquire()                              # every slot held for good: the next one waits, then goes
    began = time.monotonic()
    bound({"PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4&transport=websocket"}, None)
    assert time.monotonic() - began >= 0.19 and bound.waited_out == 1 and RELEASE not in inner.entered[2]
