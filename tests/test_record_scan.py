"""`validation.record_scan`, the record as validation reads it through its cache: every post
folder opened from the record folder and every file read from its folder by name, only what
changed read again. Held to `Ledger.scan` on a record a pull request could hold: accents in
names, CRLF, truncated and corrupted files, links, a pipe, a folder named like a record, files
cmflow never names so; cold (no state kept), then with the state kept, then after edits."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from cmflow import config as config_mod
from cmflow import validation
from cmflow.cache import Cache
from cmflow.ledger import Entry, Ledger, Scan
from cmflow.model import State
from cmflow.platforms.base import PartResult
from cmflow.rules import BY_ID
from tests.test_fuzz_validate import deadline  # a pipe read that blocks fails the test

RECORD = "data/record"


def written(post: str, channel: str = "mastodon", publication: int = 1, **more: Any) -> bytes:
    """A record file as cmflow writes it."""
    e = Entry(
        post, channel, "mastodon", f"content/{post}.md", State.PUBLISHED, publication=publication
    )
    e.content_hash = f"fp-{post}"
    e.source_hash = "s" * 64
    e.published_at = "2026-11-20T08:30:00Z"
    e.scheduled_for = "2026-11-20T09:30:00+01:00"
    e.parts = [PartResult(f"id-{post}", f"https://m.example/{post}", {"cid": "x"})]
    e.history = [{"at": "2026-11-20T08:30:00Z", "event": "published"}]
    for k, v in more.items():
        setattr(e, k, v)
    return e.to_json().encode("utf-8")


def put(root: Path, key: str, data: bytes) -> Path:
    path = root / RECORD / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def hostile_record(root: Path, outside: Path) -> None:
    put(root, "a/mastodon.json", written("a"))
    put(root, "a/bluesky.json", written("a", "bluesky", state=State.FAILED))
    put(root, "a/mastodon@2.json", written("a", publication=2))
    put(root, "a/mastodon@02.json", written("a", publication=2))  # never named so
    put(root, "b/mastodon.json", written("b").replace(b"\n", b"\r\n"))  # CRLF: still JSON
    put(root, "c/mastodon.json", written("c")[:70])  # truncated
    put(root, "d/mastodon.json", b"")
    put(root, "e/mastodon.json", b"\xff\xfe{}")  # not UTF-8
    put(root, "f/mastodon.json", b"<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> x\n")
    put(root, "g/mastodon.json", written("h"))  # another pair's record, copied by hand
    put(root, "été/mastodon.json", written("été"))  # an id cmflow names otherwise
    put(root, "i/mastodon.json", b'{"post": "i", "channel": "mastodon"}')  # fields missing
    put(root, "j/mastodon.json", b"[1, 2]")
    put(root, "k/mastodon.json", written("k", generation=True))  # odd values: full check
    put(root, "k/x.json", b'{"a": 1e999999}')
    put(root, "l/mastodon.json", b"\xef\xbb\xbf" + written("l"))  # a BOM
    put(root, "m/mastodon.json", b"{" * 100_000)  # nested too deeply
    put(root, "n/mastodon.json", written("n") + b"  \n\n")  # trailing whitespace
    put(root, "n/.tmp-0a1b.json", b"{half")  # a write a killed process left
    put(root, "n/notes.txt", b"not a record")
    (root / RECORD / "o").mkdir()  # empty
    (root / RECORD / "p/q.json").mkdir(parents=True)  # a folder named like a record
    put(root, "top.json", written("top"))  # not in a post folder
    (root / RECORD / "q").mkdir()
    os.mkfifo(root / RECORD / "q/mastodon.json")  # never waited on
    (outside / "mastodon.json").write_bytes(written("r"))
    os.symlink(outside, root / RECORD / "r")  # a linked post folder
    put(root, "s/bluesky.json", written("s", "bluesky"))
    os.symlink(outside / "mastodon.json", root / RECORD / "s/mastodon.json")  # a linked file
    os.symlink("nowhere.json", root / RECORD / "s/x.json")  # dangling


def light(entry: Entry) -> tuple[Any, ...]:
    """What validation reads of an entry (the cache keeps only that)."""
    return (
        entry.post,
        entry.channel,
        entry.state,
        type(entry.state),
        entry.content_hash,
        entry.source_hash,
        entry.published_at,
        entry.scheduled_for,
        entry.publication,
        entry.remote_id,
        entry.url,
    )


def same(got: Scan, want: Scan, *, whole: bool) -> None:
    assert [str(p) for p in got.problems] == [str(p) for p in want.problems]
    assert got.problems == want.problems
    assert [light(e) for e in got.entries] == [light(e) for e in want.entries]
    if whole:  # read from the files, not from the state kept
        assert got.entries == want.entries


def repo(make_repo: Any, tmp_path: Path) -> tuple[Path, Any]:
    root = make_repo({})
    outside = tmp_path / "outside"
    outside.mkdir()
    hostile_record(root, outside)
    return root, config_mod.load(root, set(BY_ID))


def trusted(cache: Cache) -> Cache:
    """The cache as a later run opens it: stamps older than it trusted."""
    cache.racy = time.time_ns() + 10**12
    return cache


def test_record_scan_reads_what_the_ledger_reads(make_repo: Any, tmp_path: Path) -> None:
    root, cfg = repo(make_repo, tmp_path)
    with deadline(30, "reading the record"):
        want = Ledger(root).scan()
        cache = Cache.open(root, cfg.digest, cfg.timezone)
        same(validation.record_scan(cfg, cache), want, whole=True)
        assert cache.record is not None and cache.dirty
        kept = validation.record_scan(cfg, trusted(cache))  # from the state kept
        same(kept, want, whole=False)
    posts = {e.post for e in want.entries}
    assert {"a", "b", "n", "s"} <= posts and not {"g", "h", "k", "r", "top", "été"} & posts
    found = {p.key: p.message for p in want.problems}
    assert {"c/mastodon.json", "d/mastodon.json", "f/mastodon.json", "p/q.json"} <= set(found)
    assert "été/mastodon.json" in found and "q/mastodon.json" in found and "k/x.json" in found
    assert "s/mastodon.json" in found and "s/x.json" in found
    assert "r/mastodon.json" not in found and "n/.tmp-0a1b.json" not in found


def test_record_scan_reads_again_what_changed(make_repo: Any, tmp_path: Path) -> None:
    root, cfg = repo(make_repo, tmp_path)
    cache = Cache.open(root, cfg.digest, cfg.timezone)
    validation.record_scan(cfg, cache)
    trusted(cache)
    later = time.time_ns() + 5 * 10**9  # after every stamp kept, whatever the clock's tick
    edits = {
        "a/mastodon.json": written("a", content_hash="fp-edited"),
        "b/mastodon.json": written("b"),  # repaired
        "c/mastodon.json": written("c"),
        "n/mastodon.json": written("n")[:-30],  # broken
        "été/mastodon.json": b"{}",
    }
    for key, data in edits.items():
        path = put(root, key, data)
        os.utime(path, ns=(later, later))
    os.unlink(root / RECORD / "a/mastodon@2.json")
    put(root, "t/linkedin.json", written("t", "linkedin"))
    put(root, "a/linkedin.json", written("a", "linkedin"))
    for folder in ("a", "t", ""):
        os.utime(root / RECORD / folder, ns=(later, later))
    cache.racy = later + 10**9
    with deadline(30, "reading the record"):
        want = Ledger(root).scan()
        got = validation.record_scan(cfg, cache)
    same(got, want, whole=False)
    by_key = {(e.post, e.channel, e.publication): e for e in got.entries}
    assert by_key[("a", "mastodon", 1)].content_hash == "fp-edited"
    assert ("a", "mastodon", 2) not in by_key and ("t", "linkedin", 1) in by_key
    assert ("b", "mastodon", 1) in by_key and ("n", "mastodon", 1) not in by_key
    # And once more from the state now kept: the same.
    same(validation.record_scan(cfg, cache), want, whole=False)


def test_validate_says_the_same_of_a_hostile_record_cold_or_cached(
    make_repo: Any, tmp_path: Path
) -> None:
    from tests.conftest import post, same_with_and_without_cache

    root, _cfg = repo(make_repo, tmp_path)
    for name in ("a", "b", "c", "n", "s"):
        (root / "content" / f"{name}.md").write_text(
            post("date: 2026-11-20 09:30\nchannels: [mastodon, bluesky]\ntitle: T"), "utf-8"
        )
    found = same_with_and_without_cache(root, "2026-11-24 10:00")
    unreadable = {f["path"] for f in found if f["rule"] == "record.unreadable"}
    assert f"{RECORD}/c/mastodon.json" in unreadable
    assert f"{RECORD}/été/mastodon.json" in unreadable
