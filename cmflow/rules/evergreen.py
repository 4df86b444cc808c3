"""evergreen.*: a post's re-post policy (see cmflow.evergreen), checked per channel."""

from __future__ import annotations

from collections.abc import Iterator

from cmflow import evergreen
from cmflow.i18n import _
from cmflow.model import Finding
from cmflow.rules.base import PostContext, Rule


def _where(ctx: PostContext) -> tuple[str | int, ...]:
    name = ctx.channel.name
    if ("variants", name, "evergreen") in ctx.post.marks:
        return ("variants", name, "evergreen")
    return ("evergreen",)


def policy(ctx: PostContext) -> list[Finding]:
    # A list, not a generator: it runs on every (post, channel), and most posts have none.
    raw = ctx.post.field("evergreen", ctx.channel.name)
    if raw is None or raw is False or not evergreen.reposts_on(ctx.channel):
        return []
    return list(_policy(ctx, raw))


def _policy(ctx: PostContext, raw: object) -> Iterator[Finding]:
    where = _where(ctx)
    channel_policy = ctx.config.evergreen.get(ctx.channel.name)
    if raw is True:
        if channel_policy is None:
            yield ctx.finding(
                "evergreen.no-policy",
                ctx.post.mark(*where),
                _(
                    "evergreen: true, but channel {channel!r} has no `evergreen:` policy, so it "
                    "is not re-posted there: add one under the channel in channels.yaml "
                    "(e.g. {{every: 180d, times: 2}}) or write the policy in the post"
                ).format(channel=ctx.channel.name),
                "warning",
            )
        return
    if not isinstance(raw, dict):
        return  # another kind: frontmatter.type says so
    problems = evergreen.check(raw)[1]
    for key, message in problems:
        yield ctx.finding(
            "evergreen.policy", ctx.post.mark(*where, *((key,) if key else ())), message
        )
    missing = [k for k in ("every", "times") if k not in raw]
    if channel_policy is None and missing:
        yield ctx.finding(
            "evergreen.policy",
            ctx.post.mark(*where),
            _(
                "evergreen needs {keys} (channel {channel!r} has no policy to take it from), "
                "e.g. {{every: 90d, times: 3}}"
            ).format(keys=", ".join(missing), channel=ctx.channel.name),
        )


RULES = (
    Rule(
        "evergreen.policy",
        "error",
        lambda: _(
            "an `evergreen:` policy with a bad or missing `every` (at least 7d) or `times` (1 to 20)"
        ),
        post=policy,
        applies=evergreen.reposts_on,
    ),
    Rule(
        "evergreen.no-policy",
        "warning",
        lambda: _(
            "`evergreen: true` on a channel that has no `evergreen:` policy in channels.yaml"
        ),
    ),
)
