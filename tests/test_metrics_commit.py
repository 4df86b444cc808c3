"""`cmflow metrics collect --commit` with a real bare remote: snapshots are committed and
pushed; when another run pushed rows to the same month file meanwhile, the push is retried
on top of it and both runs' rows are kept."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from tests import metrics_repo as mr
from tests.conftest import run_main
from tests.fakes import FakeMastodon
from tests.fakes.appview import FakeAppView
from tests.fakes.base import Recorded, Response

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def clone(remote: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote), str(where)], check=True)
    return where


def setup_remote(tmp_path: Path, masto: FakeMastodon, appview: FakeAppView, ids: list[str]) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    seed = mr.make(tmp_path / "seed", masto.url, appview.url)
    for i, sid in enumerate(ids):
        mr.record(seed, f"post-{i}", "mastodon", "mastodon", [sid], NOW - timedelta(hours=2))
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "seed")
    git(seed, "push", "-q", str(remote), "main")
    return remote


def toot(masto: FakeMastodon, text: str) -> str:
    r = requests.post(
        f"{masto.url}/api/v1/statuses",
        data={"status": text},
        headers={"Authorization": f"Bearer {mr.TOKEN}"},
        timeout=5,
    )
    return str(r.json()["id"])


def remote_rows(remote: Path, tmp_path: Path) -> list[dict[str, str]]:
    check = clone(remote, tmp_path / f"check-{len(list(tmp_path.iterdir()))}")
    return mr.rows(check, "posts")


def test_commit_pushes_snapshots(tmp_path: Path) -> None:
    with FakeMastodon(token=mr.TOKEN) as masto, FakeAppView() as appview:
        sid = toot(masto, "un")
        masto.set_counts(sid, favourites=4)
        remote = setup_remote(tmp_path, masto, appview, [sid])
        work = clone(remote, tmp_path / "ci")
        done = run_main(
            ["metrics", "collect", "--at", mr.iso(NOW), "--commit"],
            work,
            env={mr.TOKEN_ENV: mr.TOKEN},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "committed and pushed" in done.stdout
        rows = remote_rows(remote, tmp_path)
        assert [(r["post"], r["likes"]) for r in rows] == [("post-0", "4")]
        log = git(remote, "log", "--format=%s", "main")
        assert log.splitlines()[0].startswith("cmflow: metrics snapshots 2026-11-24T12:00:00Z")
        files = git(remote, "ls-tree", "-r", "--name-only", "main")
        assert "data/metrics/.gitattributes" in files
        assert mr.TOKEN not in git(remote, "log", "-p", "main")


class RacingMastodon(FakeMastodon):
    """Another CI run pushes its own snapshot row while this one is reading counts."""

    other: Path | None = None

    def process(self, req: Recorded) -> Response:
        # Only the statuses read triggers it (the account read may come first: the collector
        # reads both at once).
        other = self.other if req.path == "/api/v1/statuses" else None
        if other is not None:
            self.other = None
            month = other / "data" / "metrics" / "posts" / "2026-11.csv"
            month.parent.mkdir(parents=True, exist_ok=True)
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            from cmflow.metrics.store import POST_COLUMNS

            w.writerow(POST_COLUMNS)
            w.writerow(
                [
                    "2026-11-24T11:00:00Z",
                    "mastodon",
                    "mastodon",
                    "autre",
                    "9",
                    "",
                    "2026-11-24T09:00:00Z",
                    "1h",
                    "ok",
                    "2",
                ]
                + [""] * 9
            )
            month.write_text(buf.getvalue(), "utf-8")
            git(other, "add", "-A")
            git(other, "commit", "-qm", "the other run's snapshot")
            git(other, "push", "-q", "origin", "main")
        return super().process(req)


def test_push_race_keeps_both_runs_rows(tmp_path: Path) -> None:
    with RacingMastodon(token=mr.TOKEN) as masto, FakeAppView() as appview:
        sid = toot(masto, "un")
        masto.set_counts(sid, favourites=7)
        remote = setup_remote(tmp_path, masto, appview, [sid])
        work = clone(remote, tmp_path / "ci")
        masto.other = clone(remote, tmp_path / "other")
        done = run_main(
            ["metrics", "collect", "--at", mr.iso(NOW), "--commit"],
            work,
            env={mr.TOKEN_ENV: mr.TOKEN},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert masto.other is None  # the race happened
        rows = remote_rows(remote, tmp_path)
        assert sorted((r["post"], r["likes"]) for r in rows) == [("autre", "2"), ("post-0", "7")]
        # One header: our rows were appended to the other run's file, not a second table.
        text = git(remote, "show", "main:data/metrics/posts/2026-11.csv")
        assert text.count("collected_at") == 1
