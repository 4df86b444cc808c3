"""The dev.to adapter against FakeDevto (tests/fakes/devto.py) over real loopback HTTP, and
`cmflow publish` end to end: the article as written (Markdown, title, tags, series), the site
page as canonical URL, reconciliation, "has already been taken", the write throttle and a
revoked key; dev.to's limits in `cmflow validate`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cmflow import config as cfg
from cmflow.http import Http
from cmflow.model import Part, Rendered
from cmflow.platforms.base import Context, Outcome
from cmflow.platforms.devto import Adapter
from tests.fakes import FakeDevto, FaultProxy, drop_after_commit
from tests.publishing import from_now, iso, post, site
from tests.test_platform_mastodon import MemoryProgress

KEY = "devto-S3cr3t-api-key-77c1"
ENV = "CMFLOW_DEVTO_API_KEY"
ARTICLES = r"^/api/articles$"
BODY = "## Pourquoi\n\nUn **atelier** pour apprendre.\n\n```python\nprint('bonjour')\n```"


@pytest.fixture
def fake() -> Iterator[FakeDevto]:
    with FakeDevto(api_key=KEY) as server:
        yield server
        assert not server.errors


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=1.0) as client:
        yield client


def adapter(root: Path, base_url: str, http: Http, key: str = KEY) -> Adapter:
    (root / "channels.yaml").write_text(
        f"channels:\n  dev:\n    platform: devto\n    base_url: {base_url}/api\n"
        f"    token_env: {ENV}\n",
        encoding="utf-8",
    )
    config = cfg.load(root)
    return Adapter(Context(config.channels["dev"], root, http, {"token_env": key}))


def article(body: str = BODY, title: str = "Atelier CM", **extra: Any) -> Rendered:
    return Rendered("post-1", "dev", "devto", [Part(body)], title=title, **extra)


def test_article_is_published_with_key_title_tags_and_series(
    tmp_path: Path, fake: FakeDevto, http: Http
) -> None:
    a = adapter(tmp_path, fake.url, http)
    r = article(tags=["communaute", "#python"], series="Ateliers 2026")
    result = a.publish(r, MemoryProgress({}, []))
    assert result.outcome == Outcome.PUBLISHED, result.reason
    sent = fake.requests_to("POST", ARTICLES)[0]
    assert sent.headers["api-key"] == KEY
    assert sent.headers["accept"] == "application/vnd.forem.api-v1+json"
    assert sent.json == {
        "article": {
            "title": "Atelier CM",
            "body_markdown": BODY,
            "published": True,
            "tags": ["communaute", "python"],
            "series": "Ateliers 2026",
        }
    }
    assert result.remote_id == str(fake.posts[0]["id"]) and result.url == fake.posts[0]["url"]


def test_lost_answer_is_reconciled_from_the_accounts_articles(
    tmp_path: Path, fake: FakeDevto, http: Http
) -> None:
    fake.add_article("Autre article", "écrit à la main")
    with FaultProxy(fake.url) as proxy:
        a = adapter(tmp_path, proxy.url, http)
        proxy.inject("POST", ARTICLES, drop_after_commit())
        p = MemoryProgress({}, [])
        first = a.publish(article(), p)
        assert first.outcome == Outcome.UNKNOWN, first.reason
        found = a.reconcile(article(), p)
        assert found.outcome == Outcome.PUBLISHED, found.reason
        assert found.remote_id == str(fake.posts[0]["id"])
        assert proxy.count("POST", ARTICLES) == 1


def test_reconcile_proves_absence_after_reading_every_article(
    tmp_path: Path, fake: FakeDevto, http: Http
) -> None:
    fake.add_article("Atelier CM", BODY, at=fake.now() - 86400)  # same text, a day older
    a = adapter(tmp_path, fake.url, http)
    p = MemoryProgress({}, [])
    p.started_at = datetime.now(UTC) - timedelta(minutes=40)
    assert a.reconcile(article(), p).outcome == Outcome.ABSENT


def test_already_taken_by_an_older_article_fails_without_adopting_it(
    tmp_path: Path, fake: FakeDevto, http: Http
) -> None:
    fake.add_article("Atelier CM", BODY, at=fake.now() - 86400)
    a = adapter(tmp_path, fake.url, http)
    p = MemoryProgress({}, [])
    p.started_at = datetime.now(UTC)
    result = a.publish(article(), p)
    assert result.outcome == Outcome.FAILED
    assert "has already been taken" in (result.reason or "") and p.done == []


def test_write_throttle_is_waited_out_in_the_run(
    tmp_path: Path, fake: FakeDevto, http: Http
) -> None:
    a = adapter(tmp_path, fake.url, http)
    one = a.publish(article(title="Un"), MemoryProgress({}, []))
    two = a.publish(article(title="Deux"), MemoryProgress({}, []))
    assert one.outcome == two.outcome == Outcome.PUBLISHED, two.reason
    statuses = [r.status for r in fake.requests_to("POST", ARTICLES)]
    assert statuses == [201, 429, 201] and fake.created == 2


def test_revoked_key_needs_new_credentials(tmp_path: Path, fake: FakeDevto, http: Http) -> None:
    fake.echo_secrets = True
    a = adapter(tmp_path, fake.url, http, key="devto-revoked-key-0000")
    result = a.publish(article(), MemoryProgress({}, []))
    assert result.outcome == Outcome.FAILED and result.needs_reauth
    assert ENV in (result.reason or "") and "devto-revoked-key-0000" not in (result.reason or "")


# -- cmflow publish, end to end ---------------------------------------------------------------


def dev_site(tmp_path: Path, fake: FakeDevto, posts: dict[str, str]) -> Any:
    channels = {
        "dev": {"platform": "devto", "base_url": f"{fake.url}/api", "token_env": ENV},
        "site": {
            "platform": "feed",
            "output_dir": "public",
            "site_url": "https://example.fr/actus",
        },
    }
    return site(tmp_path / "repo", channels, posts, env={ENV: KEY}, secrets=[KEY])


def test_canonical_url_is_the_site_page_and_a_resend_is_recognised_by_it(
    tmp_path: Path, fake: FakeDevto
) -> None:
    s = dev_site(
        tmp_path,
        fake,
        {
            "atelier.md": post(["dev", "site"], BODY, title="Atelier CM", tags=["cm"]),
            "seul.md": post(["dev"], "Sans page", title="Seul"),
        },
    )
    result = s.publish()
    assert result.code == 0, result
    by_title = {p["title"]: p for p in fake.posts}
    assert by_title["Atelier CM"]["canonical_url"] == "https://example.fr/actus/atelier/"
    assert by_title["Atelier CM"]["body_markdown"] == BODY
    sent = {
        r.json["article"]["title"]: r.json["article"] for r in fake.requests_to("POST", ARTICLES)
    }
    assert "canonical_url" not in sent["Seul"]  # no site page for it: dev.to's own URL
    record = s.record("atelier", "dev")
    assert record is not None and record["parts"][0]["url"] == by_title["Atelier CM"]["url"]

    # The record is lost (e.g. a push that never happened): the next run sends again, dev.to
    # says the canonical URL is taken, and the article with it is adopted, not duplicated.
    (s.root / "data/record/atelier/dev.json").unlink()
    again = s.publish(at=from_now(minutes=1))
    assert again.code == 0, again
    assert fake.created == 2
    record = s.record("atelier", "dev")
    assert record is not None and record["state"] == "published"
    assert record["parts"][0]["id"] == str(by_title["Atelier CM"]["id"])
    s.assert_no_secret()


@pytest.mark.parametrize(
    ("front", "rule", "expected"),
    [
        ({"tags": ["a", "b", "c", "d", "e"]}, "channel.max-hashtags", "5 tags"),
        ({"title": "T" * 129}, "channel.max-length", "129/128"),
    ],
)
def test_validate_checks_devto_limits(
    tmp_path: Path, fake: FakeDevto, front: dict[str, Any], rule: str, expected: str
) -> None:
    meta: dict[str, Any] = {"title": "Titre", **front}
    s = dev_site(
        tmp_path,
        fake,
        {"a.md": post(["dev"], "Corps", date=datetime(2030, 1, 1, tzinfo=UTC), **meta)},
    )
    result = s.run("validate", "--format", "json", "--at", iso(datetime(2029, 1, 1, tzinfo=UTC)))
    found = [f for f in result.json()["findings"] if f["level"] == "error"]
    assert [f["rule"] for f in found] == [rule] and expected in found[0]["message"], found
