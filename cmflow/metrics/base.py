"""What a platform's metrics reader supplies, and the plain data it returns.

A reader is built once per channel per run from a `ReaderContext` and answers two
questions: the counts of some of the channel's published posts (`posts`, batched as the
API allows), and the account's followers (`account`). It never raises for a platform's
answer: every target comes back as a `Fetched` whose `status` says what happened, so one
refused request never hides the others' results. Adding a platform's metrics is one module
with a `Reader` class and one line in `cmflow.metrics.registry.READERS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cmflow.config import Channel
    from cmflow.http import Http
    from cmflow.metrics.settings import Settings

# Fetch outcomes, as written in the `status` column.
OK = "ok"
FAILED = "failed"  # an error answer or no answer: tried again next run
MISSING = "missing"  # the platform does not know the post (deleted, or not indexed yet)
DELETED = "deleted"  # the platform says it is gone for good: never asked again
REFUSED = "refused"  # the credential was refused: the channel needs a new one
DEFERRED = "deferred"  # rate limited: not asked, next run


@dataclass(frozen=True)
class Target:
    """One published (post, channel) pair to read: `remote_ids` are its parts (a thread has
    several; their counts are summed)."""

    post: str
    channel: str
    platform: str
    remote_ids: tuple[str, ...]
    url: str | None
    published_at: datetime
    age: str  # the schedule point this snapshot is for


@dataclass
class Fetched:
    target: Target
    status: str
    counts: dict[str, int | None] = field(default_factory=dict)
    note: str = ""


@dataclass
class AccountStats:
    status: str
    account: str = ""
    followers: int | None = None
    following: int | None = None
    posts: int | None = None
    note: str = ""


@dataclass
class ReaderContext:
    channel: Channel
    http: Http
    secrets: Mapping[str, str]  # key (e.g. "token_env") -> value read from the environment
    settings: Settings


class Reader(Protocol):
    """A platform's metrics, for one channel."""

    def posts(self, targets: Sequence[Target]) -> list[Fetched]:
        """One `Fetched` per target, in any order; batched and concurrent within the
        platform's rate limits."""

    def account(self) -> AccountStats:
        """The account's followers (and following/posts where given)."""


class CredentialRefused(Exception):
    """Raised inside a reader when the platform refuses the credential (401): the channel
    needs a new one; the message names the variable."""


def sum_counts(parts: Sequence[Mapping[str, int | None]]) -> dict[str, int | None]:
    """Counts of a thread: each figure summed over its parts; None where no part has it."""
    out: dict[str, int | None] = {}
    for counts in parts:
        for key, value in counts.items():
            if value is None:
                out.setdefault(key, None)
            else:
                out[key] = (out.get(key) or 0) + value
    return out


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float):
        return int(value)
    return None
