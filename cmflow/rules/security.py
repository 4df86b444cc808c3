"""security.*: credentials must never be published."""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from collections.abc import Iterator
from typing import Any

from cmflow.i18n import _
from cmflow.model import Finding, KeyPath, Mark, Post
from cmflow.rules.base import QueueContext, Rule, body_mark

# Shapes of credentials that have no business in a post. Each names what it looks like.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    (
        "a GitHub token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b"),
    ),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    (
        "a Slack webhook URL",
        re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"),
    ),
    ("a Discord webhook URL", re.compile(r"discord(?:app)?\.com/api/webhooks/\d+/[\w-]{20,}")),
    ("a Telegram bot token", re.compile(r"\b\d{8,10}:[A-Za-z0-9_-]{35}\b")),
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    (
        "a JSON web token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    ),
    # Needs a digit: app passwords are random over a-z2-7; URL slugs of words are not.
    (
        "a Bluesky app password",
        re.compile(r"\b(?=[a-z-]{0,18}[2-7])[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}\b"),
    ),
    ("an OpenAI-style API key", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    (
        "a credential assignment",
        re.compile(
            r"\b(?i:api[_-]?key|access[_-]?token|secret|password|mot de passe)\s*[:=]\s*[\"']?"
            r"(?=[A-Za-z0-9_\-/+=]*\d)(?=[A-Za-z0-9_\-/+=]*[A-Za-z])[A-Za-z0-9_\-/+=]{12,}"
        ),
    ),
)


# Where a front-matter string is: the key path of its parent and its own key or index
# (joined into a key path only for a string that holds a secret).
Where = tuple[KeyPath, str | int]


def _texts(post: Post) -> tuple[list[str], list[Where | None]]:
    """The post's raw text pieces: the body (None), then each string in the front-matter,
    depth first, in order, with where it is."""
    texts: list[str] = [post.body]
    wheres: list[Where | None] = [None]
    _strings(post.meta, (), texts, wheres)
    return texts, wheres


def _pieces(post: Post) -> list[str]:
    """`_texts(post)[0]`, without where each piece is (wanted only for a secret found)."""
    texts: list[str] = [post.body]
    _values(post.meta, texts)
    return texts


def _values(value: dict[Any, Any] | list[Any], texts: list[str]) -> None:
    for v in value.values() if isinstance(value, dict) else value:
        if isinstance(v, str):
            texts.append(v)
        elif isinstance(v, dict | list):
            _values(v, texts)


def _strings(
    value: dict[Any, Any] | list[Any], path: KeyPath, texts: list[str], wheres: list[Where | None]
) -> None:
    # Strings are taken here, one level down, not in a call each: most values are strings
    # or lists of strings.
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for k, v in items:
        key = str(k) if isinstance(value, dict) else k
        if isinstance(v, str):
            texts.append(v)
            wheres.append((path, key))
        elif isinstance(v, dict | list):
            _strings(v, (*path, key), texts, wheres)


# A substring each pattern cannot match without (lower-cased text): most posts hold none
# of them, so most patterns never run. Checked by tests/test_rules.py.
_NEEDLES: dict[str, tuple[str, ...]] = {
    "a private key": ("-----begin",),
    "a GitHub token": ("gh", "github_pat_"),
    "a Slack token": ("xox",),
    "a Slack webhook URL": ("hooks.slack.com",),
    "a Discord webhook URL": ("/api/webhooks/",),
    "a Telegram bot token": (":",),
    "an AWS access key": ("akia", "asia"),
    "a JSON web token": ("eyj",),
    "a Bluesky app password": ("-",),  # and a digit 2-7 (checked by the pattern)
    "an OpenAI-style API key": ("sk-",),
    "a Google API key": ("aiza",),
    "a credential assignment": ("key", "token", "secret", "password", "mot de passe"),
}


_ALL_NEEDLES = tuple(sorted({n for ns in _NEEDLES.values() for n in ns}))
# For the two patterns whose needle is in most posts ("-", ":"), a piece each match holds,
# found with a fast literal-led search: without it, the pattern cannot match either.
_PREFILTERS: dict[str, re.Pattern[str]] = {
    "a Bluesky app password": re.compile(r"-[a-z2-7]{4}-"),
    # Led by the colon, not a digit: texts hold far fewer colons than digits (a time has one,
    # never followed by 35 of these).
    "a Telegram bot token": re.compile(r":[A-Za-z0-9_-]{35}"),
}


def _described(what: str) -> str:
    """A pattern's name (an identifier above) in the current language."""
    words = {
        "a private key": _("a private key"),
        "a GitHub token": _("a GitHub token"),
        "a Slack token": _("a Slack token"),
        "a Slack webhook URL": _("a Slack webhook URL"),
        "a Discord webhook URL": _("a Discord webhook URL"),
        "a Telegram bot token": _("a Telegram bot token"),
        "an AWS access key": _("an AWS access key"),
        "a JSON web token": _("a JSON web token"),
        "a Bluesky app password": _("a Bluesky app password"),
        "an OpenAI-style API key": _("an OpenAI-style API key"),
        "a Google API key": _("a Google API key"),
        "a credential assignment": _("a password or key written as `name: value`"),
        "live": _("the value of one of this repository's secrets"),
    }
    return words.get(what, what)


def _finding(post: Post, at: Mark, what: str) -> Finding:
    return Finding(
        post.path,
        at.line,
        at.column,
        "error",
        "security.secret",
        _(
            "this looks like {what}: remove it from the post and change it (revoke it and "
            "create a new one) if it was ever pushed"
        ).format(what=_described(what)),
    )


def secret(post: Post) -> list[Finding]:
    """Credential shapes anywhere in the post (cached with it: depends on nothing else).
    All its texts are scanned as one, each pattern only if its needle is there."""
    texts = _pieces(post)
    joined = "\n".join(texts)
    low = joined.lower()
    present = {n for n in _ALL_NEEDLES if n in low}  # each needle looked for once
    hits: list[tuple[int, str]] = []
    for what, pattern in PATTERNS:
        if present.isdisjoint(_NEEDLES[what]):
            continue
        prefilter = _PREFILTERS.get(what)
        if prefilter is None or prefilter.search(joined):
            hits.extend((m.start(), what) for m in pattern.finditer(joined))
    if not hits:
        return []
    texts, wheres = _texts(post)
    starts = []
    pos = 0
    for text in texts:
        starts.append(pos)
        pos += len(text) + 1
    seen: dict[int, int] = {}
    out: list[Finding] = []
    for index, what in sorted(hits):
        piece = bisect_right(starts, index) - 1
        if seen.get(piece, 0) >= 3:
            continue
        seen[piece] = seen.get(piece, 0) + 1
        where = wheres[piece]
        if where is None:
            mark = body_mark(post, None, index - starts[piece])
        else:
            mark = post.mark(*where[0], where[1])
        out.append(_finding(post, mark, what))
    return out


def live_secret(ctx: QueueContext) -> Iterator[Finding]:
    """The actual value of a secret this run can read (in CI) written in a post file."""
    live = [v for v in ctx.config.secret_values(os.environ) if len(v) >= 8]
    if not live:
        return
    # An ASCII value on one line is in the text only if its bytes are in the file (UTF-8
    # never uses ASCII bytes inside another character): files are decoded only then.
    raw = [
        v.encode("ascii") if v.isascii() and "\r" not in v and "\n" not in v else None for v in live
    ]
    from cmflow.content import read_bytes  # here: a run with no secret set never reads

    root = ctx.config.root
    for post in ctx.posts:
        # As the post was read: never through a link out of the repository, never a device
        # or a pipe, never more than a post's size (a link to /dev/zero in a pull request
        # once had this read until memory ran out). What cannot be read is reported so.
        data = read_bytes(root, post.path)
        if not isinstance(data, bytes):
            continue
        if all(b is not None and b not in data for b in raw):
            continue
        # As `read_text` gives it: universal newlines.
        text = data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
        for v in live:
            index = text.find(v)
            if index >= 0:
                line = text.count("\n", 0, index) + 1
                col = index - (text.rfind("\n", 0, index) + 1) + 1
                yield _finding(post, Mark(line, col), "live")


RULES = (
    Rule(
        "security.secret",
        "error",
        lambda: _("something that looks like a credential in a post"),
        file=secret,
        queue=live_secret,
    ),
)
