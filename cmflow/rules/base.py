"""What a rule is: a stable id, a default level, a description, and a check function."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cmflow.config import Channel, Config
from cmflow.media import MediaFile
from cmflow.model import Finding, Level, Mark, Media, Post, Rendered, Sent


@dataclass
class PostContext:
    """One post on one channel, rendered."""

    post: Post
    channel: Channel
    rendered: Rendered
    config: Config
    root: Path
    # Looks a media file up once per run (see validation.Checker); None: every time.
    inspect_media: Callable[[str], MediaFile] | None = None

    def inspect(self, rel: str) -> MediaFile:
        if self.inspect_media is not None:
            return self.inspect_media(rel)
        from cmflow import media as media_files

        return media_files.inspect(self.root, rel)

    media: list[Media] = field(init=False)  # what this channel receives (variant applied)

    def __post_init__(self) -> None:
        # Computed once here: a cached_property costs a lock per access in Python 3.11.
        self.media = self.post.media(self.channel.name)

    def finding(self, rule: str, mark: Mark, message: str, level: Level = "error") -> Finding:
        return Finding(
            self.post.path, mark.line, mark.column, level, rule, message, self.channel.name
        )


@dataclass
class QueueContext:
    """The whole queue: every post, the record, and the time the check is made for."""

    posts: list[Post]
    config: Config
    now: datetime
    record: Mapping[tuple[str, str], Sent] = field(default_factory=dict)
    rendered_hash: Callable[[Post, Channel], str] | None = None


PostCheck = Callable[[PostContext], Iterable[Finding]]
FileCheck = Callable[[Post], Iterable[Finding]]
QueueCheck = Callable[[QueueContext], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    # What fires it, in the current language: `lambda: _("...")`, so that the summary is
    # translated when it is shown (`cmflow rules`), not when the rules are imported.
    describe: Callable[[], str]
    post: PostCheck | None = None  # run for every (post, channel)
    file: FileCheck | None = None  # run once per post file, whatever its channels
    queue: QueueCheck | None = None  # run once over the whole queue
    # The queue check reads only posts and channels.yaml (not the time, record or
    # environment): its findings are cached until a post changes.
    stable: bool = False
    # Neither: raised while loading a file (frontmatter.*, content.file)

    @property
    def summary(self) -> str:
        """What fires the rule, in the language cmflow speaks now."""
        return self.describe()


def body_mark(post: Post, channel: str | None, index: int) -> Mark:
    """Where character `index` of the body used for `channel` is written in the file."""
    if channel is not None and ("variants", channel, "body") in post.marks:
        variant = post.field("body", channel)
        if isinstance(variant, str):
            return post.marks[("variants", channel, "body")]
    line = post.body.count("\n", 0, index)
    col = index - (post.body.rfind("\n", 0, index) + 1) + 1
    return Mark(post.body_line + line, col)
