"""What the three Meta adapters (Facebook Page, Instagram, Threads) share: one Graph API call
sorted by what its answer proves, usage headers, container polling, public media URLs, and
finding a post in the account's own list by the hash of its text.

Why it has this shape (developers.facebook.com):

- Errors (`graph-api/guides/error-handling`): the body is `{"error": {"message", "type",
  "code", "error_subcode", "fbtrace_id"}}`. Code 190 (type `OAuthException`, subcodes 458-467)
  means the token expired or was revoked: "Get a new access token". Codes 10 and 200-299 are
  missing permissions. Codes 1 and 2 are "temporary issue due to downtime": for a write that
  is NOT proof that nothing was created (seven identical photo posts, each answered `code: 2`
  with HTTP 500: arsduo/koala#699), so they count as an unknown outcome. Codes 4, 17, 32 and
  613 are throttling ("wait and retry"); Instagram's Business Use Case limits answer 80001-80014.
  Code 506 is "Duplicate Post", code 368 "temporarily blocked for policy violations" (its
  message is sometimes "You've already posted this": arsduo/koala#422).
- Rate limits (`graph-api/overview/rate-limiting`): `X-App-Usage` holds a JSON object of
  percentages (`call_count`, `total_cputime`, `total_time`); `X-Business-Use-Case-Usage` (Page
  tokens, Instagram) maps a business id to a list of such objects, each with
  `estimated_time_to_regain_access` in minutes. At 100 % every further call fails until the
  usage drops: the channel is deferred (with that estimate), never the run.
- There is no idempotency key on any Meta write, so an unclear answer is reconciled by
  listing the account's recent posts and matching the SHA-256 of the normalised text, never
  by taking the latest post (trypostit/trypost#281).
- Instagram and Threads create a *container* first and publish it in a second call. The
  container id is recorded (`Progress.part_handle`) the moment it is known, so a rerun polls
  and publishes that container instead of creating a second one; its status tells whether
  it was published (`instagram-platform/instagram-graph-api/reference/ig-container`,
  `threads/troubleshooting`: EXPIRED, ERROR, FINISHED, IN_PROGRESS, PUBLISHED).
"""

from __future__ import annotations

import hashlib
import json
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from cmflow.errors import MissingSecret
from cmflow.http import MaybeSent, NotSent, RateLimited
from cmflow.i18n import _
from cmflow.platforms import rest
from cmflow.platforms.base import Outcome, Progress, Result
from cmflow.platforms.spec import Capability
from cmflow.redact import Redactor

if TYPE_CHECKING:
    import requests

    from cmflow.platforms.base import Context

Kind = Literal["ok", "refused", "auth", "rate", "unknown", "not_sent", "duplicate"]

# Graph error codes (graph-api/guides/error-handling; Instagram error-codes page for 800xx).
AUTH_CODES = frozenset({102, 190, 104})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
RATE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
DUPLICATE_CODE = 506
POLICY_BLOCK_CODE = 368
# Instagram (instagram-graph-api/reference/error-codes): 9007/2207027 "the media is not ready
# for publishing" (nothing was published: come back later); 9/2207042 "reached the maximum
# number of posts that can be published" in 24 h (a quota: come back later).
NOT_READY = frozenset({(9007, 2207027)})
QUOTA = frozenset({(9, 2207042)})
USAGE_HEADERS = ("x-business-use-case-usage", "x-app-usage", "x-page-usage")
CLOCK_SKEW = timedelta(minutes=2)
MAX_REASON = 300
PART_HANDLES = "part_handles"  # the key of Progress.handles holding per-part container ids


def normalise(text: str) -> str:
    """Text as compared with what the platform gives back: NFC, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def text_hash(text: str) -> str:
    """The content hash a post is recognised by in the account's list."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def parse_time(value: Any) -> datetime | None:
    """Graph timestamps: `2026-12-02T05:00:00+0000` (no colon in the offset)."""
    if not isinstance(value, str) or not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def usage_exhausted(headers: Mapping[str, str]) -> tuple[bool, float | None]:
    """Whether a usage header says 100 % (or more) of a limit is used, and when access comes
    back (seconds) when the header says so (`estimated_time_to_regain_access`, minutes)."""
    h = {k.lower(): v for k, v in headers.items()}
    exhausted = False
    wait: float | None = None
    for name in USAGE_HEADERS:
        raw = h.get(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        entries: list[Any] = []
        if isinstance(data, dict) and any(isinstance(v, list) for v in data.values()):
            for v in data.values():
                entries.extend(v if isinstance(v, list) else [])
        else:
            entries.append(data)
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            used = [
                entry.get(k)
                for k in ("call_count", "total_cputime", "total_time", "acc_id_util_pct")
            ]
            if any(isinstance(u, int | float) and u >= 100 for u in used):
                exhausted = True
                eta = entry.get("estimated_time_to_regain_access")
                if isinstance(eta, int | float) and eta > 0:
                    wait = max(wait or 0.0, float(eta) * 60.0)
    return exhausted, wait


@dataclass
class Answer:
    """One Graph call, sorted by what its answer proves."""

    kind: Kind
    reason: str
    data: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None
    code: int | None = None
    subcode: int | None = None
    status: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


class Halt(Exception):
    """Stop this (post, channel) with this outcome; the parts done so far are added later."""

    def __init__(
        self,
        outcome: Outcome,
        reason: str,
        *,
        retry_after: float | None = None,
        needs_reauth: bool = False,
    ) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.retry_after = retry_after
        self.needs_reauth = needs_reauth

    def result(self, parts: list[Any]) -> Result:
        return Result(
            self.outcome,
            list(parts),
            reason=self.reason,
            retry_after=self.retry_after,
            needs_reauth=self.needs_reauth,
        )


@dataclass(frozen=True)
class Lookup:
    """What listing the account's recent posts proved about one text."""

    found: dict[str, Any] | None = None
    absent: bool = False
    reason: str = ""


class GraphClient:
    """Graph calls for one channel: the token as `access_token` parameter (as every Meta
    example sends it), reasons scrubbed of it, and the channel throttled for the rest of the
    run once a usage header or an error says the limit is reached."""

    def __init__(self, ctx: Context, label: str, credential_help: Callable[[], str]) -> None:
        self.ctx = ctx
        self.label = label
        channel = ctx.channel
        self.variable = str(channel.setting("token_env") or "token_env")
        token = ctx.secrets.get("token_env")
        if not token:
            raise MissingSecret(channel.name, self.variable)
        self._token = token
        self._redact = Redactor([token])
        self.base_url = (channel.base_url or "").rstrip("/")
        self.credential_help = credential_help
        self.throttled: Answer | None = None  # once set, no further call in this run
        self.last: Answer | None = None  # the answer of the last call

    # -- calls ------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Answer:
        return self.call("GET", path, params=dict(params or {}))

    def post(
        self,
        path: str,
        data: Mapping[str, str],
        *,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        retry_safe: bool = False,
    ) -> Answer:
        """A write. `retry_safe`: repeating it creates nothing visible (a container, an
        unpublished photo), so transport retries are allowed."""
        return self.call("POST", path, data=dict(data), files=files, idempotent=retry_safe)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        idempotent: bool | None = None,
    ) -> Answer:
        if self.throttled is not None:
            self.last = Answer(
                "rate",
                _("not sent: {reason}").format(reason=self.throttled.reason),
                retry_after=self.throttled.retry_after,
            )
            return self.last
        url = f"{self.base_url}/{path.lstrip('/')}"
        kwargs: dict[str, Any] = {}
        if method == "GET":
            kwargs["params"] = {**(params or {}), "access_token": self._token}
        else:
            kwargs["data"] = {**(data or {}), "access_token": self._token}
            if files:
                kwargs["files"] = dict(files)
        response = rest.exchange(self.ctx.http, method, url, idempotent=idempotent, **kwargs)
        if isinstance(response, rest.Unanswered):
            answer = Answer(
                response.kind, self.scrub(response.reason), retry_after=response.retry_after
            )
            if answer.kind == "rate":
                self._throttle(answer)
        else:
            answer = self._sort(response)
        self.last = answer
        return answer

    def _sort(self, response: requests.Response) -> Answer:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        exhausted, wait = usage_exhausted(response.headers)
        error = body.get("error") if isinstance(body, dict) else None
        if 200 <= status < 300 and isinstance(body, dict) and not isinstance(error, dict):
            answer = Answer("ok", "ok", body, status=status)
            if exhausted:
                # This call went through, the next ones would not: stop after it.
                self._throttle(
                    Answer(
                        "rate",
                        _("{label} usage limit reached").format(label=self.label),
                        retry_after=wait,
                    )
                )
            return answer
        if not isinstance(error, dict):
            text = f"HTTP {status} {response.reason or ''}".strip()
            if 200 <= status < 300:
                return Answer(
                    "unknown",
                    _("HTTP {status} without a usable body").format(status=status),
                    status=status,
                )
            kind = "rate" if exhausted else rest.status_kind(status, auth=(401, 403))
            if kind == "rate":
                return self._throttle(Answer("rate", text, retry_after=wait, status=status))
            if kind == "auth":
                return Answer("auth", self._auth_reason(text), status=status)
            return Answer(kind, text, status=status)
        code = _int(error.get("code"))
        subcode = _int(error.get("error_subcode"))
        message = error.get("error_user_msg") or error.get("message") or ""
        message = " ".join(str(message).split())[:MAX_REASON]
        described = self.scrub(
            f"HTTP {status} {self.label} error {code}"
            + (f"/{subcode}" if subcode else "")
            + (f": {message}" if message else "")
        )

        def sorted_as(kind: Kind, reason: str = described) -> Answer:
            return Answer(kind, reason, body, wait, code, subcode, status)

        if code in RATE_CODES or status == 429 or exhausted or (code, subcode) in QUOTA:
            return self._throttle(sorted_as("rate"))
        if (code, subcode) in NOT_READY:
            return sorted_as("not_sent")
        if code in AUTH_CODES or (error.get("type") == "OAuthException" and status == 401):
            return sorted_as("auth", self._auth_reason(described))
        if code in PERMISSION_CODES:
            return sorted_as("auth", self._auth_reason(described, permission=True))
        if code == DUPLICATE_CODE:
            return sorted_as("duplicate")
        if code == POLICY_BLOCK_CODE:
            if "already posted" in message.lower():
                return sorted_as("duplicate")
            return sorted_as("rate")  # "temporarily blocked": nothing was posted, wait
        if code in TRANSIENT_CODES or status == 408 or status >= 500:
            return sorted_as("unknown")
        return sorted_as("refused")

    def _throttle(self, answer: Answer) -> Answer:
        self.throttled = answer
        return answer

    def _auth_reason(self, described: str, permission: bool = False) -> str:
        if permission:
            text = _(
                "needs new credentials: the token in {variable} lacks a permission "
                "({described}); {help}"
            )
        else:
            text = _(
                "needs new credentials: the token in {variable} was refused (expired or "
                "revoked) ({described}); {help}"
            )
        return text.format(variable=self.variable, described=described, help=self.credential_help())

    def scrub(self, text: str) -> str:
        return self._redact.text(text)

    # -- sorting answers into results --------------------------------------------------------

    def halt(self, what: str, answer: Answer, *, sent: bool) -> Halt:
        """The Halt for a failed call. `sent`: the call may have published something (then an
        unclear answer is an unknown outcome, else nothing visible happened)."""
        reason = _("{what}: {reason}").format(what=what, reason=answer.reason)
        if answer.kind == "auth":
            return Halt(Outcome.FAILED, reason, needs_reauth=True)
        if answer.kind == "rate":
            wait = answer.retry_after
            if wait:
                reason = _("{reason} (access back in about {minutes} min)").format(
                    reason=reason, minutes=f"{wait / 60:.0f}"
                )
            return Halt(Outcome.RETRY, reason, retry_after=wait)
        if answer.kind == "not_sent":
            return Halt(Outcome.RETRY, reason)
        if answer.kind == "refused":
            return Halt(Outcome.FAILED, reason)
        if sent:
            return Halt(Outcome.UNKNOWN, reason)
        return Halt(Outcome.RETRY, reason)

    # -- finding a post by its text -----------------------------------------------------------

    def find(
        self,
        path: str,
        fields: str,
        text_field: str,
        wanted: str,
        since: datetime,
        *,
        pages: int = 4,
        page_size: int = 25,
    ) -> Lookup:
        """Look for a post whose text hashes to `wanted` among the account's posts created
        since `since` (minus clock skew), newest first, following the `after` cursor."""
        after: str | None = None
        limit = since - CLOCK_SKEW
        for _i in range(pages):
            params = {"fields": fields, "limit": str(page_size)}
            if after:
                params["after"] = after
            answer = self.get(path, params)
            if not answer.ok:
                return Lookup(
                    reason=_("cannot list the account's posts: {reason}").format(
                        reason=answer.reason
                    )
                )
            items = answer.data.get("data")
            if not isinstance(items, list):
                return Lookup(reason=_("the account's posts came without a data list"))
            older = False
            for item in items:
                if not isinstance(item, dict):
                    continue
                text = item.get(text_field)
                if isinstance(text, str) and text_hash(text) == wanted:
                    return Lookup(found=item)
                created = parse_time(item.get("created_time") or item.get("timestamp"))
                if created is not None and created < limit:
                    older = True
            if older or not items:
                return Lookup(
                    absent=True, reason=_("not among the account's posts since it was sent")
                )
            paging = answer.data.get("paging")
            cursors = paging.get("cursors") if isinstance(paging, dict) else None
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not after or not (isinstance(paging, dict) and paging.get("next")):
                return Lookup(absent=True, reason=_("not among the account's posts"))
        return Lookup(
            reason=_(
                "not found in the {number} most recent posts, which do not reach back to when it "
                "was sent: check the account by hand"
            ).format(number=pages * page_size)
        )

    # -- containers ---------------------------------------------------------------------------

    def container_status(self, container_id: str, status_field: str) -> tuple[str, str]:
        """(status, detail) of a container; status "" when it cannot be read."""
        fields = f"{status_field},status" if status_field != "status" else "status,error_message"
        answer = self.get(quote(container_id), {"fields": fields})
        if not answer.ok:
            return "", answer.reason
        value = answer.data.get(status_field)
        detail = answer.data.get("error_message") or (
            answer.data.get("status") if status_field != "status" else ""
        )
        return (str(value) if isinstance(value, str) else "", str(detail or ""))

    def wait_finished(self, container_id: str, status_field: str, what: str, budget: float) -> str:
        """Poll until the container leaves IN_PROGRESS; returns its status (FINISHED, ERROR,
        EXPIRED, PUBLISHED). Raises Halt(RETRY) when it is still processing after `budget`
        seconds or cannot be read: the container is recorded, the next run resumes it."""
        deadline = time.monotonic() + budget
        delay = 0.2
        while True:
            status, detail = self.container_status(container_id, status_field)
            if status and status != "IN_PROGRESS":
                return status
            if not status and self.last is not None and self.last.kind in ("auth", "rate"):
                raise self.halt(what, self.last, sent=False)
            left = deadline - time.monotonic()
            if left <= 0:
                why = (
                    _("still {status}").format(status=status)
                    if status
                    else _("status unreadable ({detail})").format(detail=detail)
                )
                raise Halt(
                    Outcome.RETRY,
                    _(
                        "{what}: container {container} {why} after {seconds} s; the next run "
                        "resumes it"
                    ).format(what=what, container=container_id, why=why, seconds=f"{budget:.0f}"),
                )
            time.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# -- per-part handles recorded before publishing ------------------------------------------------


def part_handles(progress: Progress, index: int) -> dict[str, Any]:
    """What was recorded for part `index` before it was published (container ids)."""
    table = progress.handles.get(PART_HANDLES)
    if not isinstance(table, Mapping):
        return {}
    entry = table.get(str(index))
    return dict(entry) if isinstance(entry, Mapping) else {}


# -- public media URLs --------------------------------------------------------------------------


def media_url(rel: str, media_base_url: str | None, site_media_url: str | None) -> str | None:
    """Where the platform will fetch a repository media file: `media_base_url` (the public
    address of the repository's media/ folder), else the site channel's copy."""
    if media_base_url:
        path = PurePosixPath(rel)
        inner = path.relative_to("media") if path.parts[:1] == ("media",) else path
        return f"{media_base_url.rstrip('/')}/{quote(inner.as_posix())}"
    if site_media_url:
        return site_media_url
    return None


def media_url_help() -> str:
    """How to give a platform that fetches images by URL an address to fetch them from."""
    return _(
        "set `media_base_url` on the channel (the public URL where the repository's media/ "
        "folder is served), or publish the post to a feed channel that has `site_url` too"
    )


def check_media_url(ctx: Context, url: str, types: tuple[str, ...], what: str) -> None:
    """Make sure the platform will be able to fetch `url`: it must answer 200 with an image
    type it takes. Raises Halt(RETRY) when not yet (e.g. the site is not deployed yet) and
    Halt(FAILED) when the type is wrong."""
    answer: requests.Response | None = None
    for method in ("HEAD", "GET"):
        try:
            answer = ctx.http.request(method, url, stream=method == "GET")
        except (NotSent, MaybeSent, RateLimited) as exc:
            raise Halt(
                Outcome.RETRY,
                _("{what}: {url} cannot be reached ({error}); {help}").format(
                    what=what, url=url, error=exc, help=media_url_help()
                ),
            ) from None
        answer.close()
        if answer.status_code not in (405, 501):
            break
    assert answer is not None
    if answer.status_code != 200:
        raise Halt(
            Outcome.RETRY,
            _(
                "{what}: {url} answers HTTP {status}, and Meta fetches the image from there: "
                "{help} (then wait until it is online)"
            ).format(what=what, url=url, status=answer.status_code, help=media_url_help()),
        )
    ctype = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype not in types:
        raise Halt(
            Outcome.FAILED,
            _("{what}: {url} is served as {type}, expected {types}").format(
                what=what,
                url=url,
                type=ctype or _("no content type"),
                types=_(" or ").join(types),
            ),
        )


def site_url(ctx: Context) -> str | None:
    """The `site_url` of the configuration's first enabled site (feed) channel, if any."""
    for channel in ctx.channels.values():
        writes_site = channel.spec.can(Capability.WRITES_FILES)
        if writes_site and channel.enabled and channel.setting("site_url"):
            return str(channel.setting("site_url")).rstrip("/")
    return None


def public_url(ctx: Context, rel: str) -> str | None:
    """Where Meta fetches the repository media file `rel`: the channel's `media_base_url`,
    else the copy a feed channel with `site_url` publishes, else None."""
    base = ctx.channel.setting("media_base_url")
    site = site_url(ctx)
    if base:
        return media_url(rel, str(base), None)
    if site:
        from cmflow.platforms.feed import public_media_url

        return public_media_url(site, rel)
    return None
