"""The YouTube adapter against FakeYouTube (tests/fakes/youtube.py) over loopback HTTP, and
`cmflow publish` end to end with a bare git remote: resumable chunked uploads, a chunk lost
in transit, a publisher killed mid-upload (and right after the last chunk), reconciliation by
the description's marker, thumbnail and playlist, quota deferral, a refused token, Shorts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cmflow import config as cfg
from cmflow.http import Http
from cmflow.model import Media, Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult
from cmflow.platforms.youtube import Adapter, pacific_day
from tests.fakes import drop_after_commit, drop_before
from tests.fakes.youtube import FakeYouTube
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

TOKEN = "ya29.S3cr3t-youtube-access-token-5d1e"
ENV = "CMFLOW_YOUTUBE_TOKEN"
CHUNK = 256 * 1024
PUT = r"^/upload/youtube/v3/videos$"


@dataclass
class MemProgress:
    """The publisher's side of one attempt, in memory; `log` shows what was recorded when
    (and how many requests the server had seen then)."""

    server: FakeYouTube
    handles: dict[str, Any] = field(default_factory=dict)
    done: list[PartResult] = field(default_factory=list)
    started_at: datetime | None = None
    log: list[tuple[str, int]] = field(default_factory=list)

    def part_started(self, index: int) -> None:
        self.started_at = datetime.now(UTC)

    def part_done(self, index: int, result: PartResult) -> None:
        self.done.append(result)
        self.log.append(("done", len(self.server.requests)))

    def keep(self, **handles: Any) -> None:
        for k, v in handles.items():
            if v is None:
                self.handles.pop(k, None)
            else:
                self.handles[k] = v
            self.log.append((f"keep {k}", len(self.server.requests)))


@pytest.fixture
def fake() -> Iterator[FakeYouTube]:
    with FakeYouTube(token=TOKEN) as server:
        yield server
        assert not server.errors


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=2.0) as client:
        yield client


def channel(fake: FakeYouTube, **extra: Any) -> dict[str, Any]:
    return {
        "platform": "youtube",
        "base_url": fake.url,
        "token_env": ENV,
        "chunk_size": CHUNK,
        **extra,
    }


def make_adapter(root: Path, fake: FakeYouTube, http: Http, **extra: Any) -> Adapter:
    s = site(root, {"yt": channel(fake, **extra)}, {})
    config = cfg.load(s.root)
    return Adapter(Context(config.channels["yt"], s.root, http, {"token_env": TOKEN}))


def rendered(root: Path, video: bytes, *, image: bytes | None = None, **kw: Any) -> Rendered:
    (root / "media").mkdir(parents=True, exist_ok=True)
    (root / "media/atelier.mp4").write_bytes(video)
    media = [Media("media/atelier.mp4", "L'atelier")]
    if image is not None:
        (root / "media/vignette.jpg").write_bytes(image)
        media.append(Media("media/vignette.jpg", "Vignette"))
    r = Rendered(
        "atelier",
        "yt",
        "youtube",
        [Part("Retour sur l'atelier de novembre.", media)],
        title="L'atelier en vidéo",
        tags=["#atelier", "communauté"],
    )
    for k, v in kw.items():
        setattr(r, k, v)
    return r


VIDEO = mp4(42, 1920, 1080, data_bytes=3 * CHUNK)  # four chunks of 256 KiB, the last short


def test_resumable_upload_in_chunks_with_the_session_recorded_before_any_byte(
    tmp_path: Path, fake: FakeYouTube, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http, category=22, privacy="unlisted")
    p = MemProgress(fake, a.prepare(rendered(tmp_path / "repo", VIDEO), "k1"))
    r = rendered(tmp_path / "repo", VIDEO)
    result = a.publish(r, p)
    assert result.outcome == Outcome.PUBLISHED, result.reason
    [video] = fake.posts
    assert result.remote_id == video["id"]
    assert result.url == f"https://www.youtube.com/watch?v={video['id']}"
    init = fake.requests_to("POST", PUT)[0]
    assert init.query == {"uploadType": "resumable", "part": "snippet,status"}
    assert init.headers["x-upload-content-length"] == str(len(VIDEO))
    assert init.headers["x-upload-content-type"] == "video/mp4"
    assert init.json["snippet"]["title"] == "L'atelier en vidéo"
    assert init.json["snippet"]["tags"] == ["atelier", "communauté"]
    assert init.json["snippet"]["categoryId"] == "22"
    assert init.json["status"] == {"privacyStatus": "unlisted", "selfDeclaredMadeForKids": False}
    description = init.json["snippet"]["description"]
    assert description.startswith("Retour sur l'atelier de novembre.")
    assert description.endswith(p.handles["marker"]) and p.handles["marker"].startswith("cmflow:")
    ranges = [q.headers["content-range"] for q in fake.requests_to("PUT", PUT)]
    total = len(VIDEO)
    assert ranges == [
        f"bytes 0-{CHUNK - 1}/{total}",
        f"bytes {CHUNK}-{2 * CHUNK - 1}/{total}",
        f"bytes {2 * CHUNK}-{3 * CHUNK - 1}/{total}",
        f"bytes {3 * CHUNK}-{total - 1}/{total}",
    ]
    # The session was recorded right after it was created, before the first chunk.
    first_kept = next(seen for what, seen in p.log if what == "keep upload")
    assert first_kept == 1
    assert "upload" not in p.handles  # dropped once the video exists
    assert p.handles["quota"] == {pacific_day(datetime.now(UTC)): {"units": 0, "uploads": 1}}


def test_a_chunk_lost_in_transit_is_sent_again_from_where_the_server_stands(
    tmp_path: Path, fake: FakeYouTube, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http)
    r = rendered(tmp_path / "repo", VIDEO)
    p = MemProgress(fake, a.prepare(r, "k1"))
    fake.inject("PUT", PUT, drop_before())  # the first chunk never arrives
    fake.inject("PUT", PUT, drop_after_commit())  # ... then one arrives but its answer is lost
    result = a.publish(r, p)
    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 1 and fake.inserts == 1
    assert fake.received == {sid: len(VIDEO) for sid in fake.uploads}
    asked = [
        q for q in fake.requests_to("PUT", PUT) if q.headers["content-range"].startswith("bytes */")
    ]
    assert len(asked) == 2


def test_thumbnail_and_playlist_after_the_video(
    tmp_path: Path, fake: FakeYouTube, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http, playlist="PLatelier0000000001")
    r = rendered(tmp_path / "repo", VIDEO, image=JPEG)
    p = MemProgress(fake, a.prepare(r, "k1"))
    result = a.publish(r, p)
    assert result.outcome == Outcome.PUBLISHED, result.reason
    video_id = fake.posts[0]["id"]
    assert fake.thumbnails[video_id] == JPEG
    assert fake.playlists["PLatelier0000000001"] == [video_id]
    assert p.handles["thumbnail"] == "set" and p.handles["playlist"] == "added"
    assert fake.units == 100


def test_an_unknown_playlist_never_unpublishes_the_video(
    tmp_path: Path, fake: FakeYouTube, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http, playlist="PLinconnue00000000")
    r = rendered(tmp_path / "repo", VIDEO)
    p = MemProgress(fake, a.prepare(r, "k1"))
    result = a.publish(r, p)
    assert result.outcome == Outcome.PUBLISHED
    assert p.handles["playlist"].startswith("not added: YouTube HTTP 404: playlistNotFound")


def test_reconcile_finds_the_video_by_its_marker_never_the_latest(
    tmp_path: Path, fake: FakeYouTube, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http)
    r = rendered(tmp_path / "repo", VIDEO)
    p = MemProgress(fake, a.prepare(r, "k1"), started_at=datetime.now(UTC) - timedelta(minutes=5))
    assert a.reconcile(r, p).outcome == Outcome.ABSENT
    ours = fake.add_video("L'atelier en vidéo", f"Retour...\n\n{p.handles['marker']}")
    fake.add_video("Une autre vidéo", "publiée à la main juste après")
    found = a.reconcile(r, p)
    assert found.outcome == Outcome.PUBLISHED and found.remote_id == ours


def test_quota_spent_at_google_defers_until_midnight_pacific(
    tmp_path: Path, fake: FakeYouTube, http: Http
) -> None:
    fake.upload_limit = 0
    a = make_adapter(tmp_path / "repo", fake, http)
    r = rendered(tmp_path / "repo", VIDEO)
    result = a.publish(r, MemProgress(fake, a.prepare(r, "k1")))
    assert result.outcome == Outcome.RETRY, result.reason
    assert "quotaExceeded" in (result.reason or "")
    assert result.retry_after is not None and 60 <= result.retry_after <= 25 * 3600
    assert fake.created == 0


def test_refused_token_names_the_variable_and_never_leaks(
    tmp_path: Path, fake: FakeYouTube, http: Http
) -> None:
    fake.tokens = {"another-token"}
    fake.echo_secrets = True
    a = make_adapter(tmp_path / "repo", fake, http)
    r = rendered(tmp_path / "repo", VIDEO)
    result = a.publish(r, MemProgress(fake, a.prepare(r, "k1")))
    assert result.outcome == Outcome.FAILED and result.needs_reauth
    assert ENV in (result.reason or "") and TOKEN not in (result.reason or "")


def test_a_recorded_session_on_another_host_is_never_sent_the_token(
    tmp_path: Path, fake: FakeYouTube, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http)
    r = rendered(tmp_path / "repo", VIDEO)
    p = MemProgress(
        fake, {"marker": "cmflow:x", "upload": "http://127.0.0.2:9/steal", "upload_size": 1}
    )
    result = a.reconcile(r, p)
    assert result.outcome == Outcome.UNKNOWN and "not on YouTube's host" in (result.reason or "")
    assert fake.requests == []


# -- cmflow publish, end to end -----------------------------------------------------------------


def yt_site(tmp_path: Path, fake: FakeYouTube, posts: dict[str, str], **extra: Any) -> Any:
    remote = init_remote(tmp_path / "remote.git")
    s = pushed_site(
        remote,
        tmp_path / "repo",
        {"yt": channel(fake, **extra)},
        posts,
        env={ENV: TOKEN},
        secrets=[TOKEN],
        media={"media/atelier.mp4": VIDEO},
    )
    return s, remote


def video_post(body: str = "Retour sur l'atelier.") -> str:
    return post(
        ["yt"],
        body,
        title="L'atelier en vidéo",
        media=[{"path": "media/atelier.mp4", "alt": "Vidéo"}],
    )


@pytest.mark.parametrize("stall_at", [2, 4])
def test_killed_mid_upload_the_next_run_resumes_the_session_one_video(
    tmp_path: Path, fake: FakeYouTube, stall_at: int
) -> None:
    """Killed after chunk 2 of 4 (the video does not exist yet), or after the last chunk
    (it does, its answer never came): the rerun asks the recorded session where it
    stands and either sends the rest or adopts the video. One video, one session."""
    s, remote = yt_site(tmp_path, fake, {"atelier.md": video_post()})
    fake.stall_chunk = (stall_at, 30.0)
    running = s.start("publish", "--commit")
    wait_until(lambda: fake.chunk_puts == stall_at, what=f"chunk {stall_at}")
    assert running.kill().code == -9
    entry = s.record("atelier", "yt")
    assert entry is not None and entry["state"] == "claimed" and "upload" in entry["handles"]
    fake.stall_chunk = None

    again = s.publish("--commit", at=from_now(minutes=31))
    assert again.code == 0, again
    assert fake.created == 1 and fake.inserts == 1
    assert fake.received == {sid: len(VIDEO) for sid in fake.uploads}
    puts = [q.headers["content-range"] for q in fake.requests_to("PUT", PUT)]
    asked = puts.index(f"bytes */{len(VIDEO)}")
    assert asked == stall_at  # the rerun asked first...
    sent = [r for r in puts[asked:] if not r.startswith("bytes */")]
    if stall_at == 2:  # ...then sent the rest (and only the rest)
        assert [r.split("-")[0] for r in sent] == [f"bytes {2 * CHUNK}", f"bytes {3 * CHUNK}"]
    else:  # ...and adopted the video
        assert sent == []
    pushed = remote_record(remote, "atelier", "yt")
    assert pushed is not None and pushed["state"] == "published"
    assert pushed["parts"][0]["id"] == fake.posts[0]["id"]
    assert "upload" not in pushed["handles"]
    s.assert_no_secret()


def test_a_run_over_the_daily_quota_defers_and_does_not_fail(
    tmp_path: Path, fake: FakeYouTube
) -> None:
    posts = {"atelier.md": video_post(), "suite.md": video_post("La suite de l'atelier.")}
    s, _ = yt_site(tmp_path, fake, posts, daily_uploads=1)
    first = s.publish()
    assert first.code == 0, first
    assert fake.inserts == 1
    states = {s.state("atelier", "yt"), s.state("suite", "yt")}
    assert states == {"published", "deferred"}
    deferred = next(
        e
        for e in (s.record("atelier", "yt"), s.record("suite", "yt"))
        if e and e["state"] == "deferred"
    )
    assert "daily quota: 1 of 1 uploads used today" in deferred["reason"]
    assert deferred["not_before"]  # midnight Pacific time
    # The next run the same day sees the quota spent in the record: nothing is sent.
    again = s.publish(at=from_now(minutes=1))
    assert again.code == 0, again
    assert fake.inserts == 1 and fake.created == 1


def test_shorts_channel_validates_vertical_and_three_minutes(
    tmp_path: Path, fake: FakeYouTube
) -> None:
    s = site(
        tmp_path / "repo",
        {"yt": channel(fake, shorts=True)},
        {"atelier.md": video_post()},
        media={"media/atelier.mp4": mp4(240, 1920, 1080)},
    )
    result = s.run("validate", "--format", "json")
    messages = [
        f["message"] for f in result.json()["findings"] if f["rule"] == "channel.media-format"
    ]
    assert "media/atelier.mp4 lasts 4:00; YouTube takes videos at most 3:00" in messages
    assert any("YouTube takes vertical or square videos" in m for m in messages), messages


def test_a_short_gets_shorts_in_its_description_and_a_shorts_url(
    tmp_path: Path, fake: FakeYouTube, http: Http
) -> None:
    a = make_adapter(tmp_path / "repo", fake, http, shorts=True, made_for_kids=True)
    r = rendered(tmp_path / "repo", mp4(30, 1080, 1920))
    p = MemProgress(fake, a.prepare(r, "k1"))
    result = a.publish(r, p)
    assert result.outcome == Outcome.PUBLISHED, result.reason
    init = fake.requests_to("POST", PUT)[0].json
    assert "\n\n#Shorts\n\ncmflow:" in init["snippet"]["description"]
    assert init["status"]["selfDeclaredMadeForKids"] is True
    assert result.url == f"https://www.youtube.com/shorts/{result.remote_id}"


def test_units_spent_at_google_leave_the_video_published_without_its_thumbnail(
    tmp_path: Path, fake: FakeYouTube, http: Http
) -> None:
    fake.unit_limit = 10  # thumbnails.set costs 50
    a = make_adapter(tmp_path / "repo", fake, http)
    r = rendered(tmp_path / "repo", VIDEO, image=JPEG)
    p = MemProgress(fake, a.prepare(r, "k1"))
    result = a.publish(r, p)
    assert result.outcome == Outcome.PUBLISHED and fake.created == 1
    assert p.handles["thumbnail"].startswith("not set: YouTube HTTP 403: quotaExceeded")
    assert fake.thumbnails == {}


def test_an_expired_session_is_checked_against_the_uploads_then_started_again(
    tmp_path: Path, fake: FakeYouTube, http: Http
) -> None:
    """A run stopped mid-upload; a week later the session is gone (404). The uploads do not
    hold the marker: a new session sends the whole file. One video."""
    a = make_adapter(tmp_path / "repo", fake, http)
    r = rendered(tmp_path / "repo", VIDEO)
    p = MemProgress(fake, a.prepare(r, "k1"), started_at=datetime.now(UTC) - timedelta(days=7))
    fake.stall_chunk = None
    fake.inject("PUT", PUT, drop_before(), times=None)
    first = a.publish(r, p)
    assert first.outcome in (Outcome.UNKNOWN, Outcome.RETRY), first.reason
    assert "upload" in p.handles
    fake.clear_faults()
    fake.expire_sessions()
    again = a.publish(r, p)
    assert again.outcome == Outcome.PUBLISHED, again.reason
    assert fake.inserts == 2 and fake.created == 1
    assert fake.requests_to("GET", r"^/youtube/v3/playlistItems$")  # looked before resending
