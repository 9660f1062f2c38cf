"""app.websocket_mask: the same bytes as RFC 6455's byte-by-byte unmasking, for every length and offset."""
from __future__ import annotations

import random

import pytest

from app.websocket_mask import apply_mask, install


def by_the_rfc(data, mask, length=None, offset=0) -> bytes:
    length = len(data) if length is None else length
    return bytes(data[i] ^ mask[(offset + i) % 4] for i in range(length))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 125, 126, 300, 65_536, 70_001])
def test_it_unmasks_as_the_rfc_says_for_any_length_and_offset(n):
    rnd = random.Random(n)
    for offset in (0, 1, 2, 3, 6, 1_000_001):
        data, mask = rnd.randbytes(n + 5), rnd.randbytes(4)
        assert apply_mask(data, mask, n, offset) == by_the_rfc(data, mask, n, offset)   # a prefix of the buffer
        assert apply_mask(data[:n], mask, None, offset) == by_the_rfc(data[:n], mask, None, offset)
        assert apply_mask(bytearray(data), mask, n, offset) == by_the_rfc(data, mask, n, offset)
    # RFC 6455, 5.7: the masked "Hello" frame's payload and key
    assert apply_mask(b"\x7f\x9f\x4d\x51\x58", b"\x37\xfa\x21\x3d") == b"Hello"


def test_install_replaces_eventlets_unmasking(monkeypatch):
    from eventlet import websocket

    monkeypatch.setattr(websocket.RFC6455WebSocket, "_apply_mask", websocket.RFC6455WebSocket.__dict__["_apply_mask"])
    before = websocket.RFC6455WebSocket._apply_mask(b"abcdef", b"1234", None, 1)
    install()
    assert websocket.RFC6455WebSocket._apply_mask is apply_mask
    assert websocket.RFC6455WebSocket._apply_mask(b"abcdef", b"1234", None, 1) == before
