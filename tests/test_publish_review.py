"""Scenarios found in review: each once published twice, crashed, or leaked before a fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fakes import Fault
from tests.publishing import (
    MASTODON_ENV,
    MASTODON_TOKEN,
    Fakes,
    Site,
    ago,
    another_clone,
    commit_all,
    from_now,
    init_remote,
    later,
    post,
    pushed_site,
    site,
    wait_until,
)

STATUSES = r"^/api/v1/statuses$"


def _age_record(s: Site, post_id: str, channel: str, hours: float, *keys: str) -> None:
    """Make a record look `hours` old (the wall clock cannot be moved; `--at` moves the
    scheduler's clock, this moves what the record says)."""
    path = s.root / "data" / "record" / post_id / f"{channel}.json"
    data = json.loads(path.read_text("utf-8"))
    old = (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for key in keys:
        data[key] = old
    path.write_text(json.dumps(data), encoding="utf-8")


def test_a_killed_ci_run_reconciled_hours_later_does_not_post_again(
    tmp_path: Path, fakes: Fakes
) -> None:
    remote = init_remote(tmp_path / "remote.git")
    s = pushed_site(
        remote,
        tmp_path / "ci",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Tué e2e-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    fakes.mastodon.inject("POST", STATUSES, Fault.stall_after_commit(30))
    running = s.start("publish", "--commit", at=later(minutes=1))
    wait_until(lambda: fakes.mastodon.created == 1, what="the status")
    running.kill()
    ci = another_clone(s, remote, tmp_path / "ci-next")
    _age_record(ci, "a", "mastodon", 2, "claimed_at", "leased_at")
    commit_all(ci.root, "the claim was made 2 h ago")
    fakes.mastodon.clock_offset = 2 * 3600  # the server's idempotency keys have expired
    result = ci.publish("--commit", at=from_now(hours=2))
    assert result.code == 0, result
    assert fakes.mastodon.created == 1
    assert ci.state("a", "mastodon") == "published"


def test_unknown_then_refused_credential_stays_unknown_and_is_not_resent(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Inconnu v-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    fakes.mastodon.inject("POST", STATUSES, Fault.after_commit_status(500))
    fakes.mastodon.inject(
        "POST", STATUSES, Fault.status(401, {"error": "The access token was revoked"})
    )
    first = s.publish()
    assert first.code == 1
    assert s.state("a", "mastodon") == "unknown"  # may have landed: never "deferred"
    _age_record(s, "a", "mastodon", 2, "claimed_at", "leased_at", "in_flight_since")
    fakes.mastodon.clock_offset = 2 * 3600
    second = s.publish(at=from_now(hours=2))
    assert second.code == 0, second
    assert fakes.mastodon.created == 1
    assert s.state("a", "mastodon") == "published"


def test_editing_a_post_whose_outcome_is_unknown_blocks_it(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Premier jet t9-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    fakes.mastodon.inject("POST", STATUSES, Fault.after_commit_status(500), times=2)
    s.publish()
    assert s.state("a", "mastodon") == "unknown"
    s.write_post("a.md", post(["mastodon"], "Premier jet corrigé t9-a", date=ago(hours=1)))
    assert s.actions(at=from_now(hours=2))[("a", "mastodon")] == "blocked"
    result = s.publish(at=from_now(hours=2))
    assert result.code == 1 and "edited while the outcome" in result.output
    assert fakes.mastodon.created == 1


def test_a_transient_error_while_reconciling_is_tried_again_next_run(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Transitoire tr-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    fakes.mastodon.inject("POST", STATUSES, Fault.after_commit_status(500), times=2)
    s.publish()
    fakes.mastodon.inject("POST", STATUSES, Fault.status(503), times=3)
    s.publish(at=from_now(minutes=31))
    assert s.state("a", "mastodon") == "unknown"  # asked again next run, not given up
    s.publish(at=from_now(minutes=62))
    assert s.state("a", "mastodon") == "published"
    assert fakes.mastodon.created == 1


def test_a_token_with_a_trailing_newline_is_used_stripped_and_never_shown(
    tmp_path: Path, fakes: Fakes
) -> None:
    env = fakes.env()
    env[MASTODON_ENV] = MASTODON_TOKEN + "\n"
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Nouvelle ligne nl-a")},
        env=env,
        secrets=[MASTODON_TOKEN],
    )
    result = s.publish()
    assert result.code == 0, result
    assert s.state("a", "mastodon") == "published"
    s.assert_no_secret()


def test_a_copy_of_a_published_post_with_a_new_date_is_a_new_post(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"rappel-1.md": post(["mastodon"], "Rappel hebdo cp-a", date=ago(hours=3))},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    s.publish()
    s.write_post("rappel-2.md", post(["mastodon"], "Rappel hebdo cp-a", date=ago(hours=1)))
    assert s.actions()[("rappel-2", "mastodon")] == "publish"
    s.publish()
    assert fakes.mastodon.created == 2


def test_resolve_refuses_to_undo_a_proven_publication(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Publié rs-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    s.publish()
    result = s.run("resolve", "a", "mastodon", "--absent")
    assert result.code == 2 and "proved" in result.output
    assert s.actions()[("a", "mastodon")] == "done"


def test_a_due_invalid_post_fails_the_run_and_an_unreadable_one_is_named(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"ok.md": post(["mastodon"], "Tout va bien iv-ok")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    s.write("content/bad.md", "---\ndate: [oops\n---\nCassé\n")
    result = s.publish()
    assert result.code == 1
    assert "content/bad.md" in result.output and "cannot be read" in result.output
    assert fakes.mastodon.created == 1  # the valid post still went out


def test_a_variant_draft_holds_the_post_back_on_that_channel(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon", "discord"),
        {
            "a.md": post(
                ["mastodon", "discord"],
                "Pas encore vd-a",
                variants={"mastodon": {"status": "draft"}},
            )
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    actions = s.actions()
    assert actions[("a", "mastodon")] == "skip" and actions[("a", "discord")] == "publish"


def test_json_output_stays_json_under_github_actions(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Json js-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    env = {**os.environ, **s.env, "GITHUB_ACTIONS": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "cmflow", "publish", "--dry-run", "--format", "json"],
        cwd=s.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)
    assert "::add-mask::" in done.stderr


def test_the_run_is_summarised_for_the_github_job(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon", "discord"),
        {"a.md": post(["mastodon", "discord"], "Résumé sm-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    fakes.discord.inject("POST", r"^/api/webhooks/", Fault.status(500), times=1)
    summary = tmp_path / "summary.md"
    env = {**os.environ, **s.env, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    done = subprocess.run(
        [sys.executable, "-m", "cmflow", "publish"],
        cwd=s.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    text = summary.read_text("utf-8")
    assert "| ✓ | published | mastodon | `content/a.md` |" in text
    assert "| ? | unknown | discord | `content/a.md` |" in text
    s.assert_no_secret(text)
