"""frontmatter.* and content.file: problems found while reading a post (see cmflow.content),
plus duplicate ids, which only the whole queue reveals."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

from cmflow.i18n import _
from cmflow.model import Finding, Post
from cmflow.rules.base import QueueContext, Rule


def duplicate_id(ctx: QueueContext) -> Iterator[Finding]:
    ids = [p.id for p in ctx.posts]
    if len(set(ids)) == len(ids):
        return  # the usual case: told without grouping anything
    shared = {i for i, n in Counter(ids).items() if n > 1}
    by_id: dict[str, list[Post]] = defaultdict(list)
    for post_id, post in zip(ids, ctx.posts, strict=True):
        # A file that goes nowhere (no channel read: unreadable, `Noël.MD` beside `Noël.md`)
        # holds no id: its own error says what to do, and the other post goes.
        if post_id in shared and post.channels:
            by_id[post_id].append(post)
    for post_id, posts in by_id.items():
        if len(posts) < 2:
            continue
        for post in posts:
            others = ", ".join(p.path for p in posts if p is not post)
            mark = post.mark("id")
            how = _("its `id:`") if "id" in post.meta else _("its file name")
            yield Finding(
                post.path,
                mark.line,
                mark.column,
                "error",
                "frontmatter.duplicate-id",
                _(
                    "id {id} (from {source}) is also used by {others}: give each post its own `id:`"
                ).format(id=repr(post_id), source=how, others=others),
            )


RULES = (
    Rule(
        "content.file",
        "error",
        lambda: _(
            "the file cannot be read as a post (not UTF-8, binary, over 1 MB, a link leading out of the repository)"
        ),
    ),
    Rule(
        "frontmatter.syntax", "error", lambda: _("front-matter is not valid YAML, or not a mapping")
    ),
    Rule("frontmatter.required", "error", lambda: _("`date` or `channels` missing")),
    Rule(
        "frontmatter.unknown-field",
        "error",
        lambda: _("unknown key (with the nearest known key suggested)"),
    ),
    Rule(
        "frontmatter.type",
        "error",
        lambda: _("a field has the wrong kind of value (e.g. a list where text is expected)"),
    ),
    Rule(
        "frontmatter.date",
        "error",
        lambda: _(
            "a date that cannot be read, or a local time that a clock change skips or repeats"
        ),
    ),
    Rule("frontmatter.status", "error", lambda: _("status is not draft or ready")),
    Rule(
        "frontmatter.unknown-channel",
        "error",
        lambda: _("channel (or variant) not defined in channels.yaml"),
    ),
    Rule(
        "frontmatter.duplicate-id",
        "error",
        lambda: _("two posts share an id"),
        queue=duplicate_id,
        stable=True,
    ),
)
