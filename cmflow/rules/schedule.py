"""schedule.*: when posts go out, across the whole queue."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cmflow import i18n, vocabulary
from cmflow.config import Channel, Config
from cmflow.i18n import _
from cmflow.model import Finding, Level, Post, as_sent
from cmflow.platforms import can_publish
from cmflow.rules.base import PostContext, QueueContext, Rule
from cmflow.slotdates import slot_label
from cmflow.slots import local
from cmflow.timeutil import Window, format_duration, shown


def next_text(when: datetime, tz: ZoneInfo) -> str:
    """`the next time that passes is Mon 7 Dec 09:00 (Europe/Paris)`."""
    t = when.astimezone(tz)
    return _("the next time that passes is {time} ({zone})").format(
        time=f"{_days()[t.weekday()]} {t.day} {_months()[t.month - 1]} {t:%H:%M}", zone=tz
    )


def next_in_window(when: datetime, windows: Sequence[Window], tz: ZoneInfo) -> datetime | None:
    """The first moment at or after `when` inside one of the weekly `windows` (local time)."""
    day = when.astimezone(tz).date()
    best: datetime | None = None
    for i in range(8):
        d = day + timedelta(days=i)
        for w in windows:
            if d.weekday() not in w.days:
                continue
            start = local(d, w.start, tz)
            end = (
                local(d + timedelta(days=1), time(0, 0), tz)
                if w.end == time.max
                else local(d, w.end, tz)
            )
            candidate = start if start >= when else when if when < end else None
            if candidate is not None and (best is None or candidate < best):
                best = candidate
        if best is not None:
            return best
    return None


def outside_window(post: Post, channel: Channel, tz: ZoneInfo) -> Finding | None:
    """schedule.window for one (post, channel), at the post's date (its own, or its slot's)."""
    windows = channel.rules.posting_windows
    date = post.date
    if not windows or date is None:
        return None
    when = date.astimezone(tz)
    if any(w.contains(when) for w in windows):
        return None
    allowed = "; ".join(w.text for w in windows)
    label = f" ({slot_label()})" if post.slot is not None else ""
    nxt = next_in_window(when, windows, tz)
    then = f": {next_text(nxt, tz)}" if nxt is not None else ""
    mark = post.mark("date")
    return Finding(
        post.path,
        mark.line,
        mark.column,
        "error",
        "schedule.window",
        _("{time} is outside the posting windows ({windows})").format(
            time=_weekday_time(when) + label, windows=allowed
        )
        + then,
        channel.name,
    )


def window(ctx: PostContext) -> Iterator[Finding]:
    if ctx.post.slot is not None:
        return  # its time depends on the queue: checked once it is known (no_slot below)
    found = outside_window(ctx.post, ctx.channel, ctx.config.timezone)
    if found is not None:
        yield found


def _weekday_time(local: datetime) -> str:
    """`Tue 24 Nov 09:30 CET` (`mar. 24 nov. 09:30 CET` in French): the locale's names of
    days and months are not used (the process locale is rarely the brand's)."""
    days, months = _days(), _months()
    return f"{days[local.weekday()]} {local:%d} {months[local.month - 1]} {local:%H:%M %Z}"


def _days() -> tuple[str, ...]:
    return i18n.day_names()


def _months() -> tuple[str, ...]:
    return i18n.month_names()


def _finding(post: Post, rule: str, channel: str, message: str, level: Level = "error") -> Finding:
    mark = post.mark("date")
    return Finding(post.path, mark.line, mark.column, level, rule, message, channel)


def next_with_room(
    when: datetime,
    counts: Mapping[date, int],
    cap: int,
    tz: ZoneInfo,
    free: dict[date, date] | None = None,
) -> datetime:
    """The same wall-clock time on the first later day with fewer than `cap` posts
    (`counts`: posts per local day). `free`: for each full day met, the first day after it
    with room, kept across calls with the same counts (a long run of full days is walked
    once, not once per post in it)."""
    t = when.astimezone(tz)
    d = t.date() + timedelta(days=1)
    full: list[date] = []
    while counts.get(d, 0) >= cap:
        if free is not None and d in free:
            d = free[d]
            break
        full.append(d)
        d += timedelta(days=1)
    if free is not None:
        for f in full:
            free[f] = d
    return local(d, t.time().replace(tzinfo=None), tz)


def next_apart(when: datetime, others: Sequence[datetime], gap: timedelta) -> datetime:
    """The first moment at or after `when` at least `gap` from every one of `others`
    (sorted)."""
    t = when
    while True:
        lo = bisect_right(others, t - gap)
        hi = bisect_left(others, t + gap)
        if lo >= hi:
            return t
        t = others[hi - 1] + gap


def daily_cap(ctx: QueueContext) -> Iterator[Finding]:
    tz = ctx.config.timezone
    for ch in ctx.config.channels.values():
        cap = ch.rules.max_per_day
        if cap is None:
            continue
        posts = ctx.queue(ch.name)
        if cap > 0 and len(posts) <= cap:
            continue  # no day can hold more
        days: dict[date, list[Post]] = defaultdict(list)
        for p, day in zip(posts, _local_days(posts, tz), strict=True):
            days[day].append(p)
        counts = {d: len(ps) for d, ps in days.items()}
        free: dict[date, date] = {}
        for day, posts in days.items():
            for p in posts[cap:]:
                assert p.date is not None
                others = ", ".join(o.path for o in posts if o is not p)
                nxt = next_with_room(p.date, counts, cap, tz, free)
                yield _finding(
                    p,
                    "schedule.daily-cap",
                    ch.name,
                    _("{count} posts on {day}, at most {limit} a day (also: {others})").format(
                        count=len(posts), day=f"{day}{_slot(p)}", limit=cap, others=others
                    )
                    + f": {next_text(nxt, tz)}",
                )


def _local_days(posts: list[Post], tz: ZoneInfo) -> list[date]:
    """Each post's day in the brand's zone."""
    return [p.date.astimezone(tz).date() for p in posts]  # type: ignore[union-attr]


def min_gap(ctx: QueueContext) -> Iterator[Finding]:
    tz = ctx.config.timezone
    for ch in ctx.config.channels.values():
        gap = ch.rules.min_gap
        if gap is None:
            continue
        posts = ctx.queue(ch.name)
        dates = [p.date for p in posts]
        instants = [d.astimezone(UTC) for d in dates]  # type: ignore[union-attr]
        close = [k for k in range(1, len(posts)) if instants[k] - instants[k - 1] < gap]
        if not close:
            continue
        apart = _Apart(dates, gap)  # type: ignore[arg-type]
        for k in close:
            before, after = posts[k - 1], posts[k]
            assert after.date is not None
            delta = instants[k] - instants[k - 1]
            nxt = apart.next(k)
            yield _finding(
                after,
                "schedule.min-gap",
                ch.name,
                _("{gap} after {other}, the minimum gap is {minimum}").format(
                    gap=format_duration(delta),
                    other=f"{before.path}{_slot(after)}",
                    minimum=format_duration(gap),
                )
                + f": {next_text(nxt, tz)}",
            )


class _Apart:
    """`next_apart(dates[k], dates without k, gap)` for each k, in O(log n) each: the search
    hops from one post to the last one closer than the gap (at `dates[j] + gap`), and where a
    hop from post j ends does not depend on k once j is past k (memoised in `_end`)."""

    def __init__(self, dates: list[datetime], gap: timedelta) -> None:
        self.dates = dates
        self.gap = gap
        # j -> (where hopping on from dates[j] + gap ends, the lowest first conflicting
        # position met on the way: valid for a post k below it)
        self._end: dict[int, tuple[datetime, int]] = {}

    def next(self, k: int) -> datetime:
        dates, gap = self.dates, self.gap
        t = dates[k]
        while True:
            lo = bisect_right(dates, t - gap)
            hi = bisect_left(dates, t + gap)
            last = hi - 1 if hi - 1 != k else hi - 2
            if last < lo:  # nothing closer than the gap but k itself
                return t
            if last > k:
                end, lowest = self._hop(last)
                if lowest > k:
                    return end
            t = dates[last] + gap

    def _hop(self, j: int) -> tuple[datetime, int]:
        """Where `next_apart` ends from dates[j] + gap over every date (none left out), and
        the lowest `lo` of its steps."""
        dates, gap, memo = self.dates, self.gap, self._end
        path: list[tuple[int, int]] = []
        while j not in memo:
            t = dates[j] + gap
            lo = bisect_right(dates, t - gap)
            hi = bisect_left(dates, t + gap)
            if hi - 1 < lo:
                memo[j] = (t, lo)
                break
            if hi - 1 <= j:  # would not move forward: not memoised, hop by hop
                memo[j] = (t, -1)
                break
            path.append((j, lo))
            j = hi - 1
        end, lowest = memo[j]
        for i, lo in reversed(path):
            lowest = min(lowest, lo)
            memo[i] = (end, lowest)
        return memo[j] if not path else memo[path[0][0]]


def _slot(p: Post) -> str:
    """Said when the post's time came from a queue slot."""
    if p.slot is None or p.date is None:
        return ""
    return " " + _("(its time, {time}, is a queue slot)").format(time=f"{p.date:%H:%M}")


def past(ctx: QueueContext) -> Iterator[Finding]:
    now, record, config = ctx.now, ctx.record, ctx.config
    now_utc = now.astimezone(UTC)
    # Per channel, once: whether anything will be sent there, and how late it still may be.
    catch_ups: dict[str, timedelta | None] = {}
    fates: dict[tuple[timedelta, bool], str] = {}  # (catch-up, still sent) -> its words
    for p in ctx.maybe_unsent():
        when = p.date
        if p.status != "ready" or when is None or when > now:
            continue
        post_id = p.id
        drafts = "variants" in p.meta  # a variant may make one channel a draft
        for name in p.channels:
            if (post_id, name) in record:
                sent = record[(post_id, name)]
                if sent.renamed is not None:  # held as the publisher holds it
                    at = shown(sent.published_at, config.timezone) if sent.published_at else ""
                    yield _finding(
                        p,
                        "schedule.past",
                        name,
                        vocabulary.renamed(sent.renamed, at, sent.url or ""),
                        "warning",
                    )
                    continue
                if sent.failed is None:
                    continue
                # Refused as it is: not sent again so, unless what the channel would receive
                # differs (the post, channels.yaml), as the publisher decides it.
                ch = config.channels.get(name)
                prints = ctx.rendered_hash
                if (
                    ch is not None
                    and prints is not None
                    and sent.content_hash
                    and prints(p, ch) == sent.content_hash
                ):
                    yield _finding(
                        p,
                        "schedule.past",
                        name,
                        vocabulary.failed(sent.failed, post_id, name),
                        "warning",
                    )
                    continue
                # Changed since it was refused: due again, as any post.
            if drafts and p.field("status", name) == "draft":
                continue  # held by the publisher as a draft there
            if name not in catch_ups:
                catch_ups[name] = _catch_up(config, name)
            catch_up = catch_ups[name]
            if catch_up is None:
                continue  # nothing will be sent there: no point warning that it is late
            # Time elapsed, not wall-clock difference: the same across a DST change whether
            # the date carries the zone (read from the file) or an offset (from the cache).
            late = now_utc - when.astimezone(UTC)
            # The same words as `cmflow plan` for the same state.
            goes = late <= catch_up
            fate = fates.get((catch_up, goes))
            if fate is None:
                fate = fates[(catch_up, goes)] = (
                    _("the next publish run will still send it")
                    if goes
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


def _catch_up(config: Config, name: str) -> timedelta | None:
    """How late a due post may still go out on channel `name`; None when nothing is sent
    there (unknown, disabled, or a channel cmflow does not publish to)."""
    ch = config.channels.get(name)
    if ch is None or not ch.enabled or not can_publish(ch.platform):
        return None
    return config.catch_up_for(ch)


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
    record, channels, rendered_hash = ctx.record, ctx.config.channels, ctx.rendered_hash
    tz = ctx.config.timezone
    shared: set[str] | None = None  # ids two posts give themselves (see below)
    for p in ctx.posts:
        post_id = p.id
        for name in p.channels:
            sent = record.get((post_id, name))
            if sent is None or not sent.content_hash or sent.failed is not None:
                continue
            if as_sent(sent.source_hash, p):  # only its rendering may differ: not an edit
                continue
            ch = channels.get(name)
            if ch is None:
                continue
            if shared is None:
                shared = _shared_ids(ctx.posts)
            if post_id in shared:
                # Which of them went out under it, the record cannot say (a copied file
                # keeps the original's `id:`): frontmatter.duplicate-id asks for the fix.
                continue
            if rendered_hash(p, ch) != sent.content_hash:
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


def _shared_ids(posts: Sequence[Post]) -> set[str]:
    seen: set[str] = set()
    shared: set[str] = set()
    for p in posts:
        (shared if p.id in seen else seen).add(p.id)
    return shared


RULES = (
    Rule(
        "schedule.window",
        "error",
        lambda: _("scheduled outside the channel's posting windows"),
        post=window,
        applies=lambda c: bool(c.rules.posting_windows),
    ),
    Rule(
        "schedule.no-slot",
        "error",
        lambda: _("a post dated `next` or a day alone finds no free queue slot on its channels"),
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
        settled=True,
    ),
)
