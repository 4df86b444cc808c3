"""When a published post is due for a snapshot: pure functions of its publishing time, the
schedule, what is already captured and `now` (no clock is read here).

Each point of the schedule (say 1h, 24h, 7d, 30d) is open from its age until the next point's
age (the last one until twice its age). A run takes the latest open point: a run that comes
late (GitHub's cron can be hours late) snapshots the 24h point and skips the 1h one, rather
than writing a "1h" figure measured a day later. A point is captured by an `ok` row (or a
`deleted` one); a failed fetch captures nothing, so the next run tries again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from cmflow.metrics.settings import Point

CAPTURING = frozenset({"ok", "deleted"})


def open_point(published: datetime, now: datetime, schedule: Sequence[Point]) -> Point | None:
    """The schedule point whose window holds `now`, if any."""
    age = now - published
    for i in range(len(schedule) - 1, -1, -1):
        point = schedule[i]
        end = schedule[i + 1].age if i + 1 < len(schedule) else point.age * 2
        if point.age <= age < end:
            return point
        if age >= point.age:
            return None  # past this point's window, and later points are not open yet
    return None


def due(
    published: datetime, now: datetime, schedule: Sequence[Point], captured: Collection[str]
) -> Point | None:
    """The point to snapshot now, None when nothing is due (not yet, already done, or over)."""
    point = open_point(published, now, schedule)
    if point is None or point.label in captured:
        return None
    return point


def horizon(schedule: Sequence[Point]) -> timedelta:
    """How far back a post can still be due: snapshots older than this are never consulted."""
    return schedule[-1].age * 2 if schedule else timedelta(0)


def same_day(a: datetime, b: datetime) -> bool:
    return a.date() == b.date()
