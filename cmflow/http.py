"""The one HTTP client of a run: timeouts, a user agent, rate limits honoured within a budget.

Only platform adapters use it. It never retries a POST by itself: whether a write may be
sent again is the adapter's decision (idempotency key, record key, reconciliation).
Errors are sorted by what they prove, from the exception's type, never its text:
`NotSent` (the request never reached the server, safe to send again), `MaybeSent` (it may
have been processed: outcome unknown), `RateLimited` (the platform asked us to come back
later than the run can wait).
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cmflow import __version__
from cmflow.i18n import _

if TYPE_CHECKING:
    from http.cookiejar import DefaultCookiePolicy

    import requests

USER_AGENT = f"cmflow/{__version__} (+https://github.com/cmflow/cmflow)"
# Longest wait a header may ask for. Beyond it the value is nonsense (a misread epoch, `1e999`)
# and the run would otherwise stop calling the host for ever.
MAX_HEADER_WAIT = 86_400.0
# Statuses a safe request is sent again after: the gateway or the server was briefly unable.
RETRY_STATUSES = frozenset({502, 503, 504})


class HttpError(Exception):
    """Base of transport-level errors raised by `Http.request`."""


class NotSent(HttpError):
    """The request did not reach the server (connection refused, DNS, connect timeout)."""


class MaybeSent(HttpError):
    """The request was sent but no answer came back (read timeout, connection dropped)."""


class RateLimited(HttpError):
    """The platform asked to wait longer than the run's remaining budget."""

    def __init__(self, host: str, retry_after: float) -> None:
        super().__init__(
            _("{host} is rate limited for {seconds} s more").format(
                host=host, seconds=f"{retry_after:.0f}"
            )
        )
        self.retry_after = retry_after


def _seconds(value: str) -> float | None:
    """A finite, non-negative number of seconds, or None for anything else."""
    try:
        n = float(value.strip())
    except ValueError:
        return None
    return n if math.isfinite(n) else None


def _date(value: str, now: float) -> float | None:
    """Seconds until an HTTP date (RFC 9110) or ISO 8601 time, or None if it is neither."""
    value = value.strip()
    if not value:
        return None
    try:
        import email.utils  # here: `cmflow validate` imports this module, never calls this

        return email.utils.parsedate_to_datetime(value).timestamp() - now
    except (ValueError, TypeError, IndexError, OverflowError):
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() - now
    except (ValueError, OverflowError, OSError):
        return None


def _clamp(wait: float | None) -> float | None:
    if wait is None or not math.isfinite(wait):
        return None
    return min(MAX_HEADER_WAIT, max(0.0, wait))


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait according to the response headers, if they say.

    Understands `Retry-After` (seconds or HTTP date; Discord, Slack, Bluesky), `RateLimit-Reset`
    (seconds, Bluesky PDS / IETF draft), `X-RateLimit-Reset-After` (Discord),
    `x-rate-limit-reset` (X: epoch seconds) and `X-RateLimit-Reset` (Mastodon: ISO 8601) when
    the matching `Remaining` header is 0. A header that does not parse (`soon`, `1e999`, NaN,
    a date in another format) is ignored: it must never turn an answer into an error.
    """
    now = time.time() if now is None else now
    try:
        h = {str(k).lower(): str(v) for k, v in headers.items()}
    except Exception:
        return None
    if "retry-after" in h:
        value = h["retry-after"]
        n = _seconds(value)
        wait = _clamp(n if n is not None else _date(value, now))
        if wait is not None:
            return wait
    remaining = h.get(
        "x-ratelimit-remaining", h.get("ratelimit-remaining", h.get("x-rate-limit-remaining"))
    )
    if remaining is None or _seconds(remaining) != 0:
        return None
    if "x-ratelimit-reset-after" in h:
        wait = _clamp(_seconds(h["x-ratelimit-reset-after"]))
        if wait is not None:
            return wait
    reset = h.get("ratelimit-reset") or h.get("x-rate-limit-reset") or h.get("x-ratelimit-reset")
    if not reset:
        return None
    n = _seconds(reset)
    if n is None:
        return _clamp(_date(reset, now))
    # Epoch seconds (X, Mastodon-style) versus a delta (IETF RateLimit-Reset).
    return _clamp(n - now if n > 1_000_000_000 else n)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: `args` (urllib3's MaxRetryError.reason
    arrives as requests' first argument), `reason`, `__cause__`, `__context__`."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        inner = [*getattr(e, "args", ()), getattr(e, "reason", None), e.__cause__, e.__context__]
        todo.extend(x for x in inner if isinstance(x, BaseException))


def _unsendable(exc: BaseException) -> bool:
    """The request could not even be built (a bad header value or URL): sending it again
    cannot help."""
    import requests

    return isinstance(
        exc,
        requests.exceptions.InvalidHeader
        | requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | UnicodeError,
    )


def classify(exc: BaseException) -> type[NotSent] | type[MaybeSent]:
    """Whether a transport error proves that nothing was sent (`NotSent`) or not (`MaybeSent`).

    By type: a connection that was never established (refused, DNS, connect timeout, a
    certificate refused during the handshake) or a request that could not even be encoded
    (a header value that is not Latin-1) sent nothing. A read timeout, a connection reset or
    closed after the request was written, an answer cut short: the server may have acted.
    """
    import requests
    import urllib3.exceptions as u3

    if isinstance(exc, requests.ConnectTimeout):
        return NotSent
    if _unsendable(exc):
        return NotSent
    if isinstance(exc, requests.ReadTimeout | requests.exceptions.ChunkedEncodingError):
        return MaybeSent
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return MaybeSent
    chain = list(_chain(exc))
    # Anything that happened once the request was on the wire wins over connect-time causes.
    if any(isinstance(e, u3.ProtocolError | u3.ReadTimeoutError) for e in chain):
        return MaybeSent
    if any(
        isinstance(e, u3.NewConnectionError | u3.ConnectTimeoutError | u3.NameResolutionError)
        for e in chain
    ):
        return NotSent
    import ssl  # here: platform modules import this one when channels.yaml is validated

    if any(isinstance(e, ssl.SSLCertVerificationError | u3.ProxyError) for e in chain):
        return NotSent  # refused during the TLS handshake / at the proxy: nothing went out
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return NotSent
    return MaybeSent


def _what(name: str) -> str | None:
    return {
        "ConnectTimeout": _("timed out connecting"),
        "ReadTimeout": _("no answer in time"),
        "ChunkedEncodingError": _("the answer was cut short"),
        "ContentDecodingError": _("the answer could not be decoded"),
        "SSLError": _("TLS error"),
        "ProxyError": _("proxy error"),
    }.get(name)


def _describe(exc: BaseException, kind: type[HttpError]) -> str:
    """A short description from the type only: an exception's text may quote the URL, and a
    webhook URL is a secret."""
    name = type(exc).__name__
    what = _what(name)
    if what is None:
        what = _("could not connect") if kind is NotSent else _("the connection was lost")
    return f"{what} ({name})"


def no_cookies() -> DefaultCookiePolicy:
    """A policy that stores no cookie: every call authenticates with its own credential, and
    two channels on the same host (two accounts) never share a server session."""
    from http.cookiejar import DefaultCookiePolicy

    return DefaultCookiePolicy(allowed_domains=[])


def _settle_environment(session: requests.Session, host: str) -> None:
    """Read once, for this host, what requests reads from the environment at every request
    (proxies and `no_proxy`, `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`, `~/.netrc`), then stop
    it from reading again: the same settings, without scanning every environment variable
    twice per request (half a millisecond each time, holding the interpreter's lock)."""
    import requests.utils

    url = f"http://{host}/"  # a host's proxy bypass and netrc entry do not depend on the scheme
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    auth = requests.utils.get_netrc_auth(url)
    if auth:
        session.auth = auth
    session.trust_env = False


class Http:
    """One `requests.Session` per host, shared by the channels' threads, with per-host
    rate-limit state and a time budget.

    `sleep` and `rng` are parameters so that waits can be observed without patching.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        budget: float = 600.0,
        max_wait: float = 120.0,
        attempts: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        pool_size: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = time.monotonic() + budget
        self.max_wait = max_wait
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.pool_size = pool_size
        self._sleep = sleep
        self._rng = rng
        self._not_before: dict[str, float] = {}
        self._sessions: dict[str, requests.Session] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for s in sessions:
            s.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def session(self, host: str) -> requests.Session:
        """The host's session, made on first use. urllib3's pool is thread-safe; the session
        holds no cookies and is never reconfigured after it is made, so threads share it."""
        with self._lock:
            s = self._sessions.get(host)
            if s is None:
                import requests
                from requests.adapters import HTTPAdapter

                s = requests.Session()
                s.headers["User-Agent"] = USER_AGENT
                s.cookies.set_policy(no_cookies())
                _settle_environment(s, host)
                adapter = HTTPAdapter(
                    pool_connections=1, pool_maxsize=self.pool_size, max_retries=0
                )
                s.mount("http://", adapter)
                s.mount("https://", adapter)
                self._sessions[host] = s
            return s

    def _pause(self, host: str) -> None:
        with self._lock:
            until = self._not_before.get(host, 0.0)
        delay = until - time.monotonic()
        if delay <= 0:
            return
        if delay > min(self.max_wait, self.remaining()):
            raise RateLimited(host, delay)
        self._sleep(delay)

    def _backoff(self, attempt: int) -> float | None:
        """Seconds before retry `attempt` (1, 2, ...): exponential with jitter, or None when
        the run's budget cannot afford it."""
        base = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        delay = base * (0.5 + self._rng())
        return delay if delay < self.remaining() else None

    def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool | None = None,
        timeout: float | tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request. Safe ones (GET/HEAD, or `idempotent=True`) are sent again, after
        an exponential, jittered pause, on transport errors and 502/503/504; writes never are."""
        import requests

        host = urlsplit(url).netloc
        safe = idempotent if idempotent is not None else method.upper() in ("GET", "HEAD")
        attempts = self.attempts if safe else 1
        session = self.session(host)
        for attempt in range(attempts):
            self._pause(host)
            try:
                response = session.request(
                    method, url, timeout=timeout or self.timeout, allow_redirects=safe, **kwargs
                )
            except (requests.RequestException, UnicodeError) as exc:
                kind = classify(exc)
                again = attempt + 1 < attempts and not _unsendable(exc)
                delay = self._backoff(attempt + 1) if again else None
                if delay is not None:
                    self._sleep(delay)
                    continue
                raise kind(f"{method} {host}: {_describe(exc, kind)}") from None
            wait = retry_after_seconds(response.headers)
            if wait is not None and wait > 0:
                with self._lock:
                    self._not_before[host] = max(
                        self._not_before.get(host, 0.0), time.monotonic() + wait
                    )
            if safe and response.status_code in RETRY_STATUSES and attempt + 1 < attempts:
                # A Retry-After on the answer is honoured by `_pause` (when the run can
                # afford it); else back off.
                if wait:
                    retry = wait <= min(self.max_wait, self.remaining())
                    delay = None
                else:
                    delay = self._backoff(attempt + 1)
                    retry = delay is not None
                if retry:
                    response.close()
                    if delay is not None:
                        self._sleep(delay)
                    continue
            return response
        raise AssertionError("unreachable")
