"""What a publish run at time `now` does with every (post, channel): a pure function.

No clock, no I/O: posts, the record index, fingerprints, missing credentials and which
claims are still held by a live run are passed in, so `cmflow plan` shows exactly what
`cmflow publish` will do. `now` is the schedule's time (`--at`); `real_now` the real one,
for waits the platforms set (rate limits), which `--at` in the past must not stretch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cmflow.config import Config
from cmflow.ledger import Entry, Index, parse_time
from cmflow.model import Post, State

# How long a claim from a run cmflow cannot check (another machine, an older record) is
# taken as in progress, on the real clock; see cmflow.runlock.
DEFAULT_LEASE = timedelta(minutes=30)


class Kind(StrEnum):
    PUBLISH = "publish"
    RECONCILE = "reconcile"  # an earlier attempt may have landed: find out first
    DONE = "done"  # already published
    WAIT = "wait"  # not due yet, deferred by a rate limit, or in progress elsewhere
    SKIP = "skip"  # draft, no credentials, no adapter, disabled, failed
    INVALID = "invalid"  # due but has error findings: fails the run until fixed
    MISSED = "missed"  # later than the catch-up window: not sent
    BLOCKED = "blocked"  # needs a human decision
    WAITING = "waiting"  # reminded: a person posts it by hand, then `cmflow resolve`


@dataclass(frozen=True)
class Action:
    post: Post
    channel: str
    kind: Kind
    reason: str
    entry: Entry | None = None

    @property
    def acts(self) -> bool:
        """Whether the run does something for this pair (sends, reconciles or records)."""
        return self.kind in (Kind.PUBLISH, Kind.RECONCILE) or (
            self.kind == Kind.MISSED and (self.entry is None or self.entry.state != State.MISSED)
        )


def _ago(d: timedelta) -> str:
    s = int(d.total_seconds())
    if s < 3600:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


def plan(
    posts: list[Post],
    config: Config,
    index: Index,
    now: datetime,
    *,
    fingerprints: Mapping[tuple[str, str], str],
    invalid: Mapping[str, int],
    missing_secrets: Mapping[str, list[str]],
    publishable: Collection[str],
    channels: Collection[str] | None = None,
    held: Mapping[tuple[str, str], str] | None = None,
    real_now: datetime | None = None,
    missing_keys: Mapping[str, list[str]] | None = None,
) -> list[Action]:
    """One action per (post, channel), sorted by date then channel.

    `invalid`: post path -> number of error findings. `publishable`: platforms with an
    adapter. `channels`: only these channels (all when None). `held`: claimed entries (by
    the entry's own post id and channel) that a live run still holds -> why; any other
    claim is reconciled. `real_now`: the real time (default: `now`). `missing_keys`:
    channel -> connection keys channels.yaml does not set yet (the channel is skipped, like
    one whose credential is missing)."""
    held = held or {}
    real_now = now if real_now is None else real_now
    # A connection key not set yet is a missing credential of another kind: same skip.
    missing: dict[str, list[str]] = {name: list(v) for name, v in missing_secrets.items()}
    for name, keys in (missing_keys or {}).items():
        if keys:
            wanted = ", ".join(f"`{k}`" for k in keys)
            missing[name] = [
                f"{wanted} under channels.{name} in channels.yaml",
                *missing.get(name, []),
            ]
    actions: list[Action] = []
    for post in posts:
        for name in post.channels:
            if channels is not None and name not in channels:
                continue
            channel = config.channels[name]
            entry = index.find(post, name)
            fp = fingerprints.get((post.id, name), "")
            actions.append(
                _decide(
                    post,
                    name,
                    entry,
                    fp,
                    config,
                    now,
                    invalid,
                    missing,
                    publishable,
                    channel.enabled,
                    held,
                    real_now,
                    index,
                )
            )
    actions.sort(key=lambda a: (a.post.date or now, a.channel, a.post.path))
    return actions


def _decide(
    post: Post,
    name: str,
    entry: Entry | None,
    fp: str,
    config: Config,
    now: datetime,
    invalid: Mapping[str, int],
    missing: Mapping[str, list[str]],
    publishable: Collection[str],
    enabled: bool,
    held: Mapping[tuple[str, str], str],
    real_now: datetime,
    index: Index,
) -> Action:
    channel = config.channels[name]

    def act(kind: Kind, reason: str) -> Action:
        return Action(post, name, kind, reason, entry)

    problem = index.problem(post, name)
    if problem is not None:
        # Never act on a record nobody can read: it may say "published" (RELIABILITY §5.1).
        return act(
            Kind.BLOCKED,
            f"record unreadable: {problem}. Check the account, then run "
            f"`cmflow resolve {post.id} {name} --published URL` or `... --absent` "
            "(it rewrites the file)",
        )
    if entry is not None and entry.state == State.PUBLISHED:
        edited = (
            " (edited since: not resent)"
            if fp and entry.content_hash and fp != entry.content_hash
            else ""
        )
        where = entry.url or entry.remote_id or ""
        return act(Kind.DONE, f"published {entry.published_at or ''} {where}".strip() + edited)
    if entry is not None and entry.state == State.WAITING:
        return act(
            Kind.WAITING,
            f"reminder sent {entry.updated_at or ''}: waiting for a person to post it, then "
            f"`cmflow resolve {post.id} {name} --published URL` (or `--skipped`)",
        )
    if entry is not None and entry.state == State.SKIPPED:
        return act(Kind.SKIP, f"not posted, by choice ({entry.updated_at or 'resolved by hand'})")
    if entry is not None and entry.state == State.NEEDS_HUMAN:
        return act(
            Kind.BLOCKED,
            f"needs a human: {entry.reason or 'outcome unknown'}. Check the account, then run "
            f"`cmflow resolve {post.id} {name} --published URL` or `... --absent`",
        )
    if post.field("status", name) == "draft" or post.status == "draft":
        return act(Kind.SKIP, "draft")
    if not enabled:
        return act(Kind.SKIP, "channel disabled (enabled: false)")
    if entry is not None and entry.state in (State.CLAIMED, State.UNKNOWN):
        holder = held.get((entry.post, entry.channel)) if entry.state == State.CLAIMED else None
        if holder is not None:
            return act(
                Kind.WAIT,
                f"{holder}, run {entry.run_id} since {entry.leased_at or entry.claimed_at}",
            )
        if fp and entry.content_hash and fp != entry.content_hash:
            # Reconciling would look for the new text and miss the old one (RELIABILITY T9).
            return act(
                Kind.BLOCKED,
                "edited while the outcome of the last attempt is unknown: check the account, "
                f"then `cmflow resolve {post.id} {name} --published URL` or `... --absent`",
            )
        if missing.get(name):
            return act(
                Kind.SKIP,
                f"outcome to reconcile, but credentials are missing: set {', '.join(missing[name])}",
            )
        what = (
            "an earlier run stopped while sending it"
            if entry.state == State.CLAIMED
            else "the last attempt's outcome is unknown"
        )
        return act(Kind.RECONCILE, f"{what}: checking whether it landed before any resend")
    errors = invalid.get(post.path, 0)
    if errors or post.date is None:
        n = errors or 1
        what = f"invalid: {n} error{'s' if n > 1 else ''} (run cmflow validate {post.path})"
        if post.date is not None and post.date > now:
            return act(Kind.SKIP, f"{what}, due in {_ago(post.date - now)}")
        return act(Kind.INVALID, what)
    if post.date > now:
        return act(Kind.WAIT, f"not due: scheduled in {_ago(post.date - now)}")
    if channel.platform not in publishable:
        return act(Kind.SKIP, f"cmflow cannot publish to {channel.spec.label} yet (validated only)")
    if entry is not None and entry.state == State.FAILED and (not fp or fp == entry.content_hash):
        return act(
            Kind.SKIP,
            f"failed: {entry.reason or 'refused by the platform'} — fix the post and it goes again",
        )
    if (
        entry is not None
        and entry.state == State.MISSED
        and entry.scheduled_for == post.date.isoformat()
    ):
        return act(Kind.MISSED, entry.reason or "missed")
    not_before = parse_time(entry.not_before) if entry is not None else None
    # A platform's wait runs on the real clock; a run --at the future simulates it passed.
    if not_before is not None and not_before > max(now, real_now):
        return act(Kind.WAIT, f"rate limited until {entry.not_before if entry else ''}")
    if missing.get(name):
        return act(Kind.SKIP, f"missing credentials: set {', '.join(missing[name])}")
    late = now - post.date
    catch_up = config.catch_up_for(channel)
    if late > catch_up:
        return act(
            Kind.MISSED,
            f"due {_ago(late)} ago, beyond the {_ago(catch_up)} catch-up window: "
            "not sent (change its date to send it)",
        )
    return act(Kind.PUBLISH, f"due {_ago(late)} ago" if late >= timedelta(minutes=1) else "due now")
