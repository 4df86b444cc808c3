"""Queue slots and cadence (Buffer-style): pure functions, time passed in.

A channel's `slots: ["Tue 09:00", "Thu 12:30", "Mon-Fri 18:00", "daily 08:00"]` are wall-clock
times in the brand's time zone. `next_free` walks them in order and returns the first one
after a moment that no post already takes. Across a DST change a slot keeps its wall-clock
time; a slot that does not exist that day (02:30 on the spring-forward night) moves to the
first minute that does, and one that happens twice (autumn) is the first of the two.
`cadence: 3/week` is a target rhythm the calendar compares each week against.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cmflow.i18n import _

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FR_DAYS = {"lun": 0, "mar": 1, "mer": 2, "jeu": 3, "ven": 4, "sam": 5, "dim": 6}
_SLOT = re.compile(r"^\s*(?P<days>[A-Za-zéû,\- ]+?)\s+(?P<h>\d{1,2})[:h](?P<m>\d{2})\s*$")
_CADENCE = re.compile(r"^\s*(?P<n>\d+)\s*/\s*(?P<unit>day|week|month|jour|semaine|mois)\s*$")
HORIZON_DAYS = 400  # how far ahead a free slot is looked for


@dataclass(frozen=True)
class Slot:
    weekdays: frozenset[int]  # 0 = Monday
    at: time

    def __str__(self) -> str:
        days = ",".join(DAYS[d].title() for d in sorted(self.weekdays))
        return f"{days} {self.at:%H:%M}"


@dataclass(frozen=True)
class Cadence:
    count: int
    unit: str  # day | week | month

    def __str__(self) -> str:
        return f"{self.count}/{self.unit}"


def _day(token: str) -> int:
    t = token.strip().lower()[:3]
    if t in DAYS:
        return DAYS.index(t)
    if t in _FR_DAYS:
        return _FR_DAYS[t]
    raise ValueError(
        _("unknown day {day}: use Mon, Tue, … Sun (or lun, mar, …)").format(day=repr(token.strip()))
    )


def parse_slot(text: str) -> Slot:
    """`Tue 09:00`, `Tue,Thu 12:30`, `Mon-Fri 18:00`, `daily 08:00`."""
    m = _SLOT.match(text)
    if not m:
        raise ValueError(
            _("slot {slot}: write a day and a time, e.g. 'Tue 09:00' or 'Mon-Fri 12:30'").format(
                slot=repr(text)
            )
        )
    hour, minute = int(m["h"]), int(m["m"])
    if hour > 23 or minute > 59:
        raise ValueError(
            _("slot {slot}: {time} is not a time of day").format(
                slot=repr(text), time=f"{hour:02d}:{minute:02d}"
            )
        )
    spec = m["days"].strip().lower()
    days: set[int] = set()
    if spec in ("daily", "every day", "tous les jours", "chaque jour"):
        days = set(range(7))
    else:
        for part in spec.split(","):
            if "-" in part:
                a, b = (_day(x) for x in part.split("-", 1))
                d = a
                while True:
                    days.add(d)
                    if d == b:
                        break
                    d = (d + 1) % 7
            else:
                days.add(_day(part))
    return Slot(frozenset(days), time(hour, minute))


def parse_cadence(text: str) -> Cadence:
    m = _CADENCE.match(str(text))
    if not m or int(m["n"]) < 1:
        raise ValueError(
            _("cadence {cadence}: write posts per period, e.g. 3/week, 1/day or 8/month").format(
                cadence=repr(text)
            )
        )
    unit = {"jour": "day", "semaine": "week", "mois": "month"}.get(m["unit"], m["unit"])
    return Cadence(int(m["n"]), unit)


def local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The aware moment of a wall-clock time: gaps move forward, overlaps take the first."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(UTC).astimezone(tz)
    while back.replace(tzinfo=None) != naive:  # in a gap: the first minute that exists after it
        naive += timedelta(minutes=1)
        aware = naive.replace(tzinfo=tz, fold=0)
        back = aware.astimezone(UTC).astimezone(tz)
    return aware


def times(slots: Iterable[Slot], tz: ZoneInfo, start: date, days: int) -> Iterator[datetime]:
    """Every slot moment from `start` (local day) for `days` days, in order, in UTC."""
    slots = sorted(set(slots), key=lambda s: s.at)
    for i in range(days):
        day = start + timedelta(days=i)
        seen: set[datetime] = set()
        for s in slots:
            if day.weekday() in s.weekdays:
                t = local(day, s.at, tz).astimezone(UTC)
                if t not in seen:
                    seen.add(t)
                    yield t


def next_free(
    slots: Iterable[Slot],
    tz: ZoneInfo,
    after: datetime,
    taken: Iterable[datetime] = (),
    *,
    horizon_days: int = HORIZON_DAYS,
) -> datetime | None:
    """The first slot strictly after `after` that no post takes (None: none within the
    horizon, or no slot at all)."""
    busy = {t.astimezone(UTC) for t in taken}
    start = after.astimezone(tz).date()
    for t in times(slots, tz, start, horizon_days):
        if t > after and t not in busy:
            return t
    return None


def period_start(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day
