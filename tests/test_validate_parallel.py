"""Validation on several cores gives exactly what it gives on one: same findings in the same
order, same posts, same cache file, whatever process checked which post, and even when a
worker dies or this process fails while the workers run."""

from __future__ import annotations

import gc
import os
import signal
from pathlib import Path

import pytest

from cmflow import output
from cmflow import validation as v
from cmflow.cache import CACHE_DIR, FILE_NAME
from cmflow.config import Config, load
from cmflow.rules import BY_ID
from cmflow.timeutil import parse_datetime
from tests.conftest import JPEG, post, run_cli, run_main, write_repo

AT = "2026-11-24 10:00"
COUNT = v.PARALLEL_FROM + 60  # enough posts to be checked on several cores


def _posts() -> dict[str, str]:
    """Posts with findings of most kinds, spread so that every range holds some."""
    out: dict[str, str] = {}
    for i in range(COUNT):
        day = 1 + i % 28
        front = f"date: 2026-12-{day:02d} {8 + i % 10:02d}:{i % 60:02d}\n"
        front += "channels: [mastodon, x, site]\n" if i % 3 else "channels: [bluesky]\n"
        if i % 11:
            front += ["pillar: education\n", "pillar: community\n", "pillar: product\n"][i % 3]
        if i % 17 == 0:
            front += f"media:\n  - path: media/p{i}.jpg\n"  # no alt text
        if i % 23 == 0:
            front += "titel: faute\n"  # an unknown key
        if i % 29 == 0:
            front += "id: doublon\n"  # the same id as other posts
        body = "Un texte simple #communaute."
        if i % 13 == 0:
            body = "Cliquez ici ! " + "très long " * 60  # forbidden term, too long for x
        out[f"{2026 + i % 2}/{i % 12 + 1:02d}/post-{i:04d}.md"] = post(front, body)
    out["2026/bad.md"] = "---\ndate: [\n---\nCassé."  # YAML that does not parse
    return out


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    media = {f"media/p{i}.jpg": JPEG for i in range(0, COUNT, 34)}  # half of them missing
    return write_repo(tmp_path / "repo", _posts(), media=media)


def _config(root: Path) -> Config:
    return load(root, set(BY_ID))


def _run(root: Path, jobs: int, **kw: object) -> v.Report:
    cfg = _config(root)
    return v.validate(cfg, now=parse_datetime(AT, cfg.timezone), jobs=jobs, **kw)  # type: ignore[arg-type]


def test_several_cores_give_what_one_core_gives(repo: Path) -> None:
    one = _run(repo, 1, use_cache=False)
    assert len(one.findings) > 100  # the corpus does exercise the rules
    for jobs in (2, 3):
        many = _run(repo, jobs, use_cache=False)
        assert many.findings == one.findings
        assert many.posts == one.posts
        assert many.files == one.files == COUNT + 1


def test_posts_kept_for_the_publisher_are_the_same_on_several_cores(repo: Path) -> None:
    one = _run(repo, 1, keep_posts=True)
    many = _run(repo, 2, keep_posts=True)
    assert many.full_posts == one.full_posts
    assert many.fingerprints == one.fingerprints
    assert len(many.fingerprints) > COUNT


def test_the_cache_written_is_byte_for_byte_the_same(repo: Path) -> None:
    cache = repo / CACHE_DIR / FILE_NAME
    _run(repo, 1)
    written = cache.read_bytes()
    cache.unlink()
    _run(repo, 2)
    assert cache.read_bytes() == written


def test_the_command_output_is_the_same_as_on_one_core(repo: Path) -> None:
    one = _run(repo, 1, use_cache=False)
    expected = output.FORMATTERS["json"](one.findings, one.files) + "\n"
    done = run_main(["validate", "--no-cache", "--format", "json", "--at", AT], repo)
    assert done.returncode == 1, done.stderr
    assert done.stdout == expected


def test_the_command_leaves_the_cycle_collector_as_it_found_it(repo: Path) -> None:
    assert gc.isenabled()
    run_cli(["validate", "--at", AT], repo)
    assert gc.isenabled()


def _children() -> list[int]:
    """This process's child processes (Linux)."""
    out: list[int] = []
    for task in Path("/proc/self/task").iterdir():
        try:
            listed = (task / "children").read_text()
        except FileNotFoundError:  # a thread that ended since the listing: no child of its
            continue
        out += [int(pid) for pid in listed.split()]
    return out


needs_proc = pytest.mark.skipif(
    not Path(f"/proc/self/task/{os.getpid()}/children").exists(), reason="Linux /proc only"
)


@needs_proc
def test_a_worker_killed_while_checking_changes_nothing(repo: Path) -> None:
    """Killed by the system (out of memory, a signal): this process checks its posts."""
    cfg = _config(repo)
    rels = sorted(v.content.discover(repo, cfg.content_dir))
    expected = v._compute_all(cfg, rels, jobs=1)
    before = _children()  # other tests' processes: left alone
    killed: list[int] = []

    def kill_the_workers() -> None:
        for pid in set(_children()) - set(before):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    got = v._compute_all(cfg, rels, jobs=2, meanwhile=kill_the_workers)
    assert killed
    assert got == expected
    assert _children() == before


class Stop(Exception):
    pass


@needs_proc
def test_an_error_here_stops_the_workers(repo: Path) -> None:
    cfg = _config(repo)
    rels = sorted(v.content.discover(repo, cfg.content_dir))

    before = _children()
    started: list[int] = []

    def fail() -> None:
        started.extend(set(_children()) - set(before))
        raise Stop

    with pytest.raises(Stop):
        v._compute_all(cfg, rels, jobs=2, meanwhile=fail)
    assert started  # a worker was running
    assert _children() == before


@pytest.mark.parametrize("count", [1, 7, 400, 10_000, 50_000, 123_457])
@pytest.mark.parametrize("procs", [2, 3, 8])
def test_ranges_cover_every_post_once_and_end_small(count: int, procs: int) -> None:
    ranges = v._chunks(count, procs)
    assert [i for start, end in ranges for i in range(start, end)] == list(range(count))
    assert len(ranges) <= 250  # a range's number is one byte
    sizes = [end - start for start, end in ranges]
    assert sizes == sorted(sizes, reverse=True) or count < 2 * v._LEAST_CHUNK
    assert max(sizes) <= v._MOST_CHUNK or len(ranges) == 250
    assert sizes[-1] <= max(v._LEAST_CHUNK, -(-count // 250))
