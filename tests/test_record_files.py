"""Record files in `data/record/` that cmflow did not write (hand edits, bad merges, a tool
gone wrong) and record files an earlier cmflow wrote.

A file that is not a record is reported naming the file (and line:col for JSON syntax), its
(post, channel) pair is held until a human says what happened (`cmflow resolve`), and every
other post goes on. Nothing exits 3.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from cmflow.ledger import Ledger, RecordProblem
from cmflow.model import State
from cmflow.platforms.base import PartResult
from cmflow.runlock import Claimer, claim_holder
from cmflow.scheduler import DEFAULT_LEASE
from tests.publishing import Fakes, ago, created, post, site

MAIN_RECORDS = Path(__file__).parent / "data" / "record-main"

CORRUPT: dict[str, tuple[bytes, str]] = {
    # name: (file content, what the message must say)
    "list": (b"[]\n", "a JSON object was expected, not a list"),
    "null": (b"null\n", "not null"),
    "empty-object": (b"{}\n", "'post' is missing"),
    "string": (b'"published"\n', "not a string"),
    "syntax": (b'{\n  "post": "a",\n  "channel": mastodon\n}\n', ":3:14: invalid JSON"),
    "wrong-types": (
        json.dumps(
            {
                "post": "a",
                "channel": "mastodon",
                "platform": "mastodon",
                "state": "published",
                "parts": [{"id": 42}],
            }
        ).encode(),
        "parts[0].id must be a non-empty string",
    ),
    "generation-text": (
        json.dumps(
            {
                "post": "a",
                "channel": "mastodon",
                "platform": "mastodon",
                "state": "claimed",
                "generation": "2",
            }
        ).encode(),
        "'generation' must be a whole number, not a string",
    ),
    "unknown-state": (
        json.dumps(
            {"post": "a", "channel": "mastodon", "platform": "mastodon", "state": "posted"}
        ).encode(),
        "state 'posted' is not one of",
    ),
    "other-pair": (
        json.dumps(
            {"post": "b", "channel": "mastodon", "platform": "mastodon", "state": "published"}
        ).encode(),
        "names post 'b'",
    ),
    "huge": (b"{" + b" " * (2 << 20) + b"}", "far more than a publish record"),
    "not-utf8": (b'{"post": "\xe9t\xe9"}', "not UTF-8"),
    "conflict": (
        b'<<<<<<< HEAD\n{"state": "published"}\n=======\n{"state": "claimed"}\n>>>>>>> x\n',
        "conflict markers",
    ),
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_an_unreadable_record_holds_its_pair_and_the_others_go_on(
    tmp_path: Path, fakes: Fakes, kind: str
) -> None:
    content, says = CORRUPT[kind]
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {
            "a.md": post(["mastodon"], "Tenu rec-a", date=ago(hours=2)),
            "b.md": post(["mastodon"], "Libre rec-b", date=ago(hours=1)),
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    bad = s.write("data/record/a/mastodon.json", content)
    where = "data/record/a/mastodon.json"

    validated = s.run("validate", "--no-cache")
    assert validated.code in (0, 1), validated
    preview = s.run("preview", "content/a.md")
    assert preview.code in (0, 1), preview

    plan = s.plan()
    actions = {(a["post"], a["channel"]): a for a in plan["actions"]}
    assert actions[("a", "mastodon")]["action"] == "blocked"
    assert where in actions[("a", "mastodon")]["reason"]
    assert says in actions[("a", "mastodon")]["reason"]
    assert "cmflow resolve a mastodon" in actions[("a", "mastodon")]["reason"]
    assert actions[("b", "mastodon")]["action"] == "publish"

    first = s.publish()
    assert first.code == 1, first  # a pair is held: the run says so
    assert where in first.stdout and says in first.stdout
    assert created(fakes.mastodon, "rec-b") == 1 and created(fakes.mastodon, "rec-a") == 0
    assert bad.read_bytes() == content  # never overwritten behind the human's back

    # Someone checked the account: not there. The file is replaced and the post goes once.
    resolved = s.run("resolve", "a", "mastodon", "--absent")
    assert resolved.code == 0, resolved
    again = s.publish()
    assert again.code == 0, again
    assert created(fakes.mastodon, "rec-a") == 1 and created(fakes.mastodon, "rec-b") == 1
    assert s.state("a", "mastodon") == "published"
    s.assert_no_secret()


def test_resolve_published_over_an_unreadable_record(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Déjà là rec-p")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    s.write("data/record/a/mastodon.json", "[]")
    url = f"{fakes.mastodon.url}/@marque/111"
    resolved = s.run("resolve", "a", "mastodon", "--published", url)
    assert resolved.code == 0, resolved
    entry = s.record("a", "mastodon")
    assert entry is not None and entry["state"] == "published"
    assert (entry["parts"][-1]["id"], entry["parts"][-1]["url"]) == ("111", url)
    assert s.publish().code == 0
    assert fakes.mastodon.created == 0


def test_a_json_syntax_error_is_reported_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "data" / "record" / "a" / "mastodon.json"
    path.parent.mkdir(parents=True)
    path.write_text('{\n  "post": "a",\n  "channel": mastodon\n}\n', encoding="utf-8")
    got = Ledger(tmp_path).read(path)
    assert isinstance(got, RecordProblem)
    assert (got.rel, got.line, got.column) == ("data/record/a/mastodon.json", 3, 14)
    assert str(got).startswith("data/record/a/mastodon.json:3:14: invalid JSON")


def test_records_written_by_the_previous_format_still_load(tmp_path: Path) -> None:
    """Files as the cmflow before the State enum wrote them (no claimer, plain strings)."""
    for name, post_id, channel in (
        ("published.json", "lancement", "bluesky"),
        ("claimed.json", "rappel", "mastodon"),
    ):
        dest = tmp_path / "data" / "record" / post_id / f"{channel}.json"
        dest.parent.mkdir(parents=True)
        shutil.copy(MAIN_RECORDS / name, dest)
    ledger = Ledger(tmp_path)
    scan = ledger.scan()
    assert scan.problems == []
    entries = {e.post: e for e in scan.entries}

    published = entries["lancement"]
    assert published.state is State.PUBLISHED
    assert published.parts == [
        PartResult(
            "at://did:plc:x/app.bsky.feed.post/3kabc",
            "https://bsky.app/profile/x/post/3kabc",
            {"cid": "bafy1"},
        ),
        PartResult(
            "at://did:plc:x/app.bsky.feed.post/3kabd",
            "https://bsky.app/profile/x/post/3kabd",
            {"cid": "bafy2"},
        ),
    ]
    # Written back, it says the same thing in the same words.
    original = json.loads((MAIN_RECORDS / "published.json").read_text("utf-8"))
    assert json.loads(published.to_json()) == original

    claimed = entries["rappel"]
    assert claimed.state is State.CLAIMED and claimed.claimer == {}
    assert claimed.in_flight == 0 and claimed.handles["idempotency_keys"]
    # No claimer recorded: the lease decides, on the real clock.
    leased = claimed.leased_at
    assert leased is not None
    from cmflow.ledger import parse_time

    since = parse_time(leased)
    assert since is not None
    here = Claimer.here({})
    assert claim_holder(None, since, since + timedelta(minutes=5), DEFAULT_LEASE, here)
    assert claim_holder(None, since, since + DEFAULT_LEASE, DEFAULT_LEASE, here) is None


@pytest.mark.parametrize("kind", ["zero", "fifo", "outside"])
def test_a_record_file_that_is_a_link_or_a_pipe_is_refused_never_read(
    tmp_path: Path, fakes: Fakes, kind: str
) -> None:
    """A pull request can add `data/record/<post>/<channel>@2.json` as a symbolic link (to
    /dev/zero: read forever; to a file outside the repository) or a named pipe (open waits
    forever). cmflow never writes such files: validation names the file and goes on."""
    import os
    import subprocess
    import sys

    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"pain.md": post(["mastodon"], "Pain rec-l", evergreen={"every": "7d", "times": 1})},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    target = s.root / "data/record/pain/mastodon@2.json"
    if kind == "zero":
        os.symlink("/dev/zero", target)
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        first = s.root / "data/record/pain/mastodon.json"
        data = {**json.loads(first.read_text("utf-8")), "publication": 2}
        outside = tmp_path / "elsewhere.json"
        outside.write_text(json.dumps(data), "utf-8")
        os.symlink(outside, target)
    done = subprocess.run(
        [sys.executable, "-m", "cmflow", "validate", "--root", str(s.root)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **s.env, "CMFLOW_LANG": "en"},
    )
    assert done.returncode == 1, done
    line = next(x for x in done.stdout.splitlines() if "record.unreadable" in x)
    assert line.startswith("data/record/pain/mastodon@2.json:1:1: error"), line
    assert "real file" in line, line
