"""`cmflow publish` as a library call: claim, send, record — exactly once.

For every due (post, channel) the run (1) writes a claim with the handles the adapter chose
(record keys, idempotency keys) and, with `commit`, pushes it — the push is the lock between
concurrent runs; (2) sends the parts, recording each part's id the moment the platform
answers; (3) records the outcome and, with `commit`, pushes it. A claim found without an
outcome means an earlier run died mid-send: the adapter reconciles before anything is resent.
Without `commit` nothing is pushed, so each pair is claimed right before it is sent (the
claim also says that its next part is in flight: one write). Channels run concurrently (a
bounded pool); the pairs of one channel, and the parts of each, go in order.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmflow import platforms
from cmflow.clock import Clock, stamp
from cmflow.config import Channel, Config
from cmflow.errors import MissingSecret
from cmflow.http import Http
from cmflow.i18n import _
from cmflow.ledger import Entry, Index, Ledger, parse_time
from cmflow.model import Finding, Post, Rendered, State
from cmflow.platforms.base import (
    Adapter,
    Context,
    Editor,
    Outcome,
    PartResult,
    Result,
    adapter_for,
)
from cmflow.platforms.spec import Capability, PlatformSpec
from cmflow.redact import Redactor
from cmflow.render import fingerprint, render
from cmflow.runlock import Claimer, RunLock, claim_holder
from cmflow.scheduler import DEFAULT_LEASE, Action, Kind, held_key, holds, plan
from cmflow.validation import validate

if TYPE_CHECKING:
    from cmflow.gitops import RecordRepo

MAX_RECONCILE = 3  # runs that may try to find out, before a human is asked
UPDATED = "updated"  # a run result (the record says published): an edit went out
NEEDS_REAUTH = "needs_reauth"  # a run result (the record says deferred): the credential was refused


@dataclass
class PairResult:
    action: Action
    state: State | Kind  # the record's state, or the action kind when nothing was sent
    message: str
    entry: Entry | None = None
    reauth: bool = False  # deferred because the credential was refused
    updated: bool = False  # a published post's edit went out

    @property
    def status(self) -> str:
        """What the run shows for the pair: its state, `needs_reauth` or `updated`."""
        if self.updated:
            return UPDATED
        return NEEDS_REAUTH if self.reauth else str(self.state)


@dataclass
class RunReport:
    run_id: str
    now: datetime
    actions: list[Action]
    results: list[PairResult] = field(default_factory=list)
    push_error: str | None = None
    dry_run: bool = False
    unreadable: list[str] = field(default_factory=list)  # post files with no usable channels
    why: dict[str, list[Finding]] = field(default_factory=dict)  # unreadable path -> its errors

    @property
    def ok(self) -> bool:
        """Whether the run succeeded; for a dry run, whether the run would, as far as can be
        told without sending: no post unreadable, none held by its errors or waiting for a
        person's decision (the run would fail on those)."""
        bad = {State.FAILED, State.UNKNOWN, State.NEEDS_HUMAN, Kind.INVALID, Kind.BLOCKED}
        held = self.dry_run and any(a.kind in bad for a in self.actions)
        return (
            self.push_error is None
            and not self.unreadable
            and not held
            and not any(r.state in bad or r.reauth for r in self.results)
        )

    def count(self, state: str) -> int:
        return sum(1 for r in self.results if r.status == state)


class LedgerProgress:
    """`Progress` backed by the record: every step is written before the next call."""

    def __init__(
        self, ledger: Ledger, entry: Entry, last: int | None = None, claimed: bool = False
    ) -> None:
        self.ledger, self.entry = ledger, entry
        self.clock = ledger.clock
        # The last part: its outcome is written by the caller right after (`_record`), so
        # one write covers both (killed in between, the part is still in flight on disk,
        # and the next run reconciles it, as if killed a moment earlier).
        self.last = last
        # The record holds the claim as written, which already says that part `in_flight`
        # goes next (since the claim): starting it needs no write of its own.
        self.claimed = claimed and entry.in_flight is not None

    @property
    def handles(self) -> Mapping[str, Any]:
        return self.entry.handles

    @property
    def done(self) -> list[PartResult]:
        return [PartResult(p.id, p.url, dict(p.extra)) for p in self.entry.parts]  # copies

    @property
    def started_at(self) -> datetime | None:
        # Claims are pushed before sending, part starts are only local: when the run died in
        # CI, the claim time is all the next run knows, so it counts as the part's start.
        return parse_time(self.entry.in_flight_since or self.entry.claimed_at)

    def part_started(self, index: int) -> None:
        if self.claimed and index == self.entry.in_flight:
            self.claimed = False
            return
        self.entry.in_flight = index
        self.entry.in_flight_since = self.clock.stamp()
        self._write()

    def part_done(self, index: int, result: PartResult) -> None:
        if index < len(self.entry.parts):
            return
        self.entry.parts.append(PartResult(result.id, result.url, dict(result.extra)))
        self.entry.in_flight = None
        self.entry.in_flight_since = None
        if index != self.last:
            self._write()

    def part_handle(self, index: int, name: str, value: Any) -> None:
        table = self.entry.handles.setdefault("part_handles", {})
        table.setdefault(str(index), {})[name] = value
        self._write()

    def keep(self, **handles: Any) -> None:
        for name, value in handles.items():
            if value is None:
                self.entry.handles.pop(name, None)
            else:
                self.entry.handles[name] = value
        self._write()

    def _write(self) -> None:
        self.claimed = False
        self.ledger.write(self.entry)


@dataclass
class Prepared:
    """Everything a run knows before touching the network."""

    config: Config
    posts: list[Post]
    actions: list[Action]
    rendered: dict[tuple[str, str], Rendered]
    index: Index
    unreadable: list[str]
    why: dict[str, list[Finding]] = field(default_factory=dict)  # unreadable path -> its errors
    # What validation fingerprinted each (post id, channel) as: the claim records it.
    fingerprints: dict[tuple[str, str], str] = field(default_factory=dict)


class _Rendered(dict[tuple[str, str], Rendered]):
    """What each (post id, channel) receives, HTML included, rendered when first asked for:
    a run sends a few pairs of a queue of thousands."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.posts: dict[tuple[str, str], tuple[Post, str | None]] = {}  # and canonical URL

    def __missing__(self, key: tuple[str, str]) -> Rendered:
        post, canonical = self.posts[key]  # KeyError for a pair no post has, as a plain dict
        r = render(post, self.config.channels[key[1]], html=True)
        r.canonical_url = canonical
        self[key] = r
        return r


def prepare(
    config: Config,
    now: datetime | Clock,
    *,
    channels: list[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Prepared:
    """Validate, read the record, render, plan. `now`: the run's clock (a bare datetime is
    the schedule's time, with the real clock for the rest)."""
    env = os.environ if env is None else env
    clock = now if isinstance(now, Clock) else Clock(now)
    now = clock.schedule_now
    # Never the validation cache: it sits in the work tree, where a pull request can plant
    # one, and this run holds the channels' credentials. Validation runs from the files.
    # The posts as validation parsed them, and what it rendered (fingerprints): read and
    # rendered once per run.
    # The record is read once, for validation and for the plan.
    scan = Ledger(config.root, config.data_dir, clock).scan()
    report = validate(config, now=now, use_cache=False, keep_posts=True, scan=scan)
    invalid: dict[str, int] = {}
    for f in report.findings:
        if f.level == "error":
            invalid[f.path] = invalid.get(f.path, 0) + 1
    posts = report.full_posts
    index = Index.build(scan.entries, (p.id for p in posts), scan.problems)
    here, real_now = Claimer.here(env), clock.now()
    held = {
        held_key(e.post, e.channel, e.publication): why
        for e in scan.entries
        if e.state == State.CLAIMED
        and (
            why := claim_holder(
                e.claimer, parse_time(e.leased_at or e.claimed_at), real_now, DEFAULT_LEASE, here
            )
        )
    }
    # A post that could not be read has no channels: no action can name it, so the run
    # lists it, and fails, rather than leave it silently absent.
    unreadable = sorted(p.path for p in posts if not p.channels and invalid.get(p.path))
    unreadable_why = {
        path: [f for f in report.findings if f.path == path and f.level == "error"]
        for path in unreadable
    }
    rendered = _Rendered(config)
    fps: dict[tuple[str, str], str] = {}
    for post in posts:
        if not post.meta:
            continue
        # The post's own page, when one of its channels gives it one (the site): dev.to
        # names it as the canonical URL.
        pages = (
            platforms.page_url(ch.platform, ch.settings, post.id)
            for ch in (config.channels[n] for n in post.channels)
        )
        canonical = next((u for u in pages if u), None)
        for name in post.channels:
            rendered.posts[(post.id, name)] = (post, canonical)
            fps[(post.id, name)] = report.fingerprints[(post.path, name)]
    missing = {name: ch.missing_secrets(env) for name, ch in config.channels.items()}
    actions = plan(
        posts,
        config,
        index,
        now,
        fingerprints=fps,
        invalid=holds(report.findings, {p.path: p.channels for p in posts}),
        missing_secrets=missing,
        missing_keys={name: ch.missing_keys() for name, ch in config.channels.items()},
        publishable={
            ch.platform for ch in config.channels.values() if platforms.can_publish(ch.platform)
        },
        channels=set(channels) if channels else None,
        held=held,
        real_now=real_now,
    )
    return Prepared(config, posts, actions, rendered, index, unreadable, unreadable_why, fps)


def publish(
    config: Config,
    now: datetime | Clock,
    *,
    channels: list[str] | None = None,
    dry_run: bool = False,
    commit: bool = False,
    remote: str = "origin",
    env: Mapping[str, str] | None = None,
    budget: float = 600.0,
    workers: int = 16,
    read_timeout: float = 30.0,
    push_backoff: float = 0.1,
    log: Callable[[str], None] = lambda _: None,
) -> RunReport:
    """One publish run: (sync), plan, claim (and push the claims), send, record (and push).

    `now`: the run's clock (a bare datetime is the schedule's time, `--at`). The run holds
    the checkout's run lock throughout (see cmflow.runlock); a dry run does not."""
    env = os.environ if env is None else env
    clock = now if isinstance(now, Clock) else Clock(now)
    if dry_run:
        return _publish(
            config,
            clock,
            channels,
            dry_run,
            commit,
            remote,
            env,
            budget,
            workers,
            read_timeout,
            push_backoff,
            log,
        )
    with RunLock(config.root, config.data_dir).held():
        return _publish(
            config,
            clock,
            channels,
            dry_run,
            commit,
            remote,
            env,
            budget,
            workers,
            read_timeout,
            push_backoff,
            log,
        )


def _publish(
    config: Config,
    clock: Clock,
    channels: list[str] | None,
    dry_run: bool,
    commit: bool,
    remote: str,
    env: Mapping[str, str],
    budget: float,
    workers: int,
    read_timeout: float,
    push_backoff: float,
    log: Callable[[str], None],
) -> RunReport:
    now = clock.schedule_now
    run_id = f"{now:%Y%m%dT%H%M}-{uuid.uuid4().hex[:8]}"
    redact = Redactor(config.secret_values(env))
    repo = None
    leftovers: list[str] = []
    if commit and not dry_run:
        from cmflow.gitops import RecordRepo

        repo = RecordRepo(config.root, remote, backoff=push_backoff)
        outputs = [config.data_dir] + [
            ch.output_dir for ch in config.channels.values() if ch.output_dir is not None
        ]
        repo.ensure_clean(outputs)
        # Record files an earlier run in this checkout could not push go with our claims.
        leftovers = repo.changed(outputs)
        repo.sync()
    prep = prepare(config, clock, channels=channels, env=env)
    report = RunReport(
        run_id, now, prep.actions, dry_run=dry_run, unreadable=prep.unreadable, why=prep.why
    )
    if dry_run:
        return report
    ledger = Ledger(config.root, config.data_dir, clock)
    run = _Run(prep, ledger, redact, report, clock, Claimer.here(env), log)
    with Http(budget=budget, read_timeout=read_timeout) as http:
        run.adapters = _Adapters(config, http, env)
        if repo is None:
            # No push to wait for (the checkout's lock keeps other runs out): each pair is
            # claimed right before it is sent, while the other channels wait for the
            # network, and a run stopped half-way leaves the pairs it never started free.
            run.note_idle()
            run.send_all(workers, claim=True)
        else:
            run.claim_all()
            if (run.todo or leftovers) and not run.push_claims(repo, leftovers):
                return report
            run.send_all(workers)
    if repo is not None and run.todo:
        run.push_results(repo)
    return report


@dataclass
class _Run:
    """The state of one publish run between its phases."""

    prep: Prepared
    ledger: Ledger
    redact: Redactor
    report: RunReport
    clock: Clock
    claimer: Claimer
    log: Callable[[str], None]
    adapters: _Adapters = field(init=False)
    todo: list[tuple[Action, Entry]] = field(default_factory=list)
    before: dict[str, Entry | None] = field(default_factory=dict)  # entries as they were

    def rel(self, entry: Entry) -> str:
        return self.ledger.rel(entry.post, entry.channel, entry.publication)

    def note_idle(self) -> None:
        """Note in the report the pairs the run does not act on."""
        for action in self.prep.actions:
            if not action.acts:
                self.report.results.append(
                    PairResult(action, action.kind, action.reason, action.entry)
                )

    def claim(self, action: Action, write: bool = True) -> Entry:
        """The pair's claim, written (before anything is sent for it) unless `write` is
        False: a pair the run gives up before sending is written once, as given back."""
        entry = _claim(
            action, self.prep, self.report.run_id, self.adapters, self.clock, self.claimer
        )
        if write:
            self.ledger.write(entry)
        return entry

    def claim_all(self) -> None:
        """Write a claim for every pair the run acts on, keeping what the record held (to
        give the claims back if their push fails); note the others in the report."""
        self.note_idle()
        for action in self.prep.actions:
            if action.acts:
                rel = self.ledger.rel(action.post.id, action.channel, action.publication)
                self.before[rel] = self.ledger.get(
                    action.post.id, action.channel, action.publication
                )
                self.todo.append((action, self.claim(action)))

    def push_claims(self, repo: RecordRepo, leftovers: list[str]) -> bool:
        """Push the claims: the lock between runs. False when the push failed (the claims
        are given back: nothing was sent)."""
        from cmflow.gitops import PushFailed

        run_id = self.report.run_id
        files = leftovers + [self.rel(e) for _, e in self.todo]
        message = (
            f"cmflow: claim {len(self.todo)} post(s) [{run_id}]"
            if self.todo
            else f"cmflow: record an earlier run could not push [{run_id}]"
        )
        try:
            # A claim file the remote changed meanwhile belongs to another run: drop ours.
            lost = repo.commit_and_push(files, message, lambda clashes: [])
        except PushFailed as exc:
            repo.undo_last_commit()
            for rel, old in self.before.items():
                if old is None:
                    (self.ledger.root / rel).unlink(missing_ok=True)
                else:
                    self.ledger.write(old)
            self.report.push_error = self.redact.text(str(exc))
            for action, _entry in self.todo:
                self.report.results.append(
                    PairResult(action, Kind.WAIT, _("not claimed: push failed"))
                )
            return False
        for action, entry in self.todo:
            if self.rel(entry) in lost:
                self.report.results.append(
                    PairResult(action, Kind.WAIT, _("claimed by another run at the same time"))
                )
        self.todo = [t for t in self.todo if self.rel(t[1]) not in lost]
        return True

    def send_all(self, workers: int, *, claim: bool = False) -> None:
        """Channels concurrently (a bounded pool), the pairs of one channel in order. With
        `claim`, each pair is claimed right before it is sent (the claims are not pushed:
        the claim and the start of the send are one write)."""
        by_channel: dict[str, list[tuple[Action, Entry | None]]] = {}
        items: list[tuple[Action, Entry | None]] = (
            [(a, None) for a in self.prep.actions if a.acts] if claim else list(self.todo)
        )
        for item in items:
            by_channel.setdefault(item[0].channel, []).append(item)
        channels = self.prep.config.channels

        def run_channel(name: str) -> list[PairResult]:
            return _run_channel(
                channels[name],
                by_channel[name],
                self.claim,
                self.prep,
                self.ledger,
                self.adapters,
                self.redact,
                self.clock,
                self.log,
            )

        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(by_channel) or 1))) as pool:
            for results in pool.map(run_channel, sorted(by_channel)):
                self.report.results.extend(results)

    def push_results(self, repo: RecordRepo) -> None:
        """Push the outcomes and the files adapters wrote (the feed). Our outcome wins over
        a concurrent change to the same pair: we are the ones who sent it."""
        from cmflow.gitops import PushFailed

        config = self.prep.config
        root = config.root.resolve()
        files = [self.rel(e) for _, e in self.todo]
        files += [p.resolve().relative_to(root).as_posix() for p in self.adapters.written()]
        entries = {self.rel(e): e for _, e in self.todo}
        feed_dirs = {
            name: ch.output_dir.strip("/") + "/"
            for name, ch in config.channels.items()
            if ch.output_dir is not None
        }

        def keep_ours(clashes: set[str]) -> list[str]:
            for rel in clashes:
                if rel in entries:
                    self.ledger.write(entries[rel])
            keep = [c for c in clashes if c in entries]
            # Another run rewrote a feed's shared files (feed.xml, index.html): put our
            # posts back into its version.
            for name, folder in feed_dirs.items():
                if not any(c.startswith(folder) for c in clashes):
                    continue
                restore = getattr(self.adapters.get(name), "restore", None)
                for action, entry in self.todo:
                    if action.channel == name and entry.state == State.PUBLISHED and restore:
                        restore(self.prep.rendered[(action.post.id, name)], entry.handles)
                keep += [c for c in clashes if c.startswith(folder)]
            return keep

        report = self.report
        summary = ", ".join(
            f"{n} {s}"
            for s in (State.PUBLISHED, State.WAITING, State.FAILED, State.UNKNOWN)
            if (n := report.count(s))
        )
        message = f"cmflow: publish record ({summary or 'no change'}) [{report.run_id}]"
        try:
            repo.commit_and_push(files, message, keep_ours)
        except PushFailed as exc:
            report.push_error = self.redact.text(str(exc))


class _Adapters:
    """One adapter per channel for the run, built on first use (thread-safe)."""

    def __init__(self, config: Config, http: Http, env: Mapping[str, str]) -> None:
        self.config, self.http, self.env = config, http, env
        self._made: dict[str, Adapter | MissingSecret] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Adapter:
        """The channel's adapter; raises MissingSecret when its credential is not set."""
        with self._lock:
            if name not in self._made:
                ch = self.config.channels[name]
                try:
                    self._made[name] = adapter_for(
                        Context(
                            ch,
                            self.config.root,
                            self.http,
                            ch.secrets(self.env),
                            self.config.channels,
                            self.config.data_dir,
                            self.get,
                        )
                    )
                except MissingSecret as exc:
                    self._made[name] = exc
            made = self._made[name]
        if isinstance(made, MissingSecret):
            raise made
        return made

    def written(self) -> list[Path]:
        return [p for a in self._made.values() for p in (getattr(a, "written", None) or [])]


def _claim(
    action: Action,
    prep: Prepared,
    run_id: str,
    adapters: _Adapters,
    clock: Clock,
    claimer: Claimer,
) -> Entry:
    """The entry recorded (and, with --commit, pushed) before anything is sent. It carries the
    handles the adapter chose (record keys, idempotency keys), so that a run that dies after
    sending can be reconciled from a fresh checkout."""
    post, name = action.post, action.channel
    channel = prep.config.channels[name]
    rendered = prep.rendered[(post.id, name)]
    fp = prep.fingerprints.get((post.id, name)) or fingerprint(rendered)  # validation's
    old = action.entry
    real_now = clock.stamp()  # leases run on the real clock, whatever --at says
    scheduled = post.date.isoformat() if post.date else None
    if action.kind == Kind.RECONCILE and old is not None:
        # claimed_at stays: it is when the first attempt may have been sent, which the
        # adapter needs (Mastodon's idempotency keys last one hour). Only the lease moves.
        old.run_id, old.leased_at, old.claimer = run_id, real_now, claimer.to_dict()
        old.note("reconcile", None, at=real_now)
        return old
    if action.kind == Kind.UPDATE and old is not None:
        # An edit of a published post: claimed like a creation (the push is the lock), with
        # what was sent before, so that a refused edit puts the record back as it was.
        old.handles["edit"] = {"from": old.content_hash, "source": old.source_hash}
        old.handles["updated"] = real_now
        old.handles.pop("edit_refused", None)
        _reclaim(old, run_id, real_now, claimer, fp, post.path)
        old.source_hash = post.content_hash
        old.in_flight = old.in_flight_since = None
        old.reconcile_attempts = 0
        old.note("claimed", _("edit of the published post"), at=real_now)
        return old
    if action.kind == Kind.MISSED:
        entry = Entry(
            post.id,
            name,
            channel.platform,
            post.path,
            State.MISSED,
            content_hash=fp,
            source_hash=post.content_hash,
            run_id=run_id,
            reason=action.reason,
            scheduled_for=scheduled,
            publication=action.publication,
        )
        entry.note("missed", action.reason, at=real_now)
        return entry
    if old is not None and (old.parts or (old.state == State.DEFERRED and old.handles)):
        # Some parts of a thread are out, or nothing was sent (deferred): go on with the same
        # key and handles, after the parts already recorded.
        _reclaim(old, run_id, real_now, claimer, fp, post.path)
        # The next part is in flight from the claim on: the send starts without a write.
        old.in_flight, old.in_flight_since = len(old.parts), None
        old.note(
            "claimed",
            _("resuming after part {n}").format(n=len(old.parts)) if old.parts else _("again"),
            at=real_now,
        )
        return old
    generation = (
        old.generation + 1
        if old is not None and old.state == State.FAILED
        else (old.generation if old else 1)
    )
    # A re-post's keys are its own (a Bluesky record key, a Mastodon idempotency key):
    # reusing the first publication's would name, or replay, that one.
    seed = f"{post.id}|{name}|{generation}|{scheduled or ''}"
    if action.publication > 1:
        seed += f"|{action.publication}"
    key = hashlib.sha256(seed.encode()).hexdigest()[:32]
    entry = Entry(
        post.id,
        name,
        channel.platform,
        post.path,
        State.CLAIMED,
        content_hash=fp,
        source_hash=post.content_hash,
        generation=generation,
        key=key,
        run_id=run_id,
        claimed_at=real_now,
        leased_at=real_now,
        claimer=claimer.to_dict(),
        scheduled_for=scheduled,
        history=list(old.history) if old else [],
        in_flight=0,  # from the claim on (see `LedgerProgress.claimed`)
        publication=action.publication,
    )
    try:
        entry.handles = adapters.get(name).prepare(rendered, key)
    except MissingSecret:
        entry.handles = {}
    if scheduled:
        entry.handles.setdefault("date", scheduled)
    entry.note("claimed", action.repost, at=real_now)
    return entry


def _run_channel(
    channel: Channel,
    items: list[tuple[Action, Entry | None]],
    claim: Callable[[Action, bool], Entry],
    prep: Prepared,
    ledger: Ledger,
    adapters: _Adapters,
    redact: Redactor,
    clock: Clock,
    log: Callable[[str], None],
) -> list[PairResult]:
    """The pairs of one channel, in order. A pair without an entry is claimed here, right
    before it is sent (written first), or given back at once when the channel stopped."""
    results: list[PairResult] = []
    stop: str | None = None  # once a channel is rate limited or its credential refused
    stop_until: datetime | None = None
    for action, claimed in items:
        if action.kind == Kind.MISSED:  # recorded by its claim
            entry = claimed or claim(action, True)
            results.append(PairResult(action, State.MISSED, action.reason, entry))
            continue
        if stop is not None:
            entry = claimed or claim(action, False)
            _release(entry, action, ledger, stop, stop_until, clock)
            results.append(PairResult(action, Kind.WAIT, stop, entry))
            continue
        try:
            adapter = adapters.get(channel.name)
        except MissingSecret as exc:
            stop = str(exc)
            entry = claimed or claim(action, False)
            _release(entry, action, ledger, stop, None, clock)
            results.append(PairResult(action, Kind.SKIP, stop, entry))
            continue
        entry = claimed or claim(action, True)
        rendered = prep.rendered[(action.post.id, action.channel)]
        # A claim to publish says which part goes next (see `_claim`): its send starts with
        # no further write.
        progress = LedgerProgress(
            ledger, entry, last=len(rendered.parts) - 1, claimed=action.kind == Kind.PUBLISH
        )
        try:
            if "edit" in entry.handles:
                result = _send_edit(adapter, rendered, progress, action.kind == Kind.RECONCILE)
            else:
                result = _send(adapter, rendered, progress, action.kind == Kind.RECONCILE)
        except Exception as exc:  # an adapter bug must not lose the record
            result = Result(
                Outcome.UNKNOWN,
                # The type only: an exception's text may quote a request, secrets included.
                reason=_(
                    "internal error in the {platform} adapter ({error}): please report it"
                ).format(platform=channel.platform, error=type(exc).__name__),
            )
        record = _record_edit if "edit" in entry.handles else _record
        res = record(action, channel.spec, entry, result, progress, ledger, redact, clock)
        log(f"{res.status:<9} {action.channel:<10} {action.post.path}  {res.message}")
        results.append(res)
        if result.needs_reauth or result.outcome == Outcome.RETRY:
            stop = _("not tried: {channel} stopped earlier in this run ({why})").format(
                channel=channel.name, why=res.message
            )
            stop_until = parse_time(entry.not_before)
    return results


def _send(
    adapter: Adapter, rendered: Rendered, progress: LedgerProgress, reconcile: bool
) -> Result:
    total = len(rendered.parts)
    if reconcile:
        while len(progress.done) < total:
            r = adapter.reconcile(rendered, progress)
            if r.outcome == Outcome.PUBLISHED and r.parts:
                progress.part_done(len(progress.done), r.parts[0])
                continue
            if r.outcome == Outcome.ABSENT:
                break
            return Result(
                Outcome.UNKNOWN,
                progress.done,
                reason=r.reason or _("cannot tell whether it was published"),
                needs_reauth=r.needs_reauth,
            )
        if len(progress.done) >= total:
            return Result(Outcome.PUBLISHED, progress.done)
    return adapter.publish(rendered, progress)


def _send_edit(
    adapter: Adapter, rendered: Rendered, progress: LedgerProgress, reconcile: bool
) -> Result:
    """An edit, exactly once: an earlier attempt whose answer was lost is read back first."""
    if not isinstance(adapter, Editor):
        return Result(Outcome.FAILED, progress.done, reason=_("this platform cannot edit a post"))
    if reconcile:
        found = adapter.edited(rendered, progress)
        if found.outcome == Outcome.PUBLISHED:
            return found
        if found.outcome != Outcome.ABSENT:
            return Result(
                Outcome.UNKNOWN,
                progress.done,
                reason=found.reason or _("cannot tell whether the edit landed"),
                needs_reauth=found.needs_reauth,
            )
    progress.part_started(0)
    return adapter.edit(rendered, progress)


def _record_edit(
    action: Action,
    spec: PlatformSpec,
    entry: Entry,
    result: Result,
    progress: LedgerProgress,
    ledger: Ledger,
    redact: Redactor,
    clock: Clock,
) -> PairResult:
    """The outcome of an edit. The pair stays published whatever happens: a refused or
    postponed edit puts back the fingerprint of what is on the network, so the next run
    sees the difference again (a refused one is not retried until the post changes)."""
    edit = entry.handles.get("edit") or {}
    sent_before = str(edit.get("from") or "")
    reason = redact(result.reason)
    entry.in_flight = entry.in_flight_since = None
    updated = False
    state: State | Kind = State.PUBLISHED
    if result.outcome == Outcome.PUBLISHED:
        for i, part in enumerate(result.parts[: len(entry.parts)]):
            entry.parts[i] = PartResult(part.id, part.url or entry.parts[i].url, dict(part.extra))
        entry.state, entry.reason, entry.not_before = State.PUBLISHED, None, None
        entry.handles.pop("edit", None)
        updated = True
        message = _("updated {where}").format(where=entry.url or entry.remote_id or "").strip()
        entry.note("updated", at=clock.stamp())
    elif result.outcome == Outcome.UNKNOWN:
        give_up = _unknown(entry, action, reason or _("no answer from the platform"), True)
        state = entry.state
        message = _("edit outcome unknown ({reason}): the next run reads the post back").format(
            reason=entry.reason
        )
        if give_up:
            message = _(
                "edit outcome still unknown ({reason}): check the post, then {command}"
            ).format(
                reason=entry.reason,
                command=f"`cmflow resolve {_pair(entry)} --published {entry.url or 'URL'}`",
            )
        entry.note(entry.state, entry.reason, at=clock.stamp())
    else:
        new = entry.content_hash
        entry.state, entry.content_hash = State.PUBLISHED, sent_before
        _restore_source(entry, edit)
        entry.handles.pop("edit", None)
        entry.handles.pop("updated", None)
        # A refused credential says nothing about the edit: sent again once it is renewed.
        if result.outcome == Outcome.FAILED and not result.needs_reauth:
            entry.handles["edit_refused"] = {"fingerprint": new, "reason": reason}
            state = State.FAILED
            message = _("edit refused: {reason} (the published version stays)").format(
                reason=reason
            )
        else:
            state = Kind.WAIT
            message = _("edit not sent: {reason}: the next run sends it").format(
                reason=reason or _("try again")
            )
        entry.note(
            "edit " + ("refused" if state == State.FAILED else "deferred"), reason, at=clock.stamp()
        )
    ledger.write(entry)
    reauth = result.needs_reauth
    return PairResult(action, state, redact.text(message), entry, reauth, updated)


def _restore_source(entry: Entry, edit: Mapping[str, Any]) -> None:
    """Put back the source hash of the version on the network, as the claim noted it: else
    the next plan would take the unsent change for a mere change of rendering (same post,
    nothing to send) and never send the edit."""
    source = edit.get("source")
    if isinstance(source, str):
        entry.source_hash = source


def _unknown(entry: Entry, action: Action, reason: str, can_look: bool) -> bool:
    """Record an outcome that may have landed (a creation or an edit); True when a person
    must now decide: a platform that can look (Mastodon, Bluesky) is asked again by the next
    runs, three times; a webhook cannot look back at all."""
    entry.reason = reason
    reconciled = action.kind == Kind.RECONCILE
    if reconciled:
        entry.reconcile_attempts += 1
    give_up = reconciled and (not can_look or entry.reconcile_attempts >= MAX_RECONCILE)
    entry.state = State.NEEDS_HUMAN if give_up else State.UNKNOWN
    return give_up


def _reclaim(old: Entry, run_id: str, now: str, claimer: Claimer, fp: str, path: str) -> None:
    """Claim for this run a pair the record already holds: the lease, what is sent now."""
    old.state, old.run_id, old.claimed_at, old.leased_at = State.CLAIMED, run_id, now, now
    old.claimer = claimer.to_dict()
    old.content_hash, old.path, old.reason, old.not_before = fp, path, None, None


def _release(
    entry: Entry,
    action: Action,
    ledger: Ledger,
    reason: str,
    not_before: datetime | None,
    clock: Clock,
) -> None:
    """Give back a claim that was not attempted: nothing was sent for it in this run."""
    if action.kind == Kind.RECONCILE:
        return  # keep the earlier outcome to reconcile
    edit = entry.handles.pop("edit", None)
    if isinstance(edit, dict):
        # An edit not attempted: the published version is still what the network shows.
        entry.state, entry.content_hash = State.PUBLISHED, str(edit.get("from") or "")
        _restore_source(entry, edit)
        entry.handles.pop("updated", None)
        entry.note("released", reason, at=clock.stamp())
        ledger.write(entry)
        return
    entry.state = State.DEFERRED
    entry.reason = reason
    entry.not_before = stamp(not_before) if not_before else None
    entry.in_flight = entry.in_flight_since = None  # nothing was started
    entry.note("released", reason, at=clock.stamp())
    ledger.write(entry)


def _pair(entry: Entry) -> str:
    """How `cmflow resolve` names the entry's pair (and re-post, if one)."""
    again = f" --publication {entry.publication}" if entry.publication > 1 else ""
    return f"{entry.post} {entry.channel}{again}"


def _record(
    action: Action,
    spec: PlatformSpec,
    entry: Entry,
    result: Result,
    progress: LedgerProgress,
    ledger: Ledger,
    redact: Redactor,
    clock: Clock,
) -> PairResult:
    reason = redact(result.reason)
    for i, part in enumerate(result.parts):
        if i >= len(entry.parts):
            entry.parts.append(PartResult(part.id, part.url, dict(part.extra)))
    if result.outcome == Outcome.PUBLISHED and spec.can(Capability.REMINDS):
        # The reminder went out: the post itself waits for the person on duty.
        entry.state = State.WAITING
        entry.in_flight = entry.in_flight_since = entry.reason = entry.not_before = None
        message = _(
            "reminder sent: waiting for a person to post it, then {command} (or `--skipped`)"
        ).format(command=f"`cmflow resolve {_pair(entry)} --published URL`")
    elif result.outcome == Outcome.PUBLISHED:
        entry.state = State.PUBLISHED
        entry.published_at = clock.stamp()
        entry.in_flight = entry.in_flight_since = entry.reason = entry.not_before = None
        message = entry.url or entry.remote_id or _("published")
    elif result.outcome in (Outcome.UNKNOWN, Outcome.ABSENT):
        # May have landed: whatever else the platform said, never treat it as not sent.
        why = reason or _("no answer from the platform")
        if result.needs_reauth:
            why += " " + _("(and the credential was refused: renew it)")
        give_up = _unknown(entry, action, why, spec.reconcilable)
        message = (
            _(
                "outcome still unknown ({reason}): check the account, then {command} or "
                "`... --absent`"
            ).format(
                reason=entry.reason,
                command=f"`cmflow resolve {_pair(entry)} --published URL`",
            )
            if give_up
            else _("outcome unknown ({reason}): the next run checks before any resend").format(
                reason=entry.reason
            )
        )
    elif result.outcome == Outcome.FAILED and result.needs_reauth:
        entry.state = State.DEFERRED  # refused before anything was sent: goes again once renewed
        entry.reason = _("credential refused: renew it ({reason})").format(reason=reason)
        message = entry.reason
    elif result.outcome == Outcome.FAILED:
        entry.state = State.FAILED
        entry.reason = reason
        message = _("refused: {reason}").format(reason=reason)
    else:  # RETRY: definitely not sent
        entry.state = State.DEFERRED
        wait = result.retry_after or 0
        # The platform's wait is real time (a run --at the future simulates it passed).
        real = clock.now()
        entry.not_before = (
            stamp(max(clock.schedule_now, real) + timedelta(seconds=wait)) if wait else None
        )
        entry.reason = reason or _("not sent")
        message = _("deferred to a later run: {reason}").format(reason=entry.reason)
    entry.note(entry.state, entry.reason, at=clock.stamp())
    ledger.write(entry)
    reauth = result.needs_reauth and entry.state == State.DEFERRED
    return PairResult(action, entry.state, redact.text(message), entry, reauth)
