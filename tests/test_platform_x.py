"""The X adapter against FakeX (tests/fakes/x.py) over real loopback HTTP, and `cmflow
publish` end to end: text, image with alt text, threads, reconciliation after a lost answer,
duplicate content, rate limits, a refused token, a publisher killed mid-thread; and X's
weighted counting in `cmflow validate`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cmflow import config as cfg
from cmflow.http import Http
from cmflow.model import Media, Part, Rendered
from cmflow.platforms.base import Context, Outcome
from cmflow.platforms.x import Adapter, shown_text
from tests.conftest import JPEG, PNG
from tests.fakes import FakeX, FaultProxy, drop_after_commit
from tests.publishing import from_now, iso, post, site, wait_until
from tests.test_platform_mastodon import MemoryProgress

TOKEN = "x-oauth2-S3cr3t-user-token-91ab"
ENV = "CMFLOW_X_TOKEN"
TWEETS = r"^/2/tweets$"


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(token=TOKEN) as server:
        yield server
        assert not server.errors


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=1.0) as client:
        yield client


def adapter(root: Path, base_url: str, http: Http, token: str = TOKEN) -> Adapter:
    (root / "channels.yaml").write_text(
        f"channels:\n  x:\n    platform: x\n    base_url: {base_url}/2\n    token_env: {ENV}\n",
        encoding="utf-8",
    )
    config = cfg.load(root)
    return Adapter(Context(config.channels["x"], root, http, {"token_env": token}))


def rendered(*texts: str, media: list[Media] | None = None) -> Rendered:
    parts = [Part(t, list(media or []) if i == 0 else []) for i, t in enumerate(texts)]
    return Rendered("post-1", "x", "x", parts)


def progress() -> MemoryProgress:
    return MemoryProgress({}, [])


def test_text_post_is_published_with_its_id_and_url(
    tmp_path: Path, fake: FakeX, http: Http
) -> None:
    a = adapter(tmp_path, fake.url, http)
    p = progress()
    result = a.publish(rendered("Atelier & café <jeudi> https://example.fr/atelier"), p)
    assert result.outcome == Outcome.PUBLISHED, result.reason
    tweet = fake.posts[0]
    assert result.remote_id == tweet["id"]
    assert result.url == f"https://x.com/i/web/status/{tweet['id']}"
    # X shows a t.co link and escapes &, < and >; the adapter reads it back as sent.
    assert "t.co" in tweet["text"] and "&amp;" in tweet["text"]
    assert shown_text(tweet) == "Atelier & café <jeudi> https://example.fr/atelier"
    sent = fake.requests_to("POST", TWEETS)[0]
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.json == {"text": "Atelier & café <jeudi> https://example.fr/atelier"}


def test_image_is_uploaded_with_its_alt_text_then_attached(
    tmp_path: Path, fake: FakeX, http: Http
) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media/a.jpg").write_bytes(JPEG)
    (tmp_path / "media/b.png").write_bytes(PNG)
    a = adapter(tmp_path, fake.url, http)
    media = [Media("media/a.jpg", "L'équipe devant l'atelier"), Media("media/b.png")]
    result = a.publish(rendered("Photos de l'atelier", media=media), progress())
    assert result.outcome == Outcome.PUBLISHED, result.reason
    uploads = fake.requests_to("POST", r"^/2/media/upload$")
    assert [u.form["media_category"] for u in uploads] == ["tweet_image", "tweet_image"]
    assert [u.form["media_type"] for u in uploads] == ["image/jpeg", "image/png"]
    assert uploads[0].files["media"].data == JPEG
    # Alt text only where there is one, through POST /2/media/metadata.
    meta = fake.requests_to("POST", r"^/2/media/metadata$")
    assert len(meta) == 1
    tweet = fake.posts[0]
    keys = tweet["attachments"]["media_keys"]
    assert [fake.media_alt(k) for k in keys] == ["L'équipe devant l'atelier", None]
    assert shown_text(tweet).strip() == "Photos de l'atelier"


def test_video_is_refused_before_anything_is_sent(tmp_path: Path, fake: FakeX, http: Http) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media/v.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    a = adapter(tmp_path, fake.url, http)
    result = a.publish(rendered("Vidéo", media=[Media("media/v.mp4")]), progress())
    assert result.outcome == Outcome.FAILED and "video" in (result.reason or "")
    assert fake.requests == []


def test_thread_replies_to_the_previous_part_recorded_before_the_next_is_sent(
    tmp_path: Path, fake: FakeX, http: Http
) -> None:
    a = adapter(tmp_path, fake.url, http)
    p = progress()
    result = a.publish(rendered("Fil 1/3", "Fil 2/3", "Fil 3/3"), p)
    assert result.outcome == Outcome.PUBLISHED, result.reason
    ids = [t["id"] for t in fake.posts]
    assert [part.id for part in result.parts] == ids
    bodies = [r.json for r in fake.requests_to("POST", TWEETS)]
    assert "reply" not in bodies[0]
    assert bodies[1]["reply"] == {"in_reply_to_tweet_id": ids[0]}
    assert bodies[2]["reply"] == {"in_reply_to_tweet_id": ids[1]}
    assert p.events == [(e, i) for i in range(3) for e in ("started", "done")]


def test_lost_answer_is_reconciled_from_the_timeline_never_resent(
    tmp_path: Path, fake: FakeX, http: Http
) -> None:
    """The server creates the post then the connection drops (through the fault proxy):
    unknown, then reconciliation finds it by content among the account's posts, while a
    post with other text made by hand afterwards is not taken for it."""
    with FaultProxy(fake.url) as proxy:
        a = adapter(tmp_path, proxy.url, http)
        proxy.inject("POST", TWEETS, drop_after_commit())
        p = progress()
        r = rendered("Annonce https://example.fr/a?x=1&y=2 #communauté", "Suite du fil")
        first = a.publish(r, p)
        assert first.outcome == Outcome.UNKNOWN, first.reason
        assert fake.created == 1 and p.done == []
        fake.add_tweet("Un autre post, publié à la main")  # the latest post is not ours
        found = a.reconcile(r, p)
        assert found.outcome == Outcome.PUBLISHED, found.reason
        assert found.parts[0].id == fake.posts[0]["id"]
        p.part_done(0, found.parts[0])
        # The rest of the thread goes on, replying to the reconciled part.
        rest = a.publish(r, p)
        assert rest.outcome == Outcome.PUBLISHED, rest.reason
        assert fake.created == 2  # each part once (the hand-made post is not counted)
        assert proxy.count("POST", TWEETS) == 2


def test_reconcile_proves_absence_when_the_timeline_reaches_back_before_the_attempt(
    tmp_path: Path, fake: FakeX, http: Http
) -> None:
    fake.add_tweet("Ancien post", created_at=fake.now() - 86400)
    a = adapter(tmp_path, fake.url, http)
    p = progress()
    p.started_at = datetime.now(UTC) - timedelta(minutes=40)
    result = a.reconcile(rendered("Jamais arrivé"), p)
    assert result.outcome == Outcome.ABSENT, result.reason


def test_duplicate_content_of_an_older_post_fails_and_is_not_taken_as_ours(
    tmp_path: Path, fake: FakeX, http: Http
) -> None:
    fake.add_tweet("Bonjour à toutes et à tous", created_at=fake.now() - 3600)
    a = adapter(tmp_path, fake.url, http)
    p = progress()
    p.started_at = datetime.now(UTC)
    result = a.publish(rendered("Bonjour à toutes et à tous"), p)
    assert result.outcome == Outcome.FAILED
    assert "duplicate content" in (result.reason or "") and "change the text" in (
        result.reason or ""
    )
    assert p.done == []


def test_duplicate_content_of_our_own_lost_attempt_is_recorded_as_published(
    tmp_path: Path, fake: FakeX, http: Http
) -> None:
    """The attempt was claimed, the post landed but the record was lost: a new send is
    refused as duplicate, and the post created since the claim is proven ours."""
    claimed = datetime.now(UTC) - timedelta(minutes=1)
    landed = fake.add_tweet("Lancement du podcast")
    a = adapter(tmp_path, fake.url, http)
    p = progress()
    p.started_at = claimed
    result = a.publish(rendered("Lancement du podcast"), p)
    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert result.remote_id == landed
    assert fake.created == 0  # the refused request created nothing


def test_rate_limit_defers_with_the_reset_time_and_sends_nothing(
    tmp_path: Path, fake: FakeX, http: Http
) -> None:
    fake.inject("POST", TWEETS, fake.rate_limited_fault(reset_in=900))
    a = adapter(tmp_path, fake.url, http)
    result = a.publish(rendered("Trop tôt"), progress())
    assert result.outcome == Outcome.RETRY
    assert result.retry_after is not None and 850 < result.retry_after <= 900
    assert fake.created == 0
    # The run's client now knows the reset: no request goes out before it.
    again = a.publish(rendered("Toujours trop tôt"), progress())
    assert again.outcome == Outcome.RETRY
    assert len(fake.requests_to("POST", TWEETS)) == 1


def test_refused_token_names_the_variable_and_never_leaks(
    tmp_path: Path, fake: FakeX, http: Http
) -> None:
    fake.refused_tokens.add(TOKEN)
    fake.echo_secrets = True
    a = adapter(tmp_path, fake.url, http)
    result = a.publish(rendered("Avec un jeton expiré"), progress())
    assert result.outcome == Outcome.FAILED and result.needs_reauth
    assert ENV in (result.reason or "") and TOKEN not in (result.reason or "")


# -- cmflow publish, end to end ---------------------------------------------------------------


def x_site(tmp_path: Path, fake: FakeX, posts: dict[str, str], **extra: Any) -> Any:
    channels = {"x": {"platform": "x", "base_url": f"{fake.url}/2", "token_env": ENV, **extra}}
    return site(tmp_path / "repo", channels, posts, env={ENV: TOKEN}, secrets=[TOKEN])


def test_killed_between_two_thread_parts_the_next_run_sends_the_rest_exactly_once(
    tmp_path: Path, fake: FakeX
) -> None:
    body = "Premier message du fil.\n\n<!-- thread -->\nDeuxième.\n\n<!-- thread -->\nTroisième."
    s = x_site(tmp_path, fake, {"fil.md": post(["x"], body)})
    fake.stall_nth = (2, 30.0)  # part 2 is created, its answer never comes: killed meanwhile
    running = s.start("publish")
    wait_until(lambda: fake.created == 2, what="X to create part 2")
    assert running.kill().code == -9
    entry = s.record("fil", "x")
    assert entry is not None and entry["state"] == "claimed" and len(entry["parts"]) == 1
    fake.stall_nth = None

    again = s.publish(at=from_now(minutes=31))  # past the claim's lease
    assert again.code == 0, again
    assert [shown_text(t) for t in fake.posts] == [
        "Premier message du fil.",
        "Deuxième.",
        "Troisième.",
    ]
    entry = s.record("fil", "x")
    assert entry is not None and entry["state"] == "published"
    assert [p["id"] for p in entry["parts"]] == [t["id"] for t in fake.posts]
    third = fake.requests_to("POST", TWEETS)[-1].json
    assert third["reply"] == {"in_reply_to_tweet_id": fake.posts[1]["id"]}
    assert len(fake.requests_to("POST", TWEETS)) == 3
    s.assert_no_secret()


def test_expired_token_marks_the_channel_and_the_job_summary_naming_the_variable(
    tmp_path: Path, fake: FakeX
) -> None:
    fake.refused_tokens.add(TOKEN)
    s = x_site(tmp_path, fake, {"a.md": post(["x"], "Jeton expiré")})
    summary = tmp_path / "summary.md"
    s.env["GITHUB_STEP_SUMMARY"] = str(summary)
    result = s.publish()
    assert result.code == 1, result
    assert "needs_reauth" in result.stdout and ENV in result.stdout
    shown = summary.read_text("utf-8")
    assert ENV.replace("_", "\\_") in shown and "needs_reauth" in shown  # Markdown-escaped
    assert s.state("a", "x") == "deferred"  # nothing sent: goes again once renewed
    assert fake.created == 0
    fake.refused_tokens.clear()
    assert s.publish(at=from_now(minutes=1)).code == 0
    assert fake.created == 1
    s.assert_no_secret(summary.read_text("utf-8"))


# -- X's counting in cmflow validate ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("a" * 280, 280),
        ("a" * 281, 281),
        ("https://example.fr/un/chemin/tres/long/qui/depasse/vingt-trois " + "a" * 256, 280),
        ("日本語" * 46 + "ab", 278),  # CJK weighs 2
        ("👩‍👩‍👧‍👦" * 140, 280),  # a ZWJ family is one emoji, weight 2
        ("é" * 280, 280),  # Latin-1 with an accent: 1, whether composed or not
        ("e\u0301" * 280, 280),  # NFC first
    ],
)
def test_validate_counts_x_weighted_length(
    tmp_path: Path, fake: FakeX, text: str, weight: int
) -> None:
    from tests.fakes.x import weighted_length

    assert weighted_length(text) == weight  # the fake, written from X's docs, agrees
    s = x_site(tmp_path, fake, {"a.md": post(["x"], text, date=datetime(2030, 1, 1, tzinfo=UTC))})
    result = s.run("validate", "--format", "json", "--at", iso(datetime(2029, 1, 1, tzinfo=UTC)))
    errors = [f for f in result.json()["findings"] if f["rule"] == "channel.max-length"]
    if weight > 280:
        assert errors and f"{weight}/280" in errors[0]["message"], errors
    else:
        assert errors == [], errors
