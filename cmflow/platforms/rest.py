"""What the REST adapters without idempotency keys (X, LinkedIn, dev.to) share.

One call sorts the platform's answer by what it proves (see `base`): `ok`; `refused` (a
definite 4xx: nothing was created); `auth` (the credential was refused: nothing was
created, a human must renew it); `rate` (come back after `retry_after`); `not_sent` (the
request never left); `unknown` (it may have been processed: 408, 5xx, no answer). Reasons are
built from the platform's error fields only and scrubbed of the token: a request dump in an
error body never reaches the record. `exchange` and `status_kind` are that sorting, shared
with the Graph API client (`graph`), which adds Meta's error codes on top.

These platforms cannot replay a request safely, so an `unknown` write is never sent again in
the same run: the next run lists the account's recent posts and matches the part's content
(`content_key`), never "the latest post" (a human may have posted meanwhile).
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from cmflow.errors import MissingSecret
from cmflow.http import Http, MaybeSent, NotSent, RateLimited, retry_after_seconds
from cmflow.i18n import _
from cmflow.platforms.base import Context, Outcome, PartResult, Result
from cmflow.redact import Redactor

if TYPE_CHECKING:
    import requests

Kind = Literal["ok", "refused", "auth", "rate", "unknown", "not_sent"]
# Tolerance between our clock (when a part was started) and the platform's created_at.
CLOCK_SKEW = timedelta(minutes=2)
DEFAULT_RATE_WAIT = 900.0  # seconds, when a 429 does not say when to come back
_SPACE = re.compile(r"\s+")


@dataclass
class Answer:
    """One HTTP exchange, sorted by what it proves."""

    kind: Kind
    reason: str
    data: Any = None
    response: requests.Response | None = None
    retry_after: float | None = None

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    def header(self, name: str) -> str | None:
        return self.response.headers.get(name) if self.response is not None else None


@dataclass(frozen=True)
class Unanswered:
    """A request that got no HTTP answer, sorted by what that proves: `rate` (the run
    cannot wait that long: come back after `retry_after`), `not_sent` (it never reached the
    server) or `unknown` (it may have been processed). `reason` is not scrubbed yet."""

    kind: Kind
    reason: str
    retry_after: float | None = None


def exchange(http: Http, method: str, url: str, **kwargs: Any) -> requests.Response | Unanswered:
    """Send one request through the run's client: its answer, or what its absence proves."""
    try:
        return http.request(method, url, **kwargs)
    except RateLimited as exc:
        return Unanswered("rate", _("rate limited: {error}").format(error=exc), exc.retry_after)
    except NotSent as exc:
        return Unanswered("not_sent", _("not sent: {error}").format(error=exc))
    except MaybeSent as exc:
        return Unanswered("unknown", _("no answer: {error}").format(error=exc))


def status_kind(status: int, *, auth: Collection[int] = (401,)) -> Kind:
    """What an HTTP status proves when the body says nothing more precise: `ok` (2xx), `auth`
    (the credential was refused: `auth` lists the statuses that say so on this platform),
    `rate` (429), `unknown` (408 or 5xx: it may have been processed) or `refused`."""
    if 200 <= status < 300:
        return "ok"
    if status in auth:
        return "auth"
    if status == 429:
        return "rate"
    if status == 408 or status >= 500:
        return "unknown"
    return "refused"


def content_key(text: str) -> str:
    """A hash of what a post says, insensitive to what platforms do to whitespace, HTML
    escaping and Unicode normalisation: how a part is recognised among the account's posts."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    return hashlib.sha256(_SPACE.sub(" ", text).strip().encode("utf-8")).hexdigest()


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string or epoch milliseconds (LinkedIn) as an aware datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


class Client:
    """The HTTP side of one channel's adapter: its token, its redaction, its error sorting."""

    def __init__(self, ctx: Context, label: str, key: str = "token_env") -> None:
        channel = ctx.channel
        token = ctx.secrets.get(key)
        self.variable = str(channel.setting(key, key))
        if not token:
            raise MissingSecret(channel.name, self.variable)
        self.ctx = ctx
        self.label = label
        self.token = token
        self.redact = Redactor([token])

    def scrub(self, text: str) -> str:
        return self.redact.text(text)

    def call(
        self,
        method: str,
        url: str,
        *,
        message: Any = None,
        write: bool = True,
        **kwargs: Any,
    ) -> Answer:
        """Send one request and sort its answer. `message(data)` picks the platform's error
        text from a JSON body; `write=False` marks a read (retried by `Http` on transport
        errors, and an unanswered read proves nothing about any post)."""
        response = exchange(self.ctx.http, method, url, idempotent=not write, **kwargs)
        if isinstance(response, Unanswered):
            return Answer(
                response.kind, self.scrub(response.reason), retry_after=response.retry_after
            )
        try:
            data: Any = response.json() if response.content else None
        except ValueError:
            data = None
        code = response.status_code
        kind = status_kind(code)
        if kind == "ok":
            return Answer("ok", f"HTTP {code}", data, response)
        text = message(data) if message is not None else None
        reason = self.reason(code, text or response.reason or _("no error message"))
        if kind == "auth":
            return Answer(
                "auth",
                _(
                    "{reason}: the token in {variable} was refused (expired or revoked): "
                    "create a new one and store it in {variable}"
                ).format(reason=reason, variable=self.variable),
                data,
                response,
            )
        if kind == "rate":
            wait = retry_after_seconds(response.headers)
            return Answer("rate", reason, data, response, wait or DEFAULT_RATE_WAIT)
        return Answer(kind, reason, data, response)

    def reason(self, code: int, message: str) -> str:
        message = _SPACE.sub(" ", str(message)).strip()[:300]
        return self.scrub(f"{self.label} HTTP {code}: {message}")


def failure(answer: Answer, done: list[PartResult], where: str) -> Result:
    """The Result of a write that did not publish `where`, after `done` parts."""
    reason = _("{where}: {reason}").format(where=where, reason=answer.reason)
    if answer.kind == "unknown":
        return Result(Outcome.UNKNOWN, done, reason=reason)
    if answer.kind == "auth":
        return Result(Outcome.FAILED, done, reason=reason, needs_reauth=True)
    if answer.kind in ("rate", "not_sent"):
        return Result(Outcome.RETRY, done, reason=reason, retry_after=answer.retry_after)
    return Result(Outcome.FAILED, done, reason=reason)


def lookup_failed(answer: Answer, where: str) -> Result:
    """A reconciliation that could not read the account: still unknown."""
    return Result(
        Outcome.UNKNOWN,
        reason=_("{where}: cannot read the account's posts to check: {reason}").format(
            where=where, reason=answer.reason
        ),
        retry_after=answer.retry_after,
        needs_reauth=answer.kind == "auth",
    )


def where(index: int, total: int, noun: str | None = None) -> str:
    """`the post`, or `part 2 of 3` in a thread (`noun` names a single part otherwise)."""
    if total == 1:
        return _("the post") if noun is None else noun
    return _("part {number} of {total}").format(number=index + 1, total=total)
