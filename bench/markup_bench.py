"""Is rendering linear? Prints time against size for pathological bodies; asserts nothing.

    python bench/markup_bench.py            # to_plain at 100/200/400/800 KB, to_html at 25..200 KB
    python bench/markup_bench.py --html-full  # to_html at 100/200/400/800 KB too (minutes)

Linear means each column about doubles with the size. `to_plain` (every post, every social
channel, at validation) must stay linear whatever the body: before, 80 KB of ``\\*`` took 8 s.
`to_html` (feeds) is markdown-it-py then nh3: linear too, with a larger constant (pure Python).
The last line times `to_plain` on a typical French post, the hot path of `cmflow validate`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cmflow.markup import to_html, to_plain

PATTERNS = {
    "\\*": "\\*",
    "*a": "*a ",
    "_a": "_a ",
    "~~a": "~~a ",
    "a*": "a* ",
    "[": "[",
    "[a](": "[a](",
    "`a": "`a ",
    "<": "<",
    "<a": "<a ",
    "thread": "x\n<!-- thread -->\n",
    "nested []": "",
    "nested *": "",
}

TYPICAL = (
    "Notre **atelier** ligne éditoriale revient le 12 mars ! Au programme : *calendrier*, "
    "formats et [inscription](https://exemple.fr/atelier?utm_source=x).\n\n"
    "- atelier « ligne éditoriale »\n- table ronde https://cap-social.fr/equipe\n\n"
    "#communitymanagement #cm_lyon"
)


def body(name: str, size: int) -> str:
    if name == "nested []":
        return "[" * (size // 2) + "]" * (size // 2)
    if name == "nested *":
        return "*a " * (size // 6) + "b" + " a*" * (size // 6)
    pattern = PATTERNS[name]
    return pattern * (size // len(pattern))


def timed(function: Callable[[str], str], text: str) -> float:
    start = time.perf_counter()
    function(text)
    return time.perf_counter() - start


def table(title: str, function: Callable[[str], str], sizes: list[int]) -> None:
    print(f"{title}: seconds by body size")
    print(f"{'pattern':12}" + "".join(f"{s // 1000:>8} KB" for s in sizes))
    for name in PATTERNS:
        cells = [timed(function, body(name, size)) for size in sizes]
        print(f"{name:12}" + "".join(f"{c:11.3f}" for c in cells), flush=True)


def main() -> None:
    table("to_plain", to_plain, [100_000, 200_000, 400_000, 800_000])
    html_sizes = [25_000, 50_000, 100_000, 200_000]
    if "--html-full" in sys.argv:
        html_sizes = [100_000, 200_000, 400_000, 800_000]
    table("to_html", to_html, html_sizes)
    runs = 2000
    start = time.perf_counter()
    for _ in range(runs):
        to_plain(TYPICAL)
    print(
        f"to_plain, typical post ({len(TYPICAL)} chars): {(time.perf_counter() - start) / runs * 1e6:.1f} µs"
    )


if __name__ == "__main__":
    main()
