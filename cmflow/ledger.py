"""The publish record: one JSON file per (post, channel) under data/record/.

One file per pair means two runs that commit at once never touch the same file unless they
race for the same pair, which the claim push (see `cmflow.gitops`) settles. Every write goes
to a temporary file first and is renamed into place, so a killed process leaves either the
old state or the new one, never half a file. The record never holds a secret.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from cmflow import safefs
from cmflow.clock import Clock
from cmflow.errors import CmflowError, ExitCode
from cmflow.i18n import _
from cmflow.model import SAFE_ID, Finding, Post, Sent, State
from cmflow.platforms.base import PartResult

RECORD_DIR = "record"
MAX_RECORD_BYTES = 1 << 20  # cmflow writes a few kB per pair; anything this big is not its own

_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def file_name(name: str) -> str:
    """A file name for an id: the id itself when it is plain, else a cleaned form plus a hash
    of the id, so that two ids never share a file ("a b" and "a_b") and none leaves the
    record folder ("..")."""
    if SAFE_ID.match(name):
        return name
    cleaned = _SAFE.sub("_", name).strip("._") or "post"
    return f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def record_key(post_id: str, channel: str, publication: int = 1) -> str:
    """Where a pair's file lies inside the record folder (posix). An evergreen re-post is a
    publication of its own, in its own file: `<channel>@<n>.json` (n >= 2; `@` never
    appears in a `file_name`, so it cannot clash with a channel's name)."""
    return f"{file_name(post_id)}/{_channel_file(channel, publication)}"


@functools.lru_cache(maxsize=256)  # a repository has a few channels: each read checks one
def _channel_file(channel: str, publication: int) -> str:
    suffix = f"@{publication}" if publication > 1 else ""
    return f"{file_name(channel)}{suffix}.json"


_REPOST_FILE = re.compile(r"@([0-9]+)\.json$")


def publication_of(name: str) -> int:
    """The publication a record file's name says: n for `<channel>@<n>.json`, else 1."""
    m = _REPOST_FILE.search(name)
    return int(m.group(1)) if m else 1


@dataclass
class Entry:
    post: str  # post id
    channel: str
    platform: str
    path: str  # the post's file when last touched (informative; identity is `post`)
    state: State
    content_hash: str = ""  # fingerprint of what was (or is being) sent
    source_hash: str = ""  # the post's content hash, to recognise a renamed file
    generation: int = 1  # bumps when a failed pair is sent again
    key: str = ""  # stable idempotency seed for this generation
    handles: dict[str, Any] = field(default_factory=dict)
    parts: list[PartResult] = field(default_factory=list)
    in_flight: int | None = None  # index of the part being sent, outcome not yet known
    in_flight_since: str | None = None
    run_id: str | None = None
    claimed_at: str | None = None  # when the pair was first claimed for this attempt
    leased_at: str | None = None  # when the run now holding it took it (the lease), real UTC
    claimer: dict[str, Any] = field(default_factory=dict)  # see cmflow.runlock.Claimer
    reconcile_attempts: int = 0
    published_at: str | None = None
    scheduled_for: str | None = None
    updated_at: str | None = None
    reason: str | None = None
    not_before: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    # 1 for a post's first publication; n >= 2 for its evergreen re-posts (cmflow.evergreen),
    # each a new entry in a file of its own, never an edit of an earlier one.
    publication: int = 1

    @property
    def remote_id(self) -> str | None:
        return self.parts[0].id if self.parts else None

    @property
    def url(self) -> str | None:
        return self.parts[0].url if self.parts else None

    def note(self, event: str, reason: str | None = None, *, at: str) -> None:
        item: dict[str, Any] = {"at": at, "event": event}
        if reason:
            item["reason"] = reason
        self.history.append(item)
        self.history = self.history[-20:]

    def to_json(self) -> str:
        # By hand rather than `dataclasses.asdict`: that deep-copies every handle and history
        # item first, which made a third of the cost of a record write. The fields are JSON
        # values already; only the parts are dataclasses.
        data: dict[str, Any] = {}
        for name in _NAMES:
            value = getattr(self, name)
            if value is None or value == [] or value == {}:
                continue
            data[name] = value
        data["state"] = str(self.state)
        if data.get("publication") == 1:
            del data["publication"]  # the first publication's files stay as they always were
        if self.parts:
            data["parts"] = [{"id": p.id, "url": p.url, "extra": p.extra} for p in self.parts]
        try:
            return _pretty(data, "\n") + "\n"
        except _NotPlain:
            return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> Entry:
        """An entry from a record file's JSON; raises ValueError saying what is wrong when
        it is not what cmflow writes (unknown keys are ignored: a newer cmflow's)."""
        if not isinstance(data, dict):
            raise ValueError(
                _("a JSON object was expected, not {kind}").format(kind=_json_kind(data))
            )
        for key in ("post", "channel", "platform", "state"):
            if key not in data:
                raise ValueError(_("{key} is missing").format(key=repr(key)))
        if type(data) is dict:
            entry = _as_written(cls, data)
            if entry is not None:
                return entry
        values: dict[str, Any] = {}
        for key, kinds in _FIELDS.items():
            if key not in data:
                continue
            value = data[key]
            if value is None and type(None) in kinds:
                values[key] = None
                continue
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                want = _(" or ").join(_json_names()[k] for k in kinds if k is not type(None))
                raise ValueError(
                    _("{key} must be {want}, not {kind}").format(
                        key=repr(key), want=want, kind=_json_kind(value)
                    )
                )
            values[key] = value
        try:
            values["state"] = State(values["state"])
        except ValueError:
            known = ", ".join(s.value for s in State)
            raise ValueError(
                _("state {state} is not one of {known}").format(
                    state=repr(values["state"]), known=known
                )
            ) from None
        if values.get("publication", 1) < 1:
            raise ValueError(_("'publication' must be 1 or more"))
        values.setdefault("path", "")  # informative only
        values["parts"] = [_part(i, p) for i, p in enumerate(values.get("parts", []))]
        if any(not isinstance(h, dict) for h in values.get("history", [])):
            raise ValueError(_("'history' must be a list of objects"))
        return cls(**values)


_NAMES = tuple(f.name for f in fields(Entry))
_TEXT: Any = json.encoder.encode_basestring  # what ensure_ascii=False writes a string with


class _NotPlain(Exception):
    """A value `_pretty` leaves to `json.dumps` (a key that is not text, a tuple, ...)."""


def _pretty(value: Any, newline: str) -> str:
    """`json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)`, byte for byte, for
    dicts with text keys, lists and JSON scalars; `newline` is a line break plus the current
    indentation. The standard library's indented output runs in Python, one generator per
    value: a third of a record write, and a run writes hundreds."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = newline + "  "
        items = []
        for key in sorted(value):
            if not isinstance(key, str):
                raise _NotPlain
            items.append(f"{_TEXT(key)}: {_pretty(value[key], inner)}")
        return "{" + inner + ("," + inner).join(items) + newline + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = newline + "  "
        return "[" + inner + ("," + inner).join(_pretty(v, inner) for v in value) + newline + "]"
    if isinstance(value, str):
        return str(_TEXT(value))
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    raise _NotPlain  # NaN, infinities, int and float subclasses: as json.dumps writes them


def _json_names() -> dict[type, str]:
    """What a JSON value is, in words (in the current language)."""
    return {
        str: _("a string"),
        int: _("a whole number"),
        dict: _("an object"),
        list: _("a list"),
        bool: _("true or false"),
        float: _("a number"),
        type(None): "null",
    }


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return _("true or false")
    return _json_names().get(type(value), type(value).__name__)


_STR, _OPT_STR, _INT = (str,), (str, type(None)), (int,)
_FIELDS: dict[str, tuple[type, ...]] = {
    "post": _STR,
    "channel": _STR,
    "platform": _STR,
    "path": _STR,
    "state": _STR,
    "content_hash": _STR,
    "source_hash": _STR,
    "generation": _INT,
    "key": _STR,
    "handles": (dict,),
    "parts": (list,),
    "in_flight": (int, type(None)),
    "in_flight_since": _OPT_STR,
    "run_id": _OPT_STR,
    "claimed_at": _OPT_STR,
    "leased_at": _OPT_STR,
    "claimer": (dict,),
    "reconcile_attempts": _INT,
    "published_at": _OPT_STR,
    "scheduled_for": _OPT_STR,
    "updated_at": _OPT_STR,
    "reason": _OPT_STR,
    "not_before": _OPT_STR,
    "history": (list,),
    "publication": _INT,
}


_STATES: dict[str, State] = {s.value: s for s in State}


# Every field of an entry in `__init__`'s order, with its default when that is not mutable
# (None for those `_as_written` sets itself).
_TEMPLATE: dict[str, Any] = {
    f.name: None if f.default is MISSING else f.default for f in fields(Entry)
}
_TEMPLATE["path"] = ""  # informative only: a record may leave it out
_new_entry = object.__new__


def _as_written(cls: type[Entry], data: dict[str, Any]) -> Entry | None:
    """The entry a record file holds when it is exactly what cmflow writes: every known
    field of its exact JSON type, a known state, parts and history items that are objects
    (each part with a non-empty string id, a string or null url, an object as extra). None
    for anything else, which `Entry.from_dict` then checks field by field to say what is
    wrong. Same entry as that check builds, without its cost: validation reads every file
    of a years-old record (tens of thousands) and this was most of the time spent.
    `data` holds the required keys (`from_dict` checked)."""
    values = dict(_TEMPLATE)
    kinds_of = _FIELDS
    for key, value in data.items():
        kinds = kinds_of.get(key)
        if kinds is not None:  # unknown keys are a newer cmflow's: ignored
            if type(value) not in kinds:  # exact: a bool is no whole number here
                return None
            values[key] = value
    state = _STATES.get(values["state"])
    if state is None or values["publication"] < 1:
        return None
    values["state"] = state
    raw = values.get("parts")
    parts: list[PartResult] = []
    if raw:
        for item in raw:
            if type(item) is not dict:
                return None
            pid, url, extra = item.get("id"), item.get("url"), item.get("extra", _NO_EXTRA)
            if type(pid) is not str or not pid or (url is not None and type(url) is not str):
                return None
            if extra is _NO_EXTRA:
                extra = {}
            elif type(extra) is not dict:
                return None
            else:
                extra = dict(extra)  # as `_part` copies it
            parts.append(PartResult(pid, url, extra))
    values["parts"] = parts
    history = values["history"]
    if history is None:  # left out (a list when given: its type was checked)
        values["history"] = []
    else:
        for item in history:
            if type(item) is not dict:
                return None
    if values["handles"] is None:
        values["handles"] = {}
    if values["claimer"] is None:
        values["claimer"] = {}
    # As `__init__` would set them (Entry has no __post_init__), in the same order, a
    # quarter of its cost: 25 keyword arguments are most of what building an entry costs.
    entry = _new_entry(cls)
    entry.__dict__.update(values)
    return entry


_NO_EXTRA: Any = object()


def _part(index: int, data: Any) -> PartResult:
    if not isinstance(data, dict):
        raise ValueError(
            _("{field} must be an object, not {kind}").format(
                field=f"parts[{index}]", kind=_json_kind(data)
            )
        )
    pid, url, extra = data.get("id"), data.get("url"), data.get("extra", {})
    if not isinstance(pid, str) or not pid:
        raise ValueError(_("{field} must be a non-empty string").format(field=f"parts[{index}].id"))
    if url is not None and not isinstance(url, str):
        raise ValueError(_("{field} must be a string").format(field=f"parts[{index}].url"))
    if not isinstance(extra, dict):
        raise ValueError(_("{field} must be an object").format(field=f"parts[{index}].extra"))
    return PartResult(pid, url, dict(extra))


@dataclass(frozen=True)
class RecordProblem:
    """A record file that is not what cmflow wrote: its pair is held until a human checks."""

    rel: str  # relative to the repository root, posix
    key: str  # relative to the record folder: `record_key(post, channel)`
    message: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.rel}:{self.line}:{self.column}: {self.message}"


@dataclass
class Scan:
    """Every record file: the entries read, and the files that could not be."""

    entries: list[Entry] = field(default_factory=list)
    problems: list[RecordProblem] = field(default_factory=list)


def _unreadable(rel: str, key: str, exc: OSError) -> RecordProblem:
    return RecordProblem(rel, key, _("cannot be read ({error})").format(error=exc.strerror or exc))


def _not_a_file(rel: str, key: str, mode: int) -> RecordProblem:
    what = safefs.kind(mode)
    return RecordProblem(rel, key, _("{what}: replace it with a real file").format(what=what))


_DECODER = json.JSONDecoder()  # as `json.loads` makes it
_scan_json: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def _json(text: str) -> Any:
    """`json.loads(text)`, raising the same errors; a record as cmflow writes it (an object,
    then a line break) straight from the decoder's C scanner, without the three Python
    calls and two regular expressions around it (a sixth of parsing a record)."""
    if text[:1] == "{":
        try:
            data, end = _scan_json(text, 0)
        except (StopIteration, ValueError):
            return json.loads(text)  # which says what is wrong, and where
        if end == len(text) or not text[end:].strip(" \t\n\r"):  # json's own whitespace
            return data
    return json.loads(text)


def _parse(raw: bytes, rel: str, key: str) -> Entry | RecordProblem:
    """The entry a record file's bytes hold, or what is wrong with them."""
    try:
        text = raw.decode("utf-8")  # not `json.loads(raw)`: that would take UTF-16 too
    except UnicodeDecodeError as exc:
        return RecordProblem(rel, key, _("not UTF-8 text (byte {at})").format(at=exc.start))
    if text.lstrip().startswith("<<<<<<<") or "\n=======\n" in text:
        return RecordProblem(
            rel,
            key,
            _("git conflict markers: take one side ({theirs}) or restore it ({restore})").format(
                theirs=f"git checkout --theirs -- {rel}",
                restore=f"git checkout origin/main -- {rel}",
            ),
        )
    try:
        data = _json(text)
    except json.JSONDecodeError as exc:
        message = _("invalid JSON: {error}").format(error=exc.msg)
        return RecordProblem(rel, key, message, exc.lineno, exc.colno)
    except RecursionError:
        return RecordProblem(rel, key, _("invalid JSON: nested too deeply"))
    try:
        entry = Entry.from_dict(data)
    except ValueError as exc:
        return RecordProblem(rel, key, _("not a publish record: {error}").format(error=exc))
    if record_key(entry.post, entry.channel, entry.publication) != key:
        return RecordProblem(
            rel,
            key,
            _(
                "names post {post} on {channel}, whose record is {key}: moved or copied by hand"
            ).format(
                post=repr(entry.post),
                channel=repr(entry.channel),
                key=record_key(entry.post, entry.channel, entry.publication),
            ),
        )
    return entry


class Ledger:
    def __init__(self, root: Path, data_dir: str = "data", clock: Clock | None = None) -> None:
        self.root = root
        self.dir = root / data_dir / RECORD_DIR
        self._rel_dir = Path(os.path.relpath(self.dir, root)).as_posix()
        self._prefix = f"{self.dir}/"
        self.clock = clock or Clock.at()

    def rel(self, post_id: str, channel: str, publication: int = 1) -> str:
        """The entry's path relative to the repository root (posix)."""
        path = self.path(post_id, channel, publication)
        return path.relative_to(self.root).as_posix()

    def path(self, post_id: str, channel: str, publication: int = 1) -> Path:
        return self.dir / file_name(post_id) / _channel_file(channel, publication)

    def get(self, post_id: str, channel: str, publication: int = 1) -> Entry | None:
        """The pair's entry (of its `publication`), None when it has none; raises
        RecordError when its file is not a record cmflow can read."""
        path = self.path(post_id, channel, publication)
        if not path.exists():
            return None
        entry = self.read(path)
        if isinstance(entry, RecordProblem):
            raise RecordError(entry)
        return entry

    def read(self, path: Path) -> Entry | RecordProblem:
        """One record file; a problem (never an exception) when it is not what cmflow wrote."""
        text = str(path)
        if text.startswith(self._prefix):  # as `relative_to` says, without its cost
            key = text[len(self._prefix) :]
        else:
            key = path.relative_to(self.dir).as_posix()
        return self._read(text, f"{self._rel_dir}/{key}", key)

    def read_in(
        self, folder_fd: int, folder: str, name: str, mode: int = 0
    ) -> Entry | RecordProblem:
        """`read` of the file `name` of the post folder `folder`, open as `folder_fd`;
        `mode`: its `st_mode` when the caller stat'ed it (a device is then never opened,
        as in `scan`)."""
        key = f"{folder}/{name}"
        rel = f"{self._rel_dir}/{key}"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            return _not_a_file(rel, key, mode)
        return self._read(name, rel, key, folder_fd)

    def _read(
        self, name: str, rel: str, key: str, dir_fd: int | None = None
    ) -> Entry | RecordProblem:
        """`read` with the paths already made (plain strings: `scan` reads tens of thousands
        of files, and Path objects cost more than the reading); `name` is a path, or a
        file's name in the folder open as `dir_fd`."""
        try:
            # Never through a link, never waiting on a pipe (a pull request can add either:
            # cmflow writes neither), never more than a record's size (/dev/zero).
            raw = safefs.read_capped(name, MAX_RECORD_BYTES, dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return RecordProblem(rel, key, _("is a symbolic link: replace it with a real file"))
            return _unreadable(rel, key, exc)
        except safefs.NotRegular as exc:
            return _not_a_file(rel, key, exc.mode)
        except safefs.TooLarge as exc:
            return RecordProblem(
                rel,
                key,
                _("{size} bytes, far more than a publish record: not written by cmflow").format(
                    size=exc.size
                ),
            )
        return _parse(raw, rel, key)

    def scan(self) -> Scan:
        """Every record file, read; one bad file never hides the others. A folder that is a
        link is no post's: skipped, as one that cannot be listed."""
        out = Scan()
        base = str(self.dir)
        if not os.path.isdir(base):
            return out
        top = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        # Without the cycle collector: tens of thousands of entries and no cycle; its passes
        # over them (and over whatever the caller holds) cost a third of the reading.
        collecting = gc.isenabled()
        gc.disable()
        try:
            with os.scandir(top) as listing:
                folders = sorted(e.name for e in listing if e.is_dir(follow_symlinks=False))
            for folder in folders:
                self._scan_folder(top, folder, out)
        finally:
            os.close(top)
            if collecting:
                gc.enable()
        return out

    def _scan_folder(self, top: int, folder: str, out: Scan) -> None:
        """The record files of one post's folder: the folder opened once (never through a
        link, even one swapped in since it was listed), each file opened from it by name."""
        try:
            dfd = os.open(folder, safefs.DIR_FLAGS, dir_fd=top)
        except OSError:
            return  # a link now, gone, or not to be listed: nothing in it
        try:
            with os.scandir(dfd) as listing:
                files = {
                    e.name: e
                    for e in listing
                    # `.tmp-*`: a write a killed process left half-done; the real file stands
                    if e.name.endswith(".json") and not e.name.startswith(".tmp-")
                }
        except OSError:
            os.close(dfd)
            return
        prefix = f"{self._rel_dir}/{folder}/"
        try:
            for name in sorted(files):
                key = f"{folder}/{name}"
                if files[name].is_file(follow_symlinks=False):  # the listing says: no stat
                    got = self._read(name, prefix + name, key, dfd)
                else:
                    got = self._odd(files[name], prefix + name, key, dfd)
                if isinstance(got, RecordProblem):
                    out.problems.append(got)
                else:
                    out.entries.append(got)
        finally:
            os.close(dfd)

    def _odd(self, found: os.DirEntry[str], rel: str, key: str, dfd: int) -> Entry | RecordProblem:
        """A `.json` that its folder lists as no regular file: said what it is. A device is
        never opened (opening one may act on it); the rest is read as any file, which says
        what it is in the same words."""
        try:
            mode = found.stat(follow_symlinks=False).st_mode
        except OSError:
            mode = 0
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            return _not_a_file(rel, key, mode)
        return self._read(found.name, rel, key, dfd)

    def all(self) -> list[Entry]:
        """Every entry that can be read (see `scan` for the files that cannot)."""
        return self.scan().entries

    def write(self, entry: Entry) -> Path:
        """Write atomically: a temporary file in the same folder, then rename. A killed process
        leaves the old file or the new one. (No fsync: it guards against power loss, which
        in CI loses the whole workspace anyway, and costs milliseconds per step.)"""
        entry.updated_at = self.clock.stamp()
        path = self.path(entry.post, entry.channel, entry.publication)
        data = entry.to_json().encode("utf-8")
        # As tempfile.mkstemp makes it (a fresh name, 0600, never an existing file), without
        # its overhead: a run writes hundreds of these, one per step of each pair.

        import secrets  # here: reading (validate) never needs it

        tmp = f"{path.parent}/.tmp-{secrets.token_hex(6)}.json"
        try:
            fd = os.open(tmp, _TEMP_FLAGS, 0o600)
        except FileNotFoundError:  # the pair's first write (a folder per post)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, _TEMP_FLAGS, 0o600)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path


# What `resolve` changes, kept in its history item so that `resolve --undo` can put it back.
_RESOLVED_FIELDS = (
    "state",
    "parts",
    "published_at",
    "reason",
    "reconcile_attempts",
    "in_flight",
    "in_flight_since",
    "not_before",
    "generation",
    "handles",
)


def _snapshot(entry: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _RESOLVED_FIELDS:
        value = getattr(entry, name)
        if name == "state":
            value = str(value)
        elif name == "parts":
            value = [asdict(p) for p in value]
        out[name] = value
    return out


def resolve(
    entry: Entry, published: str | None, at: str, *, force: bool = False, skipped: bool = False
) -> None:
    """A human's answer for an outcome cmflow could not prove: `published` (a URL or id)
    records it as out; None says it is not on the network, so the next run sends it;
    `skipped` closes a pair a person chose not to post (a reminder channel's). The state
    before is kept in the history item, for `undo_resolve`."""
    if entry.state.settled and not force:
        raise CmflowError(
            _(
                "{post} on {channel} is {state}, which cmflow proved: nothing to resolve "
                "(--force overrides)"
            ).format(post=entry.post, channel=entry.channel, state=entry.state)
        )
    before = _snapshot(entry)
    _apply_resolve(entry, published, at, skipped)
    entry.history[-1]["before"] = before


def undo_resolve(entry: Entry, at: str) -> str:
    """Put back the state the last `resolve` replaced (after a mistaken `--absent`, say).
    Only while that resolve is the last thing that happened to the pair: once a run acted
    on it, the record tells what really happened and must not be rewound. Returns the state
    restored."""
    last = entry.history[-1] if entry.history else None
    if last is None or last.get("event") != "resolved" or not isinstance(last.get("before"), dict):
        what = (
            _("the last change was {event} at {at}").format(
                event=repr(last.get("event")), at=last.get("at")
            )
            if last
            else _("no resolve recorded")
        )
        raise CmflowError(
            _(
                "{post} on {channel}: nothing to undo ({what}); undo only works right after "
                "a `cmflow resolve`, before a run acted on it"
            ).format(post=entry.post, channel=entry.channel, what=what)
        )
    before = last["before"]
    try:
        state = State(before["state"])
        parts = [_part(i, p) for i, p in enumerate(before.get("parts") or [])]
    except (KeyError, ValueError) as exc:
        raise CmflowError(
            _("the state before the resolve cannot be read back ({error})").format(error=exc)
        ) from None
    entry.state = state
    entry.parts = parts
    for name in _RESOLVED_FIELDS[2:]:
        if name in before:
            setattr(entry, name, before[name])
    entry.note(
        "unresolved",
        _("undid the resolve of {at}: {state} again").format(at=last.get("at"), state=state),
        at=at,
    )
    return str(state)


def _apply_resolve(entry: Entry, published: str | None, at: str, skipped: bool = False) -> None:
    if entry.state == State.WAITING and entry.parts:
        # The parts are the reminder's messages; the post's own id replaces them.
        entry.handles["reminder"] = [
            {"id": p.id, **({"url": p.url} if p.url else {})} for p in entry.parts
        ]
        entry.parts = []
        if published:
            entry.published_at = at
    if skipped:
        entry.state = State.SKIPPED
        entry.note("resolved", _("not posted, by choice"), at=at)
    elif published:
        is_url = published.startswith(("http://", "https://"))
        remote_id = published.rstrip("/").rsplit("/", 1)[-1] if is_url else published
        entry.parts.append(PartResult(remote_id, published if is_url else None))
        entry.state = State.PUBLISHED
        entry.published_at = entry.published_at or entry.claimed_at or at
        entry.note("resolved", _("published, confirmed by hand"), at=at)
    else:
        if entry.state == State.PUBLISHED:
            # A proven publication the human says is gone (deleted on the network): send
            # it anew, as a new generation with new keys (an idempotency key still valid
            # would only replay the deleted post).
            entry.parts, entry.handles = [], {}
            entry.generation += 1
        entry.state = State.DEFERRED
        entry.note("resolved", _("absent, confirmed by hand: send it again"), at=at)
    entry.in_flight = entry.in_flight_since = None
    entry.reason = None
    entry.reconcile_attempts = 0


def replacement(problem: RecordProblem, post_id: str, channel: str, platform: str) -> Entry:
    """What `cmflow resolve` writes over a record file cmflow cannot read: a fresh entry
    for the pair, which `resolve` then settles as the human says."""
    entry = Entry(post_id, channel, platform, "", State.UNKNOWN)
    entry.reason = _("the record file was unreadable ({problem})").format(problem=problem.message)
    return entry


class RecordError(CmflowError):
    """Raised by `Ledger.get` when a record file cannot be read (hand-edited, merge markers...)."""

    exit_code = ExitCode.FINDINGS

    def __init__(self, problem: RecordProblem) -> None:
        self.problem = problem
        super().__init__(f"{problem}")


@dataclass
class Index:
    """Record entries found for current posts: by id, else, for a renamed or moved file whose
    id came from its name, by content (same text and same date, old id no longer in use)."""

    by_key: dict[tuple[str, str], Entry]  # first publications
    by_source: dict[tuple[str, str], Entry]
    current_ids: frozenset[str] = frozenset()
    problems: dict[str, RecordProblem] = field(default_factory=dict)  # by record_key
    # Evergreen re-posts: (post id, channel) -> publication number -> entry.
    reposts: dict[tuple[str, str], dict[int, Entry]] = field(default_factory=dict)
    # First publications by (date they were scheduled for, channel): `renamed_from`.
    by_date: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        entries: Iterable[Entry],
        current_ids: Iterable[str] = (),
        problems: Iterable[RecordProblem] = (),
    ) -> Index:
        by_key: dict[tuple[str, str], Entry] = {}
        by_source: dict[tuple[str, str], Entry] = {}
        reposts: dict[tuple[str, str], dict[int, Entry]] = {}
        for e in entries:
            if e.publication > 1:
                reposts.setdefault((e.post, e.channel), {})[e.publication] = e
                continue
            by_key[(e.post, e.channel)] = e
            if e.source_hash:
                by_source.setdefault((e.source_hash, e.channel), e)
        bad = {p.key: p for p in problems}
        return cls(
            by_key, by_source, frozenset(current_ids), bad, reposts, _by_date(by_key.values())
        )

    def problem(self, post: Post, channel: str, publication: int = 1) -> RecordProblem | None:
        """The pair's record file, when it is there but cannot be read."""
        return self.problems.get(record_key(post.id, channel, publication))

    def reposts_of(self, post: Post, channel: str) -> dict[int, Entry]:
        """The pair's re-post entries by publication number: under the id its first
        publication was recorded with and under the post's id, both (a file renamed between
        two re-posts has some under each; missing either would send one again)."""
        found = self.reposts.get((post.id, channel))
        first = self.find(post, channel)
        if first is not None and first.post != post.id:
            old = self.reposts.get((first.post, channel))
            if old:
                return {**old, **found} if found else old
        return found or {}

    def find(self, post: Post, channel: str) -> Entry | None:
        entry = self.by_key.get((post.id, channel))
        if entry is not None or not post.content_hash:
            return entry
        old = self.by_source.get((post.content_hash, channel))
        if old is None or old.post in self.current_ids:
            return None  # a copy of a post that still exists is a new post
        same_date = post.date is not None and old.scheduled_for == post.date.isoformat()
        return old if same_date else None

    def renamed_from(self, post: Post, channel: str) -> Entry | None:
        """For a pair `find` finds no entry for: the published entry of a post file gone
        since, scheduled for the same moment on the channel, when it is the only one (a
        file renamed and edited in one go: its content no longer tells). None when the post
        names itself (`id:`): a post given its own id is a post of its own."""
        if post.date is None or "id" in post.meta:
            return None
        found = [
            e
            for e in self.by_date.get((post.date.isoformat(), channel), ())
            if e.post not in self.current_ids and e.state == State.PUBLISHED
        ]
        return found[0] if len(found) == 1 else None


def _by_date(entries: Iterable[Entry]) -> dict[tuple[str, str], list[Entry]]:
    out: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        if e.scheduled_for:
            out.setdefault((e.scheduled_for, e.channel), []).append(e)
    return out


_UNRECORDED: Any = object()  # no first publication recorded for the pair


@dataclass
class SentTable:
    """What the sent index (`sent_index`) takes from the record alone, before any post is
    read: validation builds it while other processes check the posts, and matching the
    posts to it is then a lookup per pair."""

    # First publications by (post id, channel): what went out, or why it failed (None:
    # missed, nothing went out nor will without a new date).
    by_key: dict[tuple[str, str], Sent | None]
    by_source: dict[tuple[str, str], Entry]  # as `Index.by_source`
    by_date: dict[tuple[str, str], list[Entry]]  # as `Index.by_date`

    @classmethod
    def of(cls, entries: Iterable[Entry]) -> SentTable:
        """As `Index.build` keeps the entries (the last one of a pair, the first one of a
        source hash), each turned into what the index says of it."""
        by_key: dict[tuple[str, str], Sent | None] = {}
        by_source: dict[tuple[str, str], Entry] = {}
        last: dict[tuple[str, str], Entry] = {}
        for e in entries:
            if e.publication > 1:
                continue
            by_key[(e.post, e.channel)] = None if e.state in _NOT_SENT else _sent(e)
            last[(e.post, e.channel)] = e
            if e.source_hash:
                by_source.setdefault((e.source_hash, e.channel), e)
        return cls(by_key, by_source, _by_date(last.values()))


# Missed: nothing went out, and nothing will unless the post's date changes. Left out of the
# sent index, so `validate` says of the pair what `plan` does (`schedule.past`: missed,
# change its date to send it).
_NOT_SENT = frozenset((State.MISSED,))


def _sent(e: Entry) -> Sent:
    """What the sent index says of a pair's entry (not a missed one): a failed one with its
    reason (`Sent.failed`)."""
    # A failed pair keeps what was refused (`Sent.content_hash`): it goes again once what
    # the channel would receive differs, as the publisher decides.
    sent = e.content_hash if e.state in (State.PUBLISHED, State.FAILED) else ""
    failed = (e.reason or "") if e.state == State.FAILED else None
    return Sent(sent, parse_time(e.published_at), e.url, e.source_hash, failed)


def sent_index(
    root: Path,
    data_dir: str,
    posts: Iterable[Post],
    scan: Scan | None = None,
    table: SentTable | None = None,
) -> dict[tuple[str, str], Sent]:
    """For the validator: which current (post id, channel) pairs the record holds as sent,
    being sent, or failed (`Sent.failed`). `table`: `SentTable.of` the scan's entries, when
    the caller made it already. Each pair as `Index.find` finds its entry (a renamed file's
    by its content), a missed one left out."""
    posts = list(posts)
    entries = (scan or Ledger(root, data_dir).scan()).entries
    out: dict[tuple[str, str], Sent] = {}
    if not entries:
        return out
    if table is None:
        table = SentTable.of(entries)
    by_key = table.by_key
    renamed: Index | None = None  # finds a pair the record holds under an older id
    for post in posts:
        post_id = post.id
        for channel in post.channels:
            key = (post_id, channel)
            sent = by_key.get(key, _UNRECORDED)
            if sent is _UNRECORDED:
                if not post.content_hash:
                    continue
                if renamed is None:  # the pair's own id is not in it: `find`'s next step
                    ids = frozenset(p.id for p in posts)
                    renamed = Index({}, table.by_source, ids, by_date=table.by_date)
                old = renamed.find(post, channel)
                if old is None:
                    gone = renamed.renamed_from(post, channel)
                    if gone is not None:
                        # Renamed and edited, the publisher holds it (`Index.renamed_from`):
                        # not "still to send", nor an edit until a person says which.
                        when = parse_time(gone.published_at)
                        out[key] = Sent("", when, gone.url, "", None, gone.post)
                    continue
                if old.state in _NOT_SENT:
                    continue
                sent = _sent(old)
            if sent is not None:
                out[key] = sent
    return out


UNREADABLE_RULE = "record.unreadable"


def problem_findings(problems: Iterable[RecordProblem]) -> list[Finding]:
    """What `cmflow validate` reports for record files it cannot read (a bad merge or hand
    edit in a pull request is caught before a publish run holds the pair)."""
    return [
        Finding(p.rel, p.line, p.column, "error", UNREADABLE_RULE, _problem_text(p))
        for p in problems
    ]


# The names cmflow gives record files: `<channel>.json`, `<channel>@<n>.json` for n >= 2.
_NAMED = re.compile(r"[^@/]*(@([2-9]|[1-9][0-9]+))?\.json")


def _problem_text(p: RecordProblem) -> str:
    if not _NAMED.fullmatch(p.key.rsplit("/", 1)[-1]):
        # `@0`, `@abc`, `@02`: no publication is recorded under such a name, so no post
        # waits for it; a resolve would write another file and leave this one.
        return _(
            "{problem}: cmflow never names a record file so (a re-post's is "
            "`<channel>@<n>.json`, n from 2) and no post waits for it: remove it"
        ).format(problem=p.message)
    return _(
        "{problem}: its post is held until {command} or `--absent` rewrites it (or "
        "restore the file from git)"
    ).format(problem=p.message, command=_resolve_command(p.key))


def _resolve_command(key: str) -> str:
    """The resolve that rewrites the record file at `key`: a re-post's file (`@n`) is
    addressed by its number, else the command would touch the first publication's."""
    n = publication_of(key)
    which = f" --publication {n}" if n > 1 and key.endswith(f"@{n}.json") else ""
    return f"`cmflow resolve POST CHANNEL{which} --published URL`"
