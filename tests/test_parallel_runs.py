"""On a large repository, `cmflow validate` hands work to a forked process: listing and
stat'ing the post files and the publish record while it decodes the cache (`_Survey`), and
packing the entries' part of the cache while it runs the queue rules (`Cache.prepare`).
Whatever the other process does, the answer is the one a single process gives: the same
findings, the same cache file byte for byte, every change seen, and a helper process that
dies costs time, not correctness.

The repository is the benchmark's years-old archive (posts by month, a third with a photo, a
publish record file per (post, channel)), large enough for the cache to pass the size from
which a second process is used, with accented file names.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from cmflow import config as config_mod
from cmflow import validation
from cmflow.cache import CACHE_DIR, FILE_NAME
from cmflow.forked import Forked
from cmflow.model import Finding
from cmflow.rules import BY_ID
from cmflow.timeutil import parse_datetime

ROOT = Path(__file__).resolve().parent.parent
POSTS = 1200  # a cache of about 2 MB: past `validation._LARGE_CACHE`


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "validate_bench", ROOT / "bench/validate_bench.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _age(root: Path, seconds: int = 60) -> None:
    """Every file and folder made older: stamps within two seconds of the cache are racy
    (never trusted), and these runs are faster than that."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != CACHE_DIR]
        for name in [*files, *dirs]:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 10**9))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive") / "dépôt"
    root.mkdir()
    _bench().write_archive(root, POSTS)
    # French file names, as brands write them (posts and a record folder of one of them).
    posts = sorted((root / "content").rglob("*.md"))
    for i, path in enumerate(posts[::97]):
        path.rename(path.with_name(f"{path.stem}-été-n°{i}-œuvre.md"))
    return root


@pytest.fixture
def repo(archive: Path, tmp_path: Path) -> Path:
    """A fresh copy of the archive for each test, every stamp a minute old."""
    root = tmp_path / "dépôt"
    shutil.copytree(archive, root, symlinks=True)
    _age(root)
    return root


def _run(root: Path, jobs: int, at: str = "2027-01-01 00:00") -> tuple[list[Finding], bytes]:
    cfg = config_mod.load(root, set(BY_ID))
    now = parse_datetime(at, cfg.timezone)
    report = validation.validate(cfg, now=now, jobs=jobs)
    cache = root / CACHE_DIR / FILE_NAME
    return report.findings, cache.read_bytes() if cache.exists() else b""


def _swap_cache(root: Path, data: bytes) -> None:
    (root / CACHE_DIR / FILE_NAME).write_bytes(data)
    # Written a minute after everything else (so no stamp is racy), as a real run would be.
    st = os.stat(root / CACHE_DIR / FILE_NAME)
    os.utime(root / CACHE_DIR / FILE_NAME, ns=(st.st_atime_ns, time.time_ns()))


def test_two_processes_give_one_process_answer_and_cache(repo: Path) -> None:
    one, cache_one = _run(repo, jobs=1)
    assert len(cache_one) > validation._LARGE_CACHE  # else nothing below runs in parallel
    (repo / CACHE_DIR / FILE_NAME).unlink()
    two, cache_two = _run(repo, jobs=2)
    assert two == one
    assert cache_two == cache_one  # the entries packed in the other process, spliced

    # Unchanged: answered from the cache, the files listed and the record checked elsewhere.
    assert _run(repo, jobs=2)[0] == one
    assert _run(repo, jobs=2, at="2027-02-01 00:00")[0] == _run(repo, 1, "2027-02-01 00:00")[0]

    # One post edited: the same findings and the same cache, whichever saved it.
    before = (repo / CACHE_DIR / FILE_NAME).read_bytes()
    edited = sorted((repo / "content").rglob("*été*.md"))[3]
    edited.write_text(edited.read_text("utf-8") + "\nUn mot de plus, interdit : gratuit.\n")
    _age(repo)
    two, cache_two = _run(repo, jobs=2)
    _swap_cache(repo, before)
    one, cache_one = _run(repo, jobs=1)
    assert two == one
    assert any(f.path == edited.relative_to(repo).as_posix() for f in one)
    assert cache_two == cache_one


def test_every_change_is_seen_by_the_other_process(repo: Path) -> None:
    _run(repo, jobs=1)
    base = _run(repo, jobs=2)[0]

    # A record file rewritten in place (same size, by hand): the record is read again.
    records = sorted((repo / "data/record").rglob("*.json"))
    target = records[len(records) // 2]
    text = target.read_text("utf-8")
    target.write_text(text.replace('"published"', '"failed___"', 1), encoding="utf-8")
    assert _run(repo, jobs=2)[0] == _run(repo, jobs=1)[0] != base

    # A post file removed and one added under an accented name: listed by the other process.
    posts = sorted((repo / "content").rglob("*.md"))
    posts[5].rename(posts[5].with_name("à-la-une-déplacé.md"))
    assert _run(repo, jobs=2)[0] == _run(repo, jobs=1)[0]

    # A post that can no longer be stat'ed (a dangling link): the same finding either way.
    posts = sorted((repo / "content").rglob("*.md"))
    posts[7].unlink()
    posts[7].symlink_to(repo / "nulle-part.md")
    two = _run(repo, jobs=2)[0]
    assert two == _run(repo, jobs=1)[0]
    assert any(f.path == posts[7].relative_to(repo).as_posix() for f in two)


def test_a_helper_process_that_dies_gives_no_answer() -> None:
    def killed() -> bytes:
        os.kill(os.getpid(), signal.SIGKILL)
        return b"never"

    def fails() -> bytes:
        raise RuntimeError("boom")

    def first_then_dies() -> Iterator[bytes]:
        yield b"first"
        os.kill(os.getpid(), signal.SIGKILL)
        yield b"never"

    def first_then_waits() -> Iterator[bytes]:
        yield b"first"
        time.sleep(30)
        yield b"late"

    assert Forked(killed).result() is None
    assert Forked(fails).result() is None
    assert Forked(lambda: [b""]).result() == b""
    big = bytes(range(256)) * 40_000  # 10 MB: more than a pipe or a single write holds
    assert Forked(lambda: [big]).result() == big

    # A piece is there as soon as it is whole, whatever becomes of the rest.
    half = Forked(first_then_dies, parts=2)
    assert half.part(1) is None
    assert half.part(0) == b"first"
    early = Forked(first_then_waits, parts=2)
    started = time.monotonic()
    assert early.part(0) == b"first"
    early.cancel()
    assert time.monotonic() - started < 10
    assert early.part(1) is None


def test_the_fingerprints_table_spliced_from_the_cache_is_the_one_packed_whole(
    repo: Path,
) -> None:
    """After an edit, the fingerprints of the posts read from the cache are copied from its
    table by runs of rows; the bytes are those of packing every entry's fingerprints."""
    from cmflow.cache import _encode_fingerprints, _pack_columns, _Packed

    # A cache holding every post's fingerprints (validation itself keeps only those a rule
    # asked for): written by checks that work them all out.
    validation.load_entries(config_mod.load(repo, set(BY_ID)))
    posts = sorted((repo / "content").rglob("*.md"))
    posts[0].unlink()  # the first row gone: every row after it moves up
    middle = posts[len(posts) // 2]
    middle.write_text(middle.read_text("utf-8") + "\nModifié.\n", encoding="utf-8")
    added = posts[-1].with_name("ajouté-à-la-fin-ça.md")
    added.write_text(posts[-1].read_text("utf-8").replace("id:", "ancien_id:"), "utf-8")
    _age(repo)
    cfg = config_mod.load(repo, set(BY_ID))
    _entries, cache = validation._load(cfg, True, jobs=1)
    assert cache is not None and cache.fill is not None  # never filled in: spliced
    spliced = _encode_fingerprints(cache)
    assert type(spliced["fingerprints"]["channel"]) is _Packed
    cache.fingerprints()
    whole = _encode_fingerprints(cache)
    assert type(whole["fingerprints"]["channel"]) is list
    assert len(whole["fingerprints"]["channel"]) > POSTS  # several channels a post
    assert _pack_columns(spliced) == _pack_columns(whole)


def test_the_other_process_packs_its_part_of_the_cache(repo: Path) -> None:
    """The forked process's part is used, not packed again here (which would give the same
    file, only later)."""
    from cmflow.cache import _split_part

    _run(repo, jobs=1)
    edited = sorted((repo / "content").rglob("*.md"))[10]
    edited.write_text(edited.read_text("utf-8") + "\nEncore.\n", encoding="utf-8")
    cfg = config_mod.load(repo, set(BY_ID))
    _entries, cache = validation._load(cfg, True, jobs=2)
    assert cache is not None and cache.dirty
    cache.prepare()
    part = cache._part
    assert part is not None
    got = _split_part(part.part(0) or b"")
    assert got is not None and len(got[0]) > 10  # every column of the posts' table, and more
    cache.save()


def _touch_in_place(path: Path) -> None:
    """A record file rewritten in place by hand: same size, a newer mtime, same folder."""
    text = path.read_text("utf-8")
    path.write_text(text.replace('"published"', '"failed___"', 1), encoding="utf-8")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 30 * 10**9))  # not racy


@pytest.mark.parametrize("where", [0, 1, 2, 3])
def test_a_record_change_is_seen_whichever_process_stats_it(repo: Path, where: int) -> None:
    """The record's stats are shared between the two processes, range by range: a change in
    the first folder, a file in the middle, the last file, or a new file is seen."""
    _run(repo, jobs=1)
    base = _run(repo, jobs=2)[0]
    records = sorted((repo / "data/record").rglob("*.json"))
    if where == 3:  # a record file added to the last folder: that folder's mtime moves
        folder = sorted((repo / "data/record").iterdir())[-1]
        new = folder / "nouveau-réseau.json"
        new.write_text(records[-1].read_text("utf-8"), encoding="utf-8")
        _age(repo, 30)
    else:
        _touch_in_place(records[[0, len(records) // 2, -1][where]])
    two = _run(repo, jobs=2)[0]
    assert two == _run(repo, jobs=1)[0]
    if where != 3:
        assert two != base  # the rewritten state is read


def test_a_helper_killed_among_the_record_stats_leaves_them_to_this_process(repo: Path) -> None:
    """The forked process killed once it has said the record's folder is as kept, whatever
    ranges of its stats it took by then: this process checks what it never answered."""
    from cmflow.cache import Cache, read_file

    _run(repo, jobs=1)
    cfg = config_mod.load(repo, set(BY_ID))

    def answer() -> bool | None:
        file = read_file(cfg.root)
        survey = validation._Survey(cfg, file)
        cache = Cache.open(cfg.root, cfg.digest, cfg.timezone, file)
        assert cache.record is not None
        assert survey.media() is True  # the piece that says the record's folder holds
        # 0 when it had said every piece and was let go already: nothing left to kill (and
        # `os.kill(0, ...)` would kill this process's whole group, the test run with it).
        if survey._job._pid:
            os.kill(survey._job._pid, signal.SIGKILL)
        try:
            return survey.record(cfg, cache.record, cache.racy)
        finally:
            survey.cancel()

    assert answer() is True
    _touch_in_place(sorted((repo / "data/record").rglob("*.json"))[-1])
    assert answer() is False
    # Alone, range by range: the change is in the last range only.
    file = read_file(cfg.root)
    cache = Cache.open(cfg.root, cfg.digest, cfg.timezone, file)
    assert cache.record is not None
    with validation._RecordStats.open(cfg, cache.record, cache.racy) as stats:
        assert stats.top_same
        verdicts = [stats.holds(i) for i in range(validation._RECORD_CHUNKS)]
    assert verdicts == [True] * (validation._RECORD_CHUNKS - 1) + [False]


def test_a_secret_set_after_the_cache_was_written_is_found_in_an_unchanged_run(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unchanged run builds the cached posts only when a rule reads them all: with a
    channel's secret set in the environment, `security.secret` still reads every post file,
    and finds the value where a post has it."""
    _run(repo, jobs=1)
    cfg = config_mod.load(repo, set(BY_ID))
    name = next(
        str(v)
        for ch in cfg.channels.values()
        for k, v in ch.settings.items()
        if k in ch.spec.secrets
    )
    value = "jeton-très-secret-123"
    monkeypatch.setenv(name, value)
    post = sorted((repo / "content").rglob("*.md"))[42]
    assert _run(repo, jobs=2)[0] == _run(repo, jobs=1)[0]
    assert not [f for f in _run(repo, jobs=2)[0] if f.rule == "security.secret"]
    # The value written in a post (the post changed: read again) and a cache kept.
    post.write_text(post.read_text("utf-8") + f"\n{value}\n", encoding="utf-8")
    _age(repo)
    _run(repo, jobs=2)
    kept = (repo / CACHE_DIR / FILE_NAME).stat().st_mtime_ns
    got = _run(repo, jobs=2)[0]
    assert (repo / CACHE_DIR / FILE_NAME).stat().st_mtime_ns == kept  # answered, not saved
    found = [f for f in got if f.rule == "security.secret"]
    assert [f.path for f in found] == [post.relative_to(repo).as_posix()] * len(found) != []


def test_after_an_edit_only_changed_record_files_are_read_again(repo: Path) -> None:
    """The record state read back from the cache file keeps every record file's fields, so
    that a run after an edit reads again only the record files whose stamp changed (a
    years-old repository holds tens of thousands). Shown by a record file rewritten at the
    same size with its old mtime: a stamp that did not change is trusted, as git trusts its
    index, and the file is not read again."""
    from cmflow.cache import Cache

    _run(repo, jobs=1)
    cfg = config_mod.load(repo, set(BY_ID))
    cache = Cache.open(cfg.root, cfg.digest, cfg.timezone)
    assert cache.record is not None
    kept = cache.record.files
    records = sorted((repo / "data/record").rglob("*.json"))
    assert len(kept) == len(records) > POSTS  # every file's fields, read back

    target = records[len(records) // 3]
    st = target.stat()
    text = target.read_text("utf-8")
    target.write_text(text.replace('"published"', '"failed___"', 1), encoding="utf-8")
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same stamp as before
    post = sorted((repo / "content").rglob("*.md"))[20]
    post.write_text(post.read_text("utf-8") + "\nUne ligne de plus.\n", encoding="utf-8")
    _age(repo)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    after_edit = _run(repo, jobs=1)[0]
    (repo / CACHE_DIR / FILE_NAME).unlink()
    read_whole = _run(repo, jobs=1)[0]  # no cache: every record file read
    assert after_edit != read_whole  # the rewritten file was not read after the edit

    # A post edited and a record file rewritten (a new stamp): that file is read again.
    _run(repo, jobs=1)
    _touch_in_place(records[len(records) // 4])
    post.write_text(post.read_text("utf-8") + "\nEncore une.\n", encoding="utf-8")
    _age(repo, 30)
    both = _run(repo, jobs=2)[0]
    (repo / CACHE_DIR / FILE_NAME).unlink()
    assert both == _run(repo, jobs=1)[0]
