"""The rule catalogue: an explicit tuple per area, ids stable (docs/rules.md)."""

from __future__ import annotations

from cmflow.rules import (
    channel,
    configuration,
    editorial,
    evergreen,
    frontmatter,
    schedule,
    security,
)
from cmflow.rules.base import PostContext, QueueContext, Rule

RULES: tuple[Rule, ...] = (
    *frontmatter.RULES,
    *channel.RULES,
    *editorial.RULES,
    *schedule.RULES,
    *evergreen.RULES,
    *security.RULES,
    *configuration.RULES,
)
BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
POST_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.post is not None)
FILE_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.file is not None)
QUEUE_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.queue is not None)

__all__ = [
    "BY_ID",
    "FILE_RULES",
    "POST_RULES",
    "QUEUE_RULES",
    "RULES",
    "PostContext",
    "QueueContext",
    "Rule",
]
