"""`cmflow report`: period and filters in, one rendered report out (files written beside
`--out` for the Markdown charts)."""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cmflow.errors import CmflowError
from cmflow.i18n import _
from cmflow.report import data, doc, kpi, render
from cmflow.report.i18n import Lang

if TYPE_CHECKING:
    from cmflow.config import Config

DEFAULT_DAYS = 90


def parse_day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise CmflowError(
            _("{option} {value} is not a date: write it as 2026-11-24").format(
                option=name, value=repr(value)
            )
        ) from None


def period(since: str | None, until: str | None, today: date) -> tuple[date, date]:
    end = parse_day(until, "--until") or today
    start = parse_day(since, "--since") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise CmflowError(
            _("--since {start} is after --until {end}: swap them").format(start=start, end=end)
        )
    return start, end


def make(
    cfg: Config, since: date, until: date, channels: list[str], campaigns: list[str]
) -> tuple[kpi.Report, Lang]:
    history = data.load(cfg)
    report = kpi.build(history, since, until, cfg.timezone, channels, campaigns)
    return report, Lang.of(cfg.language)


def render_report(cfg: Config, report: kpi.Report, lang: Lang, fmt: str, out: Path | None) -> str:
    from cmflow.metrics import settings

    if fmt == "csv":
        return render.posts_csv(report)
    try:
        conf = settings.load(cfg)
        ages = ", ".join(p.label for p in conf.schedule)
        names = {c.key: c.name for c in conf.competitors}
    except CmflowError:
        ages, names = ", ".join(settings.DEFAULT_SCHEDULE), {}
    sections = doc.sections(report, lang, cfg.timezone, ages, names)
    _ = lang.gettext  # the report's words are in its own language (the brand's)
    title = _("Social media report") + (
        f" — {report.since.isoformat()} → {report.until.isoformat()}"
    )
    if fmt == "html":
        return render.html(title, sections, lang)
    if fmt == "text":
        return render.text(title, sections)
    charts: dict[str, str] = {}
    if out is not None:
        folder = out.parent / f"{out.stem}-charts"
        for s in sections:
            if s.chart:
                folder.mkdir(parents=True, exist_ok=True)
                write_atomic(folder / f"{s.slug}.svg", s.chart)
                charts[s.slug] = f"{folder.name}/{s.slug}.svg"
    return render.markdown(title, sections, lang, lambda s: charts.get(s.slug))


def run(
    cfg: Config,
    since: str | None,
    until: str | None,
    channels: list[str],
    campaigns: list[str],
    fmt: str,
    out: Path | None,
    now: datetime,
) -> str:
    start, end = period(since, until, now.astimezone(cfg.timezone).date())
    report, lang = make(cfg, start, end, channels, campaigns)
    text = render_report(cfg, report, lang, fmt, out)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, text)
    return text


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
