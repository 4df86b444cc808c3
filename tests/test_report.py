"""`cmflow report` on a fixed metrics history: golden files compared whole, plus what a
reader relies on (figures, filters, no fetch in the HTML)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.report_fixture import build

GOLDEN = Path(__file__).parent / "golden" / "report"
PERIOD = ["--since", "2026-11-01", "--until", "2026-11-30"]


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, "utf-8")
    assert path.exists(), f"missing golden file {path}: run with UPDATE_GOLDEN=1"
    assert text == path.read_text("utf-8")


@pytest.mark.parametrize(
    ("language", "fmt", "name"),
    [("fr", "md", "report-fr.md"), ("en", "text", "report-en.txt"), ("fr", "csv", "posts.csv")],
)
def test_golden(tmp_path: Path, language: str, fmt: str, name: str) -> None:
    root = build(tmp_path / "repo", language)
    result = run_cli(["report", *PERIOD, "--format", fmt], root)
    assert result.exit_code == 0, result.output
    check_golden(name, result.stdout)


def test_markdown_charts_are_svg_files_beside_it(tmp_path: Path) -> None:
    root = build(tmp_path / "repo")
    out = tmp_path / "rapports" / "novembre.md"
    result = run_cli(["report", *PERIOD, "--out", str(out)], root)
    assert result.exit_code == 0, result.output
    text = out.read_text("utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert "novembre-charts/channels.svg" in links and "novembre-charts/heat.svg" in links
    for link in links:
        svg = (out.parent / link).read_text("utf-8")
        assert svg.startswith("<svg xmlns='http://www.w3.org/2000/svg'")
    channels = (out.parent / "novembre-charts" / "channels.svg").read_text("utf-8")
    # One bar per channel, its length following its interactions (mastodon 119, bluesky 57).
    bars = dict(re.findall(r"data-label='([^']+)' data-value='(\d+)'", channels))
    assert bars == {"mastodon": "119", "bluesky": "57"}
    check_golden("channels.svg", channels)


def test_html_is_one_file_that_fetches_nothing(tmp_path: Path) -> None:
    root = build(tmp_path / "repo", "en")
    result = run_cli(["report", *PERIOD, "--format", "html"], root)
    assert result.exit_code == 0
    html = result.stdout
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert not re.search(
        r"""(src|href)=["'](?!https://social\.example|https://bsky\.app|#)""", html
    )
    assert html.count("<svg") >= 8
    assert "Engagement rate" in html and "3.78%" in html


def test_filters_by_channel_and_campaign(tmp_path: Path) -> None:
    root = build(tmp_path / "repo", "en")
    result = run_cli(["report", *PERIOD, "--format", "csv", "--campaign", "lancement"], root)
    lines = result.stdout.splitlines()[1:]
    assert [line.split(",")[1] for line in lines] == ["bluesky", "mastodon"]
    assert all(",lancement," in line for line in lines)
    result = run_cli(["report", *PERIOD, "--format", "csv", "--channel", "bluesky"], root)
    assert {line.split(",")[1] for line in result.stdout.splitlines()[1:]} == {"bluesky"}
    result = run_cli(["report", *PERIOD, "--channel", "mastodom"], root)
    assert result.exit_code == 2 and "did you mean 'mastodon'" in result.output


def test_failed_snapshots_never_count_and_latest_wins(tmp_path: Path) -> None:
    root = build(tmp_path / "repo", "en")
    result = run_cli(["report", *PERIOD, "--format", "csv"], root)
    rows = {tuple(line.split(",")[1:4:2]): line for line in result.stdout.splitlines()[1:]}
    # lancement on mastodon: 24h ok (40/12/9), then a failed 7d fetch: the 24h figures stand.
    assert ",24h,40,12,9," in rows[("mastodon", "lancement")]


def test_bad_dates_are_usage_errors(tmp_path: Path) -> None:
    root = build(tmp_path / "repo", "en")
    result = run_cli(["report", "--since", "hier"], root)
    assert result.exit_code == 2 and "2026-11-24" in result.output


def test_rows_a_merge_left_behind_are_skipped_and_named(tmp_path: Path) -> None:
    root = build(tmp_path / "repo", "en")
    month = root / "data" / "metrics" / "posts" / "2026-11.csv"
    lines = month.read_text("utf-8").splitlines()
    header = lines[0]
    # A union merge repeats the header; a conflict left its markers and a cut line.
    month.write_text(
        "\n".join([*lines[:3], header, "<<<<<<< HEAD", *lines[3:], "=======", "2026-11-20,cut"])
        + "\n",
        "utf-8",
    )
    result = run_cli(["report", *PERIOD, "--format", "text"], root)
    assert result.exit_code == 0, result.output
    assert "data/metrics/posts/2026-11.csv:5: malformed row skipped" in result.stdout
    summary = result.stdout.split("By channel")[0]
    assert " 176 " in summary  # every good row still counted


def test_at_sets_the_day_the_default_period_ends(tmp_path: Path) -> None:
    """`--at` is the run's one clock, as for validate and plan: without --until the report
    ends that day (a report re-run later for the month that was), never the machine's."""
    root = build(tmp_path / "repo", "en")
    at = run_cli(
        ["report", "--since", "2026-11-01", "--at", "2026-11-30 18:00", "--format", "text"], root
    )
    until = run_cli(["report", *PERIOD, "--format", "text"], root)
    assert at.exit_code == 0, at.output
    assert at.stdout == until.stdout
    bad = run_cli(["report", "--at", "demain"], root)
    assert bad.exit_code != 0 and "--at" in bad.output
