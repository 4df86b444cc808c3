"""The shortcuts of a post's parse give what the longer way gives: dates placed in their
zone, scalars typed, the content hash, on the inputs where a shortcut could go wrong (DST
gaps and folds, odd zones, values that only look like dates)."""

from __future__ import annotations

import hashlib
import json
import random
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from cmflow import content, schema, timeutil, yamlload
from cmflow.content import content_hash
from cmflow.timeutil import DateProblem, parse_datetime, resolve_local
from cmflow.yamlload import _CONSTRUCTOR, parse, parse_full

ZONES = [
    "Europe/Paris",
    "America/Santiago",  # transitions at midnight
    "America/Havana",  # at midnight, and 01:00
    "Australia/Lord_Howe",  # a half-hour shift
    "Asia/Kathmandu",  # a +05:45 offset
    "Pacific/Apia",  # skipped a whole day (2011-12-30)
    "UTC",
]


def _slow(text: str, tz: ZoneInfo) -> tuple[str, object]:
    """What `parse_datetime` gave before its shortcut: `resolve_local` on the naive time."""
    try:
        got = resolve_local(datetime.strptime(text, "%Y-%m-%d %H:%M"), tz)
    except DateProblem as exc:
        return "problem", str(exc)
    return "date", (got, got.utcoffset(), got.fold, got.tzinfo)


def _fast(text: str, tz: ZoneInfo) -> tuple[str, object]:
    try:
        got = parse_datetime(text, tz)
    except DateProblem as exc:
        return "problem", str(exc)
    return "date", (got, got.utcoffset(), got.fold, got.tzinfo)


def _around_transitions(tz: ZoneInfo, years: range) -> list[str]:
    """Every quarter of an hour of each day on which the zone's offset changes."""
    out: list[str] = []
    for year in years:
        day = datetime(year, 1, 1)
        while day.year == year:
            if tz.utcoffset(day) != tz.utcoffset(day + timedelta(days=1, hours=1)):
                for q in range(0, 3 * 24 * 4):
                    out.append(f"{day + timedelta(minutes=15 * q - 24 * 60):%Y-%m-%d %H:%M}")
            day += timedelta(days=1)
    return out


@pytest.mark.parametrize("zone", ZONES)
def test_a_date_is_placed_as_resolve_local_places_it(zone: str) -> None:
    tz = ZoneInfo(zone)
    texts = _around_transitions(tz, range(2010, 2013)) + _around_transitions(tz, range(2026, 2028))
    texts += ["2026-06-15 12:00", "2026-01-01 00:00", "2026-12-31 23:59"]
    if zone not in ("UTC", "Asia/Kathmandu"):  # those two have no change in these years
        assert len(texts) > 3 * 24 * 4
    for text in texts:
        assert _fast(text, tz) == _slow(text, tz), text


def _hash_before(meta: dict[str, object], body: str) -> str:
    """`content.content_hash` as it was written first: json.dumps, then sha256."""
    keep = {k: v for k, v in meta.items() if k not in ("date", "status", "id")}
    blob = json.dumps(keep, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256((blob + "\n" + body.strip()).encode("utf-8")).hexdigest()


HASHED_META: list[dict[str, object]] = [
    {},
    {"date": "2026-11-24 09:30", "status": "draft", "id": "x"},
    {"title": "C'est l'été ! 🎉\u200b\u202e \"q\" \\ \n\t\x7f", "b": None, "a": True},
    {"tags": [1, 1.5, float("inf"), float("-inf"), float("nan"), 10**30, -0.0, False]},
    {"when": datetime(2026, 11, 24, 9, 30), "day": date(2026, 12, 8)},
    {"at": datetime(2026, 11, 24, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))},
    {"media": [{"path": "media/a.jpg", "alt": "Une photo"}, "b.png"], "z": {"b": 1, "a": []}},
    {"variants": {"x": {"body": "Court.", "thread": "auto"}, "1": {"title": "t"}}},
    {"Z": 1, "a": 2, "é": 3, "_": 4, "10": 5, "9": 6},
]


@pytest.mark.parametrize("meta", HASHED_META)
@pytest.mark.parametrize("body", ["", "  Corps.\n\n", "\ufeffé\r\n", "x" * 5000])
def test_the_content_hash_is_the_one_recorded_before(meta: dict[str, object], body: str) -> None:
    assert content_hash(meta, body) == _hash_before(meta, body)


def test_a_time_to_the_minute_is_text_to_the_resolver() -> None:
    """`yamlload._MINUTE` skips PyYAML's resolver only where it would answer "text"."""
    rng = random.Random(12)
    digits = "0123456789"
    texts = ["2026-11-24 09:30", "0000-00-00 00:00", "9999-99-99 99:99", "2026-02-30 25:61"]
    texts += [
        "".join(rng.choice(digits) if c == "d" else c for c in "dddd-dd-dd dd:dd")
        for _ in range(500)
    ]
    for text in texts:
        assert yamlload._MINUTE.match(text)
        assert _CONSTRUCTOR.resolve(yaml.ScalarNode, text, (True, False)) == yamlload._STR, text  # type: ignore[no-untyped-call]
        assert yamlload._scalar(text, False) == (text,)
        assert yamlload._scalar(text, True) == (text,)
        assert parse_full(f"date: {text}\n")[0] == {"date": text}
    for near in ["2026-11-24 09:30:00", "2026-11-24", "2026-11-24 9:30", "2026-11-24T09:30"]:
        assert not yamlload._MINUTE.match(near)


def test_a_text_told_without_ignored_lines_has_none() -> None:
    """`_may_have_ignored` is False only when the regex finds no blank or comment line."""
    rng = random.Random(7)
    texts = ["", "\n", " ", "a", "a\n", "a\n\n", "\na", " \na", "a\n \n", "a\n ", "a # b\n"]
    texts += [
        "".join(rng.choice(" \n#a:-") for _ in range(rng.randint(0, 12))) for _ in range(20000)
    ]
    for text in texts:
        found = yamlload._IGNORABLE.search(text[:-1] if text.endswith("\n") else text)
        if found:
            assert yamlload._may_have_ignored(text), repr(text)


def test_plain_text_is_told_as_the_patterns_tell_it() -> None:
    """`_is_plain` answers what `_PLAIN` / `_FLOW_ITEM` answer, on texts built from the
    characters they look at (indicators, spaces of every kind, accents)."""
    rng = random.Random(3)
    alphabet = "aé9 -?:,[]{}#&*!|>'\"%@`\t\n\xa0\u2028\x85\x1c\u3000.~_=<"
    texts = ["", "a", " ", "a ", " a", "Post numéro 9418", "Archive 4286 — communauté", "a:b"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(40000)]
    for text in texts:
        for flow, pattern in ((False, yamlload._PLAIN), (True, yamlload._FLOW_ITEM)):
            assert yamlload._is_plain(text, flow) == (pattern.match(text) is not None), (text, flow)


def test_a_line_cached_at_one_place_is_marked_at_another() -> None:
    """The same lines at other line numbers (a comment or a blank line above, another
    offset) are marked where they are, as the full parser marks them."""
    lines = "date: 2026-11-24 09:30\nchannels: [mastodon, site]\ntags: [a, b]\n"
    for text, offset in [
        (lines, 1),
        (lines, 0),
        ("# c\n" + lines, 1),
        ("\n\n" + lines, 1),
        ("title: x\n" + lines, 1),
        (lines + "media:\n  - path: a.jpg\n" + "pillar: p\n", 1),
        ("pillar: p\n" + lines, 3),
        (lines, 1),
    ]:
        fast = parse(text, line_offset=offset)
        full = parse_full(text, line_offset=offset)
        assert fast[0] == full[0]
        assert fast[1] == full[1]


class _Text(str):
    """A text that is not exactly `str` (`isinstance` still says text)."""


def test_a_list_of_texts_is_told_as_the_schema_tells_it() -> None:
    lists: list[list[object]] = [
        [],
        ["a"],
        ["a", "b", "é 🎉"],
        [""],
        [_Text("a")],
        ["a", 1],
        [None],
        ["a", None],
        [True],
        [1.5],
        [["a"]],
        [{"a": "b"}],
        [b"a"],
        ["a", date(2026, 1, 1)],
    ]
    assert {"channels", "tags"} <= content._TEXT_LISTS
    for name in content._TEXT_LISTS:
        key = schema.FRONTMATTER_KEYS[name]
        for value in lists:
            assert content._all_text(value) == schema.passes(value, key), (name, value)


_LOCAL_BEFORE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def _date_before(text: str, tz: ZoneInfo) -> tuple[str, object]:
    """`parse_datetime` of a text as it was written before its shortcuts."""
    try:
        m = _LOCAL_BEFORE.match(text)
        if m:
            y, mo, d, hh, mm, ss = m.groups()
            try:
                naive = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
            except ValueError as exc:
                return "invalid", str(exc)
            got = resolve_local(naive, tz)
        else:
            try:
                got = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
            except ValueError:
                return "not a date", text
            if got.tzinfo is None:
                got = resolve_local(got, tz)
    except DateProblem as exc:
        return "problem", str(exc)
    return "date", (got, got.utcoffset(), got.fold, got.tzinfo)


def test_odd_texts_of_a_date_s_length_are_read_as_before() -> None:
    tz = ZoneInfo("Europe/Paris")
    texts = [
        "2026-11-24 09:30",
        "2030-W13-2 15:00",
        "2030-03-26 15+01",
        "2030-03-26 1500Z",
        "2026-02-30 10:00",
        "2026-13-01 10:00",
        "2026-01-01 24:00",
        "2026-01-01 10:60",
        "\u0662\u0660\u0662\u0666-01-01 10:00",
        "2026-01-01 1:000",
        "+026-01-01 10:00",
        " 026-01-01 10:00",
        "2026-01-01 10 00",
        "2026-03-29 02:30",
        "2026-10-25 02:30",
        "0001-01-01 00:00",
        "9999-12-31 23:59",
        "2026_01-01 10:00",
    ]
    for text in texts:
        assert len(text) == 16
        want = _date_before(text, tz)
        try:
            got = parse_datetime(text, tz)
        except DateProblem as exc:
            # Refused: as before (the shortcut steps aside, the same code says why).
            assert want[0] != "date", (text, str(exc))
            if want[0] == "problem":
                assert want[1] == str(exc)
            continue
        assert want == ("date", (got, got.utcoffset(), got.fold, got.tzinfo)), text


def test_a_list_of_media_is_told_as_the_schema_tells_it() -> None:
    media: list[list[object]] = [
        [],
        [{"path": "a.jpg"}],
        [{"path": "a.jpg", "alt": "Une photo é"}, {"path": "b.png"}],
        [{"alt": "x"}],
        [{"path": "a.jpg", "alte": "x"}],
        [{"path": None}],
        [{"path": "a.jpg", "alt": None}],
        [{"path": "a.jpg", "alt": 1}],
        [{"path": _Text("a.jpg")}],
        [{"path": ["a.jpg"]}],
        [{"path": {"a": "b"}}],
        [{}],
        ["a.jpg"],
        [None],
        [["a.jpg"]],
        [{"path": "a.jpg"}, "b.jpg"],
        [{"path": "a.jpg", 1: "x"}],
    ]
    assert "media" in content._TEXT_MAP_LISTS
    for name, shape in content._TEXT_MAP_LISTS.items():
        key = schema.FRONTMATTER_KEYS[name]
        for value in media:
            # Yes only where `passes` says yes (else a problem would go unreported); and
            # for these shapes, no only where it says no (else the quick look is useless).
            assert content._all_text_maps(value, *shape) == schema.passes(value, key), value


def test_a_keyed_list_item_is_no_scalar() -> None:
    """`_keyed` says True only for texts `_scalar` would refuse (so asking it is skipped)."""
    rng = random.Random(5)
    texts = ["path: a.jpg", "a:", "'a: b'", '"a: b"', "a: b: c", ":", ": a", "a:b", "-: x"]
    texts += [
        "".join(rng.choice("a: '\"#-\t") for _ in range(rng.randint(1, 8))) for _ in range(20000)
    ]
    for text in texts:
        if yamlload._keyed(text):
            assert yamlload._typed(text, False) is None, text


TRICKY: list[bytes] = [
    "\ufeff---\r\ndate: 2026-11-24 09:30\r\nchannels: [mastodon, site]\r\ntitle: Été à Noël\r\n"
    "---\r\nCorps accentué.\r\n".encode(),
    b"---\ndate: 2026-11-24 09:30:00\nchannels: [site]\n---\nx\n",  # a timestamp
    b"---\ndate: '2026-11-24 09:30'\nchannels: [site]\n---\nx\n",  # a quoted text
    b"---\ndate: 2026-11-24T09:30:00+01:00\nchannels: [site]\n---\nx\n",
    b"---\ndate: 2026-10-25 02:30\nchannels: [site]\n---\nx\n",  # twice in Paris
    b"---\ndate: 2026-03-29 02:30\nchannels: [site]\n---\nx\n",  # never in Paris
    b"---\ndate: 2026-02-30 10:00\nchannels: [site]\n---\nx\n",
    b"---\ndate: 2026-11-24 09:30\nchannels: [site, site, nowhere, 1]\n---\nx\n",
    b"---\ndate: 2026-11-24 09:30\nchannels: [site]\ntitle: &a x\nsummary: *a\n---\nx\n",
    b"---\ndate: 2026-11-24 09:30\nchannels: [site]\ntitle: !!python/name:os.system\n---\n",
    b"---\ndate: 2026-11-24 09:30\nchannels: [site]\ntags: [a]\ntags: [b]\n---\nx\n",
    b"---\ndate: 2026-11-24 09:30\nchannels: [site]\n tags: [a]\n---\nx\n",  # indented
    b"---\ndate: 2026-11-24 09:30\nchannels: [site]\nmedia:\n  - path: a.jpg\n   alt: x\n---\n",
    b"---\ndate: 2026-11-24 09:30\nchannels: [site]\nmedia:\n  - path: a.jpg\n    alt: 1\n---\n",
    b"---\ndate: 2026-11-24 09:30\nchannels: [site]\nmedia:\n  - 'path: a.jpg'\n---\n",
    b"---\ndate: 2026-11-24 09:30\nchannels: [site]\nmedia:\n  - path:\n---\n",
    b"---\ndate: 2026-11-24 09:30\nchannels: [site]\ntags: [a, 1, yes]\n---\nx\n",
    b"---\ndate: 2026-11-24 09:30\nchannel: site\ntitle: Post num\xc3\xa9ro 1 \n---\nx\n",
]


def _slow_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every shortcut of the parse turned off: the full YAML parser, the schema's own
    check of each field, the channels loop, the date's regex, the resolver."""
    monkeypatch.setattr(yamlload, "_parse_simple", lambda text, off: None)
    monkeypatch.setattr(content, "_all_text", lambda items: False)
    monkeypatch.setattr(content, "_all_text_maps", lambda items, known, required: False)
    monkeypatch.setattr(timeutil, "_minute", lambda text, tz: None)
    monkeypatch.setattr(yamlload, "_MINUTE", re.compile(r"(?!)"))


def test_a_post_parses_the_same_with_every_shortcut_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_content_parse import _config, _rel, inputs, summary

    config = _config(tmp_path)
    cases = [*inputs(), *((f"tricky #{n}", data) for n, data in enumerate(TRICKY))]

    def parsed() -> list[str]:
        return [
            summary(content.parse_post(_rel(label), data, config.timezone, config.channels))
            for label, data in cases
        ]

    fast = parsed()
    with monkeypatch.context() as m:
        _slow_paths(m)
        slow = parsed()
    differ = [(label, f, s) for (label, _d), f, s in zip(cases, fast, slow, strict=True) if f != s]
    assert not differ, differ[0]
