"""The metrics sections of channels.yaml (`metrics`, `analytics`, `competitors`), read into
plain values with every problem named `channels.yaml:line:col`.

The schema (`cmflow.schema`) already checked kinds and keys; this adds what a schema cannot
say: durations that parse, a schedule in increasing order, account names that look right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from cmflow.errors import ConfigError
from cmflow.i18n import _
from cmflow.model import KeyPath, Mark
from cmflow.timeutil import format_duration, parse_duration

if TYPE_CHECKING:
    from cmflow.config import Config

DEFAULT_SCHEDULE = ("1h", "24h", "7d", "30d")
DEFAULT_APPVIEW = "https://public.api.bsky.app"  # docs.bsky.app: public, unauthenticated reads
DEFAULT_GA_BASE = "https://analyticsdata.googleapis.com/v1beta"
_ACCT = re.compile(r"^@?[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class Point:
    """One age of the snapshot schedule: `label` as written (e.g. "24h"), `age` its length."""

    label: str
    age: timedelta


@dataclass(frozen=True)
class Analytics:
    property: str
    token_env: str
    base_url: str = DEFAULT_GA_BASE
    lookback: int = 3


@dataclass(frozen=True)
class Competitor:
    key: str
    name: str
    bluesky: str | None = None
    mastodon: str | None = None  # user@instance
    mastodon_url: str | None = None

    @property
    def mastodon_base(self) -> str | None:
        if self.mastodon_url:
            return self.mastodon_url.rstrip("/")
        if self.mastodon:
            return "https://" + self.mastodon.lstrip("@").split("@", 1)[1]
        return None


@dataclass(frozen=True)
class Settings:
    schedule: tuple[Point, ...]
    appview: str
    analytics: Analytics | None
    competitors: tuple[Competitor, ...]


def load(cfg: Config) -> Settings:
    """The metrics settings of a loaded config; ConfigError lists every problem."""
    problems: list[str] = []

    def error(path: KeyPath, message: str) -> None:
        mark = Mark(1, 1)
        for i in range(len(path), -1, -1):
            if path[:i] in cfg.marks:
                mark = cfg.marks[path[:i]]
                break
        problems.append(f"channels.yaml:{mark.line}:{mark.column}: {message}")

    raw_schedule = cfg.metrics.get("schedule")
    schedule: list[Point] = []
    items = raw_schedule if isinstance(raw_schedule, list) else list(DEFAULT_SCHEDULE)
    for i, item in enumerate(items):
        try:
            age = parse_duration(item)
        except ValueError as exc:
            error(("metrics", "schedule", i), f"metrics.schedule[{i}]: {exc}")
            continue
        if age <= timedelta(0):
            error(
                ("metrics", "schedule", i),
                _("metrics.schedule[{index}] must be after publishing").format(index=i),
            )
            continue
        label = item.strip() if isinstance(item, str) else format_duration(age)
        if schedule and age <= schedule[-1].age:
            error(
                ("metrics", "schedule", i),
                _(
                    "metrics.schedule[{index}] ({age}) must come after {previous}: list the ages "
                    "in increasing order"
                ).format(index=i, age=label, previous=schedule[-1].label),
            )
            continue
        schedule.append(Point(label, age))
    if isinstance(raw_schedule, list) and not raw_schedule:
        error(("metrics", "schedule"), _("metrics.schedule is empty: list ages such as 24h, 7d"))
    appview = str(cfg.metrics.get("appview") or DEFAULT_APPVIEW).rstrip("/")
    if not appview.startswith(("http://", "https://")):
        error(
            ("metrics", "appview"),
            _("metrics.appview must start with https:// (got {value!r})").format(value=appview),
        )

    analytics = None
    if cfg.analytics is not None:
        a = cfg.analytics
        prop = str(a.get("property", "")).removeprefix("properties/")
        if not prop.isdigit():
            error(
                ("analytics", "property"),
                _(
                    "analytics.property is the GA4 property id, digits only (got {value!r}): "
                    "see Admin > Property details"
                ).format(value=prop),
            )
        base = str(a.get("base_url") or DEFAULT_GA_BASE).rstrip("/")
        lookback = a.get("lookback", 3)
        if not isinstance(lookback, int) or isinstance(lookback, bool) or not 1 <= lookback <= 30:
            error(("analytics", "lookback"), _("analytics.lookback is a number of days, 1 to 30"))
            lookback = 3
        analytics = Analytics(prop, str(a.get("token_env", "")), base, lookback)

    competitors: list[Competitor] = []
    for key, raw in cfg.competitors.items():
        if not isinstance(raw, dict):
            continue
        path: KeyPath = ("competitors", key)
        bsky, masto = raw.get("bluesky"), raw.get("mastodon")
        if not bsky and not masto:
            error(
                path,
                _("competitor {name!r} needs a `bluesky` handle or a `mastodon` account").format(
                    name=key
                ),
            )
        if isinstance(masto, str) and not _ACCT.match(masto):
            error(
                (*path, "mastodon"),
                _(
                    "competitors.{name}.mastodon is an account like rival@mastodon.social "
                    "(got {value!r})"
                ).format(name=key, value=masto),
            )
        competitors.append(
            Competitor(
                str(key),
                str(raw.get("name") or key),
                str(bsky).lstrip("@") if bsky else None,
                str(masto).lstrip("@") if masto else None,
                str(raw["mastodon_url"]) if raw.get("mastodon_url") else None,
            )
        )
    if problems:
        raise ConfigError(problems)
    return Settings(tuple(schedule), appview, analytics, tuple(competitors))
