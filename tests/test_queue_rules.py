"""The queue rules (run over the whole queue) give the findings of their plain definitions.

The rules sort the queue once, bisect instead of sliding windows and memoise the "next
time" searches (bench/queue_rules_bench.py times them). The plain definitions below are what they were
before: every post compared with every other, Python's own datetime arithmetic. Random
queues around both clock changes of Europe/Paris, with equal dates, drafts, variants'
pillars, and dates both in the brand's zone (read from a file) and at a fixed offset (read
from the cache), must give the same findings, messages and order. Then the edges at the
command line: window boundaries, a clock change, equal dates, full days in a row.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cmflow import config as config_mod
from cmflow.config import Config
from cmflow.i18n import _
from cmflow.model import Finding, Mark, Post
from cmflow.rules import BY_ID, QueueContext, editorial, frontmatter, schedule
from cmflow.slots import local
from cmflow.timeutil import DateProblem, format_duration, resolve_local
from tests.conftest import CHANNELS_YAML, only, post, run_cli, run_main, validate_json

MakeRepo = Callable[..., Path]
PARIS = ZoneInfo("Europe/Paris")

# --- The plain definitions ---------------------------------------------------------------


def plain_queue(ctx: QueueContext, channel: str) -> list[Post]:
    return sorted(
        (p for p in ctx.posts if channel in p.channels and p.status == "ready" and p.date),
        key=lambda p: (p.date, p.path),
    )


def plain_mix(ctx: QueueContext) -> Iterator[Finding]:
    for channel in ctx.config.channels.values():
        rules = channel.rules
        if rules.mix is None or not rules.mix.max_share:
            continue
        name, window = channel.name, rules.mix.window
        posts = plain_queue(ctx, name)
        pillars = [v if isinstance(v := p.field("pillar", name), str) else None for p in posts]
        counts: dict[object, int] = defaultdict(int)
        reported: dict[str, int] = defaultdict(lambda: -1)
        start = 0
        for end, p in enumerate(posts):
            assert p.date is not None
            counts[pillars[end]] += 1
            while posts[start].date < p.date - window:  # type: ignore[operator]
                counts[pillars[start]] -= 1
                start += 1
            size = end + 1 - start
            here = pillars[end]
            if here is None or (share := rules.mix.max_share.get(here)) is None:
                continue
            minimum = math.ceil(1 / share) if share > 0 else 1
            count = counts[here]
            if size >= minimum and count / size > share and reported[here] < start:
                reported[here] = end
                yield editorial._mix_finding(p, name, here, count, size, share, window.days)


def plain_next_with_room(when: datetime, counts: Mapping[date, int], cap: int) -> datetime:
    t = when.astimezone(PARIS)
    d = t.date() + timedelta(days=1)
    while counts.get(d, 0) >= cap:
        d += timedelta(days=1)
    return local(d, t.time().replace(tzinfo=None), PARIS)


def plain_daily_cap(ctx: QueueContext) -> Iterator[Finding]:
    for ch in ctx.config.channels.values():
        cap = ch.rules.max_per_day
        if cap is None:
            continue
        days: dict[date, list[Post]] = defaultdict(list)
        for p in plain_queue(ctx, ch.name):
            assert p.date is not None
            days[p.date.astimezone(PARIS).date()].append(p)
        counts = {d: len(ps) for d, ps in days.items()}
        for day, posts in days.items():
            for p in posts[cap:]:
                assert p.date is not None
                others = ", ".join(o.path for o in posts if o is not p)
                nxt = plain_next_with_room(p.date, counts, cap)
                yield schedule._finding(
                    p,
                    "schedule.daily-cap",
                    ch.name,
                    _("{count} posts on {day}, at most {limit} a day (also: {others})").format(
                        count=len(posts), day=f"{day}{schedule._slot(p)}", limit=cap, others=others
                    )
                    + f": {schedule.next_text(nxt, PARIS)}",
                )


def plain_next_apart(when: datetime, others: Sequence[datetime], gap: timedelta) -> datetime:
    t = when
    while True:
        lo = bisect_right(others, t - gap)
        hi = bisect_left(others, t + gap)
        if lo >= hi:
            return t
        t = others[hi - 1] + gap


def plain_min_gap(ctx: QueueContext) -> Iterator[Finding]:
    for ch in ctx.config.channels.values():
        gap = ch.rules.min_gap
        if gap is None:
            continue
        posts = plain_queue(ctx, ch.name)
        dates = [p.date for p in posts if p.date is not None]
        for k, (before, after) in enumerate(pairwise(posts), 1):
            assert before.date is not None and after.date is not None
            delta = after.date.astimezone(UTC) - before.date.astimezone(UTC)
            if delta < gap:
                nxt = plain_next_apart(after.date, dates[:k] + dates[k + 1 :], gap)
                yield schedule._finding(
                    after,
                    "schedule.min-gap",
                    ch.name,
                    _("{gap} after {other}, the minimum gap is {minimum}").format(
                        gap=format_duration(delta),
                        other=f"{before.path}{schedule._slot(after)}",
                        minimum=format_duration(gap),
                    )
                    + f": {schedule.next_text(nxt, PARIS)}",
                )


def plain_duplicate_id(ctx: QueueContext) -> Iterator[Finding]:
    by_id: dict[str, list[Post]] = defaultdict(list)
    for p in ctx.posts:
        by_id[p.id].append(p)
    for post_id, posts in by_id.items():
        if len(posts) < 2:
            continue
        for p in posts:
            others = ", ".join(o.path for o in posts if o is not p)
            mark = p.mark("id")
            how = _("its `id:`") if "id" in p.meta else _("its file name")
            yield Finding(
                p.path,
                mark.line,
                mark.column,
                "error",
                "frontmatter.duplicate-id",
                _(
                    "id {id} (from {source}) is also used by {others}: give each post its own `id:`"
                ).format(id=repr(post_id), source=how, others=others),
            )


PAIRS = [
    (plain_mix, editorial.mix),
    (plain_daily_cap, schedule.daily_cap),
    (plain_min_gap, schedule.min_gap),
    (plain_duplicate_id, frontmatter.duplicate_id),
]

# --- Random queues -----------------------------------------------------------------------

# Around both clock changes of 2027 (28 March, 31 October), and far from them.
AROUND = [datetime(2027, 3, 28, 2, 30), datetime(2027, 10, 31, 2, 30), datetime(2027, 6, 15)]
HOURS = [0, 1, 2, 3, 9, 9, 10, 17, 23]  # a few hours, so that dates often coincide


def random_date(rng: random.Random) -> datetime | None:
    base = rng.choice(AROUND)
    naive = (base + timedelta(days=rng.randint(-20, 20))).replace(
        hour=rng.choice(HOURS), minute=rng.choice([0, 0, 30, 59])
    )
    try:
        when = resolve_local(naive, PARIS)
    except DateProblem:
        return None  # skipped or repeated: the file's date is refused
    shape = rng.random()
    if shape < 0.4:
        return datetime.fromisoformat(when.isoformat())  # as the cache gives it back
    if shape < 0.45:
        return when.astimezone(UTC)  # written with a Z
    return when


def random_posts(rng: random.Random, n: int, names: list[str]) -> list[Post]:
    posts = []
    for i in range(n):
        when = random_date(rng)
        pillar = rng.choice(["product", "product", "education", "community", None, ["x"]])
        meta: dict[str, object] = {} if pillar is None else {"pillar": pillar}
        marks = {("date",): Mark(2, 1), ("pillar",): Mark(4, 1)}
        chans = rng.sample(names, k=rng.randint(1, 3))
        if rng.random() < 0.15:  # a variant changing the pillar on one channel
            meta["variants"] = {chans[0]: {"pillar": rng.choice(["product", "community"])}}
            marks[("variants", chans[0], "pillar")] = Mark(7, 5)
        if rng.random() < 0.05:
            meta["id"] = "shared"
            marks[("id",)] = Mark(5, 1)
        posts.append(
            Post(
                path=f"content/p{rng.randint(0, 10 * n):04d}-{i}.md",
                id=str(meta.get("id", f"p{i}")),
                meta=meta,
                body="",
                body_line=9,
                marks=marks,
                date=when,
                channels=chans,
                status=rng.choice(["ready"] * 9 + ["draft"]),
            )
        )
    return posts


def with_rules(cfg: Config, rng: random.Random) -> Config:
    window = rng.choice([timedelta(days=14), timedelta(days=1), timedelta(hours=36)])
    channels = {}
    for name, ch in cfg.channels.items():
        mix = ch.rules.mix
        if mix is not None:
            share = rng.choice([0.3, 0.5, 0.25])
            mix = dataclasses.replace(mix, window=window, max_share={"product": share})
        rules = dataclasses.replace(
            ch.rules,
            mix=mix,
            max_per_day=rng.choice([None, 1, 2, 3]),
            min_gap=rng.choice([None, timedelta(hours=4), timedelta(hours=20), timedelta(0)]),
        )
        channels[name] = dataclasses.replace(ch, rules=rules)
    return dataclasses.replace(cfg, channels=channels)


@pytest.fixture(scope="module")
def base_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    root = tmp_path_factory.mktemp("queue")
    (root / "channels.yaml").write_text(CHANNELS_YAML, encoding="utf-8")
    (root / "content").mkdir()
    return config_mod.load(root, set(BY_ID))


@pytest.mark.parametrize("seed", range(40))
def test_queue_rules_give_the_findings_of_their_plain_definitions(
    base_config: Config, seed: int
) -> None:
    rng = random.Random(seed)
    names = list(base_config.channels)[:4]
    posts = random_posts(rng, rng.choice([5, 30, 120]), names)
    cfg = with_rules(base_config, rng)
    now = datetime(2027, 5, 1, tzinfo=UTC)
    for plain, rule in PAIRS:
        expected = list(plain(QueueContext(posts, cfg, now)))
        assert list(rule(QueueContext(posts, cfg, now))) == expected, rule.__name__


def test_all_dates_at_one_zone_or_all_at_fixed_offsets_agree_too(base_config: Config) -> None:
    """The two shapes of a whole queue: every file parsed (cold), every post cached."""
    for seed in range(12):
        rng = random.Random(1000 + seed)
        posts = random_posts(rng, 80, list(base_config.channels)[:3])
        cfg = with_rules(base_config, rng)
        for shape in ("zone", "fixed"):
            for p in posts:
                if p.date is not None:
                    zoned = p.date.astimezone(PARIS)
                    p.date = zoned if shape == "zone" else datetime.fromisoformat(zoned.isoformat())
            now = datetime(2027, 5, 1, tzinfo=UTC)
            for plain, rule in PAIRS:
                expected = list(plain(QueueContext(posts, cfg, now)))
                assert list(rule(QueueContext(posts, cfg, now))) == expected, (shape, seed)


def test_mix_on_one_zone_bisects_wall_clocks_where_windows_start_in_a_clock_change(
    base_config: Config,
) -> None:
    """Dates of one zone object (every file parsed) compare on the wall clock, and a window
    is subtracted there too: the mix window is bisected over wall-clock seconds, even where
    it starts in the hour skipped in March or the one repeated in October (which once sent
    the whole channel through the sliding window). Same findings as the plain definition."""
    cfg = base_config
    for name, ch in cfg.channels.items():
        if ch.rules.mix is not None:
            rules = dataclasses.replace(
                ch.rules, mix=dataclasses.replace(ch.rules.mix, window=timedelta(days=14))
            )
            channels = {**cfg.channels, name: dataclasses.replace(ch, rules=rules)}
            cfg = dataclasses.replace(cfg, channels=channels)
    names = list(cfg.channels)[:2]
    skipped = datetime(2027, 3, 28, 1, 0, tzinfo=UTC)  # 02:00 to 03:00 in Paris: skipped
    repeated = datetime(2027, 10, 31, 0, 0, tzinfo=UTC)  # 02:00 to 03:00 in Paris: twice
    moments = [skipped + timedelta(days=14, minutes=10 * k) for k in range(-12, 12)]
    moments += [repeated + timedelta(days=14, minutes=10 * k) for k in range(-12, 12)]
    moments += [repeated + timedelta(days=-10, hours=k) for k in range(0, 240, 7)]
    posts = [
        Post(
            path=f"content/p{i:03d}.md",
            id=f"p{i}",
            meta={"pillar": "product" if i % 3 else "education"},
            body="",
            body_line=9,
            marks={("date",): Mark(2, 1), ("pillar",): Mark(4, 1)},
            date=when.astimezone(PARIS),
            channels=names[: 1 + i % 2],
        )
        for i, when in enumerate(moments)
    ]
    now = datetime(2027, 12, 1, tzinfo=UTC)
    ready = QueueContext(posts, cfg, now).ready()
    keys, starts = editorial._window_starts(ready, timedelta(days=14))
    assert keys is not ready.instants and starts is not None  # wall clocks, bisected
    with pytest.raises(editorial._Irregular):  # as instants, windows that start in a change
        for p in ready.posts:
            assert p.date is not None
            editorial._start(p.date, timedelta(days=14))
    expected = list(plain_mix(QueueContext(posts, cfg, now)))
    assert len(expected) > 5
    assert list(editorial.mix(QueueContext(posts, cfg, now))) == expected


# --- At the command line -----------------------------------------------------------------


def _on(channel: str, date: str, pillar: str, extra: str = "") -> str:
    # date on line 2, channels on 3, pillar on 4.
    return post(f"date: {date}\nchannels: [{channel}]\npillar: {pillar}{extra}", "Bonjour #Marque")


def _mix_posts(first: str) -> dict[str, str]:
    """Two product posts out of four on mastodon: 50% > 30%, if `first` is in the window
    ending at m4."""
    return {
        "m1.md": _on("mastodon", first, "product"),
        "m2.md": _on("mastodon", "2026-11-14 10:00", "education"),
        "m3.md": _on("mastodon", "2026-11-14 11:00", "community"),
        "m4.md": _on("mastodon", "2026-11-15 10:00", "product"),
    }


def test_mix_window_holds_a_post_exactly_its_length_before(make_repo: MakeRepo) -> None:
    found, _ = validate_json(make_repo(_mix_posts("2026-11-01 10:00")))
    assert [(f.path, f.rule) for f in found] == [("content/m4.md", "editorial.mix")]
    assert found[0].message.startswith("product is 2/4 posts (50%)")


def test_mix_window_leaves_out_a_post_a_minute_older(make_repo: MakeRepo) -> None:
    found, _ = validate_json(make_repo(_mix_posts("2026-11-01 09:59")))
    assert only(found, "editorial.mix") == []


def test_mix_window_across_a_clock_change_counts_days_on_the_wall_clock(
    make_repo: MakeRepo,
) -> None:
    # 14 days before Mon 5 Apr 2027 10:00 (summer time) is Mon 22 Mar 10:00 on the wall
    # clock (winter time), 09:00 in elapsed time: a post at 09:30 is out, one at 10:00 in.
    def posts(first: str) -> dict[str, str]:
        return {
            "m1.md": _on("mastodon", first, "product"),
            "m2.md": _on("mastodon", "2027-04-01 10:00", "education"),
            "m3.md": _on("mastodon", "2027-04-02 10:00", "community"),
            "m4.md": _on("mastodon", "2027-04-05 10:00", "product"),
        }

    at = "2027-03-01 00:00"
    found, _ = validate_json(make_repo(posts("2027-03-22 09:30"), name="out"), at=at)
    assert only(found, "editorial.mix") == []
    found, _ = validate_json(make_repo(posts("2027-03-22 10:00"), name="in"), at=at)
    assert [f.path for f in only(found, "editorial.mix")] == ["content/m4.md"]


def test_mix_counts_a_variant_pillar_on_its_channel_only(make_repo: MakeRepo) -> None:
    variant = "\nvariants:\n  mastodon:\n    pillar: product"
    posts = {
        "m1.md": _on("mastodon, bluesky", "2026-11-02 10:00", "education", variant),
        "m2.md": _on("mastodon, bluesky", "2026-11-03 10:00", "community"),
        "m3.md": _on("mastodon, bluesky", "2026-11-04 10:00", "education"),
        "m4.md": _on("mastodon, bluesky", "2026-11-05 10:00", "product"),
    }
    found, _ = validate_json(make_repo(posts))
    assert [(f.path, f.channel) for f in only(found, "editorial.mix")] == [
        ("content/m4.md", "mastodon")
    ]


def test_a_channel_its_variant_makes_a_draft_is_left_out_there(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a.md waits on LinkedIn (`variants: {linkedin: {status: draft}}`) and goes to Mastodon:
    # the publisher holds it as a draft on LinkedIn only. Validation did not: it said the
    # next run would send it there, and counted it in LinkedIn's day (max_per_day: 1), so
    # b.md, alone that day on LinkedIn, was held by the daily cap.
    draft = "\nvariants:\n  linkedin:\n    status: draft"
    root = make_repo(
        {
            "a.md": _on("mastodon, linkedin", "2026-11-24 08:30", "education", draft),
            "b.md": _on("linkedin", "2026-11-24 09:30", "community"),
        }
    )
    at = "2026-11-24 10:00"
    want = [
        ("content/a.md", "schedule.past", "mastodon"),
        ("content/b.md", "schedule.past", "linkedin"),
    ]
    found, _ = validate_json(root, at=at)
    assert [(f.path, f.rule, f.channel) for f in found] == want
    for _ in range(2):  # the cache keeps what the queue rules read of the variant
        cached = run_cli(["validate", "--format", "json", "--at", at], root)
        data = json.loads(cached.stdout)["findings"]
        assert [(f["path"], f["rule"], f["channel"]) for f in data] == want
    # Files a minute old: the next runs answer from their stamps alone, the posts built
    # from the cache's columns (the variant's status read for those still to send).
    for folder, _dirs, files in os.walk(root / "content"):
        for name in files:
            st = os.stat(os.path.join(folder, name))
            os.utime(os.path.join(folder, name), ns=(st.st_atime_ns, st.st_mtime_ns - 60 * 10**9))
    from cmflow import validation

    answered: list[bool] = []
    unchanged = validation._unchanged
    monkeypatch.setattr(
        validation,
        "_unchanged",
        lambda *a, **k: answered.append((got := unchanged(*a, **k)) is not None) or got,
    )
    for _ in range(2):
        cached = run_cli(["validate", "--format", "json", "--at", at], root)
        data = json.loads(cached.stdout)["findings"]
        assert [(f["path"], f["rule"], f["channel"]) for f in data] == want
    assert answered == [False, True]
    plan = json.loads(run_cli(["plan", "--format", "json", "--all", "--at", at], root).stdout)
    kinds = {(a["path"], a["channel"]): a["action"] for a in plan["actions"]}
    assert kinds[("content/a.md", "linkedin")] == "skip"
    assert kinds[("content/b.md", "linkedin")] != "invalid"
    cal = run_cli(["calendar", "--from", "2026-11-23", "--weeks", "1", "--at", at], root)
    rows = {line.split()[0]: line for line in cal.stdout.splitlines() if line.strip()}
    assert "08:30 ✎ a" in rows["linkedin"]  # a draft there
    assert "08:30 !⚠ a" in rows["mastodon"]  # late there, with its warning


def _capped(gap: str = "20h") -> str:
    return CHANNELS_YAML.replace("min_gap: 20h", f"min_gap: {gap}")


def test_daily_cap_next_time_skips_every_full_day_in_a_row(make_repo: MakeRepo) -> None:
    # linkedin: max_per_day 1. Two posts on 24 Nov, one on each of 25 and 26: the next day
    # with room for b.md is the 27th, and for d.md too (both walk the same full days).
    posts = {
        "a.md": _on("linkedin", "2026-11-24 08:30", "education"),
        "b.md": _on("linkedin", "2026-11-24 09:30", "community"),
        "c.md": _on("linkedin", "2026-11-25 08:30", "education"),
        "d.md": _on("linkedin", "2026-11-25 09:45", "community"),
        "e.md": _on("linkedin", "2026-11-26 08:30", "education"),
    }
    found, _ = validate_json(make_repo(posts, config=_capped("0h")))
    assert [(f.path, f.message.rsplit(": ", 1)[1]) for f in only(found, "schedule.daily-cap")] == [
        ("content/b.md", "the next time that passes is Fri 27 Nov 09:30 (Europe/Paris)"),
        ("content/d.md", "the next time that passes is Fri 27 Nov 09:45 (Europe/Paris)"),
    ]


def test_min_gap_between_two_posts_at_the_same_time(make_repo: MakeRepo) -> None:
    # Equal dates: ordered by path, the second is 0 min after the first.
    posts = {
        "a.md": _on("linkedin", "2026-11-24 08:30", "education"),
        "b.md": _on("linkedin", "2026-11-24 08:30", "community"),
    }
    found, _ = validate_json(make_repo(posts, config=_capped("4h")))
    (gap,) = only(found, "schedule.min-gap")
    assert (gap.path, gap.message) == (
        "content/b.md",
        "0s after content/a.md, the minimum gap is 4h: "
        "the next time that passes is Tue 24 Nov 12:30 (Europe/Paris)",
    )


def test_min_gap_next_time_hops_over_a_chain_of_close_posts(make_repo: MakeRepo) -> None:
    # 4h minimum: b.md is 1h after a.md; c, d, e follow 3h apart (each too close to the
    # one before): b's next time is 4h after the last of them, 20:30.
    posts = {
        "a.md": _on("linkedin", "2026-11-24 07:30", "education"),
        "b.md": _on("linkedin", "2026-11-24 08:30", "community"),
        "c.md": _on("linkedin", "2026-11-24 10:30", "education"),
        "d.md": _on("linkedin", "2026-11-24 13:30", "community"),
        "e.md": _on("linkedin", "2026-11-24 16:30", "education"),
    }
    found, _ = validate_json(make_repo(posts, config=_capped("4h")))
    gaps = {f.path: f.message.rsplit(": ", 1)[1] for f in only(found, "schedule.min-gap")}
    assert gaps["content/b.md"] == "the next time that passes is Tue 24 Nov 20:30 (Europe/Paris)"
    assert set(gaps) == {"content/b.md", "content/c.md", "content/d.md", "content/e.md"}


# --- security.secret: the value of a secret this run can read ------------------------------

TOKEN = "s3cr3t-T0ken-value"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (post("date: 2026-11-24 08:30\nchannels: [mastodon]", f"Voici {TOKEN} !"), (5, 7)),
        # Windows line ends: lines and columns as the file reads in text (universal newlines).
        (
            post("date: 2026-11-24 08:30\nchannels: [mastodon]", f"Un.\nVoici {TOKEN}").replace(
                "\n", "\r\n"
            ),
            (6, 7),
        ),
        # After characters of several bytes: columns count characters.
        (post("date: 2026-11-24 08:30\nchannels: [mastodon]", f"Été 🎉 {TOKEN}"), (5, 7)),
    ],
)
def test_live_secret_is_found_where_it_is_written(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch, text: str, where: tuple[int, int]
) -> None:
    monkeypatch.setenv("CMFLOW_MASTODON_TOKEN", TOKEN)
    found, _ = validate_json(
        make_repo({"a.md": text, "b.md": _on("mastodon", "2026-11-25 08:30", "education")})
    )
    hits = [(f.path, f.line, f.column) for f in only(found, "security.secret")]
    assert hits == [("content/a.md", *where)]
    assert all(TOKEN not in f.message for f in found)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_live_secret_reads_posts_as_the_post_reader_does(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    # A pull request can add links (git keeps them) and a checkout can hold a pipe. With a
    # secret set (the publish job), the search for its value once opened each post file
    # plainly: a link to /dev/zero was read until memory ran out, a pipe waited forever,
    # and a file outside the repository was read. They are reported as files, unread.
    outside = tmp_path / "dehors.md"
    outside.write_text(
        post("date: 2026-11-24 08:30\nchannels: [mastodon]\npillar: education", TOKEN), "utf-8"
    )
    text = post(
        "date: 2026-11-24 08:30\nchannels: [mastodon]\npillar: education", f"Voici {TOKEN} !"
    )
    root = make_repo({"a.md": text})
    content = root / "content"
    (content / "zero.md").symlink_to("/dev/zero")
    os.mkfifo(content / "tuyau.md")
    (content / "dehors.md").symlink_to(outside)
    done = run_main(
        ["validate", "--format", "json", "--no-cache", "--at", "2026-11-24 08:00"],
        root,
        env={"CMFLOW_MASTODON_TOKEN": TOKEN},
    )
    assert done.returncode == 1, done.stderr
    found = json.loads(done.stdout)["findings"]
    assert sorted((f["path"], f["rule"]) for f in found) == [
        ("content/a.md", "security.secret"),
        ("content/dehors.md", "content.file"),
        ("content/tuyau.md", "content.file"),
        ("content/zero.md", "content.file"),
    ]
    assert all(TOKEN not in f["message"] for f in found)


def test_live_secret_with_accents_is_found_too(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "clé-très-secrète-42"
    monkeypatch.setenv("CMFLOW_MASTODON_TOKEN", secret)
    text = post("date: 2026-11-24 08:30\nchannels: [mastodon]", f"Voici {secret}")
    found, _ = validate_json(make_repo({"a.md": text}))
    assert [(f.line, f.column) for f in only(found, "security.secret")] == [(5, 7)]
