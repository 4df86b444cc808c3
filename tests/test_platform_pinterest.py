"""The Pinterest adapter against FakePinterest (tests/fakes/pinterest.py) over real loopback
HTTP, and `cmflow publish` end to end: image Pins (by URL or uploaded), video Pins through the
media upload flow, a lost answer reconciled from the board by content (never "the latest
Pin"), 429 with X-RateLimit headers, and an expired token."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cmflow import config as cfg
from cmflow.http import Http
from cmflow.model import Link, Media, Part, Rendered
from cmflow.platforms.base import Context, Outcome
from cmflow.platforms.pinterest import Adapter
from tests.fakes import FakePinterest, FaultProxy, drop_after_commit
from tests.media_samples import JPEG, PNG, iso_bmff
from tests.publishing import from_now, post, site
from tests.test_platform_mastodon import MemoryProgress

TOKEN = "pina_S3cr3t-token-AbCdEf0123"
ENV = "CMFLOW_PINTEREST_TOKEN"
BOARD = "549755885175"
PINS = r"^/v5/pins$"
MP4 = iso_bmff(b"isom", b"isom", b"mp41") + b"\x00" * 64
LINK = "https://brulerie.example/ethiopie?utm_source=pins"
TEXT = f"Notre café d'Éthiopie, torréfié cette semaine. {LINK}"


@pytest.fixture
def fake() -> Iterator[FakePinterest]:
    with FakePinterest(token=TOKEN, boards=(BOARD, "999")) as server:
        yield server
        assert not server.errors


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=1.0) as client:
        yield client


def adapter(root: Path, base_url: str, http: Http, token: str = TOKEN, **extra: str) -> Adapter:
    lines = "".join(f"    {k}: {v}\n" for k, v in extra.items())
    (root / "channels.yaml").write_text(
        f"channels:\n  pins:\n    platform: pinterest\n    base_url: {base_url}/v5\n"
        f"    board_id: '{BOARD}'\n    token_env: {ENV}\n{lines}",
        encoding="utf-8",
    )
    (root / "media").mkdir(exist_ok=True)
    (root / "media/ethiopie.png").write_bytes(PNG)
    (root / "media/ethiopie.jpg").write_bytes(JPEG)
    (root / "media/torrefaction.mp4").write_bytes(MP4)
    config = cfg.load(root)
    return Adapter(Context(config.channels["pins"], root, http, {"token_env": token}))


def pin(*media: Media, text: str = TEXT, title: str | None = "Café d'Éthiopie") -> Rendered:
    start = text.find("https://")
    links = [Link(start, len(text), text[start:])] if start >= 0 else []
    return Rendered("ethiopie", "pins", "pinterest", [Part(text, list(media), links)], title=title)


IMAGE = Media("media/ethiopie.png", "Sac de café vert")


def test_image_pin_is_uploaded_with_title_link_and_alt_text(
    tmp_path: Path, fake: FakePinterest, http: Http
) -> None:
    a = adapter(tmp_path, fake.url, http)
    result = a.publish(pin(IMAGE), MemoryProgress({}, []))
    assert result.outcome == Outcome.PUBLISHED, result.reason
    sent = fake.requests_to("POST", PINS)[0]
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    body = sent.json
    assert body["board_id"] == BOARD and body["title"] == "Café d'Éthiopie"
    assert body["description"] == TEXT and body["link"] == LINK
    assert body["alt_text"] == "Sac de café vert"
    source = body["media_source"]
    assert source["source_type"] == "image_base64" and source["content_type"] == "image/png"
    assert base64.b64decode(source["data"]) == PNG
    pin_id = fake.pins(BOARD)[0]["id"]
    assert result.remote_id == pin_id
    assert result.url == f"https://www.pinterest.com/pin/{pin_id}/"


def test_image_is_linked_from_media_base_url(
    tmp_path: Path, fake: FakePinterest, http: Http
) -> None:
    a = adapter(tmp_path, fake.url, http, media_base_url="https://brulerie.example/media")
    result = a.publish(pin(Media("media/ethiopie.jpg")), MemoryProgress({}, []))
    assert result.outcome == Outcome.PUBLISHED, result.reason
    source = fake.requests_to("POST", PINS)[0].json["media_source"]
    assert source == {
        "source_type": "image_url",
        "url": "https://brulerie.example/media/ethiopie.jpg",
    }


def test_video_pin_goes_through_the_media_upload_flow(
    tmp_path: Path, fake: FakePinterest, http: Http
) -> None:
    a = adapter(tmp_path, fake.url, http, media_base_url="https://brulerie.example/media")
    result = a.publish(
        pin(Media("media/torrefaction.mp4"), Media("media/ethiopie.jpg")), MemoryProgress({}, [])
    )
    assert result.outcome == Outcome.PUBLISHED, result.reason
    [media_id] = fake.uploads
    assert fake.uploads[media_id] == MP4
    upload = fake.requests_to("POST", r"^/upload/")[0]
    assert "authorization" not in upload.headers  # the storage URL is signed, not ours
    polls = fake.requests_to("GET", rf"^/v5/media/{media_id}$")
    assert len(polls) == fake.processing_polls + 1
    source = fake.requests_to("POST", PINS)[0].json["media_source"]
    assert source == {
        "source_type": "video_id",
        "media_id": media_id,
        "cover_image_url": "https://brulerie.example/media/ethiopie.jpg",
    }
    assert fake.pins(BOARD)[0]["media"]["media_type"] == "video"


def test_lost_answer_is_reconciled_by_content_not_by_the_latest_pin(
    tmp_path: Path, fake: FakePinterest, http: Http
) -> None:
    with FaultProxy(fake.url) as proxy:
        a = adapter(tmp_path, proxy.url, http)
        proxy.inject("POST", PINS, drop_after_commit())
        p = MemoryProgress({}, [])
        first = a.publish(pin(IMAGE), p)
        assert first.outcome == Outcome.UNKNOWN, first.reason
        ours = fake.pins(BOARD)[0]["id"]
        fake.add_pin(BOARD, title="Autre", description="épinglé à la main", link=LINK)
        found = a.reconcile(pin(IMAGE), p)
        assert found.outcome == Outcome.PUBLISHED, found.reason
        assert found.remote_id == ours
        assert proxy.count("POST", PINS) == 1


def test_reconcile_proves_absence_when_the_board_has_only_other_pins(
    tmp_path: Path, fake: FakePinterest, http: Http
) -> None:
    for i in range(130):  # more than one page
        fake.add_pin(BOARD, title=f"Pin {i}", description=f"texte {i}", link=LINK)
    a = adapter(tmp_path, fake.url, http)
    p = MemoryProgress({}, [])
    p.started_at = datetime.now(UTC) - timedelta(minutes=5)
    result = a.reconcile(pin(IMAGE), p)
    assert result.outcome == Outcome.ABSENT, result.reason
    assert len(fake.requests_to("GET", rf"^/v5/boards/{BOARD}/pins$")) == 2


def test_rate_limit_defers_with_the_reset_time(
    tmp_path: Path, fake: FakePinterest, http: Http
) -> None:
    fake.rate_limit(0, reset_in=900)
    a = adapter(tmp_path, fake.url, http)
    result = a.publish(pin(IMAGE), MemoryProgress({}, []))
    assert result.outcome == Outcome.RETRY, result.reason
    assert result.retry_after is not None and 800 <= result.retry_after <= 900
    assert fake.created == 0


def test_expired_token_needs_new_credentials(
    tmp_path: Path, fake: FakePinterest, http: Http
) -> None:
    fake.echo_secrets = True
    a = adapter(tmp_path, fake.url, http, token="pina_expired-0000")
    result = a.publish(pin(IMAGE), MemoryProgress({}, []))
    assert result.outcome == Outcome.FAILED and result.needs_reauth
    assert ENV in (result.reason or "") and "pina_expired-0000" not in (result.reason or "")


def test_refused_pin_fails_with_pinterests_message(
    tmp_path: Path, fake: FakePinterest, http: Http
) -> None:
    a = adapter(tmp_path, fake.url, http)
    a.board_id = "123"  # a board that is not the user's
    result = a.publish(pin(IMAGE), MemoryProgress({}, []))
    assert result.outcome == Outcome.FAILED
    assert "Board not found. (code 3)" in (result.reason or "")


# -- cmflow publish, end to end ---------------------------------------------------------------


def pins_site(tmp_path: Path, fake: FakePinterest, posts: dict[str, str], **extra: Any) -> Any:
    channels = {
        "pins": {
            "platform": "pinterest",
            "base_url": f"{fake.url}/v5",
            "board_id": BOARD,
            "token_env": ENV,
            **extra,
        },
        "site": {
            "platform": "feed",
            "output_dir": "public",
            "site_url": "https://brulerie.example/actus",
        },
    }
    return site(
        tmp_path / "repo",
        channels,
        posts,
        env={ENV: TOKEN},
        secrets=[TOKEN],
        media={"media/ethiopie.png": PNG},
        editorial_line={
            "link_tracking": {"domains": ["brulerie.example"], "utm_source": "{channel}"}
        },
    )


def test_publish_pins_once_with_the_site_page_as_tagged_link(
    tmp_path: Path, fake: FakePinterest
) -> None:
    s = pins_site(
        tmp_path,
        fake,
        {
            "ethiopie.md": post(
                ["pins", "site"],
                "Notre café d'Éthiopie, torréfié cette semaine.",
                title="Café d'Éthiopie",
                media=[{"path": "media/ethiopie.png", "alt": "Sac de café"}],
            )
        },
    )
    run = s.publish()
    assert run.code == 0, run
    [created] = fake.posts
    assert created["link"] == "https://brulerie.example/actus/ethiopie/?utm_source=pins"
    record = s.record("ethiopie", "pins")
    assert record is not None and record["parts"][0]["id"] == created["id"]
    assert s.publish(at=from_now(minutes=1)).code == 0
    assert fake.created == 1
    s.assert_no_secret()


def test_validate_checks_pinterest_limits(tmp_path: Path, fake: FakePinterest) -> None:
    s = pins_site(
        tmp_path,
        fake,
        {
            "a.md": post(
                ["pins"],
                "x" * 801,
                title="T" * 101,
                date=datetime(2030, 1, 1, tzinfo=UTC),
                media=[{"path": "media/ethiopie.png"}],
            )
        },
    )
    result = s.run("validate", "--format", "json", "--at", "2029-01-01T00:00:00Z")
    rules = sorted(f["rule"] for f in result.json()["findings"] if f["level"] == "error")
    assert rules == ["channel.max-length", "channel.max-length"], result
