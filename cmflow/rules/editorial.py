"""editorial.*: the brand's line (forbidden terms, required hashtags, pillars, content mix)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

from cmflow import schema
from cmflow.i18n import _, percent
from cmflow.model import Finding, Mark, Post
from cmflow.rules.base import PostContext, QueueContext, Rule, body_mark
from cmflow.rules.text import hashtags, term_hits


def _sources(ctx: PostContext) -> Iterator[tuple[str, Mark | None, str]]:
    """(text, mark or None for the body, label) of everything the channel sends."""
    post, name = ctx.post, ctx.channel.name
    labels = {"title": _("the title"), "summary": _("the summary")}
    for field in ("title", "summary"):
        value = post.field(field, name)
        if isinstance(value, str):
            yield value, post.field_mark(field, name), labels[field]
    yield post.body_for(name), None, _("the body")
    for i, m in enumerate(ctx.media):
        if m.alt:
            yield m.alt, post.mark("media", i), _("the alt text")


def forbidden_term(ctx: PostContext) -> Iterator[Finding]:
    terms = ctx.channel.rules.forbidden_terms
    if not terms:
        return
    for text, mark, label in _sources(ctx):
        for term, start, end in term_hits(text, terms):
            at = mark or body_mark(ctx.post, ctx.channel.name, start)
            yield ctx.finding(
                "editorial.forbidden-term",
                at,
                _("forbidden term {term} in {where} ({found}): rephrase it").format(
                    term=repr(term), where=label, found=repr(text[start:end])
                ),
            )


def required_hashtag(ctx: PostContext) -> Iterator[Finding]:
    required = ctx.channel.rules.required_hashtags
    if not required:
        return
    present = {t.casefold() for part in ctx.rendered.parts for t in hashtags(part.text)}
    for tag in required:
        if tag.casefold() not in present:
            yield ctx.finding(
                "editorial.required-hashtag",
                body_mark(ctx.post, ctx.channel.name, 0),
                _("missing required hashtag {hashtag}").format(hashtag=tag),
            )


def pillar(ctx: PostContext) -> Iterator[Finding]:
    rules = ctx.channel.rules
    value = ctx.post.field("pillar", ctx.channel.name)
    if value is None:
        if rules.require_pillar:
            options = ", ".join(rules.pillars) or _("see editorial_line.pillars")
            yield ctx.finding(
                "editorial.pillar",
                Mark(1, 1),
                _("no pillar: add `pillar:` ({options})").format(options=options),
            )
    elif rules.pillars and value not in rules.pillars:
        hint = schema.did_you_mean(str(value), rules.pillars)
        yield ctx.finding(
            "editorial.pillar",
            ctx.post.field_mark("pillar", ctx.channel.name),
            _("pillar {pillar} is not one of {pillars}{hint}").format(
                pillar=repr(value), pillars=", ".join(rules.pillars), hint=hint
            ),
        )


def mix(ctx: QueueContext) -> Iterator[Finding]:
    """For each channel and capped pillar: in every rolling window that ends at a post and
    holds at least 1/max_share posts, the pillar's share must not exceed max_share.
    One pass with a sliding window and running counts."""
    for channel in ctx.config.channels.values():
        rules = channel.rules
        if rules.mix is None or not rules.mix.max_share:
            continue
        name = channel.name
        window = rules.mix.window
        posts = sorted(
            (p for p in ctx.posts if name in p.channels and p.status == "ready" and p.date),
            key=lambda p: (p.date, p.path),
        )
        # Only text pillars count (a list is reported by frontmatter.type, not crashed on).
        pillars = [v if isinstance(v := p.field("pillar", name), str) else None for p in posts]
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
            if pillar_here is None or (share := rules.mix.max_share.get(pillar_here)) is None:
                continue
            minimum = math.ceil(1 / share) if share > 0 else 1
            count = counts[pillar_here]
            if size >= minimum and count / size > share and reported[pillar_here] < start:
                reported[pillar_here] = end
                yield _mix_finding(post, name, pillar_here, count, size, share, window.days)


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
    ),
    Rule(
        "editorial.required-hashtag",
        "error",
        lambda: _("a required hashtag is missing"),
        post=required_hashtag,
    ),
    Rule(
        "editorial.pillar",
        "error",
        lambda: _("pillar missing (when required) or not in the list"),
        post=pillar,
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
