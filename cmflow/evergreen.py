"""Evergreen posts: a published post goes out again after an interval, a few times.

A post opts in with `evergreen: {every: 90d, times: 3}` in its front-matter, or with
`evergreen: true` to take its channel's policy (`channels.<name>.evergreen` in
channels.yaml); a mapping in the post overrides the channel's keys one by one. `times` is
how many re-posts follow the first publication.

Each re-post is a publication of its own: a new record entry (`<channel>@<n>.json`, n = 2
for the first re-post), claimed, sent and recorded like a first publication, never an edit
of an earlier one. Re-post n is planned once publication n-1 is out, into the channel's
first free slot after publication n-1 + `every` (`slots:`; see cmflow.slots), or, on a
channel without slots, at the original post's time of day. A re-post whose moment passed
more than the catch-up window ago (the publish job was off) takes the first slot within
the window: a re-post is never missed, it comes a little later.

Pure functions, no clock: `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cmflow.i18n import _
from cmflow.ledger import Entry, Index, parse_time
from cmflow.model import Post, State
from cmflow.slots import Slot, local, next_free
from cmflow.timeutil import format_duration, parse_duration

if TYPE_CHECKING:
    from cmflow.config import Channel, Config

MIN_EVERY = timedelta(days=7)  # more often reads as spam to followers and platforms
MAX_TIMES = 20
# Channels that keep one page or article per post: a second publication would only
# replace the first (the site's manifest, a dev.to article), so they are never re-posted.
NOT_REPOSTED = frozenset({"feed", "devto"})
# Re-posts that are done: the next one is planned from them.
_DONE = (State.PUBLISHED, State.MISSED, State.SKIPPED)


@dataclass(frozen=True)
class Policy:
    every: timedelta
    times: int  # re-posts after the first publication


def reposts_on(channel: Channel) -> bool:
    """Whether a post can go out again on this channel."""
    return channel.platform not in NOT_REPOSTED


def check(value: Any) -> tuple[dict[str, Any], list[tuple[str | None, str]]]:
    """The keys of a policy mapping that are right, and what is wrong with the others:
    (key or None for the mapping itself, message). Kinds are the schema's business."""
    good: dict[str, Any] = {}
    problems: list[tuple[str | None, str]] = []
    if not isinstance(value, dict):
        return good, problems
    if "every" in value and value["every"] is not None and not isinstance(value["every"], bool):
        try:
            every = parse_duration(value["every"])
        except ValueError as exc:
            problems.append(("every", _("evergreen.every: {problem}").format(problem=exc)))
        else:
            if every < MIN_EVERY:
                message = _(
                    "evergreen.every is {every}: re-posting more often than every {minimum} "
                    "tires followers; write e.g. 90d"
                ).format(every=format_duration(every), minimum=format_duration(MIN_EVERY))
                problems.append(("every", message))
            else:
                good["every"] = every
    times = value.get("times")
    if isinstance(times, int) and not isinstance(times, bool):
        if not 1 <= times <= MAX_TIMES:
            message = _("evergreen.times is {times}: write how many re-posts, 1 to {maximum}")
            problems.append(("times", message.format(times=times, maximum=MAX_TIMES)))
        else:
            good["times"] = times
    return good, problems


def policy(raw: Any) -> Policy | None:
    """A complete, valid policy mapping as a Policy, else None."""
    good, problems = check(raw)
    if problems or "every" not in good or "times" not in good:
        return None
    return Policy(good["every"], good["times"])


def for_pair(post: Post, channel: Channel, channel_policy: Policy | None) -> Policy | None:
    """The policy that applies to `post` on `channel`, None when it is not re-posted there
    (not opted in, a channel that is never re-posted, or a policy with problems, which
    validation reports)."""
    if not reposts_on(channel):
        return None
    raw = post.field("evergreen", channel.name)
    if raw is True:
        return channel_policy
    if not isinstance(raw, dict):
        return None
    base: dict[str, Any] = (
        {"every": channel_policy.every, "times": channel_policy.times} if channel_policy else {}
    )
    good, problems = check(raw)
    if problems:
        return None
    merged = {**base, **good}
    if "every" not in merged or "times" not in merged:
        return None
    return Policy(merged["every"], merged["times"])


@dataclass(frozen=True)
class Repost:
    """One planned or recorded re-post of a (post, channel)."""

    post: Post
    channel: str
    publication: int  # 2 for the first re-post
    times: int
    when: datetime  # planned (or, once claimed, the moment it was scheduled for)
    entry: Entry | None  # this publication's record entry, once it has one
    ready: bool  # the publication before it is out: a run may act on it (else projected)

    @property
    def label(self) -> str:
        return label(self.publication, self.times)


def label(publication: int, times: int) -> str:
    return _("re-post {number}/{times}").format(number=publication - 1, times=times)


def after(prev: datetime, every: timedelta, tz: ZoneInfo) -> datetime:
    """`every` after `prev` on the wall clock: 90d after 09:00 is 09:00, across a DST change."""
    naive = prev.astimezone(tz).replace(tzinfo=None) + every
    return local(naive.date(), naive.time(), tz)


def moment(
    earliest: datetime,
    original: datetime,
    slots: Iterable[Slot],
    tz: ZoneInfo,
    taken: Iterable[datetime],
) -> datetime | None:
    """The first free slot at or after `earliest`; without slots, the first moment at or
    after it at the original's time of day."""
    slots = tuple(slots)
    if slots:
        return next_free(slots, tz, earliest - timedelta(microseconds=1), taken)
    at = original.astimezone(tz).time()
    day = earliest.astimezone(tz).date()
    t = local(day, at, tz)
    return t if t >= earliest else local(day + timedelta(days=1), at, tz)


def plan(
    posts: Iterable[Post],
    config: Config,
    index: Index,
    now: datetime,
    *,
    channels: Iterable[str] | None = None,
) -> list[Repost]:
    """Every re-post the record holds (done or in progress: claimed, deferred, failed...)
    and every one still to come, in order of the posts' dates. The first of each pair not
    yet done is `ready` when the publication before it is out: a run acts on it; the later
    ones are projections from it (the calendar shows them)."""
    posts = list(posts)
    order = sorted(
        (p for p in posts if p.meta.get("evergreen") is not None or _in_variants(p)),
        key=lambda p: (p.date or now, p.id),
    )
    if not order:
        return []  # the usual case: nothing else to look at
    wanted = set(channels) if channels is not None else None
    out: list[Repost] = []
    # Moments already taken on each channel: its posts, and the re-posts the record holds.
    taken: dict[str, set[datetime]] = {}
    for post in posts:
        if post.date is None:
            continue
        for name in post.channels:
            taken.setdefault(name, set()).add(post.date)
    for by_number in index.reposts.values():
        for e in by_number.values():
            if (t := parse_time(e.scheduled_for)) is not None:
                taken.setdefault(e.channel, set()).add(t)
    for post in order:
        if post.status == "draft" or post.date is None:
            continue
        for name in post.channels:
            if (wanted is not None and name not in wanted) or name not in config.channels:
                continue
            channel = config.channels[name]
            pol = for_pair(post, channel, config.evergreen.get(name))
            if pol is None:
                continue
            out.extend(
                _chain(post, channel, pol, config, index, now, taken.setdefault(name, set()))
            )
    return out


def _in_variants(post: Post) -> bool:
    variants = post.meta.get("variants")
    return isinstance(variants, dict) and any(
        isinstance(v, dict) and "evergreen" in v for v in variants.values()
    )


def _chain(
    post: Post,
    channel: Channel,
    pol: Policy,
    config: Config,
    index: Index,
    now: datetime,
    taken: set[datetime],
) -> list[Repost]:
    assert post.date is not None
    first = index.find(post, channel.name)
    if first is not None and first.state != State.PUBLISHED:
        return []  # the first publication is not out: nothing to re-post yet
    recorded = index.reposts_of(post, channel.name)
    tz = config.timezone
    # Intervals run between scheduled moments (a run a few minutes late does not push the
    # next re-post to the next day); a first publication sent later than planned counts
    # from when it went out.
    ready = first is not None
    prev = _moment_of(first) if first is not None else None
    prev = prev or post.date
    slots = config.slots.get(channel.name, ())
    catch_up = config.catch_up_for(channel)
    out: list[Repost] = []
    for n in range(2, pol.times + 2):
        entry = recorded.get(n)
        if entry is not None:
            when = parse_time(entry.scheduled_for) or after(prev, pol.every, tz)
            out.append(Repost(post, channel.name, n, pol.times, when, entry, ready))
            if entry.state not in _DONE:
                ready = False
            prev = when
            continue
        earliest = after(prev, pol.every, tz)
        if ready:
            # Late beyond the catch-up window (the job was off): the first slot within it.
            earliest = max(earliest, now - catch_up)
        found = moment(earliest, post.date, slots, tz, taken)
        if found is None:
            break  # no free slot within the horizon
        taken.add(found)
        out.append(Repost(post, channel.name, n, pol.times, found, None, ready))
        ready = False
        prev = found
    return out


def _moment_of(first: Entry) -> datetime | None:
    scheduled = parse_time(first.scheduled_for)
    published = parse_time(first.published_at)
    if scheduled is None or published is None:
        return scheduled or published
    # Published much later than planned (resolved by hand, a catch-up): from then.
    return published if published - scheduled > timedelta(days=1) else scheduled


def with_policies(config: Config, posts: Iterable[Post]) -> list[Post]:
    """The posts that may carry a policy, read in full: `posts` may be the slim ones the
    validation cache gives (no front-matter beyond what the queue rules read). Only files
    that mention `evergreen` are parsed again."""
    from cmflow import content

    out: list[Post] = []
    for post in posts:
        raw = content.read_bytes(config.root, post.path)
        if isinstance(raw, bytes) and b"evergreen" in raw:
            out.append(content.parse_post(post.path, raw, config.timezone, config.channels))
    return out
