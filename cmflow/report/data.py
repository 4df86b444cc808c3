"""The metrics history, read for a report: each post's latest snapshot joined with what its
file says (pillar, campaign, format), followers over time, site traffic, competitors.

Post metadata comes from the posts themselves (`cmflow.content`), not from the snapshots,
so fixing a post's pillar fixes past reports too. A post whose file is gone keeps its
figures, with an unknown pillar and campaign.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmflow.metrics import store
from cmflow.metrics.store import COUNTS, INTERACTIONS

if TYPE_CHECKING:
    from cmflow.config import Config

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm")


@dataclass(frozen=True)
class Meta:
    pillar: str | None = None
    campaign: str | None = None
    title: str = ""
    media: tuple[str, ...] = ()  # media paths (variant applied per channel)


@dataclass
class PostStat:
    """One published (post, channel) with its latest snapshot."""

    post: str
    channel: str
    platform: str
    url: str
    published_at: datetime
    age: str
    counts: dict[str, int | None]
    pillar: str | None = None
    campaign: str | None = None
    format: str = "text"
    title: str = ""
    followers: int | None = None  # the account's followers when it was published (nearest)

    @property
    def interactions(self) -> int:
        return sum(self.counts.get(k) or 0 for k in INTERACTIONS)

    @property
    def impressions(self) -> int | None:
        return self.counts.get("impressions")

    @property
    def denominator(self) -> tuple[int | None, str]:
        """What the engagement rate divides by: impressions where known, else followers."""
        if self.impressions:
            return self.impressions, "impressions"
        if self.followers:
            return self.followers, "followers"
        return None, ""


@dataclass
class History:
    posts: list[PostStat] = field(default_factory=list)
    # (kind, name, platform) -> [(day, followers)], oldest first, one per day (the last)
    followers: dict[tuple[str, str, str], list[tuple[date, int]]] = field(default_factory=dict)
    # (date, source, medium, campaign) -> (sessions, engaged, key events), latest snapshot
    site: dict[tuple[str, str, str, str], tuple[int, int, int]] = field(default_factory=dict)
    competitor_posts: list[PostStat] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def post_meta(cfg: Config) -> dict[str, tuple[dict[str, Any], Meta]]:
    """post id -> (its front-matter, its metadata), from the post files."""
    from cmflow import content

    out: dict[str, tuple[dict[str, Any], Meta]] = {}
    rels = content.discover(cfg.root, cfg.content_dir)
    for _rel, _raw, post in content.load_all(cfg.root, rels, cfg.timezone, cfg.channels):
        meta = post.meta
        title = meta.get("title") if isinstance(meta.get("title"), str) else ""
        out[post.id] = (
            meta,
            Meta(
                _str(meta.get("pillar")),
                _str(meta.get("campaign")),
                title or first_line(post.body),
                tuple(m.path for m in post.media()),
            ),
        )
    return out


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def first_line(body: str, width: int = 60) -> str:
    for line in body.splitlines():
        text = line.strip().lstrip("#>*- ").strip()
        if text and not text.startswith("<!--"):
            return text if len(text) <= width else text[: width - 1] + "…"
    return ""


def channel_meta(front: Mapping[str, Any], base: Meta, channel: str) -> Meta:
    """The post's metadata as `channel` received it (variants may override fields)."""
    variants = front.get("variants")
    v = variants.get(channel) if isinstance(variants, dict) else None
    if not isinstance(v, dict):
        return base
    media = base.media
    if isinstance(v.get("media"), list):
        media = tuple(
            str(m.get("path")) if isinstance(m, dict) else str(m) for m in v["media"] if m
        )
    return Meta(
        _str(v.get("pillar")) or base.pillar,
        _str(v.get("campaign")) or base.campaign,
        base.title,
        media,
    )


def post_format(media: Iterable[str], thread: bool) -> str:
    media = list(media)
    if any(m.lower().endswith(VIDEO_SUFFIXES) for m in media):
        return "video"
    if thread:
        return "thread"
    return "image" if media else "text"


def _counts(row: store.Row) -> dict[str, int | None]:
    return {k: store.number(row.get(k)) for k in COUNTS}


def latest_posts(
    rows: Iterable[store.Row], key_cols: tuple[str, ...]
) -> dict[tuple[str, ...], store.Row]:
    """The latest `ok` snapshot of each post."""
    out: dict[tuple[str, ...], store.Row] = {}
    for row in rows:
        if row["status"] != "ok":
            continue
        key = tuple(row[c] for c in key_cols)
        old = out.get(key)
        if old is None or row["collected_at"] >= old["collected_at"]:
            out[key] = row
    return out


def load(cfg: Config, root: Path | None = None) -> History:
    st = store.Store(root or cfg.root, cfg.data_dir)
    history = History()
    metas = post_meta(cfg)
    # Followers first: each post's engagement per follower uses the count when it went out.
    daily: dict[tuple[str, str, str], dict[date, int]] = {}
    for row in st.rows("accounts"):
        n = store.number(row["followers"])
        t = store.parse_stamp(row["collected_at"])
        if row["status"] != "ok" or n is None or t is None:
            continue
        day = t.astimezone(cfg.timezone).date()
        daily.setdefault((row["kind"], row["name"], row["platform"]), {})[day] = n
    history.followers = {k: sorted(v.items()) for k, v in daily.items()}
    for row in latest_posts(st.rows("posts"), ("channel", "post")).values():
        published = store.parse_stamp(row["published_at"])
        if published is None:
            continue
        front, meta = metas.get(row["post"], ({}, Meta()))
        meta = channel_meta(front, meta, row["channel"])
        stat = PostStat(
            row["post"],
            row["channel"],
            row["platform"],
            row["url"],
            published,
            row["age"],
            _counts(row),
            meta.pillar,
            meta.campaign,
            post_format(meta.media, row["note"] == "thread"),
            meta.title or row["post"],
        )
        stat.followers = followers_at(
            history.followers.get(("brand", row["channel"], row["platform"]), []),
            published.astimezone(cfg.timezone).date(),
        )
        history.posts.append(stat)
    for row in latest_posts(st.rows("competitors"), ("channel", "platform", "remote_id")).values():
        published = store.parse_stamp(row["published_at"])
        if published is None:
            continue
        stat = PostStat(
            "", row["channel"], row["platform"], row["url"], published, row["age"], _counts(row)
        )
        stat.followers = followers_at(
            history.followers.get(("competitor", row["channel"], row["platform"]), []),
            published.astimezone(cfg.timezone).date(),
        )
        history.competitor_posts.append(stat)
    site: dict[tuple[str, str, str, str], tuple[str, tuple[int, int, int]]] = {}
    for row in st.rows("site"):
        if row["status"] != "ok" or not row["date"] or not row["sessions"]:
            continue
        key = (row["date"], row["source"], row["medium"], row["campaign"])
        value = (
            store.number(row["sessions"]) or 0,
            store.number(row["engaged_sessions"]) or 0,
            store.number(row["key_events"]) or 0,
        )
        old = site.get(key)
        if old is None or row["collected_at"] >= old[0]:
            site[key] = (row["collected_at"], value)
    history.site = {k: v[1] for k, v in site.items()}
    history.problems = [str(p) for p in st.problems]
    return history


def followers_at(series: list[tuple[date, int]], day: date) -> int | None:
    """The follower count on `day`: the last snapshot on or before it, else the first after."""
    if not series:
        return None
    i = bisect.bisect_right(series, (day, float("inf")))
    return series[i - 1][1] if i else series[0][1]
