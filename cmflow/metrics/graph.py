"""Meta Graph API metrics: Facebook Page posts, Instagram media, Threads posts.

One request per post, a few at once (the Graph API's `ids=` batching fails the whole batch
when one id is gone). Meta's 2025 changes shape the metric names:
- Facebook: `post_impressions_unique` is deprecated for `post_total_media_view_unique`
  (counted here as reach); `page_fans` is gone since 2025-11-15, followers come from the
  Page's `followers_count` (developers.facebook.com/blog/post/2025/08/15/page-insights-api-updates).
  Reactions, comments and shares come from the post's own fields, clicks from `post_clicks`.
- Instagram: `impressions` and `plays` were removed for new media on 2025-04-21; `views`
  replaces them (kept in the `impressions` column), with `reach`, `likes`, `comments`,
  `shares`, `saved` (.../instagram-media/insights). Figures can lag up to 48 h.
- Threads: `views`, `likes`, `replies`, `reposts`, `quotes`, `shares`
  (developers.facebook.com/documentation/threads/insights); followers from
  `/{user-id}/threads_insights?metric=followers_count`.
An expired token is Graph error 190 (HTTP 400 or 401): the channel needs a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cmflow.metrics.base import OK, AccountStats, Fetched, ReaderContext, Target, as_int
from cmflow.metrics.gate import Gate, fan_out
from cmflow.metrics.rest import Answer, get_json
from cmflow.metrics.x import results

SECRETS = ("token_env",)

INSIGHTS = {
    "instagram": ("views", "reach", "likes", "comments", "shares", "saved"),
    "threads": ("views", "likes", "replies", "reposts", "quotes", "shares"),
}
# Graph metric name -> cmflow column
COLUMNS = {
    "views": "impressions",
    "reach": "reach",
    "likes": "likes",
    "comments": "replies",
    "replies": "replies",
    "shares": "shares",
    "saved": "saves",
    "reposts": "reposts",
    "quotes": "quotes",
    "post_clicks": "clicks",
    "post_total_media_view_unique": "reach",
}
FB_FIELDS = "shares,comments.limit(0).summary(true),reactions.limit(0).summary(true)"
FB_INSIGHTS = "post_clicks,post_total_media_view_unique"


def insight_values(data: Any) -> dict[str, int | None]:
    """{metric: value} from an insights answer (`values[0].value` or `total_value.value`)."""
    out: dict[str, int | None] = {}
    for item in data.get("data", []) if isinstance(data, dict) else []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        value: Any = None
        if isinstance(item.get("total_value"), dict):
            value = item["total_value"].get("value")
        elif isinstance(item.get("values"), list) and item["values"]:
            first = item["values"][0]
            value = first.get("value") if isinstance(first, dict) else None
        out[item["name"]] = as_int(value)
    return out


class Reader:
    def __init__(self, ctx: ReaderContext) -> None:
        self.ctx = ctx
        self.platform = ctx.channel.platform
        self.base = ctx.channel.base_url or ""
        self.token = ctx.secrets.get("token_env", "")
        self.variable = str(ctx.channel.setting("token_env", "token_env"))
        self.gate = Gate()

    def _get(self, path: str, params: dict[str, str]) -> Answer:
        return get_json(
            self.ctx,
            self.gate,
            f"{self.base}/{path.lstrip('/')}",
            headers={"Authorization": f"Bearer {self.token}"},
            variable=self.variable,
            secret=self.token,
            params=params,
        )

    def posts(self, targets: Sequence[Target]) -> list[Fetched]:
        ids = list(dict.fromkeys(i for t in targets for i in t.remote_ids))
        found: dict[str, dict[str, int | None]] = {}
        failed: dict[str, tuple[str, str]] = {}
        for i, (status, got, note) in zip(ids, fan_out(ids, self._one), strict=True):
            if status == OK:
                found[i] = got
            else:
                failed[i] = (status, note)
        return results(targets, found, failed)

    def _one(self, media_id: str) -> tuple[str, dict[str, int | None], str]:
        if self.platform == "facebook":
            answer = self._get(media_id, {"fields": FB_FIELDS})
            if answer.status != OK or not isinstance(answer.data, dict):
                return answer.status, {}, answer.note
            d = answer.data
            counts: dict[str, int | None] = {
                "likes": as_int(
                    ((d.get("reactions") or {}).get("summary") or {}).get("total_count")
                ),
                "replies": as_int(
                    ((d.get("comments") or {}).get("summary") or {}).get("total_count")
                ),
                # Graph leaves `shares` out of a post nobody shared.
                "shares": as_int((d.get("shares") or {}).get("count")) if d.get("shares") else 0,
            }
            # Insights need 100 Page likes and change names often: their absence is not a failure.
            extra = self._get(f"{media_id}/insights", {"metric": FB_INSIGHTS})
            if extra.status == OK:
                for name, value in insight_values(extra.data).items():
                    if name in COLUMNS:
                        counts[COLUMNS[name]] = value
            return OK, counts, ""
        metrics = INSIGHTS[self.platform]
        answer = self._get(f"{media_id}/insights", {"metric": ",".join(metrics)})
        if answer.status != OK:
            return answer.status, {}, answer.note
        values = insight_values(answer.data)
        # A metric Meta did not return is unknown (None), never 0 (it answers an empty set).
        return OK, {COLUMNS[m]: values.get(m) for m in metrics}, ""

    def account(self) -> AccountStats:
        setting = "page_id" if self.platform == "facebook" else "user_id"
        uid = str(self.ctx.channel.setting(setting) or "")
        if self.platform == "threads":
            answer = self._get(f"{uid}/threads_insights", {"metric": "followers_count"})
            if answer.status != OK:
                return AccountStats(answer.status, uid, note=answer.note)
            return AccountStats(OK, uid, insight_values(answer.data).get("followers_count"))
        fields = (
            "followers_count"
            if self.platform == "facebook"
            else "followers_count,follows_count,media_count"
        )
        answer = self._get(uid, {"fields": fields})
        if answer.status != OK or not isinstance(answer.data, dict):
            return AccountStats(answer.status, uid, note=answer.note)
        d = answer.data
        return AccountStats(
            OK,
            uid,
            as_int(d.get("followers_count")),
            as_int(d.get("follows_count")),
            as_int(d.get("media_count")),
        )
