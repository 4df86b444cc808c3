"""A loopback TCP server that misbehaves at the socket level, for transport-error tests.

Each accepted connection follows the next step of a script: answer given bytes, say
nothing, send half an answer and close, close after reading the request, or reset the
connection. `refused_url()` gives an address where nothing listens (connection refused).
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Literal, Self

Step = Literal["silent", "half", "close", "reset"] | bytes


def refused_url() -> str:
    """An http://127.0.0.1 URL on a port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def http_answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 response, closing the connection."""
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class RawServer:
    """Serves `script`, one step per connection (the last step repeats)."""

    def __init__(self, script: list[Step]) -> None:
        self.script = list(script)
        self.requests: list[bytes] = []  # the raw request head of every connection
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5.0)
        for c in self._conns:
            c.close()
        self._sock.close()

    def _serve(self) -> None:
        n = 0
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self._conns.append(conn)
            step = self.script[min(n, len(self.script) - 1)]
            n += 1
            self.requests.append(self._read_head(conn))
            if step == "silent":
                continue  # kept open, never answered, closed on exit
            if step == "half":
                conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"id": "1')
                conn.close()
            elif step == "close":
                conn.close()
            elif step == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                conn.sendall(step)
                conn.close()

    @staticmethod
    def _read_head(conn: socket.socket) -> bytes:
        conn.settimeout(2.0)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        return data
