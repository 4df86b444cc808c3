"""`cmflow publish --commit` with a real bare remote: the claim push is the lock between runs,
results are pushed with rebase-and-retry, and a refused push loses nothing.

Each test clones a bare repository (`git init --bare`) the way a CI job checks out the content
repository; the remote's history (`git log -p`) is part of what must never hold a secret.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes import Fault
from tests.publishing import (
    Fakes,
    Site,
    another_clone,
    assert_no_secret,
    commit_all,
    created,
    from_now,
    git,
    init_remote,
    later,
    post,
    publish_in_process,
    pushed_site,
    remote_history,
    remote_record,
    remote_record_files,
    wait_until,
)

STATUSES = r"^/api/v1/statuses$"
WEBHOOK = r"^/api/webhooks/"
REFUSE_ALL = "#!/bin/sh\necho 'protected branch: pushes are refused here' >&2\nexit 1\n"
# Lets one push through (the claim), then refuses every other one.
REFUSE_AFTER_ONE = (
    "#!/bin/sh\n"
    "if [ -f allow-once ]; then rm allow-once; exit 0; fi\n"
    "echo 'protected branch: pushes are refused here' >&2\n"
    "exit 1\n"
)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return init_remote(tmp_path / "remote.git")


def hook(remote: Path, script: str | None, allow_once: bool = False) -> None:
    path = remote / "hooks" / "pre-receive"
    if script is None:
        path.unlink()
        return
    path.write_text(script, encoding="utf-8")
    path.chmod(0o755)
    if allow_once:
        (remote / "allow-once").write_text("", encoding="utf-8")


def assert_clean_history(remote: Path, s: Site) -> None:
    """The remote's whole history (messages and every file version) holds no secret."""
    assert_no_secret([remote_history(remote)], s.secrets)


def commits(remote: Path, grep: str) -> list[str]:
    return [c for c in git(remote, "log", "--format=%s", "main").splitlines() if grep in c]


# -- the basic CI run -------------------------------------------------------------------------------


def test_commit_pushes_claim_then_record_and_feed(
    tmp_path: Path, fakes: Fakes, remote: Path
) -> None:
    s = pushed_site(
        remote,
        tmp_path / "ci",
        fakes.channels("site", "mastodon", "telegram"),
        {"a.md": post(["site", "mastodon", "telegram"], "Commit c0-a", title="Commit")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    result = s.publish("--commit")
    assert result.code == 0, result
    assert len(commits(remote, "cmflow: claim")) == 1
    assert len(commits(remote, "cmflow: publish record")) == 1
    for channel in ("site", "mastodon", "telegram"):
        entry = remote_record(remote, "a", channel)
        assert entry is not None and entry["state"] == "published", (channel, entry)
    feed = git(remote, "show", "main:public/feed.xml")
    assert feed.count("<entry") == 1
    assert git(s.root, "status", "--porcelain") == ""  # everything it wrote is committed
    assert s.publish("--commit", at=later(minutes=5)).code == 0
    assert len(commits(remote, "cmflow:")) == 2  # nothing new: no commit
    s.assert_no_secret()
    assert_clean_history(remote, s)


def test_two_runs_publishing_different_posts_to_the_feed_keep_both(
    tmp_path: Path, fakes: Fakes, remote: Path
) -> None:
    """Run A publishes post one (its Mastodon call is slow), run B publishes post two
    meanwhile and pushes its feed first: A's result push meets B's feed.xml and manifest,
    and puts its own post back into them instead of dropping it."""
    channels = ("site", "mastodon")
    a = pushed_site(
        remote,
        tmp_path / "ci-a",
        fakes.channels(*channels),
        {
            "un.md": post(list(channels), "Flux t5f-un", title="Un"),
            "deux.md": post(list(channels), "Flux t5f-deux", title="Deux", date=later(minutes=20)),
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    b = another_clone(a, remote, tmp_path / "ci-b")
    fakes.mastodon.inject("POST", STATUSES, Fault.stall_after_commit(3), times=1)
    run_a = a.start("publish", "--commit", at=later(minutes=1))
    wait_until(lambda: created(fakes.mastodon, "t5f-un") == 1, what="run A's status")
    # Within the claim lease (30 min), A's claims hold "un": B sends "deux" only.
    result_b = b.publish("--commit", at=later(minutes=25))
    assert result_b.code == 0, result_b
    assert commits(remote, "cmflow: claim 2 post(s)") and not commits(remote, "claim 4")
    result_a = run_a.wait()
    assert result_a.code == 0, result_a
    manifest = json.loads(git(remote, "show", "main:public/.cmflow-feed.json"))
    feed = git(remote, "show", "main:public/feed.xml")
    ids = set(manifest["entries"]) if "entries" in manifest else set(manifest)
    assert {"un", "deux"} <= ids, manifest
    assert "<title>Un</title>" in feed and "<title>Deux</title>" in feed, feed
    assert created(fakes.mastodon, "t5f-un") == created(fakes.mastodon, "t5f-deux") == 1
    for p in ("un", "deux"):
        for c in channels:
            entry = remote_record(remote, p, c)
            assert entry is not None and entry["state"] == "published", (p, c, entry)


# -- T5: two runs at once ---------------------------------------------------------------------------


def test_two_runs_at_once_publish_each_pair_once(
    tmp_path: Path, fakes: Fakes, remote: Path
) -> None:
    channels = ("site", "mastodon", "discord", "telegram")
    a = pushed_site(
        remote,
        tmp_path / "ci-a",
        fakes.channels(*channels),
        {
            "un.md": post(list(channels), "Course t5-un", title="Un"),
            "deux.md": post(list(channels), "Course t5-deux", title="Deux"),
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    b = another_clone(a, remote, tmp_path / "ci-b")
    # A little latency on every platform, so that the two runs overlap.
    fakes.mastodon.inject("POST", STATUSES, Fault.stall_after_commit(0.3), times=None)
    runs = [x.start("publish", "--commit", "--format", "json", at=later(minutes=1)) for x in (a, b)]
    results = [r.wait() for r in runs]
    for r in results:
        assert r.code == 0, r
    pairs = [(p, c) for p in ("un", "deux") for c in channels]
    for fake in (fakes.mastodon, fakes.discord, fakes.telegram):
        for p in ("un", "deux"):
            assert created(fake, f"t5-{p}") == 1, (fake, p)
    manifest = json.loads(git(remote, "show", "main:public/.cmflow-feed.json"))
    assert json.dumps(manifest).count('"un"') >= 1 and json.dumps(manifest).count('"deux"') >= 1

    # One run won every claim; the other saw them taken (by a push, or already on the remote).
    published = {
        i: {(x["post"], x["channel"]) for x in r.json()["results"] if x["state"] == "published"}
        for i, r in enumerate(results)
    }
    assert sorted(len(v) for v in published.values()) == [0, len(pairs)], published
    loser = results[0] if not published[0] else results[1]
    states = {x["state"] for x in loser.json()["results"]}
    assert states <= {"wait", "done"}, loser
    for x in loser.json()["results"]:
        assert (
            "another run" in x["message"] or "in progress" in x["message"] or x["state"] == "done"
        )
    assert len(commits(remote, "cmflow: claim")) == 1

    files = remote_record_files(remote)
    assert sorted(files) == sorted(f"data/record/{p}/{c}.json" for p, c in pairs)
    for p, c in pairs:
        entry = remote_record(remote, p, c)
        assert entry is not None and entry["state"] == "published", (p, c, entry)
    for x in (a, b):
        git(x.root, "pull", "--quiet", "--ff-only", "origin", "main")
        assert x.publish("--commit", at=later(minutes=10)).code == 0
    assert fakes.mastodon.created == fakes.discord.created == fakes.telegram.created == 2
    a.assert_no_secret()
    b.assert_no_secret()
    assert_clean_history(remote, a)


# -- T6a: the remote moved while the run was sending ------------------------------------------------


@pytest.mark.parametrize("conflicting", [False, True], ids=["unrelated", "same-record-file"])
def test_remote_moved_during_the_run_result_push_rebases(
    tmp_path: Path, fakes: Fakes, remote: Path, conflicting: bool
) -> None:
    s = pushed_site(
        remote,
        tmp_path / "ci",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Rebase t6-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    human = another_clone(s, remote, tmp_path / "human")
    fakes.mastodon.inject("POST", STATUSES, Fault.stall_after_commit(1.5))
    running = s.start("publish", "--commit", at=later(minutes=1))
    wait_until(lambda: fakes.mastodon.created == 1, what="the status to be created")
    # The claim is on the remote by now (it is pushed before sending): someone pushes.
    git(human.root, "pull", "--quiet", "--ff-only", "origin", "main")
    if conflicting:
        rel = "data/record/a/mastodon.json"
        entry = json.loads((human.root / rel).read_text("utf-8"))
        assert entry["state"] == "claimed"
        entry["reason"] = "checked by hand while it ran"
        human.write(rel, json.dumps(entry, indent=2))
    else:
        human.write("content/notes.md.txt", "Idées pour décembre\n")
    commit_all(human.root, "Une modification pendant la publication")
    result = running.wait()
    assert result.code == 0, result
    assert fakes.mastodon.created == 1
    entry = remote_record(remote, "a", "mastodon")
    assert entry is not None and entry["state"] == "published", entry  # our outcome wins
    assert entry["parts"][0]["id"] == fakes.mastodon.posts[0]["id"]
    log = git(remote, "log", "--format=%s", "main")
    assert "Une modification pendant la publication" in log  # nothing of theirs is lost
    if not conflicting:
        assert git(remote, "show", "main:content/notes.md.txt") == "Idées pour décembre\n"
    s.assert_no_secret()
    assert_clean_history(remote, s)


# -- T6b: a push that never succeeds ----------------------------------------------------------------


def test_refused_result_push_fails_the_run_and_the_next_job_never_reposts(
    tmp_path: Path, fakes: Fakes, remote: Path
) -> None:
    s = pushed_site(
        remote,
        tmp_path / "ci",
        fakes.channels("mastodon", "discord", "telegram"),
        {"a.md": post(["mastodon", "discord", "telegram"], "Refus t6b-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    hook(remote, REFUSE_AFTER_ONE, allow_once=True)  # the claim goes through, not the result
    result = s.publish("--commit")
    assert result.code == 1, result
    assert "push failed" in result.output and "pre-receive hook declined" in result.output
    assert fakes.mastodon.created == fakes.discord.created == fakes.telegram.created == 1
    local = {c: s.record("a", c) for c in ("mastodon", "discord", "telegram")}
    for channel, entry in local.items():
        assert entry is not None and entry["state"] == "published", (channel, entry)
        assert entry["parts"][0]["id"] in result.stdout  # the run says what went out
        claim = remote_record(remote, "a", channel)
        assert claim is not None and claim["state"] == "claimed"

    hook(remote, None)
    # The next scheduled job: a fresh checkout, which only knows the pushed claims.
    ci = another_clone(s, remote, tmp_path / "ci-next")
    # The claimer's process has ended (same machine): no lease to wait out.
    assert set(ci.actions(at=from_now(minutes=5)).values()) == {"reconcile"}
    ci.publish("--commit", at=from_now(minutes=5))
    assert fakes.mastodon.created == fakes.discord.created == fakes.telegram.created == 1
    for channel in ("mastodon", "discord", "telegram"):
        entry = remote_record(remote, "a", channel)
        assert entry is not None and entry["state"] in ("published", "needs_human"), entry
    discord = remote_record(remote, "a", "discord")
    assert discord is not None and discord["state"] == "needs_human"  # a webhook cannot look
    ci.publish("--commit", at=from_now(minutes=40))
    assert fakes.mastodon.created == fakes.discord.created == fakes.telegram.created == 1
    s.assert_no_secret()
    ci.assert_no_secret()
    assert_clean_history(remote, s)


def test_refused_claim_push_sends_nothing(tmp_path: Path, fakes: Fakes, remote: Path) -> None:
    s = pushed_site(
        remote,
        tmp_path / "ci",
        fakes.channels("mastodon", "discord"),
        {"a.md": post(["mastodon", "discord"], "Refus t6e-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    hook(remote, REFUSE_ALL)
    result = s.publish("--commit")
    assert result.code == 1, result
    assert "could not push" in result.output and "pre-receive hook declined" in result.output
    assert all(not f.requests for f in fakes.all())  # no lock, no send
    assert remote_record_files(remote) == []
    s.assert_no_secret()


# The two tests below run the first (refused) publish in-process with git's retry pauses
# skipped: the subprocess tests above already pay for the real backoff.


def test_record_left_behind_by_a_refused_push_reaches_the_remote_on_the_next_run(
    tmp_path: Path, fakes: Fakes, remote: Path
) -> None:
    s = pushed_site(
        remote,
        tmp_path / "ci",
        fakes.channels("mastodon", "discord"),
        {"a.md": post(["mastodon", "discord"], "Refus t6c-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    hook(remote, REFUSE_AFTER_ONE, allow_once=True)
    report = publish_in_process(s, later(minutes=1), commit=True, push_backoff=0)
    assert report.push_error and report.count("published") == 2
    hook(remote, None)
    s.publish("--commit", at=later(minutes=5))
    assert fakes.mastodon.created == fakes.discord.created == 1
    for channel in ("mastodon", "discord"):
        entry = remote_record(remote, "a", channel)
        assert entry is not None and entry["state"] == "published", (channel, entry)


def test_after_a_refused_claim_push_the_next_run_publishes(
    tmp_path: Path, fakes: Fakes, remote: Path
) -> None:
    s = pushed_site(
        remote,
        tmp_path / "ci",
        fakes.channels("mastodon", "discord"),
        {"a.md": post(["mastodon", "discord"], "Refus t6f-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    hook(remote, REFUSE_ALL)
    report = publish_in_process(s, later(minutes=1), commit=True, push_backoff=0)
    assert report.push_error and "could not push" in report.push_error
    assert not report.ok
    assert fakes.mastodon.created == fakes.discord.created == 0
    hook(remote, None)
    again = s.publish("--commit", at=later(minutes=5))
    assert again.code == 0, again
    assert fakes.mastodon.created == fakes.discord.created == 1


# -- T4 in CI: killed, and the next job only has what was pushed ------------------------------------


def test_killed_ci_run_is_reconciled_by_the_next_job_through_the_pushed_claim(
    tmp_path: Path, fakes: Fakes, remote: Path
) -> None:
    s = pushed_site(
        remote,
        tmp_path / "ci",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Tué t4ci-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    fakes.mastodon.inject("POST", STATUSES, Fault.stall_after_commit(30))
    running = s.start("publish", "--commit", at=later(minutes=1))
    wait_until(lambda: fakes.mastodon.created == 1, what="the status to be created")
    running.kill()
    ci = another_clone(s, remote, tmp_path / "ci-next")
    claim = ci.record("a", "mastodon")
    assert claim is not None and claim["state"] == "claimed"
    ci.publish("--commit", at=from_now(minutes=31))
    assert fakes.mastodon.created == 1
    entry = remote_record(remote, "a", "mastodon")
    assert entry is not None
    assert entry["state"] == "published", (entry["state"], entry.get("reason"))
    assert entry["parts"][0]["id"] == fakes.mastodon.posts[0]["id"]
