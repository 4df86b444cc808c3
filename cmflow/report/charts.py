"""Charts as standalone SVG, drawn here (no library, no script, no web font): they open
offline, inline in the HTML report or as files beside the Markdown one (GitHub renders SVG
images). Colours are fixed so that a reader (or a test) can tell a bar from the background.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

BAR = "#2563eb"  # bars
BAR_ALT = "#f97316"  # second series (competitors)
INK = "#1f2937"
GRID = "#e5e7eb"
PALETTE = ("#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04")
FONT = "font-family='system-ui,-apple-system,Segoe UI,Roboto,sans-serif'"


def _head(width: int, height: int, title: str) -> str:
    t = escape(title)
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title, {chr(39): '&apos;'})}' {FONT}>"
        f"<title>{t}</title><rect width='{width}' height='{height}' fill='#ffffff'/>"
    )


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def bars(
    items: Sequence[tuple[str, float]],
    title: str,
    *,
    labels: Sequence[str] | None = None,
    colors: Sequence[str] | None = None,
    width: int = 640,
) -> str:
    """Horizontal bars, one per item, largest first as given; `labels` are the value texts."""
    row, top, left = 26, 34, 170
    height = top + row * max(1, len(items)) + 10
    peak = max((v for _, v in items), default=0) or 1
    room = width - left - 90
    out = [_head(width, height, title)]
    out.append(
        f"<text x='10' y='20' font-size='14' font-weight='600' fill='{INK}'>{escape(title)}</text>"
    )
    for i, (name, value) in enumerate(items):
        y = top + i * row
        w = max(1.0, room * value / peak) if value > 0 else 0
        color = colors[i] if colors else BAR
        shown = labels[i] if labels else _fmt(value)
        out.append(
            f"<text x='{left - 8}' y='{y + 15}' font-size='12' text-anchor='end' fill='{INK}'>"
            f"{escape(_clip(name, 24))}</text>"
            f"<rect class='bar' x='{left}' y='{y + 3}' width='{w:.1f}' height='{row - 8}' fill='{color}' "
            f"data-label='{escape(name, {chr(39): '&apos;'})}' data-value='{_fmt(value)}'/>"
            f"<text x='{left + w + 6:.1f}' y='{y + 15}' font-size='12' fill='{INK}'>{escape(shown)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def lines(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    title: str,
    *,
    width: int = 640,
    height: int = 240,
) -> str:
    """One polyline per series over shared x labels (weeks, days); a legend under the title."""
    left, right, top, bottom = 56, 16, 48, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    lo, hi = min(values, default=0.0), max(values, default=1.0)
    lo = min(lo, 0.0) if hi > 0 and lo >= 0 and lo < hi * 0.5 else lo
    if hi == lo:
        hi = lo + 1
    n = max(1, len(x_labels) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / n, top + plot_h * (1 - (v - lo) / (hi - lo))

    out = [_head(width, height, title)]
    out.append(
        f"<text x='10' y='20' font-size='14' font-weight='600' fill='{INK}'>{escape(title)}</text>"
    )
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        _, y = xy(0, v)
        out.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' stroke='{GRID}'/>"
            f"<text x='{left - 6}' y='{y + 4:.1f}' font-size='10' text-anchor='end' fill='{INK}'>{_fmt(v)}</text>"
        )
    step = max(1, len(x_labels) // 8)
    for i, label in enumerate(x_labels):
        if i % step == 0 or i == len(x_labels) - 1:
            x, _ = xy(i, lo)
            out.append(
                f"<text x='{x:.1f}' y='{height - 12}' font-size='10' text-anchor='middle' fill='{INK}'>{escape(label)}</text>"
            )
    lx = left
    for j, (name, vs) in enumerate(series):
        color = PALETTE[j % len(PALETTE)]
        points = [xy(i, v) for i, v in enumerate(vs) if v is not None]
        if len(points) == 1:
            x, y = points[0]
            out.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{color}'/>")
        elif points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            out.append(
                f"<polyline class='line' points='{path}' fill='none' stroke='{color}' stroke-width='2.5' "
                f"data-series='{escape(name, {chr(39): '&apos;'})}'/>"
            )
        out.append(
            f"<rect x='{lx}' y='29' width='10' height='10' fill='{color}'/>"
            f"<text x='{lx + 14}' y='38' font-size='11' fill='{INK}'>{escape(_clip(name, 22))}</text>"
        )
        lx += 24 + 7 * min(len(name), 22)
    out.append("</svg>")
    return "".join(out)


def heat(
    grid: Sequence[Sequence[tuple[int, float]]],
    weekdays: Sequence[str],
    title: str,
    *,
    cell: int = 22,
) -> str:
    """Weekday × hour: each cell's shade is its mean interactions against the best cell."""
    left, top = 50, 44
    width, height = left + 24 * cell + 10, top + 7 * cell + 10
    peak = max((m for row in grid for n, m in row if n), default=0) or 1
    out = [_head(width, height, title)]
    out.append(
        f"<text x='10' y='20' font-size='14' font-weight='600' fill='{INK}'>{escape(title)}</text>"
    )
    for h in range(0, 24, 3):
        out.append(
            f"<text x='{left + h * cell + cell / 2:.1f}' y='{top - 6}' font-size='10' text-anchor='middle' fill='{INK}'>{h}h</text>"
        )
    for d, row in enumerate(grid):
        y = top + d * cell
        out.append(
            f"<text x='{left - 6}' y='{y + cell * 0.7:.1f}' font-size='11' text-anchor='end' fill='{INK}'>{escape(weekdays[d])}</text>"
        )
        for h, (n, mean) in enumerate(row):
            x = left + h * cell
            if n:
                share = mean / peak
                fill = _blend(share)
                out.append(
                    f"<rect class='cell' x='{x}' y='{y}' width='{cell - 2}' height='{cell - 2}' fill='{fill}' "
                    f"data-posts='{n}' data-mean='{mean:.1f}'><title>{escape(weekdays[d])} {h}h: {n} · {mean:.1f}</title></rect>"
                )
            else:
                out.append(
                    f"<rect x='{x}' y='{y}' width='{cell - 2}' height='{cell - 2}' fill='#f3f4f6'/>"
                )
    out.append("</svg>")
    return "".join(out)


def _blend(share: float) -> str:
    """From a pale blue (few interactions) to BAR (the best slot)."""
    lo, hi = (219, 234, 254), (37, 99, 235)
    share = max(0.0, min(1.0, share))
    r, g, b = (round(a + (z - a) * share) for a, z in zip(lo, hi, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
