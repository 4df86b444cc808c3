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

import gc
import hashlib
import json
import os
import subprocess
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import (
    Callable,
    Collection,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
)
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from itertools import accumulate, chain, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cmflow import __version__, i18n
from cmflow.model import Finding, KeyPath, Mark, Post, Sent, State
from cmflow.timeutil import slot_request

if TYPE_CHECKING:
    from cmflow.forked import Forked

CACHE_DIR = ".cmflow-cache"
FILE_NAME = "validate.bin"
# 16: the sent index keeps failed pairs, with the reason (`Sent.failed`);
# 15: the sent index keeps each pair's source hash (`Sent.source_hash`);
# 14: a post's marks may be the row number of an earlier post with the same (`_marks_column`);
# 13: a CRC-32 of the file, not its SHA-256 (a third of the time of reading it);
# 12: a date in the brand's zone is kept as such (`@` after it), not as a bare offset;
# 11: the findings of the settled queue rules kept (an unchanged run answers without building
# the posts' entries), content hashes and the sent index's values cut only when read;
# 10: `slot:` dates (date: next, a day alone); 9: record entries carry their first part (id,
# URL), the sent index kept
FORMAT = 16
# Stamps (mtime_ns) at most this long before the cache was written are not trusted: a file
# changed again within the file system's clock tick (up to 2 s on some) after cmflow read it
# keeps its mtime, and often its size (git's "racy" index entries). Such a file is read
# again (posts: hashed; record files: read; folders: listed) rather than taken as unchanged.
RACY_NS = 2_000_000_000
LEVELS = frozenset({"error", "warning"})
_STATES = frozenset(s.value for s in State)

MediaStamp = tuple[str, int, int]  # (relative path, size or -1, mtime_ns)


@dataclass
class Entry:
    stat: tuple[int, int]  # (size, mtime_ns) of the post file
    sha: str
    post: Post
    findings: list[Finding]
    media: tuple[MediaStamp, ...] = ()
    fingerprints: dict[str, str] = field(default_factory=dict)  # channel -> rendered hash
    full: Post | None = None  # the post as parsed, when the caller keeps it (never cached)
    marks_json: list[Any] | None = None  # the post's marks as the cache held them
    # The post's date as the cache held it and its text there: written back as is while the
    # post keeps that date (`_date_column` costs seconds' worth of isoformat on a large queue).
    date_json: tuple[datetime | None, str | None] | None = None
    # Its row in the cache file it was read from (-1: checked in this run): its fingerprints
    # are that file's rows until filled in (see `_spliced_fingerprints`).
    row: int = -1


# What validation reads of one publish record file (see `cmflow.validation.record_scan`):
# post, channel, state, content_hash, source_hash, published_at, scheduled_for, reason (why it
# failed, said by validate), and the first part's id and URL ("" when none: "change it by hand
# at <url>" in validate's messages).
RecordFields = tuple[str, str, str, str, str, str | None, str | None, str | None, str, str]


class RecordState:
    """The publish record as last read: the record folder's mtime, its post folders with
    their mtime and .json names, and each file's (size, mtime_ns) and fields.

    An unchanged run only compares stamps (`flat`, four lists compared whole): the fields of
    tens of thousands of record files are decoded and checked only when asked for
    (`files`), and the dictionaries by folder and by file built only when the record
    changed (`dirs`, `stamps`)."""

    def __init__(
        self,
        top: int,
        dirs: dict[str, tuple[int, list[str]]] | None,
        files: dict[str, tuple[int, int, RecordFields]] | None = None,
        *,
        stamps: dict[str, tuple[int, int]] | None = None,
        later: Callable[[], list[RecordFields]] | None = None,
        flat: Flat | None = None,
        build: Callable[[], Flat] | None = None,
    ) -> None:
        self._top = top
        # Makes `flat` from the cache's columns, checked, when first asked for: an unchanged
        # run whose record another process checked never asks. A column that is not what
        # cmflow writes gives an empty record that matches no folder (`BAD_TOP`): read
        # again from the record, as any change.
        self._build = build
        self._dirs = dirs
        self._files = files
        self._later = later
        if stamps is None and files is not None:
            stamps = {k: (v[0], v[1]) for k, v in files.items()}
        self._stamps = stamps  # "folder/name.json" -> (size, mtime_ns)
        self._flat = flat

    @property
    def top(self) -> int:
        """The record folder's mtime_ns (or -1: none; `BAD_TOP`: not to be trusted)."""
        self._built()
        return self._top

    def _built(self) -> None:
        build, self._build = self._build, None
        if build is not None:
            try:
                self._flat = build()
            except (_Bad, ValueError, TypeError):
                self._top, self._flat, self._later, self._files = (
                    BAD_TOP,
                    ([], [], [], []),
                    None,
                    {},
                )

    def flat(self) -> Flat:
        """Folder names, their mtimes, "folder/name.json" of each file and its (size,
        mtime_ns), in the record's order."""
        self._built()
        if self._flat is None:
            names = list(self.dirs)
            mtimes = [self.dirs[n][0] for n in names]
            keys = [f"{n}/{f}" for n in names for f in self.dirs[n][1]]
            stamps = self.stamps
            self._flat = (names, mtimes, keys, [stamps.get(k, (-1, -1)) for k in keys])
        return self._flat

    @property
    def dirs(self) -> dict[str, tuple[int, list[str]]]:
        self._built()
        if self._dirs is None:
            assert self._flat is not None
            names, mtimes, keys, _stamps = self._flat
            dirs: dict[str, tuple[int, list[str]]] = {
                n: (m, []) for n, m in zip(names, mtimes, strict=True)
            }
            for k in keys:
                folder, _, file = k.partition("/")
                dirs[folder][1].append(file)
            self._dirs = dirs
        return self._dirs

    @property
    def stamps(self) -> dict[str, tuple[int, int]]:
        self._built()
        if self._stamps is None:
            assert self._flat is not None
            self._stamps = dict(zip(self._flat[2], self._flat[3], strict=True))
        return self._stamps

    @property
    def files(self) -> dict[str, tuple[int, int, RecordFields]]:
        """ "folder/name.json" -> (size, mtime_ns, fields). Fields that are not what cmflow
        writes give no file at all: each is then read again from the record."""
        self._built()
        if self._files is None:
            later, self._later = self._later, None
            try:
                fields = later() if later is not None else []
                if len(fields) != len(self.stamps):
                    raise _Bad
                self._files = {
                    k: (*stamp, got)
                    for (k, stamp), got in zip(self.stamps.items(), fields, strict=True)
                }
            except (_Bad, ValueError, TypeError):
                self._files = {}
        return self._files


Flat = tuple[list[str], list[int], list[str], list[tuple[int, int]]]
BAD_TOP = -2  # the folder mtime of a kept record that turned out malformed: never matches


class SentIndex(Mapping[tuple[str, str], Sent]):
    """The sent index kept in the cache: its keys at once (the clock's rules only ask
    whether a pair was sent), each value built when read (its columns cut the first time)."""

    def __init__(self, keys: dict[tuple[str, str], int], texts: tuple[_Texts, ...]) -> None:
        self._keys = keys
        # hash, published_at, url, source, failed: their bytes checked when the cache was
        # loaded (texts, None only where allowed), cut the first time a value is read.
        self._texts: tuple[_Texts, ...] | None = texts
        self._columns: tuple[list[str | None], ...] = ()

    def _cut(self) -> tuple[list[str | None], ...]:
        if self._texts is not None:
            self._columns, self._texts = tuple(t.load() for t in self._texts), None
        return self._columns

    def __getitem__(self, key: tuple[str, str]) -> Sent:
        i = self._keys[key]
        content_hash, when, url, source, failed, renamed = (column[i] for column in self._cut())
        published = None
        if when is not None:
            try:
                published = datetime.fromisoformat(when)  # naive when the record's was
            except ValueError:
                # Never written by cmflow (it writes the record's own times): a damaged
                # cache, whose checksum happens to hold, says no time rather than failing.
                published = None
        got = Sent.__new__(Sent)  # frozen: filled directly, as `Sent(...)` costs more
        got.__dict__.update(
            content_hash=content_hash,
            published_at=published,
            url=url,
            source_hash=source,
            failed=failed,
            renamed=renamed,
        )
        return got

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def pairs(self) -> KeysView[tuple[str, str]] | set[tuple[str, str]]:
        """The (post id, channel) pairs sent or being sent, the failed and held ones left
        out (the clock's rules look at those): `in` them is a dictionary's, with no call."""
        texts = self._texts
        if texts is not None and texts[-2].all_none() and texts[-1].all_none():
            return self._keys.keys()  # the usual case: told without cutting any column
        failed, renamed = self._cut()[-2:]
        return {k for k, i in self._keys.items() if failed[i] is None and renamed[i] is None}

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


# The marks and meta columns of a loaded cache, with the entries they belong to.
Lazy = tuple["_Later", "_Later", list["Entry"]]


class Cache:
    """The cache of one repository for one run. `entries`, the posts' entries, are built
    from the file when first read: an unchanged run answers from `loaded` without them."""

    def __init__(self, path: Path, key: str, *, dirty: bool = False, writable: bool = True) -> None:
        self.path = path
        self.key = key
        self.dirty = dirty
        self.writable = writable
        # Findings of the queue rules that depend on the posts and channels.yaml only (caps,
        # gaps, mix, duplicate ids), valid while no entry changes.
        self.queue_findings: list[Finding] | None = None
        # Findings of the settled queue rules (`Rule.settled`: posts, record, rendered
        # hashes, not the time), valid while neither the posts nor the record change.
        self.settled: list[Finding] | None = None
        # The cached posts' marks and meta, checked and filled in only when asked (`complete`).
        self.lazy: Lazy | None = None
        self.record: RecordState | None = None
        # Which (post id, channel) pairs the record holds (`cmflow.ledger.sent_index`), valid
        # while neither the posts nor the record change: reading tens of thousands of record
        # files again is most of an unchanged run on a years-old repository.
        self.sent: Mapping[tuple[str, str], Sent] | None = None
        # Fills the cached entries' fingerprints, until called (`fingerprints`).
        self.fill: Callable[[], None] | None = None
        # The file as read, until its entries are built (None: no file, or built).
        self.loaded: Loaded | None = None
        # mtimes at or after this are "racy" (see RACY_NS): not trusted to mean unchanged.
        self.racy = -1
        self._entries: dict[str, Entry] = {}
        self._part: Forked | None = None  # the entries' tables, packed elsewhere (`prepare`)
        self._kept_fps: dict[str, Any] | None = None  # the fingerprints table as read
        self._kept_files: dict[str, Any] | None = None  # the posts' table as read

    @property
    def entries(self) -> dict[str, Entry]:
        loaded, self.loaded = self.loaded, None
        if loaded is not None:
            try:
                with _no_gc():
                    self._entries, self.lazy, self.fill = loaded.entries()
                self._kept_fps, self._kept_files = loaded.fps, loaded.files
            except (_Bad, ValueError, TypeError, RecursionError, KeyError):
                # Not what cmflow writes after all: nothing in the file is used.
                self._entries, self.lazy, self.fill = {}, None, None
                self.queue_findings = self.settled = self.sent = self.record = None
                self.dirty = True
        return self._entries

    @entries.setter
    def entries(self, value: dict[str, Entry]) -> None:
        self.loaded = None
        self._entries = value

    @classmethod
    def open(
        cls, root: Path, config_digest: str, zone: tzinfo = UTC, file: RawFile | None = None
    ) -> Cache:
        """The cache of `root` for this configuration; `zone`: the brand's time zone.
        `file`: its bytes as `read_file` gave them (read here when not given)."""
        path = root / CACHE_DIR / FILE_NAME
        # Findings are cached as messages: in the language they were written in.
        key = f"{FORMAT}:{__version__}:{code_stamp()}:{i18n.current()}:{config_digest}"
        got = file if file is not None else read_file(root)
        if not got:
            return cls(path, key, dirty=True)
        raw, written = got
        if tracked(root):
            # Put there by a commit, not by cmflow: never trusted, never overwritten.
            return cls(path, key, writable=False)
        with _no_gc():  # tens of thousands of objects, no cycle: the collector only costs
            loaded = _decode(raw, key, zone)
        if loaded is None:
            return cls(path, key, dirty=True)
        cache = cls(path, key)
        cache.loaded = loaded
        cache.racy = written - RACY_NS
        cache.queue_findings = loaded.queue
        cache.settled = loaded.settled
        cache.record = loaded.record
        cache.sent = loaded.sent
        return cache

    def fingerprints(self) -> None:
        """Give every cached entry its rendered hashes (only edited-after-publish reads them,
        and only for posts the record holds)."""
        self.entries  # noqa: B018 (built first: `fill` comes with them)
        fill, self.fill = self.fill, None
        if fill is not None:
            fill()

    def variant_statuses(self) -> bool:
        """Whether some cached post not completed yet has a variant that sets a status (a
        channel it makes a draft, which `schedule.past` reads from the meta): told from the
        meta column's text, unread."""
        lazy = self.lazy
        return lazy is not None and type(lazy[1]) is _Later and b'"status"' in lazy[1].text

    def complete(self) -> bool:
        """Give every cached post its marks and meta (the queue rules read them). False when
        they are malformed: then no cached entry may be used."""
        self.entries  # noqa: B018 (built first: `lazy` comes with them)
        lazy, self.lazy = self.lazy, None
        if lazy is None:
            return True
        with _no_gc():
            return _complete(lazy)

    def prepare(self) -> None:
        """Start packing the entries' tables in a forked process (`cmflow.forked`), for
        `save` to take: on a large queue, most of saving, done on the other core while this
        one runs the queue rules. Call it once the entries are final (`validate` does, after
        loading them); `save` packs them itself if the child fails."""
        from cmflow.forked import Forked

        if self.dirty and self.writable and self._part is None:
            self._part = Forked(lambda: [_entries_part(self)])

    def discard(self) -> None:
        """Stop a `prepare` whose result will not be saved."""
        part, self._part = self._part, None
        if part is not None:
            part.cancel()

    def save(self) -> None:
        part, self._part = self._part, None
        if not self.dirty or not self.writable or not self.complete():
            if part is not None:
                part.cancel()
            return
        with _no_gc():
            got = None
            if part is not None:
                # This process's share first (the fingerprints and the rest), then the
                # other's, which is most often ready by then.
                mine = _encode_for(self, _MINE)
                header, chunks = _pack_columns(mine, _MINE)
                got = _split_part(part.result() or b"")
            if got is not None:
                header, chunks = _in_order((got[0], got[1]), (header, chunks))
                pieces = _packed(mine["format"], mine["key"], header, chunks)
            else:
                data = _encode(self)
                header, chunks = _pack_columns(data)
                pieces = _packed(data["format"], data["key"], header, chunks)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            gitignore = self.path.parent / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("*\n", encoding="utf-8")
            import tempfile  # here: most runs write no cache, and it costs start-up time

            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".validate-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.writelines(pieces)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except (OSError, ValueError):
            pass


# A cache file's bytes and its mtime_ns when read (see `Cache.racy`); () when unreadable.
RawFile = tuple[bytes, int] | tuple[()]


def read_file(root: Path) -> RawFile:
    """The bytes of `root`'s cache file and its mtime, or () when there is none to read."""
    try:
        with (root / CACHE_DIR / FILE_NAME).open("rb") as fh:
            written = os.fstat(fh.fileno()).st_mtime_ns
            return fh.read(), written
    except OSError:
        return ()


def media_in(file: RawFile) -> tuple[list[str], list[int], list[int], int] | None:
    """The media files kept in a cache file's bytes (paths, sizes, mtimes) and the racy
    bound of their stamps, read alone (as `record_in`)."""
    if not file:
        return None
    raw, written = file
    try:
        data = _unpack(raw, only={"media": frozenset({"path", "size", "mtime"})})
        media = data.get("media")
        if type(media) is not dict:
            return None
        spec = {k: _MEDIA_COLUMNS[k] for k in ("path", "size", "mtime")}
        m = _columns(media, spec)
        return m["path"], m["size"], m["mtime"], written - RACY_NS
    except (_Bad, ValueError, TypeError, RecursionError, KeyError):
        return None


def record_in(file: RawFile) -> tuple[RecordState, int] | None:
    """The record state kept in a cache file's bytes and the racy bound of its stamps, read
    alone (the rest of the file is not decoded, nor its checksum checked: for a forked
    process whose answer counts only if `Cache.open` then finds the same file sound)."""
    if not file:
        return None
    raw, written = file
    try:
        data = _unpack(raw, only={"rdirs": frozenset(_RDIR_COLUMNS), "rfiles": _RFILE_STAMPS})
        if data.get("rdirs") is None:
            return None
        return _record(data["rdirs"], data.get("rfiles"), fields=False), written - RACY_NS
    except (_Bad, ValueError, TypeError, RecursionError, KeyError):
        return None


@contextmanager
def _no_gc() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


@lru_cache(maxsize=1)
def code_stamp() -> str:
    """What identifies the code that wrote the findings, beyond its version: the size and
    mtime of each of cmflow's modules and catalogues. The version alone stays the same from
    one commit to the next (`pip install git+...`, an editable install after `git pull`),
    and a cache from other code can hold other findings. About a hundred stats: a
    millisecond."""
    package = os.path.dirname(os.path.abspath(__file__))
    stamps: list[str] = []
    folders = [package]
    while folders:
        folder = folders.pop()
        try:
            listing = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for e in listing:
            if e.name.endswith((".py", ".mo")):
                try:
                    st = e.stat()
                except OSError:
                    continue
                stamps.append(f"{e.path}\0{st.st_size}\0{st.st_mtime_ns}")
            elif e.is_dir(follow_symlinks=False) and e.name not in ("__pycache__", "templates"):
                folders.append(e.path)
    return hashlib.sha256("\n".join(stamps).encode("utf-8", "surrogatepass")).hexdigest()[:16]


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
    base = str(root)
    for rel in paths:
        try:
            st = os.stat(os.path.join(base, rel))  # Path objects cost more than the stat
            out.append((rel, st.st_size, st.st_mtime_ns))
        except (OSError, ValueError):
            out.append((rel, -1, 0))
    return tuple(out)


# --- The file format ------------------------------------------------------------------------
# One JSON object: {"format": 6, "key": "6:<cmflow version>:<language>:<channels.yaml digest>", "files":
# {column: [one value per post file]}, "findings": {column: [...]}, "queue": null |
# {column: [...]}, "media": {column: [...]}, "fingerprints": {column: [...]}}. Columns, not
# rows: checking the type of every value of a column is one pass in C (`set(map(type, ...))`),
# so an unchanged run decodes and checks 10,000 posts in milliseconds. The slim posts' marks
# and meta (only read when the queue rules run again, i.e. when something changed) are
# checked only then (`Cache.posts_in_full`).


class _Later:
    """A column kept as its JSON text until asked for (`Cache.complete`)."""

    def __init__(self, text: bytes, count: int) -> None:
        self.text = text
        self.count = count

    def __len__(self) -> int:
        return self.count

    def load(self) -> list[Any]:
        values = json.loads(self.text)
        if type(values) is not list or len(values) != self.count:
            raise _Bad
        return values


class _Texts:
    """A column of texts cut into values only when asked for (the record files' fields, the
    rendered hashes: an unchanged run rarely reads them). Its bytes are checked when the
    cache is loaded (UTF-8, lengths that add up, no None unless `nullable`), so that
    cutting it later cannot fail."""

    def __init__(self, chunk: bytes, count: int, nullable: bool) -> None:
        if len(chunk) < 8 * count:
            raise _Bad
        self.lengths = array("q", chunk[: 8 * count])
        self.text = chunk[8 * count :].decode("utf-8", "surrogatepass")
        low = min(self.lengths, default=0)
        if low < (-1 if nullable else 0):
            raise _Bad
        # Every length is -1 (None) or more: the texts' lengths add up to this (in C).
        if sum(self.lengths) + self.lengths.count(-1) != len(self.text):
            raise _Bad
        self.count = count

    def __len__(self) -> int:
        return self.count

    def all_none(self) -> bool:
        """Whether every value is None, told without cutting the column."""
        return not self.text and self.lengths.count(-1) == self.count

    def load(self) -> list[str | None]:
        out: list[str | None] = []
        pos = 0
        text = self.text
        if min(self.lengths, default=0) >= 0:
            ends = list(accumulate(self.lengths))
            return list(map(text.__getitem__, map(slice, [0, *ends[:-1]], ends)))
        for n in self.lengths:
            if n < 0:
                out.append(None)
            else:
                out.append(text[pos : pos + n])
                pos += n
        return out


_FILE_COLUMNS: dict[str, tuple[type, ...]] = {
    "path": (str,),
    "size": (int,),
    "mtime": (int,),
    "sha": (str,),
    "id": (str,),
    "date": (str, type(None)),
    "date_line": (int,),
    "date_column": (int,),
    "status": (str,),
    "hash": (str,),
    "body_line": (int,),
    "channels": (list,),
    "marks": (_Later,),
    "meta": (_Later,),
}
_FINDING_COLUMNS: dict[str, tuple[type, ...]] = {
    "file": (int,),
    "line": (int,),
    "column": (int,),
    "level": (str,),
    "rule": (str,),
    "message": (str,),
    "channel": (str, type(None)),
}
_MEDIA_COLUMNS: dict[str, tuple[type, ...]] = {
    "file": (int,),
    "path": (str,),
    "size": (int,),
    "mtime": (int,),
}
_FP_COLUMNS: dict[str, tuple[type, ...]] = {"file": (int,), "channel": (str,), "hash": (str,)}
_RDIR_COLUMNS: dict[str, tuple[type, ...]] = {"name": (str,), "mtime": (int,), "top": (int,)}
_RFILE_COLUMNS: dict[str, tuple[type, ...]] = {
    "dir": (int,),
    "name": (str,),
    "size": (int,),
    "mtime": (int,),
    "post": (str,),
    "channel": (str,),
    "state": (str,),
    "content_hash": (str,),
    "source_hash": (str,),
    "published_at": (str, type(None)),
    "scheduled_for": (str, type(None)),
    "reason": (str, type(None)),
    "remote_id": (str,),
    "url": (str,),
}
# Decoded only when asked for (`RecordState.files`).
_RFILE_FIELDS = tuple(k for k in _RFILE_COLUMNS if k not in ("dir", "name", "size", "mtime"))
# Text columns cut into values only when asked for (see `_Texts`).
_LAZY_TEXTS = frozenset(
    [("rfiles", k) for k in _RFILE_FIELDS]
    + [("rdirs", "name"), ("rfiles", "name")]
    + [("fingerprints", "channel"), ("fingerprints", "hash"), ("files", "sha")]
    + [("sent", "hash"), ("sent", "published_at"), ("sent", "url"), ("sent", "source")]
    + [("sent", "failed"), ("sent", "renamed")]
)
_SENT_COLUMNS: dict[str, tuple[type, ...]] = {
    "post": (str,),
    "channel": (str,),
    "hash": (str,),
    "published_at": (str, type(None)),
    "url": (str, type(None)),
    "source": (str,),
    "failed": (str, type(None)),
    "renamed": (str, type(None)),
}
_QUEUE_COLUMNS: dict[str, tuple[type, ...]] = {
    "path": (str,),
    **{k: v for k, v in _FINDING_COLUMNS.items() if k != "file"},
}


_ZONED = "@"  # after a date in the brand's zone (see `_date_column`)
_SLOT = "slot:"  # the date column of a post that takes a queue slot: "slot:next"


def _date_column(p: Post) -> str | None:
    """A post's date as cached: its own time, or its slot request (resolved each run: it
    depends on the whole queue, the record and git)."""
    if p.slot is not None:
        return _SLOT + p.slot
    if p.date is None:
        return None
    # A date parsed in the brand's zone (a ZoneInfo: the only zone a post's date gets) comes
    # back in it: wall-clock arithmetic across a DST change (a gap, a window) differs from
    # a fixed offset's. One written with an offset keeps it, as parsing gives it.
    zoned = isinstance(p.date.tzinfo, ZoneInfo)
    return p.date.isoformat() + _ZONED if zoned else p.date.isoformat()


def _encode(cache: Cache) -> dict[str, Any]:
    """Every table of the file (packed by this process alone)."""
    return _encode_for(cache, _ORDER)


def _encode_posts(
    cache: Cache, wanted: Collection[str] = tuple(_FILE_COLUMNS), others: bool = True
) -> dict[str, Any]:
    """The columns `wanted` of the posts' table (`files`), and with `others` the findings'
    and media tables: the entries' tables but their fingerprints."""
    # Column by column, each a comprehension: a saved cache is written after every edit,
    # and a loop appending to fourteen lists per post costs several times more.
    es = list(cache.entries.values())
    ps = [e.post for e in es]

    def dates() -> list[str | None]:
        return [
            kept[1]
            if (kept := e.date_json) is not None and kept[0] is e.post.date and e.post.slot is None
            else _date_column(e.post)
            for e in es
        ]

    kept = cache._kept_files or {}

    def date_mark(column: str, field: str) -> list[int]:
        # A cached post's date mark is its row's, as read (`Entry.row`): copied, not looked
        # up in its marks, post by post (50,000 of them after one edit).
        read = kept.get(column)
        if type(read) is not list:
            read = []
        n = len(read)
        return [
            read[e.row] if 0 <= e.row < n else getattr(p.mark("date"), field)
            for e, p in zip(es, ps, strict=True)
        ]

    build: dict[str, Callable[[], list[Any]]] = {
        "path": lambda: list(cache.entries),
        "size": lambda: [e.stat[0] for e in es],
        "mtime": lambda: [e.stat[1] for e in es],
        "sha": lambda: [e.sha for e in es],
        "id": lambda: [p.id for p in ps],
        "date": dates,
        "date_line": lambda: date_mark("date_line", "line"),
        "date_column": lambda: date_mark("date_column", "column"),
        "status": lambda: [p.status for p in ps],
        "hash": lambda: [p.content_hash for p in ps],
        "body_line": lambda: [p.body_line for p in ps],
        "channels": lambda: [p.channels for p in ps],
        "marks": lambda: _marks_column(es),
        "meta": lambda: [p.meta for p in ps],
    }
    files = {name: build[name]() for name in wanted}
    if not others:
        return {"files": files}
    # Rows flattened column by column, with no tuple per row (150,000 fingerprints on a
    # 50,000-post queue).
    rows = [f for e in es for f in e.findings]
    found: dict[str, list[Any]] = {
        "file": [i for i, e in enumerate(es) for _f in e.findings],
        "line": [f.line for f in rows],
        "column": [f.column for f in rows],
        "level": [f.level for f in rows],
        "rule": [f.rule for f in rows],
        "message": [f.message for f in rows],
        "channel": [f.channel for f in rows],
    }
    used = [m for e in es for m in e.media]
    media: dict[str, list[Any]] = {
        "file": [i for i, e in enumerate(es) for _m in e.media],
        **{k: [m[c] for m in used] for c, k in enumerate(("path", "size", "mtime"))},
    }
    return {"files": files, "findings": found, "media": media}


_MarksKey = tuple[tuple[tuple[Any, ...], int, int], ...]  # (key path, line, column) each


def _marks_column(es: list[Entry]) -> list[list[Any] | int]:
    """Each post's marks, a list of [key path, line, column], or the row of the first post
    with the same marks (an int): a brand's posts follow a few templates, so most posts
    share theirs, and the column is read back in a fraction of the time (`_complete`)."""
    out: list[list[Any] | int] = []
    first: dict[_MarksKey, int] = {}  # the marks, as a key -> the row they were written at
    # Marks read from the cache are shared there by the posts that have the same: each
    # object's row is worked out once (by its id: the entries hold them all meanwhile).
    row_of: dict[int, int] = {}
    for i, e in enumerate(es):
        kept = e.marks_json
        if kept is not None:
            at = row_of.get(id(kept))
            if at is None:
                key = tuple([(tuple(k), line, col) for k, line, col in kept])
                at = row_of[id(kept)] = first.setdefault(key, i)
            out.append(at if at != i else kept)
        else:
            key = tuple([(k, m.line, m.column) for k, m in e.post.marks.items()])
            at = first.setdefault(key, i)
            out.append(at if at != i else [[list(k), ln, c] for k, ln, c in key])
    return out


def _encode_for(cache: Cache, order: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """What `_pack_columns(…, order)` packs: the tables of those columns (and the format and
    key, with the queue's and record's)."""
    tables = {table for table, _name in order}
    out: dict[str, Any] = {}
    if tables & {"files", "findings", "media"}:
        wanted = [name for table, name in order if table == "files"]
        out.update(_encode_posts(cache, wanted, others=bool(tables & {"findings", "media"})))
    if "fingerprints" in tables:
        out.update(_encode_fingerprints(cache))
    if tables - {"files", "findings", "media", "fingerprints"}:
        out.update(_encode_rest(cache))
    return out


def _encode_fingerprints(cache: Cache) -> dict[str, Any]:
    """The table of the entries' fingerprints: spliced from the one read when the cached
    entries' were never filled in (`_spliced_fingerprints`), else from every entry's."""
    es = list(cache.entries.values())
    if cache.fill is not None and cache._kept_fps is not None:
        spliced = _spliced_fingerprints(es, cache._kept_fps)
        if spliced is not None:
            return {"fingerprints": spliced}
    cache.fingerprints()
    fps: dict[str, list[Any]] = {
        "file": [i for i, e in enumerate(es) for _c in e.fingerprints],
        "channel": [c for e in es for c in e.fingerprints],
        "hash": [fp for e in es for fp in e.fingerprints.values()],
    }
    return {"fingerprints": fps}


class _Packed:
    """A column already in its bytes (see `_pack_columns`)."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk = chunk
        self.count = count

    def __len__(self) -> int:
        return self.count


def _spliced_fingerprints(es: list[Entry], kept: dict[str, Any]) -> dict[str, Any] | None:
    """The fingerprints table, packed: for the entries read from the cache (`Entry.row`,
    their fingerprints never filled in), their rows of the table read (`kept`), copied by
    runs of consecutive rows, not value by value; for the others, their own. The same
    bytes as packing every entry's (150,000 fingerprints on a 50,000-post queue, most of
    them unchanged when one post was edited). None when `kept` is not as expected."""
    files, channels, hashes = kept["file"], kept["channel"], kept["hash"]
    if type(channels) is not _Texts or type(hashes) is not _Texts or type(files) is not list:
        return None
    ch_ends = [0, *accumulate(channels.lengths)]
    hs_ends = [0, *accumulate(hashes.lengths)]
    out_files: list[int] = []
    ch_lengths, hs_lengths = array("q"), array("q")
    ch_texts: list[str] = []
    hs_texts: list[str] = []
    i, n = 0, len(es)
    while i < n:
        e = es[i]
        if e.row < 0 or e.fingerprints:
            for channel, fp in e.fingerprints.items():
                out_files.append(i)
                ch_lengths.append(len(channel))
                ch_texts.append(channel)
                hs_lengths.append(len(fp))
                hs_texts.append(fp)
            i += 1
            continue
        first, k = e.row, i + 1  # a run of entries read from consecutive rows
        while k < n and es[k].row == first + (k - i) and not es[k].fingerprints:
            k += 1
        a = bisect_left(files, first)
        b = bisect_left(files, first + (k - i), a)
        shift = i - first
        out_files.extend([v + shift for v in files[a:b]])
        ch_lengths.extend(channels.lengths[a:b])
        hs_lengths.extend(hashes.lengths[a:b])
        ch_texts.append(channels.text[ch_ends[a] : ch_ends[b]])
        hs_texts.append(hashes.text[hs_ends[a] : hs_ends[b]])
        i = k
    count = len(out_files)
    return {
        "file": out_files,
        "channel": _Packed(ch_lengths.tobytes() + _utf8("".join(ch_texts)), count),
        "hash": _Packed(hs_lengths.tobytes() + _utf8("".join(hs_texts)), count),
    }


def _encode_rest(cache: Cache) -> dict[str, Any]:
    """Every table but the entries', with the format and the key."""
    queue = _finding_table(cache.queue_findings)
    settled = (
        _finding_table(cache.settled) if queue is not None and cache.sent is not None else None
    )
    rdirs: dict[str, list[Any]] | None = None
    rfiles: dict[str, list[Any]] | None = None
    if cache.record is not None:
        rec = cache.record
        rdirs = {"name": [], "mtime": [], "top": []}
        rfiles = {k: [] for k in _RFILE_COLUMNS}
        for d, (name, (mtime, names)) in enumerate(rec.dirs.items()):
            complete = all(f"{name}/{file}" in rec.files for file in names)
            rdirs["name"].append(name)
            rdirs["mtime"].append(mtime if complete else -1)  # -1: list it again
            rdirs["top"].append(rec.top)
            for file in names:
                got = rec.files.get(f"{name}/{file}")
                if got is None:
                    continue
                size, fmtime, fields = got
                row = (d, file, size, fmtime, *fields)
                for key, value in zip(_RFILE_COLUMNS, row, strict=True):
                    rfiles[key].append(value)
        if not rec.dirs:
            rdirs["name"].append("")
            rdirs["mtime"].append(-1)
            rdirs["top"].append(rec.top)
    sent: dict[str, list[Any]] | None = None
    if cache.sent is not None and cache.record is not None:
        sent = {k: [] for k in _SENT_COLUMNS}
        for (post, channel), pair in cache.sent.items():
            when = pair.published_at.isoformat() if pair.published_at is not None else None
            cells = (
                post,
                channel,
                pair.content_hash,
                when,
                pair.url,
                pair.source_hash,
                pair.failed,
                pair.renamed,
            )
            for key, value in zip(_SENT_COLUMNS, cells, strict=True):
                sent[key].append(value)
    return {
        "format": FORMAT,
        "key": cache.key,
        "sent": sent,
        "queue": queue,
        "settled": settled,
        "rdirs": rdirs,
        "rfiles": rfiles,
    }


def _finding_table(findings: list[Finding] | None) -> dict[str, list[Any]] | None:
    if findings is None:
        return None
    table: dict[str, list[Any]] = {k: [] for k in _QUEUE_COLUMNS}
    for f in findings:
        for key, column in table.items():
            column.append(getattr(f, key))
    return table


class _Bad(Exception):
    """Anything in the file that is not what cmflow writes."""


def _columns(table: object, spec: dict[str, tuple[type, ...]]) -> dict[str, Any]:
    """The columns of `table`, each a list of values of its declared types, all one length."""
    if type(table) is not dict or set(table) != set(spec):
        raise _Bad
    length = None
    for key, types in spec.items():
        column = table[key]
        if length is not None and len(column) != length:
            raise _Bad
        length = len(column)
        if types == (_Later,):
            if type(column) is not _Later:
                raise _Bad
        elif type(column) is _Texts:
            if _KINDS[types] != "s":
                raise _Bad
        elif type(column) is not list or not set(map(type, column)) <= set(types):
            raise _Bad
    return table


def _texts(values: list[Any]) -> None:
    if not set(map(type, values)) <= {str}:
        raise _Bad


class CachedPost(Post):
    """A post answered from the cache: its marks (where each front-matter key is written)
    are kept as the cache held them, checked, and turned into `Mark`s only when a rule
    reads them (`Cache.complete`): on a 50,000-post queue with one post changed, the queue
    rules read a few posts' marks, and building them all was a tenth of the run."""

    @property
    def marks(self) -> dict[KeyPath, Mark]:
        d = self.__dict__
        built: dict[KeyPath, Mark] | None = d["_marks"]
        if built is None:
            built = d["_marks"] = {tuple(k): Mark(line, col) for k, line, col in d["_kept"]}
        return built

    @marks.setter
    def marks(self, value: dict[KeyPath, Mark]) -> None:
        self.__dict__["_marks"] = value

    def mark(self, *key: str | int) -> Mark:
        d = self.__dict__
        if d["_marks"] is not None:
            return super().mark(*key)
        # As `Post.mark`, in the kept rows (a few a post): saving the cache reads every
        # post's date mark, and building every post's marks for it was most of the save.
        k = list(key)
        while k:
            for path, line, col in d["_kept"]:
                if path == k:
                    return Mark(line, col)
            k.pop()
        return Mark(1, 1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Post):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(Post))

    # As Post's: mutable, compared by value, so not hashable.
    __hash__ = None  # type: ignore[assignment]


class Loaded:
    """A cache file's tables, every column's type checked, turned into objects only as asked:
    an unchanged run reads the stamps, the findings and the slim posts (`posts`); the
    entries (`entries`) are built only when some file changed."""

    zone: tzinfo = UTC  # the brand's: dates parsed in it come back in it (`_date_column`)

    def __init__(self, data: dict[str, Any]) -> None:
        files = _columns(data.get("files"), _FILE_COLUMNS)
        found = _columns(data.get("findings"), _FINDING_COLUMNS)
        media = _columns(data.get("media"), _MEDIA_COLUMNS)
        fps = _columns(data.get("fingerprints"), _FP_COLUMNS)
        n = len(files["path"])
        for column in (found["file"], media["file"], fps["file"]):
            if column and (min(column) < 0 or max(column) >= n):
                raise _Bad
        if not set(found["level"]) <= LEVELS:
            raise _Bad
        if sorted(found["file"]) != found["file"] or sorted(media["file"]) != media["file"]:
            raise _Bad  # rows by post, in the posts' order (as written)
        _texts([c for names in files["channels"] for c in names])
        self.files, self.found, self.media, self.fps = files, found, media, fps
        self.paths: list[str] = files["path"]
        self.sizes: list[int] = files["size"]
        self.mtimes: list[int] = files["mtime"]
        self.queue = _findings(data.get("queue"))
        self.settled = _findings(data.get("settled"))
        self.record = None
        if data.get("rdirs") is not None:
            self.record = _record(data["rdirs"], data.get("rfiles"))
        self.sent = None
        if data.get("sent") is not None and self.record is not None:
            self.sent = _sent(data["sent"])

    def findings(self) -> list[Finding]:
        """Every post's findings, in the posts' order."""
        paths = self.paths
        f = self.found
        return [
            Finding(paths[i], line, col, level, rule, message, channel)
            for i, line, col, level, rule, message, channel in zip(
                *(f[k] for k in _FINDING_COLUMNS), strict=True
            )
        ]

    def slim_posts(self, rows: Iterable[int] | None = None) -> list[Post] | None:
        """`posts(rows)`, or None when a date is not what cmflow writes (a bad cache)."""
        try:
            return self.posts(rows)
        except (_Bad, ValueError, TypeError):
            return None

    def posts(self, rows: Iterable[int] | None = None) -> list[Post]:
        """The slim posts (those of `rows` only, in their order, when given), their marks and
        meta as `Cache.complete` leaves them until called (the date's mark only). Raises
        _Bad for a date that is not what cmflow writes."""
        f = self.files
        out: list[Post] = []
        new = CachedPost.__new__
        columns = [
            f[k]
            for k in (
                "path",
                "id",
                "date",
                "date_line",
                "date_column",
                "status",
                "hash",
                "body_line",
                "channels",
            )
        ]
        chosen: Iterable[tuple[Any, ...]]
        if rows is not None:
            chosen = (tuple(c[i] for c in columns) for i in rows)
        else:
            chosen = zip(*columns, strict=True)
        for rel, pid, date, line, col, status, chash, body_line, names in chosen:
            when, slot = None, None
            if date is not None and date.startswith(_SLOT):
                slot = date[len(_SLOT) :]
                if slot != "next" and slot_request(slot) != slot:
                    raise _Bad
            elif date is not None:
                zoned = date.endswith(_ZONED)
                when = datetime.fromisoformat(date[:-1] if zoned else date)
                if when.tzinfo is None:
                    raise _Bad
                if zoned:
                    when = when.astimezone(self.zone)
            # Filled directly: calling the dataclass __init__ 10,000 times is measurable.
            p = new(CachedPost)
            p.__dict__ = {
                "path": rel,
                "id": pid,
                "meta": {},
                "body": "",
                "body_line": body_line,
                "_marks": {("date",): Mark(line, col)},
                "date": when,
                "slot": slot,
                "slot_note": "",
                "channels": names,
                "status": status,
                "content_hash": chash,
                "problems": [],
            }
            out.append(p)
        return out

    def slotted(self) -> bool:
        """Whether a post takes a queue slot (its date column says so)."""
        # `str.startswith` mapped over the dates but None (no Python frame per post).
        return any(map(str.startswith, filter(None, self.files["date"]), repeat(_SLOT)))

    def unsent_rows(self, sent: Mapping[tuple[str, str], Sent]) -> list[int]:
        """The rows of the ready, dated posts with a channel `sent` does not hold for them
        (`QueueContext.maybe_unsent`), read from the columns: no post is built."""
        f = self.files
        # `in` without a call; the failed pairs left out (the clock's rules look at those).
        held = (
            sent.pairs()
            if isinstance(sent, SentIndex)
            else {k for k, v in sent.items() if v.failed is None and v.renamed is None}
        )
        out: list[int] = []
        rows = zip(f["status"], f["date"], f["id"], f["channels"], strict=True)
        for i, (status, date, pid, names) in enumerate(rows):
            if status != "ready" or date is None or date.startswith(_SLOT):
                continue
            for name in names:
                if (pid, name) not in held:
                    out.append(i)
                    break
        return out

    def variant_metas(self, rows: list[int]) -> list[dict[str, Any]] | None:
        """The meta of the posts of `rows` (what `cmflow.validation.slim` keeps), when some
        post's variant sets a status (a channel it makes a draft): None when none does, as
        most queues, told from the column's text without reading it. Raises ValueError for
        a column cmflow would not have written."""
        meta = self.files["meta"]
        if type(meta) is _Later:
            if b'"status"' not in meta.text:
                return None
            try:
                column = meta.load()
                if not set(map(type, column)) <= {dict}:
                    raise _Bad
                _plain(column)
            except (_Bad, ValueError, RecursionError):
                raise ValueError("a meta column cmflow would not have written") from None
        elif type(meta) is list:  # read already (`Cache.complete`)
            column = meta
        else:
            return None
        return [column[i] for i in rows]

    def media_rows(self) -> tuple[list[str], list[int], list[int]]:
        """Every media file a post looked at (a file per post that uses it), its size (-1:
        missing) and mtime_ns."""
        m = self.media
        return m["path"], m["size"], m["mtime"]

    def media_by_path(self) -> dict[str, tuple[MediaStamp, ...]]:
        """Each post's media files, as its entry would hold them."""
        out: dict[str, list[MediaStamp]] = {}
        for i, path, size, mtime in zip(*(self.media[k] for k in _MEDIA_COLUMNS), strict=True):
            out.setdefault(self.paths[i], []).append((path, size, mtime))
        return {rel: tuple(out.get(rel, ())) for rel in self.paths}

    def entries(self) -> tuple[dict[str, Entry], Lazy, Callable[[], None]]:
        posts = self.posts()
        shas = self.files["sha"]
        shas = shas.load() if type(shas) is _Texts else shas
        entries: dict[str, Entry] = {}
        by_index: list[Entry] = []
        dates = self.files["date"]
        rows = zip(posts, self.sizes, self.mtimes, shas, dates, strict=True)
        for row, (p, size, mtime, sha, date) in enumerate(rows):
            entry = Entry((size, mtime), sha, p, [], (), {}, row=row)
            entry.date_json = (p.date, date)
            entries[p.path] = entry
            by_index.append(entry)
        if len(entries) != len(posts):
            raise _Bad  # a path twice
        for found in self.findings():
            entries[found.path].findings.append(found)
        stamps: dict[int, list[MediaStamp]] = {}
        for i, path, size, mtime in zip(*(self.media[k] for k in _MEDIA_COLUMNS), strict=True):
            stamps.setdefault(i, []).append((path, size, mtime))
        for i, items in stamps.items():
            by_index[i].media = tuple(items)
        fps = self.fps

        def fill_fingerprints() -> None:
            columns = (c.load() if type(c) is _Texts else c for c in map(fps.get, _FP_COLUMNS))
            for i, channel, fp in zip(*columns, strict=True):
                by_index[i].fingerprints[channel] = fp

        marks, meta = self.files["marks"], self.files["meta"]
        assert isinstance(marks, _Later) and isinstance(meta, _Later)
        return entries, (marks, meta, by_index), fill_fingerprints


def _decode(raw: bytes, key: str, zone: tzinfo = UTC) -> Loaded | None:
    """The tables in `raw`, or None when it is not a cache cmflow wrote for this key (any
    other content, however crafted, gives None, never an exception). `zone`: the brand's,
    which dates parsed in it come back in."""
    try:
        data = _unpack(raw)
        if data.get("format") != FORMAT or data.get("key") != key:
            return None
        loaded = Loaded(data)
        loaded.zone = zone
        return loaded
    except (_Bad, ValueError, TypeError, RecursionError, KeyError):
        return None


def _findings(table: object) -> list[Finding] | None:
    """A table of findings with their paths (the queue's, the settled rules'), or None."""
    if table is None:
        return None
    q = _columns(table, _QUEUE_COLUMNS)
    if not set(q["level"]) <= LEVELS:
        raise _Bad
    return [Finding(*row) for row in zip(*(q[k] for k in _QUEUE_COLUMNS), strict=True)]


def _sent(table: object) -> SentIndex:
    t = _columns(table, _SENT_COLUMNS)
    pairs = zip(t["post"], t["channel"], strict=True)
    keys = dict(zip(pairs, range(len(t["post"])), strict=True))
    if len(keys) != len(t["post"]):
        raise _Bad  # a pair twice
    texts = (t["hash"], t["published_at"], t["url"], t["source"], t["failed"], t["renamed"])
    if any(type(column) is not _Texts for column in texts):
        raise _Bad
    return SentIndex(keys, texts)


_RFILE_STAMPS = frozenset({"dir", "name", "size", "mtime"})


def _record(rdirs: object, rfiles: object, *, fields: bool = True) -> RecordState:
    """The record state of the `rdirs` and `rfiles` tables (their columns' types checked
    now, the rest when first used: see `RecordState`); without its `fields` (their columns
    not read: only the stamps are compared), `files` is empty."""
    d = _columns(rdirs, _RDIR_COLUMNS)
    spec = _RFILE_COLUMNS if fields else {k: _RFILE_COLUMNS[k] for k in _RFILE_STAMPS}
    f = _columns(rfiles, spec)
    tops = set(d["top"])
    if len(tops) != 1:
        raise _Bad
    top = tops.pop()

    def build() -> Flat:
        names: list[str] = _loaded(d["name"])
        mtimes: list[int] = d["mtime"]
        if names == [""]:
            names, mtimes = [], []
        if "" in names or any("/" in name for name in names) or len(set(names)) != len(names):
            raise _Bad
        if f["dir"] and (min(f["dir"]) < 0 or max(f["dir"]) >= len(names)):
            raise _Bad
        if sorted(f["dir"]) != f["dir"]:
            raise _Bad  # files by folder, in the folders' order (as written)
        files: list[str] = _loaded(f["name"])
        if any("/" in name or not name.endswith(".json") for name in files):
            raise _Bad
        keys = [f"{names[i]}/{name}" for i, name in zip(f["dir"], files, strict=True)]
        if len(set(keys)) != len(keys):
            raise _Bad  # a file twice
        return names, mtimes, keys, list(zip(f["size"], f["mtime"], strict=True))

    if not fields:
        return RecordState(top, None, build=build)
    columns = [f[k] for k in _RFILE_FIELDS]

    def later() -> list[RecordFields]:
        """The fields, checked as the rest of the cache was when it was loaded."""
        values = [c.load() if type(c) is _Texts else c for c in columns]
        for k, column in zip(_RFILE_FIELDS, values, strict=True):
            if not set(map(type, column)) <= set(_RFILE_COLUMNS[k]):
                raise _Bad
        if not set(values[_RFILE_FIELDS.index("state")]) <= _STATES:
            raise _Bad
        return list(zip(*values, strict=True))

    return RecordState(top, None, later=later, build=build)


def _loaded(column: list[Any] | _Texts) -> list[Any]:
    return column.load() if type(column) is _Texts else column  # type: ignore[return-value]


_PLAIN = frozenset({str, int, float, bool, type(None), list, dict})


def _plain(values: list[Any]) -> None:
    """Front-matter values as JSON gives them back: only plain data, not too deep. Level by
    level over every post at once: each level's types checked in one pass in C."""
    level = values
    for _depth in range(22):
        if not level:
            return
        if not set(map(type, level)) <= _PLAIN:
            raise _Bad
        level = [v for x in level if type(x) is dict for v in x.values()] + [
            v for x in level if type(x) is list for v in x
        ]
    raise _Bad


def _complete(lazy: Lazy) -> bool:
    """Each post's marks (a list of [key path, line, column]) and meta (an object of plain
    values), every value's type checked column by column (in C, not post by post: a
    changed post in a 50,000-post queue has this run for all of them)."""
    later_marks, later_meta, by_index = lazy
    try:
        written = later_marks.load()
        meta_column = later_meta.load()
        if len(written) != len(by_index) or len(meta_column) != len(by_index):
            raise _Bad
        if not set(map(type, meta_column)) <= {dict}:
            raise _Bad
        # A post's marks, or the row of an earlier post with the same (`_marks_column`):
        # the rows are shared, never changed (a post builds its own marks from them).
        marks_column: list[list[Any]] = []
        for i, value in enumerate(written):
            if type(value) is int:
                if not 0 <= value < i:
                    raise _Bad
                value = marks_column[value]
            elif type(value) is not list:
                raise _Bad
            marks_column.append(value)
        flat = [m for marks in written if type(marks) is list for m in marks]
        if not set(map(type, flat)) <= {list} or not set(map(len, flat)) <= {3}:
            raise _Bad
        keys, lines, cols = zip(*flat, strict=True) if flat else ((), (), ())
        if not set(map(type, keys)) <= {list} or not set(map(type, lines + cols)) <= {int}:
            raise _Bad
        if not set(map(type, chain.from_iterable(keys))) <= {str, int}:
            raise _Bad
        _plain(meta_column)
        for e, marks, meta in zip(by_index, marks_column, meta_column, strict=True):
            post = e.post.__dict__  # a CachedPost's: its marks built when read (see there)
            post["_marks"], post["_kept"] = None, marks
            e.marks_json = marks  # as read: written back as is
            post["meta"] = meta
    except (_Bad, ValueError, TypeError, RecursionError):
        return False
    return True


# The bytes: MAGIC, the checksum of the rest (`checksum`), the header's length (8 bytes,
# little-endian), the header (JSON: format, key, and for each column its table, name, kind,
# count and size), then each column's bytes.
# Kinds: "i" integers (array 'q'), "s" texts (their lengths as array 'q', -1 for None, then
# the UTF-8 of all of them), "j" JSON (lists of channels; marks and meta, read later).

MAGIC = b"cmflow cache\n"
_KINDS = {(int,): "i", (str,): "s", (str, type(None)): "s", (list,): "j", (_Later,): "j"}


_TABLES = (
    "files",
    "findings",
    "media",
    "fingerprints",
    "queue",
    "settled",
    "rdirs",
    "rfiles",
    "sent",
)


def _spec(table: str) -> dict[str, tuple[type, ...]]:
    return {
        "files": _FILE_COLUMNS,
        "findings": _FINDING_COLUMNS,
        "media": _MEDIA_COLUMNS,
        "fingerprints": _FP_COLUMNS,
        "queue": _QUEUE_COLUMNS,
        "settled": _QUEUE_COLUMNS,
        "rdirs": _RDIR_COLUMNS,
        "rfiles": _RFILE_COLUMNS,
        "sent": _SENT_COLUMNS,
    }[table]


# Every column, in the file's order.
_ORDER = tuple((table, name) for table in _TABLES for name in _spec(table))
# The columns packed by a forked process while the run goes on (see `Cache.prepare`): the
# posts' fields but their channels and meta, findings and media files; this process packs
# the rest (those two, the fingerprints, most often spliced from the cache read, and the
# queue's and record's tables), then puts every column in its place (`_in_order`). Any cut
# gives the same file: this one balances the two processes.
_KEPT_HERE = {("files", "channels"), ("files", "meta")}
FORKED = tuple(c for c in _ORDER[: _ORDER.index(("fingerprints", "file"))] if c not in _KEPT_HERE)
_MINE = tuple(c for c in _ORDER if c not in FORKED)


def _in_order(*parts: tuple[Header, list[Chunk]]) -> tuple[Header, list[Chunk]]:
    """The columns of `parts` (each as `_pack_columns` gives them), in the file's order."""
    rows = {
        (row[0], row[1]): (row, chunk)
        for header, chunks in parts
        for row, chunk in zip(header, chunks, strict=True)
    }
    order = [c for c in _ORDER if c in rows]
    return [rows[c][0] for c in order], [rows[c][1] for c in order]


def _pack(data: dict[str, Any]) -> bytes:
    header, chunks = _pack_columns(data)
    return b"".join(_packed(data["format"], data["key"], header, chunks))


Header = list[list[Any]]  # per column: table, name, kind, count, size in bytes
Chunk = bytes | memoryview


def _pack_columns(
    data: dict[str, Any], order: tuple[tuple[str, str], ...] = _ORDER
) -> tuple[Header, list[Chunk]]:
    """The header rows and bytes of the columns in `order` (those whose table is in
    `data`)."""
    header: Header = []
    chunks: list[Chunk] = []
    for table, name in order:
        columns = data.get(table)
        if columns is None:
            continue
        types = _spec(table)[name]
        values = columns[name]
        kind = _KINDS[types]
        if type(values) is _Packed:
            chunk = values.chunk
        elif kind == "i":
            chunk = array("q", values).tobytes()
        elif kind == "s":
            if None in values:
                lengths = array("q", [-1 if v is None else len(v) for v in values])
                text = "".join(v for v in values if v)
            else:  # most columns: lengths and text made in C
                lengths, text = array("q", map(len, values)), "".join(values)
            chunk = lengths.tobytes() + _utf8(text)
        else:
            chunk = _utf8(json.dumps(values, ensure_ascii=False, separators=(",", ":")))
        header.append([table, name, kind, len(values), len(chunk)])
        chunks.append(chunk)
    return header, chunks


def _utf8(text: str) -> bytes:
    """`text` as UTF-8, file names that are not (a byte of another encoding, kept by Python
    as a lone surrogate) included: read back with the same handler, they are the same."""
    return text.encode("utf-8", "surrogatepass")


def _packed(format_: object, key: object, header: Header, chunks: list[Chunk]) -> list[Chunk]:
    """The file's bytes, in pieces (written as they are: no copy of the whole)."""
    head = json.dumps(
        {"format": format_, "key": key, "order": sys.byteorder, "columns": header}
    ).encode()
    body = [len(head).to_bytes(8, "little"), head, *chunks]
    return [MAGIC, checksum(body), *body]


CHECKSUM_SIZE = 4


def checksum(pieces: Iterable[Chunk]) -> bytes:
    """The CRC-32 of the pieces, in a row: what tells a damaged file (a disk, a copy, a hand
    edit) from one cmflow wrote. Against a file crafted on purpose no checksum helps (its
    author computes it too): every value's type and bounds are checked when it is read."""
    crc = 0
    for piece in pieces:
        crc = zlib.crc32(piece, crc)
    return crc.to_bytes(CHECKSUM_SIZE, "little")


def _entries_part(cache: Cache) -> bytes:
    """The `FORKED` columns packed (in a forked process: see `Cache.prepare`): the length of
    their header (8 bytes), the header (JSON rows), then the columns' bytes."""
    if not cache.complete():
        return b""  # the parent finds the same, and writes nothing
    header, chunks = _pack_columns(_encode_for(cache, FORKED), FORKED)
    head = json.dumps(header).encode()
    return b"".join([len(head).to_bytes(8, "little"), head, *chunks])


def _split_part(part: bytes) -> tuple[Header, list[Chunk]] | None:
    """`_entries_part`'s header and chunks (views of `part`: no copy), or None if they are
    not whole."""
    view = memoryview(part)
    try:
        size = int.from_bytes(part[:8], "little")
        header = json.loads(part[8 : 8 + size])
        at = 8 + size
        chunks: list[Chunk] = []
        for row in header:
            nbytes = row[4]
            if type(nbytes) is not int or nbytes < 0 or at + nbytes > len(part):
                return None
            chunks.append(view[at : at + nbytes])
            at += nbytes
        if at != len(part) or [(row[0], row[1]) for row in header] != list(FORKED):
            return None
        return header, chunks
    except (ValueError, TypeError, IndexError):
        return None


def _unpack(raw: bytes, only: Mapping[str, frozenset[str]] | None = None) -> dict[str, Any]:
    """The tables of a cache file (`only`: those tables' columns alone, the checksum not
    checked)."""
    if not raw.startswith(MAGIC):
        raise _Bad
    at = len(MAGIC) + CHECKSUM_SIZE
    if only is None and checksum([memoryview(raw)[at:]]) != raw[len(MAGIC) : at]:
        raise _Bad  # damaged (a disk, a copy, a hand edit): written by no cmflow
    size = int.from_bytes(raw[at : at + 8], "little")
    head = json.loads(raw[at + 8 : at + 8 + size])
    at += 8 + size
    if type(head) is not dict or head.get("order") != sys.byteorder:
        raise _Bad
    out: dict[str, Any] = {"format": head.get("format"), "key": head.get("key")}
    columns = head.get("columns")
    if type(columns) is not list:
        raise _Bad
    for item in columns:
        if type(item) is not list or len(item) != 5:
            raise _Bad
        table, name, kind, count, nbytes = item
        if (
            table not in _TABLES
            or name not in _spec(table)
            or kind != _KINDS[_spec(table)[name]]
            or type(count) is not int
            or type(nbytes) is not int
            or count < 0
            or nbytes < 0
            or at + nbytes > len(raw)
        ):
            raise _Bad
        if only is not None and name not in only.get(table, ()):
            at += nbytes
            continue
        chunk = raw[at : at + nbytes]
        at += nbytes
        values: list[Any] | _Later | _Texts
        if kind == "i":
            if nbytes != 8 * count:
                raise _Bad
            values = array("q", chunk).tolist()
        elif kind == "s" and (table, name) in _LAZY_TEXTS:
            values = _Texts(chunk, count, type(None) in _spec(table)[name])
        elif kind == "s":
            values = _texts_from(chunk, count)
        elif _spec(table)[name] == (_Later,):
            values = _Later(chunk, count)
        else:
            values = json.loads(chunk)
            if type(values) is not list or len(values) != count:
                raise _Bad
        got = out.setdefault(table, {})
        if type(got) is not dict or name in got:
            raise _Bad
        got[name] = values
    if at != len(raw):
        raise _Bad
    for table in ("queue", "settled", "rdirs", "rfiles", "sent"):
        out.setdefault(table, None)
    return out


def _texts_from(chunk: bytes, count: int) -> list[str | None]:
    if len(chunk) < 8 * count:
        raise _Bad
    lengths = array("q", chunk[: 8 * count])
    text = chunk[8 * count :].decode("utf-8", "surrogatepass")
    if not lengths or min(lengths) >= 0:
        # No None: every slice made in C (this runs for 100,000 texts on a large queue).
        ends = list(accumulate(lengths))
        if (ends[-1] if ends else 0) != len(text):
            raise _Bad
        return list(map(text.__getitem__, map(slice, [0, *ends[:-1]], ends)))
    out: list[str | None] = []
    pos = 0
    for n in lengths:
        if n < 0:
            if n != -1:
                raise _Bad
            out.append(None)
        else:
            out.append(text[pos : pos + n])
            pos += n
    if pos != len(text):
        raise _Bad
    return out
