"""Bluesky metrics from an AppView: `app.bsky.feed.getPosts` (up to 25 URIs per call) gives
`likeCount`, `repostCount`, `replyCount`, `quoteCount` and `bookmarkCount`
(bluesky-social/atproto lexicons/app/bsky/feed/defs.json#postView; no impressions exist);
`app.bsky.actor.getProfile` gives `followersCount`.

Counts live in the AppView, not in the account's PDS (a bare PDS answers getPosts with 400
"No service configured"). Both calls are public, so no login is spent (createSession is
limited to 30 per 5 minutes): the reader asks the public AppView (`metrics.appview`,
default https://public.api.bsky.app) without credentials. A URI the AppView does not return
is deleted or not indexed yet: it is asked again next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cmflow.http import HttpError, RateLimited
from cmflow.i18n import _
from cmflow.metrics.base import (
    DEFERRED,
    FAILED,
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

BATCH = 25  # app.bsky.feed.getPosts: uris maxLength 25


class _Answer:
    def __init__(self, status: str, data: Any = None, note: str = "") -> None:
        self.status, self.data, self.note = status, data, note


class Reader:
    def __init__(self, ctx: ReaderContext) -> None:
        self.ctx = ctx
        self.appview = ctx.settings.appview
        self.handle = str(ctx.channel.setting("handle") or "")
        self.gate = Gate()

    def posts(self, targets: Sequence[Target]) -> list[Fetched]:
        uris = list(dict.fromkeys(u for t in targets for u in t.remote_ids))
        found: dict[str, dict[str, int | None]] = {}
        failed: dict[str, tuple[str, str]] = {}
        batches = chunks(uris, BATCH)
        for batch, answer in zip(batches, fan_out(batches, self._get_posts), strict=True):
            if answer.status != OK:
                for u in batch:
                    failed[u] = (answer.status, answer.note)
                continue
            for view in answer.data.get("posts", []) if isinstance(answer.data, dict) else []:
                if isinstance(view, dict) and view.get("uri") in batch:
                    found[str(view["uri"])] = counts(view)
            for u in batch:
                if u not in found:
                    failed[u] = (MISSING, _("not on the AppView: deleted, or not indexed yet"))
        out = []
        for t in targets:
            missing = [u for u in t.remote_ids if u not in found]
            if missing:
                status, note = failed.get(missing[0], (FAILED, _("not read")))
                out.append(Fetched(t, status, note=note))
            else:
                out.append(Fetched(t, OK, sum_counts([found[u] for u in t.remote_ids])))
        return out

    def account(self) -> AccountStats:
        answer = self._get("app.bsky.actor.getProfile", [("actor", self.handle)])
        if answer.status != OK or not isinstance(answer.data, dict):
            return AccountStats(
                answer.status, self.handle, note=answer.note or _("unexpected answer")
            )
        return profile_stats(answer.data, self.handle)

    def _get_posts(self, batch: list[str]) -> _Answer:
        return self._get("app.bsky.feed.getPosts", [("uris", u) for u in batch])

    def _get(self, nsid: str, params: list[tuple[str, str]]) -> _Answer:
        return xrpc_get(self.ctx, self.appview, self.gate, nsid, params)


def xrpc_get(
    ctx: ReaderContext, appview: str, gate: Gate, nsid: str, params: list[tuple[str, str]]
) -> _Answer:
    """One public XRPC query, sorted into ok / deferred / failed."""
    closed = gate.closed
    if closed is not None:
        return _Answer(closed[0], note=closed[1])
    try:
        resp = ctx.http.request("GET", f"{appview}/xrpc/{nsid}", params=params)
    except RateLimited as exc:
        gate.close(DEFERRED, str(exc))
        return _Answer(DEFERRED, note=str(exc))
    except HttpError as exc:
        return _Answer(FAILED, note=str(exc))
    gate.observe(resp.headers)
    if resp.status_code == 200:
        try:
            return _Answer(OK, resp.json())
        except ValueError:
            return _Answer(FAILED, note=_("HTTP 200 without JSON"))
    if resp.status_code == 429:
        note = _("rate limited (HTTP 429): next run")
        gate.close(DEFERRED, note)
        return _Answer(DEFERRED, note=note)
    try:
        data = resp.json()
    except ValueError:
        data = {}
    detail = ": ".join(
        str(data[k]) for k in ("error", "message") if isinstance(data, dict) and data.get(k)
    )
    status = MISSING if resp.status_code == 400 and "NotFound" in detail else FAILED
    return _Answer(status, note=f"HTTP {resp.status_code} {detail or resp.reason or ''}"[:300])


def counts(view: dict[str, Any]) -> dict[str, int | None]:
    return {
        "likes": as_int(view.get("likeCount")),
        "reposts": as_int(view.get("repostCount")),
        "replies": as_int(view.get("replyCount")),
        "quotes": as_int(view.get("quoteCount")),
        "saves": as_int(view.get("bookmarkCount")),
    }


def profile_stats(data: dict[str, Any], handle: str) -> AccountStats:
    return AccountStats(
        OK,
        account=str(data.get("handle") or handle),
        followers=as_int(data.get("followersCount")),
        following=as_int(data.get("followsCount")),
        posts=as_int(data.get("postsCount")),
    )
