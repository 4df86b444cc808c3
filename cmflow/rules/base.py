"""What a rule is: a stable id, a default level, a description, and a check function."""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from itertools import compress, repeat
from pathlib import Path
from typing import TYPE_CHECKING

from cmflow.config import Channel, Config
from cmflow.media import MediaFile
from cmflow.model import Finding, Level, Mark, Media, Post, Rendered, Sent

if TYPE_CHECKING:
    from cmflow.render import Outline


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
    # `post.media(channel.name)` when the caller has it already (validation.Checker: the
    # first part's media, as `render` gives them); None: worked out here.
    known_media: list[Media] | None = field(default=None, repr=False, compare=False)
    # The length and hashtag rules' answers without rendering (`render.outline`), when the
    # caller worked it out (validation, for a post still to publish: then `rendered` is
    # made only if a rule reads it); None: they read `rendered`.
    outline: Outline | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once here: a cached_property costs a lock per access in Python 3.11.
        known = self.known_media
        self.media = known if known is not None else self.post.media(self.channel.name)

    def finding(self, rule: str, mark: Mark, message: str, level: Level = "error") -> Finding:
        return Finding(
            self.post.path, mark.line, mark.column, level, rule, message, self.channel.name
        )


@dataclass
class QueueContext:
    """The whole queue: every post, the record, and the time the check is made for."""

    posts: Sequence[Post]
    config: Config
    now: datetime
    record: Mapping[tuple[str, str], Sent] = field(default_factory=dict)
    rendered_hash: Callable[[Post, Channel], str] | None = None
    # The ready, dated posts with a channel the record does not hold as sent for them, when
    # the caller has them without reading every post (an unchanged run reads them from the
    # cache's columns): see `maybe_unsent`.
    unsent: Sequence[Post] | None = field(default=None, repr=False)
    # The ready, dated posts in queue order, their instants, and where each channel's are
    # among them: computed once, whichever rules ask (see `ready`).
    _ready: Ready | None = field(default=None, init=False, repr=False, compare=False)
    _where: dict[str, list[int]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def maybe_unsent(self) -> Sequence[Post]:
        """Every post that may be ready, dated and on a channel the record does not hold as
        sent for it, in the order of `posts`: all of them, or only those when the caller
        knows them without reading every post (`unsent`). A rule about what is still to
        send reads these and checks each one itself."""
        return self.posts if self.unsent is None else self.unsent

    def ready(self) -> Ready:
        """Every ready, dated post, by date then path: the order the schedule rules and the
        content mix read the queue in."""
        if self._ready is None:
            self._ready = Ready.of(self.posts)
        return self._ready

    def where(self, channel: str) -> list[int]:
        """The positions in `ready().posts` of the posts on `channel` (increasing)."""
        got = self._where.get(channel)
        if got is None:
            chans = self.ready().channels
            # `channel in cs` for each post, without a Python loop (tens of thousands).
            has = map(operator.contains, chans, repeat(channel))
            got = self._where[channel] = list(compress(range(len(chans)), has))
        return got

    def queue(self, channel: str) -> list[Post]:
        """The ready, dated posts on `channel`, by date then path."""
        posts = self.ready().posts
        return [posts[i] for i in self.where(channel)]


@dataclass
class Ready:
    """The ready, dated posts of a queue sorted by (date, path), with each one's instant
    as seconds since the epoch when those are exact (`instants` is None otherwise)."""

    posts: list[Post]
    instants: list[float] | None
    channels: list[list[str]]
    zones: set[tzinfo] | None = None  # the dates' zone objects (with `instants`)

    @classmethod
    def of(cls, posts: Sequence[Post]) -> Ready:
        ready = [p for p in posts if p.status == "ready" and p.date]
        dates: list[datetime] = list(map(_date, ready))
        if any(map(_microsecond, dates)):
            # Rare: float seconds could round two instants together. Compared as dates.
            ready.sort(key=_date_path)
            return cls(ready, None, _ready_channels(ready))
        # Whole seconds are exact floats, in the order Python compares the dates in (the
        # instants'; dates read from files never fall in a gap or a repeated hour of their
        # zone, where the wall clock and the instant would disagree). Floats compare far
        # faster than dates with a zone object each (as the cache gives them).
        stamps = list(map(datetime.timestamp, dates))
        zones: set[tzinfo] = set(map(_tzinfo, dates))
        if not all(map(operator.lt, stamps, stamps[1:])):  # else in order already
            order = sorted(zip(stamps, [p.path for p in ready], range(len(ready)), strict=True))
            ready = [ready[i] for _t, _p, i in order]
            stamps = [t for t, _p, _i in order]
        return cls(ready, stamps, _ready_channels(ready), zones)


def _ready_channels(posts: list[Post]) -> list[list[str]]:
    """Each ready post's channels but those its variant makes a draft (`status: draft`
    under `variants.<channel>`): the publisher holds those, as a draft post."""
    out = list(map(_channels, posts))
    for i, meta in enumerate(map(_meta, posts)):
        if "variants" in meta:
            post = posts[i]
            out[i] = [c for c in out[i] if post.field("status", c) != "draft"]
    return out


# Attribute readers that `map` runs without a Python frame per post.
_date = operator.attrgetter("date")
_channels = operator.attrgetter("channels")
_meta = operator.attrgetter("meta")
_microsecond = operator.attrgetter("microsecond")
_tzinfo = operator.attrgetter("tzinfo")


def _date_path(post: Post) -> tuple[datetime | None, str]:
    return (post.date, post.path)


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
    # The queue check reads the posts, channels.yaml, the record and the rendered hashes, not
    # the time or the environment: its findings are cached until a post or the record changes.
    settled: bool = False
    # Neither: raised while loading a file (frontmatter.*, content.file)

    # For a post check: whether it can find anything at all on a channel, judged from the
    # channel's settings alone (None: it may). `validation.Checker` runs it only where it can.
    applies: Callable[[Channel], bool] | None = None
    # A post check that finds nothing on a post sending no media to the channel: not run there.
    media_only: bool = False
    # For a post check: all it reads of a channel but its name (None: more). On a post
    # without variants, channels for which this gives the same key get the same findings,
    # each with its own channel's name: `validation.Checker` runs the check once for them.
    same_on: Callable[[Channel], Hashable] | None = None
    # For a post check: whether it reads the channel's rendered text (`PostContext.rendered`)
    # whatever `PostContext.outline` says. `validation.Checker` then renders the channel's
    # text of a post still to publish before its checks run, rather than outline it too.
    reads_text: bool = False

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
