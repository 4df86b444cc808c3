"""The metrics history, read for a report: each post's latest snapshot joined with what its
file says (pillar, campaign, format), followers over time, site traffic, competitors.

Post metadata comes from the posts themselves (`cmflow.content`), not from the snapshots,
so fixing a post's pillar fixes past reports too. A post whose file is gone keeps its
figures, with an unknown pillar and campaign.
"""

from __future__ import annotations

import bisect
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmflow.metrics import store
from cmflow.metrics.store import COUNTS, INTERACTIONS

if TYPE_CHECKING:
    from cmflow.config import Config

try:  # libyaml, as cmflow.yamlload uses
    from yaml import CSafeLoader as _LOADER
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _LOADER  # type: ignore[assignment]

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
    interactions: int = field(init=False)

    def __post_init__(self) -> None:
        counts = self.counts
        self.interactions = sum(counts.get(k) or 0 for k in INTERACTIONS)

    @property
    def impressions(self) -> int | None:
        return self.counts.get("impressions")

    @property
    def denominator(self) -> tuple[int | None, str]:
        """What the engagement rate divides by: impressions where known, else followers."""
        impressions = self.counts.get("impressions")
        if impressions:
            return impressions, "impressions"
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
    """post id -> (its front-matter, its metadata), from the post files.

    Only a few fields are needed, for thousands of files: the front-matter is read with
    libyaml directly (no positions, no rules); a file that is unusual in any way (a link,
    not UTF-8, anchors, invalid YAML) goes through the full parser of `cmflow.content`,
    which refuses what it must and reports nothing here."""
    from cmflow import content

    out: dict[str, tuple[dict[str, Any], Meta]] = {}
    for rel in content.discover(cfg.root, cfg.content_dir):
        stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        found = _quick_front(cfg.root, rel)
        if found is None:
            post = next(content.load_all(cfg.root, [rel], cfg.timezone, cfg.channels))[2]
            front, body, pid = post.meta, post.body, post.id
        else:
            front, body = found
            raw_id = front.get("id")
            ok_id = isinstance(raw_id, str | int) and not isinstance(raw_id, bool)
            pid = str(raw_id) if ok_id else stem
        title = front.get("title") if isinstance(front.get("title"), str) else ""
        out[pid] = (
            front,
            Meta(
                _str(front.get("pillar")),
                _str(front.get("campaign")),
                title or first_line(body),
                _media(front.get("media")),
            ),
        )
    return out


def _media(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for item in raw:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("path"), str):
            out.append(item["path"])
    return tuple(out)


def _quick_front(root: Path, rel: str) -> tuple[dict[str, Any], str] | None:
    """(front-matter, body) of a plain post file, None when anything is unusual."""
    import yaml

    from cmflow import content

    try:
        fd = os.open(root / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > content.MAX_BYTES:
            return None
        raw = os.read(fd, content.MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None
    front, body, _ = content.split_front_matter(text)
    if front is None or "&" in front or "*" in front:  # anchors: the full parser decides
        return None
    try:
        data = yaml.load(front, Loader=_LOADER)
    except yaml.YAMLError:
        return None
    return (data, body) if isinstance(data, dict) else None


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


_COL = {c: i for i, c in enumerate(store.POST_COLUMNS)}
_COUNT_AT = [(k, _COL[k]) for k in COUNTS]


def _counts(values: list[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for key, i in _COUNT_AT:
        cell = values[i]
        out[key] = (int(cell) if cell.isdigit() else store.number(cell)) if cell else None
    return out


def latest_posts(
    records: Iterable[list[str]], key_cols: tuple[str, ...]
) -> dict[tuple[str, ...], list[str]]:
    """The latest `ok` snapshot of each post (rows as `store.records` gives them)."""
    out: dict[tuple[str, ...], list[str]] = {}
    at, status = _COL["collected_at"], _COL["status"]
    keys = [_COL[c] for c in key_cols]
    for values in records:
        if values[status] != "ok":
            continue
        key = tuple(values[k] for k in keys)
        old = out.get(key)
        if old is None or values[at] >= old[at]:
            out[key] = values
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
    c = _COL
    local_day: dict[str, date] = {}  # published_at -> local date (many posts share a stamp)
    for v in latest_posts(st.records("posts"), ("channel", "post")).values():
        published = store.parse_stamp(v[c["published_at"]])
        if published is None:
            continue
        post, channel, platform = v[c["post"]], v[c["channel"]], v[c["platform"]]
        front, meta = metas.get(post, ({}, Meta()))
        meta = channel_meta(front, meta, channel)
        ps = PostStat(
            post,
            channel,
            platform,
            v[c["url"]],
            published,
            v[c["age"]],
            _counts(v),
            meta.pillar,
            meta.campaign,
            post_format(meta.media, v[c["note"]] == "thread"),
            meta.title or post,
        )
        pday = local_day.get(v[c["published_at"]])
        if pday is None:
            pday = local_day[v[c["published_at"]]] = published.astimezone(cfg.timezone).date()
        ps.followers = followers_at(history.followers.get(("brand", channel, platform), []), pday)
        history.posts.append(ps)
    for v in latest_posts(st.records("competitors"), ("channel", "platform", "remote_id")).values():
        published = store.parse_stamp(v[c["published_at"]])
        if published is None:
            continue
        ps = PostStat(
            "", v[c["channel"]], v[c["platform"]], v[c["url"]], published, v[c["age"]], _counts(v)
        )
        series = history.followers.get(("competitor", ps.channel, ps.platform), [])
        ps.followers = followers_at(series, published.astimezone(cfg.timezone).date())
        history.competitor_posts.append(ps)
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
