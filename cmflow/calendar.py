"""`cmflow calendar`: the editorial calendar, week by week, per channel and day.

Built from what validation already knows (posts, findings) and the record (published or in
progress), plus the year's key dates. `build` is pure (the clock and the record are passed
in); `as_text`, `as_markdown` and `as_html` only lay it out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cmflow.keydates import KeyDate
from cmflow.model import Finding, Post, Sent, State
from cmflow.slots import Cadence, period_start

if TYPE_CHECKING:
    from cmflow.evergreen import Repost

# Status of one (post, channel) in the calendar.
PUBLISHED, IN_PROGRESS, PLANNED, LATE, DRAFT = (
    "published",
    "in-progress",
    "planned",
    "late",
    "draft",
)
MARKS = {PUBLISHED: "✓", IN_PROGRESS: "◐", PLANNED: "●", LATE: "!", DRAFT: "✎"}


@dataclass(frozen=True)
class Item:
    when: datetime  # local, in the brand's zone
    channel: str
    post_id: str
    path: str
    pillar: str | None
    status: str
    errors: int = 0
    warnings: int = 0
    repost: str | None = None  # "re-post 1/3": an evergreen post going out again
    publication: int = 1  # 2 for its first re-post
    times: int = 0  # its re-posts in all

    @property
    def mark(self) -> str:
        if self.errors:
            return "✗"
        return MARKS[self.status] + ("⚠" if self.warnings else "")

    @property
    def name(self) -> str:
        """The post id, with the re-post it is, if one."""
        return f"{self.post_id} ({self.repost})" if self.repost else self.post_id


@dataclass(frozen=True)
class Gap:
    channel: str
    period: date  # first day of the week or month
    unit: str
    planned: int
    target: int


@dataclass
class Week:
    start: date  # Monday
    items: dict[tuple[str, date], list[Item]] = field(default_factory=dict)
    key_dates: list[KeyDate] = field(default_factory=list)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(7)]


@dataclass
class Calendar:
    start: date
    weeks: list[Week]
    channels: list[str]
    gaps: list[Gap]
    unprepared: list[KeyDate]  # key dates with nothing planned in the week before them
    timezone: str
    language: str


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def build(
    posts: Iterable[Post],
    findings: Iterable[Finding],
    record: Mapping[tuple[str, str], Sent],
    key_dates: Iterable[KeyDate],
    *,
    start: date,
    weeks: int,
    channels: Sequence[str],
    cadence: Mapping[str, Cadence],
    tz: ZoneInfo,
    now: datetime,
    language: str | None,
    reposts: Iterable[Repost] = (),
) -> Calendar:
    """`reposts`: evergreen re-posts (cmflow.evergreen.plan), shown on their own days."""
    start = monday(start)
    end = start + timedelta(days=7 * weeks)
    by_path: dict[str, list[Finding]] = {}
    for f in findings:
        by_path.setdefault(f.path, []).append(f)
    cal = [Week(start + timedelta(days=7 * i)) for i in range(weeks)]
    wanted = set(channels)
    all_items: list[Item] = []
    for post in posts:
        if post.date is None:
            continue
        local = post.date.astimezone(tz)
        if not start <= local.date() < end:
            continue
        for ch in post.channels:
            if ch not in wanted:
                continue
            mine = [
                f
                for f in by_path.get(post.path, [])
                if f.channel is None or ch in f.channel.split(", ")
            ]
            sent = record.get((post.id, ch))
            if post.status == "draft":
                status = DRAFT
            elif sent is not None and sent.content_hash:
                status = PUBLISHED
            elif sent is not None:
                status = IN_PROGRESS
            elif post.date <= now:
                status = LATE
            else:
                status = PLANNED
            pillar = post.meta.get("pillar") if isinstance(post.meta, dict) else None
            item = Item(
                local,
                ch,
                post.id,
                post.path,
                str(pillar) if pillar else None,
                status,
                sum(1 for f in mine if f.level == "error"),
                sum(1 for f in mine if f.level == "warning"),
            )
            all_items.append(item)
            week = cal[(local.date() - start).days // 7]
            week.items.setdefault((ch, local.date()), []).append(item)
    for r in reposts:
        local = r.when.astimezone(tz)
        if r.channel not in wanted or not start <= local.date() < end:
            continue
        state = r.entry.state if r.entry is not None else None
        if state == State.PUBLISHED:
            status = PUBLISHED
        elif state is not None:
            status = IN_PROGRESS
        else:
            status = LATE if r.when <= now else PLANNED
        pillar = r.post.meta.get("pillar")
        item = Item(
            local,
            r.channel,
            r.post.id,
            r.post.path,
            str(pillar) if pillar else None,
            status,
            repost=r.label,
            publication=r.publication,
            times=r.times,
        )
        all_items.append(item)
        week = cal[(local.date() - start).days // 7]
        week.items.setdefault((r.channel, local.date()), []).append(item)
    for week in cal:
        for cell in week.items.values():
            cell.sort(key=lambda it: (it.when, it.post_id))
    dates = sorted(key_dates)
    for kd in dates:
        for week in cal:
            if any(kd.covers(d) for d in week.days):
                week.key_dates.append(kd)
    gaps = _gaps(all_items, cadence, start, end, [c for c in channels if c in cadence])
    planned_days = {it.when.date() for it in all_items if it.status != DRAFT}
    unprepared = [
        kd
        for kd in dates
        if kd.day >= start
        and kd.day >= now.astimezone(tz).date()
        and not any(kd.day - timedelta(days=i) in planned_days for i in range(8))
    ]
    return Calendar(start, cal, list(channels), gaps, unprepared, str(tz), (language or "en")[:2])


def _gaps(
    items: list[Item], cadence: Mapping[str, Cadence], start: date, end: date, channels: list[str]
) -> list[Gap]:
    out: list[Gap] = []
    for ch in channels:
        c = cadence[ch]
        unit = "week" if c.unit == "day" else c.unit
        target = c.count * 7 if c.unit == "day" else c.count
        counts: dict[date, int] = {}
        d = start
        while d < end:
            counts.setdefault(period_start(d, unit), 0)
            d += timedelta(days=1)
        for it in items:
            if it.channel == ch and it.status != DRAFT:
                p = period_start(it.when.date(), unit)
                if p in counts:
                    counts[p] += 1
        for period, n in sorted(counts.items()):
            if n < target:
                out.append(Gap(ch, period, unit, n, target))
    return out


# -- layout ----------------------------------------------------------------------------------

_WORDS = {
    "fr": {
        "week": "Semaine du",
        "days": ("lun", "mar", "mer", "jeu", "ven", "sam", "dim"),
        "months": (
            "janv.",
            "févr.",
            "mars",
            "avr.",
            "mai",
            "juin",
            "juil.",
            "août",
            "sept.",
            "oct.",
            "nov.",
            "déc.",
        ),
        "key": "Dates clés",
        "gaps": "Rythme visé non atteint",
        "unprepared": "Rien de prévu la semaine avant",
        "legend": "✓ publié · ◐ en cours · ● prévu · ! en retard · ✎ brouillon · ✗ erreur · ⚠ avertissement",
        "channel": "canal",
        "of": "sur",
        "week_of": "semaine du",
        "month_of": "mois de",
        "times": "heures",
        "title": "Calendrier éditorial",
    },
    "en": {
        "week": "Week of",
        "days": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "months": (
            "Jan",
            "Feb",
            "Mar",
            "Apr",
            "May",
            "Jun",
            "Jul",
            "Aug",
            "Sep",
            "Oct",
            "Nov",
            "Dec",
        ),
        "key": "Key dates",
        "gaps": "Below the target cadence",
        "unprepared": "Nothing planned in the week before",
        "legend": "✓ published · ◐ in progress · ● planned · ! late · ✎ draft · ✗ error · ⚠ warning",
        "channel": "channel",
        "of": "of",
        "week_of": "week of",
        "month_of": "month of",
        "times": "times",
        "title": "Editorial calendar",
    },
}


def _w(cal: Calendar) -> Mapping[str, object]:
    return _WORDS.get(cal.language, _WORDS["en"])


def _day(cal: Calendar, d: date, *, weekday: bool = True) -> str:
    w = _w(cal)
    months = w["months"]
    days = w["days"]
    assert isinstance(months, tuple) and isinstance(days, tuple)
    text = f"{d.day} {months[d.month - 1]}"
    return f"{days[d.weekday()]} {text}" if weekday else text


def short(post_id: str) -> str:
    """A post id without the date its file name usually starts with (the grid shows it)."""
    return re.sub(r"^\d{4}-\d{2}-\d{2}[-_]", "", post_id) or post_id


def _cell(it: Item) -> str:
    again = f" ↻{it.publication - 1}/{it.times}" if it.repost else ""
    return f"{it.when:%H:%M} {it.mark}{again} {short(it.post_id)}"


def _notes(cal: Calendar, week: Week | None) -> list[str]:
    w = _w(cal)
    lines: list[str] = []
    kds = week.key_dates if week is not None else []
    if kds:
        lines.append(f"{w['key']} : " if cal.language == "fr" else f"{w['key']}: ")
        lines[-1] += " · ".join(f"{_day(cal, k.day, weekday=False)} {k.name}" for k in kds)
    return lines


def _footer(cal: Calendar) -> list[str]:
    w = _w(cal)
    sep = " : " if cal.language == "fr" else ": "
    out: list[str] = []
    if cal.gaps:
        out.append(f"{w['gaps']}{sep}".rstrip())
        for g in cal.gaps:
            period = w["week_of"] if g.unit == "week" else w["month_of"]
            out.append(
                f"  {g.channel}: {g.planned}/{g.target} — {period} {_day(cal, g.period, weekday=False)}"
            )
    if cal.unprepared:
        out.append(f"{w['unprepared']}{sep}".rstrip())
        for k in cal.unprepared:
            out.append(f"  {_day(cal, k.day)} — {k.name}")
    out.append(str(w["legend"]))
    if any(it.repost for week in cal.weeks for cell in week.items.values() for it in cell):
        out.append(
            "↻ n/m : republication n sur m (evergreen)"
            if cal.language == "fr"
            else "↻ n/m: re-post n of m (evergreen)"
        )
    return out


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def as_text(cal: Calendar, *, width: int = 19) -> str:
    w = _w(cal)
    days = w["days"]
    assert isinstance(days, tuple)
    name_w = max([len(c) for c in cal.channels] + [8])
    out: list[str] = [f"{w['title']} ({cal.timezone})"]
    for week in cal.weeks:
        out += ["", f"{w['week']} {_day(cal, week.start, weekday=False)} {week.start.year}"]
        head = (
            " " * name_w
            + "  "
            + "".join(f"{days[d.weekday()]} {d.day}".ljust(width) for d in week.days)
        )
        out.append(head.rstrip())
        for ch in cal.channels:
            cells = [
                [_clip(_cell(it), width - 1) for it in week.items.get((ch, d), [])]
                for d in week.days
            ]
            rows = max([len(c) for c in cells] + [1])
            for r in range(rows):
                label = ch if r == 0 else ""
                line = (
                    label.ljust(name_w)
                    + "  "
                    + "".join(
                        (c[r] if r < len(c) else ("·" if r == 0 else "")).ljust(width)
                        for c in cells
                    )
                )
                out.append(line.rstrip())
        out += _notes(cal, week)
    out += ["", *_footer(cal)]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return (
        html.escape(text, quote=False).replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
    )


def as_markdown(cal: Calendar) -> str:
    w = _w(cal)
    days = w["days"]
    assert isinstance(days, tuple)
    out: list[str] = [f"# {w['title']}", "", f"_{_md(cal.timezone)}_"]
    for week in cal.weeks:
        out += ["", f"## {w['week']} {_day(cal, week.start, weekday=False)} {week.start.year}", ""]
        out.append(
            f"| {w['channel']} | "
            + " | ".join(f"{days[d.weekday()]} {d.day}" for d in week.days)
            + " |"
        )
        out.append("|---" * 8 + "|")
        for ch in cal.channels:
            cells = [
                "<br>".join(_md(_cell(it)) for it in week.items.get((ch, d), [])) or "·"
                for d in week.days
            ]
            out.append(f"| {_md(ch)} | " + " | ".join(cells) + " |")
        notes = _notes(cal, week)
        if notes:
            out += ["", *(_md(n) for n in notes)]
    footer = _footer(cal)
    out += [
        "",
        *(f"- {_md(line.strip())}" if line.startswith("  ") else _md(line) for line in footer),
    ]
    return "\n".join(out) + "\n"


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1d2329;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.05rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;table-layout:fixed}
th,td{border:1px solid #d5d9de;padding:.3rem;vertical-align:top;text-align:left}
th{background:#f3f5f7;font-weight:600}td.ch{font-weight:600;width:9rem}
.it{display:block;border-radius:4px;padding:1px 4px;margin:1px 0;font-size:12px;background:#eef3ff}
.published{background:#e5f6e8}.late{background:#fff1d6}.draft{background:#f0f0f0;color:#666}
.error{background:#ffe1e1}.kd{color:#6b3fa0;font-size:13px}.foot{margin-top:1.5rem;color:#444}
"""


def as_html(cal: Calendar) -> str:
    """One self-contained page: inline CSS, no script, no external resource."""
    w = _w(cal)
    days = w["days"]
    assert isinstance(days, tuple)
    e = html.escape
    out = [
        "<!doctype html>",
        f'<html lang="{e(cal.language)}"><head><meta charset="utf-8">',
        f"<title>{e(str(w['title']))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(str(w['title']))}</h1><p>{e(cal.timezone)}</p>",
    ]
    for week in cal.weeks:
        out.append(
            f"<h2>{e(str(w['week']))} {e(_day(cal, week.start, weekday=False))} {week.start.year}</h2>"
        )
        out.append(
            "<table><tr><th></th>"
            + "".join(f"<th>{e(days[d.weekday()])} {d.day}</th>" for d in week.days)
            + "</tr>"
        )
        for ch in cal.channels:
            cells = []
            for d in week.days:
                items = week.items.get((ch, d), [])
                spans = "".join(
                    f'<span class="it {"error" if it.errors else it.status}" '
                    f'title="{e(it.path + (f" — {it.repost}" if it.repost else ""))}">'
                    f"{e(_cell(it))}</span>"
                    for it in items
                )
                cells.append(f"<td>{spans}</td>")
            out.append(f'<tr><td class="ch">{e(ch)}</td>{"".join(cells)}</tr>')
        out.append("</table>")
        for note in _notes(cal, week):
            out.append(f'<p class="kd">{e(note)}</p>')
    out.append('<div class="foot">' + "<br>".join(e(line) for line in _footer(cal)) + "</div>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
