"""The Facebook Page adapter against FakeFacebook over real loopback HTTP.

What a user relies on: the post the Page shows (text, link, photos with alt text), exactly
one post under faults (the fake's `created`), duplicate answers and lost answers reconciled
from the Page's feed by the hash of the message (never "the latest post"), the channel
deferred on Business Use Case limits, and "needs new credentials" on an expired token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmflow.http import Http
from cmflow.model import Media
from cmflow.platforms.base import Outcome
from cmflow.platforms.facebook import Adapter
from tests.fakes import Fault
from tests.fakes.facebook import FakeFacebook
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

FEED = r"/feed$"
PHOTOS = r"/photos$"
TEXT = "Portes ouvertes samedi : https://example.fr/portes-ouvertes 🎉"
CODE_2 = {
    "error": {
        "message": "An unexpected error has occurred. Please retry your request later.",
        "type": "OAuthException",
        "code": 2,
        "fbtrace_id": "AhQ1",
    }
}
DUPLICATE = {
    "error": {
        "message": "(#506) Duplicate status message",
        "type": "OAuthException",
        "code": 506,
        "fbtrace_id": "AhQ2",
    }
}


@pytest.fixture
def fake() -> Iterator[FakeFacebook]:
    with FakeFacebook(token=TOKEN) as server:
        yield server
        assert not server.errors


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=2.0) as client:
        yield client


def make(root: Path, fake: FakeFacebook, http: Http) -> Adapter:
    root.mkdir(parents=True, exist_ok=True)
    ch = {
        "platform": "facebook",
        "base_url": f"{fake.url}/v25.0",
        "page_id": fake.page_id,
        "token_env": TOKEN_ENV,
    }
    return Adapter(context(load_config(root, {"fb": ch}), "fb", http))


def progress_for(adapter: Adapter, rendered: Any) -> MemoryProgress:
    return MemoryProgress(dict(adapter.prepare(rendered, "post-1|fb|1")))


def photos(root: Path, n: int) -> list[Media]:
    files = {f"media/photo-{i}.{'jpg' if i % 2 else 'png'}": JPEG if i % 2 else PNG
             for i in range(1, n + 1)}  # fmt: skip
    write_media(root, files)
    return [Media(rel, f"Photo {i}") for i, rel in enumerate(files, 1)]


# -- publishing -------------------------------------------------------------------------------


def test_text_with_a_link(tmp_path: Path, fake: FakeFacebook, http: Http) -> None:
    adapter = make(tmp_path, fake, http)
    rendered = rendered_of("fb", "facebook", TEXT)
    progress = progress_for(adapter, rendered)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    (post,) = fake.posts
    assert post["message"] == TEXT and post["link"] == "https://example.fr/portes-ouvertes"
    assert result.parts[0].id == post["id"]
    assert result.parts[0].url == f"https://www.facebook.com/{post['id']}"
    (req,) = fake.requests_to("POST", FEED)
    assert req.form["access_token"] == TOKEN
    assert progress.events == [("started", 0), ("done", 0)]
    assert_no_token(result)


def test_one_image_with_alt_text_goes_as_a_photo_post(
    tmp_path: Path, fake: FakeFacebook, http: Http
) -> None:
    adapter = make(tmp_path, fake, http)
    rendered = rendered_of("fb", "facebook", "Notre nouvelle serre", media=photos(tmp_path, 1))

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.PUBLISHED, result.reason
    (post,) = fake.posts
    assert post["message"] == "Notre nouvelle serre"
    assert post["attachments"][0]["alt_text"] == "Photo 1"
    (req,) = fake.requests_to("POST", PHOTOS)
    assert req.files["source"].data == JPEG and req.form["published"] == "true"
    assert result.parts[0].id == post["id"]  # the post, not the photo


def test_several_images_are_one_post_with_unpublished_photos(
    tmp_path: Path, fake: FakeFacebook, http: Http
) -> None:
    adapter = make(tmp_path, fake, http)
    rendered = rendered_of("fb", "facebook", "Trois photos", media=photos(tmp_path, 3))
    progress = progress_for(adapter, rendered)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 1 and fake.unpublished_photos == 3
    (post,) = fake.posts
    assert [a["alt_text"] for a in post["attachments"]] == ["Photo 1", "Photo 2", "Photo 3"]
    uploads = fake.requests_to("POST", PHOTOS)
    assert [r.form["published"] for r in uploads] == ["false"] * 3
    (feed,) = fake.requests_to("POST", FEED)
    ids = progress.handles["part_handles"]["0"]["photos"]
    assert [json.loads(feed.form[f"attached_media[{i}]"]) for i in range(3)] == [
        {"media_fbid": i} for i in ids
    ]


def test_crash_after_the_uploads_does_not_upload_again(
    tmp_path: Path, fake: FakeFacebook, http: Http
) -> None:
    adapter = make(tmp_path, fake, http)
    rendered = rendered_of("fb", "facebook", "Deux photos", media=photos(tmp_path, 2))
    progress = progress_for(adapter, rendered)
    progress.on_start = lambda _: (_ for _ in ()).throw(Crash())
    with pytest.raises(Crash):
        adapter.publish(rendered, progress)
    progress.on_start = None

    again = make(tmp_path, fake, http)
    assert again.reconcile(rendered, progress).outcome == Outcome.ABSENT
    result = again.publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert len(fake.requests_to("POST", PHOTOS)) == 2 and fake.created == 1


# -- unknown outcomes and duplicates ----------------------------------------------------------


@pytest.mark.parametrize(
    "fault", [Fault.drop_after_commit(), Fault.after_commit_status(500, CODE_2)]
)
def test_lost_answer_after_the_post_landed_is_found_in_the_feed(
    tmp_path: Path, fake: FakeFacebook, http: Http, fault: Fault
) -> None:
    adapter = make(tmp_path, fake, http)
    rendered = rendered_of("fb", "facebook", TEXT)
    fake.inject("POST", FEED, fault)

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 1 and len(fake.requests_to("POST", FEED)) == 1
    assert result.parts[0].id == fake.posts[0]["id"]


def test_lost_answer_when_nothing_landed_is_unknown_and_never_resent(
    tmp_path: Path, fake: FakeFacebook, http: Http
) -> None:
    adapter = make(tmp_path, fake, http)
    rendered = rendered_of("fb", "facebook", TEXT)
    fake.inject("POST", FEED, Fault.status(500, CODE_2))
    progress = progress_for(adapter, rendered)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.UNKNOWN
    assert "next run looks again" in (result.reason or "")
    assert fake.created == 0 and len(fake.requests_to("POST", FEED)) == 1
    # The next run: the feed reaches back before the attempt without it: proven absent.
    check = make(tmp_path, fake, http).reconcile(rendered, progress)
    assert check.outcome == Outcome.ABSENT, check.reason


def test_duplicate_answer_adopts_the_post_already_on_the_page(
    tmp_path: Path, fake: FakeFacebook, http: Http
) -> None:
    adapter = make(tmp_path, fake, http)
    rendered = rendered_of("fb", "facebook", TEXT)
    # An earlier attempt landed unseen; a newer, unrelated post sits on top of the feed.
    first = progress_for(adapter, rendered)
    fake.inject("POST", FEED, Fault.drop_after_commit())
    fake.inject("GET", FEED, Fault.status(500, CODE_2))
    assert adapter.publish(rendered, first).outcome == Outcome.UNKNOWN
    ours = fake.posts[0]["id"]
    other = rendered_of("fb", "facebook", "Autre chose, publié à la main")
    assert make(tmp_path, fake, http).publish(other, progress_for(adapter, other)).outcome == (
        Outcome.PUBLISHED
    )

    result = make(tmp_path, fake, http).publish(rendered, first)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert result.parts[0].id == ours  # matched by its text, not the latest post
    assert fake.created == 2
    assert fake.requests_to("POST", FEED)[-1].status == 400  # the #506 answer


def test_duplicate_answer_with_no_matching_post_is_unknown_not_retried(
    tmp_path: Path, fake: FakeFacebook, http: Http
) -> None:
    adapter = make(tmp_path, fake, http)
    rendered = rendered_of("fb", "facebook", TEXT)
    fake.inject("POST", FEED, Fault.status(400, DUPLICATE))

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.UNKNOWN and "506" in (result.reason or "")
    assert len(fake.requests_to("POST", FEED)) == 1 and fake.created == 0


# -- refusals, credentials, rate limits -------------------------------------------------------


def test_expired_page_token_needs_new_credentials(
    tmp_path: Path, fake: FakeFacebook, http: Http
) -> None:
    fake.expired.add(TOKEN)
    adapter = make(tmp_path, fake, http)
    rendered = rendered_of("fb", "facebook", TEXT)

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.FAILED and result.needs_reauth
    reason = result.reason or ""
    assert "needs new credentials" in reason and TOKEN_ENV in reason
    assert "pages_manage_posts" in reason and "190/463" in reason
    assert_no_token(result)


def test_page_request_limit_defers_with_the_time_to_regain_access(
    tmp_path: Path, fake: FakeFacebook, http: Http
) -> None:
    fake.throttle(regain_minutes=42)
    adapter = make(tmp_path, fake, http)
    rendered = rendered_of("fb", "facebook", TEXT)

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.RETRY and result.retry_after == 42 * 60
    assert "error 32" in (result.reason or "") and "42 min" in (result.reason or "")
    assert fake.created == 0


def test_refused_message_fails_with_the_graph_message(
    tmp_path: Path, fake: FakeFacebook, http: Http
) -> None:
    adapter = make(tmp_path, fake, http)
    rendered = rendered_of("fb", "facebook", "")

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.FAILED
    assert "error 100" in (result.reason or "") and "message" in (result.reason or "")
