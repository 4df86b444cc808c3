"""Posts that take a queue slot: `date: next`, or a day without a time (`date: 2026-12-08`).

Pure: the queue, the record's times, when each `next` post reached the branch and the run's
`now` are passed in. The same inputs give the same times, whatever order the files are read
in (docs/content.md, "Queue slots"):

- a post a publish run already acted on (the record has an entry for it) keeps the time the
  record says it was scheduled for: it never moves once a run has claimed it;
- the others are placed posts for a day first, by (day, path), then `next` posts by (the
  moment they ask from, path): a day asks from that day's midnight, `next` from the commit
  that added the post to the branch being published (first parent: when a pull request was
  merged), or from `now` while it is not committed;
- each takes the first slot after that moment that is free on every channel of the post that
  has `slots:` (one time for all its channels, as `cmflow new --date next` does). A slot is
  taken by a post with its own time on that channel, by a post placed before it, and by any
  time the record shows a run used on that channel.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cmflow.config import Config
from cmflow.i18n import _, day_names, month_names, ngettext
from cmflow.model import Post
from cmflow.slots import HORIZON_DAYS, Slot, local, times


def slot_label(note: str = "") -> str:
    """`slot`, or `slot, counted from now: not committed yet`: what views put in brackets
    after a time a queue slot gave (in the language cmflow speaks)."""
    label = _("slot")
    return f"{label}, {note}" if note else label


@dataclass(frozen=True)
class Resolved:
    """Where a slot post lands: `when` (brand's zone), or why there is no slot."""

    when: datetime | None
    problem: str = ""  # no slot: why, and what to do (schedule.no-slot)
    note: str = ""  # worth saying beside the time (counted from now: not committed yet)


def when_text(when: datetime, tz: ZoneInfo) -> str:
    """`Tue 8 Dec 2026 09:00 CET`: a moment as the findings and previews say it."""
    t = when.astimezone(tz)
    day, month = day_names()[t.weekday()], month_names()[t.month - 1]
    return f"{day} {t.day} {month} {t:%Y %H:%M %Z}"


class Calendar:
    """Every channel's slot times, day by day, computed once per day and channel (a queue of
    thousands of posts asks for the same days again and again)."""

    def __init__(self, slots: Mapping[str, Sequence[Slot]], tz: ZoneInfo) -> None:
        self.slots = slots
        self.tz = tz
        self._days: dict[tuple[tuple[str, ...], date], tuple[datetime, ...]] = {}

    def on(self, channels: tuple[str, ...], day: date) -> tuple[datetime, ...]:
        """The moments (UTC, sorted) of `day` that are a slot on every one of `channels`."""
        key = (channels, day)
        got = self._days.get(key)
        if got is None:
            if len(channels) == 1:
                got = tuple(times(self.slots[channels[0]], self.tz, day, 1))
            else:
                common = set(self.on(channels[:1], day))
                for c in channels[1:]:
                    common &= set(self.on((c,), day))
                got = tuple(sorted(common))
            self._days[key] = got
        return got

    def first_free(
        self,
        channels: Sequence[str],
        after: datetime,
        taken: Mapping[str, Collection[datetime]],
        horizon_days: int = HORIZON_DAYS,
    ) -> datetime | None:
        """The first moment strictly after `after` that is a slot on every one of `channels`
        and taken on none of them, within `horizon_days`; None when there is none."""
        if not channels:
            return None
        names = tuple(channels)
        busy = [taken.get(c, ()) for c in names]
        day = after.astimezone(self.tz).date()
        for i in range(horizon_days + 1):
            for t in self.on(names, day + timedelta(days=i)):
                if t > after and not any(t in b for b in busy):
                    return t
        return None


def first_shared(
    slots: Mapping[str, Sequence[Slot]],
    tz: ZoneInfo,
    after: datetime,
    taken: Mapping[str, Collection[datetime]],
    *,
    horizon_days: int = HORIZON_DAYS,
) -> datetime | None:
    """The first moment strictly after `after` that is a free slot on every channel of
    `slots` (channel -> its slots), within the horizon; None when there is none. `taken`:
    channel -> moments already used (aware)."""
    utc = {c: {t.astimezone(UTC) for t in ts} for c, ts in taken.items()}
    return Calendar(slots, tz).first_free(list(slots), after, utc, horizon_days)


def _slots_text(config: Config, names: Iterable[str]) -> str:
    return "; ".join(f"{n} ({', '.join(str(s) for s in config.slots[n])})" for n in names)


def resolve(
    posts: Sequence[Post],
    config: Config,
    *,
    now: datetime,
    added: Mapping[str, datetime],
    pinned: Mapping[str, datetime],
    used: Mapping[str, Iterable[datetime]],
    unknown: Collection[str] = (),
) -> dict[str, Resolved]:
    """Path -> where each post with a `slot` request lands.

    `added`: path -> when a `next` post reached the branch (absent: not committed; counted
    from `now`). `pinned`: path -> the time the record holds for a post a run acted on.
    `used`: channel -> times the record shows runs used. `unknown`: `next` posts whose
    arrival cannot be known (a shallow clone)."""
    tz = config.timezone
    taken: dict[str, set[datetime]] = {c: set() for c in config.channels}
    for channel, moments in used.items():
        taken.setdefault(channel, set()).update(t.astimezone(UTC) for t in moments)
    for p in posts:
        if p.slot is None and p.date is not None:
            for c in p.channels:
                taken.setdefault(c, set()).add(p.date.astimezone(UTC))
    calendar = Calendar(config.slots, tz)
    out: dict[str, Resolved] = {}
    waiting: list[tuple[datetime, str, Post, str]] = []
    for p in posts:
        if p.slot is None:
            continue
        if p.path in pinned:
            when = pinned[p.path]
            out[p.path] = Resolved(when)
            for c in p.channels:
                taken.setdefault(c, set()).add(when.astimezone(UTC))
        elif not p.channels:
            continue  # no channel it could be read for: its other findings say why
        elif p.slot == "next":
            if p.path in unknown:
                out[p.path] = Resolved(
                    None,
                    _(
                        "`date: next` counts from when the post was added to the branch, and "
                        "this clone has no history to tell: fetch it all (in GitHub Actions, "
                        "`fetch-depth: 0` under actions/checkout), or write a time"
                    ),
                )
                continue
            at = added.get(p.path)
            note = "" if at is not None else _("counted from now: not committed yet")
            waiting.append((at if at is not None else now, p.path, p, note))
        else:
            day = date.fromisoformat(p.slot)
            # Strictly after the second before midnight: a 00:00 slot counts.
            start = local(day, time(0, 0), tz) - timedelta(seconds=1)
            waiting.append((start, p.path, p, ""))
    # Days first: a post meant for a day gets that day's slot before `next` posts fill it.
    order = sorted(waiting, key=lambda w: (w[2].slot == "next", w[0].astimezone(UTC), w[1]))
    for after, path, p, note in order:
        with_slots = [c for c in p.channels if config.slots.get(c)]
        wanted = _asked(p)
        if not with_slots:
            example = p.slot if p.slot != "next" else f"{now.astimezone(tz):%Y-%m-%d}"
            out[path] = Resolved(
                None,
                ngettext(
                    "{asked} takes a queue slot, but {channels} has no `slots:`: add e.g. "
                    '`slots: ["Tue 09:00"]` to it in channels.yaml, or write a time, e.g. '
                    "`date: {day} 09:30`",
                    "{asked} takes a queue slot, but {channels} have no `slots:`: add e.g. "
                    '`slots: ["Tue 09:00"]` to one of them in channels.yaml, or write a time, '
                    "e.g. `date: {day} 09:30`",
                    len(p.channels),
                ).format(asked=wanted, channels=", ".join(p.channels), day=example),
            )
            continue
        found = calendar.first_free(with_slots, after, taken)
        if found is None:
            if len(with_slots) == 1:
                why = _(
                    "{asked} finds no free slot on {slots} within {days} days: add slots to it "
                    "in channels.yaml, or write a time"
                )
            else:
                why = _(
                    "{asked} finds no free slot shared by {slots} within {days} days (a post "
                    "takes one time for all its channels): write a time, or give these "
                    "channels a slot in common"
                )
            why = why.format(asked=wanted, slots=_slots_text(config, with_slots), days=HORIZON_DAYS)
            out[path] = Resolved(None, why)
            continue
        for c in p.channels:
            taken.setdefault(c, set()).add(found)
        when = found.astimezone(tz)
        if p.slot is not None and p.slot != "next" and when.date().isoformat() != p.slot:
            day = date.fromisoformat(p.slot)
            note = _("no free slot left on {day}").format(
                day=f"{day_names()[day.weekday()]} {day.day} {month_names()[day.month - 1]}"
            )
        out[path] = Resolved(when, note=note)
    return out


def _asked(p: Post) -> str:
    if p.slot == "next":
        return "`date: next`"
    return _("`date: {day}` (a day, no time)").format(day=p.slot)
