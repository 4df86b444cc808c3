"""LinkedIn metrics, for organization pages: `GET /rest/organizationalEntityShareStatistics`
with the posts' URNs (`shares=List(...)` for urn:li:share, `ugcPosts=List(...)` for
urn:li:ugcPost) gives `totalShareStatistics` {impressionCount, uniqueImpressionsCount,
clickCount, likeCount, commentCount, shareCount} (learn.microsoft.com .../organizations/
share-statistics; organic only, rolling 12 months, `rw_organization_admin`). Followers:
`GET /rest/networkSizes/{org}?edgeType=COMPANY_FOLLOWED_BY_MEMBER` (firstDegreeSize).
Posts of a member (urn:li:person author) need the restricted `r_member_social`: not read.
Every call carries `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`; URNs inside
Rest.li lists are URL-encoded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from cmflow.i18n import _
from cmflow.metrics.base import (
    FAILED,
    MISSING,
    OK,
    AccountStats,
    Fetched,
    ReaderContext,
    Target,
    as_int,
)
from cmflow.metrics.gate import Gate, chunks, fan_out
from cmflow.metrics.rest import Answer, get_json
from cmflow.metrics.x import results

SECRETS = ("token_env",)
DEFAULT_VERSION = "202611"
BATCH = 20


class Reader:
    def __init__(self, ctx: ReaderContext) -> None:
        self.ctx = ctx
        self.base = ctx.channel.base_url or "https://api.linkedin.com/rest"
        self.author = str(ctx.channel.setting("author") or "")
        self.version = str(ctx.channel.setting("api_version") or DEFAULT_VERSION)
        self.token = ctx.secrets.get("token_env", "")
        self.variable = str(ctx.channel.setting("token_env", "token_env"))
        self.gate = Gate()

    @property
    def organization(self) -> bool:
        return self.author.startswith("urn:li:organization:")

    def _get(self, path_and_query: str) -> Answer:
        return get_json(
            self.ctx,
            self.gate,
            self.base + path_and_query,
            headers={
                "Authorization": f"Bearer {self.token}",
                "LinkedIn-Version": self.version,
                "X-Restli-Protocol-Version": "2.0.0",
            },
            variable=self.variable,
            secret=self.token,
        )

    def posts(self, targets: Sequence[Target]) -> list[Fetched]:
        if not self.organization:
            note = _("LinkedIn gives post statistics for organization pages only")
            return [Fetched(t, FAILED, note=note) for t in targets]
        urns = list(dict.fromkeys(i for t in targets for i in t.remote_ids))
        found: dict[str, dict[str, int | None]] = {}
        failed: dict[str, tuple[str, str]] = {}
        groups = [
            (kind, group)
            for kind, prefix in (("shares", "urn:li:share:"), ("ugcPosts", "urn:li:ugcPost:"))
            for group in chunks([u for u in urns if u.startswith(prefix)], BATCH)
        ]

        def batch(item: tuple[str, list[str]]) -> Answer:
            kind, group = item
            listed = ",".join(quote(u, safe="") for u in group)
            return self._get(
                "/organizationalEntityShareStatistics?q=organizationalEntity"
                f"&organizationalEntity={quote(self.author, safe='')}&{kind}=List({listed})"
            )

        for (_kind, group), answer in zip(groups, fan_out(groups, batch), strict=True):
            if answer.status != OK or not isinstance(answer.data, dict):
                for u in group:
                    failed[u] = (answer.status, answer.note)
                continue
            for el in answer.data.get("elements") or []:
                if not isinstance(el, dict):
                    continue
                urn = el.get("share") or el.get("ugcPost")
                if urn in group:
                    found[str(urn)] = counts(el.get("totalShareStatistics") or {})
            for u in group:
                failed.setdefault(u, (MISSING, _("no statistics returned for this post")))
        for u in urns:
            if u not in found:
                failed.setdefault(u, (FAILED, _("not a share or ugcPost URN")))
        return results(targets, found, failed)

    def account(self) -> AccountStats:
        if not self.organization:
            return AccountStats(
                FAILED, self.author, note=_("followers are read for organization pages only")
            )
        answer = self._get(
            f"/networkSizes/{quote(self.author, safe='')}?edgeType=COMPANY_FOLLOWED_BY_MEMBER"
        )
        if answer.status != OK or not isinstance(answer.data, dict):
            return AccountStats(answer.status, self.author, note=answer.note)
        return AccountStats(OK, self.author, as_int(answer.data.get("firstDegreeSize")))


def counts(s: dict[str, Any]) -> dict[str, int | None]:
    return {
        "likes": as_int(s.get("likeCount")),
        "replies": as_int(s.get("commentCount")),
        "shares": as_int(s.get("shareCount")),
        "clicks": as_int(s.get("clickCount")),
        "impressions": as_int(s.get("impressionCount")),
        "reach": as_int(s.get("uniqueImpressionsCount")),
    }
