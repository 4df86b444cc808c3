"""Site traffic (GA4) and competitors, collected beside the brand's metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import metrics_repo as mr
from tests.conftest import run_cli
from tests.fakes import FakeMastodon
from tests.fakes.appview import FakeAppView
from tests.fakes.ga4 import FakeGA4

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GA_TOKEN = "ya29.ga-S3cr3t-token"
GA_ENV = "CMFLOW_GA_TOKEN"


@pytest.fixture
def servers() -> Iterator[tuple[FakeMastodon, FakeAppView, FakeGA4]]:
    with FakeMastodon(token=mr.TOKEN) as m, FakeAppView() as a, FakeGA4(GA_TOKEN) as g:
        yield m, a, g
        assert not (m.errors or a.errors or g.errors)


def repo(tmp_path: Path, m: FakeMastodon, a: FakeAppView, g: FakeGA4, lookback: int = 3) -> Path:
    extra = f"""\
analytics:
  property: "123456"
  token_env: {GA_ENV}
  base_url: {g.url_v1beta}
  lookback: {lookback}
competitors:
  rival:
    name: Rival SA
    bluesky: rival.test
    mastodon: rival@rival.example
    mastodon_url: {m.url}
"""
    return mr.make(tmp_path / "repo", m.url, a.url, extra)


def collect(root: Path, at: datetime, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    base = {mr.TOKEN_ENV: mr.TOKEN, GA_ENV: GA_TOKEN}
    return run_cli(["metrics", "collect", "--at", mr.iso(at)], root, env={**base, **(env or {})})


def test_ga4_daily_sessions_per_campaign(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    m, a, g = servers
    root = repo(tmp_path, m, a, g)
    g.add("2026-11-22", "mastodon", "social", "atelier-2026", 40, 25, 3)
    g.add("2026-11-23", "bluesky", "social", "atelier-2026", 10, 6, 1)
    g.add("2026-11-24", "bluesky", "social", "atelier-2026", 99, 99, 9)  # today: not complete
    result = collect(root, NOW)
    assert result.exit_code == 0, result.output
    (body,) = g.bodies
    assert body["dateRanges"] == [{"startDate": "2026-10-27", "endDate": "2026-11-23"}]
    assert [d["name"] for d in body["dimensions"]] == [
        "date",
        "sessionSource",
        "sessionMedium",
        "sessionCampaignName",
    ]
    assert [x["name"] for x in body["metrics"]] == ["sessions", "engagedSessions", "keyEvents"]
    site = mr.rows(root, "site")
    assert [
        (r["date"], r["source"], r["campaign"], r["sessions"], r["key_events"]) for r in site
    ] == [
        ("2026-11-22", "mastodon", "atelier-2026", "40", "3"),
        ("2026-11-23", "bluesky", "atelier-2026", "10", "1"),
    ]
    # Once a day: a second run the same day asks nothing.
    collect(root, NOW + timedelta(hours=2))
    assert len(g.bodies) == 1
    # The next day re-reads the last `lookback` days (GA4 revises them).
    collect(root, NOW + timedelta(days=1))
    assert g.bodies[-1]["dateRanges"] == [{"startDate": "2026-11-21", "endDate": "2026-11-24"}]


def test_ga4_quota_and_refused_token_write_no_figures(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    m, a, g = servers
    root = repo(tmp_path, m, a, g)
    g.add("2026-11-22", "mastodon", "social", "atelier-2026", 40, 25, 3)
    g.exhausted = True
    result = collect(root, NOW)
    assert result.exit_code == 0, result.output  # a quota is transient: next run
    assert "quota" in result.output
    (row,) = mr.rows(root, "site")
    assert (row["status"], row["sessions"], row["key_events"]) == ("deferred", "", "")
    g.exhausted = False
    result = collect(root, NOW + timedelta(hours=1), env={GA_ENV: "expired"})
    assert result.exit_code == 1
    assert GA_ENV in result.output and "expired" not in result.output
    assert mr.rows(root, "site")[-1]["status"] == "refused"
    collect(root, NOW + timedelta(hours=2))
    assert mr.rows(root, "site")[-1]["sessions"] == "40"


def test_competitors_followers_and_posts_on_the_schedule(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    m, a, g = servers
    root = repo(tmp_path, m, a, g)
    a.add_profile("rival.test", followers=1200)
    a.add_profile(mr.HANDLE, followers=80)
    a.add_post(
        "rival.test",
        "3kriv1",
        created_at=(NOW - timedelta(hours=30)).timestamp(),
        likes=40,
        reposts=5,
    )
    a.add_post(
        "rival.test", "3kriv2", created_at=(NOW - timedelta(minutes=20)).timestamp(), likes=1
    )
    m.add_account("rival@rival.example", followers=300)
    m.add_other_status(
        "rival@rival.example", (NOW - timedelta(days=8)).timestamp(), likes=9, reposts=2, replies=1
    )
    result = collect(root, NOW)
    assert result.exit_code == 0, result.output
    accounts = {
        (r["kind"], r["name"], r["platform"]): r["followers"] for r in mr.rows(root, "accounts")
    }
    assert accounts[("competitor", "rival", "bluesky")] == "1200"
    assert accounts[("competitor", "rival", "mastodon")] == "300"
    posts = sorted((r["platform"], r["age"], r["likes"]) for r in mr.rows(root, "competitors"))
    # The 20-minute-old post is not due yet.
    assert posts == [("bluesky", "24h", "40"), ("mastodon", "7d", "9")]
    collect(root, NOW + timedelta(hours=1))
    posts = sorted((r["platform"], r["age"]) for r in mr.rows(root, "competitors"))
    assert posts == [("bluesky", "1h"), ("bluesky", "24h"), ("mastodon", "7d")]
    assert all("Authorization" not in r.headers for r in a.requests)
