"""The HTML report opened in a real browser (headless Chromium, offline): its numbers are
in the page and its bars are drawn to scale.

Skipped, saying so, where Chromium is not installed (`.ci/run` installs Debian's
`chromium` when it can)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.pngread import read_png
from tests.report_fixture import build

BROWSER = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="headless Chromium is not installed (Debian: apt-get install chromium; .ci/run does it)",
)
BAR = (37, 99, 235)  # cmflow.report.charts.BAR


def browse(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    assert BROWSER is not None
    return subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--force-device-scale-factor=1",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


@pytest.fixture
def page(tmp_path: Path) -> Path:
    root = build(tmp_path / "repo", "en")
    out = tmp_path / "report.html"
    result = run_cli(
        [
            "report",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-30",
            "--format",
            "html",
            "--out",
            str(out),
        ],
        root,
    )
    assert result.exit_code == 0, result.output
    return out


def test_dom_holds_the_figures(tmp_path: Path, page: Path) -> None:
    done = browse(tmp_path, page, "--dump-dom")
    dom = done.stdout.decode("utf-8")
    assert done.returncode == 0 and "<svg" in dom, done.stderr.decode()[-500:]
    for text in ("Engagement rate", "3.78%", "Rival SA", "Le nouveau produit est là.", "82"):
        assert text in dom
    assert 'data-label="mastodon" data-value="119"' in dom


def test_screenshot_shows_bars_to_scale(tmp_path: Path, page: Path) -> None:
    shot = tmp_path / "shot.png"
    done = browse(tmp_path, page, "--window-size=1000,900", f"--screenshot={shot}")
    assert shot.exists(), done.stderr.decode()[-500:]
    width, height, rows = read_png(shot.read_bytes())
    assert (width, height) == (1000, 900)
    # Runs of the bar colour per pixel row, grouped into bars (consecutive rows).
    bars: list[int] = []
    in_bar = False
    for row in rows:
        longest = run = 0
        for x in range(width):
            px = tuple(row[x * 3 : x * 3 + 3])
            run = run + 1 if all(abs(a - b) <= 6 for a, b in zip(px, BAR, strict=True)) else 0
            longest = max(longest, run)
        if longest >= 20 and not in_bar:
            bars.append(longest)
        in_bar = longest >= 20
    assert len(bars) >= 2, "no chart bars on screen"
    mastodon, bluesky = bars[:2]
    assert abs(mastodon / bluesky - 119 / 57) < 0.06, (mastodon, bluesky)
