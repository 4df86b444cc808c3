"""`cmflow calendar`: the editorial calendar, week by week, per channel and day.

Built from what validation already knows (posts, findings) and the record (published or in
progress), plus the year's key dates. `build` is pure (the clock and the record are passed
in); `as_text`, `as_markdown` and `as_html` only lay it out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cmflow import i18n
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
SLOT_MARK = "*"  # after the time: it came from a queue slot (see the legend)
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
    slot: bool = False  # its time came from a queue slot (`date: next`, a day alone)
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
            if post.status == "draft" or post.field("status", ch) == "draft":
                status = DRAFT  # the post, or its variant for this channel
            elif sent is not None and sent.content_hash and sent.failed is None:
                status = PUBLISHED
            elif sent is not None and sent.failed is None and sent.renamed is None:
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
                post.slot is not None,
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
        elif state is not None and state not in (State.FAILED, State.MISSED):
            status = IN_PROGRESS
        else:  # not sent (refused, or too late): as a first publication that is not
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
    # Without a brand language, the calendar speaks the language of cmflow's messages.
    code = i18n.normalise(language) or i18n.current()
    return Calendar(start, cal, list(channels), gaps, unprepared, str(tz), code)


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


def _words(cal: Calendar) -> Callable[[str], str]:
    """The calendar's words in its own language (the brand's), whatever the messages speak."""
    return i18n.translation(cal.language).gettext


def _days(cal: Calendar) -> tuple[str, ...]:
    return i18n.day_names(_words(cal))


def _months(cal: Calendar) -> tuple[str, ...]:
    return i18n.month_names(_words(cal))


def status_name(status: str, language: str) -> str:
    """A status in words, in `language` (the iCalendar export describes events with it)."""
    _ = i18n.translation(language).gettext
    names = {
        PUBLISHED: _("published"),
        IN_PROGRESS: _("in progress"),
        PLANNED: _("planned"),
        LATE: _("late"),
        DRAFT: _("draft"),
    }
    return names.get(status, status)


def _day(cal: Calendar, d: date, *, weekday: bool = True) -> str:
    text = f"{d.day} {_months(cal)[d.month - 1]}"
    return f"{_days(cal)[d.weekday()]} {text}" if weekday else text


def _week_title(cal: Calendar, week: Week) -> str:
    _ = _words(cal)
    return _("Week of {day} {year}").format(
        day=_day(cal, week.start, weekday=False), year=week.start.year
    )


def _title(cal: Calendar) -> str:
    _ = _words(cal)
    return _("Editorial calendar")


def short(post_id: str) -> str:
    """A post id without the date its file name usually starts with (the grid shows it)."""
    return re.sub(r"^\d{4}-\d{2}-\d{2}[-_]", "", post_id) or post_id


def _cell(it: Item) -> str:
    again = f" ↻{it.publication - 1}/{it.times}" if it.repost else ""
    return f"{it.when:%H:%M}{SLOT_MARK if it.slot else ''} {it.mark}{again} {short(it.post_id)}"


def _notes(cal: Calendar, week: Week | None) -> list[str]:
    _ = _words(cal)
    kds = week.key_dates if week is not None else []
    if not kds:
        return []
    dates = " · ".join(f"{_day(cal, k.day, weekday=False)} {k.name}" for k in kds)
    return [_("Key dates: {dates}").format(dates=dates)]


def _footer(cal: Calendar) -> list[str]:
    _ = _words(cal)
    out: list[str] = []
    if cal.gaps:
        out.append(_("Below the target cadence:"))
        for g in cal.gaps:
            day = _day(cal, g.period, weekday=False)
            line = (
                _("{channel}: {planned}/{target} — week of {day}")
                if g.unit == "week"
                else _("{channel}: {planned}/{target} — month of {day}")
            )
            out.append(
                "  " + line.format(channel=g.channel, planned=g.planned, target=g.target, day=day)
            )
    if cal.unprepared:
        out.append(_("Nothing planned in the week before:"))
        for k in cal.unprepared:
            out.append(f"  {_day(cal, k.day)} — {k.name}")
    legend = _("✓ published · ◐ in progress · ● planned · ! late · ✎ draft · ✗ error · ⚠ warning")
    if any(it.slot for week in cal.weeks for cell in week.items.values() for it in cell):
        legend += f" · {SLOT_MARK} " + _("time from a queue slot")
    out.append(legend)
    if any(it.repost for week in cal.weeks for cell in week.items.values() for it in cell):
        out.append(_("↻ n/m: re-post n of m (evergreen)"))
    return out


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def as_text(cal: Calendar, *, width: int = 19) -> str:
    days = _days(cal)
    name_w = max([len(c) for c in cal.channels] + [8])
    out: list[str] = [f"{_title(cal)} ({cal.timezone})"]
    for week in cal.weeks:
        out += ["", _week_title(cal, week)]
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
    _ = _words(cal)
    days = _days(cal)
    out: list[str] = [f"# {_title(cal)}", "", f"_{_md(cal.timezone)}_"]
    for week in cal.weeks:
        out += ["", f"## {_week_title(cal, week)}", ""]
        out.append(
            "| "
            + _("channel")
            + " | "
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
    days = _days(cal)
    title = _title(cal)
    e = html.escape
    out = [
        "<!doctype html>",
        f'<html lang="{e(cal.language)}"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1><p>{e(cal.timezone)}</p>",
    ]
    for week in cal.weeks:
        out.append(f"<h2>{e(_week_title(cal, week))}</h2>")
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
