"""The LinkedIn adapter against FakeLinkedIn (tests/fakes/linkedin.py) over real loopback HTTP,
and `cmflow publish` end to end: little-text escaping, hashtags, images with alt text, the
required headers, reconciliation, DUPLICATE_POST, daily rate limits and expired tokens."""

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
from cmflow.platforms.linkedin import Adapter, little, plain
from tests.conftest import JPEG, PNG
from tests.fakes import FakeLinkedIn, FaultProxy, drop_after_commit
from tests.fakes.linkedin import shown
from tests.publishing import from_now, iso, post, site
from tests.test_platform_mastodon import MemoryProgress

TOKEN = "AQV-linkedin-S3cr3t-token-5d2e"
ENV = "CMFLOW_LINKEDIN_TOKEN"
AUTHOR = "urn:li:organization:2414183"
POSTS = r"^/rest/posts$"


@pytest.fixture
def fake() -> Iterator[FakeLinkedIn]:
    with FakeLinkedIn(token=TOKEN, author=AUTHOR) as server:
        yield server
        assert not server.errors


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=1.0) as client:
        yield client


def adapter(root: Path, base_url: str, http: Http, **extra: str) -> Adapter:
    more = "".join(f"\n    {k}: {v!r}" for k, v in extra.items())
    (root / "channels.yaml").write_text(
        f"channels:\n  li:\n    platform: linkedin\n    base_url: {base_url}/rest\n"
        f"    author: {AUTHOR}\n    token_env: {ENV}{more}\n",
        encoding="utf-8",
    )
    config = cfg.load(root)
    return Adapter(Context(config.channels["li"], root, http, {"token_env": TOKEN}))


def rendered(text: str, media: list[Media] | None = None) -> Rendered:
    return Rendered("post-1", "li", "linkedin", [Part(text, list(media or []))])


TRICKY = (
    "Atelier (jeudi) : *gratuit* ~ [inscription] <ici> {lien} a|b \\ @marque #Communauté "
    "#CM_2026 https://example.fr/a_b/#plan"
)


def test_little_text_escapes_every_reserved_character_and_keeps_hashtags() -> None:
    commentary = little(TRICKY)
    assert "{hashtag|\\#|Communauté}" in commentary and "{hashtag|\\#|CM\\_2026}" in commentary
    assert "{hashtag|\\#|plan}" not in commentary  # a link's fragment is not a hashtag
    # The fake refuses any reserved character left unescaped: it shows exactly what was written.
    assert shown(commentary) == TRICKY
    assert plain(commentary) == TRICKY


def test_post_sends_headers_escaped_commentary_and_reads_the_urn_from_x_restli_id(
    tmp_path: Path, fake: FakeLinkedIn, http: Http
) -> None:
    a = adapter(tmp_path, fake.url, http, api_version="202605")
    p = MemoryProgress({}, [])
    result = a.publish(rendered(TRICKY), p)
    assert result.outcome == Outcome.PUBLISHED, result.reason
    created = fake.posts[0]
    assert result.remote_id == created["id"] and created["id"].startswith("urn:li:share:")
    assert result.url == f"https://www.linkedin.com/feed/update/{created['id']}/"
    assert created["text"] == TRICKY
    sent = fake.requests_to("POST", POSTS)[0]
    assert sent.headers["linkedin-version"] == "202605"
    assert sent.headers["x-restli-protocol-version"] == "2.0.0"
    assert sent.json["author"] == AUTHOR and sent.json["lifecycleState"] == "PUBLISHED"
    assert sent.json["distribution"]["feedDistribution"] == "MAIN_FEED"


def test_inactive_version_is_refused_with_what_to_change(
    tmp_path: Path, fake: FakeLinkedIn, http: Http
) -> None:
    a = adapter(tmp_path, fake.url, http, api_version="202301")
    result = a.publish(rendered("Bonjour"), MemoryProgress({}, []))
    assert result.outcome == Outcome.FAILED
    assert "NONEXISTENT_VERSION" in (result.reason or "") and "api_version" in (result.reason or "")
    assert fake.created == 0


def test_length_limit_counts_the_text_shown_not_the_escapes(
    tmp_path: Path, fake: FakeLinkedIn
) -> None:
    """3,000 characters full of reserved ones: validate accepts it (escapes do not count)
    and LinkedIn publishes it; 3,001 is refused by validate before any call."""
    text = ("(a) #b " * 500)[:2999] + "!"
    assert len(little(text)) > 3000
    channels = {
        "li": {
            "platform": "linkedin",
            "base_url": f"{fake.url}/rest",
            "author": AUTHOR,
            "token_env": ENV,
        }
    }
    s = site(tmp_path / "repo", channels, {"a.md": post(["li"], text)}, env={ENV: TOKEN})
    assert s.run("validate").code == 0
    assert s.publish().code == 0
    assert fake.posts[0]["text"] == text
    s.write_post("b.md", post(["li"], text + "x", date=datetime(2030, 1, 1, tzinfo=UTC)))
    check = s.run("validate", "--format", "json", "--at", iso(datetime(2029, 1, 1, tzinfo=UTC)))
    found = [f for f in check.json()["findings"] if f["rule"] == "channel.max-length"]
    assert found and "3001/3000" in found[0]["message"], found


def test_images_are_uploaded_then_attached_with_alt_text(
    tmp_path: Path, fake: FakeLinkedIn, http: Http
) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media/a.jpg").write_bytes(JPEG)
    (tmp_path / "media/b.png").write_bytes(PNG)
    a = adapter(tmp_path, fake.url, http)
    one = a.publish(
        rendered("Une photo", [Media("media/a.jpg", "Le stand")]), MemoryProgress({}, [])
    )
    assert one.outcome == Outcome.PUBLISHED, one.reason
    media = fake.posts[0]["content"]["media"]
    assert media["altText"] == "Le stand" and fake.image(media["id"])["data"] == JPEG
    two = a.publish(
        rendered(
            "Deux photos", [Media("media/a.jpg", "Le stand"), Media("media/b.png", "La salle")]
        ),
        MemoryProgress({}, []),
    )
    assert two.outcome == Outcome.PUBLISHED, two.reason
    images = fake.posts[1]["content"]["multiImage"]["images"]
    assert [i["altText"] for i in images] == ["Le stand", "La salle"]
    inits = fake.requests_to("POST", r"^/rest/images$")
    assert all(r.query["action"] == "initializeUpload" for r in inits) and len(inits) == 3


def test_lost_answer_is_reconciled_from_the_authors_posts(
    tmp_path: Path, fake: FakeLinkedIn, http: Http
) -> None:
    with FaultProxy(fake.url) as proxy:
        a = adapter(tmp_path, proxy.url, http)
        proxy.inject("POST", POSTS, drop_after_commit())
        p = MemoryProgress({}, [])
        r = rendered("Retour sur l'atelier (photos) #communauté")
        first = a.publish(r, p)
        assert first.outcome == Outcome.UNKNOWN, first.reason
        fake.add_post("Un autre post, à la main")  # the latest post is not ours
        found = a.reconcile(r, p)
        assert found.outcome == Outcome.PUBLISHED, found.reason
        assert found.remote_id == fake.posts[0]["id"]
        finder = [req for req in fake.requests_to("GET", POSTS)]
        assert finder and finder[0].headers["x-restli-method"] == "FINDER"
        assert finder[0].query["q"] == "author" and finder[0].query["author"] == AUTHOR
        assert proxy.count("POST", POSTS) == 1


def test_reconcile_proves_absence(tmp_path: Path, fake: FakeLinkedIn, http: Http) -> None:
    fake.add_post("Ancien", at=fake.now() - 86400)
    a = adapter(tmp_path, fake.url, http)
    p = MemoryProgress({}, [])
    p.started_at = datetime.now(UTC) - timedelta(minutes=40)
    assert a.reconcile(rendered("Jamais arrivé"), p).outcome == Outcome.ABSENT


def test_duplicate_post_of_our_own_attempt_is_adopted_from_its_urn(
    tmp_path: Path, fake: FakeLinkedIn, http: Http
) -> None:
    claimed = datetime.now(UTC) - timedelta(minutes=1)
    urn = fake.add_post(little("Lancement (enfin) #podcast"))
    a = adapter(tmp_path, fake.url, http)
    p = MemoryProgress({}, [])
    p.started_at = claimed
    result = a.publish(rendered("Lancement (enfin) #podcast"), p)
    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert result.remote_id == urn and fake.created == 0
    assert fake.requests_to("GET", r"^/rest/posts/urn")  # the URN was read back


def test_duplicate_of_an_older_or_deleted_post_fails_without_adopting_it(
    tmp_path: Path, fake: FakeLinkedIn, http: Http
) -> None:
    old = fake.add_post(little("Bonne année"), at=fake.now() - 7 * 86400)
    a = adapter(tmp_path, fake.url, http)
    p = MemoryProgress({}, [])
    p.started_at = datetime.now(UTC)
    older = a.publish(rendered("Bonne année"), p)
    assert older.outcome == Outcome.FAILED and old in (older.reason or "") and p.done == []
    fake.delete(old)  # a ghost URN: LinkedIn still calls it a duplicate
    ghost = a.publish(rendered("Bonne année"), MemoryProgress({}, []))
    assert ghost.outcome == Outcome.FAILED and "no longer exists" in (ghost.reason or "")


def test_daily_rate_limit_defers_until_midnight_utc(
    tmp_path: Path, fake: FakeLinkedIn, http: Http
) -> None:
    fake.inject("POST", POSTS, FakeLinkedIn.throttled_fault())
    a = adapter(tmp_path, fake.url, http)
    result = a.publish(rendered("Quota atteint"), MemoryProgress({}, []))
    assert result.outcome == Outcome.RETRY
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert result.retry_after is not None
    assert abs(result.retry_after - (midnight - now).total_seconds()) < 60


# -- cmflow publish, end to end ---------------------------------------------------------------


def li_site(tmp_path: Path, fake: FakeLinkedIn, posts: dict[str, str], **more: Any) -> Any:
    channels: dict[str, Any] = {
        "li": {
            "platform": "linkedin",
            "base_url": f"{fake.url}/rest",
            "author": AUTHOR,
            "token_env": ENV,
        },
        **more,
    }
    return site(tmp_path / "repo", channels, posts, env={ENV: TOKEN}, secrets=[TOKEN])


def test_expired_token_defers_linkedin_and_the_other_channels_go_on(
    tmp_path: Path, fake: FakeLinkedIn
) -> None:
    fake.expired_tokens.add(TOKEN)
    s = li_site(
        tmp_path,
        fake,
        {"a.md": post(["li", "site"], "Token expiré")},
        site={"platform": "feed", "output_dir": "public"},
    )
    result = s.publish()
    assert result.code == 1, result
    assert "EXPIRED_ACCESS_TOKEN" in result.stdout and ENV in result.stdout
    assert s.state("a", "li") == "deferred" and s.state("a", "site") == "published"
    fake.expired_tokens.clear()
    again = s.publish(at=from_now(minutes=1))
    assert again.code == 0, again
    assert fake.created == 1 and s.state("a", "li") == "published"
    s.assert_no_secret()


def test_rate_limited_channel_is_deferred_not_the_run(tmp_path: Path, fake: FakeLinkedIn) -> None:
    fake.daily_quota = 0
    s = li_site(
        tmp_path,
        fake,
        {"a.md": post(["li", "site"], "Premier"), "b.md": post(["li"], "Second")},
        site={"platform": "feed", "output_dir": "public"},
    )
    result = s.publish()
    assert s.state("a", "site") == "published"
    assert s.state("a", "li") == "deferred" and s.state("b", "li") == "deferred"
    # One refused request, then the channel waits: the second post is not even tried.
    assert len(fake.requests_to("POST", POSTS)) == 1
    entry = s.record("a", "li")
    assert entry is not None and entry["not_before"].endswith("T00:00:00Z"), entry
    assert result.code == 0, result
