"""Mastodon: media via `POST /api/v2/media`, statuses via `POST /api/v1/statuses`, threads
chained with `in_reply_to_id`, exactly once thanks to the `Idempotency-Key` header.

Why the code has this shape (docs.joinmastodon.org, `mastodon/documentation`):

- `methods/statuses.md`: `Idempotency-Key` "prevents duplicate submissions of the same
  status"; keys are "stored for up to 1 hour". The server (`mastodon/mastodon`,
  `app/services/post_status_service.rb`) checks the key before validating anything and answers
  with the original status (`setex(..., 3_600, status.id)`), per account. So a status POST that
  timed out or answered 5xx may be sent again with the same key within the hour: it creates
  nothing new. After the hour the same key creates a second status, hence the 55-minute
  cut-off in `reconcile` and the account-timeline lookup beyond it.
- `methods/media.md`: `POST /api/v2/media` answers 200 when the file is ready, or 202 with
  `url: null` while it is processed asynchronously; `GET /api/v1/media/:id` then answers 206
  until it is ready (200). A status that attaches unprocessed media is refused with 422.
  `description` is the alt text. An upload creates no post, so repeating one is harmless
  (unattached media is removed by the server later).
- `api/rate-limits.md`: 429 with `X-RateLimit-Reset` (ISO 8601) once the window is spent.
- Errors are JSON `{"error": "..."}` (`entities/Error.md`): reasons are built from that field
  only, then scrubbed of the token (some servers and proxies echo request headers).
"""

from __future__ import annotations

import hashlib
import html
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from cmflow import media as media_files
from cmflow.errors import ConfigError, MissingSecret
from cmflow.http import MaybeSent, NotSent, RateLimited, retry_after_seconds
from cmflow.i18n import _
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import LANGUAGE, Capability, ConnKey, PlatformSpec, caps, token
from cmflow.redact import Redactor

if TYPE_CHECKING:
    import requests

    from cmflow.model import Part, Rendered

# The server keeps an Idempotency-Key for 3,600 s; resend with it only well inside that
# window (5 minutes of margin for clock skew between this machine and the server).
KEY_WINDOW = timedelta(minutes=55)
# Tolerance when comparing the server's `created_at` with our `started_at` (clock skew).
CLOCK_SKEW = timedelta(minutes=2)
PAGE_SIZE = 40  # the maximum `limit` of GET /api/v1/accounts/:id/statuses

_Kind = Literal["ok", "refused", "auth", "rate", "unknown", "not_sent"]
_TAG_RE = re.compile(r"<[^>]*>")
_BREAK_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARA_RE = re.compile(r"</p\s*>", re.IGNORECASE)
_SPACE_RE = re.compile(r"\s+")
# Mastodon shows a remote mention `@user@domain` as `@user` in `content`.
_REMOTE_MENTION_RE = re.compile(r"(?<![\w/])@(\w+)@[\w.-]+\w")


SPEC = PlatformSpec(
    name="mastodon",
    label="Mastodon",
    counter="mastodon",
    url_length=23,
    defaults={
        "max_length": 500,
        "max_media": 4,
        "media_types": ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"],
        "max_media_bytes": 16_777_216,
        # `configuration.media_attachments.video_size_limit` (Instance.md example; an
        # instance may set less: mastodon.social long had 40 MB).
        "max_video_bytes": 103_809_024,
    },
    keys=(
        ConnKey("base_url", "the instance, e.g. https://piaille.fr", required=True),
        token(),
        ConnKey(
            "visibility",
            "Mastodon visibility",
            choices=("public", "unlisted", "private", "direct"),
        ),
        LANGUAGE,
    ),
    # EDITS: PUT /api/v1/statuses/:id (Mastodon 3.5+), see `Adapter.edit`.
    capabilities=caps(
        Capability.THREADS, Capability.ALT_TEXT, Capability.RECONCILES, Capability.EDITS
    ),
    max_alt_length=1500,
    source="mastodon/documentation entities/Instance.md; status_length_validator.rb",
)


@dataclass
class _Answer:
    """One status POST, sorted by what its answer proves."""

    kind: _Kind
    reason: str
    part: PartResult | None = None
    retry_after: float | None = None


class _MediaError(Exception):
    """A media upload did not give a usable id; carries the Result to return."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.reason)
        self.result = result


def idempotency_key(key: str, index: int) -> str:
    """The Idempotency-Key of part `index`: deterministic, so a resend reuses it."""
    digest = hashlib.sha256(f"cmflow:mastodon:{key}:{index}".encode()).hexdigest()
    return f"cmflow-{digest[:48]}"


def plain_text(content: str) -> str:
    """The text of a status's HTML `content`: paragraphs and line breaks kept, tags removed.

    Links keep their full URL: Mastodon splits a long one into `invisible` / `ellipsis`
    spans whose texts, joined, give it back."""
    text = _BREAK_RE.sub("\n", content)
    text = _PARA_RE.sub("\n\n", text)
    text = _TAG_RE.sub("", text)
    return html.unescape(text)


def normalise(text: str) -> str:
    """Text reduced to what survives Mastodon's rendering, for comparison."""
    text = unicodedata.normalize("NFC", text)
    text = _REMOTE_MENTION_RE.sub(lambda m: "@" + m.group(1), text)
    return _SPACE_RE.sub(" ", text).strip()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class Adapter:
    """Publishes to one Mastodon account (`base_url`, `token_env`, optional `visibility`)."""

    #: Longest wait for asynchronous media processing, per file (seconds).
    media_wait: float = 30.0
    #: Pages of the account's statuses read when reconciling after the key expired.
    lookup_pages: int = 5

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        channel = ctx.channel
        token = ctx.secrets.get("token_env")
        if not token:
            raise MissingSecret(channel.name, str(channel.setting("token_env", "token_env")))
        base_url = channel.base_url
        if not base_url:
            raise ConfigError(
                [_("channel {name!r}: base_url is required for Mastodon").format(name=channel.name)]
            )
        self._token = token
        self._redact = Redactor([token])
        self.base_url = base_url
        self.visibility = str(channel.setting("visibility") or "public")

    # -- contract ---------------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """One Idempotency-Key per part, derived from the claim key."""
        return {"idempotency_keys": [idempotency_key(key, i) for i in range(len(rendered.parts))]}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        done = list(progress.done)
        total = len(rendered.parts)
        keys = self._keys(progress, total)
        if isinstance(keys, Result):
            return Result(keys.outcome, done, keys.reason)
        for i in range(len(done), total):
            part = rendered.parts[i]
            where = self._where(i, total)
            try:
                media_ids = self._upload_all(part, where)
            except _MediaError as exc:
                exc.result.parts = list(done)
                return exc.result
            body = self._body(rendered, part, media_ids, done[-1].id if done else None)
            progress.part_started(i)
            answer = self._post_status(body, keys[i])
            if answer.kind == "unknown":
                # The key makes a resend safe: the server replays the status if the first
                # request landed (post_status_service.rb), else creates it now.
                second = self._post_status(body, keys[i])
                if second.kind in ("ok", "refused"):
                    answer = second
                else:
                    return Result(
                        Outcome.UNKNOWN,
                        done,
                        reason=_(
                            "{where}: {reason}; resent with the same Idempotency-Key: {reason2}"
                        ).format(where=where, reason=answer.reason, reason2=second.reason),
                        retry_after=second.retry_after,
                        needs_reauth=second.kind == "auth",
                    )
            if answer.kind == "ok" and answer.part is not None:
                progress.part_done(i, answer.part)
                done.append(answer.part)
                continue
            reason = f"{where}: {answer.reason}"
            if answer.kind == "refused":
                return Result(Outcome.FAILED, done, reason=reason)
            if answer.kind == "auth":
                return Result(Outcome.FAILED, done, reason=reason, needs_reauth=True)
            # "rate" and "not_sent": nothing was created, come back later.
            return Result(Outcome.RETRY, done, reason=reason, retry_after=answer.retry_after)
        return Result(Outcome.PUBLISHED, done)

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        """Within the key's hour, resend the part with its key (the server replays the status
        it stored, or creates it if the first attempt never landed: either way exactly one);
        later, look for it in the account's recent statuses."""
        done = list(progress.done)
        total = len(rendered.parts)
        index = len(done)
        if index >= total:
            return Result(Outcome.ABSENT, reason=_("every part is already recorded"))
        started_at = progress.started_at
        if started_at is None:
            return Result(
                Outcome.ABSENT,
                reason=_("{where} was never sent").format(where=self._where(index, total)),
            )
        if started_at.tzinfo is None:
            started_at = started_at.replace(tzinfo=UTC)
        part = rendered.parts[index]
        reply_to = done[-1].id if done else None
        where = self._where(index, total)
        age = datetime.now(UTC) - started_at
        if age >= KEY_WINDOW:
            return self._lookup(part, reply_to, started_at, where)
        keys = self._keys(progress, total)
        if isinstance(keys, Result):
            return Result(Outcome.UNKNOWN, reason=keys.reason)
        if part.media:
            # Resending needs the media again; if the status is already visible, spare the
            # upload (an orphan upload is harmless, but needless).
            found = self._lookup(part, reply_to, started_at, where)
            if found.outcome == Outcome.PUBLISHED:
                return found
        try:
            media_ids = self._upload_all(part, where)
        except _MediaError as exc:
            return Result(
                Outcome.UNKNOWN,
                reason=_("{reason} (needed to resend {where} with its key)").format(
                    reason=exc.result.reason, where=where
                ),
                needs_reauth=exc.result.needs_reauth,
                retry_after=exc.result.retry_after,
            )
        answer = self._post_status(self._body(rendered, part, media_ids, reply_to), keys[index])
        if answer.kind == "ok" and answer.part is not None:
            return Result(Outcome.PUBLISHED, [answer.part])
        if answer.kind == "refused":
            # PostStatusService checks the key before validating text and media, so a 422
            # means nothing is stored under it: the first attempt created no status. (The
            # controller's earlier checks, e.g. 404 for a deleted parent, refused the first
            # attempt just the same, as it was the same request.)
            return Result(
                Outcome.ABSENT,
                reason=_("{where}: {reason}").format(where=where, reason=answer.reason),
            )
        return Result(
            Outcome.UNKNOWN,
            reason=_("{where}: resending with the same Idempotency-Key: {reason}").format(
                where=where, reason=answer.reason
            ),
            retry_after=answer.retry_after,
            needs_reauth=answer.kind == "auth",
        )

    # -- statuses ---------------------------------------------------------------------------

    # -- edits (cmflow.platforms.base.Editor) ---------------------------------------------

    def edit(self, rendered: Rendered, progress: Progress) -> Result:
        """`PUT /api/v1/statuses/:id` for each published part (docs.joinmastodon.org,
        methods/statuses "Edit a status", Mastodon 3.5+). Only the text and language are
        sent: without `media_ids` the attachments stay as they are. A PUT of the same text
        twice leaves the same status, so a transport retry is safe."""
        done = list(progress.done)
        if len(done) != len(rendered.parts):
            return Result(
                Outcome.FAILED,
                done,
                reason=_(
                    "the post now has {count} part(s) where {published} were published: Mastodon "
                    "edits a "
                    "status, not the length of a thread; edit it by hand at {where}"
                ).format(
                    count=len(rendered.parts),
                    published=len(done),
                    where=done[0].url if done and done[0].url else _("the account"),
                ),
            )
        for i, (part, sent) in enumerate(zip(rendered.parts, done, strict=True)):
            where = self._where(i, len(done))
            body: dict[str, Any] = {"status": part.text}
            if rendered.language:
                body["language"] = rendered.language
            try:
                response = self.ctx.http.request(
                    "PUT",
                    f"{self.base_url}/api/v1/statuses/{sent.id}",
                    json=body,
                    headers=self._auth(),
                    idempotent=True,
                )
            except RateLimited as exc:
                return Result(
                    Outcome.RETRY if i == 0 else Outcome.UNKNOWN,
                    done,
                    reason=self._scrub(
                        _("{where}: rate limited: {exc}").format(where=where, exc=exc)
                    ),
                    retry_after=exc.retry_after,
                )
            except NotSent as exc:
                outcome = Outcome.RETRY if i == 0 else Outcome.UNKNOWN
                return Result(
                    outcome,
                    done,
                    reason=self._scrub(_("{where}: not sent: {exc}").format(where=where, exc=exc)),
                )
            except MaybeSent as exc:
                return Result(
                    Outcome.UNKNOWN,
                    done,
                    reason=self._scrub(_("{where}: no answer: {exc}").format(where=where, exc=exc)),
                )
            code = response.status_code
            if 200 <= code < 300:
                continue
            reason = _("{where}: {reason}").format(
                where=where, reason=self._error_reason(response, _json(response))
            )
            if code in (401, 403):
                return Result(
                    Outcome.FAILED,
                    done,
                    reason=_("{reason}: renew the access token").format(reason=reason),
                    needs_reauth=True,
                )
            if code == 404:
                return Result(
                    Outcome.FAILED,
                    done,
                    reason=_("{reason}: the status was deleted on Mastodon").format(reason=reason),
                )
            if code == 429:
                return Result(
                    Outcome.RETRY if i == 0 else Outcome.UNKNOWN,
                    done,
                    reason=reason,
                    retry_after=retry_after_seconds(response.headers),
                )
            if code == 408 or code >= 500:
                return Result(Outcome.UNKNOWN, done, reason=reason)
            return Result(Outcome.FAILED, done, reason=reason)
        return Result(Outcome.PUBLISHED, done)

    def edited(self, rendered: Rendered, progress: Progress) -> Result:
        """Read each status's source text back (`GET /api/v1/statuses/:id/source`, the
        plain text as written, not the rendered HTML) and compare it with the edit."""
        done = list(progress.done)
        if len(done) != len(rendered.parts):
            return Result(Outcome.ABSENT)  # edit() refuses it, plainly
        for part, sent in zip(rendered.parts, done, strict=True):
            try:
                response = self.ctx.http.request(
                    "GET",
                    f"{self.base_url}/api/v1/statuses/{sent.id}/source",
                    headers=self._auth(),
                    idempotent=True,
                )
            except (RateLimited, NotSent, MaybeSent) as exc:
                return Result(
                    Outcome.UNKNOWN,
                    done,
                    reason=self._scrub(_("cannot check: {exc}").format(exc=exc)),
                )
            data = _json(response)
            if response.status_code != 200 or not isinstance(data, dict):
                return Result(
                    Outcome.UNKNOWN,
                    done,
                    reason=_("cannot check: {reason}").format(
                        reason=self._error_reason(response, data)
                    ),
                    needs_reauth=response.status_code in (401, 403),
                )
            if normalise(str(data.get("text") or "")) != normalise(part.text):
                return Result(Outcome.ABSENT)
        return Result(Outcome.PUBLISHED, done)

    def _body(
        self, rendered: Rendered, part: Part, media_ids: list[str], reply_to: str | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": part.text, "visibility": self.visibility}
        if media_ids:
            body["media_ids"] = media_ids
        if reply_to is not None:
            body["in_reply_to_id"] = reply_to
        if rendered.language:
            body["language"] = rendered.language
        return body

    def _post_status(self, body: dict[str, Any], key: str) -> _Answer:
        """POST one status with its key. `idempotent=True`: the key makes transport retries
        safe (the server replays the first status instead of creating another)."""
        headers = {**self._auth(), "Idempotency-Key": key}
        try:
            response = self.ctx.http.request(
                "POST",
                f"{self.base_url}/api/v1/statuses",
                json=body,
                headers=headers,
                idempotent=True,
            )
        except RateLimited as exc:
            return _Answer(
                "rate", self._scrub(_("rate limited: {exc}").format(exc=exc)), None, exc.retry_after
            )
        except NotSent as exc:
            return _Answer("not_sent", self._scrub(_("not sent: {exc}").format(exc=exc)))
        except MaybeSent as exc:
            return _Answer("unknown", self._scrub(_("no answer: {exc}").format(exc=exc)))
        code = response.status_code
        data = _json(response)
        if 200 <= code < 300:
            part = self._part_result(data)
            if part is not None:
                return _Answer("ok", "published", part)
            return _Answer("unknown", _("HTTP {code} without a status id").format(code=code))
        reason = self._error_reason(response, data)
        if code in (401, 403):
            return _Answer(
                "auth", _("{reason}: renew the access token").format(reason=reason), None
            )
        if code == 429:
            return _Answer("rate", reason, None, retry_after_seconds(response.headers))
        if code == 408 or code >= 500 or code < 400:
            return _Answer("unknown", reason)
        return _Answer("refused", reason)

    def _part_result(self, data: Any) -> PartResult | None:
        if not isinstance(data, dict) or not data.get("id"):
            return None
        url = data.get("url") or data.get("uri")
        return PartResult(str(data["id"]), str(url) if url else None)

    # -- media ------------------------------------------------------------------------------

    def _upload_all(self, part: Part, where: str) -> list[str]:
        return [self._upload(m.path, m.alt, where) for m in part.media]

    def _upload(self, rel: str, alt: str | None, where: str) -> str:
        """Upload one file with its alt text; wait for asynchronous processing (202/206)."""
        try:
            # Read and checked now: the file may have changed since `validate`.
            loaded = media_files.load(self.ctx.root, rel)
        except media_files.MediaProblem as exc:
            raise _MediaError(
                Result(Outcome.FAILED, reason=_("{where}: {exc}").format(where=where, exc=exc))
            ) from None
        fields = {"description": alt} if alt else None
        files = {"file": (loaded.name, loaded.data, loaded.mime)}
        label = _("{where}: uploading {path}").format(where=where, path=rel)
        try:
            # Repeating an upload creates no post, so transport retries are allowed.
            response = self.ctx.http.request(
                "POST",
                f"{self.base_url}/api/v2/media",
                files=files,
                data=fields,
                headers=self._auth(),
                idempotent=True,
            )
        except RateLimited as exc:
            raise _MediaError(
                Result(
                    Outcome.RETRY,
                    reason=_("{label}: rate limited").format(label=label),
                    retry_after=exc.retry_after,
                )
            ) from None
        except (NotSent, MaybeSent) as exc:
            raise _MediaError(
                Result(
                    Outcome.RETRY,
                    reason=self._scrub(_("{label}: {exc}").format(label=label, exc=exc)),
                )
            ) from None
        body = _json(response)
        if response.status_code not in (200, 202):
            raise _MediaError(self._media_refusal(response, body, label))
        media_id = str(body.get("id")) if isinstance(body, dict) and body.get("id") else None
        if media_id is None:
            raise _MediaError(
                Result(
                    Outcome.RETRY,
                    reason=_("{label}: answer without a media id").format(label=label),
                )
            )
        if response.status_code == 200 and body.get("url"):
            return media_id
        return self._wait_processed(media_id, label)

    def _wait_processed(self, media_id: str, label: str) -> str:
        """Poll GET /api/v1/media/:id: 206 while processing, 200 when ready (media.md)."""
        deadline = time.monotonic() + self.media_wait
        delay = 0.25
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)
            try:
                response = self.ctx.http.request(
                    "GET", f"{self.base_url}/api/v1/media/{quote(media_id)}", headers=self._auth()
                )
            except RateLimited as exc:
                raise _MediaError(
                    Result(
                        Outcome.RETRY,
                        reason=_("{label}: rate limited").format(label=label),
                        retry_after=exc.retry_after,
                    )
                ) from None
            except (NotSent, MaybeSent) as exc:
                raise _MediaError(
                    Result(
                        Outcome.RETRY,
                        reason=self._scrub(_("{label}: {exc}").format(label=label, exc=exc)),
                    )
                ) from None
            body = _json(response)
            if response.status_code == 200 and isinstance(body, dict) and body.get("url"):
                return media_id
            if response.status_code not in (200, 206):
                raise _MediaError(self._media_refusal(response, body, label))
        raise _MediaError(
            Result(
                Outcome.RETRY,
                reason=_("{label}: still processing after {media_wait:.0f} s").format(
                    label=label, media_wait=self.media_wait
                ),
            )
        )

    def _media_refusal(self, response: requests.Response, body: Any, label: str) -> Result:
        code = response.status_code
        reason = f"{label}: {self._error_reason(response, body)}"
        if code in (401, 403):
            return Result(
                Outcome.FAILED,
                reason=_("{reason}: renew the access token").format(reason=reason),
                needs_reauth=True,
            )
        if code == 429:
            return Result(
                Outcome.RETRY, reason=reason, retry_after=retry_after_seconds(response.headers)
            )
        if 400 <= code < 500 and code != 408:
            return Result(Outcome.FAILED, reason=reason)
        return Result(Outcome.RETRY, reason=reason)  # no post was created: safe later

    # -- reconciliation by timeline ---------------------------------------------------------

    def _lookup(self, part: Part, reply_to: str | None, started_at: datetime, where: str) -> Result:
        """Find the part among the account's statuses created since it was started.

        Never "the latest status" (docs/publishing.md, "Reconciling"): a status matches only with the same
        text (HTML stripped, normalised) and the same `in_reply_to_id`."""
        try:
            me = self.ctx.http.request(
                "GET", f"{self.base_url}/api/v1/accounts/verify_credentials", headers=self._auth()
            )
        except (RateLimited, NotSent, MaybeSent) as exc:
            return self._lookup_failed(where, str(exc), exc)
        account = _json(me)
        if me.status_code != 200 or not isinstance(account, dict) or not account.get("id"):
            return self._lookup_failed(where, self._error_reason(me, account), None, me)
        url = f"{self.base_url}/api/v1/accounts/{quote(str(account['id']))}/statuses"
        wanted = normalise(part.text)
        since = started_at - CLOCK_SKEW
        max_id: str | None = None
        for _i in range(self.lookup_pages):
            params = {"limit": str(PAGE_SIZE), "exclude_reblogs": "true"}
            if max_id is not None:
                params["max_id"] = max_id
            try:
                response = self.ctx.http.request("GET", url, params=params, headers=self._auth())
            except (RateLimited, NotSent, MaybeSent) as exc:
                return self._lookup_failed(where, str(exc), exc)
            items = _json(response)
            if response.status_code != 200 or not isinstance(items, list):
                return self._lookup_failed(
                    where, self._error_reason(response, items), None, response
                )
            if not items:
                return Result(
                    Outcome.ABSENT,
                    reason=_("{where}: not among the account's statuses").format(where=where),
                )
            for status in items:
                if not isinstance(status, dict):
                    continue
                created = _parse_time(status.get("created_at"))
                if created is None:
                    continue
                if created < since:
                    return Result(
                        Outcome.ABSENT,
                        reason=_(
                            "{where}: not among the account's statuses since it was sent"
                        ).format(where=where),
                    )
                if self._matches(status, wanted, reply_to):
                    found = self._part_result(status)
                    if found is not None:
                        return Result(Outcome.PUBLISHED, [found])
            last = items[-1]
            max_id = str(last.get("id")) if isinstance(last, dict) and last.get("id") else None
            if max_id is None:
                break
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "{where}: not found in the account's {number} most recent statuses, which do not "
                "reach back to when it was sent: check by hand"
            ).format(where=where, number=self.lookup_pages * PAGE_SIZE),
        )

    @staticmethod
    def _matches(status: dict[str, Any], wanted: str, reply_to: str | None) -> bool:
        content = status.get("content")
        if not isinstance(content, str) or normalise(plain_text(content)) != wanted:
            return False
        parent = status.get("in_reply_to_id")
        return (str(parent) if parent else None) == reply_to

    def _lookup_failed(
        self,
        where: str,
        why: str,
        exc: Exception | None,
        response: requests.Response | None = None,
    ) -> Result:
        code = response.status_code if response is not None else None
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        if response is not None and code == 429:
            retry_after = retry_after_seconds(response.headers)
        return Result(
            Outcome.UNKNOWN,
            reason=self._scrub(
                _("{where}: cannot read the account's statuses: {why}").format(where=where, why=why)
            ),
            retry_after=retry_after,
            needs_reauth=code in (401, 403),
        )

    # -- helpers ----------------------------------------------------------------------------

    def _keys(self, progress: Progress, total: int) -> list[str] | Result:
        keys = progress.handles.get("idempotency_keys")
        if (
            not isinstance(keys, list)
            or len(keys) < total
            or not all(isinstance(k, str) for k in keys)
        ):
            return Result(
                Outcome.FAILED,
                reason=_(
                    "the claim holds no Idempotency-Key for each of the {total} parts (post "
                    "changed after it was claimed?): nothing was sent"
                ).format(total=total),
            )
        return [str(k) for k in keys]

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _scrub(self, text: str) -> str:
        return self._redact.text(text)

    def _error_reason(self, response: requests.Response, data: Any) -> str:
        """`HTTP <code>: <error>` from the JSON error field only (never a request dump)."""
        code = response.status_code
        message: str | None = None
        if isinstance(data, dict):
            for field in ("error", "error_description"):
                value = data.get(field)
                if isinstance(value, str) and value.strip():
                    message = value.strip()
                    break
        if message is None:
            message = response.reason or _("no error message")
        # Masked before it is cut (Redactor.excerpt): a token straddling the cut would no
        # longer be recognised, and all but one of its characters would be kept.
        return f"HTTP {code}: {self._redact.excerpt(message)}"

    @staticmethod
    def _where(index: int, total: int) -> str:
        if total == 1:
            return _("the status")
        return _("part {number} of {total}").format(number=index + 1, total=total)
