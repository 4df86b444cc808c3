"""Dates, durations and posting windows: pure parsing, no clock reads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import NoReturn

from cmflow.i18n import _

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FRENCH_DAYS = {"lun": 0, "mar": 1, "mer": 2, "jeu": 3, "ven": 4, "sam": 5, "dim": 6}
_LOCAL = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
# The same with an offset or Z after it (`2026-11-24T09:30:00+01:00`): its fields, to say
# which one is out of range when the date does not exist.
_ZONED = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$"
)


MAX_DURATION = timedelta(days=3650)  # ten years: anything longer is a typo


def parse_duration(value: object, maximum: timedelta = MAX_DURATION) -> timedelta:
    """`48h`, `90m`, `2d`, `1w`, `30s`, or a number of seconds; between 0 and `maximum`."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if seconds is None:
        raise ValueError(
            _("expected a duration like 48h, 90m or 2d, got {value}").format(value=_short(value))
        )
    # Also refuses NaN and infinity (`.nan`, `.inf`, `1e999`), which timedelta cannot hold.
    if not 0 <= seconds <= maximum.total_seconds():
        raise ValueError(
            _("{value} is out of range: write a duration between 0 and {maximum}").format(
                value=_short(value), maximum=format_duration(maximum)
            )
        )
    return timedelta(seconds=seconds)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def format_duration(d: timedelta) -> str:
    s = int(d.total_seconds())
    if s == 0:
        return "0s"
    if s % 86400 == 0:
        return f"{s // 86400}d"
    if s % 3600 == 0:
        return f"{s // 3600}h"
    if s % 60 == 0:
        return f"{s // 60}m"
    return f"{s}s"


def shown(dt: datetime, tz: tzinfo) -> str:
    """A moment as people read it: in the brand's zone, labelled (`2026-11-24 09:30 CET`)."""
    return f"{dt.astimezone(tz):%Y-%m-%d %H:%M %Z}"


def shown_iso(value: str | None, tz: tzinfo) -> str:
    """`shown` for a recorded ISO time (the record keeps UTC); the text as is if unparsable."""
    if not value:
        return ""
    try:
        return shown(datetime.fromisoformat(value.replace("Z", "+00:00")), tz)
    except ValueError:
        return value


class DateProblem(ValueError):
    """A date that cannot be placed on the timeline (unparsable, DST gap or overlap)."""


def resolve_local(naive: datetime, tz: tzinfo) -> datetime:
    """Attach `tz` to a naive wall time, refusing times a DST change skips or repeats."""
    early = naive.replace(tzinfo=tz, fold=0)
    late = naive.replace(tzinfo=tz, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early
    _refuse(naive, early, late, tz)


def _local(naive: datetime, fields: tuple[int, int, int, int, int, int], tz: tzinfo) -> datetime:
    """`resolve_local(naive, tz)` for the `naive` built from `fields` (year to second),
    without its two `replace` calls (the slow part of a post's date): a zone's `utcoffset`
    reads only the wall time and its fold, which is what `aware.utcoffset()` asks it."""
    late = datetime(*fields, fold=1)
    if tz.utcoffset(naive) == tz.utcoffset(late):
        return datetime(*fields, 0, tz)
    return resolve_local(naive, tz)


def _minute(text: str, tz: tzinfo) -> datetime | None:
    """`YYYY-MM-DD HH:MM` placed in `tz` (what `_LOCAL` and `_local` make of it), read by
    `datetime.fromisoformat` in C; None for any other text of that length, and for a date
    that does not exist: the longer way says why."""
    if text[4] != "-" or text[7] != "-" or text[13] != ":":
        return None
    try:  # with the separators in place, it takes only ASCII digits around them
        naive = datetime.fromisoformat(text)
    except ValueError:
        return None
    fields = (naive.year, naive.month, naive.day, naive.hour, naive.minute, 0)
    return _local(naive, fields, tz)


def _refuse(naive: datetime, early: datetime, late: datetime, tz: tzinfo) -> NoReturn:
    """Why a wall time with two offsets cannot be placed: skipped, or repeated."""
    back = early.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    when = naive.strftime("%Y-%m-%d %H:%M")
    if back != naive:
        raise DateProblem(
            _(
                "{time} does not exist in {zone} (clocks go forward): "
                "pick another time or write an explicit offset such as +02:00"
            ).format(time=when, zone=tz)
        )
    e, la = early.strftime("%z"), late.strftime("%z")
    raise DateProblem(
        _(
            "{time} happens twice in {zone} (clocks go back): write the offset, {one} or {other}"
        ).format(time=when, zone=tz, one=f"{when}{e[:3]}:{e[3:]}", other=f"{when}{la[:3]}:{la[3:]}")
    )


_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def slot_request(value: object) -> str | None:
    """What a post's `date` asks of the queue: "next" (`date: next`), a day as YYYY-MM-DD
    (`date: 2026-12-08`, no time), or None for a time (or anything else: not a request)."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lower() == "next":
        return "next"
    m = _DAY.match(text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return None  # 2026-02-30: parse_datetime says why


def _why_invalid(year: int, month: int, day: int, hour: int, minute: int, second: int) -> str:
    """What is wrong in fields `datetime` refuses, in the brand's language (Python's own
    words are English)."""
    if not 1 <= year <= 9999:
        return _("the year must be between 1 and 9999")
    if not 1 <= month <= 12:
        return _("the month is {month}: it runs from 1 to 12").format(month=month)
    if not 0 <= hour <= 23:
        return _("the hour is {hour}: it runs from 0 to 23").format(hour=hour)
    if not 0 <= minute <= 59 or not 0 <= second <= 59:
        return _("minutes and seconds run from 0 to 59")
    import calendar

    days = calendar.monthrange(year, month)[1]
    if day < 1:
        return _("day {day}: days run from 1").format(day=day)
    return _("day {day}: that month has {days} days").format(day=day, days=days)


def parse_datetime(value: object, tz: tzinfo) -> datetime:
    """A post date as YAML hands it over (string, date or datetime), made timezone-aware.

    Naive times are wall times in `tz`; an explicit offset or `Z` wins."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else resolve_local(value, tz)
    if isinstance(value, date):
        return resolve_local(datetime.combine(value, time(0, 0)), tz)
    if not isinstance(value, str):
        raise DateProblem(
            _("expected a date like 2026-11-24 09:30, got {value}").format(value=repr(value))
        )
    text = value.strip()
    if len(text) == 16 and text[10] == " ":  # `2026-11-24 09:30`, most posts' date
        fast = _minute(text, tz)
        if fast is not None:
            return fast
    m = _LOCAL.match(text)
    if m:
        y, mo, d, hh, mm, ss = m.groups()
        try:
            fields = (int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
            naive = datetime(*fields)
        except ValueError:
            raise DateProblem(
                _("{value} is not a valid date: {why}").format(
                    value=repr(text), why=_why_invalid(*fields)
                )
            ) from None
        return _local(naive, fields, tz)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        zoned = _ZONED.match(text)
        if zoned:
            y, mo, d, hh, mm, ss = (int(g or 0) for g in zoned.groups())
            try:
                datetime(y, mo, d, hh, mm, ss)
            except ValueError:
                raise DateProblem(
                    _("{value} is not a valid date: {why}").format(
                        value=repr(text), why=_why_invalid(y, mo, d, hh, mm, ss)
                    )
                ) from None
        raise DateProblem(
            _(
                "{value} is not a date: write 2026-11-24 09:30 (in the brand's timezone) "
                "or 2026-11-24T09:30:00+01:00"
            ).format(value=repr(text))
        ) from None
    return parsed if parsed.tzinfo is not None else resolve_local(parsed, tz)


@dataclass(frozen=True)
class Window:
    """A weekly posting window such as `Tue-Thu 08:00-10:00` (local time, end excluded)."""

    days: frozenset[int]  # 0 = Monday
    start: time
    end: time
    text: str

    def contains(self, local: datetime) -> bool:
        t = local.time().replace(tzinfo=None)
        return local.weekday() in self.days and self.start <= t < self.end


_FULL_DAYS = {
    **{
        d: i
        for i, d in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    **{
        d: i
        for i, d in enumerate(
            ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
        )
    },
}


def _day(name: str) -> int:
    word = name.strip().lower()
    if word in DAYS or word in _FRENCH_DAYS:
        return DAYS.index(word) if word in DAYS else _FRENCH_DAYS[word]
    if word in _FULL_DAYS:
        return _FULL_DAYS[word]
    raise ValueError(
        _("unknown day {day}: use Mon, Tue, Wed, Thu, Fri, Sat, Sun").format(day=repr(name))
    )


def _clock(text: str) -> time:
    hh, _sep, mm = text.strip().partition(":")
    if not (hh.isdigit() and (mm.isdigit() or mm == "")):
        raise ValueError(
            _("{value} is not a time: write hours as 08:00 or 17:30").format(
                value=repr(text.strip())
            )
        )
    if hh == "24" and mm in ("", "00"):
        return time.max
    return time(int(hh), int(mm or 0))


def parse_window(text: str) -> Window:
    """`Tue-Thu 08:00-10:00`, `Mon,Wed 12:00-14:00`, `Sat 10:00-12:00`, `08:00-10:00` (daily)."""
    spec = text.strip()
    days_part, _sep, hours = spec.rpartition(" ")
    days: set[int] = set()
    try:
        if not days_part:
            days = set(range(7))
        for chunk in days_part.split(","):
            if not chunk.strip():
                continue
            if "-" in chunk:
                a, b = (_day(x) for x in chunk.split("-", 1))
                days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
            else:
                days.add(_day(chunk))
        start_s, _sep, end_s = hours.partition("-")
        start, end = _clock(start_s), _clock(end_s)
    except ValueError as exc:
        raise ValueError(
            _("posting window {window}: {problem}; write e.g. 'Tue-Thu 08:00-10:00'").format(
                window=repr(text), problem=exc
            )
        ) from None
    if not end_s or start >= end:
        raise ValueError(
            _("posting window {window}: write the hours as start-end, e.g. 08:00-10:00").format(
                window=repr(text)
            )
        )
    return Window(frozenset(days), start, end, spec)


def country_for_timezone(zone: str) -> str | None:
    """The country of an IANA zone, from the system's zone.tab (None when unknown)."""
    for path in ("/usr/share/zoneinfo/zone1970.tab", "/usr/share/zoneinfo/zone.tab"):
        try:
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("#"):
                        continue
                    cols = line.rstrip("\n").split("\t")
                    if len(cols) >= 3 and cols[2] == zone:
                        return cols[0].split(",")[0]
        except OSError:
            continue
    return None
