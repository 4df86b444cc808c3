"""`cmflow validate` as a library call: every post against the editorial line and the queue."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cmflow import content, ledger
from cmflow.cache import Cache, Entry, media_stamps
from cmflow.config import Channel, Config
from cmflow.model import Finding, Post
from cmflow.render import fingerprint, render
from cmflow.rules import BY_ID, POST_RULES, QUEUE_RULES, PostContext, QueueContext
from cmflow.rules.base import Sent


@dataclass
class Report:
    findings: list[Finding]
    files: int
    posts: list[Post]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.level == "warning")


def check_post(post: Post, config: Config) -> list[Finding]:
    """Findings of the per-post rules on every channel of `post` (levels not applied yet)."""
    out: list[Finding] = list(post.problems)
    if not post.meta:
        return out
    for name in post.channels:
        channel = config.channels[name]
        ctx = PostContext(post, channel, render(post, channel), config, config.root)
        for rule in POST_RULES:
            assert rule.post is not None
            out.extend(rule.post(ctx))
    return out


def load_posts(
    config: Config, *, use_cache: bool = True
) -> tuple[list[Post], dict[str, list[Finding]]]:
    """Every post under content_dir with its per-post findings, from the cache when unchanged."""
    root = config.root
    cache = Cache.open(root, config.digest) if use_cache else None
    rels = content.discover(root, config.content_dir)
    posts: list[Post] = []
    per_file: dict[str, list[Finding]] = {}
    fresh: dict[str, Entry] = {}
    for rel in rels:
        entry = _cached(cache, root, rel) if cache else None
        if entry is None:
            entry = _compute(root, rel, config)
            if cache is not None:
                cache.dirty = True
        fresh[rel] = entry
        posts.append(entry.post)
        per_file[rel] = entry.findings
    if cache is not None:
        if set(cache.entries) != set(fresh):
            cache.dirty = True
        cache.entries = fresh
        cache.save()
    return posts, per_file


def _cached(cache: Cache, root: Path, rel: str) -> Entry | None:
    entry = cache.entries.get(rel)
    if entry is None:
        return None
    try:
        st = os.stat(root / rel)
    except OSError:
        return None
    if (st.st_size, st.st_mtime_ns) != entry.stat:
        try:
            sha = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        except OSError:
            return None
        if sha != entry.sha:
            return None
        entry.stat = (st.st_size, st.st_mtime_ns)
        cache.dirty = True
    if entry.media and media_stamps(root, [m[0] for m in entry.media]) != entry.media:
        return None
    return entry


def _compute(root: Path, rel: str, config: Config) -> Entry:
    raw = content.read_bytes(root, rel)
    try:
        st = os.stat(root / rel)
        stat = (st.st_size, st.st_mtime_ns)
    except OSError:
        stat = (-1, 0)
    if isinstance(raw, Finding):
        stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        post = Post(path=rel, id=stem, meta={}, body="", body_line=1, problems=[raw])
        return Entry(stat, "", post, [raw])
    post = content.parse_post(rel, raw, config.timezone, config.channels)
    findings = check_post(post, config)
    media = sorted({m.path for name in [None, *post.channels] for m in post.media(name)})
    return Entry(stat, hashlib.sha256(raw).hexdigest(), post, findings, media_stamps(root, media))


def rendered_hash(post: Post, channel: Channel) -> str:
    return fingerprint(render(post, channel))


def validate(
    config: Config,
    *,
    now: datetime,
    only: Iterable[str] | None = None,
    record: Mapping[tuple[str, str], Sent] | None = None,
    use_cache: bool = True,
) -> Report:
    """Check the whole queue; report findings for `only` (relative paths) or every file."""
    posts, per_file = load_posts(config, use_cache=use_cache)
    findings = [f for fs in per_file.values() for f in fs]
    if record is None:
        record = ledger.sent_index(config.root, config.data_dir, posts)
    qctx = QueueContext(posts, config, now, record, rendered_hash)
    for rule in QUEUE_RULES:
        assert rule.queue is not None
        findings.extend(rule.queue(qctx))
    wanted = set(only) if only is not None else None
    if wanted is not None:
        findings = [f for f in findings if f.path in wanted]
    files = len(wanted & set(per_file)) if wanted is not None else len(per_file)
    return Report(merge(apply_levels(findings, config.levels)), files, posts)


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
