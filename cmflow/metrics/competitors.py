"""Competitors' public accounts: followers (daily) and their posts' engagement, on the same
age schedule as the brand's, set beside the brand's in reports.

Bluesky: the public AppView's `app.bsky.actor.getProfile` and `app.bsky.feed.getAuthorFeed`
(filter `posts_no_replies`, reposts skipped). Mastodon: `GET /api/v1/accounts/lookup?acct=`
then `GET /api/v1/accounts/:id/statuses` (exclude_replies, exclude_reblogs, up to 40) on the
account's own instance, without a token (public data). One feed page per account and run:
its posts carry their counts, so no call per post is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cmflow.i18n import _
from cmflow.metrics import schedule, store
from cmflow.metrics.base import OK, REFUSED, AccountStats, as_int
from cmflow.metrics.bluesky import counts as bsky_counts
from cmflow.metrics.bluesky import profile_stats, xrpc_get
from cmflow.metrics.gate import Gate
from cmflow.metrics.mastodon import counts as masto_counts

if TYPE_CHECKING:
    from cmflow.http import Http
    from cmflow.metrics.collect import ChannelRun, Pending
    from cmflow.metrics.settings import Competitor, Settings


class _Ctx:
    """The slice of a ReaderContext `xrpc_get` uses."""

    def __init__(self, http: Http) -> None:
        self.http = http


def collect(
    conf: Settings,
    http: Http,
    st: store.Store,
    now: datetime,
    midnight: datetime,
    pending: Pending,
    extras: list[ChannelRun],
    lock: threading.Lock,
) -> None:
    from cmflow.metrics.collect import ChannelRun, account_row

    captured: dict[tuple[str, str, str], set[str]] = {}
    for row in st.rows("competitors", now - schedule.horizon(conf.schedule)):
        if row["status"] in schedule.CAPTURING:
            captured.setdefault((row["channel"], row["platform"], row["remote_id"]), set()).add(
                row["age"]
            )
    today = {
        (r["name"], r["platform"])
        for r in st.rows("accounts", midnight)
        if r["status"] == OK and r["kind"] == "competitor"
    }
    stamp = store.stamp(now)
    gate = Gate()
    for comp in conf.competitors:
        for platform, fetch in (("bluesky", _bluesky), ("mastodon", _mastodon)):
            if not getattr(comp, platform):
                continue
            run = ChannelRun(f"competitor {comp.key}", platform)
            with lock:
                extras.append(run)
            stats, posts = fetch(conf, http, gate, comp)
            rows = []
            for remote_id, url, published, counts in posts:
                point = schedule.due(
                    published,
                    now,
                    conf.schedule,
                    captured.get((comp.key, platform, remote_id), set()),
                )
                if point is None:
                    continue
                row = {
                    "collected_at": stamp,
                    "channel": comp.key,
                    "platform": platform,
                    "post": "",
                    "remote_id": remote_id,
                    "url": url,
                    "published_at": store.stamp(published),
                    "age": point.label,
                    "status": OK,
                    "note": "",
                }
                for key in store.COUNTS:
                    value = counts.get(key)
                    row[key] = "" if value is None else str(value)
                rows.append(row)
            run.due = len(rows)
            run.counts = {OK: len(rows)} if rows else {}
            run.followers = stats.followers
            run.account_refused = stats.status == REFUSED
            if stats.status != OK:
                run.notes.append(stats.note)
            with lock:
                pending.add("competitors", rows)
                if (comp.key, platform) not in today and stats.status != "deferred":
                    pending.add(
                        "accounts", [account_row(stamp, "competitor", comp.key, platform, stats)]
                    )


Post = tuple[str, str, datetime, dict[str, int | None]]


def _time(value: Any) -> datetime | None:
    parsed = store.parse_stamp(str(value)) if value else None
    return parsed


def _bluesky(
    conf: Settings, http: Http, gate: Gate, comp: Competitor
) -> tuple[AccountStats, list[Post]]:
    handle = comp.bluesky or ""
    ctx: Any = _Ctx(http)
    prof = xrpc_get(ctx, conf.appview, gate, "app.bsky.actor.getProfile", [("actor", handle)])
    if prof.status != OK or not isinstance(prof.data, dict):
        return AccountStats(prof.status, handle, note=f"{handle}: {prof.note}"), []
    stats = profile_stats(prof.data, handle)
    feed = xrpc_get(
        ctx,
        conf.appview,
        gate,
        "app.bsky.feed.getAuthorFeed",
        [("actor", handle), ("limit", "100"), ("filter", "posts_no_replies")],
    )
    posts: list[Post] = []
    items: Iterable[Any] = (
        feed.data.get("feed", []) if feed.status == OK and isinstance(feed.data, dict) else []
    )
    for item in items:
        if not isinstance(item, dict) or item.get("reason"):
            continue  # a repost of someone else's post
        view = item.get("post")
        if not isinstance(view, dict):
            continue
        raw = view.get("record")
        record: dict[str, Any] = raw if isinstance(raw, dict) else {}
        published = _time(record.get("createdAt")) or _time(view.get("indexedAt"))
        if published is None:
            continue
        uri = str(view.get("uri", ""))
        rkey = uri.rsplit("/", 1)[-1]
        url = f"https://bsky.app/profile/{handle}/post/{rkey}"
        posts.append((uri, url, published, bsky_counts(view)))
    if feed.status != OK:
        stats.note = _("{account} feed: {note}").format(account=handle, note=feed.note)
    return stats, posts


def _mastodon(
    conf: Settings, http: Http, gate: Gate, comp: Competitor
) -> tuple[AccountStats, list[Post]]:
    from cmflow.http import HttpError

    acct = comp.mastodon or ""
    base = comp.mastodon_base or ""

    def get(path: str) -> tuple[str, Any, str]:
        closed = gate.closed
        if closed is not None:
            return closed[0], None, closed[1]
        try:
            resp = http.request("GET", base + path)
        except HttpError as exc:
            return "failed", None, str(exc)
        gate.observe(resp.headers)
        if resp.status_code != 200:
            return "failed", None, f"HTTP {resp.status_code}"
        try:
            return OK, resp.json(), ""
        except ValueError:
            return "failed", None, _("no JSON")

    status, account, note = get(f"/api/v1/accounts/lookup?acct={quote(acct, safe='@')}")
    if status != OK or not isinstance(account, dict):
        return AccountStats(
            status if status != OK else "failed",
            acct,
            note=f"{acct}: {note or _('not found')}",
        ), []
    stats = AccountStats(
        OK,
        account=acct,
        followers=as_int(account.get("followers_count")),
        following=as_int(account.get("following_count")),
        posts=as_int(account.get("statuses_count")),
    )
    aid = quote(str(account.get("id", "")), safe="")
    status, items, note = get(
        f"/api/v1/accounts/{aid}/statuses?limit=40&exclude_replies=true&exclude_reblogs=true"
    )
    posts: list[Post] = []
    for s in items if status == OK and isinstance(items, list) else []:
        if not isinstance(s, dict) or s.get("reblog"):
            continue
        published = _time(s.get("created_at"))
        if published is None:
            continue
        posts.append((str(s.get("id")), str(s.get("url") or ""), published, masto_counts(s)))
    if status != OK:
        stats.note = _("{account} statuses: {note}").format(account=acct, note=note)
    return stats, posts
