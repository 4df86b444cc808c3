"""Concurrency within a platform's rate limit, shared by the readers.

Reads go out on a few threads at once. After every answer the `Gate` looks at the rate-limit
headers (`X-RateLimit-Remaining` on Mastodon, `RateLimit-Remaining` on Bluesky,
`x-rate-limit-remaining` on X) and closes once only `reserve` requests are left in the window,
so a metrics run never spends the quota the publish job needs; a 429, or a refused
credential, closes it at once. Requests not yet sent then come back as deferred (or refused)
without being sent: the next run asks again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from cmflow.i18n import _

T = TypeVar("T")
R = TypeVar("R")

WORKERS = 10  # requests in flight per channel (GA4 allows 10 concurrent per property)
RESERVE = 10  # requests left untouched in each rate-limit window, for the publisher


class Gate:
    def __init__(self, reserve: int = RESERVE) -> None:
        self.reserve = reserve
        self._lock = threading.Lock()
        self._closed: tuple[str, str] | None = None

    @property
    def closed(self) -> tuple[str, str] | None:
        """(status, reason) once closed."""
        with self._lock:
            return self._closed

    def close(self, status: str, reason: str) -> None:
        with self._lock:
            if self._closed is None:
                self._closed = (status, reason)

    def observe(self, headers: Mapping[str, str]) -> None:
        h = {k.lower(): v for k, v in headers.items()}
        value = h.get(
            "x-ratelimit-remaining", h.get("ratelimit-remaining", h.get("x-rate-limit-remaining"))
        )
        if value is None:
            return
        try:
            remaining = int(float(value.split(",")[0].split(";")[0]))
        except ValueError:
            return
        if remaining <= self.reserve:
            self.close(
                "deferred",
                _(
                    "rate limit nearly spent ({count} requests left in the window): the rest "
                    "waits for the next run"
                ).format(count=remaining),
            )


def fan_out(items: Sequence[T], fn: Callable[[T], R], workers: int = WORKERS) -> list[R]:
    """`fn` over `items` on up to `workers` threads, results in order."""
    if len(items) <= 1 or workers <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
