"""The one HTTP client of a run: timeouts, a user agent, rate limits honoured within a budget.

Only platform adapters use it. It never retries a POST by itself: whether a write may be
sent again is the adapter's decision (idempotency key, record key, reconciliation).
Errors are sorted by what they prove: `NotSent` (the request never reached the server,
safe to send again), `MaybeSent` (it may have been processed: outcome unknown),
`RateLimited` (the platform asked us to come back later than the run can wait).
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cmflow import __version__

if TYPE_CHECKING:
    import requests

USER_AGENT = f"cmflow/{__version__} (+https://github.com/cmflow/cmflow)"


class HttpError(Exception):
    """Base of transport-level errors raised by `Http.request`."""


class NotSent(HttpError):
    """The request did not reach the server (connection refused, DNS, connect timeout)."""


class MaybeSent(HttpError):
    """The request was sent but no answer came back (read timeout, connection dropped)."""


class RateLimited(HttpError):
    """The platform asked to wait longer than the run's remaining budget."""

    def __init__(self, host: str, retry_after: float) -> None:
        super().__init__(f"{host} is rate limited for {retry_after:.0f} s more")
        self.retry_after = retry_after


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait according to the response headers, if they say.

    Understands `Retry-After` (seconds or HTTP date; Discord, Slack, Bluesky), `RateLimit-Reset`
    (seconds, Bluesky PDS / IETF draft), `X-RateLimit-Reset-After` (Discord),
    `x-rate-limit-reset` (X: epoch seconds) and `X-RateLimit-Reset` (Mastodon: ISO 8601) when
    the matching `Remaining` header is 0.
    """
    now = time.time() if now is None else now
    h = {k.lower(): v for k, v in headers.items()}
    if "retry-after" in h:
        value = h["retry-after"].strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    remaining = h.get(
        "x-ratelimit-remaining", h.get("ratelimit-remaining", h.get("x-rate-limit-remaining"))
    )
    if remaining is None or remaining.strip() not in ("0", "0.0"):
        return None
    if "x-ratelimit-reset-after" in h:
        return max(0.0, float(h["x-ratelimit-reset-after"]))
    reset = h.get("ratelimit-reset") or h.get("x-rate-limit-reset") or h.get("x-ratelimit-reset")
    if not reset:
        return None
    try:
        n = float(reset)
    except ValueError:
        try:
            return max(0.0, datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp() - now)
        except ValueError:
            return None
    # Epoch seconds (X, Mastodon-style) versus a delta (IETF RateLimit-Reset).
    return max(0.0, n - now) if n > 1_000_000_000 else max(0.0, n)


class Http:
    """A shared `requests.Session` with per-host rate-limit state and a time budget."""

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        budget: float = 600.0,
        max_wait: float = 120.0,
    ) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=16, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = time.monotonic() + budget
        self.max_wait = max_wait
        self._not_before: dict[str, float] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _pause(self, host: str) -> None:
        with self._lock:
            until = self._not_before.get(host, 0.0)
        delay = until - time.monotonic()
        if delay <= 0:
            return
        if delay > min(self.max_wait, self.remaining()):
            raise RateLimited(host, delay)
        time.sleep(delay)

    def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool | None = None,
        timeout: float | tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request. Reads (GET/HEAD, or `idempotent=True`) are retried twice on
        transport errors and 502/503/504; writes never are."""
        import requests

        host = urlsplit(url).netloc
        safe = idempotent if idempotent is not None else method.upper() in ("GET", "HEAD")
        attempts = 3 if safe else 1
        for attempt in range(attempts):
            self._pause(host)
            try:
                response = self._session.request(
                    method, url, timeout=timeout or self.timeout, allow_redirects=safe, **kwargs
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                sent = not isinstance(exc, requests.ConnectTimeout) and not _refused(exc)
                if attempt + 1 < attempts:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                kind = MaybeSent if sent else NotSent
                raise kind(f"{method} {host}: {type(exc).__name__}") from None
            wait = retry_after_seconds(response.headers)
            if wait is not None and wait > 0:
                with self._lock:
                    self._not_before[host] = max(
                        self._not_before.get(host, 0.0), time.monotonic() + wait
                    )
            if safe and response.status_code in (502, 503, 504) and attempt + 1 < attempts:
                continue
            return response
        raise AssertionError("unreachable")


def _refused(exc: Exception) -> bool:
    """Whether a ConnectionError happened while connecting (so nothing was sent)."""
    text = repr(exc)
    return any(
        marker in text
        for marker in (
            "NewConnectionError",
            "ConnectionRefused",
            "NameResolution",
            "Failed to resolve",
        )
    )
