"""The one clock of a run: the schedule's time (`--at`, or now) and the real time.

`--at` moves the schedule only: which posts are due, how late they are. Everything that
measures real elapsed time (claim leases, rate-limit waits, idempotency-key ages) and every
time stamp written in the record read the real clock, through this object, so that a run
`--at` the past neither stamps the record in the past nor waits for a lease for ever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(when: datetime) -> str:
    """`2026-11-21T21:40:00Z`: how the record writes a time (UTC, to the second)."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Clock:
    schedule_now: datetime  # aware: `--at`, or the real time when the run started
    real: Callable[[], datetime] = field(default=_utc_now, compare=False)

    @classmethod
    def at(cls, when: datetime | None = None) -> Clock:
        """The clock of a run `--at WHEN` (None: now)."""
        return cls(when if when is not None else _utc_now())

    def now(self) -> datetime:
        """The real time, now (aware, UTC)."""
        return self.real()

    def stamp(self) -> str:
        """The real time, now, as the record writes it."""
        return stamp(self.real())
