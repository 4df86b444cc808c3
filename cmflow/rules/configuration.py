"""config.*: what channels.yaml itself leaves readers to see, found at its line:col."""

from __future__ import annotations

from collections.abc import Iterator

from cmflow.i18n import _
from cmflow.model import Finding
from cmflow.platforms.spec import Capability
from cmflow.rules.base import QueueContext, Rule


def site_title(ctx: QueueContext) -> Iterator[Finding]:
    """A site channel with no `title` and no `brand:` to fall back on: its pages and feed
    would be signed with the channel's own name (`site`), which readers should not see."""
    config = ctx.config
    if config.brand:
        return
    rel = config.path.relative_to(config.root).as_posix()
    for ch in config.channels.values():
        if not ch.enabled or not ch.spec.can(Capability.WRITES_FILES):
            continue
        if ch.spec.key("title") is None or str(ch.setting("title") or "").strip():
            continue
        yield Finding(
            rel,
            ch.mark.line,
            ch.mark.column,
            "warning",
            "config.site-title",
            _(
                "the site's heading, its pages' <title> and the feed's author will show the "
                "channel's name '{channel}': set `brand:` at the top of channels.yaml (the "
                "brand's name) or `title:` on the {channel} channel"
            ).format(channel=ch.name),
            ch.name,
        )


RULES = (
    Rule(
        "config.site-title",
        "warning",
        lambda: _(
            "a site (feed) channel with neither `title` nor a `brand:` shows its channel name"
        ),
        queue=site_title,
        stable=True,
    ),
)
