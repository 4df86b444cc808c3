"""`cmflow calendar --ics FILE`: the editorial calendar as RFC 5545 iCalendar.

One event per (post, channel). UIDs are stable (derived from the post id and the channel),
so importing the file again updates the events instead of duplicating them; times are in
UTC (`Z`), with the brand's zone named in `X-WR-TIMEZONE` for calendars that show it.
Lines are folded at 75 octets and text values escaped (RFC 5545 §3.1, §3.3.11).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from cmflow import i18n
from cmflow.calendar import Calendar, Item, status_name

PRODID = "-//cmflow//editorial calendar//EN"
DURATION = timedelta(minutes=15)


def escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line into chunks of at most 75 octets, never inside a character."""
    out: list[str] = []
    current = ""
    size = 0
    limit = 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += ch
        size += n
    out.append(current)
    return "\r\n".join(out)


def uid(item: Item, domain: str) -> str:
    seed = f"{item.post_id}\0{item.channel}"
    if item.publication > 1:  # an evergreen re-post: an event of its own
        seed += f"\0{item.publication}"
    digest = hashlib.sha256(seed.encode()).hexdigest()[:24]
    return f"{digest}@{domain}"


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def render(
    items: Iterable[Item],
    *,
    timezone: str,
    name: str,
    now: datetime,
    domain: str = "cmflow.invalid",
    link_base: str = "",
    language: str = "en",
) -> str:
    """`language` is the one of the calendar (the brand's): event descriptions say each
    post's status in it."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(name)}",
        f"X-WR-TIMEZONE:{escape(timezone)}",
    ]
    for it in sorted(items, key=lambda i: (i.when, i.channel, i.post_id)):
        status = status_name(it.status, language)
        desc = f"{it.path} — {status}" + (f" — {it.pillar}" if it.pillar else "")
        if it.slot:
            desc += " — " + i18n.translation(language).gettext("time from a queue slot")
        desc += f" — {it.repost}" if it.repost else ""
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid(it, domain)}",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(it.when)}",
            f"DTEND:{_stamp(it.when + DURATION)}",
            f"SUMMARY:{escape(f'{it.channel}: {it.name}')}",
            f"DESCRIPTION:{escape(desc)}",
            f"STATUS:{'TENTATIVE' if it.status == 'draft' else 'CONFIRMED'}",
            f"CATEGORIES:{escape(it.channel)}",
        ]
        if link_base:
            lines.append(f"URL:{link_base.rstrip('/')}/{it.path}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def items(cal: Calendar) -> list[Item]:
    return [it for week in cal.weeks for cell in week.items.values() for it in cell]
