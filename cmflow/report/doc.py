"""A report as a list of sections (a title, a note, a table, a chart), shared by the
Markdown, HTML and text renderings so that they always say the same thing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo

from cmflow.report import charts
from cmflow.report.i18n import Lang
from cmflow.report.kpi import Group, Report


@dataclass
class Link:
    text: str
    url: str


Cell = str | Link


@dataclass
class Section:
    slug: str
    title: str
    note: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)  # right-aligned columns
    chart: str | None = None  # SVG


def _group_table(
    r: Report, lang: Lang, groups: list[Group], head: str, label: bool = True
) -> tuple[list[str], list[list[Cell]]]:
    _ = lang.gettext
    heads = {
        "channel": _("Channel"),
        "pillar": _("Pillar"),
        "campaign": _("Campaign"),
        "format": _("Format"),
    }
    headers = [
        heads[head],
        _("Posts"),
        _("Interactions"),
        _("Per post"),
        _("Likes"),
        _("Reposts and shares"),
        _("Replies"),
        _("Engagement rate"),
    ]
    rows: list[list[Cell]] = []
    for g in groups:
        name = lang.format_name(g.key) if not label and g.key else lang.label(g.key)
        rows.append(
            [
                name,
                lang.count(g.posts),
                lang.count(g.interactions),
                lang.num(g.per_post),
                lang.count(g.likes),
                lang.count(g.reposts),
                lang.count(g.replies),
                lang.pct(g.rate)
                + (" ¹" if g.basis == "followers" else " ²" if g.basis == "mixed" else ""),
            ]
        )
    return headers, rows


def sections(
    r: Report, lang: Lang, tz: tzinfo, ages: str, names: Mapping[str, str] | None = None
) -> list[Section]:
    """The report's sections; `names` gives competitors' display names by key."""
    _ = lang.gettext
    names = names or {}
    out: list[Section] = []
    chart: str | None
    t = r.total
    summary = Section(
        "summary",
        _("Summary"),
        _("Figures are each post's latest snapshot ({ages}). Engagement rate: {basis}.").format(
            ages=ages, basis=lang.basis(t.basis)
        ),
        [
            _("Period"),
            _("Posts"),
            _("Interactions"),
            _("Per post"),
            _("Impressions"),
            _("Clicks"),
            _("Engagement rate"),
        ],
        [
            [
                f"{r.since.isoformat()} → {r.until.isoformat()}",
                lang.count(t.posts),
                lang.count(t.interactions),
                lang.num(t.per_post),
                lang.count(t.impressions),
                lang.count(t.clicks),
                lang.pct(t.rate),
            ]
        ],
        {1, 2, 3, 4, 5, 6},
    )
    out.append(summary)
    if not r.posts:
        summary.note = _("No published post with metrics in this period.")
    numeric = {1, 2, 3, 4, 5, 6, 7}
    rate_note = f"¹ {lang.basis('followers')} · ² {lang.basis('mixed')}"
    interactions = _("Interactions")
    for slug, groups, head, label, title in (
        ("channels", r.channels, "channel", True, _("By channel")),
        ("pillars", r.pillars, "pillar", True, _("By content pillar")),
        ("campaigns", r.campaigns, "campaign", True, _("By campaign")),
        ("formats", r.formats, "format", False, _("By format")),
    ):
        if not groups:
            continue
        headers, rows = _group_table(r, lang, groups, head, label)
        chart = charts.bars(
            [(str(row[0]), float(g.interactions)) for row, g in zip(rows, groups, strict=True)],
            f"{title} — {interactions}",
            labels=[lang.count(g.interactions) for g in groups],
        )
        out.append(Section(slug, title, rate_note, headers, rows, numeric, chart))
    if r.weeks:
        weeks = r.weeks
        chart = charts.lines(
            [w.key[5:] for w in weeks],
            [
                (_("Interactions"), [float(w.interactions) for w in weeks]),
                (_("Posts"), [float(w.posts) for w in weeks]),
            ],
            _("Trend by week"),
        )
        rows = [
            [
                w.key,
                lang.count(w.posts),
                lang.count(w.interactions),
                lang.num(w.per_post),
                lang.pct(w.rate),
            ]
            for w in weeks
        ]
        out.append(
            Section(
                "trend",
                _("Trend by week"),
                "",
                [
                    _("Week of"),
                    _("Posts"),
                    _("Interactions"),
                    _("Per post"),
                    _("Engagement rate"),
                ],
                rows,
                {1, 2, 3, 4},
                chart,
            )
        )
    if r.posts:
        grid = r.heat
        heat = _("When posts worked: mean interactions by weekday and hour")
        chart = charts.heat(grid, [lang.weekday(i) for i in range(7)], heat)
        note = _("Darker is better; empty cells had no post. Hours in {tz}.").format(tz=str(tz))
        out.append(Section("heat", heat, note, chart=chart))
    if r.best_slots:
        rows = []
        for ch, slots in r.best_slots.items():
            for wd, hour, n, mean in slots:
                rows.append([ch, f"{lang.weekday(wd)} {hour:02d}h", lang.count(n), lang.num(mean)])
        out.append(
            Section(
                "slots",
                _("Best posting slots per channel (from this history)"),
                "",
                [_("Channel"), _("Slot"), _("Posts"), _("Mean interactions")],
                rows,
                {2, 3},
            )
        )
    for slug, items, title in (
        ("top", r.top, _("Top posts")),
        ("bottom", r.bottom, _("Weakest posts")),
    ):
        if not items:
            continue
        rows = [
            [
                Link(p.title or p.post, p.url) if p.url else (p.title or p.post),
                p.channel,
                p.published_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                lang.label(p.pillar or ""),
                lang.label(p.campaign or ""),
                lang.count(p.interactions),
                lang.pct(p.interactions / p.denominator[0] if p.denominator[0] else None),
            ]
            for p in items
        ]
        out.append(
            Section(
                slug,
                title,
                "",
                [
                    _("Post"),
                    _("Channel"),
                    _("Published"),
                    _("Pillar"),
                    _("Campaign"),
                    _("Interactions"),
                    _("Engagement rate"),
                ],
                rows,
                {5, 6},
            )
        )
    if r.growth:
        rows = []
        for g in r.growth:
            name = (
                g.name
                if g.kind == "brand"
                else _("{name} (competitor)").format(name=names.get(g.name, g.name))
            )
            rows.append(
                [
                    name,
                    g.platform,
                    lang.count(g.start),
                    lang.count(g.end),
                    lang.signed(g.delta),
                    lang.pct(g.percent, 1),
                ]
            )
        days = sorted({d for g in r.growth for d, _count in g.series})
        brand = [g for g in r.growth if g.kind == "brand"]
        chart = None
        if len(days) > 1 and brand:
            chart = charts.lines(
                [d.isoformat()[5:] for d in days],
                [(g.name, [dict(g.series).get(d) for d in days]) for g in brand],
                _("Follower growth"),
            )
        out.append(
            Section(
                "growth",
                _("Follower growth"),
                "",
                [_("Account"), "", _("Start"), _("End"), _("Change"), "%"],
                rows,
                {2, 3, 4, 5},
                chart,
            )
        )
    if r.site:
        rows = [
            [
                lang.label(s.campaign),
                lang.count(s.sessions),
                lang.count(s.engaged),
                lang.count(s.key_events),
                lang.count(s.posts),
                lang.count(s.interactions),
            ]
            for s in r.site
        ]
        s = r.site_total
        rows.append(
            [
                _("Total"),
                lang.count(s.sessions),
                lang.count(s.engaged),
                lang.count(s.key_events),
                "",
                "",
            ]
        )
        chart = charts.bars(
            [(lang.label(x.campaign), float(x.sessions)) for x in r.site[:12]],
            _("Sessions") + " / " + _("Campaign"),
            labels=[lang.count(x.sessions) for x in r.site[:12]],
        )
        out.append(
            Section(
                "site",
                _("Site traffic and conversions by campaign (Google Analytics)"),
                "",
                [
                    _("Campaign"),
                    _("Sessions"),
                    _("Engaged sessions"),
                    _("Conversions (key events)"),
                    _("Social posts"),
                    _("Interactions"),
                ],
                rows,
                {1, 2, 3, 4, 5},
                chart,
            )
        )
    if any(v.name for v in r.rivals):
        rows = [
            [
                names.get(v.name, v.name) or _("Brand"),
                v.platform,
                lang.count(v.followers),
                lang.count(v.posts),
                lang.num(v.per_post),
                lang.pct(v.rate),
            ]
            for v in r.rivals
        ]
        chart = charts.bars(
            [
                ((names.get(v.name, v.name) or _("Brand")) + f" · {v.platform}", v.per_post)
                for v in r.rivals
            ],
            _("Against competitors") + " — " + interactions + " / " + _("Post").lower(),
            labels=[lang.num(v.per_post) for v in r.rivals],
            colors=[charts.BAR if not v.name else charts.BAR_ALT for v in r.rivals],
        )
        out.append(
            Section(
                "rivals",
                _("Against competitors"),
                "",
                [
                    _("Account"),
                    "",
                    _("Followers"),
                    _("Posts"),
                    _("Per post"),
                    _("Engagement rate"),
                ],
                rows,
                {2, 3, 4, 5},
                chart,
            )
        )
    if r.problems:
        out.append(
            Section("problems", _("Lines skipped in data/metrics"), "\n".join(r.problems[:20]))
        )
    return out
