"""The validation cache is data a pull request can plant in the work tree: reading it never runs
code, a cache git tracks is ignored, malformed content is an empty cache, and the publish
path never reads it. Everything through the real entry point (`python -m cmflow`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from cmflow import __version__
from cmflow.cache import FORMAT
from tests.publishing import Site, ago, feed_channel, git, post, site

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


def _lying_cache(s: Site) -> dict[str, Any]:
    """A well-formed cache for this exact repository (right key, right content hashes) that
    says every post is fine: what an attacker would plant to hide an error."""
    digest = hashlib.sha256((s.root / "channels.yaml").read_bytes()).hexdigest()
    rows = []
    for rel in (GOOD, BAD):
        raw = (s.root / rel).read_bytes()
        stem = rel.rsplit("/", 1)[-1].removesuffix(".md")
        when = ago(hours=1).isoformat()
        post_row = [stem, {}, 6, [[["date"], 2, 1]], when, ["site"], "ready", "x"]
        rows.append([rel, 1, 1, hashlib.sha256(raw).hexdigest(), [], {}, [], post_row])
    return {"format": FORMAT, "key": f"{FORMAT}:{__version__}:{digest}", "files": rows, "queue": []}


def _plant(s: Site, files: dict[str, bytes], *, track: bool) -> None:
    folder = s.root / ".cmflow-cache"
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    if track:
        git(s.root, "add", "-f", ".cmflow-cache")
        git(s.root, "commit", "-q", "-m", "a pull request that adds a cache")


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
    _plant(repo, {"validate.pickle": payload, "validate.json": payload}, track=track)
    assert _findings(repo) == expected
    assert _findings(repo) == expected  # again, with whatever the first run left
    _publish_refuses_the_bad_post(repo)
    assert not _sentinel(repo).exists()


def test_a_tracked_cache_is_neither_trusted_nor_overwritten(repo: Site) -> None:
    expected = _expected(repo)
    lying = json.dumps(_lying_cache(repo)).encode()
    _plant(repo, {"validate.json": lying}, track=True)
    assert _findings(repo) == expected
    assert (repo.root / ".cmflow-cache/validate.json").read_bytes() == lying
    assert git(repo.root, "status", "--porcelain", "--", ".cmflow-cache") == ""
    _publish_refuses_the_bad_post(repo)


def test_publish_and_plan_never_read_the_cache(repo: Site) -> None:
    # Untracked and well-formed: validate cannot tell it from its own, but the publish job
    # (which holds the credentials) does not read it.
    _plant(repo, {"validate.json": json.dumps(_lying_cache(repo)).encode()}, track=False)
    _publish_refuses_the_bad_post(repo)


def _row(repo: Site) -> list[Any]:
    row: list[Any] = _lying_cache(repo)["files"][1]
    return row


def _malformed(repo: Site) -> list[bytes]:
    good = _lying_cache(repo)
    variants: list[Any] = []
    for index, bad in [
        (1, "12"),  # size as text
        (3, None),  # no content hash
        (4, [["media/x.jpg", "big", 0]]),  # media size as text
        (5, {"site": 3}),  # fingerprint not text
        (6, [[1, 1, "fatal", "r", "m", None]]),  # unknown level
        (6, [["1", 1, "error", "r", "m", None]]),  # line as text
        (7, ["mauvais", [], 6, [], None, ["site"], "ready", "x"]),  # meta a list
        (7, ["mauvais", {}, 6, [[["date"], 2]], None, ["site"], "ready", "x"]),  # short mark
        (7, ["mauvais", {}, 6, [], "2026-01-01", ["site"], "ready", "x"]),  # naive date
        (7, ["mauvais", {}, 6, [], "demain", ["site"], "ready", "x"]),  # not a date
        (7, ["mauvais", {}, 6, [], None, [3], "ready", "x"]),  # channel not text
        (7, ["mauvais", {"a": {"$py": b"x".hex()}}, 6, [], None, ["site"], "ready", 1]),
    ]:
        data = json.loads(json.dumps(good))
        data["files"][1][index] = bad
        variants.append(data)
    short = json.loads(json.dumps(good))
    short["files"][1] = short["files"][1][:5]
    variants.append(short)
    queue = json.loads(json.dumps(good))
    queue["queue"] = [["content/bon.md", 1, 1, "error", "r"]]
    variants.append(queue)
    out = [json.dumps(v).encode() for v in variants]
    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        *out,
        b"",
        b"\xff\xfe not utf-8",
        b'{"format": 5, "key": ',
        b"[1, 2, 3]",
        deep,
        json.dumps({**good, "files": {"a": 1}}).encode(),
    ]


def test_malformed_caches_are_an_empty_cache(repo: Site) -> None:
    expected = _expected(repo)
    for data in _malformed(repo):
        _plant(repo, {"validate.json": data}, track=False)
        run = repo.run("validate", "--format", "json")
        assert run.code == 1, (data[:200], str(run))
        assert [(f["path"], f["rule"]) for f in run.json()["findings"]] == expected, data[:200]


def test_the_cache_it_writes_is_json_and_is_used(repo: Site) -> None:
    expected = _expected(repo)
    assert _findings(repo) == expected
    data = json.loads((repo.root / ".cmflow-cache/validate.json").read_text("utf-8"))
    assert data["key"].startswith(f"{FORMAT}:{__version__}:")
    assert {row[0] for row in data["files"]} == {GOOD, BAD}
    # An unchanged second run answers from it (same findings), and survives a moved clock.
    assert _findings(repo) == expected
