"""`cmflow metrics collect` against loopback Mastodon and Bluesky AppView servers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests import metrics_repo as mr
from tests.conftest import run_cli
from tests.fakes import FakeMastodon
from tests.fakes.appview import FakeAppView

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def servers() -> Iterator[tuple[FakeMastodon, FakeAppView]]:
    with FakeMastodon(token=mr.TOKEN) as masto, FakeAppView() as appview:
        yield masto, appview
        assert not masto.errors and not appview.errors


def toot(masto: FakeMastodon, text: str) -> str:
    r = requests.post(
        f"{masto.url}/api/v1/statuses",
        data={"status": text},
        headers={"Authorization": f"Bearer {mr.TOKEN}"},
        timeout=5,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def collect(root: Path, at: datetime, *extra: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_cli(
        ["metrics", "collect", "--at", mr.iso(at), *extra],
        root,
        env={mr.TOKEN_ENV: mr.TOKEN, **(env or {})},
    )


def test_snapshots_counts_and_followers_per_platform(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    masto, appview = servers
    root = mr.make(tmp_path / "repo", masto.url, appview.url)
    a = toot(masto, "Atelier")
    masto.set_counts(a, favourites=12, reblogs=3, replies=2)
    masto.followers_count = 250
    appview.add_profile(mr.HANDLE, followers=80)
    uri = appview.add_post(mr.HANDLE, "3kabc", likes=7, reposts=1, replies=4, quotes=2, saves=1)
    mr.record(root, "atelier", "mastodon", "mastodon", [a], NOW - timedelta(hours=25))
    mr.record(root, "atelier", "bluesky", "bluesky", [uri], NOW - timedelta(hours=30))
    mr.record(root, "atelier", "discord", "discord", ["999"], NOW - timedelta(hours=30))

    result = collect(root, NOW)
    assert result.exit_code == 0, result.output
    assert "discord (discord): no metrics" in result.output
    assert "site (feed): no metrics" in result.output

    posts = {r["channel"]: r for r in mr.rows(root, "posts")}
    assert set(posts) == {"mastodon", "bluesky"}
    m = posts["mastodon"]
    assert (m["age"], m["status"], m["likes"], m["reposts"], m["replies"]) == (
        "24h",
        "ok",
        "12",
        "3",
        "2",
    )
    assert m["impressions"] == ""  # Mastodon gives none: empty, never 0
    b = posts["bluesky"]
    assert (b["likes"], b["reposts"], b["replies"], b["quotes"], b["saves"]) == (
        "7",
        "1",
        "4",
        "2",
        "1",
    )
    accounts = {r["name"]: r for r in mr.rows(root, "accounts")}
    assert accounts["mastodon"]["followers"] == "250"
    assert accounts["bluesky"]["followers"] == "80"
    # One batch call per platform, not one per post.
    assert len(masto.requests_to("GET", r"^/api/v1/statuses$")) == 1
    assert len(appview.requests_to("GET", r"^/xrpc/app\.bsky\.feed\.getPosts$")) == 1
    attrs = (root / "data" / "metrics" / ".gitattributes").read_text()
    assert "merge=union" in attrs

    # Same run again: nothing due, nothing asked, nothing written.
    before = len(masto.requests)
    result = collect(root, NOW + timedelta(minutes=5))
    assert result.exit_code == 0
    assert len(mr.rows(root, "posts")) == 2
    assert len(masto.requests) == before


def test_age_schedule_points_and_late_runs(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    masto, appview = servers
    root = mr.make(tmp_path / "repo", masto.url, appview.url)
    a = toot(masto, "Un")
    published = NOW
    mr.record(root, "un", "mastodon", "mastodon", [a], published)

    def ages() -> list[str]:
        return [r["age"] for r in mr.rows(root, "posts")]

    assert collect(root, published + timedelta(minutes=30)).exit_code == 0
    assert ages() == []  # not yet 1h old
    masto.set_counts(a, favourites=1)
    collect(root, published + timedelta(hours=1, minutes=5))
    assert ages() == ["1h"]
    # A late run (the cron skipped a day): the 7d point, not a stale "24h".
    masto.set_counts(a, favourites=9)
    collect(root, published + timedelta(days=8))
    assert ages() == ["1h", "7d"]
    collect(root, published + timedelta(days=31))
    collect(root, published + timedelta(days=45))
    assert ages() == ["1h", "7d", "30d"]
    # Past the last window: never asked again.
    n = len(masto.requests_to("GET", r"^/api/v1/statuses$"))
    collect(root, published + timedelta(days=90))
    assert len(masto.requests_to("GET", r"^/api/v1/statuses$")) == n
    assert [r["likes"] for r in mr.rows(root, "posts")] == ["1", "9", "9"]


def test_failed_fetch_is_recorded_never_as_zeros_and_retried(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    masto, appview = servers
    root = mr.make(tmp_path / "repo", masto.url, appview.url)
    a = toot(masto, "Un")
    masto.set_counts(a, favourites=5)
    mr.record(root, "un", "mastodon", "mastodon", [a], NOW - timedelta(hours=2))
    masto.inject("GET", r"^/api/v1/statuses$", status_fault(503), times=3)
    result = collect(root, NOW)
    assert result.exit_code == 0, result.output  # transient: retried next run, not a red CI
    (row,) = mr.rows(root, "posts")
    assert row["status"] == "failed" and "503" in row["note"]
    assert all(row[k] == "" for k in ("likes", "reposts", "replies", "quotes"))
    # Next run: the same point is asked again and captured.
    collect(root, NOW + timedelta(minutes=20))
    got = mr.rows(root, "posts")
    assert [(r["age"], r["status"], r["likes"]) for r in got] == [
        ("1h", "failed", ""),
        ("1h", "ok", "5"),
    ]


def status_fault(code: int):  # type: ignore[no-untyped-def]
    from tests.fakes import Fault

    return Fault.status(code, {"error": "Service Unavailable"})


def test_expired_token_names_the_variable_and_other_channels_go_on(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    masto, appview = servers
    root = mr.make(tmp_path / "repo", masto.url, appview.url)
    a = toot(masto, "Un")
    uri = appview.add_post(mr.HANDLE, "3kxyz", likes=3)
    mr.record(root, "un", "mastodon", "mastodon", [a], NOW - timedelta(hours=2))
    mr.record(root, "un", "bluesky", "bluesky", [uri], NOW - timedelta(hours=2))
    result = collect(root, NOW, env={mr.TOKEN_ENV: "expired-token"})
    assert result.exit_code == 1
    assert mr.TOKEN_ENV in result.output and "refused" in result.output
    assert "expired-token" not in result.output
    got = {r["channel"]: r for r in mr.rows(root, "posts")}
    assert got["mastodon"]["status"] == "refused" and got["mastodon"]["likes"] == ""
    assert got["bluesky"]["status"] == "ok" and got["bluesky"]["likes"] == "3"


def test_missing_credential_is_named(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    masto, appview = servers
    root = mr.make(tmp_path / "repo", masto.url, appview.url)
    mr.record(root, "un", "mastodon", "mastodon", ["1"], NOW - timedelta(hours=2))
    result = run_cli(["metrics", "collect", "--at", mr.iso(NOW)], root, env={})
    assert result.exit_code == 1
    assert f"needs credentials: set {mr.TOKEN_ENV}" in result.output


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_missing_or_refused_credentials_fail_the_run_in_either_language(  # type: ignore[no-untyped-def]
    tmp_path: Path, servers, lang: str
) -> None:
    # The daily metrics job must go red when a token is missing or expired, whatever
    # language the brand reads cmflow in (it once told them apart by the English words).
    masto, appview = servers
    root = mr.make(tmp_path / "repo", masto.url, appview.url)
    missing = run_cli(["metrics", "collect", "--at", mr.iso(NOW)], root, env={"CMFLOW_LANG": lang})
    assert missing.exit_code == 1, missing.output
    assert mr.TOKEN_ENV in missing.output
    # Only the account's followers are due (no post published yet): refused.
    refused = collect(root, NOW, env={mr.TOKEN_ENV: "expired-token", "CMFLOW_LANG": lang})
    assert refused.exit_code == 1, refused.output
    assert mr.TOKEN_ENV in refused.output and "expired-token" not in refused.output
    assert [r["status"] for r in mr.rows(root, "accounts") if r["platform"] == "mastodon"] == [
        "refused"
    ]
    fine = collect(root, NOW + timedelta(hours=1), env={"CMFLOW_LANG": lang})
    assert fine.exit_code == 0, fine.output


def test_older_mastodon_without_batch_endpoint_and_threads(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    masto, appview = servers
    masto.batch_statuses = False
    root = mr.make(tmp_path / "repo", masto.url, appview.url)
    parts = [toot(masto, f"part {i}") for i in range(3)]
    for i, sid in enumerate(parts):
        masto.set_counts(sid, favourites=i + 1, reblogs=1)
    mr.record(root, "fil", "mastodon", "mastodon", parts, NOW - timedelta(hours=2))
    assert collect(root, NOW).exit_code == 0
    (row,) = mr.rows(root, "posts")
    assert (row["likes"], row["reposts"], row["note"]) == ("6", "3", "thread")
    assert len(masto.requests_to("GET", r"^/api/v1/statuses/\d+$")) == 3


def test_rate_limit_defers_the_rest_without_rows(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    masto, appview = servers
    masto.batch_statuses = False
    root = mr.make(tmp_path / "repo", masto.url, appview.url)
    ids = [toot(masto, f"p{i}") for i in range(20)]
    masto.rate_limit(14, reset_in=300)  # a fresh window: 14 requests left
    for i, sid in enumerate(ids):
        mr.record(root, f"p{i}", "mastodon", "mastodon", [sid], NOW - timedelta(hours=2))
    result = collect(root, NOW)
    assert result.exit_code == 0, result.output
    assert "deferred" in result.output
    got = mr.rows(root, "posts")
    # The gate keeps 10 requests of the window for publishing: a few pairs were read, the
    # others were not asked and have no row (the next run asks them).
    assert 0 < len(got) < 20
    assert all(r["status"] == "ok" for r in got)
    assert all(r.status != 429 for r in masto.requests)
    masto.rate_limit(None)
    collect(root, NOW + timedelta(minutes=10))
    assert len(mr.rows(root, "posts")) == 20


def test_bad_metrics_settings_name_line_and_column(tmp_path: Path) -> None:
    root = mr.make(tmp_path / "repo", "https://m.example", "https://a.example")
    text = (root / "channels.yaml").read_text("utf-8")
    text = text.replace("schedule: [1h, 24h, 7d, 30d]", "schedule: [24h, 1h, bientôt]")
    text += "competitors:\n  rival:\n    mastodon: rival\n"
    (root / "channels.yaml").write_text(text, "utf-8")
    result = run_cli(["metrics", "collect", "--at", mr.iso(NOW)], root, env={})
    assert result.exit_code == 2
    out = result.output
    assert "channels.yaml:6:" in out and "increasing order" in out
    assert "bientôt" in out
    assert "rival@mastodon.social" in out
