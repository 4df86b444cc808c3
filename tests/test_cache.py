"""The validation cache is data a pull request can plant in the work tree: reading it never runs
code, a cache git tracks is ignored, malformed content is an empty cache, and the publish
path never reads it. Everything through the real entry point (`python -m cmflow`).
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import random
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cmflow import __version__
from cmflow.cache import CHECKSUM_SIZE, FORMAT, MAGIC, _pack, _unpack, checksum
from tests.publishing import NOW, Site, ago, feed_channel, git, later, post, site

BAD = "content/mauvais.md"  # an error: an unknown front-matter key
GOOD = "content/bon.md"


class _Payload:
    """Unpickling this creates the sentinel file: proof that code ran."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.sentinel, "code ran"))


@pytest.fixture
def repo(tmp_path: Path) -> Site:
    s = site(
        tmp_path / "repo",
        {"site": feed_channel()},
        {
            "bon.md": post(["site"], "Un atelier bon-5e2 cette semaine.", date=ago(hours=2)),
            "mauvais.md": post(
                ["site"], "Un texte mauvais-5e2.", date=ago(hours=1), couleur="rouge"
            ),
        },
    )
    git(s.root, "init", "-q", "-b", "main")
    git(s.root, "add", "-A")
    git(s.root, "commit", "-q", "-m", "contenu")
    return s


def _sentinel(s: Site) -> Path:
    return s.root.parent / "code-ran"


def _unpacked(raw: bytes) -> dict[str, Any]:
    data = _unpack(raw)
    for columns in data.values():
        for column, values in columns.items() if isinstance(columns, dict) else ():
            if not isinstance(values, list):  # decoded or cut into values when asked for
                columns[column] = values.load()
    return data


def _real_cache(s: Site) -> dict[str, Any]:
    """The cache cmflow writes for this repository, decoded."""
    assert s.run("validate", "--format", "json").code == 1
    data = _unpacked((s.root / ".cmflow-cache/validate.bin").read_bytes())
    assert data["findings"]["rule"], data  # it holds the bad post's finding
    return data


def _lying_cache(s: Site) -> bytes:
    """A well-formed cache for this exact repository (right key, right content hashes) that
    says every post is fine: what an attacker would plant to hide an error."""
    data = _real_cache(s)
    data["findings"] = {k: [] for k in data["findings"]}
    data["queue"] = None
    (s.root / ".cmflow-cache/validate.bin").unlink()
    return _pack(data)


def _plant(s: Site, files: dict[str, bytes], *, track: bool) -> None:
    folder = s.root / ".cmflow-cache"
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    if track:
        git(s.root, "add", "-f", ".cmflow-cache")
        git(s.root, "commit", "-q", "-m", "a pull request that adds a cache")


def _age(root: Path, seconds: int = 60) -> None:
    """Every file and folder of the work tree (the cache and .git aside) made `seconds`
    older: a stamp written within two seconds of the cache is "racy" and never trusted, so
    the runs of a test that is this fast would otherwise never answer from stamps alone."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", ".cmflow-cache")]
        for name in [*files, *dirs]:
            st = os.stat(os.path.join(folder, name))
            os.utime(
                os.path.join(folder, name), ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 10**9)
            )
    st = os.stat(root)
    os.utime(root, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 10**9))


def _findings(s: Site, *args: str) -> list[tuple[str, str]]:
    run = s.run("validate", "--format", "json", *args)
    assert run.code == 1, run  # the bad post's error is reported
    return [(f["path"], f["rule"]) for f in run.json()["findings"]]


def _expected(s: Site) -> list[tuple[str, str]]:
    found = _findings(s, "--no-cache")
    assert (BAD, "frontmatter.unknown-field") in found
    return found


def _publish_refuses_the_bad_post(s: Site) -> None:
    plan = s.plan()
    actions = {(a["post"], a["channel"]): a["action"] for a in plan["actions"]}
    assert actions[("mauvais", "site")] == "invalid"
    assert actions[("bon", "site")] == "publish"
    run = s.publish()
    assert run.code == 1, run  # a due invalid post fails the run
    feed = (s.root / "public" / "feed.xml").read_text("utf-8")
    assert "bon-5e2" in feed and "mauvais-5e2" not in feed


@pytest.mark.parametrize("track", [True, False], ids=["tracked", "untracked"])
def test_a_planted_pickle_never_runs(repo: Site, track: bool) -> None:
    expected = _expected(repo)
    payload = pickle.dumps(_Payload(_sentinel(repo)))
    # Under the old name and under the new one: neither is ever unpickled.
    _plant(repo, {"validate.pickle": payload, "validate.bin": payload}, track=track)
    assert _findings(repo) == expected
    assert _findings(repo) == expected  # again, with whatever the first run left
    _publish_refuses_the_bad_post(repo)
    assert not _sentinel(repo).exists()


def test_a_tracked_cache_is_neither_trusted_nor_overwritten(repo: Site) -> None:
    expected = _expected(repo)
    lying = _lying_cache(repo)
    _plant(repo, {"validate.bin": lying}, track=True)
    assert _findings(repo) == expected
    assert (repo.root / ".cmflow-cache/validate.bin").read_bytes() == lying
    assert git(repo.root, "status", "--porcelain", "--", ".cmflow-cache") == ""
    _publish_refuses_the_bad_post(repo)


def test_publish_and_plan_never_read_the_cache(repo: Site) -> None:
    # Untracked and well-formed: validate cannot tell it from its own, but the publish job
    # (which holds the credentials) does not read it.
    _plant(repo, {"validate.bin": _lying_cache(repo)}, track=False)
    _publish_refuses_the_bad_post(repo)


def _malformed(repo: Site) -> list[bytes]:
    # Variants of the honest cache: a variant read whole would still give the right
    # findings, so any wrong finding shows a malformed part was trusted.
    good = _real_cache(repo)
    (repo.root / ".cmflow-cache/validate.bin").unlink()
    changes: list[tuple[str, str, Any]] = [
        ("files", "sha", [None, None]),  # no content hash
        ("files", "date", ["2026-01-01", "2026-01-01"]),  # no time zone
        ("files", "date", ["demain", "demain"]),  # not a date
        ("files", "channels", [[3], [3]]),  # channel not text
        ("files", "channels", [{}, {}]),  # not a list
        ("files", "marks", [[[["date"], 2]], []]),  # a short mark
        ("files", "marks", [[[[1.5], 2, 1]], []]),  # a key that is a number
        ("files", "marks", [[], 1]),  # the marks of a post that is not before it
        ("files", "marks", [0, []]),
        ("files", "marks", [[], -1]),
        ("files", "marks", [True, []]),  # a boolean, not a row
        ("files", "meta", [{"a": {"$py": "x"}}, []]),  # meta a list
        ("files", "path", [GOOD, GOOD]),  # one path twice
        ("files", "id", ["bon"]),  # a short column
        ("findings", "level", ["fatal"]),
        ("fingerprints", "hash", [None, None]),  # cut into values later: checked now
        ("fingerprints", "channel", [None, None]),
        ("findings", "file", [7]),  # no such file
        ("findings", "file", [-1]),
        ("findings", "rule", [None]),
        ("findings", "line", [1, 2]),  # columns of different lengths
        ("settled", "rule", [None]),  # the settled rules' findings: checked as the others
        ("settled", "level", ["fatal"]),
        ("rdirs", "top", [1, 2]),
    ]
    out: list[bytes] = []
    for table, column, value in changes:
        data = copy.deepcopy(good)
        data[table][column] = value
        out.append(_pack(data))
    raw = _pack(good)
    return [
        *out,
        b"",
        raw[: len(raw) // 2],  # cut short
        raw + b"x",  # trailing bytes
        raw.replace(b'"format": 6', b'"format": 6.0'),
        raw.replace(b'"i"', b'"s"', 1),  # a column of another kind
        raw.replace(b"cmflow cache", b"cmflow cachf"),
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        b"[" * 100_000 + b"]" * 100_000,
    ]


def test_malformed_caches_are_an_empty_cache(repo: Site) -> None:
    expected = _expected(repo)
    for data in _malformed(repo):
        _plant(repo, {"validate.bin": data}, track=False)
        run = repo.run("validate", "--format", "json")
        assert run.code == 1, (data[:200], str(run))
        assert [(f["path"], f["rule"]) for f in run.json()["findings"]] == expected, data[:200]


def test_the_cache_it_writes_is_json_and_is_used(repo: Site) -> None:
    expected = _expected(repo)
    assert _findings(repo) == expected
    data = _unpacked((repo.root / ".cmflow-cache/validate.bin").read_bytes())
    assert data["key"].startswith(f"{FORMAT}:{__version__}:")
    assert set(data["files"]["path"]) == {GOOD, BAD}
    # An unchanged second run answers from it (same findings), and survives a moved clock.
    assert _findings(repo) == expected


def test_cached_runs_match_uncached_ones_as_files_and_the_clock_move(repo: Site) -> None:
    def both(*args: str) -> None:
        cached = repo.run("validate", "--format", "json", *args)
        fresh = repo.run("validate", "--format", "json", "--no-cache", *args)
        assert cached.stdout == fresh.stdout and cached.code == fresh.code, (cached, fresh)

    both()
    both("--at", "2020-01-01 00:00")  # before every post: no schedule.past
    good = repo.root / GOOD
    os.utime(good, ns=(1, 1))  # touched, same content: kept, stamp refreshed
    both()
    good.write_text(good.read_text("utf-8").replace("bon-5e2", "cliquez ici bon-5e2"), "utf-8")
    both()
    (repo.root / BAD).unlink()
    both()
    # The publish record: written by a run, then edited in place (its folder's mtime stays).
    assert repo.publish().code == 0
    both()
    both("--at", "2099-01-01 00:00")
    record = repo.root / "data/record/bon/site.json"
    entry = json.loads(record.read_text("utf-8"))
    # As if the post had changed since: the record holds an earlier version's hashes.
    entry["content_hash"], entry["source_hash"] = "0" * 32, "1" * 64
    folder_mtime = record.parent.stat().st_mtime_ns
    with record.open("r+", encoding="utf-8") as fh:
        fh.write(json.dumps(entry))
        fh.truncate()
    assert record.parent.stat().st_mtime_ns == folder_mtime
    both()
    assert "schedule.edited-after-publish" in repo.run("validate").stdout
    record.unlink()
    both()


def test_corrupted_bytes_never_change_the_findings(tmp_path: Path) -> None:
    """Thousands of byte-level corruptions of a real cache, in this process (fast): each is
    either refused whole or decodes to what was written; the findings never change."""
    from cmflow import config as config_mod
    from cmflow.cache import CACHE_DIR, FILE_NAME
    from cmflow.rules import BY_ID
    from cmflow.timeutil import parse_datetime
    from cmflow.validation import validate
    from tests.conftest import post as front
    from tests.conftest import write_repo

    posts = {
        "a.md": front("date: 2026-11-30 09:30\nchannels: [mastodon, x]\npillar: educaton"),
        "b.md": front("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education"),
        "2026/c.md": front(
            "date: 2026-11-24 10:30\nchannels: [instagram, mastodon]\npillar: product\n"
            "media:\n  - path: media/photo.jpg",
            "Cliquez ici #un https://example.fr/a",
        ),
        "d.md": front("date: 2026-11-20 09:30\nchannels: [mastodon]\nid: b", "Bonjour"),
    }
    root = write_repo(tmp_path / "repo", posts, media={"media/photo.jpg": b"\xff\xd8\xff"})
    cfg = config_mod.load(root, set(BY_ID))
    now = parse_datetime("2026-11-25 00:00", cfg.timezone)
    expected = validate(cfg, now=now, use_cache=False).findings
    assert validate(cfg, now=now).findings == expected
    path = root / CACHE_DIR / FILE_NAME
    good = path.read_bytes()
    rng = random.Random(5)
    for n in range(1500):
        data = bytearray(good)
        start = len(MAGIC) + CHECKSUM_SIZE if n % 2 else 0
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(start, len(data))
            data[i] = rng.randrange(256)
        if rng.random() < 0.1:
            del data[rng.randrange(start, len(data)) :]
        if n % 2:
            # A valid checksum over damaged content: decoding must still never fail (the
            # findings may then be anything the damaged cache says, as with any cache).
            body = bytes(data[len(MAGIC) + CHECKSUM_SIZE :])
            path.write_bytes(MAGIC + checksum([body]) + body)
            validate(cfg, now=now)
        else:
            path.write_bytes(bytes(data))
            assert validate(cfg, now=now).findings == expected


def test_the_kept_sent_index_follows_the_posts_and_the_record(repo: Site) -> None:
    """What the record says went out is kept in the cache while neither the posts nor the
    record change: a post renamed after publishing (its id comes from its file name, the
    record still finds it by its content) and a record file rewritten are both seen."""

    def late() -> set[str]:
        """The posts validate says are late and unpublished, cached and not: the same."""
        cached = repo.run("validate", "--format", "json")
        fresh = repo.run("validate", "--format", "json", "--no-cache")
        assert cached.stdout == fresh.stdout and cached.code == fresh.code, (cached, fresh)
        return {f["path"] for f in cached.json()["findings"] if f["rule"] == "schedule.past"}

    assert repo.publish().code == 1  # the bad post fails the run; the good one goes out
    assert (repo.root / "data/record/bon/site.json").is_file()
    assert late() == {BAD}
    assert late() == {BAD}  # from the cache: the same
    renamed = "content/bon-renomme.md"
    (repo.root / GOOD).rename(repo.root / renamed)
    assert late() == {BAD}  # still found in the record, by its content
    record = repo.root / "data/record/bon/site.json"
    entry = json.loads(record.read_text("utf-8"))
    entry["state"] = "failed"  # rewritten in place: no longer sent
    with record.open("r+", encoding="utf-8") as fh:
        fh.write(json.dumps(entry))
        fh.truncate()
    assert late() == {BAD, renamed}


def test_malformed_record_fields_are_read_again_from_the_record(repo: Site) -> None:
    """The record files' fields are decoded only when the record changed: an unchanged
    record never needs them, and fields that are not what cmflow writes are never trusted
    (each file is then read again from the record)."""
    from cmflow import config as config_mod
    from cmflow.cache import Cache
    from cmflow.rules import BY_ID
    from cmflow.validation import record_unchanged

    assert repo.publish().code == 1  # the good post goes out: one record file
    _age(repo.root)  # written a minute ago: stamps a cache can trust (not racy)
    expected = repo.run("validate", "--format", "json", "--no-cache").stdout
    assert repo.run("validate", "--format", "json").stdout == expected
    cfg = config_mod.load(repo.root, set(BY_ID))
    cache = Cache.open(repo.root, cfg.digest, cfg.timezone)
    assert cache.record is not None and record_unchanged(cfg, cache)
    assert cache.record._files is None  # only the stamps were compared
    good = _unpacked((repo.root / ".cmflow-cache/validate.bin").read_bytes())
    assert good["rfiles"]["state"] == ["published"]
    record = repo.root / "data/record/bon/site.json"
    original, stamp = record.read_bytes(), record.stat()
    entry = json.loads(original)
    # As if the post had changed since it went out: the record holds an earlier version's.
    entry["content_hash"], entry["source_hash"] = "0" * 32, "1" * 64
    for column, value in (
        ("state", ["sent-for-sure"]),  # not a state
        ("post", [None]),  # not a text
        ("content_hash", [None]),
    ):
        data = copy.deepcopy(good)
        data["rfiles"][column] = value
        _plant(repo, {"validate.bin": _pack(data)}, track=False)
        # Unchanged record: the sent index kept in the cache answers.
        assert repo.run("validate", "--format", "json").stdout == expected, column
        # The record changed in place: its file is read again, its cached fields not trusted.
        record.write_text(json.dumps(entry), "utf-8")
        fresh = repo.run("validate", "--format", "json", "--no-cache").stdout
        assert "schedule.edited-after-publish" in fresh
        assert repo.run("validate", "--format", "json").stdout == fresh, column
        record.write_bytes(original)
        os.utime(record, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))


def test_how_late_a_post_is_does_not_depend_on_the_cache_across_a_dst_change(
    tmp_path: Path,
) -> None:
    """A post dated in local time before the spring change and checked after it is late by
    the time elapsed, whether its date comes from the file (a zone) or from the cache (an
    offset): 20 days 23 h 30, not the wall clock's 21 days."""
    s = site(tmp_path / "repo", {"site": feed_channel()}, {})
    (s.root / "content").mkdir(exist_ok=True)
    (s.root / "content" / "printemps.md").write_text(
        "---\ndate: 2026-03-20 10:00\nchannels: [site]\n---\nAvant le changement d'heure.\n",
        "utf-8",
    )
    git(s.root, "init", "-q", "-b", "main")
    at = ("--at", "2026-04-10 10:30")
    runs = [
        s.run("validate", "--format", "json", "--no-cache", *at),
        s.run("validate", "--format", "json", *at),  # writes the cache
        s.run("validate", "--format", "json", *at),  # reads it
    ]
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout, runs
    late = [f for f in runs[0].json()["findings"] if f["rule"] == "schedule.past"]
    assert len(late) == 1 and "20 days" in late[0]["message"], late


def _answers_from_stamps(s: Site, at: str | None = None) -> bool:
    """Whether an unchanged run of this repository now answers from the stamps alone (no
    entry built, no rule run but the clock's)."""
    from cmflow import config as config_mod
    from cmflow import content
    from cmflow.cache import Cache
    from cmflow.rules import BY_ID
    from cmflow.timeutil import parse_datetime
    from cmflow.validation import _unchanged, post_stamps

    cfg = config_mod.load(s.root, set(BY_ID))
    now = parse_datetime(at or "2026-12-01 00:00", cfg.timezone)
    cache = Cache.open(s.root, cfg.digest, cfg.timezone)
    rels = content.discover(s.root, cfg.content_dir)
    return _unchanged(cfg, cache, rels, post_stamps(s.root, rels), now) is not None


def test_unchanged_runs_answer_from_stamps_and_see_every_change(repo: Site) -> None:
    """An unchanged run compares stamps and answers with the findings kept in the cache
    (only the clock's rules run again): the same output as a run without the cache, after
    the clock moves, a record file is rewritten in place at the same size, or removed."""

    def both(*args: str) -> str:
        cached = repo.run("validate", "--format", "json", *args)
        fresh = repo.run("validate", "--format", "json", "--no-cache", *args)
        assert cached.stdout == fresh.stdout and cached.code == fresh.code, (cached, fresh)
        return cached.stdout

    assert repo.publish().code == 1  # the good post goes out; the bad one is late
    _age(repo.root)
    both()  # writes the cache from aged stamps
    assert _answers_from_stamps(repo)
    both()
    both(BAD)  # only one file's findings reported, from the stamps too
    both("--at", "2099-01-01 00:00")  # the clock moved: schedule.past computed again
    both("--at", "2020-01-01 00:00")
    record = repo.root / "data/record/bon/site.json"
    entry = json.loads(record.read_text("utf-8"))
    assert (len(entry["content_hash"]), len(entry["source_hash"])) == (32, 64)
    # An earlier version's hashes, of the same size: only the file's own mtime changes.
    entry["content_hash"], entry["source_hash"] = "0" * 32, "1" * 64
    folder = record.parent.stat()
    with record.open("r+", encoding="utf-8") as fh:
        fh.write(json.dumps(entry))
        fh.truncate()
    os.utime(record.parent, ns=(folder.st_atime_ns, folder.st_mtime_ns))
    assert not _answers_from_stamps(repo)
    assert "schedule.edited-after-publish" in both()
    _age(repo.root)
    both()
    assert _answers_from_stamps(repo)
    record.unlink()
    assert not _answers_from_stamps(repo)
    assert "schedule.edited-after-publish" not in both()


def test_a_same_size_rewrite_in_the_caches_clock_tick_is_seen(repo: Site) -> None:
    """A post rewritten at the same size and the same mtime as when the cache read it (as
    happens within one tick of a coarse file-system clock, right as the cache is written)
    is hashed again, not taken as unchanged from its stamp (git's "racy" entries)."""
    expected = _expected(repo)
    assert _findings(repo) == expected  # writes the cache
    good = repo.root / GOOD
    before = good.stat()
    cache = repo.root / ".cmflow-cache/validate.bin"
    # The cache written in the post's clock tick: 1 ms after its mtime.
    os.utime(cache, ns=(before.st_mtime_ns, before.st_mtime_ns + 1_000_000))
    text = good.read_text("utf-8")
    head, sep, body = text.partition("---\n")[2].partition("---\n")
    rewritten = f"---\n{head}x: 1\n{sep}{body[5:]}"  # an unknown key, the same size
    assert len(rewritten.encode()) == len(text.encode())
    good.write_text(rewritten, "utf-8")
    os.utime(good, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert good.stat().st_size == before.st_size
    found = _findings(repo)
    assert found == _findings(repo, "--no-cache")
    assert (GOOD, "frontmatter.unknown-field") in found


def test_a_cache_written_by_other_code_of_the_same_version_is_not_used(
    repo: Site, tmp_path: Path
) -> None:
    """`pip install git+...` or `git pull` under an editable install: the version is the
    same, the rules may not be. A change to any module of cmflow makes the cache another's."""
    import shutil
    import subprocess
    import sys

    import cmflow

    code = tmp_path / "code"
    shutil.copytree(Path(cmflow.__file__).parent, code / "cmflow")
    env = {**os.environ, "PYTHONPATH": str(code)}

    def key() -> str:
        run = subprocess.run(
            [sys.executable, "-m", "cmflow", "validate", "--format", "json"],
            cwd=repo.root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 1, run.stderr
        assert (BAD, "frontmatter.unknown-field") in [
            (f["path"], f["rule"]) for f in json.loads(run.stdout)["findings"]
        ]
        data = _unpacked((repo.root / ".cmflow-cache/validate.bin").read_bytes())
        return str(data["key"])

    first = key()
    assert key() == first  # the same code: the same key
    module = code / "cmflow/rules/text.py"
    st = module.stat()
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the module changed
    assert key() != first


def test_a_cached_date_keeps_its_zone_across_a_dst_change(tmp_path: Path) -> None:
    """Queue rules count wall-clock time in the brand's zone (min-gap's next free time is
    4h after 01:30 on the night clocks go forward: 05:30 on the clock). A post read from
    the cache must give the same answer as one parsed from its file, so its date comes
    back in the zone it was parsed in, not as a bare offset."""
    import subprocess
    import sys

    from tests.conftest import CHANNELS_YAML, write_repo
    from tests.conftest import post as make_post

    config = CHANNELS_YAML.replace(
        "    token_env: CMFLOW_MASTODON_TOKEN\n",
        "    token_env: CMFLOW_MASTODON_TOKEN\n    rules:\n      min_gap: 4h\n",
    )

    def body(date: str, pillar: str = "education") -> str:
        return make_post(f"date: {date}\nchannels: [mastodon]\npillar: {pillar}\ntitle: T")

    root = write_repo(
        tmp_path / "repo",
        {
            "avant.md": body("2027-03-28 01:30"),
            "apres.md": body("2027-03-28 03:30"),
            "loin.md": body("2027-06-01 10:00"),
        },
        config=config,
    )

    def gap_findings() -> list[str]:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "cmflow",
                "validate",
                "--format",
                "json",
                "--at",
                "2027-01-01 00:00",
            ],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        found = json.loads(run.stdout)["findings"]
        return [f["message"] for f in found if f["rule"] == "schedule.min-gap"]

    cold = gap_findings()
    assert len(cold) == 1 and "05:30" in cold[0], cold
    # Another post edited: the queue rules run again, on the cached posts' dates.
    (root / "content/loin.md").write_text(body("2027-06-01 11:00"), "utf-8")
    assert gap_findings() == cold
    assert gap_findings() == cold


def test_cached_front_matter_of_another_shape_is_never_used(repo: Site) -> None:
    """A post's cached marks and meta are read (and checked) only when another post changed
    and the queue rules run again: any shape but what cmflow writes (meta an object of
    plain values, marks a list of [key, line, column]) means no cached entry is used."""
    good = _real_cache(repo)
    (repo.root / ".cmflow-cache/validate.bin").unlink()
    i = good["files"]["path"].index(GOOD)
    changes: list[tuple[str, Any]] = [
        ("meta", "pillar"),  # text, not an object
        ("meta", ["pillar"]),  # a list
        ("meta", None),
        ("marks", ""),  # text, not a list
        ("marks", {"date": [2, 1]}),  # an object
        ("marks", [[["date"], True, 1]]),  # a line that is not a number
        ("marks", 10**6),  # the marks of a post that is not before it
        ("marks", 1.0),
        ("meta", {"pillar": {"a": {"b": [{"c": [1, {"d": None}]}]}}}),
    ]
    bad = repo.root / BAD
    for n, (column, value) in enumerate(changes):
        data = copy.deepcopy(good)
        data["files"][column][i] = value
        _plant(repo, {"validate.bin": _pack(data)}, track=False)
        bad.write_text(bad.read_text("utf-8") + f"\nEncore {n}.\n", encoding="utf-8")
        cached = repo.run("validate", "--format", "json")
        fresh = repo.run("validate", "--format", "json", "--no-cache")
        assert (cached.stdout, cached.code) == (fresh.stdout, fresh.code), (value, cached)


def test_a_post_checked_before_its_time_is_compared_once_published(tmp_path: Path) -> None:
    """A post is checked without the fingerprints of what its channels receive, before its
    time as after (that work is left out of a run). Once it is published and the record
    says it changed since, a run from the cache works them out from the file, keeps them,
    and finds the edit exactly as a run without the cache does."""
    s = site(
        tmp_path / "repo",
        {"site": feed_channel()},
        {"bientot.md": post(["site"], "Un atelier bientot-5e2 à venir.", date=later(hours=2))},
    )
    git(s.root, "init", "-q", "-b", "main")
    git(s.root, "add", "-A")
    git(s.root, "commit", "-q", "-m", "contenu")
    cache = s.root / ".cmflow-cache/validate.bin"

    def both(at: datetime) -> str:
        cached = s.run("validate", "--format", "json", at=at)
        fresh = s.run("validate", "--format", "json", "--no-cache", at=at)
        assert cached.stdout == fresh.stdout and cached.code == fresh.code, (cached, fresh)
        return cached.stdout

    both(NOW)
    assert _unpacked(cache.read_bytes())["fingerprints"]["hash"] == []  # left out
    published = later(hours=3)
    assert s.publish(at=published).code == 0
    assert "schedule.edited-after-publish" not in both(published)
    # The post is as the record says it went out: nothing to compare, nothing worked out.
    assert _unpacked(cache.read_bytes())["fingerprints"]["hash"] == []
    record = s.root / "data/record/bientot/site.json"
    entry = json.loads(record.read_text("utf-8"))
    sent = entry["content_hash"]
    # As if the post had changed since: the record holds an earlier version's hashes.
    entry["content_hash"], entry["source_hash"] = "0" * 32, "1" * 64
    record.write_text(json.dumps(entry), "utf-8")
    assert "schedule.edited-after-publish" in both(published)
    # Worked out from the file when the rule asked, then kept: what the publisher sent.
    assert _unpacked(cache.read_bytes())["fingerprints"]["hash"] == [sent]
    assert "schedule.edited-after-publish" in both(published)


def test_a_post_swapped_for_a_link_with_the_same_stamp_is_read_again(tmp_path: Path) -> None:
    """A post file replaced by a link to a copy (same size and mtime, as `cp -p` keeps them)
    is read again: the cached run says what a run without the cache says (a link out of the
    repository is refused). A link that stays inside is read through, and the link pointed
    elsewhere or its target edited is seen too."""
    s = site(
        tmp_path / "repo",
        {"site": feed_channel()},
        {
            "a.md": post(["site"], "Un texte a-5e2.", date=ago(hours=2)),
            "b.md": post(["site"], "Un texte b-5e2.", date=ago(hours=1)),
        },
    )
    _age(s.root)

    def both() -> str:
        cached = s.run("validate", "--format", "json")
        fresh = s.run("validate", "--format", "json", "--no-cache")
        assert cached.stdout == fresh.stdout and cached.code == fresh.code, (cached, fresh)
        return cached.stdout

    both()
    a = s.root / "content/a.md"
    outside = tmp_path / "ailleurs.md"
    shutil.copy2(a, outside)  # its size and mtime kept
    a.unlink()
    a.symlink_to(outside)
    assert "content.file" in both()  # refused, not answered from the cache
    a.unlink()
    inside = s.root / "partage.md"
    shutil.copy2(outside, inside)
    a.symlink_to(inside)  # inside the repository: read through
    assert "content.file" not in both()
    _age(s.root)
    both()
    other = s.root / "autre.md"
    other.write_text(inside.read_text("utf-8").replace("Un texte", "Texte"), "utf-8")
    _age(s.root)  # the target older than the cache: the link's own stamp tells
    a.unlink()
    a.symlink_to(other)  # pointed elsewhere
    assert "frontmatter" not in both()
    other.write_text("pas de front-matter\n", "utf-8")  # the target edited
    assert "frontmatter.required" in both()
    # The target replaced by a text of the same size given an older mtime (`cp -p` of a
    # backup, `tar x`), the link itself newer: the later of the two mtimes is the link's
    # either way, and the cached run once answered with the old text.
    other.write_text(inside.read_text("utf-8").replace("Un texte", "Texte"), "utf-8")
    _age(s.root)  # (through the link: its target)
    link = os.lstat(a)
    os.utime(a, ns=(link.st_atime_ns, link.st_mtime_ns - 30 * 10**9), follow_symlinks=False)
    both()

    def late() -> list[str]:
        return [f["path"] for f in json.loads(both())["findings"] if f["rule"] == "schedule.past"]

    assert "content/a.md" in late()  # dated two hours ago
    before = other.stat()
    text = other.read_text("utf-8")
    year = re.search(r"^date: '?(\d{4})-", text, re.M)
    assert year is not None, text
    edited = text.replace(f"{year[1]}-", f"{int(year[1]) + 1}-", 1)  # a year later
    assert len(edited.encode()) == before.st_size
    other.write_text(edited, "utf-8")
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns - 10**9))
    assert os.lstat(a).st_mtime_ns > before.st_mtime_ns  # the link is the newer
    assert "content/a.md" not in late()
