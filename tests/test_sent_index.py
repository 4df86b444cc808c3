"""The sent index (`ledger.sent_index`): which current (post id, channel) pairs the publish
record holds, for `schedule.past` and `schedule.edited-after-publish`. Validation makes what
it takes from the record (`ledger.SentTable`) while other processes check the posts, then
matches the posts to it; these tests hold it to the record's own index (`Index.find`, as
the publisher finds a pair's entry), on every kind of pair: published, failed, missed, in flight,
re-posts, renamed files found by their content, copies of posts that still exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import product
from pathlib import Path

from cmflow import ledger
from cmflow.ledger import Entry, Index, Scan, SentTable, parse_time, sent_index
from cmflow.model import Post, Sent, State
from cmflow.platforms.base import PartResult

PARIS = timezone(timedelta(hours=1))
WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=PARIS)


def reference(posts: list[Post], entries: list[Entry]) -> dict[tuple[str, str], Sent]:
    """The sent index as the record's own index finds each pair's entry."""
    out: dict[tuple[str, str], Sent] = {}
    index = Index.build(entries, (p.id for p in posts))
    for post in posts:
        for channel in post.channels:
            e = index.find(post, channel)
            if e is None or e.state == State.MISSED:  # nothing went out, nor will as it is
                continue
            # What went out, or what was refused (it goes again once that differs).
            sent = e.content_hash if e.state in (State.PUBLISHED, State.FAILED) else ""
            failed = (e.reason or "") if e.state == State.FAILED else None  # and why
            when = parse_time(e.published_at)
            out[(post.id, channel)] = Sent(sent, when, e.url, e.source_hash, failed)
    return out


def entry(
    post: str,
    channel: str = "mastodon",
    state: State = State.PUBLISHED,
    *,
    source: str = "",
    scheduled: datetime | None = WHEN,
    publication: int = 1,
    published_at: str | None = "2026-11-20T08:30:00Z",
    url: str | None = "https://m.example/1",
) -> Entry:
    e = Entry(post, channel, "mastodon", f"content/{post}.md", state)
    e.content_hash = f"fp-{post}-{channel}"
    e.source_hash = source
    e.scheduled_for = scheduled.isoformat() if scheduled is not None else None
    e.publication = publication
    e.published_at = published_at
    e.parts = [PartResult("1", url)] if url is not None else []
    return e


def post(ident: str, *channels: str, source: str = "", date: datetime | None = WHEN) -> Post:
    return Post(
        path=f"content/{ident}.md",
        id=ident,
        meta={},
        body="",
        body_line=1,
        date=date,
        channels=list(channels or ("mastodon",)),
        content_hash=source,
    )


def agree(posts: list[Post], entries: list[Entry]) -> dict[tuple[str, str], Sent]:
    want = reference(posts, entries)
    scan = Scan(entries=entries)
    root = Path("/nowhere")  # never read: the scan is given
    got = sent_index(root, "data", posts, scan)
    made = sent_index(root, "data", posts, scan, SentTable.of(entries))
    assert got == want
    assert made == want
    assert list(got) == list(want) == list(made)  # same order: the cache keeps it as is
    return got


def test_every_state_of_a_pair() -> None:
    entries = [entry(f"p{i}", state=s) for i, s in enumerate(State)]
    entries.append(entry("p0", "bluesky", published_at="not a time", url=None))
    entries.append(entry("p1", "bluesky", published_at=None))
    posts = [post(f"p{i}", "mastodon", "bluesky", "x") for i in range(len(State) + 2)]
    got = agree(posts, entries)
    assert ("p0", "mastodon") in got and ("p0", "x") not in got
    (missed,) = [i for i, s in enumerate(State) if s == State.MISSED]
    assert (f"p{missed}", "mastodon") not in got
    (failed,) = [i for i, s in enumerate(State) if s == State.FAILED]
    assert got[(f"p{failed}", "mastodon")].failed is not None
    assert all(v.failed is None for k, v in got.items() if k != (f"p{failed}", "mastodon"))


def test_a_renamed_file_is_found_by_its_content_and_date() -> None:
    entries = [
        entry("old", source="s1"),  # renamed to `new`, same date: found
        entry("gone", source="s2", scheduled=WHEN + timedelta(hours=1)),  # another date
        entry("kept", source="s3"),  # `kept` still exists: its copy is a new post
        entry("failed", source="s4", state=State.FAILED),  # found, but failed
        entry("claimed", source="s5", state=State.CLAIMED, published_at=None),
        entry("undated", source="s6", scheduled=None),
        entry("first", source="s7"),
        entry("second", source="s7"),  # the same source twice: the first one counts
        entry("re", source="s8", publication=2),  # a re-post is never a first publication
        entry("mine", source="s9", state=State.FAILED),  # the pair's own entry, failed
        entry("other", source="s9"),
    ]
    posts = [
        post("new", source="s1"),
        post("new2", source="s2"),
        post("kept", source="s3"),
        post("copy", source="s3"),
        post("new4", source="s4"),
        post("new5", source="s5"),
        post("new6", source="s6"),
        post("new7", source="s7"),
        post("new8", source="s8"),
        post("mine", source="s9"),
        post("nodate", source="s1", date=None),
        post("nohash", source=""),
        post("utc", source="s1", date=WHEN.astimezone(UTC)),  # the same instant, written apart
    ]
    got = agree(posts, entries)
    assert got[("new", "mastodon")] == Sent(
        "fp-old-mastodon",
        parse_time(entries[0].published_at),
        "https://m.example/1",
        entries[0].source_hash,
    )
    assert ("new2", "mastodon") not in got and ("copy", "mastodon") not in got
    assert ("new5", "mastodon") in got and got[("new5", "mastodon")].content_hash == ""
    assert got[("new7", "mastodon")].content_hash == "fp-first-mastodon"
    # Its own entry, failed (not another's): said so.
    assert got[("mine", "mastodon")].failed is not None
    assert got[("new4", "mastodon")].failed is not None  # renamed, found, failed


def test_the_last_entry_of_a_pair_counts_and_reposts_never() -> None:
    dup = entry("a", state=State.FAILED)
    entries = [entry("a"), dup, entry("b", publication=3), entry("b", state=State.CLAIMED)]
    entries.append(entry("c", publication=2))
    got = agree([post("a"), post("b"), post("c")], entries)
    assert list(got) == [("a", "mastodon"), ("b", "mastodon")]
    assert got[("a", "mastodon")].failed is not None  # the last entry of a: failed


def test_many_combinations_agree() -> None:
    """Every mix of state, source, date and publication over a few posts and channels."""
    states = [State.PUBLISHED, State.FAILED, State.CLAIMED]
    sources = ["", "s1", "s2"]
    dates = [WHEN, WHEN + timedelta(days=1), None]
    entries: list[Entry] = []
    for i, (s, src, d, pub) in enumerate(product(states, sources, dates, (1, 2))):
        entries.append(
            entry(
                f"e{i % 7}",
                ("mastodon", "bluesky")[i % 2],
                s,
                source=src,
                scheduled=d,
                publication=pub,
            )
        )
    posts = [
        post(f"{name}{i}", "mastodon", "bluesky", source=src, date=d)
        for i, (name, src, d) in enumerate(product(("e", "n"), sources, dates))
    ]
    posts += [post(f"e{i}", "mastodon", "bluesky", source=s) for i, s in enumerate(sources)]
    agree(posts, entries)
    agree(posts, entries[::-1])


def test_an_empty_record_holds_nothing() -> None:
    assert agree([post("a")], []) == {}
    assert ledger.SentTable.of([]).by_key == {}
