"""YAML parsing that keeps where every key was written (for path:line:col messages).

Every file cmflow reads (channels.yaml, posts) may come from a pull request, so the YAML
subset is narrowed to what configuration and front-matter need, and each refusal is an
error at its position rather than a crash or a stall:

- anchors and aliases (`&name`, `*name`) are refused: nested aliases expand exponentially
  (the "billion laughs": a few hundred bytes can take minutes and gigabytes);
- explicit tags other than `!!str` (`!!int "abc"`, `!!python/object`, `!!binary`, `!foo`)
  are refused: they only serve to build values no field accepts, and a bad one raises;
- nesting deeper than `MAX_DEPTH` is refused (deep trees exhaust Python's recursion);
- mapping keys are kept as the text written (`1:`, `true:`, `2026-01-01:` are the keys
  "1", "true", "2026-01-01"): every key cmflow knows is a name, and a non-text key would
  break sorting and hashing downstream; a list or mapping used as a key is refused;
- a scalar that looks like a number or a date but is not one (`2026-02-30`, `0x_`, a
  5,000-digit number) stays the text written, for the field's own check to report.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from functools import lru_cache, partial
from typing import Any

import yaml

from cmflow.i18n import _
from cmflow.model import KeyPath, Mark

try:  # libyaml is several times faster; PyYAML wheels ship it
    from yaml import CSafeLoader as _BaseLoader

    _LIBYAML = True
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

    _LIBYAML = False

MAX_DEPTH = 100  # nesting levels; real files use 4 or 5
_YAML_TAG = "tag:yaml.org,2002:"
# Explicit tags that change nothing a field can see: `!!str 0123` and `! 0123` keep text.
_ALLOWED_TAGS = {"!", f"{_YAML_TAG}str", f"{_YAML_TAG}seq", f"{_YAML_TAG}map"}
# An anchor, an alias or a tag (other than the plain `!`) starts a token with `&`, `*` or
# `!` followed by a name. Text without one (most posts, "Q&A" and "Bienvenue !" included)
# skips the event scan, which keeps parsing at the C loader's speed; should a token slip
# by, `_check_structure` still refuses shared nodes before anything is expanded.
_SCAN_TRIGGER = re.compile(r"(?:^|[\s\[\]{},:?-])[&*!]\S")
# Each nesting level opens with one of these characters (`[`, `{`, a block entry's `-`, a
# key's `:` or `?`), so their count bounds the depth: fewer than MAX_DEPTH, no scan needed.
_OPENERS = ("[", "{", "-", ":", "?")
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")


class YamlSyntaxError(ValueError):
    """Raised by `parse` with the 1-based position of the problem."""

    def __init__(self, message: str, mark: Mark) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _Loader(_BaseLoader):
    """The safe loader, with keys kept as text and malformed numbers/dates kept as text."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                _("expected a mapping, found {kind}").format(kind=node.id),
                node.start_mark,
            )
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    _("a key must be a name, not a list or a mapping"),
                    key_node.start_mark,
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping

    def _or_text(self, node: yaml.ScalarNode, build: Any) -> Any:
        try:
            return build(self, node)
        except (ValueError, OverflowError):
            return node.value


def _keep_text(name: str) -> None:
    build = getattr(yaml.constructor.SafeConstructor, f"construct_yaml_{name}")

    def construct(loader: _Loader, node: yaml.ScalarNode) -> Any:
        return loader._or_text(node, build)

    _Loader.add_constructor(f"{_YAML_TAG}{name}", construct)


for _name in ("int", "float", "timestamp"):
    _keep_text(_name)


def _checked_str(loader: _Loader, node: yaml.ScalarNode) -> str:
    value = str(loader.construct_scalar(node))
    # A "\0" escape would reach file names (media paths) and C libraries, which refuse it.
    if "\x00" in value:
        raise yaml.constructor.ConstructorError(
            None, None, _("a NUL character (\\0) is not allowed: remove it"), node.start_mark
        )
    # libyaml refuses "\ud800"-style escapes; the pure-Python reader accepts them, and a lone
    # surrogate cannot be encoded back to UTF-8 (hashing, rendering and sending would fail).
    if not _LIBYAML and any("\ud800" <= c <= "\udfff" for c in value):
        raise yaml.constructor.ConstructorError(
            None, None, _("found invalid Unicode character escape code"), node.start_mark
        )
    return value


_Loader.add_constructor(f"{_YAML_TAG}str", _checked_str)


def _merge_as_text(loader: _Loader, node: yaml.ScalarNode) -> str:
    # `<<` is a merge key only where a key is expected; as a value it is just text.
    return str(loader.construct_scalar(node))


_Loader.add_constructor(f"{_YAML_TAG}merge", _merge_as_text)


def parse(text: str, line_offset: int = 0) -> tuple[Any, dict[KeyPath, Mark], yaml.Node | None]:
    """Parse one YAML document. Returns (value, marks of every key and list item, root node).

    `line_offset` is added to every line (front-matter starts below the `---` line). A key
    written twice in one mapping is an error (PyYAML would silently keep the last one)."""
    simple = _parse_simple(text, line_offset)
    if simple is not None:  # the common front-matter: see `_parse_simple`
        return simple[0], simple[1], None
    return parse_full(text, line_offset)


def parse_full(
    text: str, line_offset: int = 0
) -> tuple[Any, dict[KeyPath, Mark], yaml.Node | None]:
    """`parse` without the fast path: libyaml's node tree, every check (tests compare the
    fast path with it)."""
    # YAML also breaks lines at U+0085, U+2028 and U+2029; cmflow (and editors) count only
    # \n, so positions are then recomputed from the character index.
    starts = (
        [0, *itertools.accumulate(len(line) + 1 for line in text.split("\n"))]
        if any(c in text for c in _OTHER_BREAKS)
        else None
    )

    def at(m: yaml.Mark | None) -> Mark:
        if m is None:
            return Mark(1 + line_offset, 1)
        if m.index >= len(text):  # "unexpected end": point at the end of the last line
            last = text.rfind("\n", 0, len(text) - 1) + 1 if text.endswith("\n") else None
            if last is None:
                last = text.rfind("\n") + 1
                return Mark(text.count("\n") + 1 + line_offset, len(text) - last + 1)
            return Mark(text.count("\n") + line_offset, len(text) - last)
        if starts is not None:
            line = bisect.bisect_right(starts, m.index)
            return Mark(line + line_offset, m.index - starts[line - 1] + 1)
        return Mark(m.line + 1 + line_offset, m.column + 1)

    if (("&" in text or "*" in text or "!" in text) and _SCAN_TRIGGER.search(text)) or sum(
        map(text.count, _OPENERS)
    ) >= MAX_DEPTH:
        _scan_events(text, at)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the pure-Python reader checks characters right here
        node = loader.get_single_node()
        if node is not None:
            _check_structure(node, at)
        value = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or _("invalid YAML")
        if "maximum nesting depth" in problem:  # libyaml's own limit, above ours
            problem = _too_deep()
            exc.context = None
        opened = _unclosed(exc)
        if opened is not None:
            raise YamlSyntaxError(opened, at(exc.context_mark)) from None
        plain = _plain_words(problem)
        if plain is not None:
            problem, exc.context = plain, None
        context = f" ({exc.context})" if exc.context else ""
        mark = at(exc.problem_mark or exc.context_mark)
        raise YamlSyntaxError(f"{problem}{context}", mark) from None
    except yaml.reader.ReaderError as exc:
        # A character YAML refuses (a control character); libyaml gives its index.
        pos = max(0, min(exc.position, len(text)))
        line = text.count("\n", 0, pos) + 1 + line_offset
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        code = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "?"
        raise YamlSyntaxError(
            _("control character {code} is not allowed: remove it").format(code=code),
            Mark(line, column),
        ) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc).splitlines()[0], at(None)) from None
    finally:
        if loader is not None:
            loader.dispose()
    marks: dict[KeyPath, Mark] = {}
    if node is not None:
        _walk(node, marks, at)
    return value, marks, node


def _too_deep() -> str:
    return _("nested more than {levels} levels deep: flatten the structure").format(
        levels=MAX_DEPTH
    )


def _opened(context: str) -> str | None:
    if context == "while parsing a flow sequence":
        return _("this `[` is never closed: end the list with `]` on this line")
    if context == "while parsing a flow mapping":
        return _("this `{` is never closed: end the mapping with `}` on this line")
    if context == "while scanning a quoted scalar":
        return _("this quote is never closed: end the text with the same quote")
    return None


def _unclosed(exc: yaml.MarkedYAMLError) -> str | None:
    """What was left open, when the parser noticed it only on a later line: the problem is
    where it was opened (an unclosed `[` on line 9 is found at line 10), so point there."""
    start, found = exc.context_mark, exc.problem_mark
    message = _opened(exc.context or "")
    if message is None or start is None or found is None or found.line <= start.line:
        return None
    return message


def _plain_words(problem: str) -> str | None:
    """The YAML parser's most common complaints said in plain words, with what to do
    (None: a rarer one, shown as the parser says it)."""
    if problem.startswith("mapping values are not allowed"):
        return _(
            "YAML reads this `:` as the start of another key: put a text holding `: ` "
            'in quotes ("..."), and check the indentation'
        )
    if problem == "did not find expected key":
        return _("this line is not where YAML expects a key: line it up with the keys above it")
    if problem == "did not find expected '-' indicator":
        return _(
            "this line is not where YAML expects a list item: line it up with the "
            "`- ` items above it"
        )
    if problem.startswith("found a tab character"):
        return _("a tab in the indentation: indent with spaces")
    if problem == "found character that cannot start any token":
        return _(
            'a value cannot start with this character: put it in quotes ("..."), '
            "and indent with spaces, not tabs"
        )
    if problem == "could not find expected ':'":
        return _("a key without its `:`: write `key: value`")
    if problem == "found unknown escape character":
        return _(
            "a `\\` in double quotes starts an escape YAML does not know: write `\\\\`, "
            "or use single quotes"
        )
    if problem == "found unexpected end of stream":
        return _("the text ends in the middle of a value: close its quote or bracket")
    return None


def _scan_events(text: str, at: Any) -> None:
    """Refuse anchors, aliases, explicit tags and deep nesting, at their position.

    Runs on the event stream, before any tree is built: libyaml's parser keeps its own
    stack, so a hostile file cannot exhaust recursion or memory here."""
    try:
        loader = _BaseLoader(text)
    except yaml.YAMLError:
        return  # reported with its position by the real parse
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if event is None:
                break
            if isinstance(event, yaml.AliasEvent):
                raise YamlSyntaxError(
                    _(
                        "alias {alias} is not allowed: write the value out in full "
                        "(anchors and aliases are refused, nested ones can expand without "
                        "limit)"
                    ).format(alias=f"*{event.anchor}"),
                    at(event.start_mark),
                )
            if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
                raise YamlSyntaxError(
                    _(
                        "anchor {anchor} is not allowed: remove it and write the value out "
                        "wherever it is needed (anchors and aliases are refused)"
                    ).format(anchor=f"&{event.anchor}"),
                    at(event.start_mark),
                )
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in _ALLOWED_TAGS:
                shown = "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag
                raise YamlSyntaxError(
                    _(
                        "the tag {tag} is not supported: remove it and write the value plainly "
                        '(in quotes, "...", to keep it as text)'
                    ).format(tag=shown),
                    at(event.start_mark),
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlSyntaxError(_too_deep(), at(event.start_mark))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # a plain syntax error: reported with its position by the real parse
    finally:
        loader.dispose()


def _walk(root: yaml.Node, marks: dict[KeyPath, Mark], at: Any) -> None:
    stack: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                sub = (*path, str(key_node.value))
                marks[sub] = at(key_node.start_mark)
                if not isinstance(value_node, yaml.ScalarNode):
                    stack.append((value_node, sub))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                sub = (*path, i)
                marks[sub] = at(item.start_mark)
                if not isinstance(item, yaml.ScalarNode):
                    stack.append((item, sub))


def _check_structure(root: yaml.Node, at: Any) -> None:
    """Keys written twice, and (should the event scan have been skipped) no shared nodes
    and no deep nesting: a node reached twice is an alias."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            continue
        if id(node) in seen:
            raise YamlSyntaxError(
                _("anchors and aliases (&name / *name) are not allowed: write the values out"),
                at(node.start_mark),
            )
        if depth > MAX_DEPTH:
            raise YamlSyntaxError(_too_deep(), at(node.start_mark))
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[str, yaml.Node] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in keys and key_node.tag != f"{_YAML_TAG}merge":
                        first = at(keys[key_node.value].start_mark).line
                        raise YamlSyntaxError(
                            _("key {key} is written twice (first on line {line}): keep one").format(
                                key=repr(key_node.value), line=first
                            ),
                            at(key_node.start_mark),
                        )
                    keys[key_node.value] = key_node
                else:
                    stack.append((key_node, depth + 1))
                stack.append((value_node, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)


def byte_mark(raw: bytes, index: int) -> Mark:
    """The line and column (in characters) of byte `index` of `raw`, which is valid UTF-8
    before it, counting lines the way cmflow reads files (\\n, \\r\\n or a lone \\r)."""
    before = raw[:index].removeprefix(b"\xef\xbb\xbf")
    before = before.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    start = before.rfind(b"\n") + 1
    column = len(before[start:].decode("utf-8", "replace")) + 1
    return Mark(before.count(b"\n") + 1, column)


# --- A fast path for the front-matter most posts have -----------------------------------------
# `key: plain value`, `key: [a, b]`, `key: "text"` lines, and below a `key:` a block list
# (`  - item`, `  - path: x` with its `    alt: y` lines) or a block mapping of the same:
# nothing else. Building libyaml's node tree and walking it three times costs several times
# reading the file; these lines need none of it. Values are typed by PyYAML's own resolver
# and constructors (so `yes`, `2026-11-24`, `0x1F` mean what they mean to the full parser);
# anything else (a line indented otherwise, comments, blank lines, anchors, tags, multi-line
# or block scalars, flow mappings, escapes, a key written twice...) goes to the full parser,
# so results and error messages are the same either way.

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?:$| +(?=[^ \t]))")
# A plain scalar with nothing YAML could read otherwise: no indicator first, no ": " or
# " #" inside, no tab, no trailing space; the flow form also excludes `,[]{}`.
_PLAIN = re.compile(r"[^-?:,\[\]{}#&*!|>'\"%@`\s](?:[^:#\t\n]|:(?=\S)|(?<=\S)#)*(?<![\s:])\Z")
_FLOW_ITEM = re.compile(
    r"[^-?:,\[\]{}#&*!|>'\"%@`\s](?:[^:#\t\n,\[\]{}]|:(?=[^\s,\[\]{}])|(?<=\S)#)*(?<![\s:])\Z"
)
_QUOTED = re.compile(r"\"[^\"\\\n]*\"\Z|'[^'\n]*'\Z")
_STR = "tag:yaml.org,2002:str"
_SIMPLE_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")
)
_CONSTRUCTOR = _Loader("")  # a resolver and constructor only: its parser never runs
# The first characters of the plain scalars PyYAML's resolver may read as other than text
# (`yes`, `~`, `1`, `.5`, `2026-11-24`...): any other text is text, without asking it. All
# (None: some pattern applies to any first character; none does in PyYAML's loaders.)
_RESOLVERS: dict[str | None, Any] = _CONSTRUCTOR.yaml_implicit_resolvers
_RESOLVED_FIRST = (
    frozenset(_RESOLVERS)
    if None not in _RESOLVERS and not _CONSTRUCTOR.yaml_path_resolvers
    else None
)
# A time to the minute (`2026-11-24 09:30`, the `date` of most posts) is text to PyYAML's
# resolver: a timestamp needs its seconds, a number no `-` or space (tests check).
_MINUTE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}\Z")
# The fast path nests no deeper than this (real front-matter: 3 levels); deeper goes to the
# full parser, which refuses what is deeper than MAX_DEPTH without recursing.
_SIMPLE_DEPTH = 8
# Mark(line, column) without the Python-level __new__ of a named tuple: one per key.
_mark = partial(tuple.__new__, Mark)
_EMPTY, _SCALAR, _LIST = 0, 1, 2


# A line that is blank or only a comment (`# ...`, after spaces); in a whole text, any one.
_IGNORED_LINE = re.compile(r" *(?:#.*)?\Z")
_IGNORABLE = re.compile(r"^ *(?:#.*)?$", re.MULTILINE)


def _may_have_ignored(text: str) -> bool:
    """False when no line of `text` (its last \n aside) can be blank or a comment: no `#`,
    no empty line, no line of spaces (which ends in " \n", or ends the text). Most
    front-matter, told without the regex scanning every line."""
    return (
        "#" in text
        or "\n\n" in text
        or " \n" in text
        or text.endswith(" ")
        or text[:1] in ("", "\n")
    )


def _ignored(line: str) -> bool:
    return _IGNORED_LINE.match(line) is not None and line.isprintable()


class _NotSimple(Exception):
    """The front-matter leaves the fast path's shapes: the full parser reads it."""


def _typed(text: str, flow: bool) -> tuple[Any] | None:
    """(value,) of one scalar as the full parser would build it, or None: not simple."""
    if _MINUTE.match(text) is not None:
        return (text,)  # a post's `date`, without its seconds: text to every pattern
    if not text.isprintable():  # control characters, NUL, other line breaks: full parser
        return None
    if text[:1] in "\"'" and _QUOTED.match(text):
        return (text[1:-1],)
    if not _is_plain(text, flow):
        return None
    if _RESOLVED_FIRST is not None and text[0] not in _RESOLVED_FIRST:
        return (text,)  # what `resolve` returns, without trying a pattern
    tag = _CONSTRUCTOR.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if tag == _STR:
        return (text,)
    if tag not in _SIMPLE_TAGS:
        return None
    try:
        return (_CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, yaml.ScalarNode(tag, text)),)
    except (yaml.YAMLError, ValueError, OverflowError):
        return None


# `_typed`, cached: channel names, pillars and tags repeat from post to post (in block
# lists; a `key: value` line is cached whole by `_entry`), and the values are immutable
# (text, numbers, booleans, dates).
_scalar = lru_cache(maxsize=4096)(_typed)

# What `_PLAIN` and `_FLOW_ITEM` look at past the first character (flow: also `,[]{}`).
_PLAIN_MIDDLE = (":", "#", "\t", "\n")
_FLOW_MIDDLE = (*_PLAIN_MIDDLE, ",", "[", "]", "{", "}")
_NOT_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`")


def _is_plain(text: str, flow: bool) -> bool:
    """Whether `text` matches `_FLOW_ITEM` (flow) or `_PLAIN`: without the regex when the
    text holds none of the characters its middle tests (most titles), as the pattern then
    asks only the first character (no indicator, no space) and the last (no space)."""
    for c in _FLOW_MIDDLE if flow else _PLAIN_MIDDLE:
        if c in text:
            return (_FLOW_ITEM if flow else _PLAIN).match(text) is not None
    return (
        text != ""
        and text[0] not in _NOT_FIRST
        and not text[0].isspace()
        and not text[-1].isspace()
    )


@lru_cache(maxsize=1024)
def _text_key(key: str) -> bool:
    return bool(_CONSTRUCTOR.resolve(yaml.ScalarNode, key, (True, False)) == _STR)  # type: ignore[no-untyped-call]


def _entry_of(text: str) -> tuple[str, int, Any, tuple[int, ...]] | None:
    """One `key: value` written from the start of `text`: (key, what follows it: _EMPTY,
    _SCALAR or _LIST, the value (a list as a tuple), the columns of a list's items counted
    from the start of `text`), or None: not simple. Worth caching (`_entry`, `_top_entry`):
    most lines repeat from post to post (`pillar: product`, `channels: [linkedin, site]`),
    and the values are immutable."""
    m = _KEY.match(text)
    if m is None:
        return None
    key = m.group(1)
    if not _text_key(key):
        return None
    start = m.end()
    raw = text[start:]
    if not raw:
        return key, _EMPTY, None, ()
    if raw[0] != "[":
        got = _typed(raw, False)  # this line is cached whole
        return None if got is None else (key, _SCALAR, got[0], ())
    if raw[-1] != "]":
        return None
    items: list[Any] = []
    columns: list[int] = []
    inner = raw[1:-1]
    if inner.strip():
        pos = start + 1
        for piece in inner.split(","):
            item = piece.strip(" ")
            got = _scalar(item, True) if item else None
            if got is None:
                return None
            items.append(got[0])
            columns.append(pos + len(piece) - len(piece.lstrip(" ")))
            pos += len(piece) + 1
    elif inner:
        return None
    return key, _LIST, tuple(items), tuple(columns)


# `_entry_of`, cached, for lines in a block mapping (`  alt: Une photo`); a top-level line
# is cached whole by `_top_entry`, which asks `_entry_of` itself (a line it has not seen is
# most often one no post repeats: a title, a date).
_entry = lru_cache(maxsize=8192)(_entry_of)


@lru_cache(maxsize=8192)
def _top_entry(
    text: str, line_no: int
) -> tuple[str, int, Any, tuple[tuple[KeyPath, Mark], ...]] | None:
    """`_entry_of(text)` written at column 1 of line `line_no`, with the marks it places (the
    key's, then its list items'), or None: not simple. Cached: most posts write the same
    lines on the same lines (`channels: [linkedin, site]` third), and marks are immutable."""
    entry = _entry_of(text)
    if entry is None:
        return None
    key, kind, v, columns = entry
    placed: list[tuple[KeyPath, Mark]] = [((key,), _mark((line_no, 1)))]
    if kind == _LIST:
        placed += [((key, j), _mark((line_no, column + 1))) for j, column in enumerate(columns)]
    return key, kind, v, tuple(placed)


def _parse_simple(text: str, off: int) -> tuple[dict[str, Any], dict[KeyPath, Mark]] | None:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # Each line's number in the file: `nums[i]` for lines[i]. Blank lines and comment lines
    # carry nothing in block context (and the fast path reads no block or multi-line scalar,
    # where they would): they are left out. One with a character YAML refuses (a tab, a
    # control character, another line break) is the full parser's to report.
    nums: Sequence[int] = range(off + 1, off + 1 + len(lines))
    if _may_have_ignored(text) and _IGNORABLE.search(text[:-1] if text.endswith("\n") else text):
        kept = [(n, line) for n, line in zip(nums, lines, strict=True) if not _ignored(line)]
        nums, lines = [n for n, _ in kept], [line for _, line in kept]
    if not lines:
        return None
    value: dict[str, Any] = {}
    marks: dict[KeyPath, Mark] = {}
    n = len(lines)
    i = 0
    try:
        while i < n:  # the top-level keys: `_block_mapping` at column 0, unrolled
            top = _top_entry(lines[i], nums[i])  # None for an indented line too
            if top is None:
                return None
            key, kind, v, placed = top
            if key in value:
                return None  # the full parser says where it was first written
            marks.update(placed)
            i += 1
            if kind == _LIST:
                v = list(v)
            elif kind == _EMPTY and i < n and lines[i][:1] == " ":
                v, i = _block_below(lines, i, (key,), marks, nums)
            value[key] = v
    except _NotSimple:
        return None
    return value, marks


def _block_below(
    lines: list[str], i: int, path: KeyPath, marks: dict[KeyPath, Mark], nums: Sequence[int]
) -> tuple[Any, int]:
    """The block list or mapping below a `key:` written alone, from line i (indented more
    than the key), and the line after it."""
    below = lines[i]
    text = below.lstrip(" ")
    lead = len(below) - len(text)
    if text[:1] == "-":
        return _block_sequence(lines, i, lead, path, marks, nums)
    return _block_mapping(lines, i, lead, path, marks, nums, None)


def _block_mapping(
    lines: list[str],
    i: int,
    indent: int,
    path: KeyPath,
    marks: dict[KeyPath, Mark],
    nums: Sequence[int],
    first: str | None,
) -> tuple[dict[str, Any], int]:
    """The block mapping whose keys sit at column `indent` (0-based, above 0) from line i,
    and the line after it. `first`: its first entry, when it follows a list item's `- `."""
    if len(path) > _SIMPLE_DEPTH:
        raise _NotSimple
    value: dict[str, Any] = {}
    n = len(lines)
    while i < n:
        if first is not None:
            text, first = first, None
        else:
            line = lines[i]
            text = line.lstrip(" ")
            lead = len(line) - len(text)
            if lead != indent:
                if lead < indent:
                    break  # the mapping ends; the caller checks the line
                raise _NotSimple  # a continuation line, or a stray indent
        entry = _entry(text)
        if entry is None:
            raise _NotSimple
        key, kind, v, columns = entry
        if key in value:
            raise _NotSimple
        sub = (*path, key)
        line_no = nums[i]
        marks[sub] = _mark((line_no, indent + 1))
        i += 1
        if kind == _LIST:
            v = list(v)
            for j, column in enumerate(columns):
                marks[(*sub, j)] = _mark((line_no, indent + column + 1))
        elif kind == _EMPTY and i < n:
            below = lines[i]
            if len(below) - len(below.lstrip(" ")) > indent:
                v, i = _block_below(lines, i, sub, marks, nums)
        value[key] = v
    return value, i


def _keyed(text: str) -> bool:
    """True when `text` is no scalar `_scalar` would take, told without asking it: not
    quoted, and a `: ` inside or a `:` at the end, which no plain scalar holds. Most list
    items written `- path: media/a.jpg` (whose paths no other post repeats)."""
    return text[0] not in "\"'" and (": " in text or text[-1] == ":")


def _block_sequence(
    lines: list[str],
    i: int,
    indent: int,
    path: KeyPath,
    marks: dict[KeyPath, Mark],
    nums: Sequence[int],
) -> tuple[list[Any], int]:
    """The block list whose `- ` sit at column `indent` from line `i`, and the line after."""
    if len(path) > _SIMPLE_DEPTH:
        raise _NotSimple
    items: list[Any] = []
    n = len(lines)
    while i < n:
        line = lines[i]
        text = line.lstrip(" ")
        lead = len(line) - len(text)
        if lead != indent:
            if lead < indent:
                break
            raise _NotSimple
        if text[:2] != "- ":
            raise _NotSimple  # `-` alone (an empty item, or one below), `-x`, a key...
        rest = text[2:]
        text = rest.lstrip(" ")
        column = indent + 2 + len(rest) - len(text)  # where the item starts (0-based)
        sub = (*path, len(items))
        marks[sub] = _mark((nums[i], column + 1))
        got = _scalar(text, False) if text and not _keyed(text) else None
        if got is not None:
            items.append(got[0])
            i += 1
        elif text:  # `- key: value`: a mapping whose keys line up with this first one
            item, i = _block_mapping(lines, i, column, sub, marks, nums, text)
            items.append(item)
        else:
            raise _NotSimple
    return items, i
