"""A loopback reverse proxy with fault injection, for servers we can run but not instrument.

`FaultProxy(upstream_url)` forwards every request (method, path, query, headers, body) to
the upstream, e.g. a real Bluesky PDS on 127.0.0.1, and relays its answer. Faults use the
same API as the fakes; "after commit" means the upstream received the request and answered,
then the fault replaces (or withholds) that answer. `count()` is the oracle: how many
requests actually reached the upstream.
"""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .base import LoopbackServer, Recorded, Response, text_response

# RFC 9110 §7.6.1 connection-specific fields, which a proxy must not forward.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


@dataclass(frozen=True)
class Forwarded:
    """A request that reached the upstream, and the upstream's answer."""

    request: Recorded
    status: int
    body: bytes

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.path


class FaultProxy(LoopbackServer):
    """Reverse proxy to `upstream_url` (http only) with fault injection."""

    def __init__(self, upstream_url: str, upstream_timeout: float = 30.0) -> None:
        super().__init__()
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"FaultProxy needs an http:// upstream, got {upstream_url!r}")
        self.upstream_url = upstream_url.rstrip("/")
        self.upstream_timeout = upstream_timeout
        self._host = parts.hostname
        self._port = parts.port or 80
        self._netloc = parts.netloc
        self._base_path = parts.path.rstrip("/")
        self._forwarded: list[Forwarded] = []

    @property
    def forwarded(self) -> list[Forwarded]:
        """Requests that reached the upstream, in order."""
        with self._lock:
            return list(self._forwarded)

    def count(self, method: str, path_regex: str, status: int | None = None) -> int:
        """How many `method` requests whose path matches `path_regex` (re.search) reached the
        upstream, whatever the client was told; only those it answered `status`, if given."""
        pattern = re.compile(path_regex)
        return sum(
            1
            for f in self.forwarded
            if method.upper() in ("*", f.method)
            and pattern.search(f.path)
            and (status is None or f.status == status)
        )

    def process(self, req: Recorded) -> Response:
        headers = {
            k: v
            for k, v in req.headers.items()
            if k not in _HOP_BY_HOP and k not in ("host", "content-length")
        }
        headers["host"] = self._netloc
        send_body = bool(req.body) or req.method in ("POST", "PUT", "PATCH")
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self.upstream_timeout)
        try:
            conn.request(
                req.method,
                self._base_path + req.target,
                body=req.body if send_body else None,
                headers=headers,
            )
            upstream = conn.getresponse()
            body = upstream.read()
            status = upstream.status
            upstream_headers = upstream.getheaders()
        except (OSError, http.client.HTTPException) as exc:
            return text_response(502, f"fault proxy: upstream unreachable: {exc!r}")
        finally:
            conn.close()
        with self._lock:
            self._forwarded.append(Forwarded(req, status, body))
        relayed: dict[str, str] = {}
        for key, value in upstream_headers:
            k = key.lower()
            if k in _HOP_BY_HOP or k == "content-length":
                continue
            relayed[key] = f"{relayed[key]}, {value}" if key in relayed else value
        return Response(status, body, relayed)
