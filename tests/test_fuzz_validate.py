"""Hostile input never crashes validation: a seeded generator of broken posts and broken
channels.yaml files (odd YAML tags, anchors, deep nesting, odd keys and scalars, impossible
dates, BOMs, CRLF, NUL bytes, invalid UTF-8, Unicode tricks), run through the library's
validate path and, for a handful, through the real `python -m cmflow validate`.

Every input must end with findings (or, for channels.yaml, a configuration error), each
pointing inside the file it names; never an exception, never exit 3. Each input runs under
an alarm, so an input that stalls the parser (an alias bomb) fails the test instead of
hanging it. The seed is fixed: a failure names the input, and rerunning reproduces it.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from cmflow import config as config_mod
from cmflow import content, validation
from cmflow.errors import ConfigError
from cmflow.model import Finding
from cmflow.rules import BY_ID
from tests.conftest import BEFORE_ALL, CHANNELS_YAML, run_main, write_repo

SEED = 20261124
POSTS = 2000
CONFIGS = 300
PER_INPUT_SECONDS = 10  # a hang guard, not a speed check (speed lives in bench/)
NOW = datetime(2026, 1, 1, tzinfo=UTC)

TAGS = [
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!binary",
    "!!timestamp",
    "!!str",
    "!",
    "!!set",
    "!!omap",
    "!!pairs",
    "!!map",
    "!!seq",
    "!!merge",
    "!!python/object:os.system",
    "!!python/name:os.system",
    "!!python/object/apply:os.system",
    "!foo",
    "!<tag:example.com,2026:x>",
]
SCALARS = [
    "",
    "~",
    "null",
    "true",
    "off",
    "yes",
    ".nan",
    ".inf",
    "-.inf",
    "0x_",
    "0b_",
    "0o17",
    "0777",
    "1_000",
    "190:20:30",
    "1e999",
    "-1",
    "9" * 5000,
    "3.14",
    '"abc"',
    "'it''s'",
    '"\\x00\\u202e"',
    '"\\ud800"',
    "2026-02-30",
    "2026-13-01",
    "2026-01-01T10:00:00+99:00",
    "2026-01-01 25:61",
    "0001-01-01",
    "9999-12-31 23:59",
    "2026-03-29 02:30",
    "2026-10-25 02:30",
    "2026-11-24 09:30",
    "2026-11-24T09:30:00Z",
    "[]",
    "{}",
    "[1, [2, [3]]]",
    "{a: 1, 1: a}",
    "[mastodon, site]",
    "mastodon",
    "<<",
    "- x",
    "|\n  bloc\n  littéral",
    ">-\n  plié",
    '"\\' + "u202e" + 'txet"',
    "Café",
    "x" * 3000,
]
KEYS = [
    "date",
    "channels",
    "channel",
    "title",
    "status",
    "id",
    "pillar",
    "campaign",
    "tags",
    "media",
    "thread",
    "language",
    "summary",
    "variants",
    "1",
    "null",
    "~",
    "true",
    "2026-01-01",
    "[a]",
    "{a: 1}",
    "? complexe",
    '""',
    "<<",
    "clé\u200b",
    "\u202edate",
    "d\u0301ate",
    "da te",
]
CONFIG_KEYS = [
    *KEYS,
    "catch_up",
    "levels",
    "token_env",
    "password_env",
    "site_url",
    "base_url",
    "max_share",
    "posting_windows",
    "max_length",
    "min_gap",
    "timezone",
    "rules",
]
UNICODE = [
    "\u202e",  # right-to-left override
    "\u202d",
    "\u2066",
    "\u200b",  # zero-width space
    "\u200d",
    "\ufeff",
    "\u0301" * 40,  # combining marks
    "\u2028",  # line and paragraph separators, NEL: line breaks to some YAML readers
    "\u2029",
    "\x85",
    "\x0b",
    "\x1b[31m",
    "👩🏽‍💻",
    "🇫🇷",
    "𝕏",
    "é",
]
BODY_BITS = [
    "Un texte simple.",
    "Lien https://example.fr/page?utm_source=x et #hashtag",
    "<!-- thread -->",
    "**gras** _italique_ [lien](https://example.fr)",
    "GRATUIT À VIE",
    "ghp_" + "a" * 36,
    "<script>alert(1)</script>",
    "# Titre\n\n- liste\n- liste",
    "x" * 5000,
    "![image](media/absente.jpg)",
]


def value(rng: random.Random, depth: int = 0) -> str:
    """One YAML value, sometimes hostile."""
    roll = rng.random()
    if roll < 0.08:
        return f"{rng.choice(TAGS)} {rng.choice(SCALARS[:30])}"
    if roll < 0.12:
        n = rng.choice([5, 99, 100, 101, 150, 990, 1200])
        return "[" * n + "]" * n if rng.random() < 0.5 else "{a: " * n + "x" + "}" * n
    if roll < 0.32 and depth < 2:
        items = [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
        return "[" + ", ".join(i for i in items if "\n" not in i) + "]"
    if roll < 0.4 and depth < 2:
        pairs = [f"{rng.choice(KEYS)}: {value(rng, depth + 1)}" for _ in range(rng.randint(0, 3))]
        return "{" + ", ".join(p for p in pairs if "\n" not in p) + "}"
    if roll < 0.5:
        return rng.choice(SCALARS[:10]) + rng.choice(UNICODE) + rng.choice(SCALARS[10:])
    return rng.choice(SCALARS)


def block_nesting(rng: random.Random) -> str:
    n = rng.choice([50, 101, 300, 990])
    if rng.random() < 0.5:
        return "tags:\n" + "".join("  " * i + "-\n" for i in range(1, n)) + "  " * n + "- x"
    return "variants:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, n)) + "  " * n + "v: x"


def alias_bomb(rng: random.Random) -> str:
    levels = rng.randint(2, 9)
    lines = ['tags: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"s{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines)


def front_matter(rng: random.Random) -> str:
    names = ["mastodon", "bluesky", "linkedin", "x", "instagram", "telegram", "threads", "site"]
    chosen = ", ".join(rng.sample(names, rng.randint(1, len(names))))
    lines = ["date: 2026-11-24 09:30", f"channels: [{chosen}]", "pillar: education"]
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.05:
            lines.append(alias_bomb(rng))
        elif roll < 0.1:
            lines.append(block_nesting(rng))
        elif roll < 0.15:
            lines.append(f"title: &t {value(rng)}\nsummary: *t")
        elif roll < 0.22:
            lines.append(
                f"media:\n  - path: {rng.choice(['media/x.jpg', '../../etc/passwd', '/etc/passwd', value(rng)])}\n"
                f"    {rng.choice(KEYS)}: {value(rng)}"
            )
        elif roll < 0.3:
            lines.append(
                f"variants:\n  {rng.choice(['mastodon', 'site', 'x', '1', 'null', '[a]'])}:\n"
                f"    {rng.choice(['body', 'thread', 'title', *KEYS])}: {value(rng)}"
            )
        elif roll < 0.35 and lines:
            del lines[rng.randrange(len(lines))]
        elif roll < 0.5:
            day = rng.choice(["2026-11-24", "2026-03-29", "2026-10-25", "2026-02-29", "2027-01-01"])
            when = rng.choice(["", " 02:30", " 09:30", " 23:59", "T09:30:00+14:00", "T00:00:00Z"])
            lines = [x for x in lines if not x.startswith("date:")] + [f"date: {day}{when}"]
        else:
            lines.append(f"{rng.choice(KEYS)}: {value(rng)}")
    rng.shuffle(lines)
    return "\n".join(lines)


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randint(1, 3)):
        pos = rng.randint(0, len(data))
        roll = rng.random()
        if roll < 0.2:
            data = data[:pos] + bytes([rng.randrange(256)]) + data[pos:]
        elif roll < 0.35:
            data = (
                data[:pos]
                + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x80"])
                + data[pos:]
            )
        elif roll < 0.45:
            data = data[:pos] + b"\x00" + data[pos:]
        elif roll < 0.6:
            data = data[:pos]  # truncated
        elif roll < 0.75:
            data = data[:pos] + rng.choice(UNICODE).encode() + data[pos:]
        else:
            data = (
                data[:pos]
                + rng.choice([b"\n---\n", b"\t", b"\r", b": ", b"- ", b"'", b'"'])
                + data[pos:]
            )
    return data


def hostile_post(rng: random.Random) -> bytes:
    body = "\n\n".join(rng.choice(BODY_BITS) for _ in range(rng.randint(0, 3)))
    text = f"---\n{front_matter(rng)}\n---\n{body}\n"
    if rng.random() < 0.1:
        text = "\ufeff" + text
    if rng.random() < 0.1:
        text = text.replace("\n", rng.choice(["\r\n", "\r"]))
    data = text.encode("utf-8", "surrogatepass")
    return mutate_bytes(rng, data) if rng.random() < 0.25 else data


def hostile_config(rng: random.Random) -> bytes:
    lines = CHANNELS_YAML.splitlines()
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        key = lines[i].strip().split(":", 1)[0]
        roll = rng.random()
        if roll < 0.5 and ":" in lines[i]:
            lines[i] = f"{indent}{key}: {value(rng)}"
        elif roll < 0.65:
            lines[i] = f"{indent}{rng.choice(CONFIG_KEYS)}: {value(rng)}"
        elif roll < 0.75:
            lines.insert(i, alias_bomb(rng) if rng.random() < 0.5 else block_nesting(rng))
        elif roll < 0.85:
            lines.insert(
                0,
                f"{rng.choice(['catch_up', 'timezone', 'levels', 'content_dir'])}: {value(rng)}",
            )
        else:
            del lines[i]
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    return mutate_bytes(rng, data) if rng.random() < 0.2 else data


class Stalled(Exception):
    pass


@contextmanager
def deadline(seconds: int, what: str) -> Iterator[None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise Stalled(f"{what} ran over {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def lines_of(data: bytes) -> list[bytes]:
    """The file's lines as cmflow numbers them (\\n, \\r\\n and a lone \\r end a line)."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")


def assert_inside(finding: Finding, rel: str, data: bytes, label: str) -> None:
    assert finding.path == rel, label
    lines = lines_of(data)
    assert 1 <= finding.line <= len(lines), (label, finding)
    # Columns count characters; a line's byte length bounds them.
    assert 1 <= finding.column <= len(lines[finding.line - 1]) + 1, (label, finding)
    assert finding.rule in BY_ID, (label, finding)
    assert finding.message.strip(), (label, finding)


def test_hostile_posts_never_crash_the_library_validate_path(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    root = write_repo(tmp_path / "repo", {})
    config = config_mod.load(root, set(BY_ID))
    batch: dict[str, bytes] = {}
    for n in range(POSTS):
        rel = f"content/f{n:04d}.md"
        data = hostile_post(rng)
        label = f"input #{n} (seed {SEED}): {data[:300]!r}"
        (root / rel).write_bytes(data)
        batch[rel] = data
        with deadline(PER_INPUT_SECONDS, label):
            post = content.parse_post(rel, data, config.timezone, config.channels)
            findings, _ = validation.check_post(post, config)
        for f in findings:
            assert_inside(f, rel, data, label)
        if len(batch) == 250 or n == POSTS - 1:
            # The whole queue at once: queue rules (duplicate ids, daily caps, the mix).
            with deadline(PER_INPUT_SECONDS * 3, f"the queue ending with input #{n}"):
                report = validation.validate(config, now=NOW, use_cache=False)
            assert report.files == len(batch)
            for f in report.findings:
                assert_inside(f, f.path, batch[f.path], f"{f.path} in the queue ending with #{n}")
            for rel in batch:
                (root / rel).unlink()
            batch = {}


def test_hostile_channels_yaml_is_a_configuration_error_or_a_config(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    root = write_repo(tmp_path / "repo", {})
    loaded = 0
    for n in range(CONFIGS):
        data = hostile_config(rng)
        label = f"channels.yaml #{n} (seed {SEED + 1}): {data[:300]!r}"
        (root / "channels.yaml").write_bytes(data)
        lines = lines_of(data)
        with deadline(PER_INPUT_SECONDS, label):
            try:
                config_mod.load(root, set(BY_ID))
                loaded += 1
            except ConfigError as exc:
                assert exc.problems, label
                for problem in exc.problems:
                    name, line, column, message = problem.split(":", 3)
                    assert name == "channels.yaml", (label, problem)
                    assert 1 <= int(line) <= len(lines), (label, problem)
                    assert 1 <= int(column) <= len(lines[int(line) - 1]) + 1, (label, problem)
                    assert message.strip(), (label, problem)
    assert 0 < loaded < CONFIGS  # the generator made both kinds


def test_hostile_inputs_through_the_real_cli(tmp_path: Path) -> None:
    rng = random.Random(SEED + 2)
    posts = {f"f{n}.md": hostile_post(rng) for n in range(12)}
    posts["witness.md"] = (
        "---\ndate: 2026-11-24 09:30\nchannels: [mastodon]\npillar: educaton\n---\nx\n"
    )
    root = write_repo(tmp_path / "posts", posts)
    proc = run_main(["validate", "--at", BEFORE_ALL, "--format", "json", "--no-cache"], root)
    assert proc.returncode == 1, proc.stderr
    assert '"path": "content/witness.md"' in proc.stdout
    for n in range(4):
        config = hostile_config(rng)
        root = write_repo(
            tmp_path / f"config{n}", {"witness.md": posts["witness.md"]}, config=config
        )
        proc = run_main(["validate", "--at", BEFORE_ALL], root)
        assert proc.returncode in (1, 2), (config[:300], proc.stderr)
        assert "internal error" not in proc.stderr, (config[:300], proc.stderr)
        if proc.returncode == 2:
            assert proc.stderr.startswith("Error: channels.yaml"), proc.stderr
