"""A TCP proxy between the browser and the server that a test can break like a network does: drop every
connection and refuse new ones (the server "goes away"), or refuse WebSocket upgrades only (a network
that blocks them). Playwright's offline mode does not close open WebSockets, hence this."""
from __future__ import annotations

import socket
import threading
import time

FORBIDDEN = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Proxy:
    def __init__(self, target_port: int, block_websockets: bool = False) -> None:
        self.target_port = target_port
        self.block_websockets = block_websockets
        self.down = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Every open connection dropped; new ones are closed at once until restore()."""
        self.down = True
        with self._lock:
            conns, self._open = self._open, set()
        for conn in conns:
            _close(conn)

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.down:
                _close(client)
            else:
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self.block_websockets and _is_websocket_upgrade(client):
            client.sendall(FORBIDDEN)
            return _close(client)
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            upstream.settimeout(None)
        except OSError:
            return _close(client)
        with self._lock:
            if self.down:
                return _close(client), _close(upstream)
            self._open.update((client, upstream))
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._open.discard(src)
            self._open.discard(dst)
        _close(src)
        _close(dst)


def _is_websocket_upgrade(client: socket.socket) -> bool:
    """Peek at the request head without consuming it."""
    client.settimeout(5)
    head = b""
    try:
        for _ in range(100):
            head = client.recv(65536, socket.MSG_PEEK)
            if not head or b"\r\n\r\n" in head:
                break
            time.sleep(0.01)
    except OSError:
        return False
    finally:
        client.settimeout(None)
    return b"upgrade: websocket" in head.lower()


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
