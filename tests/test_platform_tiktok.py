"""The TikTok adapter against FakeTikTok (tests/fakes/tiktok.py) over loopback HTTP, and
`cmflow publish` / `plan` end to end: creator info first, chunked file upload, photo posts
pulled from a verified URL, status polling, the audit restriction, rate limits, a refused
token, and a publisher killed while polling."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cmflow import config as cfg
from cmflow.http import Http
from cmflow.model import Media, Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult
from cmflow.platforms.tiktok import Adapter, chunk_size
from tests.fakes.tiktok import FakeTikTok
from tests.media_samples import JPEG
from tests.mp4 import mp4
from tests.publishing import (
    from_now,
    init_remote,
    post,
    pushed_site,
    remote_record,
    site,
    wait_until,
)

TOKEN = "act.S3cr3t-tiktok-user-token-0c4f"
ENV = "CMFLOW_TIKTOK_TOKEN"
MIB = 1024 * 1024
INIT = r"^/v2/post/publish/video/init/$"
STATUS = r"^/v2/post/publish/status/fetch/$"
UPLOAD = r"^/upload/video/$"


@dataclass
class MemProgress:
    handles: dict[str, Any] = field(default_factory=dict)
    done: list[PartResult] = field(default_factory=list)
    started_at: datetime | None = None

    def part_started(self, index: int) -> None:
        self.started_at = datetime.now(UTC)

    def part_done(self, index: int, result: PartResult) -> None:
        self.done.append(result)

    def keep(self, **handles: Any) -> None:
        for k, v in handles.items():
            if v is None:
                self.handles.pop(k, None)
            else:
                self.handles[k] = v


@pytest.fixture
def fake() -> Iterator[FakeTikTok]:
    with FakeTikTok(token=TOKEN) as server:
        yield server
        assert not server.errors


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=5.0) as client:
        yield client


def channel(fake: FakeTikTok, **extra: Any) -> dict[str, Any]:
    return {
        "platform": "tiktok",
        "base_url": fake.url,
        "token_env": ENV,
        "poll_interval": 0,
        **extra,
    }


def make_adapter(root: Path, fake: FakeTikTok, http: Http, **extra: Any) -> Adapter:
    s = site(root, {"tt": channel(fake, **extra)}, {})
    config = cfg.load(s.root)
    return Adapter(Context(config.channels["tt"], s.root, http, {"token_env": TOKEN}))


def rendered(
    root: Path, files: dict[str, bytes], text: str = "L'atelier en 30 secondes #atelier"
) -> Rendered:
    (root / "media").mkdir(parents=True, exist_ok=True)
    media = []
    for name, data in files.items():
        (root / "media" / name).write_bytes(data)
        media.append(Media(f"media/{name}", "Vidéo"))
    return Rendered("atelier", "tt", "tiktok", [Part(text, media)], title="L'atelier")


CLIP = mp4(30, 1920, 1080, rotation=90)


def test_creator_info_first_then_one_piece_upload_then_status_until_complete(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    fake.polls_to_complete = 3
    a = make_adapter(tmp_path / "repo", fake, http)
    p = MemProgress()
    result = a.publish(rendered(tmp_path / "repo", {"clip.mp4": CLIP}), p)
    assert result.outcome == Outcome.PUBLISHED, result.reason
    paths = [r.path for r in fake.requests]
    assert paths[0] == "/v2/post/publish/creator_info/query/"
    assert paths[1] == "/v2/post/publish/video/init/"
    init = fake.requests_to("POST", INIT)[0].json
    assert init["source_info"] == {
        "source": "FILE_UPLOAD",
        "video_size": len(CLIP),
        "chunk_size": len(CLIP),
        "total_chunk_count": 1,
    }
    info = init["post_info"]
    assert info["title"] == "L'atelier en 30 secondes #atelier"
    assert info["privacy_level"] == "SELF_ONLY"  # the default: all an unaudited app may do
    assert info["disable_duet"] is True  # the creator turned duets off
    assert info["disable_comment"] is False and info["brand_content_toggle"] is False
    [put] = fake.requests_to("PUT", UPLOAD)
    assert put.headers["content-range"] == f"bytes 0-{len(CLIP) - 1}/{len(CLIP)}"
    assert "authorization" not in put.headers  # the upload URL is its own credential
    assert len(fake.requests_to("POST", STATUS)) == 3
    [made] = fake.posts
    # A private post has no public id yet: the publish_id stands in for it.
    assert result.remote_id == made["publish_id"] and result.url is None
    assert "upload_url" not in p.handles and p.handles["publish_id"] == made["publish_id"]


def test_a_big_file_goes_in_chunks_the_remainder_on_the_last(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    big = mp4(30, 1080, 1920, data_bytes=11 * MIB)
    size = len(big)
    assert chunk_size(size) == 5 * MIB
    fake.audited = True
    a = make_adapter(tmp_path / "repo", fake, http, privacy="public")
    result = a.publish(rendered(tmp_path / "repo", {"big.mp4": big}), MemProgress())
    assert result.outcome == Outcome.PUBLISHED, result.reason
    init = fake.requests_to("POST", INIT)[0].json["source_info"]
    assert (init["chunk_size"], init["total_chunk_count"]) == (5 * MIB, 2)
    ranges = [r.headers["content-range"] for r in fake.requests_to("PUT", UPLOAD)]
    assert ranges == [f"bytes 0-{5 * MIB - 1}/{size}", f"bytes {5 * MIB}-{size - 1}/{size}"]
    [made] = fake.posts
    assert made["bytes"] == size
    assert result.url == f"https://www.tiktok.com/@marque/video/{made['id']}"


def test_privacy_the_account_does_not_offer_is_refused_before_anything_is_sent(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    fake.privacy_options = ["FOLLOWER_OF_CREATOR", "SELF_ONLY"]
    a = make_adapter(tmp_path / "repo", fake, http, privacy="public")
    result = a.publish(rendered(tmp_path / "repo", {"clip.mp4": CLIP}), MemProgress())
    assert result.outcome == Outcome.FAILED
    assert "allows privacy followers, private, not public" in (result.reason or "")
    assert fake.requests_to("POST", INIT) == []


def test_an_unaudited_app_posting_publicly_is_told_why(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http, privacy="public")
    result = a.publish(rendered(tmp_path / "repo", {"clip.mp4": CLIP}), MemProgress())
    assert result.outcome == Outcome.FAILED
    assert "unaudited_client_can_only_post_to_private_accounts" in (result.reason or "")
    assert "may only post privately" in (result.reason or "")
    assert fake.created == 0


def test_a_video_longer_than_the_account_may_post(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    fake.max_duration = 15
    a = make_adapter(tmp_path / "repo", fake, http)
    result = a.publish(rendered(tmp_path / "repo", {"clip.mp4": CLIP}), MemProgress())
    assert result.outcome == Outcome.FAILED
    assert "lasts 30 s; this TikTok account may post videos of at most 15 s" in (
        result.reason or ""
    )
    assert fake.requests_to("POST", INIT) == []


def test_status_failed_is_a_refusal_with_tiktoks_reason(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    fake.fail_reason = "frame_rate_check_failed"
    a = make_adapter(tmp_path / "repo", fake, http)
    p = MemProgress()
    result = a.publish(rendered(tmp_path / "repo", {"clip.mp4": CLIP}), p)
    assert result.outcome == Outcome.FAILED
    assert "frame_rate_check_failed" in (result.reason or "")
    assert "publish_id" not in p.handles and fake.created == 0


def test_rate_limit_defers_and_the_error_body_is_read(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    fake.limits["init"] = (0, 60.0)
    a = make_adapter(tmp_path / "repo", fake, http)
    result = a.publish(rendered(tmp_path / "repo", {"clip.mp4": CLIP}), MemProgress())
    assert result.outcome == Outcome.RETRY
    assert "rate_limit_exceeded" in (result.reason or "")
    assert fake.created == 0


def test_refused_token_names_the_variable(tmp_path: Path, fake: FakeTikTok, http: Http) -> None:
    fake.tokens = {"other"}
    a = make_adapter(tmp_path / "repo", fake, http)
    result = a.publish(rendered(tmp_path / "repo", {"clip.mp4": CLIP}), MemProgress())
    assert result.outcome == Outcome.FAILED and result.needs_reauth
    assert ENV in (result.reason or "") and TOKEN not in (result.reason or "")
    assert "access_token_invalid" in (result.reason or "")


def test_photos_are_pulled_from_the_verified_media_url(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http, media_base_url="https://example.fr/media")
    r = rendered(
        tmp_path / "repo", {"un.jpg": JPEG, "deux été.jpg": JPEG}, "Deux photos de l'atelier"
    )
    result = a.publish(r, MemProgress())
    assert result.outcome == Outcome.PUBLISHED, result.reason
    body = fake.requests_to("POST", r"^/v2/post/publish/content/init/$")[0].json
    assert body["media_type"] == "PHOTO" and body["post_mode"] == "DIRECT_POST"
    assert body["source_info"]["photo_images"] == [
        "https://example.fr/media/un.jpg",
        "https://example.fr/media/deux%20%C3%A9t%C3%A9.jpg",
    ]
    assert body["post_info"]["title"] == "L'atelier"
    assert body["post_info"]["description"] == "Deux photos de l'atelier"
    [made] = fake.posts
    assert made["media"] == "photo"


def test_photos_without_a_public_url_are_refused(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http)
    result = a.publish(rendered(tmp_path / "repo", {"un.jpg": JPEG}), MemProgress())
    assert result.outcome == Outcome.FAILED and "media_base_url" in (result.reason or "")


def test_a_video_and_photos_together_are_refused(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http)
    result = a.publish(
        rendered(tmp_path / "repo", {"clip.mp4": CLIP, "un.jpg": JPEG}), MemProgress()
    )
    assert result.outcome == Outcome.FAILED and "one video or up to 35 photos" in (
        result.reason or ""
    )


def test_reconcile_follows_the_recorded_publish_never_posts_again(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http)
    r = rendered(tmp_path / "repo", {"clip.mp4": CLIP})
    assert a.reconcile(r, MemProgress()).outcome == Outcome.ABSENT  # never started
    pull = MemProgress({"initiating": "pull"})
    assert a.reconcile(r, pull).outcome == Outcome.UNKNOWN  # a pull TikTok may have taken


# -- end to end -------------------------------------------------------------------------------


def tt_site(tmp_path: Path, fake: FakeTikTok, **extra: Any) -> Any:
    remote = init_remote(tmp_path / "remote.git")
    s = pushed_site(
        remote,
        tmp_path / "repo",
        {"tt": channel(fake, **extra)},
        {
            "atelier.md": post(
                ["tt"],
                "L'atelier en 30 secondes",
                media=[{"path": "media/clip.mp4", "alt": "Vidéo"}],
            )
        },
        env={ENV: TOKEN},
        secrets=[TOKEN],
        media={"media/clip.mp4": CLIP},
    )
    return s, remote


def test_killed_while_polling_the_next_run_polls_the_same_publish_one_post(
    tmp_path: Path, fake: FakeTikTok
) -> None:
    s, remote = tt_site(tmp_path, fake, poll_interval=1)
    fake.polls_to_complete = 10**6  # TikTok keeps processing while the run polls
    running = s.start("publish", "--commit")
    wait_until(lambda: len(fake.requests_to("POST", STATUS)) >= 2, what="status polls")
    assert running.kill().code == -9
    entry = s.record("atelier", "tt")
    assert entry is not None and entry["state"] == "claimed"
    publish_id = entry["handles"]["publish_id"]
    fake.polls_to_complete = 1

    again = s.publish("--commit", at=from_now(minutes=31))
    assert again.code == 0, again
    assert len(fake.requests_to("POST", INIT)) == 1 and len(fake.requests_to("PUT", UPLOAD)) == 1
    assert fake.created == 1 and fake.posts[0]["publish_id"] == publish_id
    pushed = remote_record(remote, "atelier", "tt")
    assert pushed is not None and pushed["state"] == "published"
    assert pushed["parts"][0]["extra"]["publish_id"] == publish_id
    s.assert_no_secret()


def test_plan_says_an_unaudited_app_posts_privately(tmp_path: Path, fake: FakeTikTok) -> None:
    s, _ = tt_site(tmp_path, fake)
    text = s.run("plan")
    assert text.code == 0, text
    assert "can only post privately (SELF_ONLY)" in text.stdout
    assert any("SELF_ONLY" in n for n in s.plan()["notes"])


def test_validate_checks_tiktok_video_limits(tmp_path: Path, fake: FakeTikTok) -> None:
    s = site(
        tmp_path / "repo",
        {"tt": channel(fake)},
        {"a.md": post(["tt"], "Trop court", media=[{"path": "media/c.mp4", "alt": "V"}])},
        media={"media/c.mp4": mp4(2, 320, 240, video=b"av01")},
    )
    found = [f["message"] for f in s.run("validate", "--format", "json").json()["findings"]]
    assert "media/c.mp4 lasts 0:02; TikTok takes videos from 0:03 to 10:00" in found
    assert any("encoded in av1" in m for m in found)
    assert any("takes at least 360 pixels a side" in m for m in found)


def test_an_interrupted_upload_goes_on_from_the_first_chunk_tiktok_lacks(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    """The second chunk keeps failing: the run stops with the publish_id recorded; the next
    one asks the status (5 MiB uploaded) and sends the second chunk only: one post."""
    big = mp4(30, 1080, 1920, data_bytes=11 * MIB)
    a = make_adapter(tmp_path / "repo", fake, http)
    r = rendered(tmp_path / "repo", {"big.mp4": big})
    p = MemProgress()
    fake.broken_from_chunk = 1
    first = a.publish(r, p)
    assert first.outcome == Outcome.RETRY, first.reason
    assert "internal_error" in (first.reason or "")
    assert "publish_id" in p.handles and "upload_url" in p.handles
    fake.broken_from_chunk = None
    again = a.publish(r, p)
    assert again.outcome == Outcome.PUBLISHED, again.reason
    accepted = [
        q.headers["content-range"]
        for q in fake.requests_to("PUT", UPLOAD)
        if q.status in (201, 206)
    ]
    assert accepted == [
        f"bytes 0-{5 * MIB - 1}/{len(big)}",
        f"bytes {5 * MIB}-{len(big) - 1}/{len(big)}",
    ]
    assert fake.created == 1 and len(fake.requests_to("POST", INIT)) == 1
    assert fake.posts[0]["bytes"] == len(big)


def test_photos_come_from_the_sites_copy_once_it_is_online(
    tmp_path: Path, fake: FakeTikTok, http: Http
) -> None:
    """No `media_base_url`: the photo is the copy a feed channel publishes under its
    site_url; until the site serves it the post waits (TikTok would fail to fetch it)."""
    from tests.fakes import FakeServer, Response

    with FakeServer() as web:
        online: list[bool] = [False]

        def serve(req: Any, match: Any) -> Response:
            if not online[0]:
                return Response(404, b"not yet")
            return Response(200, JPEG, {"Content-Type": "image/jpeg"})

        web.add_route("*", r"/actus/media/.*", serve)
        fake.verified_prefixes.append(f"{web.url}/actus/")
        s = site(
            tmp_path / "repo",
            {
                "tt": channel(fake),
                "site": {
                    "platform": "feed",
                    "output_dir": "public",
                    "site_url": f"{web.url}/actus",
                },
            },
            {},
        )
        config = cfg.load(s.root)
        a = Adapter(
            Context(config.channels["tt"], s.root, http, {"token_env": TOKEN}, config.channels)
        )
        r = rendered(s.root, {"photo été.jpg": JPEG})
        waiting = a.publish(r, MemProgress())
        assert waiting.outcome == Outcome.RETRY and "does not serve" in (waiting.reason or "")
        assert fake.requests_to("POST", r"^/v2/post/publish/content/init/$") == []
        online[0] = True
        result = a.publish(r, MemProgress())
        assert result.outcome == Outcome.PUBLISHED, result.reason
        body = fake.requests_to("POST", r"^/v2/post/publish/content/init/$")[0].json
        # The feed's own name for the copy (cmflow.platforms.feed.public_media_url).
        assert body["source_info"]["photo_images"] == [f"{web.url}/actus/media/photo-t-.jpg"]
        assert all("authorization" not in q.headers for q in web.requests)
