"""Whose claim is it, and is that run still alive? One clock per run, claims that name their
process, and the run lock of a checkout — through the real `cmflow` in subprocesses, real
git clones of a real bare remote, and loopback platforms.

- `--at` moves the schedule only: a claim's lease runs on the real clock, so a run `--at`
  the past neither waits for a lease for ever nor ends one early;
- a claim whose process is gone (SIGKILL) on this machine is reconciled at once, and one
  from an earlier GitHub Actions run too; a live run's claims are left alone;
- two runs in one checkout never overlap (flock); the lock is never committed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cmflow.ledger import parse_time
from tests.fakes import Fault
from tests.publishing import (
    Fakes,
    Site,
    ago,
    another_clone,
    created,
    from_now,
    git,
    init_remote,
    own_text,
    post,
    pushed_site,
    remote_record,
    site,
    wait_until,
)

STATUSES = r"^/api/v1/statuses$"


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return init_remote(tmp_path / "remote.git")


def one_post(tmp_path: Path, fakes: Fakes, marker: str) -> Site:
    return site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], f"Un post {marker}", date=ago(hours=3))},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )


def killed_after_the_platform_accepted(s: Site, fakes: Fakes, at: Any) -> dict[str, Any]:
    """Start `cmflow publish --at AT`, let Mastodon create the status and stall, SIGKILL the
    run: the record holds the claim, and nothing else."""
    fakes.mastodon.inject("POST", STATUSES, Fault.stall_after_commit(30))
    running = s.start("publish", at=at)
    wait_until(lambda: fakes.mastodon.created == 1, what="the status to be created")
    assert running.kill().code == -9
    entry = s.record("a", "mastodon")
    assert entry is not None and entry["state"] == "claimed", entry
    assert entry["claimer"]["pid"] == running.proc.pid
    return entry


def edit_record(s: Site, post_id: str, channel: str, **changes: Any) -> None:
    path = s.root / "data" / "record" / post_id / f"{channel}.json"
    data = json.loads(path.read_text("utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def stamp(delta: timedelta) -> str:
    return (from_now() + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- one clock: --at moves the schedule, not the lease ---------------------------------------


def test_a_run_killed_at_a_past_time_is_reconciled_by_a_rerun_at_the_same_time(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = one_post(tmp_path, fakes, "clk-a")
    at = ago(hours=1)  # a catch-up run, as of an hour ago: the post was due then
    entry = killed_after_the_platform_accepted(s, fakes, at)
    claimed = parse_time(entry["claimed_at"])
    assert claimed is not None and claimed > at + timedelta(minutes=50)  # real time, not --at

    # The same --at again (the kernel dropped the dead run's lock): not "in progress" for
    # ever, but reconciled, through the idempotency key: the one status is adopted.
    assert s.actions(at=at)[("a", "mastodon")] == "reconcile"
    rerun = s.publish(at=at)
    assert rerun.code == 0, rerun
    assert "published" in rerun.stdout
    assert fakes.mastodon.created == 1 and created(fakes.mastodon, "clk-a") == 1
    done = s.record("a", "mastodon")
    assert done is not None and done["state"] == "published"
    assert done["parts"][0]["id"] == fakes.mastodon.posts[0]["id"]
    s.assert_no_secret()


def test_the_lease_of_a_claim_from_another_machine_runs_on_the_real_clock(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = one_post(tmp_path, fakes, "clk-b")
    killed_after_the_platform_accepted(s, fakes, ago(minutes=1))
    # As if a runner elsewhere had claimed it just now: its process cannot be checked.
    edit_record(
        s, "a", "mastodon", claimer={"host": "runner-ailleurs", "pid": 4242, "space": "x/1"}
    )
    # --at hours ahead does not end the lease: the other run may still be sending.
    assert s.actions(at=from_now(hours=2))[("a", "mastodon")] == "wait"
    assert s.publish(at=from_now(hours=2)).code == 0
    assert len(fakes.mastodon.requests_to("POST", STATUSES)) == 1

    # 31 real minutes later (written into the claim), even a run --at the past reconciles.
    edit_record(s, "a", "mastodon", claimed_at=stamp(-timedelta(minutes=31)))
    edit_record(s, "a", "mastodon", leased_at=stamp(-timedelta(minutes=31)))
    assert s.actions(at=ago(hours=1))[("a", "mastodon")] == "reconcile"
    rerun = s.publish(at=ago(hours=1))
    assert rerun.code == 0, rerun
    assert s.state("a", "mastodon") == "published"
    assert fakes.mastodon.created == 1
    s.assert_no_secret()


def test_a_local_run_killed_mid_queue_leaves_the_posts_it_never_started_unclaimed(
    tmp_path: Path, fakes: Fakes
) -> None:
    """Without --commit nothing is pushed, so each pair is claimed right before it is sent:
    a run killed while Discord holds the first post leaves the next two free, and the next
    run sends them. Claimed ahead, they would look possibly sent, and a webhook cannot be
    asked: a person would have had to check each of them."""
    s = site(
        tmp_path / "repo",
        fakes.channels("discord"),
        {
            f"{name}.md": post(["discord"], f"File d'attente {name}", date=ago(hours=hours))
            for name, hours in (("a", 3), ("b", 2), ("c", 1))
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    fakes.discord.inject("POST", r"^/api/webhooks/", Fault.stall_after_commit(30))
    running = s.start("publish")
    wait_until(lambda: fakes.discord.created == 1, what="the first message to be created")
    assert running.kill().code == -9
    first = s.record("a", "discord")
    assert first is not None and first["state"] == "claimed" and first["in_flight"] == 0
    assert s.record("b", "discord") is None and s.record("c", "discord") is None

    rerun = s.publish()
    assert rerun.code == 1, rerun  # the first one: a person checks Discord
    assert s.state("a", "discord") == "needs_human"
    assert s.state("b", "discord") == s.state("c", "discord") == "published"
    assert fakes.discord.created == 3
    assert [own_text(m) for m in fakes.discord.posts][1:] == [
        "File d'attente b",
        "File d'attente c",
    ]
    s.assert_no_secret()


# -- GitHub Actions: the concurrency group says an earlier run has ended --------------------------


@pytest.mark.parametrize(
    ("run_id", "attempt", "expected"),
    [
        (None, None, "wait"),  # not in Actions: the lease
        ("100", "1", "wait"),  # the same run and attempt: may be this job's earlier step
        ("101", "1", "reconcile"),  # a later run: the one that claimed has ended
        ("100", "2", "reconcile"),  # a re-run of the same workflow run
    ],
)
def test_a_claim_from_an_earlier_workflow_run_is_reconciled_at_once(
    tmp_path: Path, fakes: Fakes, run_id: str | None, attempt: str | None, expected: str
) -> None:
    s = one_post(tmp_path, fakes, "gh")
    killed_after_the_platform_accepted(s, fakes, ago(minutes=1))
    edit_record(
        s,
        "a",
        "mastodon",
        claimer={"host": "fv-az-runner", "pid": 2001, "space": "y/2", "github_run": "100/1"},
    )
    if run_id is not None:
        s.env.update(GITHUB_ACTIONS="true", GITHUB_RUN_ID=run_id, GITHUB_RUN_ATTEMPT=attempt or "")
    assert s.actions(at=from_now(minutes=1))[("a", "mastodon")] == expected
    result = s.publish("--format", "json", at=from_now(minutes=1))
    assert result.code == 0, result
    assert s.state("a", "mastodon") == ("published" if expected == "reconcile" else "claimed")
    assert fakes.mastodon.created == 1


def test_a_claim_made_in_actions_records_the_workflow_run(tmp_path: Path, fakes: Fakes) -> None:
    s = one_post(tmp_path, fakes, "gh-rec")
    s.env.update(GITHUB_ACTIONS="true", GITHUB_RUN_ID="555", GITHUB_RUN_ATTEMPT="3")
    entry = killed_after_the_platform_accepted(s, fakes, ago(minutes=1))
    assert entry["claimer"]["github_run"] == "555/3"
    assert entry["claimer"]["host"]


# -- two live runs on one machine ---------------------------------------------------------------


def test_a_live_run_in_another_checkout_keeps_its_claims(
    tmp_path: Path, fakes: Fakes, remote: Path
) -> None:
    a = pushed_site(
        remote,
        tmp_path / "ci-a",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Lent live-a", date=ago(hours=1))},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    # A is blocked in a slow server after its claim was pushed and the status created.
    fakes.mastodon.inject("POST", STATUSES, Fault.stall_after_commit(8))
    first = a.start("publish", "--commit", at=from_now(minutes=1))
    wait_until(lambda: fakes.mastodon.created == 1, what="A's status to be created")
    claim = remote_record(remote, "a", "mastodon")
    assert claim is not None and claim["state"] == "claimed"

    b = another_clone(a, remote, tmp_path / "ci-b")
    assert b.actions(at=from_now(minutes=1))[("a", "mastodon")] == "wait"
    second = b.publish("--commit", "--format", "json", at=from_now(minutes=1))
    assert second.code == 0, second
    (row,) = second.json()["results"]
    # On Linux the claim's process is seen running (/proc); elsewhere the lease holds.
    assert row["state"] == "wait" and "in progress" in row["message"], row
    assert remote_record(remote, "a", "mastodon") == claim  # B did not touch it
    assert len(fakes.mastodon.requests_to("POST", STATUSES)) == 1

    done = first.wait()
    assert done.code == 0, done
    entry = remote_record(remote, "a", "mastodon")
    assert entry is not None and entry["state"] == "published"
    assert fakes.mastodon.created == 1
    # The run lock never reaches the repository.
    files = git(remote, "ls-tree", "-r", "--name-only", "main")
    assert ".cmflow/" not in files and "run.lock" not in files
    assert git(a.root, "status", "--porcelain", "--untracked-files=all").strip() == ""
    a.assert_no_secret()
    b.assert_no_secret()


def test_a_second_run_in_the_same_checkout_sends_nothing_and_says_why(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = one_post(tmp_path, fakes, "lock")
    fakes.mastodon.inject("POST", STATUSES, Fault.stall_after_commit(8))
    first = s.start("publish", at=from_now(minutes=1))
    wait_until(lambda: fakes.mastodon.created == 1, what="the status to be created")
    claim = (s.root / "data/record/a/mastodon.json").read_bytes()

    second = s.publish(at=from_now(minutes=1))
    assert second.code == 1, second
    assert "another `cmflow publish` is running in this checkout" in second.stderr
    assert "pid" in second.stderr
    assert (s.root / "data/record/a/mastodon.json").read_bytes() == claim
    assert len(fakes.mastodon.requests_to("POST", STATUSES)) == 1

    assert first.wait().code == 0
    assert s.state("a", "mastodon") == "published" and fakes.mastodon.created == 1
    # A plan needs no lock: it only reads.
    assert s.actions(at=from_now(minutes=2))[("a", "mastodon")] == "done"
    s.assert_no_secret()
