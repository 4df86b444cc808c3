"""What a publish run at time `now` does with every (post, channel): a pure function.

No clock, no I/O: posts, the record index, fingerprints and missing credentials are passed
in, so `cmflow plan` shows exactly what `cmflow publish` will do.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cmflow.config import Config
from cmflow.ledger import (
    CLAIMED,
    FAILED,
    MISSED,
    NEEDS_HUMAN,
    PUBLISHED,
    UNKNOWN,
    Entry,
    Index,
    parse_time,
)
from cmflow.model import Post

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
            self.kind == Kind.MISSED and (self.entry is None or self.entry.state != MISSED)
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
    lease: timedelta = DEFAULT_LEASE,
) -> list[Action]:
    """One action per (post, channel), sorted by date then channel.

    `invalid`: post path -> number of error findings. `publishable`: platforms with an
    adapter. `channels`: only these channels (all when None)."""
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
                    missing_secrets,
                    publishable,
                    channel.enabled,
                    lease,
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
    lease: timedelta,
) -> Action:
    channel = config.channels[name]

    def act(kind: Kind, reason: str) -> Action:
        return Action(post, name, kind, reason, entry)

    if entry is not None and entry.state == PUBLISHED:
        edited = (
            " (edited since: not resent)"
            if fp and entry.content_hash and fp != entry.content_hash
            else ""
        )
        where = entry.url or entry.remote_id or ""
        return act(Kind.DONE, f"published {entry.published_at or ''} {where}".strip() + edited)
    if entry is not None and entry.state == NEEDS_HUMAN:
        return act(
            Kind.BLOCKED,
            f"needs a human: {entry.reason or 'outcome unknown'}. Check the account, then run "
            f"`cmflow resolve {post.id} {name} --published URL` or `... --absent`",
        )
    if post.field("status", name) == "draft" or post.status == "draft":
        return act(Kind.SKIP, "draft")
    if not enabled:
        return act(Kind.SKIP, "channel disabled (enabled: false)")
    if entry is not None and entry.state in (CLAIMED, UNKNOWN):
        since = parse_time(entry.leased_at or entry.claimed_at)
        if entry.state == CLAIMED and since is not None and now - since < lease:
            return act(
                Kind.WAIT,
                f"in progress in run {entry.run_id} since {entry.leased_at or entry.claimed_at}",
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
            if entry.state == CLAIMED
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
    if entry is not None and entry.state == FAILED and (not fp or fp == entry.content_hash):
        return act(
            Kind.SKIP,
            f"failed: {entry.reason or 'refused by the platform'} — fix the post and it goes again",
        )
    if entry is not None and entry.state == MISSED and entry.scheduled_for == post.date.isoformat():
        return act(Kind.MISSED, entry.reason or "missed")
    not_before = parse_time(entry.not_before) if entry is not None else None
    if not_before is not None and not_before > now:
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
