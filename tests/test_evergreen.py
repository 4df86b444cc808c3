"""Evergreen posts (docs/publishing.md, "Evergreen posts"): a published post goes out again
after its interval, as a new publication with its own record entry, through the real
`cmflow publish --commit` against a real bare remote and the loopback Mastodon, beside the
site (which keeps one page per post and is never re-posted).

Oracles: the fake's statuses for the post, the record files on the remote, the site's
files; the clock is moved with `--at`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from cmflow.cli import cli
from tests.fakes import Fault
from tests.publishing import (
    Fakes,
    Site,
    commit_all,
    created,
    from_now,
    git,
    init_remote,
    mastodon_channel,
    post,
    pushed_site,
    remote_record,
    remote_record_files,
    site,
    wait_until,
)

STATUSES = r"^/api/v1/statuses$"
POLICY = {"every": "90d", "times": 2}
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return init_remote(tmp_path / "remote.git")


def reposts(s: Site, at: datetime, *args: str) -> list[dict[str, Any]]:
    """The plan's re-post actions (`cmflow plan --format json`)."""
    return [a for a in s.plan(*args, at=at)["actions"] if a.get("publication", 1) > 1]


def when(action: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(action["date"])


def wall(dt: datetime) -> datetime:
    return dt.astimezone(PARIS).replace(tzinfo=None)


def site_files(s: Site) -> dict[str, bytes]:
    return {
        p.relative_to(s.root).as_posix(): p.read_bytes()
        for p in sorted((s.root / "public").rglob("*"))
        if p.is_file()
    }


def test_re_posted_once_per_interval_as_a_new_publication_then_stops(
    tmp_path: Path, fakes: Fakes, remote: Path
) -> None:
    s = pushed_site(
        remote,
        tmp_path / "ci",
        fakes.channels("site", "mastodon"),
        {
            "pain.md": post(
                ["site", "mastodon"],
                "Notre pain au levain evg-1",
                title="Levain",
                evergreen=POLICY,
            )
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    first = s.publish("--commit")
    assert first.code == 0, first
    assert created(fakes.mastodon, "evg-1") == 1
    original = (s.root / "data/record/pain/mastodon.json").read_bytes()
    pages = site_files(s)

    # Planned: re-post 1/2 on Mastodon only, 90 days after the first publication's moment.
    planned = reposts(s, from_now(days=1))
    assert [(a["channel"], a["publication"], a["action"]) for a in planned] == [
        ("mastodon", 2, "wait")
    ]
    assert planned[0]["repost"] == "re-post 1/2"
    assert planned[0]["reason"].startswith("re-post 1/2: ")
    due = when(planned[0])
    scheduled = datetime.fromisoformat(json.loads(original)["scheduled_for"])
    assert wall(due) == wall(scheduled) + timedelta(days=90)

    # Before the interval: nothing, however many runs.
    for at in (from_now(days=30), due - timedelta(hours=1)):
        run = s.publish("--commit", at=at)
        assert run.code == 0, run
    assert created(fakes.mastodon, "evg-1") == 1
    assert s.record("pain", "mastodon", 2) is None

    # The post is edited meanwhile: the re-post carries its current text.
    s.write_post(
        "pain.md",
        post(
            ["site", "mastodon"],
            "Notre pain au levain evg-1 v2",
            date=datetime.fromisoformat(json.loads(original)["scheduled_for"]),
            title="Levain",
            evergreen=POLICY,
        ),
    )
    commit_all(s.root, "Texte revu")

    # After it: exactly one new status, one new record entry; the first stays as it was.
    for minutes in (5, 10, 20):
        run = s.publish("--commit", at=due + timedelta(minutes=minutes))
        assert run.code == 0, run
    assert created(fakes.mastodon, "evg-1") == 2
    assert "evg-1 v2" in fakes.mastodon.posts[-1]["content"]
    assert (s.root / "data/record/pain/mastodon.json").read_bytes() == original
    second = s.record("pain", "mastodon", 2)
    assert second is not None and second["state"] == "published"
    assert second["publication"] == 2
    assert (
        second["parts"][0]["id"]
        == fakes.mastodon.posts[-1]["id"]
        != json.loads(original)["parts"][0]["id"]
    )
    assert remote_record(remote, "pain", "mastodon@2") == second
    assert "data/record/pain/site@2.json" not in remote_record_files(remote)
    # The site keeps its one page (the edit went there as an edit, as usual).
    assert (s.root / "public/feed.xml").read_text("utf-8").count("<entry") == 1
    assert set(site_files(s)) == set(pages)

    # Next interval: re-post 2/2, then never again.
    nxt = reposts(s, due + timedelta(days=1))
    assert [(a["publication"], a["action"]) for a in nxt] == [(2, "done"), (3, "wait")]
    due2 = when(nxt[1])
    # 90 days on the wall clock: the same time of day, across the change to summer time.
    assert wall(due2) == wall(due) + timedelta(days=90)
    assert s.publish("--commit", at=due2 - timedelta(minutes=5)).code == 0
    assert created(fakes.mastodon, "evg-1") == 2
    for minutes in (1, 30):
        assert s.publish("--commit", at=due2 + timedelta(minutes=minutes)).code == 0
    assert created(fakes.mastodon, "evg-1") == 3
    third = s.record("pain", "mastodon", 3)
    assert third is not None and third["state"] == "published" and third["publication"] == 3
    later = due2 + timedelta(days=200)
    assert s.publish("--commit", at=later).code == 0
    assert created(fakes.mastodon, "evg-1") == 3
    assert not any(a["action"] != "done" for a in reposts(s, later))
    assert sorted(f for f in remote_record_files(remote) if "/pain/" in f) == [
        "data/record/pain/mastodon.json",
        "data/record/pain/mastodon@2.json",
        "data/record/pain/mastodon@3.json",
        "data/record/pain/site.json",
    ]
    assert git(s.root, "status", "--porcelain") == ""
    s.assert_no_secret()


def test_a_repost_killed_between_sending_and_recording_is_not_sent_twice(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Coupé net evg-k", evergreen={"every": "30d", "times": 1})},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    due = when(reposts(s, from_now(days=1))[0])
    # Mastodon creates the re-post, then takes 30 s to answer: the run is killed meanwhile.
    fakes.mastodon.inject("POST", STATUSES, Fault.stall_after_commit(30))
    running = s.start("publish", "--force", at=due + timedelta(minutes=1))
    wait_until(lambda: fakes.mastodon.created == 2, what="the re-post to be created")
    assert running.kill().code == -9
    entry = s.record("a", "mastodon", 2)
    assert entry is not None and entry["state"] == "claimed" and entry["in_flight"] == 0
    assert [a["action"] for a in reposts(s, due + timedelta(minutes=2))] == ["reconcile"]
    for minutes in (2, 40, 90):
        s.publish(at=due + timedelta(minutes=minutes))
    assert fakes.mastodon.created == 2 and created(fakes.mastodon, "evg-k") == 2
    entry = s.record("a", "mastodon", 2)
    assert entry is not None and entry["state"] == "published"
    assert entry["parts"][0]["id"] == fakes.mastodon.posts[1]["id"]
    first = s.record("a", "mastodon")
    assert first is not None and first["parts"][0]["id"] == fakes.mastodon.posts[0]["id"]
    s.assert_no_secret()


def test_repost_goes_to_the_next_free_slot_after_the_interval(tmp_path: Path, fakes: Fakes) -> None:
    # A channel policy (`evergreen: true` in the post) and queue slots on Tuesdays 09:00.
    channel = mastodon_channel(
        fakes.mastodon, slots=["Tue 09:00"], evergreen={"every": "28d", "times": 1}
    )
    s = site(
        tmp_path / "repo",
        {"mastodon": channel},
        {"a.md": post(["mastodon"], "Créneau evg-s", evergreen=True)},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    entry = s.record("a", "mastodon")
    assert entry is not None
    scheduled = datetime.fromisoformat(entry["scheduled_for"])
    earliest = scheduled + timedelta(days=28)
    tz = PARIS
    first_tuesday = next(
        d
        for d in (earliest.astimezone(tz).date() + timedelta(days=i) for i in range(8))
        if d.weekday() == 1 and datetime(d.year, d.month, d.day, 9, tzinfo=tz) >= earliest
    )
    slot = datetime(first_tuesday.year, first_tuesday.month, first_tuesday.day, 9, tzinfo=tz)
    (action,) = reposts(s, from_now(days=1))
    assert when(action) == slot
    # A post written for that slot takes it: the re-post moves to the next Tuesday.
    s.write_post("b.md", post(["mastodon"], "Pris evg-t", date=slot))
    (action,) = reposts(s, from_now(days=1))
    assert when(action) == slot + timedelta(days=7)


def test_plan_and_calendar_show_the_reposts(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"miel.md": post(["mastodon"], "Le miel evg-c", evergreen={"every": "7d", "times": 3})},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    at = from_now(days=1)
    text = s.run("plan", "--all", at=at)
    assert text.code == 0, text
    assert "re-post 1/3" in text.stdout
    assert "re-post 1/3" not in s.run("plan", at=at).stdout  # not due: --all only

    cal = s.run("calendar", "--weeks", "4", "--ics", "cal.ics", at=at)
    assert cal.code == 0, cal
    for mark in ("↻1/3", "↻2/3", "↻3/3"):
        assert mark in cal.stdout, cal.stdout
    assert "↻ n/m : republication n sur m" in cal.stdout  # the legend (language: fr)
    md = s.run("calendar", "--weeks", "4", "--format", "md", at=at)
    assert "↻2/3" in md.stdout
    html = s.run("calendar", "--weeks", "4", "--format", "html", at=at)
    assert "re-post 3/3" in html.stdout

    import icalendar

    events = [
        e for e in icalendar.Calendar.from_ical((s.root / "cal.ics").read_bytes()).walk("VEVENT")
    ]
    summaries = sorted(str(e["SUMMARY"]) for e in events)
    assert summaries == [
        "mastodon: miel",
        "mastodon: miel (re-post 1/3)",
        "mastodon: miel (re-post 2/3)",
        "mastodon: miel (re-post 3/3)",
    ]
    assert len({str(e["UID"]) for e in events}) == 4


def _validate(s: Site) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", "--root", str(s.root)])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("front", "where", "words"),
    [
        ("evergreen: {every: 3d, times: 2}", "6:13", "more often than every 7d"),
        ("evergreen: {every: soon, times: 2}", "6:13", "expected a duration"),
        ("evergreen: {every: 90d, times: 0}", "6:25", "1 to 20"),
        ("evergreen: {every: 90d}", "6:1", "evergreen needs times"),
        ("evergreen:\n  every: 90d\n  times: 99", "8:3", "1 to 20"),
    ],
)
def test_invalid_policies_are_findings_with_positions(
    tmp_path: Path, fakes: Fakes, front: str, where: str, words: str
) -> None:
    s = site(tmp_path / "repo", fakes.channels("mastodon", "site"), {})
    s.write_post(
        "pain.md",
        f"---\ndate: 2026-11-24 09:00\nchannels: [mastodon, site]\ntitle: Pain\n"
        f"pillar: produit\n{front}\n---\nLe pain.\n",
    )
    code, out = _validate(s)
    assert code == 1, out
    line = next(x for x in out.splitlines() if "evergreen.policy" in x)
    assert line.startswith(f"content/pain.md:{where}: error evergreen.policy"), out
    assert words in line and "mastodon" in line and "site" not in line.split(":", 4)[-1][:20]


def test_evergreen_true_without_a_channel_policy_is_a_warning(tmp_path: Path, fakes: Fakes) -> None:
    s = site(tmp_path / "repo", fakes.channels("mastodon"), {})
    s.write_post(
        "pain.md",
        "---\ndate: 2026-11-24 09:00\nchannels: [mastodon]\nevergreen: true\n---\nLe pain.\n",
    )
    code, out = _validate(s)
    assert code == 0, out
    assert "content/pain.md:4:1: warning evergreen.no-policy" in out


@pytest.mark.parametrize(
    ("channel", "where", "words"),
    [
        ("mastodon", "6:7", "more often than every 7d"),
        ("site", "9:5", "never re-posted"),
    ],
)
def test_bad_channel_policies_are_config_errors_with_positions(
    tmp_path: Path, fakes: Fakes, channel: str, where: str, words: str
) -> None:
    s = site(tmp_path / "repo", fakes.channels("mastodon", "site"), {})
    cfg = (s.root / "channels.yaml").read_text("utf-8")
    s.write(
        "channels.yaml",
        cfg.replace(
            f"  {channel}:\n", f"  {channel}:\n    evergreen:\n      every: 2d\n      times: 1\n", 1
        ),
    )
    code, out = _validate(s)
    assert code != 0, out
    assert f"channels.yaml:{where}" in out and words in out, out


def _record(s: Site, name: str, **fields: Any) -> None:
    n = fields.get("publication", 1)
    data = {"post": "pain", "channel": "mastodon", "platform": "mastodon", **fields}
    s.write(f"data/record/pain/{name}.json", json.dumps(data))
    assert name == ("mastodon" if n == 1 else f"mastodon@{n}")


def test_a_repost_entry_never_stands_for_the_first_publication(
    tmp_path: Path, fakes: Fakes
) -> None:
    """Validation reads record files through its cache: a failed re-post must not make the
    first publication look unpublished (`schedule.past`), on the first run or a cached one."""
    s = site(tmp_path / "repo", fakes.channels("mastodon"), {})
    s.write_post(
        "pain.md",
        "---\ndate: 2026-11-24 09:00\nchannels: [mastodon]\n"
        "evergreen: {every: 30d, times: 2}\n---\nLe pain.\n",
    )
    published = {"published_at": "2026-11-24T08:00:05Z", "parts": [{"id": "1"}]}
    _record(
        s, "mastodon", state="published", scheduled_for="2026-11-24T09:00:00+01:00", **published
    )
    _record(s, "mastodon@2", state="failed", publication=2, reason="refused")
    for _ in range(2):  # the second run reads the record from the cache
        code, out = _validate(s)
        assert code == 0 and "schedule.past" not in out, out
    # The calendar shows the refused re-post as late, not in progress (◐).
    cal = s.run("calendar", "--from", "2026-12-21", "--weeks", "1", at="2026-12-25 12:00")
    (row,) = [line for line in cal.stdout.splitlines() if line.startswith("mastodon")]
    assert "↻1/2" in row and "!" in row and "◐" not in row, cal.stdout


def test_metrics_follow_first_publications_only(tmp_path: Path, fakes: Fakes) -> None:
    from cmflow import config as config_mod
    from cmflow.metrics.collect import published_pairs
    from cmflow.rules import BY_ID

    s = site(tmp_path / "repo", fakes.channels("mastodon"), {"pain.md": post(["mastodon"], "x")})
    for n in (1, 2):
        _record(
            s,
            "mastodon" if n == 1 else "mastodon@2",
            state="published",
            publication=n,
            published_at=f"2026-1{n}-24T08:00:05Z",
            parts=[{"id": str(n)}],
        )
    problems: list[str] = []
    pairs = published_pairs(config_mod.load(s.root, set(BY_ID)), problems)
    assert [(p.post, p.parts[0].id) for p in pairs] == [("pain", "1")] and not problems


def test_a_webhook_repost_lost_mid_send_is_settled_by_its_number(
    tmp_path: Path, fakes: Fakes
) -> None:
    """A Discord webhook cannot be read back: a re-post killed after Discord took it asks a
    human, naming the re-post; `resolve --publication 2` settles it, never the first."""
    s = site(
        tmp_path / "repo",
        fakes.channels("discord"),
        {"a.md": post(["discord"], "Webhook evg-w", evergreen={"every": "14d", "times": 1})},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    first = s.record("a", "discord")
    due = when(reposts(s, from_now(days=1))[0])
    fakes.discord.inject("POST", r"^/api/webhooks/", Fault.stall_after_commit(30))
    running = s.start("publish", "--force", at=due + timedelta(minutes=1))
    wait_until(lambda: fakes.discord.created == 2, what="the re-post to be created")
    assert running.kill().code == -9
    run = s.publish(at=due + timedelta(minutes=2))
    assert run.code == 1 and "cmflow resolve a discord --publication 2 --published" in run.stdout
    assert fakes.discord.created == 2
    message = fakes.discord.posts[1]
    resolved = s.run("resolve", "a", "discord", "--publication", "2", "--published", message["id"])
    assert resolved.code == 0, resolved
    entry = s.record("a", "discord", 2)
    assert entry is not None and entry["state"] == "published"
    assert s.record("a", "discord") == first
    assert s.publish(at=due + timedelta(minutes=40)).code == 0
    assert fakes.discord.created == 2
    s.assert_no_secret()


def test_a_repost_whose_moment_passed_long_ago_comes_late_never_missed(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Rattrapage evg-l", evergreen={"every": "7d", "times": 1})},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    due = when(reposts(s, from_now(days=1))[0])
    # The publish job was off for ten days: the re-post takes the first moment within the
    # catch-up window (48h), at the post's time of day, and goes out.
    at = due + timedelta(days=10, hours=1)
    (action,) = reposts(s, at)
    assert action["action"] == "publish", action
    moved = when(action)
    assert at - timedelta(hours=48) <= moved <= at
    assert wall(moved).time() == wall(due).time()
    assert s.publish(at=at).code == 0
    assert created(fakes.mastodon, "evg-l") == 2
    entry = s.record("a", "mastodon", 2)
    assert entry is not None and datetime.fromisoformat(entry["scheduled_for"]) == moved


def test_a_first_publication_sent_days_late_counts_from_when_it_went_out(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(tmp_path / "repo", fakes.channels("mastodon"), {})
    s.write_post(
        "pain.md",
        "---\ndate: 2026-11-24 09:00\nchannels: [mastodon]\n"
        "evergreen: {every: 30d, times: 1}\n---\nLe pain.\n",
    )
    # Scheduled for the 24th, out on the 27th (resolved by hand): 30 days from the 27th.
    _record(
        s,
        "mastodon",
        state="published",
        scheduled_for="2026-11-24T09:00:00+01:00",
        published_at="2026-11-27T15:00:00Z",
        parts=[{"id": "1"}],
    )
    (action,) = reposts(s, datetime(2026, 12, 1, tzinfo=PARIS))
    assert wall(when(action)) == datetime(2026, 12, 28, 9, 0)
    # Out on time (a few minutes late): 30 days from when it was scheduled.
    _record(
        s,
        "mastodon",
        state="published",
        scheduled_for="2026-11-24T09:00:00+01:00",
        published_at="2026-11-24T08:03:00Z",
        parts=[{"id": "1"}],
    )
    (action,) = reposts(s, datetime(2026, 12, 1, tzinfo=PARIS))
    assert wall(when(action)) == datetime(2026, 12, 24, 9, 0)


def test_an_unreadable_repost_record_names_the_resolve_that_fixes_it(
    tmp_path: Path, fakes: Fakes
) -> None:
    """A broken `mastodon@2.json` (a bad merge): validation tells the human which resolve
    rewrites it. Without `--publication 2` the command it names would touch the first
    publication's record, which is fine, and leave the broken file as it is."""
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"pain.md": post(["mastodon"], "Pain evg-u", evergreen={"every": "7d", "times": 2})},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    first = s.record("pain", "mastodon")
    s.write("data/record/pain/mastodon@2.json", '{"post": "pain",\n<<<<<<< ours\n')
    code, out = _validate(s)
    assert code == 1, out
    line = next(x for x in out.splitlines() if "record.unreadable" in x)
    assert line.startswith("data/record/pain/mastodon@2.json:"), out
    assert "cmflow resolve POST CHANNEL --publication 2 --published URL" in line, line
    # Doing what it says settles the re-post, never the first publication.
    done = s.run("resolve", "pain", "mastodon", "--publication", "2", "--absent")
    assert done.code == 0, done
    entry = s.record("pain", "mastodon", 2)
    assert entry is not None and entry.get("publication") == 2
    assert s.record("pain", "mastodon") == first
    assert _validate(s)[0] == 0


def test_a_post_renamed_between_reposts_is_never_re_posted_twice(
    tmp_path: Path, fakes: Fakes, remote: Path
) -> None:
    """Re-post 1 is recorded under the post's first id; the file is then renamed (accents,
    a space) and re-post 2 goes out under the new one. Later runs see both, whatever id
    each was recorded under: re-post 1 is never sent again."""
    s = pushed_site(
        remote,
        tmp_path / "ci",
        fakes.channels("mastodon"),
        {"pain.md": post(["mastodon"], "Pain evg-r", evergreen={"every": "7d", "times": 3})},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish("--commit").code == 0
    assert s.publish("--commit", "--force", at=from_now(days=8)).code == 0
    assert created(fakes.mastodon, "evg-r") == 2
    git(s.root, "mv", "content/pain.md", "content/Pâin épi.md")
    commit_all(s.root, "renamed")
    assert s.publish("--commit", "--force", at=from_now(days=16)).code == 0
    assert created(fakes.mastodon, "evg-r") == 3
    at = from_now(days=17)
    labels = [(a["action"], a.get("publication")) for a in reposts(s, at, "--all")]
    assert labels == [("done", 2), ("done", 3), ("wait", 4)], labels
    assert s.publish("--commit", "--force", at=at).code == 0
    assert created(fakes.mastodon, "evg-r") == 3  # nothing sent again
    assert s.publish("--commit", "--force", at=from_now(days=40)).code == 0
    assert created(fakes.mastodon, "evg-r") == 4
    assert s.publish("--commit", "--force", at=from_now(days=80)).code == 0
    assert created(fakes.mastodon, "evg-r") == 4


@pytest.mark.parametrize("name", ["mastodon@0", "mastodon@-1", "mastodon@abc", "mastodon@02"])
def test_a_record_file_cmflow_never_names_so_is_not_said_to_hold_the_post(
    tmp_path: Path, fakes: Fakes, name: str
) -> None:
    """A hand-made `mastodon@0.json` (or `@abc`, `@02`) is no publication's file: the post
    is not held by it (its re-posts go out), and validation says so rather than sending the
    human to a resolve that would write another file."""
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"pain.md": post(["mastodon"], "Pain evg-n", evergreen={"every": "7d", "times": 1})},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    first = s.record("pain", "mastodon")
    assert first is not None
    s.write(f"data/record/pain/{name}.json", json.dumps({**first, "publication": 2}))
    code, out = _validate(s)
    assert code == 1, out
    line = next(x for x in out.splitlines() if "record.unreadable" in x)
    assert line.startswith(f"data/record/pain/{name}.json:1:1: error"), out
    assert "held" not in line and "resolve" not in line, line
    assert "mastodon@2.json" in line and "remove" in line, line
    assert s.publish("--force", at=from_now(days=8)).code == 0
    assert created(fakes.mastodon, "evg-n") == 2
