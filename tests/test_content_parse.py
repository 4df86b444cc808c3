"""`content.parse_post` gives what it gave before it was made faster: every field of the
post (meta with its types, marks, date, slot, channels, status, id, body, hash) and every
finding (rule, position, message), on odd YAML and on thousands of generated posts.

The expected results are digests recorded from the code before the fast paths
(tests/golden/parse_post.txt, one per input): a faster parser must change none of them.
`UPDATE_GOLDEN=1` records them again, for a change meant to alter what a post parses to.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from cmflow import config as config_mod
from cmflow import content, i18n, schema
from cmflow.config import Config
from cmflow.model import Mark, Post
from cmflow.rules import BY_ID
from tests.conftest import write_repo
from tests.test_fuzz_validate import hostile_post
from tests.test_yaml_fast_path import VALUES

GOLDEN = Path(__file__).parent / "golden" / "parse_post.txt"
SEED = 20261202
COMMON = 3000  # generated posts near the shapes real front-matter has
HOSTILE = 1200  # generated posts from the hostile-input generator

FRONT = "date: 2026-11-24 09:30\nchannels: [mastodon, site]\npillar: education\n"

# Odd inputs, each named. Bytes, as read from disk.
ODD: dict[str, bytes] = {
    "plain": f"---\n{FRONT}---\nCorps.\n".encode(),
    "bom": f"\ufeff---\n{FRONT}---\nCorps.\n".encode(),
    "crlf": f"---\n{FRONT}---\nCorps.\n".replace("\n", "\r\n").encode(),
    "cr-only": f"---\n{FRONT}---\nCorps.\n".replace("\n", "\r").encode(),
    "mixed-newlines": b"---\r\ndate: 2026-11-24 09:30\rchannels: [x]\n---\r\nB\n",
    "not-utf8": f"---\n{FRONT}title: Café\n---\nx\n".encode("latin-1"),
    "not-utf8-crlf": f"---\r\n{FRONT}title: Café\r\n---\r\nx\r\n".encode("latin-1"),
    "not-utf8-after-bom": b"\xef\xbb\xbf---\ndate: 2026-11-24\ntitle: \xe9\n---\n",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "nul-late": f"---\n{FRONT}---\n".encode() + b"x" * 9000 + b"\x00",
    "empty-file": b"",
    "only-opening": b"---",
    "only-opening-nl": b"---\n",
    "no-front-matter": b"Juste un texte.\n",
    "unclosed": f"---\n{FRONT}Corps.\n".encode(),
    "empty-front-matter": b"---\n---\nCorps.\n",
    "blank-front-matter": b"---\n\n---\nCorps.\n",
    "comment-only-front-matter": b"---\n# rien\n---\nCorps.\n",
    "closing-dots": f"---\n{FRONT}...\nCorps.\n".encode(),
    "closing-spaces": f"---  \n{FRONT}---\t \nCorps.\n".encode(),
    "closing-nbsp": f"---\n{FRONT}---\u00a0\nCorps.\n".encode(),
    "closing-no-newline": f"---\n{FRONT}---".encode(),
    "four-dashes": f"----\n{FRONT}---\nCorps.\n".encode(),
    "dashes-then-text": f"--- x\n{FRONT}---\nCorps.\n".encode(),
    "closing-four-dashes": f"---\n{FRONT}----\nx: 1\n---\nCorps.\n".encode(),
    "dashes-in-body": f"---\n{FRONT}---\nUn\n---\nDeux\n...\n".encode(),
    "dashes-in-value": f"---\n{FRONT}title: a --- b\n---\nx\n".encode(),
    "indented-dashes": f"---\n{FRONT}  ---\n---\nx\n".encode(),
    "list": b"---\n- date\n- channels\n---\nx\n",
    "scalar": b"---\njuste du texte\n---\nx\n",
    "number": b"---\n42\n---\nx\n",
    "long-scalar": b"---\n" + b"y" * 80 + b"\n---\nx\n",
    "duplicate-key": f"---\n{FRONT}pillar: product\n---\nx\n".encode(),
    "duplicate-nested": (
        f"---\n{FRONT}media:\n  - path: a.jpg\n    path: b.jpg\n---\nx\n".encode()
    ),
    "duplicate-variant": (
        f"---\n{FRONT}variants:\n  x:\n    title: a\n  x:\n    title: b\n---\nx\n".encode()
    ),
    "merge-key": f"---\n{FRONT}<<: {{a: 1}}\n---\nx\n".encode(),
    "anchor-alias": f"---\n{FRONT}title: &t Bonjour\nsummary: *t\n---\nx\n".encode(),
    "alias-bomb": (
        "---\ndate: 2026-11-24 09:30\na: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"a{i}: &a{i} [{', '.join([f'*a{i - 1}' if i > 1 else '*a'] * 9)}]\n"
            for i in range(1, 9)
        )
        + "---\nx\n"
    ).encode(),
    "tag-python": f"---\n{FRONT}title: !!python/object:os.system ls\n---\nx\n".encode(),
    "tag-python-apply": (
        f"---\n{FRONT}title: !!python/object/apply:os.system [ls]\n---\nx\n".encode()
    ),
    "tag-python-name": f"---\n{FRONT}title: !!python/name:os.system\n---\nx\n".encode(),
    "tag-str": f"---\n{FRONT}title: !!str 0123\n---\nx\n".encode(),
    "tag-bang": f"---\n{FRONT}title: ! 0123\n---\nx\n".encode(),
    "tag-int-bad": f"---\n{FRONT}title: !!int abc\n---\nx\n".encode(),
    "tag-binary": f"---\n{FRONT}title: !!binary aGk=\n---\nx\n".encode(),
    "tag-local": f"---\n{FRONT}title: !foo x\n---\nx\n".encode(),
    "tag-on-key": f"---\n{FRONT}!!str title: x\n---\nx\n".encode(),
    "tab-indent": b"---\ndate: 2026-11-24 09:30\n\tchannels: [mastodon]\n---\nx\n",
    "tab-after-colon": b"---\ndate:\t2026-11-24 09:30\nchannels: [mastodon]\n---\nx\n",
    "tab-in-value": b"---\ndate: 2026-11-24 09:30\nchannels: [mastodon]\ntitle: a\tb\n---\nx\n",
    "tab-in-media": f"---\n{FRONT}media:\n\t- path: a.jpg\n---\nx\n".encode(),
    "trailing-space": b"---\ndate: 2026-11-24 09:30 \nchannels: [mastodon] \n---\nx\n",
    "trailing-space-key": f"---\n{FRONT}media: \n  - a.jpg\n---\nx\n".encode(),
    "yaml-syntax": b"---\ndate: 2026-11-24 09:30\ntitle: Bonjour: le monde\n---\nx\n",
    "unclosed-list": b"---\ndate: 2026-11-24 09:30\nchannels: [mastodon\npillar: x\n---\nx\n",
    "unclosed-quote": b'---\ndate: 2026-11-24 09:30\ntitle: "abc\npillar: x\n---\nx\n',
    "control-char": b"---\ndate: 2026-11-24 09:30\ntitle: a\x07b\n---\nx\n",
    "nul-escape": b'---\ndate: 2026-11-24 09:30\ntitle: "a\\0b"\n---\nx\n',
    "surrogate-escape": b'---\ndate: 2026-11-24 09:30\ntitle: "\\ud800"\n---\nx\n',
    "line-separator": "---\ndate: 2026-11-24 09:30\ntitle: a\u2028b\nchannels: [x\n---\nx\n".encode(),
    "nel": "---\ndate: 2026-11-24 09:30\ntitle: a\x85b\npillar: [\n---\nx\n".encode(),
    "deep-flow": (b"---\ntags: " + b"[" * 150 + b"]" * 150 + b"\n---\nx\n"),
    "deep-block": (
        "---\nvariants:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 120)) + "---\nx\n"
    ).encode(),
    "non-text-key": f"---\n{FRONT}media:\n  - [a]: b\n---\nx\n".encode(),
    "complex-key": f"---\n{FRONT}? [a, b]\n: c\n---\nx\n".encode(),
    "number-keys": f"---\n{FRONT}1: a\ntrue: b\n2026-01-01: c\nnull: d\n---\nx\n".encode(),
    "quoted-keys": b"---\n\"date\": 2026-11-24 09:30\n'channels': [x]\n---\nx\n",
    "unknown-field": f"---\n{FRONT}pilar: x\n---\nx\n".encode(),
    "missing-both": b"---\ntitle: x\n---\nx\n",
    "missing-near": b"---\ndate: 2026-11-24 09:30\nchanels: [x]\n---\nx\n",
    "empty-channels": b"---\ndate: 2026-11-24 09:30\nchannels: []\n---\nx\n",
    "channel-singular": b"---\ndate: 2026-11-24 09:30\nchannel: sitee\n---\nx\n",
    "channels-comma": b"---\ndate: 2026-11-24 09:30\nchannels: mastodon, site\n---\nx\n",
    "channels-repeat": b"---\ndate: 2026-11-24 09:30\nchannels: [x, x, twitter, 1]\n---\nx\n",
    "channels-block": b"---\ndate: 2026-11-24 09:30\nchannels:\n  - x\n  - site\n---\nx\n",
    "channels-block-indentless": b"---\ndate: 2026-11-24 09:30\nchannels:\n- x\n- site\n---\nx\n",
    "date-empty": b"---\ndate:\nchannels: [x]\n---\nx\n",
    "date-day": b"---\ndate: 2026-12-08\nchannels: [x]\n---\nx\n",
    "date-next": b"---\ndate: Next\nchannels: [x]\n---\nx\n",
    "date-quoted-day": b"---\ndate: '2026-12-08'\nchannels: [x]\n---\nx\n",
    "date-bad-day": b"---\ndate: 2026-02-30\nchannels: [x]\n---\nx\n",
    "date-bad-time": b"---\ndate: 2026-01-01 25:61\nchannels: [x]\n---\nx\n",
    "date-dst-gap": b"---\ndate: 2026-03-29 02:30\nchannels: [x]\n---\nx\n",
    "date-dst-fold": b"---\ndate: 2026-10-25 02:30\nchannels: [x]\n---\nx\n",
    "date-offset": b"---\ndate: 2026-11-24T09:30:00+14:00\nchannels: [x]\n---\nx\n",
    "date-z": b"---\ndate: 2026-11-24T09:30:00Z\nchannels: [x]\n---\nx\n",
    "date-seconds": b"---\ndate: 2026-11-24 09:30:15\nchannels: [x]\n---\nx\n",
    "date-space-offset": b"---\ndate: 2026-11-24 09:30:00 +02:00\nchannels: [x]\n---\nx\n",
    "date-short-hour": b"---\ndate: 2026-11-24 9:30\nchannels: [x]\n---\nx\n",
    "date-int": b"---\ndate: 20261124\nchannels: [x]\n---\nx\n",
    "date-list": b"---\ndate: [2026-11-24]\nchannels: [x]\n---\nx\n",
    "date-words": b"---\ndate: demain matin\nchannels: [x]\n---\nx\n",
    "date-far": b"---\ndate: 9999-12-31 23:59\nchannels: [x]\n---\nx\n",
    "status": b"---\ndate: 2026-11-24 09:30\nchannels: [x]\nstatus: drafts\n---\nx\n",
    "status-draft": b"---\ndate: 2026-11-24 09:30\nchannels: [x]\nstatus: draft\n---\nx\n",
    "id-ok": b"---\ndate: 2026-11-24 09:30\nchannels: [x]\nid: mon-post.1\n---\nx\n",
    "id-int": b"---\ndate: 2026-11-24 09:30\nchannels: [x]\nid: 42\n---\nx\n",
    "id-bad": b"---\ndate: 2026-11-24 09:30\nchannels: [x]\nid: ../etc\n---\nx\n",
    "id-long": b"---\ndate: 2026-11-24 09:30\nchannels: [x]\nid: " + b"a" * 101 + b"\n---\nx\n",
    "id-bool": b"---\ndate: 2026-11-24 09:30\nchannels: [x]\nid: yes\n---\nx\n",
    "media-block": (
        f"---\n{FRONT}media:\n  - path: media/a.jpg\n    alt: Une photo\n"
        "  - path: media/b.jpg\n---\nx\n"
    ).encode(),
    "media-wide-indent": f"---\n{FRONT}media:\n    -   path: a.jpg\n        alt: x\n---\nx\n".encode(),
    "media-misaligned": f"---\n{FRONT}media:\n  - path: a.jpg\n     alt: x\n---\nx\n".encode(),
    "media-unknown-key": f"---\n{FRONT}media:\n  - path: a.jpg\n    alte: x\n---\nx\n".encode(),
    "media-no-path": f"---\n{FRONT}media:\n  - alt: x\n---\nx\n".encode(),
    "media-scalars": f"---\n{FRONT}media:\n  - a.jpg\n  - b.jpg\n---\nx\n".encode(),
    "media-flow": f"---\n{FRONT}media: [{{path: a.jpg, alt: x}}]\n---\nx\n".encode(),
    "media-empty-item": f"---\n{FRONT}media:\n  -\n  - path: a.jpg\n---\nx\n".encode(),
    "variants": (
        f"---\n{FRONT}variants:\n  mastodon:\n    body: Court.\n  x:\n    thread: auto\n"
        "  nowhere:\n    title: t\n---\nx\n"
    ).encode(),
    "variants-bad": f"---\n{FRONT}variants:\n  site:\n    thread: sometimes\n---\nx\n".encode(),
    "evergreen": f"---\n{FRONT}evergreen: {{every: 90d, times: 3}}\n---\nx\n".encode(),
    "evergreen-true": f"---\n{FRONT}evergreen: true\n---\nx\n".encode(),
    "evergreen-block": f"---\n{FRONT}evergreen:\n  every: 2d\n  times: x\n---\nx\n".encode(),
    "block-scalar": f"---\n{FRONT}summary: |\n  ligne 1\n  ligne 2\n---\nx\n".encode(),
    "folded-scalar": f"---\n{FRONT}summary: >-\n  plié\n  ici\n---\nx\n".encode(),
    "multiline-plain": f"---\n{FRONT}title: un\n  deux\n---\nx\n".encode(),
    "comments": f"---\n# avant\n{FRONT}title: x # après\n---\nx\n".encode(),
    "blank-lines": f"---\n\n{FRONT}\ntitle: x\n\n---\nx\n".encode(),
    "document-marker": f"---\n%YAML 1.1\n{FRONT}---\nx\n".encode(),
    "two-documents": b"---\ndate: 2026-11-24 09:30\n--- \n---\nx\n",
    "types": (
        f"---\n{FRONT}tags: [yes, ~, 0x1F, 1_000, 1e3, .inf, 2026-11-24, '', \"q\"]\n"
        "title: 12:30:00\nsummary: 0o17\nseries: 2026-11-24 09:30:00\n---\nx\n"
    ).encode(),
    "huge-number": f"---\n{FRONT}title: {'9' * 5000}\n---\nx\n".encode(),
    "unicode-values": f"---\n{FRONT}title: C'est l'été ! 🎉\u200b\u202e\n---\nx\n".encode(),
    "body-line": f"---\n{FRONT}---\n\n\nCorps\n\n".encode(),
    "body-whitespace": f"---\n{FRONT}---\n   \n".encode(),
}


def _config(tmp_path: Path) -> Config:
    return config_mod.load(write_repo(tmp_path / "repo", {}), set(BY_ID))


def summary(post: Post) -> str:
    """Every field of a parsed post, types included (repr), marks in a fixed order."""
    marks = sorted(post.marks.items(), key=lambda kv: repr(kv[0]))
    return repr(
        (
            post.path,
            post.id,
            post.meta,
            post.body,
            post.body_line,
            marks,
            post.date,
            post.slot,
            post.slot_note,
            post.channels,
            post.status,
            post.content_hash,
            post.problems,
        )
    )


def _common_value(rng: random.Random) -> str:
    return rng.choice(VALUES) if rng.random() < 0.35 else rng.choice(["x", "site", "Bonjour"])


def _common(rng: random.Random) -> str:
    """A post near the shapes real ones have: flat keys, block lists, media, variants,
    each sometimes bent (indentation, a key written twice, odd values)."""
    ind = rng.choice(["  ", "  ", "  ", " ", "    ", ""])
    lines = [
        rng.choice(
            [
                "date: 2026-11-24 09:30",
                "date: 2026-12-08",
                "date: next",
                "date: 2026-03-29 02:30",
                f"date: {_common_value(rng)}",
            ]
        ),
        rng.choice(
            [
                "channels: [mastodon, site]",
                "channels: [x, linkedin, bluesky, mastodon]",
                f"channels:\n{ind}- mastodon\n{ind}- x",
                "channel: site",
                f"channels: [{_common_value(rng)}]",
            ]
        ),
    ]
    for _ in range(rng.randint(0, 6)):
        roll = rng.random()
        if roll < 0.2:
            key = rng.choice(["title", "pillar", "campaign", "summary", "id", "status", "thread"])
            lines.append(f"{key}: {_common_value(rng)}")
        elif roll < 0.4:
            items = [
                f"{ind}- path: media/{rng.choice(['a.jpg', 'b.png', _common_value(rng)])}"
                + (f"\n{ind}  alt: {_common_value(rng)}" if rng.random() < 0.7 else "")
                + (f"\n{ind}  {rng.choice(['alt', 'path', 'x'])}: y" if rng.random() < 0.1 else "")
                for _ in range(rng.randint(1, 3))
            ]
            lines.append("media:\n" + "\n".join(items))
        elif roll < 0.5:
            items = [f"{ind}- {_common_value(rng)}" for _ in range(rng.randint(1, 3))]
            lines.append(f"{rng.choice(['tags', 'media', 'channels'])}:\n" + "\n".join(items))
        elif roll < 0.6:
            lines.append(
                f"tags: [{', '.join(_common_value(rng) for _ in range(rng.randint(0, 3)))}]"
            )
        elif roll < 0.7:
            inner = ind * 2 if ind else "  "
            body = [
                f"{ind}{rng.choice(['mastodon', 'x', 'site', 'nowhere', '1', 'yes'])}:"
                + f"\n{inner}{rng.choice(['body', 'title', 'thread', 'media', 'x'])}: "
                + _common_value(rng)
                for _ in range(rng.randint(1, 2))
            ]
            lines.append("variants:\n" + "\n".join(body))
        elif roll < 0.75:
            lines.append(f"evergreen:\n{ind}every: {_common_value(rng)}\n{ind}times: 2")
        elif roll < 0.77:
            lines.append(rng.choice(["", "# c", "  x: 1", "- x", f"{ind}- y", "title:", "media:"]))
        elif roll < 0.9:
            key = rng.choice(["title", "pillar", "tags", "media", "x-y", "true", "_k"])
            lines.append(f"{key}:{rng.choice([' ', '  ', ''])}{_common_value(rng)}")
        elif roll < 0.95:
            twice = rng.choice(lines)  # a key written twice
            lines.append(twice)
            continue
        keys = [line.split(":", 1)[0] for line in lines]
        if keys[-1] in keys[:-1]:
            lines.pop()  # not meant twice
    rng.shuffle(lines)
    text = "\n".join(lines)
    if rng.random() < 0.05:
        text = text.replace("  ", "\t", 1)
    body = rng.choice(["Corps.\n", "", "\n---\nsuite\n", "Texte #tag\n\n"])
    end = rng.choice(["---", "---", "...", "--- ", "----"])
    data = f"---\n{text}\n{end}\n{body}"
    if rng.random() < 0.05:
        data = data.replace("\n", "\r\n")
    return data.encode("utf-8", "surrogatepass")


def inputs() -> list[tuple[str, bytes]]:
    rng = random.Random(SEED)
    out = [(f"odd {name}", data) for name, data in ODD.items()]
    out += [(f"common #{n}", _common(rng)) for n in range(COMMON)]
    out += [(f"hostile #{n}", hostile_post(rng)) for n in range(HOSTILE)]
    return out


def _rel(label: str) -> str:
    return f"content/2026/{label.split()[-1].strip('#')}.md"


def test_every_post_parses_as_before(tmp_path: Path) -> None:
    config = _config(tmp_path)
    got: list[str] = []
    cases = inputs()
    for language in ("en", "fr"):
        i18n.activate(language)
        for label, data in cases:
            if language == "fr" and not label.startswith("odd"):
                continue
            post = content.parse_post(_rel(label), data, config.timezone, config.channels)
            got.append(
                f"{language} {label} {hashlib.sha256(summary(post).encode()).hexdigest()[:16]}"
            )
    i18n.activate("en")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text("\n".join(got) + "\n", "utf-8")
    want = GOLDEN.read_text("utf-8").splitlines()
    assert len(got) == len(want)
    differ = [(g, w) for g, w in zip(got, want, strict=True) if g != w]
    if differ:
        first = differ[0][0].split()
        label = " ".join(first[1:-1])
        data = dict(cases)[label]
        i18n.activate(first[0])
        post = content.parse_post(_rel(label), data, config.timezone, config.channels)
        i18n.activate("en")
        pytest.fail(
            f"{len(differ)} inputs parse differently; first {label}: {data!r}\n{summary(post)}"
        )


def test_the_generator_reaches_the_shapes_it_aims_at(tmp_path: Path) -> None:
    """The generated posts are mostly valid (else they test only the error paths)."""
    config = _config(tmp_path)
    rng = random.Random(SEED)
    posts = [
        content.parse_post(f"content/{n}.md", _common(rng), config.timezone, config.channels)
        for n in range(COMMON)
    ]
    clean = [p for p in posts if not p.problems]
    with_media = [p for p in clean if isinstance(p.meta.get("media"), list)]
    assert len(clean) > COMMON // 10
    assert len(with_media) > COMMON // 50


def _every_key(keys: Mapping[str, schema.Key]) -> Iterator[schema.Key]:
    for key in keys.values():
        yield key
        yield from _every_key(key.keys)
        if key.item is not None:
            yield key.item
            yield from _every_key(key.item.keys)


def test_the_quick_field_check_never_hides_a_problem(tmp_path: Path) -> None:
    """`schema.passes` says yes only where `schema.check_value` finds nothing: tried with
    every value the generated posts hold, against every kind of field (most do not fit)."""
    config = _config(tmp_path)
    rng = random.Random(SEED)
    values: list[object] = [None, True, 1, 1.5, "x", [], {}, [None], {"path": None}]
    for n in range(COMMON):
        post = content.parse_post(f"content/{n}.md", _common(rng), config.timezone, config.channels)
        values.extend(post.meta.values())
        values.extend(v for m in post.meta.values() if isinstance(m, dict) for v in m.values())
    keys = [*_every_key(schema.FRONTMATTER_KEYS), *_every_key(schema.CONFIG_KEYS)]
    said_yes = 0
    for key in keys:
        for value in values:
            if schema.passes(value, key):
                said_yes += 1
                assert schema.check_value(value, key, {}, ("k",), Mark(1, 1)) == [], (key, value)
    assert said_yes > len(values)  # it does say yes
