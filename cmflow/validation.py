"""`cmflow validate` as a library call: every post against the editorial line and the queue."""

from __future__ import annotations

import gc
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cmflow import content, ledger
from cmflow import media as media_files
from cmflow.cache import Cache, Entry, RecordFields, RecordState, media_stamps
from cmflow.config import CONFIG_NAME, Channel, Config
from cmflow.media import MediaFile
from cmflow.model import Finding, KeyPath, Mark, Post, Sent, State
from cmflow.platforms.base import PartResult
from cmflow.rules import BY_ID, FILE_RULES, POST_RULES, QUEUE_RULES, PostContext, QueueContext
from cmflow.rules.base import PostCheck

PARALLEL_FROM = 400  # files; below this, starting worker processes costs more than it saves


@dataclass
class Report:
    findings: list[Finding]
    files: int
    posts: list[Post]  # slim: what queue rules need (see `slim`), not bodies
    # With `validate(keep_posts=True)`: every post as parsed (bodies, variants), and the
    # fingerprint of what each (post path, channel) receives, for the publisher to reuse.
    full_posts: list[Post] = field(default_factory=list)
    fingerprints: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.level == "warning")


class Checker:
    """Per-post rules for one run. Holds what posts share within the run (media files looked
    at once however many posts and channels use them), never across runs."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._media: dict[str, MediaFile] = {}
        # Per channel, the post checks its settings let fire (in catalogue order), for a
        # post that sends it media and for one that does not: most channels leave several
        # rules nothing to check, and most posts have no media.
        self._checks: dict[str, tuple[tuple[PostCheck, ...], tuple[PostCheck, ...]]] = {}

    def _checks_for(self, channel: Channel) -> tuple[tuple[PostCheck, ...], tuple[PostCheck, ...]]:
        rules = [
            r
            for r in POST_RULES
            if r.post is not None and (r.applies is None or r.applies(channel))
        ]
        with_media = tuple(r.post for r in rules if r.post is not None)
        without = tuple(r.post for r in rules if r.post is not None and not r.media_only)
        checks = self._checks[channel.name] = (with_media, without)
        return checks

    def inspect(self, rel: str) -> MediaFile:
        info = self._media.get(rel)
        if info is None:
            info = self._media[rel] = media_files.inspect(self.config.root, rel)
        return info

    def check(self, post: Post) -> tuple[list[Finding], dict[str, str]]:
        """Per-post rule findings on every channel of `post` (levels not applied yet), and
        the fingerprint of what each channel would receive."""
        from cmflow.render import fingerprint, render

        config = self.config
        out: list[Finding] = list(post.problems)
        fps: dict[str, str] = {}
        for frule in FILE_RULES:
            assert frule.file is not None
            out.extend(frule.file(post))
        if not post.meta:
            return out, fps
        for name in post.channels:
            channel = config.channels[name]
            rendered = render(post, channel)
            fps[name] = fingerprint(rendered)
            ctx = PostContext(post, channel, rendered, config, config.root, self.inspect)
            both = self._checks.get(name) or self._checks_for(channel)
            for check in both[0] if ctx.media else both[1]:
                out.extend(check(ctx))
        return out, fps


def check_post(post: Post, config: Config) -> tuple[list[Finding], dict[str, str]]:
    """`Checker.check` for one post."""
    return Checker(config).check(post)


_SLIM_KEYS = ("date", "id", "pillar", "channels", "channel")


def slim(post: Post) -> Post:
    """What queue rules read of a post, small enough to cache 10,000 of them cheaply."""
    # Only what the queue rules look at, as plain JSON data for the cache: whether there is
    # an `id:` (its value made `post.id`), and pillars when they are text (any other value
    # counts as no pillar).
    meta: dict[str, Any] = {k: _text(post.meta[k]) for k in ("id", "pillar") if k in post.meta}
    variants = post.meta.get("variants")
    if isinstance(variants, dict):
        pv = {
            c: {"pillar": _text(v["pillar"])}
            for c, v in variants.items()
            if isinstance(c, str) and isinstance(v, dict) and "pillar" in v
        }
        if pv:
            meta["variants"] = pv
    marks: dict[KeyPath, Mark] = {
        k: m
        for k, m in post.marks.items()
        if (k[0] in _SLIM_KEYS and len(k) == 1) or (k[0] == "variants" and k[-1] == "pillar")
    }
    return Post(
        path=post.path,
        id=post.id,
        meta=meta,
        body="",
        body_line=post.body_line,
        marks=marks,
        date=post.date,
        slot=post.slot,
        channels=post.channels,
        status=post.status,
        content_hash=post.content_hash,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _compute(root: Path, rel: str, config: Config, checker: Checker, keep: bool = False) -> Entry:
    raw = content.read_bytes(root, rel)
    try:
        st = os.stat(root / rel)
        stat = (st.st_size, st.st_mtime_ns)
    except OSError:
        stat = (-1, 0)
    if isinstance(raw, Finding):
        stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        entry = Entry(stat, "", Post(path=rel, id=stem, meta={}, body="", body_line=1), [raw])
        if keep:  # as content.load_all gives it
            entry.full = Post(path=rel, id=stem, meta={}, body="", body_line=1, problems=[raw])
        return entry
    post = content.parse_post(rel, raw, config.timezone, config.channels)
    findings, fps = checker.check(post)
    media = sorted({m.path for name in [None, *post.channels] for m in post.media(name)})
    return Entry(
        stat,
        hashlib.sha256(raw).hexdigest(),
        slim(post),
        findings,
        media_stamps(root, media),
        fps,
        post if keep else None,
    )


_WORKER_CONFIG: Config | None = None
_WORKER_KEEP = False


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


def _compute_many(rels: list[str]) -> list[Entry]:
    gc.disable()  # a worker process: see `_no_gc`
    assert _WORKER_CONFIG is not None
    checker = Checker(_WORKER_CONFIG)
    cfg, keep = _WORKER_CONFIG, _WORKER_KEEP
    return [_compute(cfg.root, rel, cfg, checker, keep) for rel in rels]


def _compute_all(
    config: Config,
    rels: list[str],
    jobs: int | None = None,
    keep: bool = False,
    meanwhile: Callable[[], None] | None = None,
) -> list[Entry]:
    """Parse and check `rels`, on every core when there are many (fork start: Linux).
    `meanwhile` runs in this process while the workers check (reading the publish record:
    it needs none of their results), else after."""
    if len(rels) < PARALLEL_FROM or (jobs or os.cpu_count() or 1) < 2:
        checker = Checker(config)
        out = [_compute(config.root, rel, config, checker, keep) for rel in rels]
        if meanwhile is not None:
            meanwhile()
        return out
    import multiprocessing  # only here: an unchanged run starts no process

    cores = jobs or os.cpu_count() or 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return _compute_all(config, rels, 1, keep, meanwhile)
    global _WORKER_CONFIG, _WORKER_KEEP
    _WORKER_CONFIG, _WORKER_KEEP = config, keep
    # Small interleaved chunks, taken in turn: a worker slowed down (by this process reading
    # the record, by another job on the machine) takes fewer of them.
    count = min(cores * 8, max(1, len(rels) // 100))
    chunks = [rels[i::count] for i in range(count)]
    try:
        with multiprocessing.get_context("fork").Pool(cores) as pool:
            pending = pool.map_async(_compute_many, chunks, chunksize=1)
            if meanwhile is not None:
                meanwhile()
            parts = pending.get()
    finally:
        _WORKER_CONFIG, _WORKER_KEEP = None, False
    by_rel = {e.post.path: e for part in parts for e in part}
    return [by_rel[r] for r in rels]


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
) -> tuple[dict[str, Entry], Cache | None]:
    root = config.root
    cache = Cache.open(root, config.digest) if use_cache else None
    rels = content.discover(root, config.content_dir)
    fresh: dict[str, Entry] = {}
    todo: list[str] = []
    for rel in rels:
        entry = _cached(cache, root, rel) if cache else None
        if entry is None:
            todo.append(rel)
        else:
            fresh[rel] = entry
    # When the queue rules run again, they read what the cache keeps of each post in full.
    if (
        cache is not None
        and (todo or len(fresh) != len(cache.entries) or cache.queue_findings is None)
        and not cache.complete()
    ):
        todo, fresh = list(rels), {}
    also = (lambda: meanwhile(cache)) if meanwhile is not None else None
    with _no_gc():
        for entry in _compute_all(config, todo, jobs, keep, also):
            fresh[entry.post.path] = entry
    fresh = {rel: fresh[rel] for rel in rels}
    if cache is not None:
        if todo or set(cache.entries) != set(fresh):
            cache.dirty = True
            cache.queue_findings = cache.sent = None  # the queue changed
        cache.entries = fresh
    return fresh, cache


def _cached(cache: Cache, root: Path, rel: str) -> Entry | None:
    entry = cache.entries.get(rel)
    if entry is None:
        return None
    try:
        st = os.stat(f"{root}/{rel}")  # a str path: Path objects cost more than the stat
    except OSError:
        return None
    if (st.st_size, st.st_mtime_ns) != entry.stat:
        raw = content.read_bytes(root, rel)  # never a blocking read of a FIFO
        if isinstance(raw, Finding):
            return None
        sha = hashlib.sha256(raw).hexdigest()
        if sha != entry.sha:
            return None
        entry.stat = (st.st_size, st.st_mtime_ns)
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
    given = scan
    scans: list[ledger.Scan | None] = []

    def read_record(cache: Cache | None) -> None:
        if record is None:
            if given is not None:
                scans.append(given)
            elif cache is None:
                scans.append(ledger.Ledger(config.root, config.data_dir).scan())
            elif cache.sent is not None and record_unchanged(config, cache):
                scans.append(None)  # the sent index kept in the cache holds, if posts do
            else:
                scans.append(record_scan(config, cache))

    entries, cache = _load(config, use_cache and not keep_posts, jobs, keep_posts, read_record)
    posts = [e.post for e in entries.values()]
    findings = [f for e in entries.values() for f in e.findings]
    scan = scans[0] if scans else given
    slotted = any(p.slot is not None for p in posts)
    if slotted:
        # Before anything reads a date: every view then sees the time the slot gives.
        if scan is None:
            scan = record_scan(config, cache) if cache is not None else None
        if scan is None:
            scan = ledger.Ledger(config.root, config.data_dir).scan()
        findings.extend(place_in_slots(config, entries, scan, now))
    if record is None:
        if scan is None and cache is not None and cache.sent is not None:
            record = cache.sent  # neither the posts nor the record changed
        else:
            if scan is None:
                assert cache is not None
                scan = record_scan(config, cache)
            record = ledger.sent_index(config.root, config.data_dir, posts, scan)
            findings.extend(ledger.problem_findings(scan.problems))
            if cache is not None:
                # Kept only for a record read whole (a file it could not read is read again).
                if cache.record is not None and not scan.problems:
                    cache.sent, cache.dirty = dict(record), True
                elif cache.sent is not None:
                    cache.sent, cache.dirty = None, True
    by_path = entries

    def rendered_hash(post: Post, channel: Channel) -> str:
        if cache is not None and cache.fill is not None:
            cache.fingerprints()
        entry = by_path.get(post.path)
        return entry.fingerprints.get(channel.name, "") if entry is not None else ""

    qctx = QueueContext(posts, config, now, record, rendered_hash)
    # Slot times depend on the record and git, not only on the posts: never cached.
    stable = cache.queue_findings if cache is not None and not slotted else None
    # Without the cycle collector (see `_no_gc`): the rules make tens of thousands of small
    # objects, and its passes would walk every post just loaded (most of their time).
    with _no_gc():
        if stable is None:
            stable = [
                f for rule in QUEUE_RULES if rule.stable and rule.queue for f in rule.queue(qctx)
            ]
            if cache is not None and not slotted:
                cache.queue_findings, cache.dirty = stable, True
        findings.extend(stable)
        for rule in QUEUE_RULES:
            if not rule.stable and rule.queue is not None:
                findings.extend(rule.queue(qctx))
    if cache is not None:
        cache.save()
    wanted = _affected(set(only), entries) if only is not None else None
    if wanted is not None:
        findings = [f for f in findings if f.path in wanted]
    files = len(wanted & set(entries)) if wanted is not None else len(entries)
    report = Report(merge(apply_levels(findings, config.levels)), files, posts)
    if keep_posts:
        for rel, e in entries.items():
            assert e.full is not None
            report.full_posts.append(e.full)
            for name, fp in e.fingerprints.items():
                report.fingerprints[(rel, name)] = fp
    return report


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
)


def record_unchanged(config: Config, cache: Cache) -> bool:
    """Whether the record is exactly as the cache last read it: same folders (listed the
    same, by their mtime) and every file with the same size and mtime. Only stats: nothing
    is read or built."""
    old = cache.record
    if old is None:
        return False
    base = f"{config.root}/{config.data_dir}/{ledger.RECORD_DIR}"
    try:
        if os.stat(base).st_mtime_ns != old.top:
            return False
        for name, (mtime, listing) in old.dirs.items():
            folder = f"{base}/{name}"
            if os.stat(folder).st_mtime_ns != mtime:
                return False
            for file in listing:
                got = old.stamps.get(f"{name}/{file}")
                st = os.stat(f"{folder}/{file}")
                if got is None or got != (st.st_size, st.st_mtime_ns):
                    return False
    except OSError:
        return False
    return True


def record_scan(config: Config, cache: Cache) -> ledger.Scan:
    """The record as `Ledger.scan` reads it (same entries, same order, same problems),
    reading again only the files whose size or mtime changed and listing again only the
    folders whose mtime did (adding, removing or renaming a file in a folder changes the
    folder's mtime). A years-old repository holds tens of thousands of record files:
    reading them all would be most of an unchanged run."""
    reader = ledger.Ledger(config.root, config.data_dir)
    base = reader.dir
    out = ledger.Scan()
    try:
        top = os.stat(base).st_mtime_ns
        if not stat.S_ISDIR(os.stat(base).st_mode):
            raise NotADirectoryError
    except OSError:
        if cache.record is not None:
            cache.record, cache.dirty = None, True
        return out
    old = cache.record
    if old is not None and old.top == top:
        names = list(old.dirs)
    else:
        names = sorted(e.name for e in os.scandir(base) if e.is_dir())
    dirs: dict[str, tuple[int, list[str]]] = {}
    files: dict[str, tuple[int, int, RecordFields]] = {}
    changed = old is None or old.top != top
    new = ledger.Entry.__new__
    for name in names:
        folder = f"{base}/{name}"
        try:
            mtime = os.stat(folder).st_mtime_ns
        except OSError:
            changed = True
            continue
        listed = old.dirs.get(name) if old is not None else None
        if listed is not None and listed[0] == mtime:
            listing = listed[1]
        else:
            changed = True
            listing = sorted(
                n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith(".tmp-")
            )
        dirs[name] = (mtime, listing)
        for file in listing:
            key = f"{name}/{file}"
            try:
                st = os.stat(f"{folder}/{file}")
                stamp = (st.st_size, st.st_mtime_ns)
            except OSError:
                stamp = None
            got = old.files.get(key) if old is not None else None
            if stamp is not None and got is not None and got[:2] == stamp:
                fields = got[2]
                entry = new(ledger.Entry)
                *kept, remote_id, url = fields
                entry.__dict__.update(zip(_RECORD_FIELDS, kept, strict=True))
                entry.state = State(entry.state)  # checked when the cache was loaded
                # The first part only (its id and URL): all validation reads of the parts.
                entry.parts = [PartResult(remote_id, url or None)] if remote_id else []
                # An evergreen re-post's number is in its file's name (checked when read).
                entry.publication = ledger.publication_of(file)
            else:
                changed = True
                read = reader.read(base / name / file)
                if isinstance(read, ledger.RecordProblem):
                    out.problems.append(read)  # not kept: read again next time
                    continue
                entry = read
                fields = (
                    *(getattr(entry, f) for f in _RECORD_FIELDS),
                    entry.remote_id or "",
                    entry.url or "",
                )
            if stamp is not None:
                files[key] = (*stamp, fields)
            out.entries.append(entry)
    if changed or old is None or len(files) != len(old.files):
        cache.record, cache.dirty = RecordState(top, dirs, files), True
    return out


def _affected(paths: set[str], entries: Mapping[str, Entry]) -> set[str] | None:
    """The post files a change to `paths` can affect: channels.yaml affects every post (None),
    a media file the posts that use it."""
    if CONFIG_NAME in paths:
        return None
    others = paths - set(entries)
    if others:
        paths |= {rel for rel, e in entries.items() if any(m[0] in others for m in e.media)}
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
