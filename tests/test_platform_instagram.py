"""The Instagram adapter against FakeInstagram over real loopback HTTP; the fake fetches each
`image_url` from a loopback static server standing for the public site, as Instagram does.

What a user relies on: the post Instagram shows (caption, images in order, alt texts), exactly
one post and one container per attempt under faults (the fake's oracles), a rerun resuming
the recorded container, media URLs that work (or a clear message saying what to set),
outcomes sorted correctly, and no token in any reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmflow.http import Http
from cmflow.model import Media
from cmflow.platforms.base import Outcome
from cmflow.platforms.feed import Adapter as FeedAdapter
from cmflow.platforms.graph import text_hash
from cmflow.platforms.instagram import Adapter
from tests.fakes import Fault
from tests.fakes.graph import StaticSite
from tests.fakes.instagram import FakeInstagram
from tests.meta import (
    JPEG,
    PNG,
    TOKEN,
    TOKEN_ENV,
    Crash,
    MemoryProgress,
    assert_no_token,
    context,
    load_config,
    rendered_of,
    write_media,
)

PUBLISH = r"/media_publish$"
CREATE = r"/\d+/media$"
CAPTION = "Atelier compost samedi 🌱 #jardin"


@pytest.fixture
def fake() -> Iterator[FakeInstagram]:
    with FakeInstagram(token=TOKEN) as server:
        yield server
        assert not server.errors


@pytest.fixture
def site(tmp_path: Path) -> Iterator[StaticSite]:
    with StaticSite(tmp_path / "repo") as server:
        yield server


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=2.0) as client:
        yield client


def channel(fake: FakeInstagram, **extra: Any) -> dict[str, Any]:
    return {
        "platform": "instagram",
        "base_url": f"{fake.url}/v25.0",
        "user_id": fake.user_id,
        "token_env": TOKEN_ENV,
        **extra,
    }


def make(
    root: Path,
    fake: FakeInstagram,
    http: Http,
    *,
    token: str = TOKEN,
    extra_channels: dict[str, dict[str, Any]] | None = None,
    **settings: Any,
) -> Adapter:
    root.mkdir(parents=True, exist_ok=True)
    config = load_config(root, {"ig": channel(fake, **settings), **(extra_channels or {})})
    adapter = Adapter(context(config, "ig", http, token))
    adapter.container_wait = 5.0
    return adapter


def images(root: Path, n: int, data: bytes = JPEG) -> list[Media]:
    files = {f"media/atelier-{i}.jpg": data for i in range(1, n + 1)}
    write_media(root, files)
    return [Media(rel, f"Photo {i} de l'atelier") for i, rel in enumerate(files, 1)]


def progress_for(adapter: Adapter, rendered: Any) -> MemoryProgress:
    return MemoryProgress(dict(adapter.prepare(rendered, "post-1|ig|1")))


# -- publishing -------------------------------------------------------------------------------


def test_one_image_with_alt_text_is_fetched_from_the_site_and_published(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    media = images(root, 1)
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    rendered = rendered_of("ig", "instagram", CAPTION, media=media)
    progress = progress_for(adapter, rendered)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 1 and fake.containers.count == 1
    (post,) = fake.posts
    assert post["caption"] == CAPTION
    assert post["alt_text"] == ["Photo 1 de l'atelier"]
    assert post["image_urls"] == [f"{site.url}/media/atelier-1.jpg"]
    assert result.parts[0].id == post["id"] and result.parts[0].url == post["permalink"]
    (create,) = fake.requests_to("POST", CREATE)
    assert create.form["access_token"] == TOKEN
    assert create.form["alt_text"] == "Photo 1 de l'atelier"
    # The image was checked by cmflow, then fetched by Instagram itself, from the site.
    assert [f.status for f in fake.containers.fetched] == [200]
    assert site.hits("atelier-1.jpg") >= 2
    # The container id is recorded before the publish call starts.
    container = progress.handles["part_handles"]["0"]["container"]
    assert fake.requests_to("POST", PUBLISH)[0].form["creation_id"] == container
    assert progress.events == [("handle", 0), ("started", 0), ("done", 0)]
    assert progress.handles["text_sha256"] == [text_hash(CAPTION)]
    assert_no_token(result)


def test_carousel_keeps_the_order_and_each_alt_text(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    media = images(root, 3)
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    rendered = rendered_of("ig", "instagram", CAPTION, media=media)

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 1
    assert fake.containers.count == 4  # three items and the carousel
    (post,) = fake.posts
    assert post["media_type"] == "CAROUSEL"
    assert post["image_urls"] == [f"{site.url}/media/atelier-{i}.jpg" for i in (1, 2, 3)]
    assert post["alt_text"] == [f"Photo {i} de l'atelier" for i in (1, 2, 3)]
    creates = fake.requests_to("POST", CREATE)
    assert [r.form.get("is_carousel_item") for r in creates] == ["true"] * 3 + [None]
    assert creates[-1].form["media_type"] == "CAROUSEL"
    assert creates[-1].form["caption"] == CAPTION


def test_images_published_by_the_site_channel_are_used_without_media_base_url(
    tmp_path: Path, fake: FakeInstagram, http: Http
) -> None:
    root = tmp_path / "repo"
    media = images(root, 1)
    with StaticSite(root / "public") as web:
        feed = {"platform": "feed", "output_dir": "public", "site_url": f"{web.url}/"}
        adapter = make(root, fake, http, extra_channels={"site": feed})
        rendered = rendered_of("ig", "instagram", CAPTION, media=media)

        # The site is not published yet: nothing is created, the channel waits for it.
        early = adapter.publish(rendered, progress_for(adapter, rendered))
        assert early.outcome == Outcome.RETRY
        assert f"{web.url}/media/atelier-1.jpg" in (early.reason or "")
        assert "media_base_url" in (early.reason or "")
        assert fake.containers.count == 0

        # The feed channel copies the post's media under public/media/: that URL works.
        site_rendered = rendered_of("site", "feed", CAPTION, media=media)
        feed_adapter = FeedAdapter(
            adapter.ctx.__class__(
                adapter.ctx.channels["site"], root, http, {}, adapter.ctx.channels
            )
        )
        assert feed_adapter.publish(site_rendered, MemoryProgress({})).outcome == Outcome.PUBLISHED
        result = adapter.publish(rendered, progress_for(adapter, rendered))
        expected = f"{web.url}/media/atelier-1.jpg"

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.posts[0]["image_urls"] == [expected]


def test_without_any_public_url_says_what_to_set_and_creates_nothing(
    tmp_path: Path, fake: FakeInstagram, http: Http
) -> None:
    root = tmp_path / "repo"
    adapter = make(root, fake, http)
    rendered = rendered_of("ig", "instagram", CAPTION, media=images(root, 1))

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.RETRY
    assert "media_base_url" in (result.reason or "") and "site_url" in (result.reason or "")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [({}, "at least one image"), ({"media/a.png": PNG}, "image/jpeg only")],
)
def test_refused_before_any_call(
    tmp_path: Path,
    fake: FakeInstagram,
    site: StaticSite,
    http: Http,
    files: dict[str, bytes],
    expected: str,
) -> None:
    root = tmp_path / "repo"
    write_media(root, files)
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    media = [Media(rel, "alt") for rel in files]
    rendered = rendered_of("ig", "instagram", CAPTION, media=media)

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.FAILED and expected in (result.reason or "")
    assert fake.requests == []


# -- exactly once -----------------------------------------------------------------------------


def test_crash_between_container_and_publish_resumes_the_same_container(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    media = images(root, 2)
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    rendered = rendered_of("ig", "instagram", CAPTION, media=media)
    progress = progress_for(adapter, rendered)

    def crash(_: int) -> None:
        raise Crash

    progress.on_start = crash
    with pytest.raises(Crash):
        adapter.publish(rendered, progress)
    assert fake.created == 0 and fake.containers.count == 3

    # Another run: the recorded container is FINISHED, so it is not published: resume it.
    again = make(root, fake, http, media_base_url=f"{site.url}/media")
    progress.on_start = None
    check = again.reconcile(rendered, progress)
    assert check.outcome == Outcome.ABSENT, check.reason
    result = again.publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 1 and fake.containers.count == 3
    assert len(fake.requests_to("POST", PUBLISH)) == 1


def test_publish_answer_lost_after_it_landed_is_found_through_the_container(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    rendered = rendered_of("ig", "instagram", CAPTION, media=images(root, 1))
    fake.inject("POST", PUBLISH, Fault.drop_after_commit())

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 1
    assert len(fake.requests_to("POST", PUBLISH)) == 1
    assert result.parts[0].id == fake.posts[0]["id"]


def test_publish_500_code_2_after_it_landed_is_not_published_twice(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    rendered = rendered_of("ig", "instagram", CAPTION, media=images(root, 1))
    body = {
        "error": {
            "message": "An unexpected error has occurred.",
            "type": "OAuthException",
            "code": 2,
            "fbtrace_id": "Axyz",
        }
    }
    fake.inject("POST", PUBLISH, Fault.after_commit_status(500, body))

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 1 and len(fake.requests_to("POST", PUBLISH)) == 1


def test_publish_answer_lost_before_it_landed_is_sent_once_more(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    rendered = rendered_of("ig", "instagram", CAPTION, media=images(root, 1))
    fake.inject("POST", PUBLISH, Fault.drop_before())

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 1 and len(fake.requests_to("POST", PUBLISH)) == 2
    assert fake.containers.count == 1


def test_an_expired_recorded_container_is_made_again(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    rendered = rendered_of("ig", "instagram", CAPTION, media=images(root, 1))
    progress = progress_for(adapter, rendered)
    progress.on_start = lambda _: (_ for _ in ()).throw(Crash())
    with pytest.raises(Crash):
        adapter.publish(rendered, progress)
    fake.expire(progress.handles["part_handles"]["0"]["container"])
    progress.on_start = None

    result = make(root, fake, http, media_base_url=f"{site.url}/media").publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 1 and fake.containers.count == 2


def test_reconcile_without_a_recorded_container_matches_the_caption_not_the_latest_post(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    media = images(root, 1)
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    ours = rendered_of("ig", "instagram", CAPTION, media=media)
    other = rendered_of("ig", "instagram", "Un autre post, publié à la main", media=media)
    assert adapter.publish(ours, progress_for(adapter, ours)).outcome == Outcome.PUBLISHED
    assert adapter.publish(other, progress_for(adapter, other)).outcome == Outcome.PUBLISHED
    ours_id = fake.posts[0]["id"]

    # A fresh checkout: the claim has the hash but no container (it was never pushed).
    progress = progress_for(adapter, ours)
    progress.started_at = None
    found = make(root, fake, http).reconcile(ours, progress)
    assert found.outcome == Outcome.PUBLISHED and found.parts[0].id == ours_id

    absent = rendered_of("ig", "instagram", "Jamais publié", media=media)
    check = make(root, fake, http).reconcile(absent, progress_for(adapter, absent))
    assert check.outcome == Outcome.ABSENT, check.reason


# -- refusals, credentials, rate limits -------------------------------------------------------


def test_expired_token_needs_new_credentials_naming_the_variable(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    fake.expired.add(TOKEN)
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    rendered = rendered_of("ig", "instagram", CAPTION, media=images(root, 1))

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.FAILED and result.needs_reauth
    reason = result.reason or ""
    assert "needs new credentials" in reason and TOKEN_ENV in reason
    assert "190/463" in reason and "instagram_content_publish" in reason
    assert fake.created == 0
    assert_no_token(result)


def test_business_use_case_limit_defers_the_channel_with_the_regain_time(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    media = images(root, 1)
    fake.throttle(regain_minutes=7)
    first = rendered_of("ig", "instagram", CAPTION, media=media)

    result = adapter.publish(first, progress_for(adapter, first))

    assert result.outcome == Outcome.RETRY
    assert result.retry_after == 7 * 60
    assert "80002" in (result.reason or "")
    # The rest of the run sends nothing more to this account.
    seen = len(fake.requests)
    second = rendered_of("ig", "instagram", "Deuxième", media=media)
    assert adapter.publish(second, progress_for(adapter, second)).outcome == Outcome.RETRY
    assert len(fake.requests) == seen


def test_usage_at_100_percent_on_a_success_stops_further_calls(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    rendered = rendered_of("ig", "instagram", CAPTION, media=images(root, 1))
    # Calls still succeed, but the header says the budget is spent: the next would fail.
    fake.usage = 100
    fake.regain_minutes = 3
    progress = progress_for(adapter, rendered)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.RETRY and result.retry_after == 180
    assert len(fake.requests) == 1  # the container, recorded for the next run
    assert progress.handles["part_handles"]["0"]["container"]
    fake.usage, fake.regain_minutes = 12, 0
    again = make(root, fake, http, media_base_url=f"{site.url}/media").publish(rendered, progress)
    assert again.outcome == Outcome.PUBLISHED, again.reason
    assert fake.created == 1 and fake.containers.count == 1


def test_image_instagram_cannot_fetch_fails_with_the_container_error(
    tmp_path: Path, fake: FakeInstagram, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    rendered = rendered_of("ig", "instagram", CAPTION, media=images(root, 1))
    # The site answers cmflow's check, then goes away before Instagram fetches the image.
    fake.containers.release.clear()
    progress = progress_for(adapter, rendered)

    import threading

    def take_site_down() -> None:
        while fake.containers.count == 0:
            pass
        (root / "media" / "atelier-1.jpg").unlink()
        fake.containers.release.set()

    threading.Thread(target=take_site_down, daemon=True).start()
    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.FAILED
    assert "could not process container" in (result.reason or "")
    assert "HTTP 404" in (result.reason or "")
    assert fake.created == 0


# -- validate says what to set when there is no public URL ------------------------------------


@pytest.mark.parametrize(
    ("with_site", "with_base", "flagged"),
    [(False, False, True), (True, False, False), (False, True, False)],
)
def test_validate_flags_images_without_any_public_url(
    tmp_path: Path, with_site: bool, with_base: bool, flagged: bool
) -> None:
    import subprocess
    import sys

    from tests.conftest import write_repo
    from tests.publishing import channels_yaml
    from tests.publishing import post as post_file

    ig: dict[str, Any] = {"platform": "instagram", "user_id": "1784", "token_env": TOKEN_ENV}
    if with_base:
        ig["media_base_url"] = "https://example.fr/media"
    channels: dict[str, Any] = {"ig": ig}
    if with_site:
        channels["site"] = {"platform": "feed", "site_url": "https://example.fr/actus"}
    root = write_repo(
        tmp_path / "v",
        {
            "a.md": post_file(
                list(channels),
                CAPTION,
                media=[{"path": "media/atelier.jpg", "alt": "Les bacs"}],
            )
        },
        config=channels_yaml(channels),
        media={"media/atelier.jpg": JPEG},
    )
    done = subprocess.run(
        [sys.executable, "-m", "cmflow", "validate"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    out = done.stdout + done.stderr
    assert ("channel.media-url" in out) is flagged, out
    assert (done.returncode == 0) is not flagged, out
    if flagged:
        assert "content/a.md:5:" in out  # the media entry
        assert "media_base_url" in out and "site_url" in out
