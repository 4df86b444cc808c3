"""Plain data shared by every layer: posts, media, rendered parts, findings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, NamedTuple

Level = Literal["error", "warning", "off"]
# What a post id may be: it names files (the publish record, the feed page).
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
KeyPath = tuple[str | int, ...]


class Mark(NamedTuple):
    """A 1-based position in a file. (A named tuple: tens of thousands are cached.)"""

    line: int
    column: int = 1


@dataclass(frozen=True)
class Finding:
    """One problem found in a file: what `cmflow validate` prints."""

    path: str  # relative to the repository root, posix separators
    line: int
    column: int
    level: Level
    rule: str
    message: str
    channel: str | None = None

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line, self.column, self.rule, self.channel or "")


@dataclass(frozen=True)
class Media:
    path: str  # relative to the repository root, as written in the post
    alt: str | None = None


@dataclass
class Post:
    """A post file, parsed. `meta` is the front-matter mapping as written."""

    path: str  # relative to the repository root, posix
    id: str
    meta: dict[str, Any]
    body: str
    body_line: int  # 1-based line of the file where the body starts
    marks: dict[KeyPath, Mark] = field(default_factory=dict)
    date: datetime | None = None  # aware; None when missing or invalid
    # `date: next` or a day without a time (`2026-12-08`): the post takes a queue slot, and
    # `date` is set once the whole queue is known (cmflow.slotdates). "next" or the day.
    slot: str | None = None
    slot_note: str = ""  # how the slot was found, when worth saying ("not committed yet")
    channels: list[str] = field(default_factory=list)
    status: str = "ready"
    content_hash: str = ""  # sha256 of front-matter + body as published (not of whitespace)
    problems: list[Finding] = field(default_factory=list)  # found while loading

    def mark(self, *key: str | int) -> Mark:
        """Where `key` is written (a front-matter key path), else the closest parent, else line 1."""
        k: KeyPath = tuple(key)
        while k:
            if k in self.marks:
                return self.marks[k]
            k = k[:-1]
        return Mark(1, 1)

    def field(self, name: str, channel: str | None = None) -> Any:
        """A front-matter field, with the channel's variant applied when it overrides it."""
        meta = self.meta
        # Most posts have no variants: one key test, then the field (rules ask ~40 times a post).
        if channel is not None and "variants" in meta:
            variants = meta["variants"]
            if isinstance(variants, dict):
                v = variants.get(channel)
                if isinstance(v, dict) and name in v:
                    return v[name]
        return meta.get(name)

    def field_mark(self, name: str, channel: str | None = None) -> Mark:
        if channel is not None and ("variants", channel, name) in self.marks:
            return self.marks[("variants", channel, name)]
        return self.mark(name)

    def media(self, channel: str | None = None) -> list[Media]:
        return media_of(self.field("media", channel))

    def body_for(self, channel: str | None = None) -> str:
        b = self.field("body", channel)
        return b if isinstance(b, str) and channel is not None else self.body


@dataclass(frozen=True)
class Link:
    """A link in rendered text: `text[start:end]` shows it (maybe shortened), `url` is the target."""

    start: int  # str index in Part.text
    end: int
    url: str


@dataclass
class Part:
    """One message as a channel receives it (a thread has several)."""

    text: str
    media: list[Media] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    length: int = 0  # counted the platform's way


@dataclass
class Rendered:
    """Exactly what one channel receives for one post."""

    post_id: str
    channel: str
    platform: str
    parts: list[Part]
    title: str | None = None
    html: str | None = None  # feed-like channels
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    limit: int | None = None  # per part
    counter: str = "characters"  # how `Part.length` was counted, for humans
    series: str | None = None  # the post's `series` (dev.to)
    canonical_url: str | None = None  # the post's own page, when a channel gives it one
    path: str = ""  # the post's file, relative to the repository root (reminders link to it)


def as_sent(source_hash: str, post: Post) -> bool:
    """Whether `post` is as it was when it went out, its content hash then `source_hash`
    ("" in older records: unknown, False). Then only its rendering can differ (channels.yaml,
    a newer cmflow): not an edit, which the publisher never sends and validation never
    flags (`schedule.edited-after-publish`)."""
    return bool(source_hash) and source_hash == post.content_hash


@dataclass(frozen=True)
class Sent:
    """What the publish record says went out for one (post id, channel)."""

    content_hash: str  # the fingerprint of what went out (of what was refused, if `failed`)
    published_at: datetime | None = None
    url: str | None = None  # where it is, for "change it by hand at ..."
    # The post's content hash when it went out (`Entry.source_hash`), "" when the record
    # has none: the same now, the post was not edited, whatever its rendering does.
    source_hash: str = ""
    # Not sent: the platform refused it, for this reason (the record's). The pair goes
    # again once the post changes (or `cmflow resolve ... --absent --force`).
    failed: str | None = None
    # Not this post's entry: that of a published post whose file is gone, scheduled for the
    # same moment (the id it was published under); this one looks like it renamed and
    # edited, and is held until a person says which it is (`Index.renamed_from`).
    renamed: str | None = None


class State(StrEnum):
    """Where one (post, channel) pair stands in the publish record (`data/record/`).

    pending (no record) -> claimed -> published | failed | unknown -> (reconciled) published |
    needs_human; deferred and missed on the side. The values are what the record files hold.
    """

    CLAIMED = "claimed"  # a run took it and may be sending it right now
    PUBLISHED = "published"
    FAILED = "failed"  # the platform refused it: fix the post and it goes again
    UNKNOWN = "unknown"  # it may have landed: reconcile before any resend
    NEEDS_HUMAN = "needs_human"  # reconciliation could not tell: check the account by hand
    MISSED = "missed"  # later than the catch-up window: not sent
    DEFERRED = "deferred"  # not sent (rate limit, refused credential): goes again, after not_before
    WAITING = "waiting"  # a reminder went to the person on duty, who posts it by hand
    SKIPPED = "skipped"  # the person on duty chose not to post it (`cmflow resolve --skipped`)

    @property
    def settled(self) -> bool:
        """Whether cmflow proved the outcome (a human override needs --force)."""
        return self in (State.PUBLISHED, State.FAILED, State.MISSED, State.SKIPPED)


def media_of(raw: Any) -> list[Media]:
    """The media files a `media:` value names (a path, or a mapping with `path` and `alt`);
    anything else names none."""
    out: list[Media] = []
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, str):
                out.append(Media(item))
            elif isinstance(item, dict) and isinstance(item.get("path"), str):
                alt = item.get("alt")
                out.append(Media(item["path"], alt if isinstance(alt, str) else None))
    return out
