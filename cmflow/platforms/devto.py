"""dev.to (Forem): articles through `POST /api/articles`.

Why the code has this shape (Forem API v1, `forem/forem`):

- Every call carries the `api-key` header and `Accept: application/vnd.forem.api-v1+json`.
  `POST /api/articles` takes `{"article": {title, body_markdown, published, tags, series,
  canonical_url}}` and answers 201 with the article (`id`, `url`).
- At most 4 tags ("exceed the maximum of 4 tags": `app/models/article.rb`); validation
  checks it (`max_tags`).
- The canonical URL is the post's page on the site channel when the post goes there too
  (`Rendered.canonical_url`): search engines credit the brand's own site.
- No idempotency key, but natural uniqueness (`article.rb`): `body_markdown` is unique per
  (user, title) and `canonical_url` among published articles. A resend of an article that
  landed is refused with 422 "... has already been taken": the account's articles
  (`GET /api/articles/me/all`) then say which one it is. An article with this post's
  canonical URL is this post; without one, the same title and body created since the
  attempt was claimed. An unanswered create is reconciled the same way.
- Writes are throttled to 1 per second per key (`config/initializers/rack_attack.rb`): 429
  with Retry-After.
- A revoked API key answers 401.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cmflow.i18n import _
from cmflow.platforms import rest
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import Capability, PlatformSpec, caps, token

if TYPE_CHECKING:
    from cmflow.model import Rendered

SPEC = PlatformSpec(
    name="devto",
    label="dev.to",
    counter="chars",
    # Images are not sent to dev.to (a cover needs a public URL): a post with media needs a
    # variant without them.
    defaults={"max_length": 800_000, "max_title_length": 128, "max_tags": 4, "max_media": 0},
    keys=(token("environment variable holding the dev.to API key"),),
    capabilities=caps(Capability.TITLES, Capability.MARKDOWN, Capability.RECONCILES),
    default_base_url="https://dev.to/api",
    max_tags=4,
    source="forem/forem app/models/article.rb",
)

ACCEPT = "application/vnd.forem.api-v1+json"
PAGE_SIZE = 100
SHORT_WAIT = 5.0  # seconds: a throttle this short is waited out within the run


def _message(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    return None


class Adapter:
    """Publishes articles to one dev.to (or other Forem) account (`token_env`: API key)."""

    lookup_pages: int = 5

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = rest.Client(ctx, "dev.to")
        self.base_url = str(ctx.channel.base_url or SPEC.default_base_url).rstrip("/")

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        return {}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return Result(Outcome.PUBLISHED, list(progress.done))
        if not rendered.title:
            return Result(
                Outcome.FAILED, reason=_("dev.to needs a title: add `title:` to the post")
            )
        article: dict[str, Any] = {
            "title": rendered.title,
            "body_markdown": rendered.parts[0].text,
            "published": True,
            "tags": [t.lstrip("#") for t in rendered.tags],
        }
        if rendered.series:
            article["series"] = rendered.series
        if rendered.canonical_url:
            article["canonical_url"] = rendered.canonical_url
        since = progress.started_at or datetime.now(UTC)
        progress.part_started(0)
        for _i in range(3):
            answer = self.client.call(
                "POST",
                f"{self.base_url}/articles",
                json={"article": article},
                headers=self._headers(),
                message=_message,
            )
            # The 1-per-second write throttle: a 429 created nothing, and `Http` waits for
            # the Retry-After before the next request to the host.
            if not (answer.status == 429 and (answer.retry_after or 0) <= SHORT_WAIT):
                break
        if answer.kind == "ok":
            found = self._part(answer.data)
            if found is None:
                return Result(Outcome.UNKNOWN, reason=_("the article: answer without an id"))
        elif answer.status == 422 and "has already been taken" in answer.reason:
            check = self._find(rendered, since)
            if check.outcome != Outcome.PUBLISHED:
                return Result(
                    Outcome.FAILED,
                    reason=_(
                        "the article: {reason}: an article with this title and text (or this "
                        "canonical URL) is on the account from before this attempt"
                    ).format(reason=answer.reason),
                )
            found = check.parts[0]
        else:
            return rest.failure(answer, [], _("the article"))
        progress.part_done(0, found)
        return Result(Outcome.PUBLISHED, [found])

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return Result(Outcome.ABSENT, reason=_("every part is already recorded"))
        started_at = progress.started_at
        if started_at is None:
            return Result(Outcome.ABSENT, reason=_("the article was never sent"))
        return self._find(rendered, started_at)

    def _part(self, data: Any) -> PartResult | None:
        if not isinstance(data, dict) or data.get("id") is None:
            return None
        url = data.get("url")
        return PartResult(str(data["id"]), str(url) if url else None)

    def _find(self, rendered: Rendered, since: datetime) -> Result:
        """This post's article among the account's (published or not)."""
        body = rest.content_key(rendered.parts[0].text)
        for page in range(1, self.lookup_pages + 1):
            answer = self.client.call(
                "GET",
                f"{self.base_url}/articles/me/all",
                params={"page": str(page), "per_page": str(PAGE_SIZE)},
                headers=self._headers(),
                message=_message,
                write=False,
            )
            if answer.kind != "ok" or not isinstance(answer.data, list):
                return rest.lookup_failed(answer, _("the article"))
            for article in answer.data:
                if isinstance(article, dict) and self._ours(article, rendered, body, since):
                    found = self._part(article)
                    if found is not None:
                        return Result(Outcome.PUBLISHED, [found])
            if len(answer.data) < PAGE_SIZE:
                return Result(Outcome.ABSENT, reason=_("the article is not on the account"))
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "the article: not among the account's {number} most recent articles: check by hand"
            ).format(number=self.lookup_pages * PAGE_SIZE),
        )

    @staticmethod
    def _ours(article: dict[str, Any], rendered: Rendered, body: str, since: datetime) -> bool:
        if rendered.canonical_url:
            # The canonical URL is this post's own page: an article naming it is this post.
            return bool(article.get("canonical_url") == rendered.canonical_url)
        created = rest.parse_time(article.get("created_at") or article.get("published_at"))
        markdown = article.get("body_markdown")
        return (
            article.get("title") == rendered.title
            and isinstance(markdown, str)
            and rest.content_key(markdown) == body
            and created is not None
            and created >= since - rest.CLOCK_SKEW
        )

    def _headers(self) -> dict[str, str]:
        return {"api-key": self.client.token, "Accept": ACCEPT}
