"""How the publish record is read: every file of `data/record/<post>/` once, never through a
link, never waiting on a pipe, never past a record's size, and every field of every entry
type-checked. `Ledger.scan` reads tens of thousands of files on a years-old repository, so it
takes shortcuts (a folder opened once, a file's kind from its folder listing, entries that are
exactly what cmflow writes built without the error-reporting checks); these tests hold the
shortcuts to what `Ledger.read` says of each file, word for word.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from cmflow.ledger import MAX_RECORD_BYTES, Entry, Ledger, RecordProblem
from cmflow.model import State
from cmflow.platforms.base import PartResult
from tests.test_fuzz_validate import deadline  # a pipe read that blocks fails the test

RECORD = "data/record"


def record(post: str, channel: str = "mastodon", **more: Any) -> dict[str, Any]:
    return {"post": post, "channel": channel, "platform": "mastodon", "state": "published", **more}


def put(root: Path, key: str, data: bytes | dict[str, Any]) -> Path:
    path = root / RECORD / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


def scanned(root: Path) -> tuple[list[Entry], list[str]]:
    with deadline(20, "reading the record"):
        scan = Ledger(root).scan()
    return scan.entries, [str(p) for p in scan.problems]


def read_each(root: Path, keys: list[str]) -> list[Entry | str]:
    ledger = Ledger(root)
    with deadline(20, "reading the record"):
        got = [ledger.read(root / RECORD / key) for key in keys]
    return [str(g) if isinstance(g, RecordProblem) else g for g in got]


def test_a_symlinked_post_folder_is_never_read(tmp_path: Path) -> None:
    """A pull request can add `data/record/<post>` as a link to a folder elsewhere (outside
    the repository, or another post's): what it holds is no record of this repository."""
    root = tmp_path / "repo"
    put(root, "a/mastodon.json", record("a"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mastodon.json").write_text(json.dumps(record("b")), "utf-8")
    os.symlink(elsewhere, root / RECORD / "b")
    os.symlink(root / RECORD / "a", root / RECORD / "c")  # inside, but still a link
    entries, problems = scanned(root)
    assert [e.post for e in entries] == ["a"]
    assert problems == []


def test_a_record_file_that_is_a_link_is_named_never_followed(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    good = put(root, "a/mastodon.json", record("a"))
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(record("b")), "utf-8")
    put(root, "b/bluesky.json", record("b", "bluesky"))
    os.symlink(outside, root / RECORD / "b/mastodon.json")
    os.symlink(good, root / RECORD / "a/bluesky.json")  # a link to a real record, inside
    os.symlink("loop.json", root / RECORD / "a/loop.json")
    os.symlink("/nowhere/at/all.json", root / RECORD / "b/x.json")
    entries, problems = scanned(root)
    assert [(e.post, e.channel) for e in entries] == [("a", "mastodon"), ("b", "bluesky")]
    link = "1:1: is a symbolic link: replace it with a real file"
    assert problems == [
        f"data/record/a/bluesky.json:{link}",
        f"data/record/a/loop.json:{link}",
        f"data/record/b/mastodon.json:{link}",
        f"data/record/b/x.json:{link}",
    ]
    keys = ["a/bluesky.json", "a/loop.json", "b/mastodon.json", "b/x.json"]
    assert read_each(root, keys) == problems


def test_a_pipe_a_folder_or_a_socket_named_json_is_named_and_the_rest_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    put(root, "a/mastodon.json", record("a"))
    folder = root / RECORD / "a"
    os.mkfifo(folder / "bluesky.json")
    (folder / "linkedin.json").mkdir()
    (folder / "linkedin.json" / "x.json").write_text(json.dumps(record("a", "x")), "utf-8")
    put(root, "z/mastodon.json", record("z"))
    sockets = root / RECORD / "s"
    sockets.mkdir()
    monkeypatch.chdir(sockets)  # a socket's path is at most 107 bytes: bound by its name
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("x.json")
        entries, problems = scanned(root)
        each = read_each(root, ["a/bluesky.json", "a/linkedin.json", "s/x.json"])
    assert [(e.post, e.channel) for e in entries] == [("a", "mastodon"), ("z", "mastodon")]
    assert problems == [
        "data/record/a/bluesky.json:1:1: is a named pipe (FIFO), not a file: "
        "replace it with a real file",
        "data/record/a/linkedin.json:1:1: is a folder, not a file: replace it with a real file",
        "data/record/s/x.json:1:1: cannot be read (No such device or address)",
    ]
    assert each == problems


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_named_json_is_named(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    put(root, "a/mastodon.json", record("a"))
    os.mknod(root / RECORD / "a/zero.json", 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    entries, problems = scanned(root)
    assert [e.post for e in entries] == ["a"]
    assert problems == [
        "data/record/a/zero.json:1:1: is a device, not a file: replace it with a real file"
    ]
    assert read_each(root, ["a/zero.json"]) == problems


def test_sizes_at_and_past_the_cap(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    at_cap = json.dumps(record("a")).encode()
    put(root, "a/mastodon.json", at_cap + b" " * (MAX_RECORD_BYTES - len(at_cap)))
    put(root, "a/bluesky.json", b"")
    put(root, "b/mastodon.json", b"{" + b" " * MAX_RECORD_BYTES + b"}")
    with put(root, "c/mastodon.json", b"").open("wb") as sparse:  # 1 TB, none of it stored
        sparse.truncate(1 << 40)
    entries, problems = scanned(root)
    assert [(e.post, e.channel) for e in entries] == [("a", "mastodon")]
    assert problems == [
        "data/record/a/bluesky.json:1:1: invalid JSON: Expecting value",
        f"data/record/b/mastodon.json:1:1: {MAX_RECORD_BYTES + 2} bytes, far more than a "
        "publish record: not written by cmflow",
        f"data/record/c/mastodon.json:1:1: {1 << 40} bytes, far more than a publish record: "
        "not written by cmflow",
    ]
    assert read_each(root, ["a/bluesky.json", "b/mastodon.json", "c/mastodon.json"]) == problems


def test_text_that_is_not_utf8_or_not_json_says_where(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    cases = {
        "a/latin1.json": b'{"post": "\xe9t\xe9"}',
        "a/utf16.json": json.dumps(record("a")).encode("utf-16"),
        "a/bom.json": b"\xef\xbb\xbf" + json.dumps(record("a")).encode(),
        "a/syntax.json": b'{\n  "post": "a",\n  "channel": mastodon\n}\n',
        "a/trailing.json": json.dumps(record("a")).encode() + b"\n{}",
        "a/deep.json": b"[" * 100_000 + b"]" * 100_000,
        "a/conflict.json": b'<<<<<<< HEAD\n{"state": "published"}\n=======\n{}\n>>>>>>> x\n',
        "a/nan.json": json.dumps(record("a", generation=float("nan"))).encode(),
        "a/vtab.json": json.dumps(record("a")).encode() + b"\n\x0b",  # not JSON's whitespace
        "a/nbsp.json": json.dumps(record("a")).encode() + "\u00a0".encode(),
        "a/spaced.json": b" \t\r\n" + json.dumps(record("a")).encode() + b" \t\r\n",
        "a/two.json": b"{}{}",
        "a/open.json": b'{"post": "a"',
    }
    for key, raw in cases.items():
        put(root, key, raw)
    entries, problems = scanned(root)
    assert entries == []
    assert problems == [
        "data/record/a/bom.json:1:1: invalid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig)",
        "data/record/a/conflict.json:1:1: git conflict markers: take one side (git checkout "
        "--theirs -- data/record/a/conflict.json) or restore it (git checkout origin/main -- "
        "data/record/a/conflict.json)",
        "data/record/a/deep.json:1:1: invalid JSON: nested too deeply",
        "data/record/a/latin1.json:1:1: not UTF-8 text (byte 10)",
        "data/record/a/nan.json:1:1: not a publish record: 'generation' must be a whole number, "
        "not a number",
        f"data/record/a/nbsp.json:1:{len(json.dumps(record('a'))) + 1}: invalid JSON: Extra data",
        "data/record/a/open.json:1:13: invalid JSON: Expecting ',' delimiter",
        "data/record/a/spaced.json:1:1: names post 'a' on 'mastodon', whose record is "
        "a/mastodon.json: moved or copied by hand",
        "data/record/a/syntax.json:3:14: invalid JSON: Expecting value",
        "data/record/a/trailing.json:2:1: invalid JSON: Extra data",
        "data/record/a/two.json:1:3: invalid JSON: Extra data",
        "data/record/a/utf16.json:1:1: not UTF-8 text (byte 0)",
        "data/record/a/vtab.json:2:1: invalid JSON: Extra data",
    ]
    assert read_each(root, sorted(cases)) == problems


# Each field of a record, of a type cmflow never writes there: the message names the first
# wrong field (in the order of `Entry`'s fields), whatever else is right.
WRONG: dict[str, tuple[dict[str, Any], str]] = {
    "bool-generation": ({"generation": True}, "'generation' must be a whole number, not true"),
    "float-generation": ({"generation": 1.0}, "'generation' must be a whole number, not a num"),
    "null-key": ({"key": None}, "'key' must be a string, not null"),
    "list-handles": ({"handles": []}, "'handles' must be an object, not a list"),
    "dict-parts": ({"parts": {}}, "'parts' must be a list, not an object"),
    "str-in-flight": ({"in_flight": "0"}, "'in_flight' must be a whole number, not a string"),
    "int-run-id": ({"run_id": 3}, "'run_id' must be a string, not a whole number"),
    "null-claimer": ({"claimer": None}, "'claimer' must be an object, not null"),
    "bool-attempts": ({"reconcile_attempts": False}, "'reconcile_attempts' must be a whole"),
    "int-published-at": ({"published_at": 1}, "'published_at' must be a string, not a whole"),
    "dict-history": ({"history": {}}, "'history' must be a list, not an object"),
    "str-publication": ({"publication": "2"}, "'publication' must be a whole number"),
    "zero-publication": ({"publication": 0}, "'publication' must be 1 or more"),
    "negative-publication": ({"publication": -2}, "'publication' must be 1 or more"),
    "int-post": ({"post": 7}, "'post' must be a string, not a whole number"),
    "null-state": ({"state": None}, "'state' must be a string, not null"),
    "unknown-state": ({"state": "sent"}, "state 'sent' is not one of claimed, published"),
    "enum-name-state": ({"state": "PUBLISHED"}, "state 'PUBLISHED' is not one of"),
    "history-item": ({"history": [{"at": "x"}, "sent"]}, "'history' must be a list of objects"),
    "part-not-object": ({"parts": [["1"]]}, "parts[0] must be an object, not a list"),
    "part-no-id": ({"parts": [{"url": "u"}]}, "parts[0].id must be a non-empty string"),
    "part-empty-id": ({"parts": [{"id": ""}]}, "parts[0].id must be a non-empty string"),
    "part-int-id": ({"parts": [{"id": "1"}, {"id": 2}]}, "parts[1].id must be a non-empty"),
    "part-int-url": ({"parts": [{"id": "1", "url": 2}]}, "parts[0].url must be a string"),
    "part-null-extra": ({"parts": [{"id": "1", "extra": None}]}, "parts[0].extra must be an"),
    "part-list-extra": ({"parts": [{"id": "1", "extra": []}]}, "parts[0].extra must be an"),
    "two-wrong": ({"reason": 1, "generation": "2"}, "'generation' must be a whole number"),
    "other-pair": ({"post": "b"}, "names post 'b' on 'mastodon', whose record is b/mastodon.json"),
    "re-post-as-first": (
        {"publication": 2},
        "names post '{name}' on 'mastodon', whose record is {name}/mastodon@2.json: moved",
    ),
}


def test_every_field_is_type_checked(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    keys = []
    for name, (change, _says) in sorted(WRONG.items()):
        key = f"{name}/mastodon.json"  # each in a folder named for its post: only this is wrong
        put(root, key, {**record(name), **change})
        keys.append(key)
    entries, problems = scanned(root)
    assert entries == []
    assert len(problems) == len(WRONG)
    for problem, name in zip(problems, sorted(WRONG), strict=True):
        assert problem.startswith(f"data/record/{name}/mastodon.json:1:1: "), problem
        assert WRONG[name][1].format(name=name) in problem, (name, problem)
    assert read_each(root, keys) == problems


def full_record(post: str) -> dict[str, Any]:
    """A record with every field cmflow writes, as a long-lived pair's file holds it."""
    return {
        **record(post, "bluesky", platform="bluesky"),
        "path": f"content/{post}.md",
        "state": "claimed",
        "content_hash": "c" * 32,
        "source_hash": "s" * 64,
        "generation": 3,
        "key": "k-3",
        "handles": {"idempotency_keys": ["x", "y"], "reminder": [{"id": "1"}]},
        "parts": [
            {"id": "at://1", "url": "https://bsky.example/1", "extra": {"cid": "b1"}},
            {"id": "at://2", "extra": {}},
            {"id": "at://3", "url": None},
        ],
        "in_flight": 2,
        "in_flight_since": "2026-01-01T00:00:00Z",
        "run_id": "r1",
        "claimed_at": "2026-01-01T00:00:00Z",
        "leased_at": "2026-01-01T00:00:00Z",
        "claimer": {"host": "ci", "pid": 12},
        "reconcile_attempts": 2,
        "published_at": None,
        "scheduled_for": "2026-01-01T01:00:00+01:00",
        "updated_at": "2026-01-01T00:00:00Z",
        "reason": "retry",
        "not_before": "2026-01-01T00:05:00Z",
        "history": [{"at": "2026-01-01T00:00:00Z", "event": "claimed"}],
        "publication": 1,
        "from_a_newer_cmflow": {"ignored": True},
    }


def test_entries_hold_every_field_as_written(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    data = full_record("a")
    put(root, "a/bluesky.json", data)
    put(root, "b/bluesky@3.json", {**record("b", "bluesky"), "publication": 3})
    put(root, "c/mastodon.json", record("c"))
    entries, problems = scanned(root)
    assert problems == []
    a, b, c = entries
    assert a == Entry(
        "a",
        "bluesky",
        "bluesky",
        "content/a.md",
        State.CLAIMED,
        content_hash="c" * 32,
        source_hash="s" * 64,
        generation=3,
        key="k-3",
        handles={"idempotency_keys": ["x", "y"], "reminder": [{"id": "1"}]},
        parts=[
            PartResult("at://1", "https://bsky.example/1", {"cid": "b1"}),
            PartResult("at://2", None, {}),
            PartResult("at://3", None, {}),
        ],
        in_flight=2,
        in_flight_since="2026-01-01T00:00:00Z",
        run_id="r1",
        claimed_at="2026-01-01T00:00:00Z",
        leased_at="2026-01-01T00:00:00Z",
        claimer={"host": "ci", "pid": 12},
        reconcile_attempts=2,
        published_at=None,
        scheduled_for="2026-01-01T01:00:00+01:00",
        updated_at="2026-01-01T00:00:00Z",
        reason="retry",
        not_before="2026-01-01T00:05:00Z",
        history=[{"at": "2026-01-01T00:00:00Z", "event": "claimed"}],
    )
    assert a.state is State.CLAIMED and type(a.state) is State
    assert not hasattr(a, "from_a_newer_cmflow")
    assert (b.post, b.publication, b.parts, b.handles, b.history) == ("b", 3, [], {}, [])
    assert c == Entry("c", "mastodon", "mastodon", "", State.PUBLISHED)
    # Written back, the same record (the unknown key aside, parts in full, nulls left out).
    del data["from_a_newer_cmflow"], data["published_at"], data["publication"]
    data["parts"] = [{"id": p.id, "url": p.url, "extra": p.extra} for p in a.parts]
    assert json.loads(a.to_json()) == data
    # No two entries share a mutable value: editing one never edits another.
    c.handles["x"] = 1
    c.history.append({})
    c.claimer["y"] = 2
    c.parts.append(PartResult("p"))
    assert b.handles == {} and b.history == [] and b.claimer == {} and b.parts == []
    assert read_each(root, ["a/bluesky.json", "b/bluesky@3.json", "c/mastodon.json"]) == [
        *entries[:2],
        Entry("c", "mastodon", "mastodon", "", State.PUBLISHED),
    ]


def test_names_the_scan_skips(tmp_path: Path) -> None:
    """Only `*.json` files are records; `.tmp-*` is a write a killed process left."""
    root = tmp_path / "repo"
    put(root, "a/mastodon.json", record("a"))
    put(root, "a/.tmp-0123.json", b"{half")
    put(root, "a/notes.txt", b"not a record")
    put(root, "a/mastodon.json.bak", b"{}")
    put(root, "top.json", record("top"))  # a file directly in the record folder
    entries, problems = scanned(root)
    assert [e.post for e in entries] == ["a"] and problems == []


JSON_VALUES: list[Any] = [None, True, False, 0, 1, -1, 2, 1.0, "", "x", "published", [], [{}], {}]
PARTS: list[Any] = [
    [{"id": "1"}],
    [{"id": "1", "url": "u", "extra": {"k": 1}}],
    [{"id": "1", "url": None, "extra": {}}, {"id": "2"}],
    [{"id": ""}],
    [{"id": None}],
    [{"id": True}],
    [{"url": "u"}],
    [{"id": "1", "url": 1}],
    [{"id": "1", "url": False}],
    [{"id": "1", "extra": None}],
    [{"id": "1", "extra": []}],
    [{"id": "1"}, "2"],
    [None],
]
HISTORY: list[Any] = [[{}], [{"at": "x", "event": "claimed"}], [{}, []], [None], ["x"]]


def outcome(data: Any) -> Entry | str:
    try:
        return Entry.from_dict(data)
    except ValueError as exc:
        return str(exc)


def test_the_shortcut_for_records_as_written_builds_what_the_full_check_builds() -> None:
    """A record exactly as cmflow writes it is built without the field-by-field check that
    says what is wrong (most of the cost of reading the record); any other (a dict subclass
    included) goes through that check. Both must agree on every record: the same entry, or
    the same message."""
    from collections import OrderedDict

    base = full_record("a")
    cases: list[dict[str, Any]] = [base, record("a"), {**record("a"), "publication": 2}]
    for name in [*base, "unknown"]:
        cases += [{**base, name: value} for value in JSON_VALUES]
        cases.append({k: v for k, v in base.items() if k != name})
    cases += [{**base, "parts": parts} for parts in PARTS]
    cases += [{**base, "history": history} for history in HISTORY]
    shortcut = 0
    for data in cases:
        fast = outcome(data)
        checked = outcome(OrderedDict(data))  # never the shortcut: a dict, not exactly one
        assert fast == checked, data
        if isinstance(fast, Entry):
            shortcut += 1
            assert type(fast.state) is State
            assert all(type(p) is PartResult for p in fast.parts)
    assert 20 < shortcut < len(cases) - 100  # both ways taken, many times


def test_validate_with_its_cache_reads_no_linked_record_either(make_repo: Any) -> None:
    """`validate` reads the record through its cache (`validation.record_scan`, which stats
    and re-reads only what changed): a linked post folder or record file counts there as
    little as in `Ledger.scan`, cold, from the cache, and without it."""
    from tests.conftest import post, same_with_and_without_cache

    posts = {
        f"{p}.md": post("date: 2026-11-20 09:30\nchannels: [mastodon]\ntitle: T")
        for p in ("a", "b", "c")
    }
    root = make_repo(posts)
    put(root, "a/mastodon.json", record("a"))
    elsewhere = root.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mastodon.json").write_text(json.dumps(record("b")), "utf-8")
    os.symlink(elsewhere, root / RECORD / "b")  # b's folder: a link
    put(root, "c/other.json", record("c", "other"))
    os.symlink(elsewhere / "mastodon.json", root / RECORD / "c/mastodon.json")  # a linked file
    found = same_with_and_without_cache(root, "2026-11-24 10:00")
    past = {f["path"] for f in found if f["rule"] == "schedule.past"}
    assert past == {"content/b.md", "content/c.md"}  # the links made neither published
