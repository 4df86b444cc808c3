"""The report as Markdown (GitHub), one self-contained HTML file, plain text, or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from html import escape

from cmflow.metrics.store import COUNTS
from cmflow.report.doc import Cell, Link, Section
from cmflow.report.i18n import Lang
from cmflow.report.kpi import Report


def _md_cell(c: Cell) -> str:
    if isinstance(c, Link):
        text = c.text.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")
        return f"[{text}]({c.url.replace(')', '%29').replace(' ', '%20')})"
    return c.replace("|", "\\|").replace("\n", " ")


def markdown(
    title: str, sections: list[Section], lang: Lang, chart_path: Callable[[Section], str | None]
) -> str:
    """`chart_path(section)` is where its SVG was written (relative to the report), if any."""
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        if s.note:
            out += [s.note.replace("\n", "  \n"), ""]
        path = chart_path(s) if s.chart else None
        if path:
            out += [f"![{s.title}]({path})", ""]
        if s.headers:
            out.append("| " + " | ".join(h or " " for h in s.headers) + " |")
            out.append(
                "|"
                + "|".join("---:" if i in s.numeric else "---" for i in range(len(s.headers)))
                + "|"
            )
            for row in s.rows:
                out.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
            out.append("")
    out.append(f"_{lang.t('generated')}_")
    return "\n".join(out) + "\n"


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;max-width:980px;margin:2rem auto;padding:0 1rem;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem}th,td{padding:.3rem .6rem;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{background:#f9fafb}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#4b5563;font-size:.88rem;white-space:pre-line}.chart{margin:.6rem 0;max-width:100%;overflow-x:auto}
.kpis{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}.kpi{border:1px solid #e5e7eb;border-radius:8px;padding:.6rem 1rem;min-width:9rem}
.kpi b{display:block;font-size:1.5rem}.kpi span{color:#4b5563;font-size:.85rem}footer{margin-top:3rem;color:#6b7280;font-size:.8rem}
"""


def _html_cell(c: Cell) -> str:
    if isinstance(c, Link):
        href = c.url if c.url.startswith(("https://", "http://")) else "#"
        return f'<a href="{escape(href)}">{escape(c.text)}</a>'
    return escape(c)


def html(title: str, sections: list[Section], lang: Lang) -> str:
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang.code}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing is fetched: no script, no font, no image from elsewhere.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    for s in sections:
        out.append(f'<section id="{s.slug}"><h2>{escape(s.title)}</h2>')
        if s.slug == "summary" and s.rows:
            out.append('<div class="kpis">')
            for h, c in zip(s.headers, s.rows[0], strict=True):
                out.append(f'<div class="kpi"><b>{_html_cell(c)}</b><span>{escape(h)}</span></div>')
            out.append("</div>")
        if s.note:
            out.append(f'<p class="note">{escape(s.note)}</p>')
        if s.chart:
            out.append(f'<div class="chart">{s.chart}</div>')
        if s.headers and s.slug != "summary":
            out.append("<table><thead><tr>")
            out += [
                f"<th{' class=n' if i in s.numeric else ''}>{escape(h)}</th>"
                for i, h in enumerate(s.headers)
            ]
            out.append("</tr></thead><tbody>")
            for row in s.rows:
                cells = [
                    f"<td{' class=n' if i in s.numeric else ''}>{_html_cell(c)}</td>"
                    for i, c in enumerate(row)
                ]
                out.append("<tr>" + "".join(cells) + "</tr>")
            out.append("</tbody></table>")
        out.append("</section>")
    out.append(f"<footer>{escape(lang.t('generated'))}</footer></body></html>")
    return "\n".join(out) + "\n"


def text(title: str, sections: list[Section]) -> str:
    out = [title, "=" * len(title), ""]
    for s in sections:
        out += [s.title, "-" * len(s.title)]
        if s.note:
            out.append(s.note)
        if s.headers:
            cells = [[c.text if isinstance(c, Link) else c for c in row] for row in s.rows]
            widths = [
                max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
                for i, h in enumerate(s.headers)
            ]

            def line(values: list[str], widths: list[int] = widths, s: Section = s) -> str:
                return "  ".join(
                    v.rjust(w) if i in s.numeric else v.ljust(w)
                    for i, (v, w) in enumerate(zip(values, widths, strict=True))
                ).rstrip()

            out.append(line(s.headers))
            out += [line(r) for r in cells]
        out.append("")
    return "\n".join(out)


def posts_csv(r: Report) -> str:
    """One row per published (post, channel) of the period: for spreadsheets."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "published_at",
            "channel",
            "platform",
            "post",
            "title",
            "pillar",
            "campaign",
            "format",
            "age",
            *COUNTS,
            "interactions",
            "engagement_rate",
            "rate_basis",
            "followers",
            "url",
        ]
    )
    for p in r.posts:
        value, basis = p.denominator
        rate = f"{p.interactions / value:.4f}" if value else ""
        w.writerow(
            [
                p.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                p.channel,
                p.platform,
                p.post,
                p.title,
                p.pillar or "",
                p.campaign or "",
                p.format,
                p.age,
                *("" if p.counts.get(k) is None else str(p.counts[k]) for k in COUNTS),
                p.interactions,
                rate,
                basis,
                "" if p.followers is None else p.followers,
                p.url,
            ]
        )
    return buf.getvalue()
