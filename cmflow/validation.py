"""`cmflow validate` as a library call: every post against the editorial line and the queue."""

from __future__ import annotations

import gc
import hashlib
import operator
import os
import signal
import stat
import threading
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, overload

from cmflow import content, ledger, safefs
from cmflow import media as media_files
from cmflow.cache import (
    Cache,
    Entry,
    MediaStamp,
    RawFile,
    RecordFields,
    RecordState,
    media_in,
    media_stamps,
    read_file,
    record_in,
)
from cmflow.config import CONFIG_NAME, Channel, Config
from cmflow.media import MediaFile
from cmflow.model import Finding, KeyPath, Mark, Media, Post, Rendered, Sent, State
from cmflow.platforms.base import PartResult
from cmflow.rules import BY_ID, FILE_RULES, POST_RULES, QUEUE_RULES, PostContext, QueueContext
from cmflow.rules.base import PostCheck

if TYPE_CHECKING:
    from cmflow.render import Outline  # imported when a run checks posts (see `Checker`)

PARALLEL_FROM = 400  # files; below this, starting worker processes costs more than it saves


@dataclass
class Report:
    findings: list[Finding]
    files: int
    listed: list[Post]  # slim: what queue rules need (see `slim`), not bodies: see `posts`
    # With `validate(keep_posts=True)`: every post as parsed (bodies, variants), and the
    # fingerprint of what each (post path, channel) receives, for the publisher to reuse.
    full_posts: list[Post] = field(default_factory=list)
    fingerprints: dict[tuple[str, str], str] = field(default_factory=dict)
    # Gives the posts of a run answered from the cache their front-matter (pillar, id...),
    # once, when something reads `posts`: `validate` alone never does, and it costs.
    fill: Callable[[], list[Post]] | None = None
    # What the run worked with (entries, the record as read): freed with the report, not
    # on the way out of `validate`. The command-line run never frees it (it ends the process
    # at once: see `cli.main`), which saves visiting tens of thousands of objects one by one.
    held: tuple[object, ...] = ()

    @property
    def posts(self) -> list[Post]:
        """Every post, slim (see `slim`), its cached front-matter filled in."""
        if self.fill is not None:
            fill, self.fill = self.fill, None
            self.listed = fill()
        return self.listed

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.level == "warning")


class Checker:
    """Per-post rules for one run. Holds what posts share within the run (media files looked
    at once however many posts and channels use them), never across runs."""

    def __init__(self, config: Config, prints: bool = True) -> None:
        from cmflow import render  # here, not per post: and before a run forks its workers

        self._render_each = render.render_each
        self._fingerprint = render.fingerprint
        self._fields_of = render.channel_fields
        self._outline = render.outline
        self._render_fields = render.render_fields
        self.config = config
        # The post files are read through it (`content.read_stamped`): `close` when done.
        self.folders = safefs.Folders(config.root)
        self._media: dict[str, MediaFile] = {}
        # Per channel, the post checks its settings let fire (in catalogue order), for a
        # post that sends it media and for one that does not: most channels leave several
        # rules nothing to check, and most posts have no media.
        # Each check comes with the key of the channels it finds the same on (`Rule.same_on`).
        self._checks: dict[str, tuple[_Checks, _Checks]] = {}
        self._labels: dict[str, str] = {}  # each counter's label (`render_each`)
        self._read: dict[str, bool] = {}  # per channel: `_reads_text`
        # Whether `check` works out the fingerprint of what each channel receives, which
        # needs its text rendered: the publisher reuses them. Validation compares them only
        # for a post changed since it went out (`schedule.edited-after-publish`): without
        # them, most checks answer from an outline, and the few a record asks for are worked
        # out then (`_Fingerprints`).
        self.prints = prints

    def _checks_for(self, channel: Channel) -> tuple[_Checks, _Checks]:
        rules = [
            r
            for r in POST_RULES
            if r.post is not None and (r.applies is None or r.applies(channel))
        ]
        keyed = [(r, r.same_on(channel) if r.same_on is not None else None) for r in rules]
        with_media = tuple((r.post, k) for r, k in keyed if r.post is not None)
        without = tuple((r.post, k) for r, k in keyed if r.post is not None and not r.media_only)
        checks = self._checks[channel.name] = (with_media, without)
        return checks

    def close(self) -> None:
        self.folders.close()

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def inspect(self, rel: str) -> MediaFile:
        info = self._media.get(rel)
        if info is None:
            info = self._media[rel] = media_files.inspect(self.config.root, rel, self.folders)
        return info

    def check(self, post: Post) -> tuple[list[Finding], dict[str, str]]:
        """Per-post rule findings on every channel of `post` (levels not applied yet), and
        the fingerprint of what each channel would receive (none unless `prints`)."""
        fingerprint = self._fingerprint
        config = self.config
        out: list[Finding] = list(post.problems)
        fps: dict[str, str] = {}
        for frule in FILE_RULES:
            assert frule.file is not None
            out.extend(frule.file(post))
        if not post.meta:
            return out, fps
        channels = [config.channels[name] for name in post.channels]
        prints = self.prints
        # Without variants, what a check found on one channel it finds on every channel with
        # the same key (`Rule.same_on`), but for the channel's name.
        plain = "variants" not in post.meta
        seen: dict[tuple[PostCheck, Hashable], list[Finding]] = {}
        for ctx in self._contexts(post, channels) if prints else self._sketched(post, channels):
            channel = ctx.channel
            name = channel.name
            if prints:
                fps[name] = fingerprint(ctx.rendered)
            both = self._checks.get(name) or self._checks_for(channel)
            for check, key in both[0] if ctx.media else both[1]:
                if key is None or not plain:
                    out.extend(check(ctx))
                elif (found := seen.get((check, key))) is None:
                    out.extend(seen.setdefault((check, key), list(check(ctx))))
                elif found:
                    out.extend([_on(f, name) for f in found])
        return out, fps

    def _contexts(self, post: Post, channels: list[Channel]) -> Iterator[PostContext]:
        """A context per channel, its text rendered."""
        config, inspect = self.config, self.inspect
        each = self._render_each(post, channels, measure=False, labels=self._labels)
        for channel, rendered in zip(channels, each, strict=True):
            # The first part carries the channel's media (`render`): not worked out again.
            yield _context(post, channel, rendered, config, inspect, rendered.parts[0].media)

    def _sketched(self, post: Post, channels: list[Channel]) -> Iterator[PostContext]:
        """A context per channel, its text rendered only if a rule reads it: most checks
        are answered by its outline (`render.outline`)."""
        config, inspect, labels = self.config, self.inspect, self._labels
        fields_of, outline, render_fields = self._fields_of, self._outline, self._render_fields
        shared = None if "variants" in post.meta else fields_of(post, "")
        for channel in channels:
            fields = shared if shared is not None else fields_of(post, channel.name)
            if self._reads_text(channel):  # rendered anyway: not outlined too
                rendered = render_fields(post, channel, fields, labels)
                yield _context(post, channel, rendered, config, inspect, rendered.parts[0].media)
                continue
            sketch = outline(post, channel, fields)
            media = list(fields.media)
            ctx = _context(post, channel, None, config, inspect, media, sketch, _Unrendered)
            ctx.__dict__["_render"] = (render_fields, fields, labels)  # see `_Unrendered`
            yield ctx

    def _reads_text(self, channel: Channel) -> bool:
        """Whether a check that may fire on `channel` reads its rendered text anyway."""
        got = self._read.get(channel.name)
        if got is None:
            got = self._read[channel.name] = any(
                r.reads_text for r in POST_RULES if r.applies is None or r.applies(channel)
            )
        return got

    def fingerprints(self, post: Post) -> dict[str, str]:
        """The fingerprint of what each channel of `post` receives, as `check` gives them."""
        if not post.meta:
            return {}
        channels = [self.config.channels[name] for name in post.channels]
        rendered = self._render_each(post, channels, measure=False, labels=self._labels)
        return {c.name: self._fingerprint(r) for c, r in zip(channels, rendered, strict=True)}


_new_context = PostContext.__new__


def _context(
    post: Post,
    channel: Channel,
    rendered: Rendered | None,
    config: Config,
    inspect: Callable[[str], MediaFile],
    media: list[Media],
    outline: Outline | None = None,
    cls: type[PostContext] = PostContext,
) -> PostContext:
    """`PostContext(post, channel, rendered, config, config.root, inspect, known_media=media,
    outline=outline)`, every field set without the generated `__init__` (a context per post
    and channel); `cls`: the class it is made of (`_Unrendered`: its text not rendered)."""
    ctx = _new_context(cls)
    ctx.__dict__ = {
        "post": post,
        "channel": channel,
        "rendered": rendered,
        "config": config,
        "root": config.root,
        "inspect_media": inspect,
        "media": media,
        "known_media": media,
        "outline": outline,
    }
    return ctx


class _Unrendered(PostContext):
    """A context whose channel's text is rendered when a rule first reads `rendered` (with
    what `_render` holds), not before: made by `Checker._sketched`, never constructed."""

    @property
    def rendered(self) -> Rendered:
        kept = self.__dict__
        got: Rendered | None = kept["rendered"]
        if got is None:
            render_fields, fields, labels = kept["_render"]
            got = kept["rendered"] = render_fields(kept["post"], kept["channel"], fields, labels)
        return got

    @rendered.setter
    def rendered(self, value: Rendered) -> None:
        self.__dict__["rendered"] = value


# The post checks for a channel, each with its `Rule.same_on` key (None: none).
_Checks = tuple[tuple[PostCheck, Hashable | None], ...]


def _on(finding: Finding, channel: str) -> Finding:
    """`finding` as found on `channel`."""
    return Finding(
        finding.path,
        finding.line,
        finding.column,
        finding.level,
        finding.rule,
        finding.message,
        channel,
    )


def check_post(post: Post, config: Config) -> tuple[list[Finding], dict[str, str]]:
    """`Checker.check` for one post."""
    with Checker(config) as checker:
        return checker.check(post)


_SLIM_KEYS = ("date", "id", "pillar", "channels", "channel")


def slim(post: Post) -> Post:
    """What queue rules read of a post, small enough to cache 10,000 of them cheaply."""
    # Only what the queue rules look at, as plain JSON data for the cache: whether there is
    # an `id:` (its value made `post.id`), and pillars when they are text (any other value
    # counts as no pillar).
    meta: dict[str, Any] = {k: _text(post.meta[k]) for k in ("id", "pillar") if k in post.meta}
    variants = post.meta.get("variants")
    if isinstance(variants, dict):
        # A variant's pillar, and its status (one made a draft holds that channel only).
        pv = {
            c: {k: _text(v[k]) for k in _SLIM_VARIANT_KEYS if k in v}
            for c, v in variants.items()
            if isinstance(c, str)
            and isinstance(v, dict)
            and any(k in v for k in _SLIM_VARIANT_KEYS)
        }
        if pv:
            meta["variants"] = pv
    every = post.marks
    marks: dict[KeyPath, Mark] = {k: every[k] for k in _SLIM_MARKS if k in every}
    if variants is not None:  # a mark under `variants` exists only where the key does
        marks.update(
            (k, m) for k, m in every.items() if k[0] == "variants" and k[-1] in _SLIM_VARIANT_KEYS
        )
    # `Post(...)` with every field given, without its generated `__init__` (one per post).
    slimmed = _new_post(Post)
    slimmed.__dict__ = {
        "path": post.path,
        "id": post.id,
        "meta": meta,
        "body": "",
        "body_line": post.body_line,
        "marks": marks,
        "date": post.date,
        "slot": post.slot,
        "slot_note": "",
        "channels": post.channels,
        "status": post.status,
        "content_hash": post.content_hash,
        "problems": [],
    }
    return slimmed


_SLIM_MARKS: tuple[KeyPath, ...] = tuple((k,) for k in _SLIM_KEYS)
_SLIM_VARIANT_KEYS = ("pillar", "status")
_new_post = Post.__new__


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _compute(root: Path, rel: str, config: Config, checker: Checker, keep: bool = False) -> Entry:
    raw, stamp = content.read_stamped(root, rel, checker.folders)
    if isinstance(raw, Finding):
        stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        entry = Entry(stamp, "", Post(path=rel, id=stem, meta={}, body="", body_line=1), [raw])
        if keep:  # as content.load_all gives it
            entry.full = Post(path=rel, id=stem, meta={}, body="", body_line=1, problems=[raw])
        return entry
    post = content.parse_post(rel, raw, config.timezone, config.channels)
    findings, fps = checker.check(post)
    # Without variants, every channel sends the post's own media.
    names = [None, *post.channels] if "variants" in post.meta else [None]
    media = sorted({m.path for name in names for m in post.media(name)})
    return Entry(
        stamp,
        hashlib.sha256(raw).hexdigest(),
        slim(post),
        findings,
        media_stamps(root, media),
        fps,
        post if keep else None,
    )


@contextmanager
def _no_gc() -> Iterator[None]:
    """Without the cycle collector: checking posts makes hundreds of thousands of small
    objects and no cycles, and the collector's passes over them cost a tenth of the run."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _compute_all(
    config: Config,
    rels: list[str],
    jobs: int | None = None,
    keep: bool = False,
    meanwhile: Callable[[], None] | None = None,
    prints: bool = True,
) -> list[Entry]:
    """Parse and check `rels` (entries in their order), on every core when there are many:
    this process and `jobs - 1` forked ones (default: one process per core). `meanwhile`
    runs in this process before it checks its share (reading the publish record: it needs
    none of the entries), else after. `prints`: whether each post's fingerprints are
    worked out (see `Checker`)."""
    cores = _cores(jobs)
    if len(rels) < PARALLEL_FROM or cores < 2 or not hasattr(os, "fork"):
        with Checker(config, prints) as checker:
            out = [_compute(config.root, rel, config, checker, keep) for rel in rels]
        if meanwhile is not None:
            meanwhile()
        return out
    return _Shared(config, rels, keep, prints).run(cores - 1, meanwhile)


def _cores(jobs: int | None) -> int:
    """The processes a run may use: `jobs`, else one per core."""
    return jobs or os.cpu_count() or 1


_LEAST_CHUNK = 8  # posts: a few milliseconds, the most one process may finish after another
_MOST_CHUNK = 500  # posts: what a worker sends back at once fits the pipe (see `_Shared`)


def _chunks(count: int, procs: int) -> list[tuple[int, int]]:
    """[start, end) ranges cutting `count` posts for `procs` processes that each take the
    next range when done with theirs. Large first (fewer hand-overs), then smaller and
    smaller, so that all finish within a small range of each other whatever slows one of
    them down (this process reading the record, other jobs on a shared machine). At most
    250 ranges: a range's number is one byte (see `_Shared`)."""
    least = max(_LEAST_CHUNK, -(-count // 250))
    out: list[tuple[int, int]] = []
    start = 0
    while start < count:
        size = max(least, min(_MOST_CHUNK, (count - start) // (3 * procs)))
        out.append((start, min(count, start + size)))
        start += size
    return out


class _Shared:
    """The posts checked by this process and forked workers together, both cores busy
    until the end.

    The ranges (`_chunks`) are handed out through a pipe holding one byte per range: each
    process reads one byte to take the next range (a pipe read is atomic: no range is
    taken twice) until the pipe is empty. So this process, once its own work is done
    (`meanwhile`), takes its share too, and the slower process simply takes fewer ranges.
    Each worker sends the entries of each range back pickled over its own pipe, read here by
    a thread as they come. Pickle is safe there and only there: the bytes are what
    `pickle.dumps` made of our own dataclasses in a process this one forked, over an
    anonymous pipe no other process holds (non-inheritable descriptors); no file, cache or
    anything else a repository can hold is ever unpickled (the cache is checked JSON). Read
    as they come, they never keep a worker waiting for this process. A range a worker
    took but never sent back (it failed or was killed) is checked here at the end: the
    entries are the same, and an error in them is raised here as a run on one core would
    raise it."""

    def __init__(self, config: Config, rels: list[str], keep: bool, prints: bool = True) -> None:
        self.config = config
        self.rels = rels
        self.keep = keep
        self.prints = prints
        self.done: dict[int, list[Entry]] = {}

    def chunk(self, ranges: list[tuple[int, int]], i: int, checker: Checker) -> list[Entry]:
        start, end = ranges[i]
        cfg, keep = self.config, self.keep
        return [_compute(cfg.root, rel, cfg, checker, keep) for rel in self.rels[start:end]]

    def run(self, workers: int, meanwhile: Callable[[], None] | None) -> list[Entry]:
        import fcntl  # only here: Unix, as `os.fork`
        import pickle  # noqa: F401  (imported once, before the fork: see `work`, `receive`)

        ranges = _chunks(len(self.rels), workers + 1)
        # Made before the workers are forked: each starts with it (what it imports) ready.
        # No descriptor open yet in the checker: nothing to close if the pipe cannot be made.
        checker = Checker(self.config, self.prints)
        claims = _ranges_pipe(len(ranges))
        pids: list[int] = []
        readers: list[int] = []
        threads: list[threading.Thread] = []
        finished = False
        try:
            for _ in range(workers):
                source, sink = os.pipe()
                with suppress(OSError, AttributeError):  # Linux: room for a whole range
                    fcntl.fcntl(sink, fcntl.F_SETPIPE_SZ, 1 << 20)
                try:
                    pid = os.fork()
                except OSError:  # no process to spare: the ranges are taken without it
                    os.close(source)
                    os.close(sink)
                    break
                if pid == 0:
                    self.work(ranges, claims, sink, checker)  # never returns
                os.close(sink)
                pids.append(pid)
                readers.append(source)
            # Threads only once every worker is forked: a fork copies no thread.
            for source in readers:
                thread = threading.Thread(target=self.receive, args=(source,), daemon=True)
                thread.start()
                threads.append(thread)
            if meanwhile is not None:
                meanwhile()
            while got := os.read(claims, 1):
                self.done[got[0]] = self.chunk(ranges, got[0], checker)
            for thread in threads:
                thread.join()
            for i in range(len(ranges)):
                if i not in self.done:  # taken by a worker that did not send it back
                    self.done[i] = self.chunk(ranges, i, checker)
            finished = True
        finally:
            checker.close()
            os.close(claims)
            for pid in pids:
                if not finished:  # interrupted, or an error here: the workers' work is moot
                    with suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                with suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        return [e for i in range(len(ranges)) for e in self.done[i]]

    def work(
        self, ranges: list[tuple[int, int]], claims: int, sink: int, checker: Checker
    ) -> NoReturn:
        """A worker: take ranges until none is left, send each one's entries back."""
        import pickle  # see the class's docstring: our own objects, over our own pipe

        code = 1
        try:
            gc.disable()  # see `_no_gc`
            while got := os.read(claims, 1):
                entries = self.chunk(ranges, got[0], checker)
                data = pickle.dumps((got[0], entries), protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(len(data).to_bytes(8, "little") + data)
                while view:
                    view = view[os.write(sink, view) :]
            code = 0
        finally:
            # Never back into the caller's code, nor its exit handlers and buffered output:
            # those belong to the parent. An error is the parent's to raise (see above).
            os._exit(code)

    def receive(self, source: int) -> None:
        """Entries of the ranges one worker sends back, as they come (a thread)."""
        import pickle  # see the class's docstring: our own objects, over our own pipe

        buf = bytearray()
        try:
            while data := os.read(source, 1 << 20):
                buf += data
                while len(buf) >= 8:
                    size = int.from_bytes(buf[:8], "little")
                    if len(buf) < 8 + size:
                        break
                    i, entries = pickle.loads(buf[8 : 8 + size])
                    self.done[i] = entries
                    del buf[: 8 + size]
        except OSError:
            pass  # its ranges are checked again by the parent
        finally:
            os.close(source)


def _ranges_pipe(count: int) -> int:
    """The read end of a pipe holding one byte per range, 0 to `count - 1` (at most 256),
    its write end closed: processes forked after this take a range by reading one byte (a
    pipe read is atomic: no range is taken twice) until it reads as the end. Raises
    OSError when there is no pipe to spare."""
    claims, feed = os.pipe()
    try:
        os.write(feed, bytes(range(count)))  # a few hundred bytes at most: never blocks
    finally:
        os.close(feed)
    return claims


def load_entries(config: Config, *, use_cache: bool = True) -> dict[str, Entry]:
    """Every post file under content_dir with its per-post findings, cached when unchanged."""
    entries, cache = _load(config, use_cache)
    if cache is not None:
        cache.save()
    return entries


def _load(
    config: Config,
    use_cache: bool,
    jobs: int | None = None,
    keep: bool = False,
    meanwhile: Callable[[Cache | None], None] | None = None,
    opened: tuple[Cache, list[str], list[Stamp | None]] | None = None,
    prints: bool = True,
) -> tuple[dict[str, Entry], Cache | None]:
    root = config.root
    cache: Cache | None
    if opened is not None:  # the cache, the post files and their stamps, as `validate` found them
        cache, rels, stamps = opened
    else:
        cache = Cache.open(root, config.digest, config.timezone) if use_cache else None
        rels = content.discover(root, config.content_dir)
        stamps = post_stamps(root, rels) if cache is not None else []
    fresh: dict[str, Entry] = {}
    todo: list[str] = []
    known = cache.entries if cache is not None else {}
    racy = cache.racy if cache is not None else -1
    for rel, stamp in zip(rels, stamps or [None] * len(rels), strict=True):
        entry = known.get(rel)
        # Most files of a large queue: the same stamp, not racy, no media file to stat.
        if entry is not None and stamp == entry.stat and not entry.media and stamp[1] < racy:
            fresh[rel] = entry
            continue
        entry = _cached(cache, root, rel, stamp) if cache else None
        if entry is None:
            todo.append(rel)
        else:
            fresh[rel] = entry
    # When the queue rules run again, they read what the cache keeps of each post in full;
    # so does `schedule.past` of a post whose variant makes a channel a draft.
    if (
        cache is not None
        and (
            todo
            or len(fresh) != len(cache.entries)
            or cache.queue_findings is None
            or cache.variant_statuses()
        )
        and not cache.complete()
    ):
        todo, fresh = list(rels), {}
    also = (lambda: meanwhile(cache)) if meanwhile is not None else None
    with _no_gc():
        for entry in _compute_all(config, todo, jobs, keep, also, prints):
            fresh[entry.post.path] = entry
    fresh = {rel: fresh[rel] for rel in rels}
    if cache is not None:
        if todo or set(cache.entries) != set(fresh):
            cache.dirty = True
            cache.queue_findings = cache.sent = cache.settled = None  # the queue changed
        cache.entries = fresh
    return fresh, cache


Stamp = tuple[int, int]  # a file's (size, mtime_ns)

_LARGE_CACHE = 1 << 20  # bytes: a cache of a few thousand posts, worth a second process


class _Survey:
    """What the files on disk look like, found by a forked process (`cmflow.forked`) while
    this one decodes the cache: the post files and their stamps (`content.discover`,
    `post_stamps`), whether the media files are as the cache file holds them, and whether
    the record is (`record_in`, `record_unchanged`). On a years-old repository, tens of
    thousands of stats.

    The record's stats, most of them, are cut into `_RECORD_CHUNKS` ranges that both
    processes take from a pipe holding one byte per range (as `_Shared` hands out posts):
    this process takes its share once its own work is done, so the last stats are made on
    both cores. The other process sends one piece per range it took (its number and
    whether it holds); a range it took but never answered is checked here.

    `listing` is None when that process failed: the caller then lists the files itself (and
    meets the same error, if that was one). `record` is None when it could not tell."""

    def __init__(self, config: Config, file: RawFile) -> None:
        from cmflow.forked import Forked

        try:
            self._claims = _ranges_pipe(_RECORD_CHUNKS)
        except OSError:  # none to spare: the other process takes no range, this one all
            self._claims = -1
        # The listing first (wanted as soon as the cache is decoded), then the media files
        # and the record's top, then a piece per range of the record's stats.
        self._job = Forked(
            lambda: self._found(config, file, self._claims), parts=2 + _RECORD_CHUNKS
        )

    @staticmethod
    def _found(config: Config, file: RawFile, claims: int) -> Iterator[bytes]:
        rels = content.discover(config.root, config.content_dir)
        stamps = post_stamps(config.root, rels)
        sizes = array("q", [s[0] if s is not None else -1 for s in stamps])
        mtimes = array("q", [s[1] if s is not None else 0 for s in stamps])
        names = "\0".join(rels).encode("utf-8", "surrogatepass")
        yield b"".join([len(rels).to_bytes(8, "little"), sizes, mtimes, names])
        media = media_in(file)
        kept = record_in(file)
        stats = _RecordStats.open(config, *kept) if kept is not None else None
        yield b"".join(
            [
                b"?" if media is None else b"1" if media_unchanged(config.root, *media) else b"0",
                b"?" if stats is None else b"1" if stats.top_same else b"0",
            ]
        )
        if stats is None or not stats.top_same or claims < 0:
            return
        with stats:
            while got := os.read(claims, 1):
                yield bytes([got[0], stats.holds(got[0])])

    def media(self) -> bool | None:
        """Whether the media files are as the cache file holds them (None: not known)."""
        same = (self._job.part(1) or b"??")[:1]
        return None if same not in (b"0", b"1") else same == b"1"

    def record(self, config: Config, old: RecordState, racy: int) -> bool | None:
        """Whether the record is as `old` (the cache file's record state) holds it, with
        the other process; None when it could not tell."""
        top = (self._job.part(1) or b"??")[1:2]
        if top == b"0":
            return False
        if top != b"1" or self._claims < 0:
            return None
        held: dict[int, bool] = {}
        with _RecordStats.open(config, old, racy) as stats:
            if not stats.top_same:
                return False
            while got := os.read(self._claims, 1):
                if not stats.holds(got[0]):
                    return False
                held[got[0]] = True
            piece = 2
            while len(held) < _RECORD_CHUNKS:
                said = self._job.part(piece)
                if said is None or len(said) != 2:
                    break  # that process is gone: what it did not answer is checked here
                if not said[1]:
                    return False
                held[said[0]] = True
                piece += 1
            return all(stats.holds(i) for i in range(_RECORD_CHUNKS) if i not in held)

    def listing(self) -> tuple[list[str], list[Stamp | None]] | None:
        data = self._job.part(0)
        if data is None or len(data) < 8:
            return None
        count = int.from_bytes(data[:8], "little")
        end = 8 + 16 * count
        if len(data) < end:
            return None
        sizes = array("q", data[8 : 8 + 8 * count])
        mtimes = array("q", data[8 + 8 * count : end])
        text = data[end:].decode("utf-8", "surrogatepass")
        rels = text.split("\0") if count else []
        if len(rels) != count:
            return None
        pairs = zip(sizes, mtimes, strict=True)
        stamps: list[Stamp | None] = [
            None if size == -1 else (size, mtime) for size, mtime in pairs
        ]
        return rels, stamps

    def cancel(self) -> None:
        self._job.cancel()
        if self._claims >= 0:
            os.close(self._claims)
            self._claims = -1


_RECORD_CHUNKS = 8  # ranges of the record's stats, shared between two processes (`_Survey`)


class _RecordCheck:
    """Whether the record is as the cache last read it (`record_unchanged`), answered once:
    by the survey when there is one (its answer is about `opened`, the record state in the
    cache file, and holds while the cache keeps that state), else here."""

    def __init__(self, config: Config, survey: _Survey | None, opened: RecordState | None) -> None:
        self.config = config
        self._survey = survey
        self._opened = opened
        self._answer: tuple[RecordState | None, bool] | None = None

    def __call__(self, cache: Cache) -> bool:
        if self._answer is None or self._answer[0] is not cache.record:
            same = None
            opened = self._opened
            if self._survey is not None and opened is not None and cache.record is opened:
                same = self._survey.record(self.config, opened, cache.racy)
            if same is None or cache.record is not opened:
                same = record_unchanged(self.config, cache)
            self._answer = (cache.record, same)
        return self._answer[1]

    def cancel(self) -> None:
        if self._survey is not None:
            self._survey.cancel()


def post_stamps(root: Path, rels: list[str]) -> list[Stamp | None]:
    """Each post file's stamp (None: it cannot be stat'ed); a link's as `content.stamp_of`
    gives it."""
    base = str(root)  # str paths: Path objects cost more than the stat
    out: list[Stamp | None] = []
    lstat, is_link = os.lstat, stat.S_ISLNK
    for rel in rels:
        path = f"{base}/{rel}"
        try:
            st = lstat(path)
        except (OSError, ValueError):
            out.append(None)
            continue
        out.append(
            content.stamp_of(path, st) if is_link(st.st_mode) else (st.st_size, st.st_mtime_ns)
        )
    return out


def _cached(cache: Cache, root: Path, rel: str, stamp: Stamp | None = None) -> Entry | None:
    """The cached entry of `rel` if its file is unchanged (`stamp`: its stamp, when the
    caller has it already)."""
    entry = cache.entries.get(rel)
    if entry is None:
        return None
    if stamp is None:
        got = post_stamps(root, [rel])[0]
        if got is None:
            return None
        stamp = got
    # A racy stamp (see `cmflow.cache.RACY_NS`) may hide a same-size rewrite: hashed too.
    if stamp != entry.stat or stamp[1] >= cache.racy:
        raw = content.read_bytes(root, rel)  # never a blocking read of a FIFO
        if isinstance(raw, Finding):
            return None
        sha = hashlib.sha256(raw).hexdigest()
        if sha != entry.sha:
            return None
        # Saved again, with a new stamp or once no longer racy: the next unchanged run can
        # then answer from the stamps alone (`_unchanged` trusts no racy stamp).
        entry.stat = stamp
        cache.dirty = True
    if entry.media and media_stamps(root, [m[0] for m in entry.media]) != entry.media:
        return None
    return entry


def validate(
    config: Config,
    *,
    now: datetime,
    only: Iterable[str] | None = None,
    record: Mapping[tuple[str, str], Sent] | None = None,
    use_cache: bool = True,
    jobs: int | None = None,
    keep_posts: bool = False,
    scan: ledger.Scan | None = None,
) -> Report:
    """Check the whole queue; report findings for `only` (relative paths) or every file.
    `jobs`: processes to check posts with (default: one per core). `keep_posts`: also
    return every post as parsed and its fingerprints (see `Report`), without the cache.
    `scan`: the record as the caller already read it (the publisher reads it once)."""
    # Without the cycle collector for the whole run (see `_no_gc`): it runs after, over what
    # is left (the report), instead of over the hundreds of thousands of objects of the run.
    with _no_gc():
        return _validate(config, now, only, record, use_cache, jobs, keep_posts, scan)


def _validate(
    config: Config,
    now: datetime,
    only: Iterable[str] | None,
    record: Mapping[tuple[str, str], Sent] | None,
    use_cache: bool,
    jobs: int | None,
    keep_posts: bool,
    scan: ledger.Scan | None,
) -> Report:
    opened: tuple[Cache, list[str], list[Stamp | None]] | None = None
    cache: Cache | None
    if use_cache and not keep_posts and record is None and scan is None:
        file = read_file(config.root)
        # On a large queue, a forked process lists and stats the post files and the record
        # while this one decodes the cache (see `_Survey`).
        large = len(file[0] if len(file) == 2 else b"") >= _LARGE_CACHE and _cores(jobs) > 1
        survey = _Survey(config, file) if large else None
        try:
            cache = Cache.open(config.root, config.digest, config.timezone, file)
        except BaseException:  # an interrupt, or a bug: the other process is let go
            if survey is not None:
                survey.cancel()
            raise
        same_record = _RecordCheck(config, survey, cache.record)
        try:
            got = survey.listing() if survey is not None else None
            if got is None:
                rels = content.discover(config.root, config.content_dir)
                stamps = post_stamps(config.root, rels)
            else:
                rels, stamps = got
            quick = _unchanged(config, cache, rels, stamps, now, same_record, survey)
        except BaseException:
            same_record.cancel()
            raise
        if quick is not None:
            same_record.cancel()  # every answer is in: the other process is let go
            loaded = cache.loaded
            assert loaded is not None
            # The posts, when read, are the cache's: `fill`.
            report = _report(config, quick, only, [], rels, loaded.media_by_path)
            report.fill = partial(_completed, cache)
            return report
        opened = (cache, rels, stamps)
    else:
        same_record = _RecordCheck(config, None, None)
    given = scan
    scans: list[ledger.Scan | None] = []
    tables: list[ledger.SentTable] = []

    def read_record(cache: Cache | None) -> None:
        if record is None:
            if given is not None:
                scans.append(given)
            elif cache is None:
                scans.append(ledger.Ledger(config.root, config.data_dir).scan())
            elif cache.sent is not None and same_record(cache):
                scans.append(None)  # the sent index kept in the cache holds, if posts do
            else:
                scans.append(record_scan(config, cache))
        if scans and scans[0] is not None:  # what the sent index takes of it, meanwhile too
            tables.append(ledger.SentTable.of(scans[0].entries))

    try:
        # Only the publisher (`keep_posts`) reuses every fingerprint.
        entries, cache = _load(
            config, use_cache and not keep_posts, jobs, keep_posts, read_record, opened, keep_posts
        )
    finally:
        same_record.cancel()  # asked by now, if at all
    if cache is not None and len(entries) >= PARALLEL_FROM and _cores(jobs) > 1:
        cache.prepare()  # the entries are final: packed for saving on the other core
    try:
        return _checked(config, now, only, record, keep_posts, entries, cache, scans, tables, given)
    except BaseException:
        if cache is not None:
            cache.discard()
        raise


def _checked(
    config: Config,
    now: datetime,
    only: Iterable[str] | None,
    record: Mapping[tuple[str, str], Sent] | None,
    keep_posts: bool,
    entries: dict[str, Entry],
    cache: Cache | None,
    scans: list[ledger.Scan | None],
    tables: list[ledger.SentTable],
    given: ledger.Scan | None,
) -> Report:
    """The queue rules and the report, once every post's entry is there (`tables`: what
    the sent index takes of `scans[0]`, made meanwhile)."""
    posts = [e.post for e in entries.values()]
    findings = [f for e in entries.values() for f in e.findings]
    scan = scans[0] if scans else given
    # The record found as the cache keeps it, early in this run (see `read_record`).
    verified = bool(scans) and scans[0] is None
    slotted = any(p.slot is not None for p in posts)
    if slotted:
        # Before anything reads a date: every view then sees the time the slot gives.
        if scan is None and cache is not None:
            scan = _scan_again(config, cache, verified)
        if scan is None:
            scan = ledger.Ledger(config.root, config.data_dir).scan()
        findings.extend(place_in_slots(config, entries, scan, now))
    if record is None:
        if scan is None and cache is not None and cache.sent is not None:
            record = cache.sent  # neither the posts nor the record changed
        else:
            if scan is None:
                assert cache is not None
                scan = _scan_again(config, cache, verified)
            table = tables[0] if tables and scan is scans[0] else None
            record = ledger.sent_index(config.root, config.data_dir, posts, scan, table)
            findings.extend(ledger.problem_findings(scan.problems))
            if cache is not None:
                # Kept only for a record read whole (a file it could not read is read again).
                if cache.record is not None and not scan.problems:
                    cache.sent, cache.dirty = dict(record), True
                elif cache.sent is not None:
                    cache.sent = cache.settled = None
                    cache.dirty = True
    rendered_hash = _Fingerprints(config, cache, entries)

    qctx = QueueContext(posts, config, now, record, rendered_hash)
    # Slot times depend on the record and git, not only on the posts: never cached.
    stable = cache.queue_findings if cache is not None and not slotted else None
    # Without the cycle collector (see `_no_gc`): the rules make tens of thousands of small
    # objects, and its passes would walk every post just loaded (most of their time).
    settled: list[Finding] = []
    with _no_gc(), closing(rendered_hash):
        if stable is None:
            stable = [
                f for rule in QUEUE_RULES if rule.stable and rule.queue for f in rule.queue(qctx)
            ]
            if cache is not None and not slotted:
                cache.queue_findings, cache.dirty = stable, True
        findings.extend(stable)
        for rule in QUEUE_RULES:
            if not rule.stable and rule.queue is not None:
                got = list(rule.queue(qctx))
                findings.extend(got)
                if rule.settled:
                    settled.extend(got)
    if cache is not None:
        # Kept with the sent index and the queue findings they were computed from (an
        # unchanged run then answers without the entries: `_unchanged`).
        kept = None if slotted or cache.sent is None or cache.queue_findings is None else settled
        if kept != cache.settled:
            cache.settled, cache.dirty = kept, True
        cache.save()
    report = _report(
        config,
        findings,
        only,
        posts,
        list(entries),
        lambda: {r: e.media for r, e in entries.items()},
    )
    report.held = (entries, scans, tables, record)
    if cache is not None:
        report.fill = partial(_completed, cache)  # cached posts: front-matter when read
    if keep_posts:
        for rel, e in entries.items():
            assert e.full is not None
            report.full_posts.append(e.full)
            for name, fp in e.fingerprints.items():
                report.fingerprints[(rel, name)] = fp
    return report


class _Fingerprints:
    """`QueueContext.rendered_hash` for one run: the fingerprint of what `channel` receives
    of `post`, as its entry holds it, else worked out from the post file as it is now (read,
    parsed and rendered again) the first time a rule asks, and kept in the entry (and so in
    the cache); "" for a post or channel that has none. Validation checks posts without
    them (see `Checker`): a rule asks only for a post changed since it went out. Every post
    worked out shares one checker: `close` when done. `entries`: the run's, None for the
    cache's (read only if a rule asks: reading them decodes the whole cache)."""

    def __init__(
        self, config: Config, cache: Cache | None, entries: Mapping[str, Entry] | None
    ) -> None:
        self.config = config
        self.cache = cache
        self.entries = entries
        self._tried: set[str] = set()  # the posts worked out in this run
        self._checker: Checker | None = None

    def __call__(self, post: Post, channel: Channel) -> str:
        cache = self.cache
        if cache is not None and cache.fill is not None:
            cache.fingerprints()
        entries = self.entries
        if entries is None:
            assert cache is not None
            entries = self.entries = cache.entries
        entry = entries.get(post.path)
        if entry is None:
            return ""
        fp = entry.fingerprints.get(channel.name)
        if fp is None and post.path not in self._tried:
            self._tried.add(post.path)
            entry.fingerprints.update(self._worked_out(post.path))
            if cache is not None:
                cache.dirty = True
            fp = entry.fingerprints.get(channel.name)
        return fp or ""

    def _worked_out(self, rel: str) -> dict[str, str]:
        config = self.config
        raw = content.read_bytes(config.root, rel)
        if isinstance(raw, Finding):
            return {}
        if self._checker is None:
            self._checker = Checker(config)
        post = content.parse_post(rel, raw, config.timezone, config.channels)
        return self._checker.fingerprints(post)

    def close(self) -> None:
        if self._checker is not None:
            self._checker.close()


def _completed(cache: Cache) -> list[Post]:
    """The cached posts with their marks and front-matter (as the queue rules read them)."""
    entries = cache.entries
    cache.complete()
    return [e.post for e in entries.values()]


def _report(
    config: Config,
    findings: list[Finding],
    only: Iterable[str] | None,
    posts: list[Post],
    rels: list[str],
    media: Callable[[], Mapping[str, tuple[MediaStamp, ...]]],
) -> Report:
    """The report: levels applied, findings merged, kept to `only` (and the posts using the
    media files among them: `media` gives each post's)."""
    wanted = _affected(set(only), media()) if only is not None else None
    if wanted is not None:
        findings = [f for f in findings if f.path in wanted]
    files = len(wanted & set(rels)) if wanted is not None else len(rels)
    return Report(merge(apply_levels(findings, config.levels)), files, posts)


def _unchanged(
    config: Config,
    cache: Cache,
    rels: list[str],
    stamps: list[Stamp | None],
    now: datetime,
    same_record: Callable[[Cache], bool] | None = None,
    survey: _Survey | None = None,
) -> list[Finding] | None:
    """The findings (levels not applied yet) of a run in which no post file, media file or
    record file changed since the cache was written, else None. Only stats and whole-list
    comparisons: no entry is built, no rule but those that read the time or the environment
    runs (on the slim posts they need, built from the cache's columns). `same_record`: whether the record
    is unchanged (`record_unchanged`, or its answer from another process: asked last)."""
    loaded = cache.loaded
    if (
        loaded is None
        or cache.queue_findings is None  # also None while a post takes a queue slot
        or cache.settled is None
        or cache.sent is None
        or rels != loaded.paths
    ):
        return None
    racy = cache.racy  # a stamp this recent may hide a change (`cmflow.cache.RACY_NS`)
    if stamps != list(zip(loaded.sizes, loaded.mtimes, strict=True)):
        return None  # (a missing file's None equals no stamp)
    if loaded.mtimes and max(loaded.mtimes) >= racy:
        return None
    if loaded.slotted():
        return None
    sent = cache.sent
    rows = loaded.unsent_rows(sent)
    unsent = loaded.slim_posts(rows)
    if unsent is None:
        return None  # a date cmflow does not write: a bad cache
    try:
        # A variant may make a channel a draft (`schedule.past` leaves it out there): the
        # meta of these posts, read only when some post's variant sets a status.
        metas = loaded.variant_metas(rows)
    except ValueError:
        return None
    if metas is not None:
        for p, meta in zip(unsent, metas, strict=True):
            p.meta = meta
    findings = loaded.findings()
    findings.extend(cache.queue_findings)
    settled: dict[str, list[Finding]] = {}
    for f in cache.settled:
        settled.setdefault(f.rule, []).append(f)

    # No rule that runs here reads it today; from the entries if one ever does.
    rendered_hash = _Fingerprints(config, cache, None)
    # Every post is built only if a rule reads them all (`security.secret` when a secret's
    # value is set): `schedule.past` reads the posts still to send, a few of the queue.
    posts = _LazyPosts(loaded.slim_posts)
    qctx = QueueContext(posts, config, now, sent, rendered_hash, unsent)
    try:
        with closing(rendered_hash):
            for rule in QUEUE_RULES:
                if rule.stable or rule.queue is None:
                    continue
                findings.extend(settled.get(rule.id, []) if rule.settled else rule.queue(qctx))
    except _BadCache:
        return None
    # Last, what another process may have answered meanwhile (see `_Survey`).
    same_media = survey.media() if survey is not None else None
    if same_media is None:
        paths, sizes, mtimes = loaded.media_rows()
        same_media = media_unchanged(config.root, paths, sizes, mtimes, racy)
    if not same_media:
        return None
    if not (same_record or partial(record_unchanged, config))(cache):
        return None
    return findings


class _BadCache(Exception):
    """A cached post cmflow would not have written: the run checks every post instead."""


class _LazyPosts(Sequence[Post]):
    """Posts built the first time they are read (`build` gives None for a bad cache:
    `_BadCache` is raised then)."""

    def __init__(self, build: Callable[[], list[Post] | None]) -> None:
        self._build: Callable[[], list[Post] | None] | None = build
        self._posts: list[Post] = []

    def _all(self) -> list[Post]:
        if self._build is not None:
            build, self._build = self._build, None
            got = build()
            if got is None:
                raise _BadCache
            self._posts = got
        return self._posts

    @overload
    def __getitem__(self, i: int) -> Post: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Post]: ...

    def __getitem__(self, i: int | slice) -> Post | Sequence[Post]:
        return self._all()[i]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[Post]:
        return iter(self._all())


def media_unchanged(
    root: Path, paths: list[str], sizes: list[int], mtimes: list[int], racy: int
) -> bool:
    """Whether every media file has the size and mtime kept (none of them racy)."""
    if not paths:
        return True
    seen = media_stamps(root, paths)
    if [s[1] for s in seen] != sizes or [s[2] for s in seen] != mtimes:
        return False
    return max(mtimes) < racy


def place_in_slots(
    config: Config, entries: Mapping[str, Entry], scan: ledger.Scan, now: datetime
) -> list[Finding]:
    """Give every post dated `next` or a day alone its slot's time (on the cached post and
    the full one), and the findings that depend on it: schedule.no-slot, schedule.window."""
    from cmflow import gitops, slotdates
    from cmflow.rules.schedule import outside_window

    posts = [e.post for e in entries.values()]
    ids = {p.id for p in posts}
    index = ledger.Index.build(scan.entries, ids)
    pinned: dict[str, datetime] = {}
    for p in posts:
        if p.slot is None:
            continue
        times = []
        for c in p.channels:
            entry = index.by_key.get((p.id, c))
            if entry is None and p.content_hash:  # a renamed file: the same text, old id gone
                old = index.by_source.get((p.content_hash, c))
                entry = old if old is not None and old.post not in ids else None
            when = ledger.parse_time(entry.scheduled_for) if entry is not None else None
            if when is not None and when.tzinfo is not None:
                times.append(when)
        if times:
            pinned[p.path] = min(times)
    used: dict[str, list[datetime]] = {}
    for kept in scan.entries:
        when = ledger.parse_time(kept.scheduled_for)
        if when is not None and when.tzinfo is not None:
            used.setdefault(kept.channel, []).append(when)
    asking = sorted(p.path for p in posts if p.slot == "next" and p.path not in pinned)
    added, unknown = gitops.added_at(config.root, asking)
    placed = slotdates.resolve(
        posts, config, now=now, added=added, pinned=pinned, used=used, unknown=unknown
    )
    out: list[Finding] = []
    for rel, e in entries.items():
        r = placed.get(rel)
        if r is None:
            continue
        for post in (e.post, e.full):
            if post is not None:
                post.date = r.when
                post.slot_note = r.note
        if r.when is None:
            mark = e.post.mark("date")
            out.append(Finding(rel, mark.line, mark.column, "error", "schedule.no-slot", r.problem))
            continue
        for name in e.post.channels:
            found = outside_window(e.post, config.channels[name], config.timezone)
            if found is not None:
                out.append(found)
    return out


def take_slot(post: Post, placed: Iterable[Post]) -> None:
    """Give `post`, parsed again from its file, the slot time validation placed it at."""
    if post.slot is None:
        return
    for p in placed:
        if p.path == post.path:
            post.date, post.slot_note = p.date, p.slot_note
            return


def sent_index(
    config: Config, posts: list[Post], cache: Cache | None = None
) -> dict[tuple[str, str], Sent]:
    """Which current (post id, channel) pairs the publish record holds."""
    scan = record_scan(config, cache) if cache is not None else None
    return ledger.sent_index(config.root, config.data_dir, posts, scan)


_RECORD_FIELDS = (
    "post",
    "channel",
    "state",
    "content_hash",
    "source_hash",
    "published_at",
    "scheduled_for",
    "reason",
)


_record_fields = operator.attrgetter(*_RECORD_FIELDS)  # an entry's, as one tuple


def record_unchanged(config: Config, cache: Cache) -> bool:
    """Whether the record is exactly as the cache last read it: same folders (listed the
    same, by their mtime) and every file with the same size and mtime, none of them racy
    (`cmflow.cache.RACY_NS`). Only stats, compared as whole lists: nothing is read or
    built. Every file is stat'ed: a file rewritten in place (by hand, by an editor) changes
    its own mtime, not its folder's."""
    return cache.record is not None and _record_same(config, cache.record, cache.racy)


def _record_same(config: Config, old: RecordState, racy: int) -> bool:
    """`record_unchanged` for the record state `old`, stamps at or after `racy` not trusted."""
    with _RecordStats.open(config, old, racy) as stats:
        return stats.top_same and all(map(stats.holds, range(_RECORD_CHUNKS)))


class _RecordStats:
    """The stats `record_unchanged` makes, in `_RECORD_CHUNKS` ranges (the record's folders,
    then its files) that may be checked in any order, by any process: `holds(i)`."""

    def __init__(self, old: RecordState, racy: int, top_same: bool, fd: int) -> None:
        self.names, self.mtimes, self.keys, self.stamps = old.flat()
        self.racy = racy
        self.top_same = top_same  # the record folder as kept (then `fd` is open on it)
        self.fd = fd
        total = len(self.names) + len(self.keys)
        step = -(-total // _RECORD_CHUNKS)
        self.bounds = [
            (min(total, i * step), min(total, (i + 1) * step)) for i in range(_RECORD_CHUNKS)
        ]

    @classmethod
    def open(cls, config: Config, old: RecordState, racy: int) -> _RecordStats:
        base = f"{config.root}/{config.data_dir}/{ledger.RECORD_DIR}"
        top = _record_top(base)
        fd = -1
        same = top == old.top and (top == ABSENT or top < racy)
        if same and top == ABSENT:
            same = not old.flat()[0]
        elif same:
            try:
                # Paths relative to the record folder, opened once: shorter lookups.
                fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                same = False
        return cls(old, racy, same, fd)

    def __enter__(self) -> _RecordStats:
        return self

    def __exit__(self, *_: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def holds(self, chunk: int) -> bool:
        """Whether the stats of range `chunk` are as kept (none of them racy)."""
        if not self.top_same:
            return False
        if self.fd < 0:
            return True  # no record folder, as kept: nothing in it to stat
        start, end = self.bounds[chunk]
        n, racy = len(self.names), self.racy
        at = partial(os.stat, dir_fd=self.fd, follow_symlinks=False)  # as `record_scan` does
        try:
            if start < n:
                top = min(end, n)
                folders = [st.st_mtime_ns for st in map(at, self.names[start:top])]
                if folders != self.mtimes[start:top] or (folders and max(folders) >= racy):
                    return False
            if end > n:
                lo, hi = max(start, n) - n, end - n
                stats = list(map(at, self.keys[lo:hi]))
                got = [st.st_mtime_ns for st in stats]
                if [(st.st_size, m) for st, m in zip(stats, got, strict=True)] != self.stamps[
                    lo:hi
                ]:
                    return False
                if got and max(got) >= racy:
                    return False
        except OSError:
            return False
        return True


ABSENT = -1  # the mtime kept for a record folder that is not there (or not a folder)


def _record_top(base: str | Path) -> int:
    """The record folder's mtime, or ABSENT."""
    try:
        st = os.stat(base)  # followed, as `Ledger.scan` follows it
    except OSError:
        return ABSENT
    return st.st_mtime_ns if stat.S_ISDIR(st.st_mode) else ABSENT


def record_scan(config: Config, cache: Cache) -> ledger.Scan:
    """The record as `Ledger.scan` reads it (same entries, same order, same problems),
    reading again only the files whose size or mtime changed and listing again only the
    folders whose mtime did (adding, removing or renaming a file in a folder changes the
    folder's mtime). A years-old repository holds tens of thousands of record files:
    reading them all would be most of an unchanged run."""
    reader = ledger.Ledger(config.root, config.data_dir)
    base = reader.dir
    out = ledger.Scan()
    top = _record_top(base)
    if top == ABSENT:
        # Kept as a record with no folder: the sent index (empty) stays valid while there
        # is still none, and an unchanged run needs only that stat.
        if cache.record is None or cache.record.top != ABSENT or cache.record.dirs:
            cache.record, cache.dirty = RecordState(ABSENT, {}, {}), True
        return out
    old = cache.record
    if old is not None and old.top == top and top < cache.racy:
        names = list(old.dirs)
    else:
        # Not through a link: `Ledger.scan` reads no linked folder, and neither does this.
        names = sorted(e.name for e in os.scandir(base) if e.is_dir(follow_symlinks=False))
    changed = old is None or old.top != top
    reading = _RecordRead(reader, cache, old)
    try:
        # Each folder opened from the record folder, each file stat'ed and read from its
        # folder by name: no path walked again from the root for each of tens of thousands.
        at = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # gone, or made a file, since its stat: as a folder that cannot be read
        at, names, changed = -1, [], True
    try:
        for name in names:
            changed = reading.folder(at, name) or changed
    finally:
        if at != -1:
            os.close(at)
    out.entries, out.problems = reading.entries, reading.problems
    files = reading.files
    if changed or old is None or len(files) != len(old.files):
        cache.record, cache.dirty = RecordState(top, reading.dirs, files), True
    return out


class _RecordRead:
    """The post folders of one `record_scan`: what it read, and the state it keeps."""

    def __init__(self, reader: ledger.Ledger, cache: Cache, old: RecordState | None) -> None:
        self.reader = reader
        self.racy = cache.racy
        self.old = old
        self.entries: list[ledger.Entry] = []
        self.problems: list[ledger.RecordProblem] = []
        self.dirs: dict[str, tuple[int, list[str]]] = {}
        self.files: dict[str, tuple[int, int, RecordFields]] = {}

    def folder(self, at: int, name: str) -> bool:
        """Read the post folder `name` of the record folder open as `at`; True when it
        changed since the cache's state (listed again, or a file read again)."""
        try:
            # Never through a link, even one swapped in since the folder was listed.
            folder = os.open(name, safefs.DIR_FLAGS, dir_fd=at)
        except OSError:
            return True
        try:
            mtime = os.fstat(folder).st_mtime_ns
            listed = self.old.dirs.get(name) if self.old is not None else None
            if listed is not None and listed[0] == mtime and mtime < self.racy:
                listing, changed = listed[1], False
            else:
                listing, changed = _record_listing(folder), True
            self.dirs[name] = (mtime, listing)
            for file in listing:
                changed = self.file(folder, name, file) or changed
        except OSError:  # its listing: as a folder that cannot be read
            return True
        finally:
            os.close(folder)
        return changed

    def file(self, folder: int, name: str, file: str) -> bool:
        """Take the record file `file` of post folder `name` (open as `folder`) from the
        cache's state if its stamp is unchanged, else read it; True when read."""
        key = f"{name}/{file}"
        try:
            st = os.stat(file, dir_fd=folder, follow_symlinks=False)  # a link's own stamp
            stamp: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
            mode = st.st_mode
        except OSError:
            stamp, mode = None, 0
        got = self.old.files.get(key) if self.old is not None else None
        if stamp is not None and got is not None and got[:2] == stamp and stamp[1] < self.racy:
            self.entries.append(_kept_entry(file, got[2]))
            self.files[key] = got
            return False
        read = self.reader.read_in(folder, name, file, mode)
        if isinstance(read, ledger.RecordProblem):
            self.problems.append(read)  # not kept: read again next time
            return True
        if stamp is not None:
            fields = (*_record_fields(read), read.remote_id or "", read.url or "")
            self.files[key] = (*stamp, fields)
        self.entries.append(read)
        return True


def _record_listing(folder: int) -> list[str]:
    """The record files a post folder (open as `folder`) lists, as `Ledger.scan` takes them."""
    return sorted(
        n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith(".tmp-")
    )


def _scan_again(config: Config, cache: Cache, verified: bool) -> ledger.Scan:
    """The record as `record_scan` reads it. When this run found it as the cache keeps it
    (`verified`: every folder and file stat'ed, `record_unchanged`), the entries are those
    of the fields the cache keeps, with no stat again, if it keeps every file's."""
    if verified and cache.record is not None:
        _names, _mtimes, keys, _stamps = cache.record.flat()
        files = cache.record.files
        if all(key in files for key in keys):
            return ledger.Scan(
                [_kept_entry(key.rpartition("/")[2], files[key][2]) for key in keys], []
            )
    return record_scan(config, cache)


def _kept_entry(file: str, fields: RecordFields) -> ledger.Entry:
    """The entry of record file `file` from the fields the cache keeps of it (what
    validation reads of an entry)."""
    entry: ledger.Entry = ledger.Entry.__new__(ledger.Entry)
    *kept, remote_id, url = fields
    entry.__dict__.update(zip(_RECORD_FIELDS, kept, strict=True))
    entry.state = State(entry.state)  # checked when the cache was loaded
    # The first part only (its id and URL): all validation reads of the parts.
    entry.parts = [PartResult(remote_id, url or None)] if remote_id else []
    # An evergreen re-post's number is in its file's name (checked when read).
    entry.publication = ledger.publication_of(file)
    return entry


def _affected(paths: set[str], media: Mapping[str, tuple[MediaStamp, ...]]) -> set[str] | None:
    """The post files a change to `paths` can affect: channels.yaml affects every post (None),
    a media file the posts that use it (`media`: each post's)."""
    if CONFIG_NAME in paths:
        return None
    others = paths - set(media)
    if others:
        paths |= {rel for rel, used in media.items() if any(m[0] in others for m in used)}
    return paths


def apply_levels(findings: Iterable[Finding], levels: Mapping[str, str]) -> list[Finding]:
    out: list[Finding] = []
    for f in findings:
        rule = BY_ID.get(f.rule)
        level = levels.get(f.rule)
        if level == "off":
            continue
        if level in ("error", "warning") and rule is not None and level != f.level:
            f = Finding(f.path, f.line, f.column, level, f.rule, f.message, f.channel)  # type: ignore[arg-type]
        out.append(f)
    return out


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per place and message, naming every channel it concerns."""
    groups: dict[tuple[str, int, int, str, str, str], list[str]] = {}
    for f in findings:
        key = (f.path, f.line, f.column, f.level, f.rule, f.message)
        channels = groups.setdefault(key, [])
        if f.channel and f.channel not in channels:
            channels.append(f.channel)
    out = [
        Finding(p, ln, col, lvl, rule, msg, ", ".join(sorted(chs)) or None)  # type: ignore[arg-type]
        for (p, ln, col, lvl, rule, msg), chs in groups.items()
    ]
    return sorted(out, key=Finding.sort_key)
