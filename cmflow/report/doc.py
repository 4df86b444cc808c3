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
    headers = [
        lang.t(head),
        lang.t("posts"),
        lang.t("interactions"),
        lang.t("per_post"),
        lang.t("likes"),
        lang.t("reposts"),
        lang.t("replies"),
        lang.t("rate"),
    ]
    rows: list[list[Cell]] = []
    for g in groups:
        name = lang.t(g.key) if not label and g.key else lang.label(g.key)
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
    names = names or {}
    out: list[Section] = []
    chart: str | None
    t = r.total
    summary = Section(
        "summary",
        lang.t("summary"),
        lang.t("snapshot_note", ages=ages, basis=lang.basis(t.basis)),
        [
            lang.t("period"),
            lang.t("posts"),
            lang.t("interactions"),
            lang.t("per_post"),
            lang.t("impressions"),
            lang.t("clicks"),
            lang.t("rate"),
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
        summary.note = lang.t("no_posts")
    numeric = {1, 2, 3, 4, 5, 6, 7}
    rate_note = f"¹ {lang.basis('followers')} · ² {lang.basis('mixed')}"
    for slug, groups, head, label in (
        ("channels", r.channels, "channel", True),
        ("pillars", r.pillars, "pillar", True),
        ("campaigns", r.campaigns, "campaign", True),
        ("formats", r.formats, "format", False),
    ):
        if not groups:
            continue
        headers, rows = _group_table(r, lang, groups, head, label)
        title = lang.t(f"by_{slug[:-1]}")
        chart = charts.bars(
            [(str(row[0]), float(g.interactions)) for row, g in zip(rows, groups, strict=True)],
            f"{title} — {lang.t('interactions')}",
            labels=[lang.count(g.interactions) for g in groups],
        )
        out.append(Section(slug, title, rate_note, headers, rows, numeric, chart))
    if r.weeks:
        weeks = r.weeks
        chart = charts.lines(
            [w.key[5:] for w in weeks],
            [
                (lang.t("interactions"), [float(w.interactions) for w in weeks]),
                (lang.t("posts"), [float(w.posts) for w in weeks]),
            ],
            lang.t("trend"),
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
                lang.t("trend"),
                "",
                [
                    lang.t("week"),
                    lang.t("posts"),
                    lang.t("interactions"),
                    lang.t("per_post"),
                    lang.t("rate"),
                ],
                rows,
                {1, 2, 3, 4},
                chart,
            )
        )
    if r.posts:
        grid = r.heat
        chart = charts.heat(grid, [lang.weekday(i) for i in range(7)], lang.t("heat"))
        out.append(Section("heat", lang.t("heat"), lang.t("heat_note", tz=str(tz)), chart=chart))
    if r.best_slots:
        rows = []
        for ch, slots in r.best_slots.items():
            for wd, hour, n, mean in slots:
                rows.append([ch, f"{lang.weekday(wd)} {hour:02d}h", lang.count(n), lang.num(mean)])
        out.append(
            Section(
                "slots",
                lang.t("best"),
                "",
                [lang.t("channel"), lang.t("slot"), lang.t("posts"), lang.t("mean")],
                rows,
                {2, 3},
            )
        )
    for slug, items in (("top", r.top), ("bottom", r.bottom)):
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
                lang.t(slug),
                "",
                [
                    lang.t("post"),
                    lang.t("channel"),
                    lang.t("published"),
                    lang.t("pillar"),
                    lang.t("campaign"),
                    lang.t("interactions"),
                    lang.t("rate"),
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
                else f"{names.get(g.name, g.name)} ({lang.t('competitor')})"
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
        days = sorted({d for g in r.growth for d, _ in g.series})
        brand = [g for g in r.growth if g.kind == "brand"]
        chart = None
        if len(days) > 1 and brand:
            chart = charts.lines(
                [d.isoformat()[5:] for d in days],
                [(g.name, [dict(g.series).get(d) for d in days]) for g in brand],
                lang.t("growth"),
            )
        out.append(
            Section(
                "growth",
                lang.t("growth"),
                "",
                [lang.t("account"), "", lang.t("start"), lang.t("end"), lang.t("change"), "%"],
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
                lang.t("total"),
                lang.count(s.sessions),
                lang.count(s.engaged),
                lang.count(s.key_events),
                "",
                "",
            ]
        )
        chart = charts.bars(
            [(lang.label(x.campaign), float(x.sessions)) for x in r.site[:12]],
            f"{lang.t('sessions')} / {lang.t('campaign')}",
            labels=[lang.count(x.sessions) for x in r.site[:12]],
        )
        out.append(
            Section(
                "site",
                lang.t("site"),
                "",
                [
                    lang.t("campaign"),
                    lang.t("sessions"),
                    lang.t("engaged"),
                    lang.t("key_events"),
                    lang.t("social_posts"),
                    lang.t("interactions"),
                ],
                rows,
                {1, 2, 3, 4, 5},
                chart,
            )
        )
    if any(v.name for v in r.rivals):
        rows = [
            [
                names.get(v.name, v.name) or lang.t("brand"),
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
                (f"{names.get(v.name, v.name) or lang.t('brand')} · {v.platform}", v.per_post)
                for v in r.rivals
            ],
            f"{lang.t('rivals')} — {lang.t('interactions')} / {lang.t('post').lower()}",
            labels=[lang.num(v.per_post) for v in r.rivals],
            colors=[charts.BAR if not v.name else charts.BAR_ALT for v in r.rivals],
        )
        out.append(
            Section(
                "rivals",
                lang.t("rivals"),
                "",
                [
                    lang.t("account"),
                    "",
                    lang.t("followers"),
                    lang.t("posts"),
                    lang.t("per_post"),
                    lang.t("rate"),
                ],
                rows,
                {2, 3, 4, 5},
                chart,
            )
        )
    if r.problems:
        out.append(Section("problems", lang.t("problems"), "\n".join(r.problems[:20])))
    return out
