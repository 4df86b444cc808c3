"""X (API v2): posts through `POST /2/tweets`, threads through `reply.in_reply_to_tweet_id`."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cmflow import media as media_files
from cmflow.i18n import _
from cmflow.platforms import rest
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token

if TYPE_CHECKING:
    from cmflow.model import Part, Rendered

SPEC = PlatformSpec(
    name="x",
    label="X",
    counter="x",
    url_length=23,
    defaults={
        "max_length": 280,
        "max_media": 4,
        # What the adapter sends: images through the simple upload (GIF and video need the
        # chunked flow, not built yet).
        "media_types": ["image/jpeg", "image/png", "image/webp"],
        "max_media_bytes": 5_000_000,
        # Video (not sent yet: chunked upload): 512 MB, 0.5-140 s, H.264 (x-api/media
        # best-practices.mdx).
        "max_video_bytes": 512 * 1024 * 1024,
        "min_video_seconds": 0.5,
        "max_video_seconds": 140,
        "video_codecs": ["h264"],
    },
    keys=(
        token("environment variable holding the OAuth 2.0 user access token"),
        ConnKey(
            "user_id",
            "the account's numeric id (else read from GET /2/users/me)",
            alt_kinds=("int",),
            pattern=r"[0-9]+",
            shape="a numeric user id",
        ),
    ),
    capabilities=caps(Capability.THREADS, Capability.ALT_TEXT, Capability.RECONCILES),
    default_base_url="https://api.x.com/2",
    max_alt_length=1000,
    source="docs.x.com counting-characters; x-api/media",
)


# -- the adapter ------------------------------------------------------------------------------
#
# Why the code has this shape (docs.x.com, `xdevplatform/docs`):
# - `POST /2/tweets` takes JSON `{"text", "media": {"media_ids"}, "reply":
#   {"in_reply_to_tweet_id"}}` and answers 201 `{"data": {"id", "text"}}`; errors are RFC 7807
#   problem details (`title`, `detail`). There is no idempotency key: an unanswered post is
#   never resent in the run; the next run reads the account's timeline
#   (`GET /2/users/:id/tweets`) and matches the part's text, links restored from
#   `entities.urls[].expanded_url` (X returns t.co links and escapes &, <, >).
# - The same text twice is refused with 403 "You are not allowed to create a Tweet with
#   duplicate content." (legacy code 187): nothing was created by that request. It is ours
#   only if the timeline holds that text posted since this attempt was claimed.
# - Media: `POST /2/media/upload` (multipart `media`, `media_category=tweet_image`) for images
#   up to 5 MB ("Video should not use this endpoint": x-api/media/upload-media.mdx), then alt
#   text through `POST /2/media/metadata` `{"id", "metadata": {"alt_text": {"text"}}}`
#   (x-api/media/create-media-metadata). An upload creates no post: repeating it is harmless.
# - Rate limits: `x-rate-limit-remaining` / `x-rate-limit-reset` (epoch s), 429 once spent
#   (x-api/fundamentals/rate-limits.mdx): `cmflow.http` honours them; a wait beyond the run
#   defers the channel.
# - An expired or revoked OAuth 2.0 token answers 401: the channel needs new credentials.


IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
PAGE_SIZE = 100  # max_results of GET /2/users/:id/tweets
_DUPLICATE = re.compile(r"duplicate content", re.IGNORECASE)


def _message(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    for key in ("detail", "title", "error"):
        if isinstance(data.get(key), str):
            return str(data[key])
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return str(first.get("detail") or first.get("message") or first.get("title") or "")
    return None


def shown_text(tweet: dict[str, Any]) -> str:
    """A tweet's text as it was sent: t.co links back to their targets, the media link gone."""
    text = str(tweet.get("text") or "")
    urls = (tweet.get("entities") or {}).get("urls") or []
    for u in urls if isinstance(urls, list) else ():
        if not isinstance(u, dict) or not isinstance(u.get("url"), str):
            continue
        expanded = str(u.get("expanded_url") or u["url"])
        is_media = "media_key" in u or re.search(r"/(photo|video)/\d+$", expanded)
        text = text.replace(u["url"], "" if is_media else expanded)
    return html.unescape(text).strip()


class _Stop(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.reason)
        self.result = result


class Adapter:
    """Publishes to one X account with an OAuth 2.0 user token (`token_env`)."""

    lookup_pages: int = 3  # pages of 100 posts read when reconciling

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = rest.Client(ctx, "X")
        base = ctx.channel.base_url or SPEC.default_base_url
        self.base_url = str(base).rstrip("/")
        user = ctx.channel.setting("user_id")
        self._user_id: str | None = str(user) if user is not None else None

    # -- contract -----------------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        return {}  # X has no idempotency handle: reconciliation reads the timeline

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        done = list(progress.done)
        total = len(rendered.parts)
        for i in range(len(done), total):
            part = rendered.parts[i]
            label = rest.where(i, total)
            try:
                media_ids = [self._upload(m.path, m.alt, label) for m in part.media]
            except _Stop as stop:
                stop.result.parts = list(done)
                return stop.result
            reply_to = done[-1].id if done else None
            since = progress.started_at or datetime.now(UTC)
            progress.part_started(i)
            answer = self._create(part.text, media_ids, reply_to)
            if answer.kind == "ok":
                found = self._part(answer.data)
                if found is None:
                    return Result(
                        Outcome.UNKNOWN,
                        done,
                        reason=_("{label}: answer without an id").format(label=label),
                    )
            elif answer.status == 403 and _DUPLICATE.search(answer.reason):
                check = self._find(part, reply_to, since, label)
                if check.outcome != Outcome.PUBLISHED:
                    return Result(
                        Outcome.FAILED,
                        done,
                        reason=_(
                            "{label}: {reason} The same text is on the account from before this "
                            "attempt: change the text to post it again"
                        ).format(label=label, reason=answer.reason),
                    )
                found = check.parts[0]
            else:
                return rest.failure(answer, done, label)
            progress.part_done(i, found)
            done.append(found)
        return Result(Outcome.PUBLISHED, done)

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        done = list(progress.done)
        index = len(done)
        total = len(rendered.parts)
        if index >= total:
            return Result(Outcome.ABSENT, reason=_("every part is already recorded"))
        started_at = progress.started_at
        label = rest.where(index, total)
        if started_at is None:
            return Result(Outcome.ABSENT, reason=_("{label} was never sent").format(label=label))
        reply_to = done[-1].id if done else None
        return self._find(rendered.parts[index], reply_to, started_at, label)

    # -- posts --------------------------------------------------------------------------------

    def _create(self, text: str, media_ids: list[str], reply_to: str | None) -> rest.Answer:
        body: dict[str, Any] = {"text": text}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        if reply_to is not None:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        return self.client.call(
            "POST", f"{self.base_url}/tweets", json=body, headers=self._auth(), message=_message
        )

    def _part(self, data: Any) -> PartResult | None:
        item = data.get("data") if isinstance(data, dict) else None
        if not isinstance(item, dict) or not item.get("id"):
            return None
        tweet_id = str(item["id"])
        return PartResult(tweet_id, f"https://x.com/i/web/status/{tweet_id}")

    def _find(self, part: Part, reply_to: str | None, since: datetime, label: str) -> Result:
        """The part among the account's posts created since `since` (less clock skew):
        same text (links restored), replying to the same post. Never "the latest post"."""
        user = self._user()
        if isinstance(user, rest.Answer):
            return rest.lookup_failed(user, label)
        wanted = rest.content_key(part.text)
        oldest = since - rest.CLOCK_SKEW
        token: str | None = None
        for _i in range(self.lookup_pages):
            params = {
                "max_results": str(PAGE_SIZE),
                "tweet.fields": "created_at,entities,referenced_tweets",
            }
            if token:
                params["pagination_token"] = token
            answer = self.client.call(
                "GET",
                f"{self.base_url}/users/{quote(user)}/tweets",
                params=params,
                headers=self._auth(),
                message=_message,
                write=False,
            )
            if answer.kind != "ok" or not isinstance(answer.data, dict):
                return rest.lookup_failed(answer, label)
            tweets = answer.data.get("data") or []
            for tweet in tweets if isinstance(tweets, list) else ():
                if not isinstance(tweet, dict):
                    continue
                created = rest.parse_time(tweet.get("created_at"))
                if created is not None and created < oldest:
                    return Result(
                        Outcome.ABSENT, reason=_("{label}: not on the account").format(label=label)
                    )
                if rest.content_key(shown_text(tweet)) == wanted and _parent(tweet) == reply_to:
                    found = self._part({"data": tweet})
                    if found is not None:
                        return Result(Outcome.PUBLISHED, [found])
            meta = answer.data.get("meta") or {}
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not token:
                return Result(
                    Outcome.ABSENT, reason=_("{label}: not on the account").format(label=label)
                )
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "{label}: not among the account's {number} most recent posts, which do not reach "
                "back to when it was sent: check by hand"
            ).format(label=label, number=self.lookup_pages * PAGE_SIZE),
        )

    def _user(self) -> str | rest.Answer:
        if self._user_id is None:
            answer = self.client.call(
                "GET",
                f"{self.base_url}/users/me",
                headers=self._auth(),
                message=_message,
                write=False,
            )
            data = answer.data.get("data") if isinstance(answer.data, dict) else None
            if answer.kind != "ok" or not isinstance(data, dict) or not data.get("id"):
                return answer
            self._user_id = str(data["id"])
        return self._user_id

    # -- media --------------------------------------------------------------------------------

    def _upload(self, rel: str, alt: str | None, label: str) -> str:
        info = media_files.inspect(self.ctx.root, rel)
        if info.path is None:
            raise _Stop(
                Result(
                    Outcome.FAILED,
                    reason=_("{label}: media {rel} {problem}").format(
                        label=label, rel=rel, problem=info.problem
                    ),
                )
            )
        if info.mime not in IMAGE_TYPES:
            raise _Stop(
                Result(
                    Outcome.FAILED,
                    reason=_(
                        "{label}: {rel} is {mime}; cmflow sends X images only ({types}): GIF and "
                        "video need X's chunked upload, not supported yet"
                    ).format(
                        label=label,
                        rel=rel,
                        mime=info.mime or _("of an unknown type"),
                        types=", ".join(IMAGE_TYPES),
                    ),
                )
            )
        try:
            data = info.path.read_bytes()
        except OSError as exc:
            raise _Stop(
                Result(
                    Outcome.FAILED,
                    reason=_("{label}: {rel} cannot be read ({strerror})").format(
                        label=label, rel=rel, strerror=exc.strerror
                    ),
                )
            ) from None
        answer = self.client.call(
            "POST",
            f"{self.base_url}/media/upload",
            files={"media": (info.path.name, data, info.mime)},
            data={"media_category": "tweet_image", "media_type": info.mime},
            headers=self._auth(),
            message=_message,
            write=False,  # an upload creates no post: a transport retry is harmless
        )
        item = answer.data.get("data") if isinstance(answer.data, dict) else None
        if answer.kind != "ok" or not isinstance(item, dict) or not item.get("id"):
            raise _Stop(
                self._media_failure(
                    answer, _("{label}: uploading {path}").format(label=label, path=rel)
                )
            )
        media_id = str(item["id"])
        if alt:
            meta = self.client.call(
                "POST",
                f"{self.base_url}/media/metadata",
                json={"id": media_id, "metadata": {"alt_text": {"text": alt}}},
                headers=self._auth(),
                message=_message,
                write=False,
            )
            if meta.kind != "ok":
                raise _Stop(
                    self._media_failure(
                        meta, _("{label}: alt text of {path}").format(label=label, path=rel)
                    )
                )
        return media_id

    @staticmethod
    def _media_failure(answer: rest.Answer, label: str) -> Result:
        if answer.kind == "ok":  # 2xx without an id
            return Result(
                Outcome.RETRY, reason=_("{label}: answer without a media id").format(label=label)
            )
        result = rest.failure(answer, [], label)
        if result.outcome == Outcome.UNKNOWN:  # no post can have been created by an upload
            result.outcome = Outcome.RETRY
        return result

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.client.token}"}


def _parent(tweet: dict[str, Any]) -> str | None:
    for ref in tweet.get("referenced_tweets") or ():
        if isinstance(ref, dict) and ref.get("type") == "replied_to" and ref.get("id"):
            return str(ref["id"])
    return None
