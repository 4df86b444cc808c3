"""X (API v2) metrics: `GET /2/tweets?ids=` (up to 100 ids) with `tweet.fields=public_metrics`
gives `like_count`, `retweet_count`, `reply_count`, `quote_count`, `bookmark_count` and
`impression_count` (developer.x.com/en/docs/x-api/metrics; non-public metrics need user
context and stop after 30 days, so they are not asked). Followers: `GET /2/users/me` with
`user.fields=public_metrics`. Rate limits: `x-rate-limit-*` headers (the `Gate` reads them).
Ids the API cannot return come back in `errors` (deleted or protected)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cmflow.i18n import _
from cmflow.metrics.base import (
    MISSING,
    OK,
    AccountStats,
    Fetched,
    ReaderContext,
    Target,
    as_int,
    sum_counts,
)
from cmflow.metrics.gate import Gate, chunks, fan_out
from cmflow.metrics.rest import Answer, get_json

SECRETS = ("token_env",)
BATCH = 100


class Reader:
    def __init__(self, ctx: ReaderContext) -> None:
        self.ctx = ctx
        self.base = ctx.channel.base_url or "https://api.x.com/2"
        self.token = ctx.secrets.get("token_env", "")
        self.variable = str(ctx.channel.setting("token_env", "token_env"))
        self.gate = Gate()

    def _get(self, path: str, params: dict[str, str]) -> Answer:
        return get_json(
            self.ctx,
            self.gate,
            self.base + path,
            headers={"Authorization": f"Bearer {self.token}"},
            variable=self.variable,
            secret=self.token,
            params=params,
        )

    def posts(self, targets: Sequence[Target]) -> list[Fetched]:
        ids = list(dict.fromkeys(i for t in targets for i in t.remote_ids))
        found: dict[str, dict[str, int | None]] = {}
        failed: dict[str, tuple[str, str]] = {}

        def batch(group: list[str]) -> Answer:
            return self._get("/tweets", {"ids": ",".join(group), "tweet.fields": "public_metrics"})

        groups = chunks(ids, BATCH)
        for group, answer in zip(groups, fan_out(groups, batch), strict=True):
            if answer.status != OK or not isinstance(answer.data, dict):
                for i in group:
                    failed[i] = (answer.status, answer.note)
                continue
            for tweet in answer.data.get("data") or []:
                if isinstance(tweet, dict) and str(tweet.get("id")) in group:
                    found[str(tweet["id"])] = counts(tweet.get("public_metrics") or {})
            for i in group:
                failed.setdefault(i, (MISSING, _("not returned: deleted, or not visible")))
        return results(targets, found, failed)

    def account(self) -> AccountStats:
        answer = self._get("/users/me", {"user.fields": "public_metrics"})
        data = (
            answer.data.get("data")
            if answer.status == OK and isinstance(answer.data, dict)
            else None
        )
        if not isinstance(data, dict):
            return AccountStats(
                answer.status if answer.status != OK else "failed", note=answer.note
            )
        m = data.get("public_metrics") or {}
        return AccountStats(
            OK,
            str(data.get("username") or ""),
            as_int(m.get("followers_count")),
            as_int(m.get("following_count")),
            as_int(m.get("tweet_count")),
        )


def counts(m: dict[str, Any]) -> dict[str, int | None]:
    return {
        "likes": as_int(m.get("like_count")),
        "reposts": as_int(m.get("retweet_count")),
        "replies": as_int(m.get("reply_count")),
        "quotes": as_int(m.get("quote_count")),
        "saves": as_int(m.get("bookmark_count")),
        "impressions": as_int(m.get("impression_count")),
    }


def results(
    targets: Sequence[Target],
    found: dict[str, dict[str, int | None]],
    failed: dict[str, tuple[str, str]],
) -> list[Fetched]:
    """One result per target from what each remote id gave (a thread sums its parts)."""
    out = []
    for t in targets:
        missing = [i for i in t.remote_ids if i not in found]
        if missing:
            status, note = failed.get(missing[0], ("failed", _("not read")))
            out.append(Fetched(t, status, note=note))
        else:
            out.append(Fetched(t, OK, sum_counts([found[i] for i in t.remote_ids])))
    return out
