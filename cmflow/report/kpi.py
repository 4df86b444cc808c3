"""The figures of a report, computed from a `History` (pure: no clock, no files).

Engagement rate: interactions divided by impressions where the platform gives impressions,
else by the account's followers when the post went out; a group's rate is the sum of its
interactions over the sum of its posts' denominators, and says which it used
("impressions", "followers" or "mixed").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from cmflow.report.data import History, PostStat

WEEKDAYS = 7
HOURS = 24
TOP = 5


@dataclass
class Group:
    """Figures of a set of posts (a channel, a pillar, a campaign, a format, a week)."""

    key: str
    posts: int = 0
    interactions: int = 0
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    clicks: int | None = None  # None: no post of the group has a click count
    impressions: int | None = None
    denominator: int = 0
    bases: set[str] = field(default_factory=set)

    def add(self, p: PostStat) -> None:
        c = p.counts
        self.posts += 1
        self.interactions += p.interactions
        self.likes += c.get("likes") or 0
        self.reposts += (c.get("reposts") or 0) + (c.get("shares") or 0)
        self.replies += c.get("replies") or 0
        clicks, impressions = c.get("clicks"), c.get("impressions")
        if clicks is not None:
            self.clicks = (self.clicks or 0) + clicks
        if impressions is not None:
            self.impressions = (self.impressions or 0) + impressions
        if impressions:
            self.denominator += impressions
            self.bases.add("impressions")
        elif p.followers:
            self.denominator += p.followers
            self.bases.add("followers")

    @property
    def rate(self) -> float | None:
        return self.interactions / self.denominator if self.denominator else None

    @property
    def basis(self) -> str:
        if not self.bases:
            return ""
        return next(iter(self.bases)) if len(self.bases) == 1 else "mixed"

    @property
    def per_post(self) -> float:
        return self.interactions / self.posts if self.posts else 0.0


@dataclass
class Growth:
    kind: str
    name: str
    platform: str
    start: int | None
    end: int | None
    series: list[tuple[date, int]]

    @property
    def delta(self) -> int | None:
        return None if self.start is None or self.end is None else self.end - self.start

    @property
    def percent(self) -> float | None:
        d = self.delta
        return None if d is None or not self.start else d / self.start


@dataclass
class SiteRow:
    campaign: str
    sessions: int = 0
    engaged: int = 0
    key_events: int = 0
    posts: int = 0
    interactions: int = 0


@dataclass
class Rival:
    name: str
    platform: str
    followers: int | None
    posts: int
    per_post: float
    rate: float | None


@dataclass
class Report:
    since: date
    until: date
    total: Group
    channels: list[Group]
    pillars: list[Group]
    campaigns: list[Group]
    formats: list[Group]
    weeks: list[Group]
    heat: list[list[tuple[int, float]]]  # [weekday][hour] -> (posts, mean interactions)
    top: list[PostStat]
    bottom: list[PostStat]
    growth: list[Growth]
    site: list[SiteRow]
    site_total: SiteRow
    rivals: list[Rival]
    best_slots: dict[
        str, list[tuple[int, int, int, float]]
    ]  # channel -> (weekday, hour, posts, mean)
    posts: list[PostStat]
    problems: list[str]


def group_by(posts: Iterable[PostStat], key: Callable[[PostStat], str]) -> list[Group]:
    groups: dict[str, Group] = {}
    for p in posts:
        k = key(p)
        groups.setdefault(k, Group(k)).add(p)
    return sorted(groups.values(), key=lambda g: (-g.interactions, g.key))


def build(
    history: History,
    since: date,
    until: date,
    tz: Any,
    channels: Sequence[str] = (),
    campaigns: Sequence[str] = (),
) -> Report:
    def local(t: datetime) -> datetime:
        return t.astimezone(tz)

    def inside(p: PostStat) -> bool:
        return since <= local(p.published_at).date() <= until

    posts = [
        p
        for p in history.posts
        if inside(p)
        and (not channels or p.channel in channels)
        and (not campaigns or p.campaign in campaigns)
    ]
    posts.sort(key=lambda p: (p.published_at, p.channel, p.post))
    total = Group("total")
    for p in posts:
        total.add(p)
    heat_sum = [[(0, 0) for _ in range(HOURS)] for _ in range(WEEKDAYS)]
    slots: dict[str, dict[tuple[int, int], list[int]]] = {}
    for p in posts:
        t = local(p.published_at)
        n, s = heat_sum[t.weekday()][t.hour]
        heat_sum[t.weekday()][t.hour] = (n + 1, s + p.interactions)
        slots.setdefault(p.channel, {}).setdefault((t.weekday(), t.hour), []).append(p.interactions)
    heat = [[(n, s / n if n else 0.0) for n, s in row] for row in heat_sum]
    best: dict[str, list[tuple[int, int, int, float]]] = {}
    for ch, by_slot in sorted(slots.items()):
        order = sorted(
            ((wd, h, len(v), sum(v) / len(v)) for (wd, h), v in by_slot.items()),
            key=lambda x: (
                -(x[3] * min(x[2], 3)),
                -x[2],
                x[0],
                x[1],
            ),  # a slot seen once weighs less
        )
        best[ch] = order[:3]

    def week(p: PostStat) -> str:
        d = local(p.published_at).date()
        monday = d - timedelta(days=d.weekday())
        return monday.isoformat()

    weeks = sorted(group_by(posts, week), key=lambda g: g.key)
    ranked = sorted(posts, key=lambda p: (-p.interactions, p.published_at, p.channel))
    top = ranked[:TOP]
    rest = ranked[TOP:]  # never the same post in both lists
    bottom = sorted(rest[-TOP:], key=lambda p: (p.interactions, p.published_at, p.channel))

    growth = []
    for (kind, name, platform), series in sorted(history.followers.items()):
        if kind == "brand" and channels and name not in channels:
            continue
        inside_series = [(d, n) for d, n in series if since <= d <= until]
        if not inside_series:
            continue
        growth.append(
            Growth(kind, name, platform, inside_series[0][1], inside_series[-1][1], inside_series)
        )

    site: dict[str, SiteRow] = {}
    site_total = SiteRow("total")
    for (day, _source, _medium, campaign), (sessions, engaged, key_events) in history.site.items():
        if not since.isoformat() <= day <= until.isoformat():
            continue
        if campaigns and campaign not in campaigns:
            continue
        row = site.setdefault(campaign, SiteRow(campaign))
        for r in (row, site_total):
            r.sessions += sessions
            r.engaged += engaged
            r.key_events += key_events
    for g in group_by(posts, lambda p: p.campaign or ""):
        if g.key and g.key in site:
            site[g.key].posts, site[g.key].interactions = g.posts, g.interactions
    site_rows = sorted(site.values(), key=lambda r: (-r.sessions, r.campaign))

    rivals: list[Rival] = []
    brand = group_by(posts, lambda p: p.platform)
    for g in brand:
        followers = [
            gr.end
            for gr in growth
            if gr.kind == "brand" and gr.platform == g.key and gr.end is not None
        ]
        rivals.append(
            Rival("", g.key, sum(followers) if followers else None, g.posts, g.per_post, g.rate)
        )
    comp_posts = [p for p in history.competitor_posts if inside(p)]
    for g in group_by(comp_posts, lambda p: f"{p.channel}\x00{p.platform}"):
        name, platform = g.key.split("\x00")
        series = history.followers.get(("competitor", name, platform), [])
        counts = [n for d, n in series if since <= d <= until]
        rivals.append(
            Rival(
                name,
                platform,
                counts[-1] if counts else None,
                g.posts,
                g.per_post,
                g.rate,
            )
        )
    for (kind, name, platform), series in sorted(history.followers.items()):
        if kind == "competitor" and not any(
            r.name == name and r.platform == platform for r in rivals
        ):
            counts = [n for d, n in series if since <= d <= until]
            if counts:
                rivals.append(Rival(name, platform, counts[-1], 0, 0.0, None))
    rivals.sort(key=lambda r: (r.platform, r.name != "", r.name))

    return Report(
        since,
        until,
        total,
        group_by(posts, lambda p: p.channel),
        group_by(posts, lambda p: p.pillar or ""),
        group_by(posts, lambda p: p.campaign or ""),
        group_by(posts, lambda p: p.format),
        weeks,
        heat,
        top,
        bottom,
        growth,
        site_rows,
        site_total,
        rivals,
        best,
        posts,
        list(history.problems),
    )
