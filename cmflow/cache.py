"""A cache of per-file validation results, so a second run over an unchanged queue is fast.

Entries are keyed by the file's content hash (a stat shortcut skips re-reading files whose
size and mtime are unchanged, as git's index does), invalidated whole when channels.yaml or
cmflow changes, and checked against the media files they looked at. Stored under
`.cmflow-cache/` (git-ignored); a cache that cannot be read or written is simply ignored.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmflow import __version__
from cmflow.model import Finding, Post

CACHE_DIR = ".cmflow-cache"
FORMAT = 4

MediaStamp = tuple[str, int, int]  # (relative path, size or -1, mtime_ns)


@dataclass
class Entry:
    stat: tuple[int, int]  # (size, mtime_ns) of the post file
    sha: str
    post: Post
    findings: list[Finding]
    media: tuple[MediaStamp, ...] = ()
    fingerprints: dict[str, str] = field(default_factory=dict)  # channel -> rendered hash


@dataclass
class Cache:
    path: Path
    key: str
    entries: dict[str, Entry] = field(default_factory=dict)
    dirty: bool = False
    # Findings of the queue rules that depend on the posts and channels.yaml only (caps,
    # gaps, mix, duplicate ids), valid while no entry changes.
    queue_findings: list[Finding] | None = None

    @classmethod
    def open(cls, root: Path, config_digest: str) -> Cache:
        path = root / CACHE_DIR / "validate.pickle"
        key = f"{FORMAT}:{__version__}:{config_digest}"
        try:
            with path.open("rb") as fh:
                stored_key, rows, queue = pickle.load(fh)
            if stored_key == key and isinstance(rows, dict):
                entries = {rel: _entry(rel, row) for rel, row in rows.items()}
                findings = [Finding(*f) for f in queue] if queue is not None else None
                return cls(path, key, entries, queue_findings=findings)
        except (
            OSError,
            pickle.PickleError,
            EOFError,
            ValueError,
            TypeError,
            AttributeError,
            IndexError,
        ):
            pass
        return cls(path, key, dirty=True)

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            gitignore = self.path.parent / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("*\n", encoding="utf-8")
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".validate-")
            with os.fdopen(fd, "wb") as fh:
                rows = {rel: _row(e) for rel, e in self.entries.items()}
                queue = (
                    [tuple(vars(f).values()) for f in self.queue_findings]
                    if self.queue_findings is not None
                    else None
                )
                pickle.dump((self.key, rows, queue), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
        except OSError:
            pass


def media_stamps(root: Path, paths: list[str]) -> tuple[MediaStamp, ...]:
    out: list[MediaStamp] = []
    for rel in paths:
        try:
            st = (root / rel).stat()
            out.append((rel, st.st_size, st.st_mtime_ns))
        except (OSError, ValueError):
            out.append((rel, -1, 0))
    return tuple(out)


# Entries are stored as plain tuples: unpickling 10,000 dataclass instances costs several
# times more than unpickling tuples and rebuilding them.


def _row(e: Entry) -> tuple[Any, ...]:
    p = e.post
    post = (p.id, p.meta, p.body_line, p.marks, p.date, p.channels, p.status, p.content_hash)
    findings = [(f.line, f.column, f.level, f.rule, f.message, f.channel) for f in e.findings]
    return (e.stat, e.sha, e.media, e.fingerprints, findings, post)


def _entry(rel: str, row: tuple[Any, ...]) -> Entry:
    stat, sha, media, fps, findings, post = row
    pid, meta, body_line, marks, date, channels, status, chash = post
    # Filled directly: calling the dataclass __init__ 10,000 times is measurable here.
    p = Post.__new__(Post)
    p.__dict__.update(
        path=rel,
        id=pid,
        meta=meta,
        body="",
        body_line=body_line,
        marks=marks,
        date=date,
        channels=channels,
        status=status,
        content_hash=chash,
        problems=[],
    )
    fs = [Finding(rel, *f) for f in findings]
    return Entry(stat, sha, p, fs, media, fps)
