"""schedule.*: when posts go out, across the whole queue."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise

from cmflow import vocabulary
from cmflow.i18n import _
from cmflow.model import Finding, Level, Post
from cmflow.platforms import can_publish
from cmflow.rules.base import PostContext, QueueContext, Rule
from cmflow.timeutil import format_duration, shown


def window(ctx: PostContext) -> Iterator[Finding]:
    windows = ctx.channel.rules.posting_windows
    date = ctx.post.date
    if not windows or date is None:
        return
    local = date.astimezone(ctx.config.timezone)
    if not any(w.contains(local) for w in windows):
        allowed = "; ".join(w.text for w in windows)
        yield ctx.finding(
            "schedule.window",
            ctx.post.mark("date"),
            _("{time} is outside the posting windows ({windows})").format(
                time=_weekday_time(local), windows=allowed
            ),
        )


def _weekday_time(local: datetime) -> str:
    """`Tue 24 Nov 09:30 CET` (`mar. 24 nov. 09:30 CET` in French): the locale's names of
    days and months are not used (the process locale is rarely the brand's)."""
    days = (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))
    months = (
        _("Jan"),
        _("Feb"),
        _("Mar"),
        _("Apr"),
        _("May"),
        _("Jun"),
        _("Jul"),
        _("Aug"),
        _("Sep"),
        _("Oct"),
        _("Nov"),
        _("Dec"),
    )
    return f"{days[local.weekday()]} {local:%d} {months[local.month - 1]} {local:%H:%M %Z}"


def _queue(ctx: QueueContext, channel: str) -> list[Post]:
    return sorted(
        (p for p in ctx.posts if channel in p.channels and p.status == "ready" and p.date),
        key=lambda p: (p.date, p.path),
    )


def _finding(post: Post, rule: str, channel: str, message: str, level: Level = "error") -> Finding:
    mark = post.mark("date")
    return Finding(post.path, mark.line, mark.column, level, rule, message, channel)


def daily_cap(ctx: QueueContext) -> Iterator[Finding]:
    tz = ctx.config.timezone
    for ch in ctx.config.channels.values():
        cap = ch.rules.max_per_day
        if cap is None:
            continue
        days: dict[object, list[Post]] = defaultdict(list)
        for p in _queue(ctx, ch.name):
            assert p.date is not None
            days[p.date.astimezone(tz).date()].append(p)
        for day, posts in days.items():
            for p in posts[cap:]:
                others = ", ".join(o.path for o in posts if o is not p)
                yield _finding(
                    p,
                    "schedule.daily-cap",
                    ch.name,
                    _("{count} posts on {day}, at most {limit} a day (also: {others})").format(
                        count=len(posts), day=day, limit=cap, others=others
                    ),
                )


def min_gap(ctx: QueueContext) -> Iterator[Finding]:
    for ch in ctx.config.channels.values():
        gap = ch.rules.min_gap
        if gap is None:
            continue
        posts = _queue(ctx, ch.name)
        for before, after in pairwise(posts):
            assert before.date is not None and after.date is not None
            delta = after.date - before.date
            if delta < gap:
                yield _finding(
                    after,
                    "schedule.min-gap",
                    ch.name,
                    _("{gap} after {other}, the minimum gap is {minimum}").format(
                        gap=format_duration(delta), other=before.path, minimum=format_duration(gap)
                    ),
                )


def past(ctx: QueueContext) -> Iterator[Finding]:
    for p in ctx.posts:
        if p.status != "ready" or p.date is None or p.date > ctx.now:
            continue
        for name in p.channels:
            if (p.id, name) in ctx.record:
                continue
            ch = ctx.config.channels.get(name)
            if ch is None or not ch.enabled or not can_publish(ch.platform):
                continue  # nothing will be sent there: no point warning that it is late
            catch_up = ctx.config.catch_up_for(ch)
            late = ctx.now - p.date
            # The same words as `cmflow plan` for the same state.
            fate = (
                _("the next publish run will still send it")
                if late <= catch_up
                else _("missed: {why}").format(why=vocabulary.missed(catch_up))
            )
            yield _finding(
                p,
                "schedule.past",
                name,
                _("scheduled {ago} ago and not published: {fate}").format(
                    ago=vocabulary.ago(late), fate=fate
                ),
                "warning",
            )


def humanize(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


def edited_after_publish(ctx: QueueContext) -> Iterator[Finding]:
    if ctx.rendered_hash is None or not ctx.record:
        return
    for p in ctx.posts:
        for name in p.channels:
            sent = ctx.record.get((p.id, name))
            ch = ctx.config.channels.get(name)
            if sent is None or ch is None or not sent.content_hash:
                continue
            if ctx.rendered_hash(p, ch) != sent.content_hash:
                tz = ctx.config.timezone
                when = shown(sent.published_at, tz) if sent.published_at else ""
                yield _finding(
                    p,
                    "schedule.edited-after-publish",
                    name,
                    (
                        _("changed since it was published on {when}: {fate}")
                        if when
                        else _("changed since it was published: {fate}")
                    ).format(when=when, fate=vocabulary.edit_fate(ch, sent.url)),
                    "warning",
                )


RULES = (
    Rule(
        "schedule.window",
        "error",
        lambda: _("scheduled outside the channel's posting windows"),
        post=window,
    ),
    Rule(
        "schedule.daily-cap",
        "error",
        lambda: _("more posts on a channel that day than max_per_day"),
        queue=daily_cap,
        stable=True,
    ),
    Rule(
        "schedule.min-gap",
        "error",
        lambda: _("two posts on a channel closer than min_gap"),
        queue=min_gap,
        stable=True,
    ),
    Rule(
        "record.unreadable",
        "error",
        lambda: _(
            "a file in data/record/ is not a publish record cmflow can read (its post is held)"
        ),
    ),
    Rule(
        "schedule.past",
        "warning",
        lambda: _("a ready, unpublished post whose date has passed"),
        queue=past,
    ),
    Rule(
        "schedule.edited-after-publish",
        "warning",
        lambda: _("a published post's content changed since publishing"),
        queue=edited_after_publish,
    ),
)
