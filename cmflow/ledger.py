"""The publish record: one JSON file per (post, channel) under data/record/.

One file per pair means two runs that commit at once never touch the same file unless they
race for the same pair, which the claim push (see `cmflow.gitops`) settles. Every write goes
to a temporary file first and is renamed into place, so a killed process leaves either the
old state or the new one, never half a file. The record never holds a secret.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cmflow.errors import CmflowError
from cmflow.model import SAFE_ID, Post, Sent

RECORD_DIR = "record"

# States of a (post, channel) pair. See RELIABILITY.md §5.1.
CLAIMED = "claimed"  # a run took it and may be sending it right now
PUBLISHED = "published"
FAILED = "failed"  # the platform refused it: fix the post and it goes again
UNKNOWN = "unknown"  # it may have landed: reconcile before any resend
NEEDS_HUMAN = "needs_human"  # reconciliation could not tell: check the account by hand
MISSED = "missed"  # later than the catch-up window: not sent
DEFERRED = "deferred"  # not sent (rate limit, refused credential): goes again, after not_before

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def file_name(name: str) -> str:
    """A file name for an id: the id itself when it is plain, else a cleaned form plus a hash
    of the id, so that two ids never share a file ("a b" and "a_b") and none leaves the
    record folder ("..")."""
    if SAFE_ID.match(name):
        return name
    cleaned = _SAFE.sub("_", name).strip("._") or "post"
    return f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class PartRecord:
    id: str
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Entry:
    post: str  # post id
    channel: str
    platform: str
    path: str  # the post's file when last touched (informative; identity is `post`)
    state: str
    content_hash: str = ""  # fingerprint of what was (or is being) sent
    source_hash: str = ""  # the post's content hash, to recognise a renamed file
    generation: int = 1  # bumps when a failed pair is sent again
    key: str = ""  # stable idempotency seed for this generation
    handles: dict[str, Any] = field(default_factory=dict)
    parts: list[PartRecord] = field(default_factory=list)
    in_flight: int | None = None  # index of the part being sent, outcome not yet known
    in_flight_since: str | None = None
    run_id: str | None = None
    claimed_at: str | None = None  # when the pair was first claimed for this attempt
    leased_at: str | None = None  # when the run now holding it took it (the lease)
    reconcile_attempts: int = 0
    published_at: str | None = None
    scheduled_for: str | None = None
    updated_at: str | None = None
    reason: str | None = None
    not_before: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def remote_id(self) -> str | None:
        return self.parts[0].id if self.parts else None

    @property
    def url(self) -> str | None:
        return self.parts[0].url if self.parts else None

    def note(self, event: str, reason: str | None = None) -> None:
        item: dict[str, Any] = {"at": _now(), "event": event}
        if reason:
            item["reason"] = reason
        self.history.append(item)
        self.history = self.history[-20:]

    def to_json(self) -> str:
        data = asdict(self)
        data = {k: v for k, v in data.items() if v not in (None, [], {})}
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values["parts"] = [PartRecord(**p) for p in data.get("parts", [])]
        return cls(**values)


class Ledger:
    def __init__(self, root: Path, data_dir: str = "data") -> None:
        self.root = root
        self.dir = root / data_dir / RECORD_DIR

    def rel(self, post_id: str, channel: str) -> str:
        """The entry's path relative to the repository root (posix)."""
        path = self.path(post_id, channel)
        return path.relative_to(self.root).as_posix()

    def path(self, post_id: str, channel: str) -> Path:
        return self.dir / file_name(post_id) / f"{file_name(channel)}.json"

    def get(self, post_id: str, channel: str) -> Entry | None:
        path = self.path(post_id, channel)
        if not path.exists():
            return None
        return self._read(path)

    def _read(self, path: Path) -> Entry:
        try:
            return Entry.from_dict(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            rel = path.relative_to(self.root).as_posix()
            raise RecordError(
                f"{rel}: this publish record cannot be read ({type(exc).__name__}: {exc}). "
                f"If a merge left conflict markers in it, take the remote's version "
                f"(git checkout --theirs -- {rel}) or restore it (git checkout origin/main -- {rel})"
            ) from None

    def all(self) -> list[Entry]:
        out: list[Entry] = []
        if not self.dir.is_dir():
            return out
        for folder in sorted(self.dir.iterdir()):
            if not folder.is_dir():
                continue
            for file in sorted(folder.glob("*.json")):
                out.append(self._read(file))
        return out

    def write(self, entry: Entry) -> Path:
        """Write atomically: a temporary file in the same folder, then rename. A killed process
        leaves the old file or the new one. (No fsync: it guards against power loss, which
        in CI loses the whole workspace anyway, and costs milliseconds per step.)"""
        entry.updated_at = _now()
        path = self.path(entry.post, entry.channel)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(entry.to_json())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


UNSETTLED = frozenset({CLAIMED, UNKNOWN, NEEDS_HUMAN, DEFERRED})


def resolve(entry: Entry, published: str | None, *, force: bool = False) -> None:
    """A human's answer for an outcome cmflow could not prove: `published` (a URL or id)
    records it as out; None says it is not on the network, so the next run sends it."""
    if entry.state not in UNSETTLED and not force:
        raise CmflowError(
            f"{entry.post} on {entry.channel} is {entry.state}, which cmflow proved: "
            "nothing to resolve (--force overrides)"
        )
    if published:
        is_url = published.startswith(("http://", "https://"))
        remote_id = published.rstrip("/").rsplit("/", 1)[-1] if is_url else published
        entry.parts.append(PartRecord(remote_id, published if is_url else None))
        entry.state = PUBLISHED
        entry.published_at = entry.published_at or entry.claimed_at
        entry.note("resolved", "published, confirmed by hand")
    else:
        entry.state = DEFERRED
        entry.note("resolved", "absent, confirmed by hand: send it again")
    entry.in_flight = entry.in_flight_since = None
    entry.reason = None
    entry.reconcile_attempts = 0


class RecordError(CmflowError):
    """Raised by `Ledger` when a record file cannot be read (hand-edited, merge markers...)."""


@dataclass
class Index:
    """Record entries found for current posts: by id, else, for a renamed or moved file whose
    id came from its name, by content (same text and same date, old id no longer in use)."""

    by_key: dict[tuple[str, str], Entry]
    by_source: dict[tuple[str, str], Entry]
    current_ids: frozenset[str] = frozenset()

    @classmethod
    def build(cls, entries: Iterable[Entry], current_ids: Iterable[str] = ()) -> Index:
        by_key: dict[tuple[str, str], Entry] = {}
        by_source: dict[tuple[str, str], Entry] = {}
        for e in entries:
            by_key[(e.post, e.channel)] = e
            if e.source_hash:
                by_source.setdefault((e.source_hash, e.channel), e)
        return cls(by_key, by_source, frozenset(current_ids))

    def find(self, post: Post, channel: str) -> Entry | None:
        entry = self.by_key.get((post.id, channel))
        if entry is not None or not post.content_hash:
            return entry
        old = self.by_source.get((post.content_hash, channel))
        if old is None or old.post in self.current_ids:
            return None  # a copy of a post that still exists is a new post
        same_date = post.date is not None and old.scheduled_for == post.date.isoformat()
        return old if same_date else None


def sent_index(root: Path, data_dir: str, posts: Iterable[Post]) -> dict[tuple[str, str], Sent]:
    """For the validator: which current (post id, channel) pairs the record already holds."""
    posts = list(posts)
    entries = Ledger(root, data_dir).all()
    out: dict[tuple[str, str], Sent] = {}
    if not entries:
        return out
    index = Index.build(entries, (p.id for p in posts))
    for post in posts:
        for channel in post.channels:
            e = index.find(post, channel)
            if e is None or e.state == FAILED:
                continue
            sent = e.content_hash if e.state == PUBLISHED else ""
            out[(post.id, channel)] = Sent(sent, parse_time(e.published_at))
    return out
