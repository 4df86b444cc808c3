"""Posts that leave their time to the queue: `date: next` and a day alone (docs/content.md,
"Queue slots"). Real files, real git repositories, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar

from tests.conftest import Found, only, run_cli, validate_json, write_repo
from tests.publishing import (
    NOW,
    Fakes,
    ago,
    created,
    git,
    iso,
    site,
)

CONFIG = """\
timezone: Europe/Paris
language: en
channels:
  site:
    platform: feed
    output_dir: public
    site_url: https://example.fr/actus
  mastodon:
    platform: mastodon
    base_url: https://mastodon.example
    token_env: CMFLOW_MASTODON_TOKEN
    slots: ["Tue 12:30", "Thu 12:30"]
  linkedin:
    platform: linkedin
    author: urn:li:organization:1
    token_env: CMFLOW_LINKEDIN_TOKEN
    slots: ["Mon-Fri 09:00"]
"""


def _post(date: str, channels: str = "mastodon", body: str = "Un texte.") -> str:
    return f"---\ndate: {date}\nchannels: [{channels}]\n---\n{body}\n"


def _plan(root: Path, at: str) -> dict[str, Any]:
    result = run_cli(["plan", "--all", "--format", "json", "--at", at], root)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _dates(root: Path, at: str = "2026-12-01 08:00") -> dict[tuple[str, str], str | None]:
    """(path, channel) -> the ISO date `plan` gives the pair."""
    return {(a["path"], a["channel"]): a["date"] for a in _plan(root, at)["actions"]}


def _commit(root: Path, message: str, when: str) -> None:
    """Commit everything with committer (and author) time `when`."""
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    for args in (["add", "-A"], ["commit", "--quiet", "-m", message]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def _git_repo(root: Path) -> Path:
    git(root, "init", "--quiet", "--initial-branch=main")
    return root


# -- a day alone ---------------------------------------------------------------------------


def test_a_day_alone_takes_that_days_free_slot(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "r", {"brioche.md": _post("2026-12-08")}, config=CONFIG)
    data = _plan(root, "2026-12-01 08:00")
    (action,) = data["actions"]
    assert action["date"] == "2026-12-08T12:30:00+01:00"  # Tuesday's 12:30 slot
    assert action["slot"] == "2026-12-08"
    text = run_cli(["plan", "--all", "--at", "2026-12-01 08:00"], root).stdout
    assert "2026-12-08 12:30 (slot)  mastodon" in text


def test_a_post_with_its_own_time_has_no_slot_key_in_plan(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "r", {"a.md": _post("2026-12-08 12:30")}, config=CONFIG)
    (action,) = _plan(root, "2026-12-01 08:00")["actions"]
    assert "slot" not in action
    assert "(slot)" not in run_cli(["plan", "--all", "--at", "2026-12-01 08:00"], root).stdout


def test_two_posts_for_one_slot_the_first_path_gets_it_the_other_the_next(
    tmp_path: Path,
) -> None:
    posts = {"b.md": _post("2026-12-08"), "a.md": _post("2026-12-08")}
    root = write_repo(tmp_path / "r", posts, config=CONFIG)
    assert _dates(root) == {
        ("content/a.md", "mastodon"): "2026-12-08T12:30:00+01:00",
        ("content/b.md", "mastodon"): "2026-12-10T12:30:00+01:00",  # Thursday
    }
    text = run_cli(["plan", "--all", "--at", "2026-12-01 08:00"], root).stdout
    assert "2026-12-10 12:30 (slot, no free slot left on Tue 8 Dec)" in text


def test_slots_taken_by_timed_posts_and_by_the_record_are_skipped(tmp_path: Path) -> None:
    posts = {
        "a.md": _post("2026-12-08"),
        "c.md": _post("2026-12-08 12:30"),  # its own time: the slot is taken
    }
    root = write_repo(tmp_path / "r", posts, config=CONFIG)
    # A post deleted since, published at Thursday's slot: the record says the slot was used.
    record = root / "data" / "record" / "ancien" / "mastodon.json"
    record.parent.mkdir(parents=True)
    record.write_text(
        json.dumps(
            {
                "post": "ancien",
                "channel": "mastodon",
                "platform": "mastodon",
                "state": "published",
                "content_hash": "0000",
                "published_at": "2026-12-10T11:30:04Z",
                "scheduled_for": "2026-12-10T12:30:00+01:00",
                "parts": [{"id": "1", "url": "https://mastodon.example/@m/1"}],
            }
        ),
        encoding="utf-8",
    )
    assert _dates(root)[("content/a.md", "mastodon")] == "2026-12-15T12:30:00+01:00"


def test_the_same_times_whatever_the_order_files_are_written_in(tmp_path: Path) -> None:
    names = [f"{c}.md" for c in "dacbe"]
    forward = write_repo(
        tmp_path / "one",
        {n: _post("2026-12-08", "mastodon, linkedin") for n in names},
        config=CONFIG,
    )
    backward = write_repo(
        tmp_path / "two",
        {n: _post("2026-12-08", "mastodon, linkedin") for n in reversed(names)},
        config=CONFIG,
    )
    # Modification times in the opposite order too.
    for i, n in enumerate(names):
        os.utime(backward / "content" / n, (1_000_000 - i, 1_000_000 - i))
    first = _dates(forward)
    assert first == _dates(forward)  # a second run: the same
    assert first == _dates(backward)
    got = sorted((d, p) for (p, c), d in first.items() if c == "mastodon")
    # One time for all its channels: the Tue/Thu 12:30 slots do not meet Mon-Fri 09:00...
    assert all(d is None for d, _ in got)
    two = CONFIG.replace('slots: ["Mon-Fri 09:00"]', 'slots: ["Tue 12:30", "Thu 12:30"]')
    (forward / "channels.yaml").write_text(two, encoding="utf-8")
    (backward / "channels.yaml").write_text(two, encoding="utf-8")
    first = _dates(forward)
    assert first == _dates(backward)
    # ... and once they do, a.md to e.md take the slots in path order, on both channels.
    expected = [
        "2026-12-08T12:30:00+01:00",
        "2026-12-10T12:30:00+01:00",
        "2026-12-15T12:30:00+01:00",
        "2026-12-17T12:30:00+01:00",
        "2026-12-22T12:30:00+01:00",
    ]
    for channel in ("mastodon", "linkedin"):
        assert [first[(f"content/{c}.md", channel)] for c in "abcde"] == expected


def test_slots_keep_their_wall_clock_time_across_both_dst_changes(tmp_path: Path) -> None:
    config = CONFIG.replace('slots: ["Tue 12:30", "Thu 12:30"]', 'slots: ["daily 02:30"]')
    posts = {
        # Last Sunday of March 2027: 02:30 does not exist in Paris, the first minute that
        # does is 03:00 (+02:00).
        "printemps.md": _post("2027-03-28"),
        # Last Sunday of October 2026: 02:30 happens twice, the first one (+02:00).
        "automne.md": _post("2026-10-25"),
        "lendemain.md": _post("2026-10-26"),
    }
    root = write_repo(tmp_path / "r", posts, config=config)
    dates = _dates(root, "2026-10-01 08:00")
    assert dates[("content/printemps.md", "mastodon")] == "2027-03-28T03:00:00+02:00"
    assert dates[("content/automne.md", "mastodon")] == "2026-10-25T02:30:00+02:00"
    assert dates[("content/lendemain.md", "mastodon")] == "2026-10-26T02:30:00+01:00"


# -- date: next ----------------------------------------------------------------------------


def test_next_counts_from_the_merge_that_brought_the_post_to_the_branch(tmp_path: Path) -> None:
    root = _git_repo(write_repo(tmp_path / "r", {}, config=CONFIG))
    (root / "content" / ".keep").write_text("", encoding="utf-8")
    _commit(root, "start", "2026-11-01T10:00:00+01:00")
    git(root, "checkout", "--quiet", "-b", "nouveau-post")
    (root / "content" / "été.md").write_text(_post("next"), encoding="utf-8")
    _commit(root, "written on a branch", "2026-11-20T10:00:00+01:00")  # a Friday
    # On the branch: counted from the branch's commit, next Tuesday.
    assert _dates(root)[("content/été.md", "mastodon")] == "2026-11-24T12:30:00+01:00"
    git(root, "checkout", "--quiet", "main")
    env = {
        **os.environ,
        "GIT_COMMITTER_DATE": "2026-11-30T10:00:00+01:00",  # merged on a Monday
        "GIT_AUTHOR_DATE": "2026-11-30T10:00:00+01:00",
    }
    subprocess.run(
        ["git", "merge", "--no-ff", "--quiet", "-m", "merge", "nouveau-post"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    # On main, the merge is when it arrived: the next slot after it, whatever the run's time.
    for at in ("2026-12-01 08:00", "2026-12-20 08:00"):
        assert _dates(root, at)[("content/été.md", "mastodon")] == "2026-12-01T12:30:00+01:00"


def test_next_uncommitted_counts_from_now_and_says_so(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "r", {"a.md": _post("next")}, config=CONFIG)
    assert _dates(root, "2026-12-02 10:00")[("content/a.md", "mastodon")] == (
        "2026-12-03T12:30:00+01:00"
    )
    text = run_cli(["plan", "--all", "--at", "2026-12-02 10:00"], root).stdout
    assert "2026-12-03 12:30 (slot, counted from now: not committed yet)" in text


def test_days_are_placed_before_next_posts(tmp_path: Path) -> None:
    root = _git_repo(write_repo(tmp_path / "r", {"a.md": _post("next")}, config=CONFIG))
    _commit(root, "a", "2026-11-30T10:00:00+01:00")
    (root / "content" / "z.md").write_text(_post("2026-12-01"), encoding="utf-8")
    _commit(root, "z", "2026-11-30T11:00:00+01:00")
    dates = _dates(root)
    # z.md asked for Tuesday 1 December: it gets that day's slot, the `next` post the one after.
    assert dates[("content/z.md", "mastodon")] == "2026-12-01T12:30:00+01:00"
    assert dates[("content/a.md", "mastodon")] == "2026-12-03T12:30:00+01:00"


def test_next_across_the_october_dst_change(tmp_path: Path) -> None:
    config = CONFIG.replace('slots: ["Tue 12:30", "Thu 12:30"]', 'slots: ["Sun 09:00"]')
    root = _git_repo(write_repo(tmp_path / "r", {"a.md": _post("next")}, config=config))
    _commit(root, "a", "2026-10-20T10:00:00+02:00")
    (root / "content" / "b.md").write_text(_post("next"), encoding="utf-8")
    _commit(root, "b", "2026-10-21T10:00:00+02:00")
    dates = _dates(root, "2026-10-01 08:00")
    # Sunday 25 October 09:00 is after the change: +01:00, still 09:00 on the wall clock.
    assert dates[("content/a.md", "mastodon")] == "2026-10-25T09:00:00+01:00"
    assert dates[("content/b.md", "mastodon")] == "2026-11-01T09:00:00+01:00"


def test_a_shallow_clone_cannot_place_next_and_says_what_to_fetch(tmp_path: Path) -> None:
    origin = _git_repo(write_repo(tmp_path / "origin", {"a.md": _post("next")}, config=CONFIG))
    _commit(origin, "a", "2026-11-30T10:00:00+01:00")
    (origin / "notes.txt").write_text("later\n", encoding="utf-8")
    _commit(origin, "later", "2026-12-01T10:00:00+01:00")
    git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{origin}", "shallow")
    found, _ = validate_json(tmp_path / "shallow", at="2026-12-01 08:00")
    (f,) = only(found, "schedule.no-slot")
    assert (f.path, f.line, f.column, f.channel) == ("content/a.md", 2, 1, None)
    assert "fetch-depth: 0" in f.message
    # A full clone knows.
    git(tmp_path, "clone", "--quiet", f"file://{origin}", "full")
    assert (
        only(validate_json(tmp_path / "full", at="2026-12-01 08:00")[0], "schedule.no-slot") == []
    )


# -- no slot -------------------------------------------------------------------------------


def test_no_slot_finding_at_the_date_line_says_what_to_do(tmp_path: Path) -> None:
    posts = {
        # `date:` on line 4, column 1; the site has no slots.
        "a.md": "---\nchannels: [site]\ntitle: Le pain\ndate: 2026-12-08\n---\nPain.\n",
        # Tue/Thu 12:30 and Mon-Fri 09:00 never meet.
        "b.md": _post("next", "mastodon, linkedin"),
    }
    root = write_repo(tmp_path / "r", posts, config=CONFIG)
    found, _ = validate_json(root, at="2026-12-01 08:00")
    assert only(found, "schedule.no-slot") == [
        Found(
            "content/a.md",
            4,
            1,
            "error",
            "schedule.no-slot",
            None,
            "`date: 2026-12-08` (a day, no time) takes a queue slot, but site has no "
            '`slots:`: add e.g. `slots: ["Tue 09:00"]` to it in channels.yaml, or write a '
            "time, e.g. `date: 2026-12-08 09:30`",
        ),
        Found(
            "content/b.md",
            2,
            1,
            "error",
            "schedule.no-slot",
            None,
            "`date: next` finds no free slot shared by mastodon (Tue 12:30, Thu 12:30); "
            "linkedin (Mon,Tue,Wed,Thu,Fri 09:00) within 400 days (a post takes one time for "
            "all its channels): write a time, or give these channels a slot in common",
        ),
    ]
    # Neither is sent, and the plan says why.
    plan = _plan(root, "2026-12-01 08:00")
    assert {a["action"] for a in plan["actions"]} == {"invalid"}


def test_a_channel_without_slots_follows_the_post_to_its_slot(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path / "r", {"a.md": _post("2026-12-08", "site, mastodon")}, config=CONFIG
    )
    assert set(_dates(root).values()) == {"2026-12-08T12:30:00+01:00"}
    assert only(validate_json(root, at="2026-12-01 08:00")[0], "schedule.no-slot") == []


# -- the schedule rules, with slot times -----------------------------------------------------

RULED = """\
timezone: Europe/Paris
channels:
  linkedin:
    platform: linkedin
    author: urn:li:organization:1
    token_env: CMFLOW_LINKEDIN_TOKEN
    slots: ["daily 09:00", "daily 17:00"]
    rules:
      posting_windows: ["Mon-Fri 08:00-18:00"]
      max_per_day: 1
      min_gap: 12h
"""


def _on(date: str) -> str:
    return _post(date, "linkedin")


def test_window_daily_cap_and_min_gap_name_the_next_time_that_passes_for_a_slot_post(
    tmp_path: Path,
) -> None:
    posts = {
        "samedi.md": _on("2026-12-12"),  # Saturday's 09:00 slot: outside the window
        "matin.md": _on("2026-12-08 09:00"),
        "soir.md": _on("2026-12-08"),  # 09:00 is taken: 17:00, the same day, 8 hours later
    }
    root = write_repo(tmp_path / "r", posts, config=RULED)
    found, _ = validate_json(root, at="2026-12-01 08:00")
    assert only(found, "schedule.window") == [
        Found(
            "content/samedi.md",
            2,
            1,
            "error",
            "schedule.window",
            "linkedin",
            "Sat 12 Dec 09:00 CET (slot) is outside the posting windows (Mon-Fri 08:00-18:00): "
            "the next time that passes is Mon 14 Dec 08:00 (Europe/Paris)",
        )
    ]
    assert [(f.path, f.message) for f in only(found, "schedule.daily-cap")] == [
        (
            "content/soir.md",
            "2 posts on 2026-12-08 (its time, 17:00, is a queue slot), at most 1 a day "
            "(also: content/matin.md): the next time that passes is Wed 9 Dec 17:00 "
            "(Europe/Paris)",
        )
    ]
    assert [(f.path, f.message) for f in only(found, "schedule.min-gap")] == [
        (
            "content/soir.md",
            "8h after content/matin.md (its time, 17:00, is a queue slot), the minimum gap is "
            "12h: the next time that passes is Tue 8 Dec 21:00 (Europe/Paris)",
        )
    ]


def test_min_gap_next_time_clears_every_post_not_only_the_one_before(tmp_path: Path) -> None:
    config = RULED.replace("max_per_day: 1", "max_per_day: 5")
    posts = {
        "a.md": _on("2026-12-08 09:00"),
        "b.md": _on("2026-12-08 12:00"),  # 3h after a.md
        "c.md": _on("2026-12-08 23:00"),  # 21:00 would be 2h before c.md: 11:00 the next day
    }
    root = write_repo(tmp_path / "r", posts, config=config)
    found, _ = validate_json(root, at="2026-12-01 08:00")
    gaps = {f.path: f.message for f in only(found, "schedule.min-gap")}
    assert gaps["content/b.md"].endswith(
        "the next time that passes is Wed 9 Dec 11:00 (Europe/Paris)"
    )


# -- every view shows the slot's time --------------------------------------------------------


def test_preview_and_calendar_show_the_slot_time_labelled(tmp_path: Path) -> None:
    posts = {"2026-12-08-brioche.md": _post("2026-12-08"), "pain.md": _post("2026-12-10 12:30")}
    root = write_repo(tmp_path / "r", posts, config=CONFIG)
    text = run_cli(["preview", "content/2026-12-08-brioche.md"], root)
    assert "date: Tue 8 Dec 2026 12:30 CET (slot)" in text.stdout.splitlines()[1]
    as_json = json.loads(run_cli(["preview", "--format", "json", "content/pain.md"], root).stdout)
    assert "date" not in as_json  # a post with its own time: unchanged
    as_json = json.loads(
        run_cli(["preview", "--format", "json", "content/2026-12-08-brioche.md"], root).stdout
    )
    assert as_json["date"] == "Tue 8 Dec 2026 12:30 CET (slot)"
    md = run_cli(["preview", "--format", "markdown", "content/2026-12-08-brioche.md"], root)
    assert "📅 2026-12-08 12:30 (Europe/Paris) (slot)" in md.stdout

    args = ["calendar", "--at", "2026-12-01 08:00", "--weeks", "2"]
    cal = run_cli(args, root).stdout
    assert "12:30* ● brioche" in cal and "12:30 ● pain" in cal
    assert "* time from a queue slot" in cal
    cal_md = run_cli([*args, "--format", "md"], root).stdout
    assert "12:30\\* ● brioche" in cal_md
    out = tmp_path / "cal.html"
    ics = tmp_path / "cal.ics"
    assert (
        run_cli([*args, "--format", "html", "--out", str(out), "--ics", str(ics)], root).exit_code
        == 0
    )
    assert "12:30* ● brioche" in out.read_text(encoding="utf-8")
    events = icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
    brioche = [e for e in events if "brioche" in str(e["SUMMARY"])]
    assert len(brioche) == 1
    assert brioche[0].decoded("DTSTART") == datetime.fromisoformat("2026-12-08T11:30:00+00:00")
    assert "time from a queue slot" in str(brioche[0]["DESCRIPTION"])


def test_a_calendar_without_slot_posts_has_no_slot_legend(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "r", {"pain.md": _post("2026-12-10 12:30")}, config=CONFIG)
    cal = run_cli(["calendar", "--at", "2026-12-01 08:00", "--weeks", "2"], root).stdout
    assert "queue slot" not in cal and "12:30 ● pain" in cal


# -- publishing ------------------------------------------------------------------------------


def test_a_next_post_is_published_once_and_keeps_its_slot_when_the_queue_changes(
    tmp_path: Path, fakes: Fakes
) -> None:
    channels = {"mastodon": {**fakes.channels("mastodon")["mastodon"], "slots": ["daily 09:00"]}}
    s = site(tmp_path / "repo", channels, {}, env=fakes.env(), secrets=fakes.secrets())
    _git_repo(s.root)
    s.write_post("file.md", _post("next", "mastodon", "File d'attente q7s"))
    added = ago(days=10)
    _commit(s.root, "a queued post", iso(added))
    plan = s.plan("--all", at=added)
    (action,) = plan["actions"]
    slot = datetime.fromisoformat(action["date"])
    assert action["slot"] == "next" and added < slot <= added + timedelta(days=1)
    # Before its slot: not due. (The run's clock moves; the slot does not.)
    assert s.publish(at=slot - timedelta(minutes=30)).code == 0
    assert created(fakes.mastodon, "q7s") == 0
    assert s.publish(at=slot + timedelta(minutes=5)).code == 0
    assert created(fakes.mastodon, "q7s") == 1
    entry = s.record("file", "mastodon")
    assert entry is not None and entry["state"] == "published"
    assert datetime.fromisoformat(entry["scheduled_for"]) == slot
    # A post with its own time now claims that very slot, and an earlier day-only post would
    # take it too: the published post keeps its time and is not sent again.
    s.write_post("avant.md", _post(f"{slot.astimezone().date()}", "mastodon", "Avant"))
    s.write_post("pile.md", _post(iso(slot), "mastodon", "Pile"))
    _commit(s.root, "more posts", iso(slot + timedelta(hours=1)))
    actions = {a["path"]: a for a in s.plan("--all", at=slot + timedelta(days=1))["actions"]}
    assert actions["content/file.md"]["action"] == "done"
    assert datetime.fromisoformat(actions["content/file.md"]["date"]) == slot
    assert s.publish(at=slot + timedelta(days=1)).code in (0, 1)
    assert s.publish(at=NOW).code in (0, 1)
    assert created(fakes.mastodon, "q7s") == 1
