"""`cmflow metrics collect`: snapshot the engagement of published posts, the accounts'
followers, competitors and site traffic into data/metrics/, on the age schedule.

One clock: `now` is passed in. The publish record is read through `cmflow.ledger` only.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmflow import ledger
from cmflow.i18n import _
from cmflow.metrics import schedule, settings, store
from cmflow.metrics.base import (
    OK,
    REFUSED,
    AccountStats,
    Fetched,
    ReaderContext,
    Target,
)
from cmflow.metrics.registry import READERS, no_metrics, reader_for

if TYPE_CHECKING:
    from cmflow.config import Config


@dataclass
class ChannelRun:
    """What happened on one channel."""

    channel: str
    platform: str
    due: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # status -> pairs
    followers: int | None = None
    skipped: str | None = None  # why nothing was asked
    notes: list[str] = field(default_factory=list)
    # What fails the run, told apart from the words shown (those are in the brand's language).
    missing: list[str] = field(default_factory=list)  # credential variables not set
    account_refused: bool = False  # the account's figures were refused (a credential)

    @property
    def refused(self) -> bool:
        return self.counts.get(REFUSED, 0) > 0 or self.account_refused


@dataclass
class CollectReport:
    now: datetime
    channels: list[ChannelRun] = field(default_factory=list)
    extras: list[ChannelRun] = field(default_factory=list)  # site traffic, competitors
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unreadable record / metrics files
    pushed: bool = False

    @property
    def ok(self) -> bool:
        return not any(r.refused or r.missing for r in (*self.channels, *self.extras))


@dataclass
class Pending:
    """Rows written this run, by kind: re-applied when a push meets the remote's rows."""

    rows: dict[str, list[store.Row]] = field(default_factory=dict)

    def add(self, kind: str, rows: Iterable[store.Row]) -> None:
        self.rows.setdefault(kind, []).extend(rows)


def _published_state() -> str:
    """The record's value for "published", whatever the ledger calls its state constants."""
    from cmflow import model

    enum = getattr(model, "State", None)
    value = getattr(enum, "PUBLISHED", None) or getattr(ledger, "PUBLISHED", "published")
    return str(getattr(value, "value", value))


def published_pairs(cfg: Config, problems: list[str]) -> list[Any]:
    """Record entries of published pairs with a remote id and a publishing time (first
    publications: a pair's snapshots are keyed by post and channel)."""
    book = ledger.Ledger(cfg.root, cfg.data_dir)
    scan = getattr(book, "scan", None)
    if scan is not None:
        found = scan()
        entries = list(found.entries)
        problems.extend(str(p) for p in found.problems)
    else:
        try:
            entries = book.all()
        except ledger.RecordError as exc:
            problems.append(str(exc))
            entries = []
    published = _published_state()
    out = []
    for e in entries:
        state = str(getattr(e.state, "value", e.state))
        if getattr(e, "publication", 1) > 1:
            continue  # an evergreen re-post: metrics follow a post's first publication
        if state == published and e.parts and ledger.parse_time(e.published_at):
            out.append(e)
    return out


def targets_due(
    entries: Sequence[Any],
    cfg: Config,
    points: Sequence[settings.Point],
    captured: dict[tuple[str, str], set[str]],
    now: datetime,
) -> dict[str, list[Target]]:
    out: dict[str, list[Target]] = {}
    for e in entries:
        published = ledger.parse_time(e.published_at)
        assert published is not None
        if published.tzinfo is None:
            published = published.replace(tzinfo=now.tzinfo)
        point = schedule.due(published, now, points, captured.get((e.channel, e.post), set()))
        if point is None:
            continue
        ids = tuple(str(p.id) for p in e.parts if getattr(p, "id", None))
        if not ids:
            continue
        out.setdefault(e.channel, []).append(
            Target(e.post, e.channel, e.platform, ids, e.parts[0].url, published, point.label)
        )
    return out


def collect(
    cfg: Config,
    now: datetime,
    *,
    commit: bool = False,
    remote: str = "origin",
    budget: float = 600.0,
    env: dict[str, str] | None = None,
) -> CollectReport:
    import os

    from cmflow.http import Http

    env = dict(os.environ) if env is None else env
    conf = settings.load(cfg)
    report = CollectReport(now)
    repo = None
    if commit:
        from cmflow import gitops

        repo = gitops.RecordRepo(cfg.root, remote)
        repo.sync()
    st = store.Store(cfg.root, cfg.data_dir)
    entries = published_pairs(cfg, report.problems)
    since = now - schedule.horizon(conf.schedule)
    captured: dict[tuple[str, str], set[str]] = {}
    for row in st.rows("posts", since):
        if row["status"] in schedule.CAPTURING:
            captured.setdefault((row["channel"], row["post"]), set()).add(row["age"])
    # Followers are read once a day: the brand's day, in its time zone.
    midnight = now.astimezone(cfg.timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    today = {
        (r["kind"], r["name"], r["platform"])
        for r in st.rows("accounts", midnight)
        if r["status"] == OK
    }
    due = targets_due(entries, cfg, conf.schedule, captured, now)
    pending = Pending()
    with Http(budget=budget) as http:
        jobs: list[Callable[[], None]] = []
        lock = threading.Lock()
        for name, channel in cfg.channels.items():
            run = ChannelRun(name, channel.platform)
            report.channels.append(run)
            targets = due.get(name, [])
            run.due = len(targets)
            if channel.platform not in READERS:
                reason = no_metrics(channel.platform) or _("cmflow has no reader for it yet")
                run.skipped = _("no metrics: {reason}").format(reason=reason)
                continue
            module = importlib.import_module(READERS[channel.platform])
            needed = [
                str(channel.settings[k])
                for k in getattr(module, "SECRETS", ())
                if k in channel.settings
            ]
            missing = [n for n in needed if not env.get(n, "").strip()]
            if missing:
                run.missing = missing
                run.skipped = _("needs credentials: set {variables}").format(
                    variables=", ".join(missing)
                )
                continue
            account_due = ("brand", name, channel.platform) not in today
            if not targets and not account_due:
                run.skipped = _("nothing due")
                continue
            ctx = ReaderContext(channel, http, channel.secrets(env), conf)
            jobs.append(_channel_job(ctx, run, targets, account_due, now, pending, lock))
        if conf.competitors:
            from cmflow.metrics import competitors as comp_mod

            jobs.append(
                lambda: comp_mod.collect(
                    conf, http, st, now, midnight, pending, report.extras, lock
                )
            )
        if conf.analytics is not None:
            from cmflow.metrics import analytics as ga_mod

            jobs.append(
                lambda: ga_mod.collect(conf, cfg, http, st, now, env, pending, report.extras, lock)
            )
        _run_all(jobs)
    for kind in ("posts", "accounts", "competitors", "site"):
        if pending.rows.get(kind):
            report.files.extend(st.append(kind, pending.rows[kind]))
    report.problems.extend(str(p) for p in st.problems)
    if repo is not None and report.files:
        attrs = st.dir / ".gitattributes"
        files = [*report.files, st.rel(attrs)] if attrs.exists() else report.files
        repo.commit_and_push(
            files,
            f"cmflow: metrics snapshots {store.stamp(now)}",
            lambda clashes: _reapply(st, pending, clashes),
        )
        report.pushed = True
    return report


def _channel_job(
    ctx: ReaderContext,
    run: ChannelRun,
    targets: list[Target],
    account_due: bool,
    now: datetime,
    pending: Pending,
    lock: threading.Lock,
) -> Callable[[], None]:
    def job() -> None:
        reader = reader_for(ctx)
        # The account's followers are read beside the posts, not after them.
        got: list[AccountStats] = []
        side = threading.Thread(target=lambda: got.append(reader.account()), daemon=True)
        if account_due:
            side.start()
        results: list[Fetched] = reader.posts(targets) if targets else []
        if account_due:
            side.join()
        stats = got[0] if got else None
        stamp = store.stamp(now)
        rows = [post_row(stamp, f) for f in results]
        with lock:
            for f in results:
                run.counts[f.status] = run.counts.get(f.status, 0) + 1
            notes = {f.note for f in results if f.status != OK and f.note}
            run.notes.extend(sorted(notes)[:3])
            # Deferred pairs were not asked: no row, the next run asks.
            pending.add("posts", [r for r in rows if r["status"] != "deferred"])
            if stats is not None:
                run.followers = stats.followers
                run.account_refused = stats.status == REFUSED
                if stats.status != OK and stats.note:
                    run.notes.append(_("account: {note}").format(note=stats.note))
                if stats.status != "deferred":
                    pending.add(
                        "accounts",
                        [
                            account_row(
                                stamp, "brand", ctx.channel.name, ctx.channel.platform, stats
                            )
                        ],
                    )

    return job


def _run_all(jobs: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def wrap(job: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                job()
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(j), daemon=True) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def post_row(stamp: str, f: Fetched) -> store.Row:
    t = f.target
    row = {
        "collected_at": stamp,
        "channel": t.channel,
        "platform": t.platform,
        "post": t.post,
        "remote_id": t.remote_ids[0],
        "url": t.url or "",
        "published_at": store.stamp(t.published_at),
        "age": t.age,
        "status": f.status,
        "note": f.note if f.status != OK else ("thread" if len(t.remote_ids) > 1 else ""),
    }
    for key in store.COUNTS:
        value = f.counts.get(key) if f.status == OK else None
        row[key] = "" if value is None else str(value)
    return row


def account_row(stamp: str, kind: str, name: str, platform: str, s: AccountStats) -> store.Row:
    def cell(v: int | None) -> str:
        return "" if v is None or s.status != OK else str(v)

    return {
        "collected_at": stamp,
        "kind": kind,
        "name": name,
        "platform": platform,
        "account": s.account,
        "status": s.status,
        "followers": cell(s.followers),
        "following": cell(s.following),
        "posts": cell(s.posts),
        "note": s.note,
    }


def _reapply(st: store.Store, pending: Pending, clashes: set[str]) -> list[str]:
    """The remote also added rows to these month files: ours go on top of theirs."""
    for rel in clashes:
        path = Path(rel)
        kind, month = path.parent.name, path.stem
        rows = [r for r in pending.rows.get(kind, []) if r["collected_at"][:7] == month]
        present = {tuple(r.values()) for r in st.rows(kind)} if rows else set()
        fresh = [r for r in rows if tuple(r.get(c, "") for c in store.KINDS[kind]) not in present]
        if fresh:
            st.append(kind, fresh)
    return sorted(clashes)
