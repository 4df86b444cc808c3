"""dev.to (Forem) metrics: `GET /api/articles/me/all` (paged, `per_page` ≤ 1000) lists the
account's articles with `page_views_count`, `public_reactions_count` and `comments_count`
(forem_openapi ArticleIndex): one or two calls for every article. Header `api-key`. Forem
gives no follower count through this key, so the account row has none."""

from __future__ import annotations

from collections.abc import Sequence

from cmflow.i18n import _
from cmflow.metrics.base import MISSING, OK, AccountStats, Fetched, ReaderContext, Target, as_int
from cmflow.metrics.gate import Gate
from cmflow.metrics.rest import get_json
from cmflow.metrics.x import results

SECRETS = ("token_env",)
PER_PAGE = 1000
MAX_PAGES = 10


class Reader:
    def __init__(self, ctx: ReaderContext) -> None:
        self.ctx = ctx
        self.base = ctx.channel.base_url or "https://dev.to/api"
        self.key = ctx.secrets.get("token_env", "")
        self.variable = str(ctx.channel.setting("token_env", "token_env"))
        self.gate = Gate()

    def posts(self, targets: Sequence[Target]) -> list[Fetched]:
        wanted = {i for t in targets for i in t.remote_ids}
        found: dict[str, dict[str, int | None]] = {}
        failed: dict[str, tuple[str, str]] = {}
        for page in range(1, MAX_PAGES + 1):
            answer = get_json(
                self.ctx,
                self.gate,
                f"{self.base}/articles/me/all",
                headers={"api-key": self.key, "Accept": "application/vnd.forem.api-v1+json"},
                variable=self.variable,
                secret=self.key,
                params={"per_page": str(PER_PAGE), "page": str(page)},
            )
            if answer.status != OK or not isinstance(answer.data, list):
                for i in wanted - set(found):
                    failed[i] = (answer.status, answer.note)
                break
            for art in answer.data:
                if isinstance(art, dict) and str(art.get("id")) in wanted:
                    found[str(art["id"])] = {
                        "likes": as_int(art.get("public_reactions_count")),
                        "replies": as_int(art.get("comments_count")),
                        "impressions": as_int(art.get("page_views_count")),
                    }
            if len(answer.data) < PER_PAGE or wanted <= set(found):
                break
        for i in wanted - set(found):
            failed.setdefault(
                i, (MISSING, _("not among the account's articles (deleted or unpublished)"))
            )
        return results(targets, found, failed)

    def account(self) -> AccountStats:
        return AccountStats(OK, note=_("dev.to gives no follower count"))
