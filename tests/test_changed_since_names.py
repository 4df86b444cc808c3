"""`cmflow validate --changed-since REF` on file names git would quote: accented (NFC and
NFD), spaces, quotes, backslashes, tabs, newlines, a leading dash; added, renamed, deleted,
committed or not. A PR that only adds such a post must see its errors (the required check
would otherwise pass with "0 errors in 0 files").

The real CLI in a subprocess, on a real git repository.
"""

from __future__ import annotations

import json
import subprocess
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import BEFORE_ALL, post, run_main, write_repo

# Two errors: a pillar that is not one, and a forbidden term.
BAD = post("date: 2026-11-30 09:30\nchannels: [mastodon]\npillar: educaton", "Cliquez ici !")
GOOD = post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education", "Bonjour.")

NAMES = {
    "nfc": unicodedata.normalize("NFC", "été.md"),
    "nfd": unicodedata.normalize("NFD", "été.md"),
    "space": "mon premier post.md",
    "quote": 'il a dit "bonjour".md',
    "backslash": "a\\b.md",
    "tab": "avant\tapres.md",
    "newline": "ligne\ndeux.md",
    "dash": "-tiret.md",
    "nested": "2026/déc/à l'été.md",
}


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True, encoding="utf-8"
    )
    return done.stdout


def _repo(tmp_path: Path, posts: dict[str, str]) -> Path:
    root = write_repo(tmp_path / "repo", posts)
    _git(root, "init", "-q", "-b", "main")
    # The default: git quotes every non-ASCII name unless told otherwise.
    _git(root, "config", "core.quotePath", "true")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    _git(root, "tag", "base")
    return root


def _changed(root: Path) -> tuple[int, list[tuple[str, str]], dict[str, int]]:
    proc = run_main(
        [
            "validate",
            "--at",
            BEFORE_ALL,
            "--format",
            "json",
            "--no-cache",
            "--changed-since",
            "base",
        ],
        root,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    found = [(f["path"], f["rule"]) for f in data["findings"] if f["level"] == "error"]
    return proc.returncode, found, data["summary"]


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "untracked"])
@pytest.mark.parametrize("kind", sorted(NAMES))
def test_a_pr_adding_only_a_post_with_an_unusual_name_reports_its_errors(
    tmp_path: Path, kind: str, committed: bool
) -> None:
    root = _repo(tmp_path, {"ok.md": GOOD})
    name = NAMES[kind]
    path = root / "content" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BAD, encoding="utf-8")
    if committed:
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", "un post")
    code, found, summary = _changed(root)
    assert code == 1
    assert {p for p, _ in found} == {f"content/{name}"}
    assert len(found) == 2, found
    assert summary["files"] == 1 and summary["errors"] == 2


def test_renames_and_deletions_of_unusual_names_are_parsed_field_by_field(tmp_path: Path) -> None:
    root = _repo(
        tmp_path,
        {
            "ancien nom.md": BAD,  # renamed below: its errors are the PR's again
            '-supprimé "vieux".md': GOOD,  # deleted below
            "reste.md": BAD,  # untouched: not reported
        },
    )
    _git(root, "mv", "--", "content/ancien nom.md", "content/nouvé\tnom.md")
    _git(root, "rm", "-q", "--", 'content/-supprimé "vieux".md')
    (root / "content" / NAMES["nfd"]).write_text(BAD, encoding="utf-8")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "renommer, supprimer, ajouter")
    code, found, summary = _changed(root)
    assert code == 1
    assert {p for p, _ in found} == {"content/nouvé\tnom.md", f"content/{NAMES['nfd']}"}
    assert summary["files"] == 2 and summary["errors"] == 4


def test_nothing_changed_under_unusual_names_is_ok(tmp_path: Path) -> None:
    root = _repo(tmp_path, {NAMES["nfc"]: BAD, NAMES["quote"]: BAD})
    code, found, summary = _changed(root)
    assert code == 0 and found == [] and summary["files"] == 0
