"""What a platform that publishes supplies: an `Adapter` (its `PlatformSpec` is in `spec`).

Publishing contract (docs/publishing.md says it for users): the publisher records an intent
(a *claim*) before any call, including the handles `Adapter.prepare` chooses (e.g. Bluesky
record keys, Mastodon idempotency keys); the adapter then sends the parts of the post in
order, reporting each part's remote id through `Progress.part_done` the moment the platform
answers, so that a crash mid-thread resumes after the last recorded part. Every outcome is
sorted into published / failed (definite) / retry (definitely not sent, safe later) /
unknown (may have landed: reconcile before any resend).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cmflow import platforms
from cmflow.platforms.spec import Capability, PlatformSpec

if TYPE_CHECKING:
    from cmflow.config import Channel
    from cmflow.http import Http
    from cmflow.model import Rendered


class Outcome(StrEnum):
    PUBLISHED = "published"
    FAILED = "failed"  # the platform definitely refused: fix the post and it goes again
    RETRY = "retry"  # definitely not published (rate limited, unreachable): next run
    UNKNOWN = "unknown"  # may have landed: reconcile before any resend
    ABSENT = "absent"  # reconciliation proved the attempt did not land


@dataclass
class PartResult:
    id: str
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. Bluesky cid for reply refs


@dataclass
class Result:
    outcome: Outcome
    parts: list[PartResult] = field(default_factory=list)
    reason: str | None = None  # for humans; must never contain a secret
    retry_after: float | None = None  # seconds, when the platform said when to come back
    needs_reauth: bool = False  # the credential was refused (401/403/404 webhook)

    @property
    def remote_id(self) -> str | None:
        return self.parts[0].id if self.parts else None

    @property
    def url(self) -> str | None:
        return self.parts[0].url if self.parts else None


class Progress(Protocol):
    """The publisher's side of one (post, channel) attempt, backed by the record."""

    @property
    def handles(self) -> Mapping[str, Any]:
        """What `Adapter.prepare` chose for this attempt, as recorded in the claim."""

    @property
    def done(self) -> list[PartResult]:
        """Parts already published (recorded), in order: resume after them."""

    @property
    def started_at(self) -> datetime | None:
        """When the part in flight (index `len(done)`) was started, if it was."""

    def part_started(self, index: int) -> None:
        """Record that part `index` is about to be sent (its outcome is unknown until done)."""

    def part_done(self, index: int, result: PartResult) -> None:
        """Record part `index` as published, atomically, before the next part is sent."""

    def part_handle(self, index: int, name: str, value: Any) -> None:
        """Record, before part `index` is published, a handle the platform gave for it (a
        Meta container id), in `handles["part_handles"][str(index)][name]`: a rerun then
        resumes that container instead of creating a second one."""

    def keep(self, **handles: Any) -> None:
        """Record handles learned while sending (a YouTube upload session, a TikTok
        publish id), atomically, before the next call: a run killed after this resumes from
        them instead of starting over. A value of None removes the handle."""


@dataclass
class Context:
    """What an adapter may use: its channel, the repository root, the run's HTTP client."""

    channel: Channel
    root: Path
    http: Http
    secrets: Mapping[str, str]  # key (e.g. "token_env") -> value read from the environment
    # Every channel of the configuration, by name: an adapter may rely on another one (Meta
    # fetches images from the site a feed channel publishes).
    channels: Mapping[str, Channel] = field(default_factory=dict)
    data_dir: str = "data"  # where the record lives (YouTube sums its daily quota there)
    # The adapter of another channel of the brand, by name (a reminder goes out through its
    # `notify` channel); raises MissingSecret when that channel's credential is not set.
    # Call it when publishing, not while being built.
    peer: Callable[[str], Adapter] | None = None


class Adapter(Protocol):
    """A platform that can publish. One instance per channel per run, built from a `Context`."""

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """Handles chosen before any call and recorded in the claim (record keys, idempotency
        keys), derived from `key`, which is stable for this (post, channel, generation)."""

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        """Send the parts not in `progress.done`, in order; never raise for platform errors."""

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        """Find out whether the part started but not recorded landed.

        PUBLISHED (with that part's result) when found, ABSENT when proven absent (safe to
        send again), UNKNOWN when it cannot tell (a human must check)."""


@runtime_checkable
class Editor(Protocol):
    """An adapter whose platform can change a published post in place (Mastodon `PUT
    /api/v1/statuses/:id`, LinkedIn's partial update of `commentary`, a Facebook Page post
    edit, the feed's own pages). Its `PlatformSpec` declares `Capability.EDITS`.

    The publisher sends an edit exactly once, like a creation: it claims the pair (the
    handles hold `edit: {"from": <fingerprint sent before>}` and `updated`, the time of the
    edit), calls `edit`, and records the outcome; an unknown outcome is settled with
    `edited` before anything is sent again. `progress.done` holds the published parts, in
    order: their ids are what to edit."""

    def edit(self, rendered: Rendered, progress: Progress) -> Result:
        """Make the published post show `rendered`. PUBLISHED (with the parts, ids unchanged)
        when the platform took the change; FAILED when it refused it (the published version
        stays, e.g. a thread whose number of parts changed); RETRY when nothing was sent;
        UNKNOWN when the answer was lost."""

    def edited(self, rendered: Rendered, progress: Progress) -> Result:
        """Read the post back: PUBLISHED when it already shows `rendered`, ABSENT when it
        still shows something else (sending the edit again is safe), UNKNOWN when it cannot
        tell."""


def adapter_for(ctx: Context) -> Adapter:
    """The adapter of `ctx.channel`'s platform (KeyError when cmflow cannot publish there)."""
    adapter: Adapter = platforms.adapter_class(ctx.channel.platform)(ctx)
    return adapter


__all__ = [
    "Adapter",
    "Capability",
    "Context",
    "Editor",
    "Outcome",
    "PartResult",
    "PlatformSpec",
    "Progress",
    "Result",
    "adapter_for",
]
