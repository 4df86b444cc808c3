"""Post files: find them, read them safely, parse front-matter and body with positions.

Bad files never stop a run: every problem becomes a `Finding` on the post, and the post is
still returned (with what could be understood) so the rest of the queue is checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

from cmflow import safefs, schema
from cmflow.errors import CmflowError
from cmflow.i18n import _, number
from cmflow.model import SAFE_ID, Finding, KeyPath, Mark, Post
from cmflow.timeutil import DateProblem, parse_datetime, slot_request
from cmflow.yamlload import YamlSyntaxError, byte_mark, parse

MAX_BYTES = 1_000_000
SUFFIXES = (".md", ".markdown")
MAX_ID = 100  # characters; the id names a record file, and file names stop at 255 bytes


def discover(root: Path, content_dir: str) -> list[str]:
    """Every post file under root/content_dir, as sorted posix paths relative to root.

    Links to folders are not followed (a loop cannot hang the walk). A `*.md` that is not
    a file (a folder, a link to one) is listed anyway, so that `read_bytes` reports it.
    """
    base = root / content_dir
    if not base.is_dir():
        # Nothing to publish is not a state a scheduled job may stay green in: a misspelt
        # content_dir would otherwise mean "nothing to do" forever.
        raise MissingContentDir(root, content_dir)
    found: list[str] = []
    for folder, dirs, files in os.walk(base):
        rel = Path(folder).relative_to(root).as_posix()
        found.extend(f"{rel}/{d}" for d in dirs if d.endswith(SUFFIXES) and not d.startswith("."))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.endswith(SUFFIXES))
        found.extend(f"{rel}/{f}" for f in files if named_as_post(f))
    return sorted(found)


def named_as_post(name: str) -> bool:
    """A post's name (`*.md`, `*.markdown`), or one in other capitals (`Noël.MD`): listed,
    so that `read_bytes` says to rename it rather than the post being left out unsaid."""
    return not name.startswith(".") and (name.endswith(SUFFIXES) or name.lower().endswith(SUFFIXES))


class MissingContentDir(CmflowError):
    """Raised by `discover` when the content folder is missing: no command can work."""

    def __init__(self, root: Path, content_dir: str) -> None:
        folders = (
            [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
            if root.is_dir()
            else []
        )
        hint = schema.did_you_mean(content_dir, sorted(folders))
        super().__init__(
            _(
                "the content folder {folder} does not exist in {root}{hint}: "
                "create it, or set content_dir in channels.yaml"
            ).format(folder=repr(content_dir), root=root, hint=hint)
        )


def read_bytes(root: Path, rel: str) -> bytes | Finding:
    """The file's bytes, or a finding saying why it cannot be a post: a link leaving the
    repository or into .git, not a regular file (a FIFO is never opened for a blocking
    read), over the size limit."""
    return _read_opened(root, rel, None)


Stamp = tuple[int, int]  # a file's (size, mtime_ns)


def read_stamped(root: Path, rel: str, folders: safefs.Folders) -> tuple[bytes | Finding, Stamp]:
    """`read_bytes`, many files in a row (`folders`: the repository's), with the file's
    stamp (size, mtime in ns) as found on the descriptor read: (-1, 0) when it cannot be
    stat'ed."""
    got = folders.open(rel)
    if got is None:  # the long way, which says what is wrong
        raw = _read_opened(root, rel, None)
        return raw, stamp_of(f"{root}/{rel}") or (-1, 0)
    fd, st = got
    return _read_opened(root, rel, fd, st.st_size), (st.st_size, st.st_mtime_ns)


def stamp_of(path: str, own: os.stat_result | None = None) -> Stamp | None:
    """The stamp of the post file at `path` (`own`: its own stat, when the caller has it):
    its size and mtime. For a link (read through when it stays in the repository): the
    later of the two mtimes (a stamp that recent is never trusted: `cmflow.cache.RACY_NS`)
    and, for a size, a number below -1 drawn from the target's size and both mtimes (no
    file's size, nor a missing file's -1), so that the target edited (even given an older
    mtime, as `cp -p` or `tar x` do), the link pointed elsewhere or swapped in for a file
    each shows. None: it cannot be stat'ed."""
    try:
        if own is None:
            own = os.stat(path, follow_symlinks=False)
        if stat.S_ISLNK(own.st_mode):
            target = os.stat(path)
            mixed = (target.st_size * _MIX ^ target.st_mtime_ns) * _MIX ^ own.st_mtime_ns
            return (-2 - mixed % _LINK_SIZES, max(target.st_mtime_ns, own.st_mtime_ns))
    except (OSError, ValueError):
        return None
    return (own.st_size, own.st_mtime_ns)


_MIX = 1_000_003  # an odd multiplier: each field stirs all bits of the next
_LINK_SIZES = 1 << 62  # link stamps' sizes: -2 down to -(2 + 2**62 - 1), a signed 64-bit int


def _read_opened(root: Path, rel: str, fd: int | None, size: int = -1) -> bytes | Finding:
    """`read_bytes` of `rel`, on `fd` when the caller opened it already (`size`: its size
    by fstat). `fd` is closed."""
    if not rel.endswith(SUFFIXES):  # `Noël.MD`: `discover` lists it for this
        if fd is not None:
            os.close(fd)
        stem, _dot, suffix = rel.rpartition("/")[2].rpartition(".")
        name = f"{stem}.{suffix.lower()}"
        if os.path.lexists(os.path.join(root, rel.rpartition("/")[0], name)):
            return _file_finding(
                rel,
                _(
                    "is not named as a post (cmflow reads files ending in .md or .markdown, "
                    "in lower case), and {name} beside it is: merge the two, then remove this one"
                ).format(name=name),
            )
        return _file_finding(
            rel,
            _(
                "is not named as a post (cmflow reads files ending in .md or .markdown, in "
                "lower case): rename it {name}"
            ).format(name=name),
        )
    if fd is None:
        try:
            fd = safefs.open_regular(root, rel)
        except safefs.Outside:
            return _file_finding(
                rel,
                _(
                    "is a symbolic link leading outside the repository: "
                    "copy the file into the repository instead"
                ),
            )
        except safefs.UnsafePath as exc:
            return _file_finding(rel, str(exc))
    try:
        if size < 0:
            size = os.fstat(fd).st_size
        data = b""
        if size <= MAX_BYTES:
            # One read when the file holds what the fstat said (the usual case).
            data = os.read(fd, size + 1)
            if len(data) != size:  # changed since the fstat, or a short read: on to its end
                data += safefs.read_fd(fd, MAX_BYTES - len(data))
        if size > MAX_BYTES or len(data) > MAX_BYTES:  # over the limit, or grown past it
            return _file_finding(
                rel,
                _(
                    "is {size} bytes, over the {limit}-byte limit for a post: "
                    "is it really a post? Move large media to media/"
                ).format(size=number(max(size, len(data))), limit=number(MAX_BYTES)),
            )
        return data
    except OSError as exc:
        return _file_finding(rel, _("cannot be read ({reason})").format(reason=exc.strerror))
    finally:
        os.close(fd)


_TOP = Mark(1, 1)


def _file_finding(rel: str, message: str, mark: Mark = _TOP) -> Finding:
    return Finding(
        rel,
        mark.line,
        mark.column,
        "error",
        "content.file",
        _("this file {problem}").format(problem=message),
    )


def parse_post(
    rel: str, raw: bytes, tz: tzinfo, channels: Mapping[str, object] | None = None
) -> Post:
    """Parse one post. Load-time problems (frontmatter.*, content.file) land in `post.problems`."""
    stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    post = Post(path=rel, id=stem, meta={}, body="", body_line=1)
    if raw.find(b"\x00", 0, 8192) != -1:  # the first 8 KiB, without copying them
        post.problems.append(
            _file_finding(rel, _("is binary, not a Markdown post: move it to media/"))
        )
        return post
    try:
        # What decode("utf-8-sig") does, without its codec's Python wrapper.
        skip = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
        text = (raw[skip:] if skip else raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        at = exc.start + skip  # the error counts from after the BOM; the file, from its start
        post.problems.append(
            _file_finding(
                rel,
                _("is not UTF-8 (byte {byte}): save it as UTF-8").format(byte=f"0x{raw[at]:02x}"),
                byte_mark(raw, at),
            )
        )
        return post
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    post.content_hash = ""
    meta_text, body, body_line = split_front_matter(text)
    if meta_text is None:
        post.body, post.body_line = body, body_line
        post.problems.append(
            Finding(
                rel,
                1,
                1,
                "error",
                "frontmatter.required",
                _("front-matter has no closing `---` line: add one after the last key")
                if text.startswith("---\n")
                else _(
                    "no front-matter: start the file with a line `---`, then `date:` and "
                    "`channels:`, then `---`"
                ),
            )
        )
        _finish(post, tz, channels, had_front_matter=False)
        return post
    post.body, post.body_line = body, body_line
    try:
        meta, marks, _node = parse(meta_text, line_offset=1)
    except YamlSyntaxError as exc:
        post.problems.append(
            Finding(
                rel,
                exc.mark.line,
                exc.mark.column,
                "error",
                "frontmatter.syntax",
                _("front-matter is not valid YAML: {problem}").format(problem=exc.message),
            )
        )
        return post
    post.marks = marks
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        kind = (
            _("a list")
            if isinstance(meta, list)
            else _("a single value ({value})").format(value=f"{meta!r:.40}")
        )
        post.problems.append(
            Finding(
                rel,
                2,
                1,
                "error",
                "frontmatter.syntax",
                _("front-matter must be a mapping of `key: value` lines, not {kind}").format(
                    kind=kind
                ),
            )
        )
        return post
    post.meta = meta
    for p in _field_problems(meta, marks):
        top = p.path[0] if p.path else ""
        rule = (
            "frontmatter.unknown-field"
            if p.unknown_key
            else "frontmatter.status"
            if top == "status" and len(p.path) == 1
            else "frontmatter.date"
            if top == "date"
            else "frontmatter.type"
        )
        post.problems.append(Finding(rel, p.mark.line, p.mark.column, "error", rule, p.message))
    _finish(post, tz, channels)
    return post


# The closing line, with the \n before it: `---` or `...`, then nothing but whitespace (what
# str.rstrip removes: `[^\S\n]` is the whitespace of `\s` but the line's end). Starting
# with a literal \n lets the regex engine skip from line to line.
_CLOSING = re.compile(r"\n(?:---|\.\.\.)[^\S\n]*(?=\n|\Z)")


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """(front-matter text or None, body, 1-based line where the body starts).

    The front-matter opens with a first line `---` and closes at the next line `---` or
    `...` (spaces after either are ignored); without a closing line, the whole file is body."""
    if not text.startswith("---"):
        return None, text, 1
    first_nl = text.find("\n")
    if first_nl == -1 or text[:first_nl].rstrip() != "---":
        return None, text, 1
    closing = _CLOSING.search(text, first_nl)
    if closing is None:
        return None, text, 1
    start, end = closing.span()  # start: the \n ending the last line of front-matter
    body = text[end + 1 :]  # "" when the closing line ends the file
    return text[first_nl + 1 : start + 1], body, text.count("\n", 0, start) + 3


def _field_problems(meta: dict[str, Any], marks: Mapping[KeyPath, Mark]) -> list[schema.Problem]:
    """What `schema.check` finds in the front-matter, asked only when a quick look at each
    field (`schema.passes`) sees something wrong: most posts have nothing to report."""
    if not _ANY_REQUIRED:
        keys = schema.FRONTMATTER_KEYS
        for name, value in meta.items():
            if value.__class__ is str and name in _TEXT_FIELDS:
                continue
            if value.__class__ is list:
                if name in _TEXT_LISTS and _all_text(value):
                    continue
                shape = _TEXT_MAP_LISTS.get(name)
                if shape is not None and _all_text_maps(value, *shape):
                    continue
            key = keys.get(name)
            if key is None or not schema.passes(value, key):
                break
        else:
            return []
    return schema.check(meta, schema.FRONTMATTER_KEYS, marks)


# A required top-level field is reported even when every written field passes.
_ANY_REQUIRED = any(key.required for key in schema.FRONTMATTER_KEYS.values())
# The fields any text passes (title, pillar, date...): without choices, `passes` looks only
# at the type of a text value.
_TEXT_FIELDS = frozenset(
    name
    for name, key in schema.FRONTMATTER_KEYS.items()
    if not key.choices and schema.passes("text", key)
)
# The fields any list of texts passes (channels, tags): `passes` then looks only at the
# type of each item.
_TEXT_LISTS = frozenset(
    name
    for name, key in schema.FRONTMATTER_KEYS.items()
    if key.kind == "list" and key.item is schema.STR and not key.choices
)


def _text_map_shape(key: schema.Key) -> tuple[frozenset[str], frozenset[str]] | None:
    """(its keys, the required ones) when `key` is a list of mappings holding only texts
    (media: `path`, `alt`), with nothing else `passes` would look at; else None."""
    item = key.item
    if key.kind != "list" or key.choices or item is None or item.kind != "map":
        return None
    if item.open or item.choices or item.item is not None:
        return None
    for sub in item.keys.values():
        if sub.kind != "str" or sub.choices or sub.keys or sub.item is not None:
            return None
    return frozenset(item.keys), frozenset(n for n, sub in item.keys.items() if sub.required)


# The list fields of mappings of texts (media), by name: see `_all_text_maps`.
_TEXT_MAP_LISTS = {
    name: shape
    for name, key in schema.FRONTMATTER_KEYS.items()
    if (shape := _text_map_shape(key)) is not None
}


def _all_text_maps(items: list[Any], known: frozenset[str], required: frozenset[str]) -> bool:
    """Whether each item is a mapping with the `required` keys, no key but the `known`
    ones, and texts as values: what `schema.passes` accepts for such a list, told without
    a call per item and per field (False: ask `passes`)."""
    for item in items:
        if item.__class__ is not dict or not required <= item.keys() <= known:
            return False
        if not _all_text(item.values()):
            return False
    return True


def _all_text(items: Iterable[Any]) -> bool:
    """Whether every item is a text (`isinstance(item, str)`), as `str.join` tells it in C:
    it takes texts (subclasses too) and raises TypeError at anything else."""
    try:
        "".join(items)
    except TypeError:
        return False
    return True


def _finish(
    post: Post,
    tz: tzinfo,
    channels: Mapping[str, object] | None,
    had_front_matter: bool = True,
) -> None:
    meta = post.meta
    rel = post.path

    missing = [] if "date" in meta else ["date"]
    if "channels" not in meta and "channel" not in meta:
        missing.append("channels")
    elif meta.get("channels", meta.get("channel")) in ([], "", None):
        key = "channels" if "channels" in meta else "channel"
        _problem(
            post,
            "frontmatter.required",
            post.mark(key),
            _("`{key}` is empty: name at least one channel").format(key=key),
        )
    if missing and had_front_matter:
        _problem(
            post,
            "frontmatter.required",
            Mark(1, 1),
            (
                _("missing {key}: add {example}")
                if len(missing) == 1
                else _("missing {key} and {other}: add {example} and {other_example}")
            ).format(
                key=missing[0],
                example=_example(missing[0], channels),
                other=missing[-1],
                other_example=_example(missing[-1], channels),
            )
            + _near_miss(meta, missing),
        )
    if "id" in meta and isinstance(meta["id"], str | int) and str(meta["id"]).strip():
        post.id = str(meta["id"]).strip()
        if len(post.id) > MAX_ID:
            _problem(
                post,
                "frontmatter.type",
                post.mark("id"),
                _(
                    "id is {length} characters long: keep it under {limit} "
                    "(it names the post's publish record, a file)"
                ).format(length=len(post.id), limit=MAX_ID),
            )
        elif not SAFE_ID.match(post.id):
            _problem(
                post,
                "frontmatter.type",
                post.mark("id"),
                _(
                    "id {id}: use letters, digits, '-', '_' and '.', starting with a letter "
                    "or digit (it names the post's publish record)"
                ).format(id=repr(post.id)),
            )
    status = meta.get("status", "ready")
    post.status = status if status in ("draft", "ready") else "invalid"
    post.slot = slot_request(meta.get("date"))
    if "date" in meta and meta["date"] is not None and post.slot is None:
        try:
            post.date = parse_datetime(meta["date"], tz)
        except DateProblem as exc:
            if not any(f.rule == "frontmatter.date" for f in post.problems):
                _problem(post, "frontmatter.date", post.mark("date"), str(exc))
    raw = meta.get("channels", meta.get("channel"))
    names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    key = "channels" if "channels" in meta else "channel"
    seen: set[str] = set()
    if names is raw and channels is not None and _all_text(raw):
        # Most posts: every name a defined channel, none twice. The loop below then keeps
        # them all, in their order, and reports nothing.
        seen = set(raw)
        if len(seen) == len(raw) and seen <= channels.keys():
            post.channels.extend(raw)
            names = []
        else:
            seen = set()
    for i, name in enumerate(names):
        if not isinstance(name, str) or name in seen:
            continue
        seen.add(name)
        if channels is not None and name not in channels:
            hint = schema.channel_hint(name, channels)
            if "," in name:
                hint = _(": write a list, channels: [{names}]").format(names=name)
            _problem(
                post,
                "frontmatter.unknown-channel",
                post.mark(key, i) if isinstance(raw, list) else post.mark(key),
                _("channel {channel} is not defined in channels.yaml{hint}").format(
                    channel=repr(name), hint=hint
                ),
            )
            continue
        post.channels.append(name)
    variants = meta.get("variants")
    if isinstance(variants, dict) and channels is not None:
        for name in variants:
            if name not in channels:
                hint = schema.channel_hint(str(name), channels)
                _problem(
                    post,
                    "frontmatter.unknown-channel",
                    post.mark("variants", name),
                    _("variant for {channel}, which is not defined in channels.yaml{hint}").format(
                        channel=repr(name), hint=hint
                    ),
                )
            elif name not in seen:
                post.problems.append(
                    Finding(
                        rel,
                        *_lc(post.mark("variants", name)),
                        "warning",
                        "frontmatter.unknown-channel",
                        _(
                            "variant for {channel}, but the post does not go there: "
                            "add it to channels"
                        ).format(channel=repr(name)),
                    )
                )
    post.content_hash = content_hash(post.meta, post.body)


def _problem(post: Post, rule: str, mark: Mark, message: str) -> None:
    post.problems.append(Finding(post.path, mark.line, mark.column, "error", rule, message))


def _example(key: str, channels: Mapping[str, object] | None) -> str:
    if key == "date":
        return "`date: 2026-11-24 09:30`"
    names = list(channels or ())[:2] or ["mastodon", "linkedin"]
    return f"`channels: [{', '.join(names)}]`"


def _near_miss(meta: Mapping[str, Any], missing: list[str]) -> str:
    """` (is 'chanels' meant to be 'channels'?)` when a written key looks like a missing one."""
    import difflib

    for want in missing:
        near = difflib.get_close_matches(
            want, [str(k) for k in meta if k not in schema.FRONTMATTER_KEYS], n=1, cutoff=0.75
        )
        if near:
            return " " + _("(is {written} meant to be {wanted}?)").format(
                written=repr(near[0]), wanted=repr(want)
            )
    return ""


def _lc(mark: Mark) -> tuple[int, int]:
    return mark.line, mark.column


# json.dumps(keep, sort_keys=True, default=str, ensure_ascii=False), without building an
# encoder for every post: the same bytes, so every recorded hash stays valid.
_HASH_JSON = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False)
# The C encoder `_HASH_JSON.encode` builds on each call (its settings, in its order), built
# once. No circular check (markers None): front-matter is a tree, since `yamlload` refuses
# aliases; a cycle would fail with RecursionError instead of ValueError, never hash.
_MAKE_C: Any = getattr(json.encoder, "c_make_encoder", None)
_HASH_C: Callable[[Any, int], Sequence[str]] | None = (
    _MAKE_C(None, str, json.encoder.encode_basestring, None, ": ", ", ", True, False, True)
    if _MAKE_C is not None
    else None
)
_NOT_HASHED = frozenset(("date", "status", "id"))


def content_hash(meta: Mapping[str, Any], body: str) -> str:
    """What identifies a post's content: body and the fields that change what is sent."""
    keep = dict(meta)  # a copy, then the fields left out: no Python loop over the fields
    for k in _NOT_HASHED:
        keep.pop(k, None)
    text = "".join(_HASH_C(keep, 0)) if _HASH_C is not None else _HASH_JSON.encode(keep)
    return hashlib.sha256(f"{text}\n{body.strip()}".encode()).hexdigest()


def load_all(
    root: Path, rels: list[str], tz: tzinfo, channels: Mapping[str, object]
) -> Iterator[tuple[str, bytes | None, Post]]:
    for rel in rels:
        raw = read_bytes(root, rel)
        if isinstance(raw, Finding):
            stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            post = Post(path=rel, id=stem, meta={}, body="", body_line=1, problems=[raw])
            yield rel, None, post
        else:
            yield rel, raw, parse_post(rel, raw, tz, channels)
