"""LinkedIn: posts through the Posts API (`POST /rest/posts`), images through the Images API.

Why the code has this shape (learn.microsoft.com/linkedin/marketing/community-management/
shares/posts-api, images-api, little-text-format):

- Every call carries `LinkedIn-Version: YYYYMM` (the channel's `api_version`; versions are
  sunset after about a year: a 426 `NONEXISTENT_VERSION` says to set a newer one) and
  `X-Restli-Protocol-Version: 2.0.0`.
- `POST /rest/posts` answers 201 with an empty body; the post's URN is in the `x-restli-id`
  header. The author is an organisation (`w_organization_social`) or a member
  (`w_member_social`).
- `commentary` is "little" text: "All reserved characters need to be escaped with a
  backslash, even if those characters are not used in one of the supported elements"
  (`\\ | { } @ [ ] ( ) < > # * _ ~`), and a hashtag is the template `{hashtag|\\#|tag}`. The
  3,000-character limit counts the text shown, so validation counts the unescaped text.
- Images: `POST /rest/images?action=initializeUpload` `{"initializeUploadRequest": {"owner"}}`
  gives an `uploadUrl` and an `urn:li:image:...`; the bytes go with a PUT to that URL; the post
  names the image(s) in `content.media` or `content.multiImage.images`, each with `altText`.
- No idempotency key ("LinkedIn has no idempotency key": postiz-app linkedin.provider.ts). The
  same commentary again is refused with 422 `DUPLICATE_POST` "Content is a duplicate of
  urn:li:share:N" (`Arisamiga/Linkedin-RSS#5`): that URN is read back (`GET /rest/posts/{urn}`)
  and adopted only when it is this author's post with this text, created since the attempt was
  claimed; the URN may also point at a deleted post (`ComposioHQ/composio#2710`). An unanswered
  post is found by listing the author's posts (`GET /rest/posts?author=...&q=author`).
- Rate limits are daily per application and member and reset at midnight UTC, with no
  Retry-After (developer.linkedin.com rate-limits): a 429 defers the channel to then.
- Access tokens last 60 days: an expired or revoked one answers 401.
- Edits (`on_edit: update`): a partial update, `POST /rest/posts/{encoded urn}` with
  `X-RestLi-Method: PARTIAL_UPDATE` and `{"patch": {"$set": {"commentary": ...}}}`, answered
  204 with no body; an unknown or deleted post answers 404. Only the text changes (LinkedIn
  does not let a published post's images change). No key makes a resend safe, so an edit
  whose answer is lost is settled by reading the post back (`GET /rest/posts/{urn}`) and
  comparing its commentary with the edit, never by sending it again blindly.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cmflow import media as media_files
from cmflow.i18n import _
from cmflow.platforms import rest
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token

if TYPE_CHECKING:
    from cmflow.model import Rendered

SPEC = PlatformSpec(
    name="linkedin",
    label="LinkedIn",
    counter="chars",
    defaults={
        "max_length": 3000,
        "max_media": 20,
        "media_types": ["image/jpeg", "image/png", "image/gif"],
    },
    keys=(
        ConnKey(
            "author",
            "urn:li:organization:... (a Page) or urn:li:person:... (a member)",
            required=True,
            pattern=r"urn:li:(organization|person):[A-Za-z0-9_-]+",
            shape="urn:li:organization:<id> or urn:li:person:<id>",
        ),
        token(),
        ConnKey(
            "api_version",
            "LinkedIn-Version header, YYYYMM",
            alt_kinds=("int",),
            pattern=r"20[0-9]{2}(0[1-9]|1[0-2])",
            shape="YYYYMM, e.g. 202611",
        ),
    ),
    # EDITS: a partial update of `commentary`, see `Adapter.edit`.
    capabilities=caps(Capability.ALT_TEXT, Capability.RECONCILES, Capability.EDITS),
    default_base_url="https://api.linkedin.com/rest",
    source="learn.microsoft.com posts-api; commentary limit third-party",
)

DEFAULT_VERSION = "202611"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif")
PAGE_SIZE = 50
RESERVED = "\\|{}@[]()<>#*_~"
_RESERVED_RE = re.compile("([" + re.escape(RESERVED) + "])")
# A hashtag as written in a post: '#' then letters, digits or '_' (accents included).
_HASHTAG = re.compile(r"(?<![\w#&])#(\w+)")
_TEMPLATE = re.compile(r"\{hashtag\|\\?[#＃]\|((?:\\.|[^}\\])+)\}")
_MENTION = re.compile(r"@\[((?:\\.|[^\]\\])*)\]\(urn:li:[^)]+\)")
_URL = re.compile(r"https?://\S+")
_URN = re.compile(r"urn:li:(?:share|ugcPost):[0-9]+")


def _escape(text: str) -> str:
    return _RESERVED_RE.sub(r"\\\1", text)


def little(text: str) -> str:
    """`text` as little text: reserved characters escaped, hashtags as hashtag templates (a
    `#` inside a link, `https://x.fr/#section`, stays part of the link)."""
    out: list[str] = []
    pos = 0
    for url in _URL.finditer(text):
        out.append(_little_words(text[pos : url.start()]))
        out.append(_escape(url.group(0)))
        pos = url.end()
    out.append(_little_words(text[pos:]))
    return "".join(out)


def _little_words(text: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _HASHTAG.finditer(text):
        out.append(_escape(text[pos : m.start()]))
        out.append("{hashtag|\\#|" + _escape(m.group(1)) + "}")
        pos = m.end()
    out.append(_escape(text[pos:]))
    return "".join(out)


def plain(commentary: str) -> str:
    """The text little text shows (to compare a post read back with what was sent)."""
    text = _TEMPLATE.sub(lambda m: "#" + m.group(1), commentary)
    text = _MENTION.sub(lambda m: m.group(1), text)
    return re.sub(r"\\(.)", r"\1", text)


def _message(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    message = data.get("message")
    code = data.get("code")
    if isinstance(message, str):
        return f"{code}: {message}" if isinstance(code, str) else message
    return None


def _next_midnight_utc() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


class _Stop(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.reason)
        self.result = result


class Adapter:
    """Publishes as one LinkedIn author (`author`, `token_env`, optional `api_version`)."""

    lookup_pages: int = 4  # pages of 50 posts read when reconciling

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = rest.Client(ctx, "LinkedIn")
        channel = ctx.channel
        self.author = str(channel.setting("author"))
        self.version = str(channel.setting("api_version") or DEFAULT_VERSION)
        self.base_url = str(channel.base_url or SPEC.default_base_url).rstrip("/")

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        return {}  # no idempotency handle: duplicates and the author's posts tell

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return Result(Outcome.PUBLISHED, list(progress.done))
        part = rendered.parts[0]
        try:
            images = [self._upload(m.path, m.alt) for m in part.media]
        except _Stop as stop:
            return stop.result
        since = progress.started_at or datetime.now(UTC)
        body: dict[str, Any] = {
            "author": self.author,
            "commentary": little(part.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if len(images) == 1:
            body["content"] = {"media": images[0]}
        elif images:
            body["content"] = {"multiImage": {"images": images}}
        progress.part_started(0)
        answer = self.client.call(
            "POST", f"{self.base_url}/posts", json=body, headers=self._headers(), message=_message
        )
        if answer.kind == "ok":
            urn = answer.header("x-restli-id")
            if not urn:
                return Result(Outcome.UNKNOWN, reason=_("the post: answer without x-restli-id"))
            found = self._part(urn)
        elif answer.status == 422 and "DUPLICATE_POST" in answer.reason:
            result = self._duplicate(answer, part.text, since)
            if result.outcome != Outcome.PUBLISHED:
                return result
            found = result.parts[0]
        else:
            return self._failure(answer)
        progress.part_done(0, found)
        return Result(Outcome.PUBLISHED, [found])

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return Result(Outcome.ABSENT, reason=_("every part is already recorded"))
        started_at = progress.started_at
        if started_at is None:
            return Result(Outcome.ABSENT, reason=_("the post was never sent"))
        return self._find(rendered.parts[0].text, started_at)

    # -- edits (cmflow.platforms.base.Editor) -------------------------------------------------

    def edit(self, rendered: Rendered, progress: Progress) -> Result:
        """Replace the published post's commentary with the post's text (a Rest.li partial
        update: every other field, images included, stays as published). Sent once: no
        transport retry, an unclear answer is read back by the next run (`edited`)."""
        done = list(progress.done)
        if not done:
            return Result(Outcome.FAILED, done, reason=_("the post: nothing published to edit"))
        urn = done[0].id
        answer = self.client.call(
            "POST",
            f"{self.base_url}/posts/{quote(urn, safe='')}",
            json={"patch": {"$set": {"commentary": little(rendered.parts[0].text)}}},
            headers={**self._headers(), "X-RestLi-Method": "PARTIAL_UPDATE"},
            message=_message,
        )
        if answer.kind == "ok":
            return Result(Outcome.PUBLISHED, done)
        if answer.status == 404:
            return Result(
                Outcome.FAILED,
                done,
                reason=_("the post: {reason}: it no longer exists on LinkedIn (deleted?)").format(
                    reason=answer.reason
                ),
            )
        result = self._failure(answer)
        result.parts = done
        return result

    def edited(self, rendered: Rendered, progress: Progress) -> Result:
        """Read the post back and compare the text it shows with the edit."""
        done = list(progress.done)
        if not done:
            return Result(Outcome.ABSENT)  # edit() says why, plainly
        got = self.client.call(
            "GET",
            f"{self.base_url}/posts/{quote(done[0].id, safe='')}",
            headers=self._headers(),
            message=_message,
            write=False,
        )
        if got.status == 404:
            return Result(Outcome.ABSENT)  # gone: the edit is refused plainly by edit()
        commentary = got.data.get("commentary") if isinstance(got.data, dict) else None
        if got.kind != "ok" or not isinstance(commentary, str):
            return Result(
                Outcome.UNKNOWN,
                done,
                reason=_("the post: cannot read it back to check the edit: {reason}").format(
                    reason=got.reason
                ),
                retry_after=got.retry_after,
                needs_reauth=got.kind == "auth",
            )
        if rest.content_key(plain(commentary)) == rest.content_key(rendered.parts[0].text):
            return Result(Outcome.PUBLISHED, done)
        return Result(Outcome.ABSENT)

    # -- posts --------------------------------------------------------------------------------

    def _part(self, urn: str) -> PartResult:
        return PartResult(urn, f"https://www.linkedin.com/feed/update/{urn}/")

    def _failure(self, answer: rest.Answer) -> Result:
        result = rest.failure(answer, [], _("the post"))
        if answer.kind == "rate" and answer.status == 429 and not answer.header("retry-after"):
            result.retry_after = _next_midnight_utc()  # daily limits reset at midnight UTC
        if answer.status == 426:
            result.reason = _("{reason}: set `api_version` to a current YYYYMM version").format(
                reason=result.reason
            )
        elif answer.status == 403:
            result.reason = _(
                "{reason}: the token needs w_organization_social (a Page author, as its "
                "administrator) or w_member_social (a member author)"
            ).format(reason=result.reason)
        return result

    def _duplicate(self, answer: rest.Answer, text: str, since: datetime) -> Result:
        """LinkedIn names the post this one duplicates: ours only if it is this author's,
        with this text, created since the attempt was claimed."""
        m = _URN.search(answer.reason)
        if m is None:
            return Result(
                Outcome.FAILED, reason=_("the post: {reason}").format(reason=answer.reason)
            )
        urn = m.group(0)
        got = self.client.call(
            "GET",
            f"{self.base_url}/posts/{quote(urn, safe='')}",
            headers=self._headers(),
            message=_message,
            write=False,
        )
        if got.status == 404:
            return Result(
                Outcome.FAILED,
                reason=_(
                    "the post: LinkedIn refuses it as a duplicate of {urn}, which no longer "
                    "exists (deleted): change the text to post it again"
                ).format(urn=urn),
            )
        if got.kind != "ok" or not isinstance(got.data, dict):
            return rest.lookup_failed(got, _("the post"))
        if self._matches(got.data, text, since):
            return Result(Outcome.PUBLISHED, [self._part(urn)])
        return Result(
            Outcome.FAILED,
            reason=_(
                "the post: LinkedIn refuses it as a duplicate of {urn}, posted before this "
                "attempt: change the text to post it again"
            ).format(urn=urn),
        )

    def _matches(self, post: dict[str, Any], text: str, since: datetime) -> bool:
        created = rest.parse_time(post.get("createdAt"))
        commentary = post.get("commentary")
        return (
            post.get("author") == self.author
            and isinstance(commentary, str)
            and rest.content_key(plain(commentary)) == rest.content_key(text)
            and created is not None
            and created >= since - rest.CLOCK_SKEW
        )

    def _find(self, text: str, since: datetime) -> Result:
        """The post among the author's, newest first, created since `since`."""
        for page in range(self.lookup_pages):
            answer = self.client.call(
                "GET",
                f"{self.base_url}/posts",
                params={
                    "author": self.author,
                    "q": "author",
                    "count": str(PAGE_SIZE),
                    "start": str(page * PAGE_SIZE),
                    "sortBy": "CREATED",
                },
                headers={**self._headers(), "X-RestLi-Method": "FINDER"},
                message=_message,
                write=False,
            )
            elements = answer.data.get("elements") if isinstance(answer.data, dict) else None
            if answer.kind != "ok" or not isinstance(elements, list):
                return rest.lookup_failed(answer, _("the post"))
            for post in elements:
                if not isinstance(post, dict):
                    continue
                created = rest.parse_time(post.get("createdAt"))
                if created is not None and created < since - rest.CLOCK_SKEW:
                    return Result(Outcome.ABSENT, reason=_("the post is not among the author's"))
                if self._matches(post, text, since) and isinstance(post.get("id"), str):
                    return Result(Outcome.PUBLISHED, [self._part(post["id"])])
            if len(elements) < PAGE_SIZE:
                return Result(Outcome.ABSENT, reason=_("the post is not among the author's"))
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "the post: not among the author's {number} most recent posts, which do not reach "
                "back to when it was sent: check by hand"
            ).format(number=self.lookup_pages * PAGE_SIZE),
        )

    # -- images -------------------------------------------------------------------------------

    def _upload(self, rel: str, alt: str | None) -> dict[str, Any]:
        info = media_files.inspect(self.ctx.root, rel)
        if info.path is None:
            raise _Stop(
                Result(
                    Outcome.FAILED,
                    reason=_("the post: media {rel} {problem}").format(
                        rel=rel, problem=info.problem
                    ),
                )
            )
        if info.mime not in IMAGE_TYPES:
            raise _Stop(
                Result(
                    Outcome.FAILED,
                    reason=_(
                        "the post: {rel} is {mime}; cmflow sends LinkedIn images only ({types})"
                    ).format(
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
                    reason=_("the post: {rel} cannot be read ({strerror})").format(
                        rel=rel, strerror=exc.strerror
                    ),
                )
            ) from None
        init = self.client.call(
            "POST",
            f"{self.base_url}/images",
            params={"action": "initializeUpload"},
            json={"initializeUploadRequest": {"owner": self.author}},
            headers=self._headers(),
            message=_message,
            write=False,  # registers an upload, creates no post
        )
        value = init.data.get("value") if isinstance(init.data, dict) else None
        if init.kind != "ok" or not isinstance(value, dict):
            raise _Stop(self._media_failure(init, rel))
        upload_url, image = value.get("uploadUrl"), value.get("image")
        if not isinstance(upload_url, str) or not isinstance(image, str):
            raise _Stop(
                Result(Outcome.RETRY, reason=_("the post: no upload URL for {rel}").format(rel=rel))
            )
        put = self.client.call(
            "PUT",
            upload_url,
            data=data,
            headers={"Authorization": f"Bearer {self.client.token}"},
            message=_message,
            write=False,
        )
        if put.kind != "ok":
            raise _Stop(self._media_failure(put, rel))
        item: dict[str, Any] = {"id": image}
        if alt:
            item["altText"] = alt
        return item

    def _media_failure(self, answer: rest.Answer, rel: str) -> Result:
        result = self._failure(answer)
        result.reason = _("uploading {path}: {reason}").format(path=rel, reason=result.reason)
        if result.outcome == Outcome.UNKNOWN:  # an upload creates no post
            result.outcome = Outcome.RETRY
        return result

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.client.token}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": "2.0.0",
        }
