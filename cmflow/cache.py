"""A cache of per-file validation results, so a second run over an unchanged queue is fast.

Entries are keyed by the file's content hash (a stat shortcut skips re-reading files whose
size and mtime are unchanged, as git's index does), invalidated whole when channels.yaml or
cmflow changes, and checked against the media files they looked at. Stored under
`.cmflow-cache/` (git-ignored).

The file lives in the work tree, so a pull request can put one there (`git add -f`): it is
data only (JSON, never pickle, so reading it cannot run code), every field's type is checked
when loading (anything unexpected: the cache is empty), and a cache that git tracks is
neither read nor written. The publish path does not use it at all (see `cmflow.publisher`).
A cache that cannot be read or written is simply ignored.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cmflow import __version__
from cmflow.model import Finding, KeyPath, Mark, Post

CACHE_DIR = ".cmflow-cache"
FILE_NAME = "validate.json"
FORMAT = 5
LEVELS = frozenset({"error", "warning"})

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
    writable: bool = True

    @classmethod
    def open(cls, root: Path, config_digest: str) -> Cache:
        path = root / CACHE_DIR / FILE_NAME
        key = f"{FORMAT}:{__version__}:{config_digest}"
        try:
            raw = path.read_bytes()
        except OSError:
            return cls(path, key, dirty=True)
        if tracked(root):
            # Put there by a commit, not by cmflow: never trusted, never overwritten.
            return cls(path, key, writable=False)
        loaded = _decode(raw, key)
        if loaded is None:
            return cls(path, key, dirty=True)
        entries, queue = loaded
        return cls(path, key, entries, queue_findings=queue)

    def save(self) -> None:
        if not self.dirty or not self.writable:
            return
        rows = [_row(rel, e) for rel, e in self.entries.items()]
        queue = (
            [_finding_row(f) for f in self.queue_findings]
            if self.queue_findings is not None
            else None
        )
        data = {"format": FORMAT, "key": self.key, "files": rows, "queue": queue}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            gitignore = self.path.parent / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("*\n", encoding="utf-8")
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".validate-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except (OSError, ValueError):
            pass


def tracked(root: Path) -> bool:
    """Whether git tracks anything under .cmflow-cache/ (a commit put it there). Outside a
    git repository, or without git, nothing is tracked."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z", "--", CACHE_DIR],
            cwd=root,
            capture_output=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and bool(done.stdout)


def media_stamps(root: Path, paths: list[str]) -> tuple[MediaStamp, ...]:
    out: list[MediaStamp] = []
    for rel in paths:
        try:
            st = (root / rel).stat()
            out.append((rel, st.st_size, st.st_mtime_ns))
        except (OSError, ValueError):
            out.append((rel, -1, 0))
    return tuple(out)


# --- The file format ------------------------------------------------------------------------
# {"format": 5, "key": "5:<cmflow version>:<channels.yaml digest>",
#  "files": [[rel, size, mtime_ns, sha256, media, fingerprints, findings, post], ...],
#  "queue": null | [[path, line, column, level, rule, message, channel], ...]}
# media: [[path, size, mtime_ns], ...]; findings: [[line, column, level, rule, message,
# channel], ...]; post: [id, meta, body_line, marks, date (ISO) | null, channels, status,
# content_hash], marks: [[key path, line, column], ...]. Rows are plain lists: decoding and
# checking 10,000 of them must stay a few tens of milliseconds.


class _Bad(Exception):
    """Anything in the file that is not what cmflow writes."""


def _row(rel: str, e: Entry) -> list[Any]:
    p = e.post
    marks = [[list(k), m.line, m.column] for k, m in p.marks.items()]
    post = [
        p.id,
        p.meta,
        p.body_line,
        marks,
        p.date.isoformat() if p.date is not None else None,
        p.channels,
        p.status,
        p.content_hash,
    ]
    findings = [[f.line, f.column, f.level, f.rule, f.message, f.channel] for f in e.findings]
    media = [list(m) for m in e.media]
    return [rel, e.stat[0], e.stat[1], e.sha, media, e.fingerprints, findings, post]


def _finding_row(f: Finding) -> list[Any]:
    return [f.path, f.line, f.column, f.level, f.rule, f.message, f.channel]


def _decode(raw: bytes, key: str) -> tuple[dict[str, Entry], list[Finding] | None] | None:
    """The entries and queue findings in `raw`, or None when it is not a cache cmflow wrote
    for this key (any other content, however crafted, gives None, never an exception)."""
    try:
        data = json.loads(raw)
        if type(data) is not dict or data.get("format") != FORMAT or data.get("key") != key:
            return None
        rows = data.get("files")
        queue = data.get("queue")
        if type(rows) is not list:
            raise _Bad
        entries: dict[str, Entry] = {}
        for row in rows:
            entry = _entry(row)
            entries[entry.post.path] = entry
        findings = None
        if queue is not None:
            if type(queue) is not list:
                raise _Bad
            findings = [_queue_finding(f) for f in queue]
        return entries, findings
    except (_Bad, ValueError, TypeError, RecursionError):
        return None


def _str(v: object) -> str:
    if type(v) is not str:
        raise _Bad
    return v


def _int(v: object) -> int:
    if type(v) is not int:
        raise _Bad
    return v


def _list(v: object, n: int | None = None) -> list[Any]:
    if type(v) is not list or (n is not None and len(v) != n):
        raise _Bad
    return v


def _finding(rel: str, row: object) -> Finding:
    line, col, level, rule, message, channel = _list(row, 6)
    if level not in LEVELS or (channel is not None and type(channel) is not str):
        raise _Bad
    return Finding(rel, _int(line), _int(col), level, _str(rule), _str(message), channel)


def _queue_finding(row: object) -> Finding:
    r = _list(row, 7)
    return _finding(_str(r[0]), r[1:])


def _plain(value: object, depth: int = 0) -> None:
    """Front-matter values as JSON gives them back: only plain data, not too deep."""
    t = type(value)
    if t is str or t is int or t is float or t is bool or value is None:
        return
    if depth > 20:
        raise _Bad
    if t is list:
        for v in value:  # type: ignore[attr-defined]
            _plain(v, depth + 1)
    elif t is dict:
        for v in value.values():  # type: ignore[attr-defined]
            _plain(v, depth + 1)
    else:
        raise _Bad


def _entry(row: object) -> Entry:
    rel, size, mtime, sha, media, fps, findings, post = _list(row, 8)
    rel = _str(rel)
    stamps = []
    for m in _list(media):
        path, msize, mmtime = _list(m, 3)
        stamps.append((_str(path), _int(msize), _int(mmtime)))
    if type(fps) is not dict or not all(type(v) is str for v in fps.values()):
        raise _Bad
    pid, meta, body_line, marks, date, channels, status, chash = _list(post, 8)
    if type(meta) is not dict:
        raise _Bad
    _plain(meta)
    keyed: dict[KeyPath, Mark] = {}
    for m in _list(marks):
        k, line, col = _list(m, 3)
        path = tuple(_list(k))
        if not all(type(part) is str or type(part) is int for part in path):
            raise _Bad
        keyed[path] = Mark(_int(line), _int(col))
    names = _list(channels)
    if not all(type(n) is str for n in names):
        raise _Bad
    when = None
    if date is not None:
        when = datetime.fromisoformat(_str(date))
        if when.tzinfo is None:
            raise _Bad
    # Filled directly: calling the dataclass __init__ 10,000 times is measurable here.
    p = Post.__new__(Post)
    p.__dict__.update(
        path=rel,
        id=_str(pid),
        meta=meta,
        body="",
        body_line=_int(body_line),
        marks=keyed,
        date=when,
        channels=names,
        status=_str(status),
        content_hash=_str(chash),
        problems=[],
    )
    fs = [_finding(rel, f) for f in _list(findings)]
    return Entry((_int(size), _int(mtime)), _str(sha), p, fs, tuple(stamps), fps)
