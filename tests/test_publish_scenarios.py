"""Fault scenarios (docs/publishing.md) through the real `cmflow publish`: 5xx mid-batch,
answers lost after the platform committed, rate limits, and a publisher killed (SIGKILL)
between the platform's answer and the record.

Oracle: the fake's created count per (post, channel) never exceeds 1, whatever the number of
runs; every due pair ends in a known state; nothing secret is printed or recorded.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from pathlib import Path

from cmflow.ledger import parse_time
from tests.fakes import Fault, FaultProxy
from tests.peers.fixtures import BlueskyPeer, bluesky_pds  # noqa: F401
from tests.publishing import (
    BLUESKY_ENV,
    Fakes,
    Site,
    ago,
    assert_states,
    created,
    from_now,
    later,
    own_text,
    post,
    site,
    wait_until,
)

STATUSES = r"^/api/v1/statuses$"
WEBHOOK = r"^/api/webhooks/"
CREATE_RECORD = r"/xrpc/com\.atproto\.repo\.createRecord$"


def three_channels(tmp_path: Path, fakes: Fakes, *bodies: str) -> Site:
    """Posts `p0`, `p1`... (one per body, oldest first) to mastodon, discord and telegram."""
    posts = {
        f"p{i}.md": post(["mastodon", "discord", "telegram"], body, date=ago(hours=3 - i))
        for i, body in enumerate(bodies)
    }
    return site(
        tmp_path / "repo",
        fakes.channels("mastodon", "discord", "telegram"),
        posts,
        env=fakes.env(),
        secrets=fakes.secrets(),
    )


def webhook_requests(fakes: Fakes) -> int:
    return len(fakes.discord.requests_to("POST", WEBHOOK))


# -- channels at once, the posts of each in order ----------------------------------------------------


def test_channels_go_at_once_and_the_posts_of_each_in_date_order(
    tmp_path: Path, fakes: Fakes
) -> None:
    # File names in the opposite order of the dates: the order is the schedule's.
    names = ["c", "b", "a"]
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon", "discord"),
        {
            f"{name}.md": post(
                ["mastodon", "discord"], f"Ordre {i} t0-{name}", date=ago(hours=3 - i)
            )
            for i, name in enumerate(names)
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    # Each write takes 0.3 s to be answered: one channel after the other would take 1.8 s.
    fakes.mastodon.inject("POST", STATUSES, Fault.stall_after_commit(0.3), times=None)
    fakes.discord.inject("POST", WEBHOOK, Fault.stall_after_commit(0.3), times=None)
    done = s.publish()
    assert done.code == 0, done
    expected = [f"Ordre {i} t0-{name}" for i, name in enumerate(names)]
    for fake in (fakes.mastodon, fakes.discord):
        shown = [own_text(p) for p in fake.posts]  # Mastodon's in HTML
        assert len(shown) == 3 and all(e in t for e, t in zip(expected, shown, strict=True))
    masto = [r.received_at for r in fakes.mastodon.requests_to("POST", STATUSES)]
    discord = [r.received_at for r in fakes.discord.requests_to("POST", WEBHOOK)]
    # Each channel waited for an answer before its next post...
    for times in (masto, discord):
        assert all(b - a >= 0.3 for a, b in itertools.pairwise(times)), times
    # ...while the other channel went on: they overlap.
    assert max(masto[0], discord[0]) < min(masto[-1], discord[-1]), (masto, discord)


# -- T1: a 500 in the middle of a batch -------------------------------------------------------------


def test_discord_500_after_commit_is_unknown_then_needs_human_never_resent(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = three_channels(tmp_path, fakes, "Lot t1a-0")
    fakes.discord.inject("POST", WEBHOOK, Fault.after_commit_status(500))
    first = s.publish()
    assert first.code == 1, first
    assert created(fakes.mastodon, "t1a-0") == created(fakes.telegram, "t1a-0") == 1
    assert created(fakes.discord, "t1a-0") == 1  # it did land, the client was told 500
    assert s.state("p0", "mastodon") == s.state("p0", "telegram") == "published"
    assert s.state("p0", "discord") == "unknown"
    assert "unknown" in first.stdout

    # The next run reconciles: a webhook cannot look, so a human must: nothing is resent.
    second = s.publish(at=later(minutes=10))
    assert second.code == 1, second
    assert webhook_requests(fakes) == 1
    entry = s.record("p0", "discord")
    assert entry is not None and entry["state"] == "needs_human", entry
    assert "resolve" in second.stdout

    third = s.publish(at=later(minutes=20))
    assert webhook_requests(fakes) == 1 and fakes.discord.created == 1
    assert "needs a human" in third.stdout or "blocked" in third.stdout
    plan = s.actions(at=later(minutes=20))
    assert plan[("p0", "discord")] == "blocked"
    assert_states(s, [("p0", c) for c in ("mastodon", "discord", "telegram")])
    s.assert_no_secret()


def test_discord_500_before_commit_needs_human_then_resolve_absent_sends_it_once(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = three_channels(tmp_path, fakes, "Lot t1b-0")
    fakes.discord.inject("POST", WEBHOOK, Fault.status(500))
    first = s.publish()
    assert first.code == 1, first
    assert fakes.discord.created == 0
    assert s.state("p0", "discord") == "unknown"
    assert s.publish(at=later(minutes=5)).code == 1
    assert s.state("p0", "discord") == "needs_human"
    assert webhook_requests(fakes) == 1

    # Someone checked the channel: it is not there.
    resolved = s.run("resolve", "p0", "discord", "--absent")
    assert resolved.code == 0, resolved
    third = s.publish(at=later(minutes=10))
    assert third.code == 0, third
    assert created(fakes.discord, "t1b-0") == 1
    assert s.state("p0", "discord") == "published"
    assert created(fakes.mastodon, "t1b-0") == created(fakes.telegram, "t1b-0") == 1
    s.assert_no_secret()


def test_mastodon_500_after_commit_is_adopted_through_the_idempotency_key(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = three_channels(tmp_path, fakes, "Lot t1c-0", "Lot t1c-1")
    # Both attempts of the first post's run (the send, and its resend with the same key).
    fakes.mastodon.inject("POST", STATUSES, Fault.after_commit_status(500), times=2)
    first = s.publish()
    assert first.code == 1, first
    assert created(fakes.mastodon, "t1c-0") == 1
    assert s.state("p0", "mastodon") == "unknown"
    # A 5xx on one post does not stop the channel's next post, nor the other channels.
    assert s.state("p1", "mastodon") == "published"
    for channel in ("discord", "telegram"):
        assert s.state("p0", channel) == s.state("p1", channel) == "published"

    second = s.publish(at=later(minutes=10))
    assert second.code == 0, second
    assert created(fakes.mastodon, "t1c-0") == 1
    entry = s.record("p0", "mastodon")
    original = next(p for p in fakes.mastodon.posts if "t1c-0" in p["content"])
    assert entry is not None and entry["state"] == "published"
    assert entry["parts"][0]["id"] == original["id"]
    keys = {r.headers["idempotency-key"] for r in fakes.mastodon.requests_to("POST", STATUSES)}
    assert len(keys) == 2  # one key per post, reused by every resend
    s.assert_no_secret()


def test_bluesky_500_around_commit_is_checked_by_record_key(
    tmp_path: Path,
    bluesky_pds: BlueskyPeer,  # noqa: F811
) -> None:
    marker = f"t1bsky-{uuid.uuid4().hex[:8]}"
    with FaultProxy(bluesky_pds.url) as proxy:
        s = site(
            tmp_path / "repo",
            {
                "bluesky": {
                    "platform": "bluesky",
                    "base_url": proxy.url,
                    "handle": bluesky_pds.handle,
                    "password_env": BLUESKY_ENV,
                }
            },
            {
                "a.md": post(["bluesky"], f"Après commit {marker}-a", date=ago(hours=2)),
                "b.md": post(["bluesky"], f"Avant commit {marker}-b", date=ago(hours=1)),
            },
            env={BLUESKY_ENV: bluesky_pds.app_password},
            secrets=[bluesky_pds.app_password],
        )
        proxy.inject("POST", CREATE_RECORD, Fault.after_commit_status(500))  # post a
        proxy.inject("POST", CREATE_RECORD, Fault.status(500))  # post b: never reached
        first = s.publish()
        assert first.code == 0, first
        assert s.state("a", "bluesky") == s.state("b", "bluesky") == "published"
        # a: landed, adopted through getRecord; b: proven absent, sent once at its key.
        assert proxy.count("POST", CREATE_RECORD) == 2
        again = s.publish(at=later(minutes=5))
        assert again.code == 0 and proxy.count("POST", CREATE_RECORD) == 2
        assert proxy.count("POST", r"createSession$") == 1  # one login for the whole run
    s.assert_no_secret()


# -- T2: accepted, then the connection dropped ------------------------------------------------------


def test_mastodon_answer_lost_after_commit_creates_once_over_many_runs(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Coupure t2-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    fakes.mastodon.inject("POST", STATUSES, Fault.drop_after_commit(), times=None)
    first = s.publish()
    assert first.code == 1, first
    assert fakes.mastodon.created == 1
    assert s.state("a", "mastodon") == "unknown"
    assert len(fakes.mastodon.requests_to("POST", STATUSES)) >= 2  # resent with its key

    fakes.mastodon.clear_faults()
    for minutes in (10, 20, 30):
        run = s.publish(at=later(minutes=minutes))
        assert run.code == 0, run
        assert fakes.mastodon.created == 1
    entry = s.record("a", "mastodon")
    assert entry is not None and entry["state"] == "published"
    assert entry["parts"][0]["id"] == fakes.mastodon.posts[0]["id"]
    s.assert_no_secret()


def test_mastodon_answers_lost_for_good_end_with_a_human_never_a_second_status(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {"a.md": post(["mastodon"], "Coupure t2-b")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    fakes.mastodon.inject("POST", STATUSES, Fault.drop_after_commit(), times=None)
    states = []
    for minutes in (0, 10, 20, 30):
        s.publish(at=later(minutes=minutes))
        assert fakes.mastodon.created == 1
        states.append(s.state("a", "mastodon"))
    assert states[0] == "unknown" and states[-1] == "needs_human", states
    s.assert_no_secret()


# -- T3: 429 with a long retry_after ----------------------------------------------------------------


def test_discord_429_defers_the_pair_and_the_next_runs_respect_not_before(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = three_channels(tmp_path, fakes, "Limite t3-0")
    fakes.discord.inject("POST", WEBHOOK, fakes.discord.rate_limited_fault(64.57))
    first = s.publish("--budget", "20")
    assert first.code == 0, first
    assert created(fakes.mastodon, "t3-0") == created(fakes.telegram, "t3-0") == 1
    entry = s.record("p0", "discord")
    assert entry is not None and entry["state"] == "deferred", entry
    not_before, updated = parse_time(entry["not_before"]), parse_time(entry["updated_at"])
    assert not_before is not None and updated is not None
    assert timedelta(seconds=60) < not_before - updated < timedelta(seconds=70)  # 64.57 s
    assert webhook_requests(fakes) == 1

    # Before not_before: planned as a wait, and no request at all.
    early = not_before - timedelta(seconds=20)
    assert s.actions(at=early)[("p0", "discord")] == "wait"
    s.publish(at=early)
    assert webhook_requests(fakes) == 1

    # After it: published, once.
    after = s.publish(at=not_before + timedelta(seconds=1))
    assert after.code == 0, after
    assert created(fakes.discord, "t3-0") == 1
    assert s.state("p0", "discord") == "published"
    assert fakes.discord.invalid_requests < 10
    s.assert_no_secret()


def test_after_a_429_no_post_of_that_channel_is_sent_before_the_reset(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = three_channels(tmp_path, fakes, "Limite t3b-0", "Limite t3b-1")
    fakes.discord.inject("POST", WEBHOOK, fakes.discord.rate_limited_fault(64.57))
    s.publish("--budget", "20")
    assert webhook_requests(fakes) == 1  # the second post is not tried in that run
    assert s.state("p1", "discord") == "deferred"
    entry = s.record("p0", "discord")
    assert entry is not None
    not_before = parse_time(entry["not_before"])
    assert not_before is not None
    s.publish(at=not_before - timedelta(seconds=20))
    assert webhook_requests(fakes) == 1, "a request went to Discord before the reset"


# -- T4: killed between the platform's answer and the record ----------------------------------------


def test_sigkill_after_the_platform_accepted_reconciles_without_resending(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon", "discord"),
        {"a.md": post(["mastodon", "discord"], "Coupé net t4-a")},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    # Both platforms create the post, then take 30 s to answer: the run is killed meanwhile.
    fakes.mastodon.inject("POST", STATUSES, Fault.stall_after_commit(30))
    fakes.discord.inject("POST", WEBHOOK, Fault.stall_after_commit(30))
    running = s.start("publish", at=ago(minutes=0))
    wait_until(
        lambda: fakes.mastodon.created == 1 and fakes.discord.created == 1,
        what="both platforms to create the post",
    )
    killed = running.kill()
    assert killed.code == -9
    for channel in ("mastodon", "discord"):
        entry = s.record("a", channel)
        assert entry is not None and entry["state"] == "claimed", entry
        assert entry["in_flight"] == 0 and not entry.get("parts")
        # The claim names its process: the next run on this machine sees it is gone.
        assert entry["claimer"]["pid"] == running.proc.pid

    # At once (no lease to wait out): reconcile. Mastodon replays the status stored under
    # the key; a Discord webhook cannot look, so a human decides. Nothing is created twice.
    assert set(s.actions(at=from_now(minutes=1)).values()) == {"reconcile"}
    second = s.publish(at=from_now(minutes=1))
    assert second.code == 1, second
    assert fakes.mastodon.created == 1 and fakes.discord.created == 1
    mastodon = s.record("a", "mastodon")
    assert mastodon is not None and mastodon["state"] == "published"
    assert mastodon["parts"][0]["id"] == fakes.mastodon.posts[0]["id"]
    discord = s.record("a", "discord")
    assert discord is not None and discord["state"] == "needs_human", discord
    assert webhook_requests(fakes) == 1

    message = fakes.discord.posts[0]
    url = (
        f"https://discord.com/channels/2222222222222222222/{message['channel_id']}/{message['id']}"
    )
    resolved = s.run("resolve", "a", "discord", "--published", url)
    assert resolved.code == 0, resolved
    discord = s.record("a", "discord")
    assert discord is not None and discord["state"] == "published"
    assert discord["parts"][-1]["url"] == url
    assert set(s.actions(at=from_now(minutes=40)).values()) == {"done"}
    third = s.publish(at=from_now(minutes=40))
    assert third.code == 0, third
    assert fakes.mastodon.created == 1 and fakes.discord.created == 1
    assert webhook_requests(fakes) == 1
    s.assert_no_secret()
