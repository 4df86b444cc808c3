"""editorial.*: the brand's line (forbidden terms, required hashtags, pillars, content mix)."""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import cast

from cmflow import schema
from cmflow.i18n import _, percent
from cmflow.model import Finding, Mark, Post
from cmflow.rules.base import PostContext, QueueContext, Ready, Rule, body_mark
from cmflow.rules.text import hashtags, term_hits

# The per-post checks return lists, not generators: they run on every (post, channel) and
# mostly find nothing, which a list says for less.


def _label(field: str) -> str:
    """Where a forbidden term was found, in the current language (only said when found)."""
    labels = {
        "title": _("the title"),
        "summary": _("the summary"),
        "body": _("the body"),
        "alt": _("the alt text"),
    }
    return labels[field]


def forbidden_term(ctx: PostContext) -> list[Finding]:
    """In everything the channel sends: title, summary, body, alt texts (in this order)."""
    out: list[Finding] = []
    terms = ctx.channel.rules.forbidden_terms
    if not terms:
        return out
    post, name = ctx.post, ctx.channel.name
    meta = post.meta
    plain = "variants" not in meta  # then each field is the post's own (`Post.field`)
    for field in ("title", "summary"):
        value = meta.get(field) if plain else post.field(field, name)
        # term_hits is cached: the channels of a post without variants share its texts.
        if isinstance(value, str) and (hits := term_hits(value, terms)):
            _forbidden(ctx, out, value, hits, post.field_mark(field, name), field)
    body = post.body_for(name)
    if hits := term_hits(body, terms):
        _forbidden(ctx, out, body, hits, None, "body")
    for i, m in enumerate(ctx.media):
        if m.alt and (hits := term_hits(m.alt, terms)):
            _forbidden(ctx, out, m.alt, hits, post.mark("media", i), "alt")
    return out


def _forbidden(
    ctx: PostContext,
    out: list[Finding],
    text: str,
    hits: tuple[tuple[str, int, int], ...],
    mark: Mark | None,
    field: str,
) -> None:
    """Add a finding for each hit in `text` (`mark` None: the body, pointed at the hit)."""
    label = _label(field)
    for term, start, end in hits:
        at = mark or body_mark(ctx.post, ctx.channel.name, start)
        out.append(
            ctx.finding(
                "editorial.forbidden-term",
                at,
                _("forbidden term {term} in {where} ({found}): rephrase it").format(
                    term=repr(term), where=label, found=repr(text[start:end])
                ),
            )
        )


def required_hashtag(ctx: PostContext) -> list[Finding]:
    out: list[Finding] = []
    required = ctx.channel.rules.required_hashtags
    if not required:
        return out
    present = {t.casefold() for part in ctx.rendered.parts for t in hashtags(part.text)}
    for tag in required:
        if tag.casefold() not in present:
            out.append(
                ctx.finding(
                    "editorial.required-hashtag",
                    body_mark(ctx.post, ctx.channel.name, 0),
                    _("missing required hashtag {hashtag}").format(hashtag=tag),
                )
            )
    return out


def pillar(ctx: PostContext) -> list[Finding]:
    rules = ctx.channel.rules
    value = ctx.post.field("pillar", ctx.channel.name)
    if value is None:
        if rules.require_pillar:
            options = ", ".join(rules.pillars) or _("see editorial_line.pillars")
            return [
                ctx.finding(
                    "editorial.pillar",
                    Mark(1, 1),
                    _("no pillar: add `pillar:` ({options})").format(options=options),
                )
            ]
    elif rules.pillars and value not in rules.pillars:
        hint = schema.did_you_mean(str(value), rules.pillars)
        return [
            ctx.finding(
                "editorial.pillar",
                ctx.post.field_mark("pillar", ctx.channel.name),
                _("pillar {pillar} is not one of {pillars}{hint}").format(
                    pillar=repr(value), pillars=", ".join(rules.pillars), hint=hint
                ),
            )
        ]
    return []


def mix(ctx: QueueContext) -> Iterator[Finding]:
    """For each channel and capped pillar: in every rolling window that ends at a post and
    holds at least 1/max_share posts, the pillar's share must not exceed max_share.
    Only the posts of a capped pillar are looked at one by one (see `_mix_bisect`)."""
    # per window (channels share one): what to bisect and where each post's window starts
    starts: dict[timedelta, tuple[list[float], list[float] | None]] = {}
    candidates: dict[frozenset[str], list[tuple[int, str | None]]] = {}
    for channel in ctx.config.channels.values():
        rules = channel.rules
        if rules.mix is None or not rules.mix.max_share:
            continue
        name, window, shares = channel.name, rules.mix.window, rules.mix.max_share
        capped = {k: s for k, s in shares.items() if s is not None}
        ready = ctx.ready()
        found: list[tuple[Post, str, int, int, float]] | None = None
        if ready.instants is not None and not window.microseconds:
            try:
                if window not in starts:
                    starts[window] = _window_starts(ready, window)
                key = frozenset(capped)
                if key not in candidates:
                    candidates[key] = _candidates(ready.posts, capped)
                keys, cuts = starts[window]
                hits = _mix_bisect(ctx, name, capped, window, keys, cuts, candidates[key])
                found = [(ready.posts[i], p, c, n, s) for i, p, c, n, s in hits]
            except _Irregular:
                found = None
        if found is None:
            posts = ctx.queue(name)
            hits = _mix_slide(posts, _pillars(posts, name), shares, window)
            found = [(posts[end], p, c, n, s) for end, p, c, n, s in hits]
        for post, pillar, count, size, share in found:
            yield _mix_finding(post, name, pillar, count, size, share, window.days)


# (index of the post, pillar, posts of the pillar in the window, posts in it, max share)
_MixHit = tuple[int, str, int, int, float]


class _Irregular(Exception):
    """A window start in a gap or a repeated hour of its zone: compared as Python compares
    dates there (wall clock within one zone, instant across), not as an instant."""


def _pillars(posts: list[Post], channel: str) -> list[str | None]:
    """Each post's pillar on `channel` (its variant's, if any). Only text pillars count (a
    list is reported by frontmatter.type, not crashed on)."""
    values = [v if isinstance(v := p.field("pillar", channel), str) else None for p in posts]
    return values


def _window_starts(ready: Ready, window: timedelta) -> tuple[list[float], list[float] | None]:
    """Seconds that order the ready posts as Python compares their dates, and where the
    window ending at each post starts in the same seconds (`date - window`), when that is
    simple arithmetic on them:

    - every date at a fixed offset: their instants (Python compares instants across zones);
    - every date with the same zone object (as read from files): their wall clocks, when
      those never go back (a repeated hour can make them): Python compares dates of one zone
      object on the wall clock, and subtracts a window there too, whether or not the time it
      gives is skipped or repeated in the zone;
    - zoned dates among fixed ones (one file parsed again among cached posts): their
      instants, when the starts never go back from one post to the next (else _Irregular).

    Else (one zone whose wall clock goes back) the instants and None: each start is then
    computed where needed (`_mix_bisect`), by Python's own arithmetic."""
    assert ready.instants is not None and ready.zones is not None
    instants = ready.instants
    seconds = window // timedelta(seconds=1)
    if all(type(z) is timezone for z in ready.zones):
        return instants, [t - seconds for t in instants]
    if len(ready.zones) == 1:
        # Instant plus offset: the date's own fields, exactly (whole seconds, both).
        zoned = cast("Iterator[timedelta]", map(datetime.utcoffset, map(_date, ready.posts)))
        walls = list(map(operator.add, instants, map(timedelta.total_seconds, zoned)))
        if all(map(operator.le, walls, walls[1:])):
            return walls, [w - seconds for w in walls]
        return instants, None
    starts = []
    for p, t in zip(ready.posts, instants, strict=True):
        assert p.date is not None
        starts.append(t - seconds if type(p.date.tzinfo) is timezone else _start(p.date, window))
    if not all(map(operator.le, starts, starts[1:])):
        raise _Irregular
    return instants, starts


def _start(date: datetime, window: timedelta) -> float:
    """`date - window` as Python computes it (the same wall clock, in the date's zone), as
    an instant; `_Irregular` when that wall clock is skipped or repeated there."""
    cut = date - window
    if cut.utcoffset() != cut.replace(fold=1 - cut.fold).utcoffset():
        raise _Irregular
    return cut.timestamp()


def _mix_bisect(
    ctx: QueueContext,
    channel: str,
    capped: Mapping[str, float],
    window: timedelta,
    keys: list[float],
    starts: list[float] | None,
    candidates: list[tuple[int, str | None]],
) -> Iterator[_MixHit]:
    """`_mix_slide`'s window, evaluated only where a post of a capped pillar ends it: where
    it starts is found by bisection over `keys` (the window's start never goes back, see
    `_window_starts`), how many posts of the pillar it holds from their positions."""
    ready = ctx.ready()
    posts, chans = ready.posts, ready.channels
    where = ctx.where(channel)
    at: dict[str, list[int]] = defaultdict(list)  # each capped pillar's posts so far
    reported: dict[str, int] = {}
    minimum = {k: math.ceil(1 / s) if s > 0 else 1 for k, s in capped.items()}
    first = start = end = 0  # where the last window started (among all ready posts, and
    # among the channel's), and where it ended on the channel
    for i, pillar in [c for c in candidates if channel in chans[c[0]]]:
        if pillar is None:  # a variant may change it
            pillar = posts[i].field("pillar", channel)
            if not isinstance(pillar, str) or pillar not in capped:
                continue
        end = bisect_left(where, i, end)  # its position on the channel
        mine = at[pillar]
        mine.append(end)
        if starts is not None:
            cut = starts[i]
        else:
            date = posts[i].date
            assert date is not None
            cut = _start(date, window)
        first = bisect_left(keys, cut, first, i)
        start = bisect_left(where, first, start, end)
        size = end + 1 - start
        count = len(mine) - bisect_left(mine, start)
        share = capped[pillar]
        if size >= minimum[pillar] and count / size > share and reported.get(pillar, -1) < start:
            reported[pillar] = end
            yield i, pillar, count, size, share


def _candidates(posts: list[Post], capped: Mapping[str, float]) -> list[tuple[int, str | None]]:
    """The ready posts whose pillar may be capped, with it: theirs is (the pillar), or a
    variant may change it (None: read per channel)."""
    out: list[tuple[int, str | None]] = []
    for i, meta in enumerate(map(_meta, posts)):
        if "variants" in meta:
            out.append((i, None))
        elif isinstance(v := meta.get("pillar"), str) and v in capped:
            out.append((i, v))
    return out


_meta = operator.attrgetter("meta")
_date = operator.attrgetter("date")


def _mix_slide(
    posts: list[Post], pillars: list[str | None], shares: Mapping[str, float], window: timedelta
) -> Iterator[_MixHit]:
    """One pass with a sliding window and running counts, every post moving it."""
    counts: dict[object, int] = defaultdict(int)
    reported: dict[str, int] = defaultdict(lambda: -1)
    start = 0
    for end, post in enumerate(posts):
        assert post.date is not None
        counts[pillars[end]] += 1
        while posts[start].date < post.date - window:  # type: ignore[operator]
            counts[pillars[start]] -= 1
            start += 1
        size = end + 1 - start
        pillar_here = pillars[end]
        if pillar_here is None or (share := shares.get(pillar_here)) is None:
            continue
        minimum = math.ceil(1 / share) if share > 0 else 1
        count = counts[pillar_here]
        if size >= minimum and count / size > share and reported[pillar_here] < start:
            reported[pillar_here] = end
            yield end, pillar_here, count, size, share


def _mix_finding(
    post: Post, channel: str, name: str, count: int, total: int, share: float, days: int
) -> Finding:
    mark = post.field_mark("pillar", channel)
    return Finding(
        post.path,
        mark.line,
        mark.column,
        "warning",
        "editorial.mix",
        _(
            "{pillar} is {count}/{total} posts ({percent}) over the {days} days up to this "
            "one, above its {share} share: move it or balance with other pillars"
        ).format(
            pillar=name,
            count=count,
            total=total,
            percent=percent(count / total),
            days=days,
            share=percent(share),
        ),
        channel,
    )


RULES = (
    Rule(
        "editorial.forbidden-term",
        "error",
        lambda: _("a forbidden term appears (capitals and accents ignored)"),
        post=forbidden_term,
        applies=lambda c: bool(c.rules.forbidden_terms),
        same_on=lambda c: c.rules.forbidden_terms,
    ),
    Rule(
        "editorial.required-hashtag",
        "error",
        lambda: _("a required hashtag is missing"),
        post=required_hashtag,
        applies=lambda c: bool(c.rules.required_hashtags),
        reads_text=True,
    ),
    Rule(
        "editorial.pillar",
        "error",
        lambda: _("pillar missing (when required) or not in the list"),
        post=pillar,
        applies=lambda c: c.rules.require_pillar or bool(c.rules.pillars),
        same_on=lambda c: (c.rules.require_pillar, c.rules.pillars),
    ),
    Rule(
        "editorial.mix",
        "warning",
        lambda: _(
            "a pillar takes more than its share of the posts over the last days (mix window)"
        ),
        queue=mix,
        stable=True,
    ),
)
