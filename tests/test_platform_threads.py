"""The Threads adapter against FakeThreads over real loopback HTTP (images fetched by the
fake from a loopback static site), and Threads' length rule through `cmflow validate`.

What a user relies on: text, image (with alt text), carousel and thread-of-replies posts as
Threads shows them, each part exactly once with its container resumed after a crash, and
the 500-character limit counted as Threads counts it (emoji = their UTF-8 bytes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmflow.http import Http
from cmflow.model import Media
from cmflow.platforms.base import Outcome
from cmflow.platforms.threads import Adapter
from tests.conftest import write_repo
from tests.fakes import Fault
from tests.fakes.graph import StaticSite
from tests.fakes.threads import FakeThreads, threads_length
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
from tests.publishing import channels_yaml
from tests.publishing import post as post_file

CREATE = r"/threads$"
PUBLISH = r"/threads_publish$"


@pytest.fixture
def fake() -> Iterator[FakeThreads]:
    with FakeThreads(token=TOKEN) as server:
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


def make(root: Path, fake: FakeThreads, http: Http, **settings: Any) -> Adapter:
    root.mkdir(parents=True, exist_ok=True)
    ch = {
        "platform": "threads",
        "base_url": f"{fake.url}/v1.0",
        "user_id": fake.user_id,
        "token_env": TOKEN_ENV,
        **settings,
    }
    adapter = Adapter(context(load_config(root, {"th": ch}), "th", http))
    adapter.container_wait = 5.0
    return adapter


def progress_for(adapter: Adapter, rendered: Any) -> MemoryProgress:
    return MemoryProgress(dict(adapter.prepare(rendered, "post-1|th|1")))


def test_text_post(tmp_path: Path, fake: FakeThreads, http: Http) -> None:
    adapter = make(tmp_path / "repo", fake, http)
    rendered = rendered_of("th", "threads", "Rendez-vous samedi au jardin partagé 🌱")

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.PUBLISHED, result.reason
    (post,) = fake.posts
    assert post["text"] == "Rendez-vous samedi au jardin partagé 🌱"
    assert post["media_type"] == "TEXT_POST" and not post["is_reply"]
    (create,) = fake.requests_to("POST", CREATE)
    assert create.form["media_type"] == "TEXT" and create.form["access_token"] == TOKEN
    assert result.parts[0].url == post["permalink"]
    assert_no_token(result)


def test_image_with_alt_and_carousel(
    tmp_path: Path, fake: FakeThreads, site: StaticSite, http: Http
) -> None:
    root = tmp_path / "repo"
    write_media(root, {"media/un.jpg": JPEG, "media/deux.png": PNG, "media/trois.jpg": JPEG})
    adapter = make(root, fake, http, media_base_url=f"{site.url}/media")
    one = rendered_of("th", "threads", "Une photo", media=[Media("media/un.jpg", "Le jardin")])
    many = rendered_of(
        "th",
        "threads",
        "Trois photos",
        media=[Media("media/un.jpg", "A"), Media("media/deux.png", "B"), Media("media/trois.jpg")],
    )

    assert adapter.publish(one, progress_for(adapter, one)).outcome == Outcome.PUBLISHED
    result = adapter.publish(many, progress_for(adapter, many))

    assert result.outcome == Outcome.PUBLISHED, result.reason
    first, second = fake.posts
    assert first["media_type"] == "IMAGE" and first["alt_text"] == ["Le jardin"]
    assert first["image_urls"] == [f"{site.url}/media/un.jpg"]
    assert second["media_type"] == "CAROUSEL_ALBUM"
    assert second["image_urls"] == [
        f"{site.url}/media/{n}" for n in ("un.jpg", "deux.png", "trois.jpg")
    ]
    assert second["alt_text"] == ["A", "B", None]
    assert fake.containers.count == 1 + 4


def test_thread_parts_reply_to_the_previous_part_in_order(
    tmp_path: Path, fake: FakeThreads, http: Http
) -> None:
    adapter = make(tmp_path / "repo", fake, http)
    rendered = rendered_of("th", "threads", "Fil 1/3", "Fil 2/3", "Fil 3/3")
    progress = progress_for(adapter, rendered)

    result = adapter.publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    posts = fake.posts
    assert [p["text"] for p in posts] == ["Fil 1/3", "Fil 2/3", "Fil 3/3"]
    assert [p["replied_to"] for p in posts] == [None, posts[0]["id"], posts[1]["id"]]
    assert [p.id for p in result.parts] == [p["id"] for p in posts]
    assert progress.events == [
        ("handle", 0), ("started", 0), ("done", 0),
        ("handle", 1), ("started", 1), ("done", 1),
        ("handle", 2), ("started", 2), ("done", 2),
    ]  # fmt: skip


def test_crash_before_publishing_part_2_resumes_its_container(
    tmp_path: Path, fake: FakeThreads, http: Http
) -> None:
    root = tmp_path / "repo"
    adapter = make(root, fake, http)
    rendered = rendered_of("th", "threads", "Fil 1/2", "Fil 2/2")
    progress = progress_for(adapter, rendered)

    def crash(index: int) -> None:
        if index == 1:
            raise Crash

    progress.on_start = crash
    with pytest.raises(Crash):
        adapter.publish(rendered, progress)
    assert fake.created == 1 and fake.containers.count == 2
    progress.on_start = None

    again = make(root, fake, http)
    assert again.reconcile(rendered, progress).outcome == Outcome.ABSENT
    result = again.publish(rendered, progress)

    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 2 and fake.containers.count == 2
    assert fake.posts[1]["replied_to"] == fake.posts[0]["id"]


def test_lost_answer_of_a_reply_is_found_among_the_replies(
    tmp_path: Path, fake: FakeThreads, http: Http
) -> None:
    root = tmp_path / "repo"
    adapter = make(root, fake, http)
    rendered = rendered_of("th", "threads", "Fil 1/2", "Fil 2/2")
    fake.inject("POST", PUBLISH, Fault.drop_after_commit())  # the first publish
    result = adapter.publish(rendered, progress_for(adapter, rendered))
    assert result.outcome == Outcome.PUBLISHED, result.reason
    assert fake.created == 2

    # Reconciling a reply from a fresh checkout lists /replies, matched by its text.
    progress = progress_for(adapter, rendered)
    progress.done = [result.parts[0]]
    found = make(root, fake, http).reconcile(rendered, progress)
    assert found.outcome == Outcome.PUBLISHED and found.parts[0].id == fake.posts[1]["id"]
    assert fake.requests_to("GET", r"/replies$")


def test_expired_token_needs_new_credentials(tmp_path: Path, fake: FakeThreads, http: Http) -> None:
    fake.expired.add(TOKEN)
    adapter = make(tmp_path / "repo", fake, http)
    rendered = rendered_of("th", "threads", "Bonjour")

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.FAILED and result.needs_reauth
    assert TOKEN_ENV in (result.reason or "") and "threads_content_publish" in (result.reason or "")
    assert_no_token(result)


def test_app_rate_limit_defers_without_a_second_call(
    tmp_path: Path, fake: FakeThreads, http: Http
) -> None:
    fake.throttle()
    adapter = make(tmp_path / "repo", fake, http)
    rendered = rendered_of("th", "threads", "Bonjour")

    result = adapter.publish(rendered, progress_for(adapter, rendered))

    assert result.outcome == Outcome.RETRY and "error 4" in (result.reason or "")
    assert len(fake.requests) == 1


# -- the 500-character limit, counted as Threads counts ----------------------------------------

# "🌱" is 4 UTF-8 bytes, the family ZWJ sequence 25: Threads counts them so.
FAMILY = "👨\u200d👩\u200d👧\u200d👦"
TEXT_500 = "é" * 471 + FAMILY + "🌱"
TEXT_501 = "é" * 472 + FAMILY + "🌱"


def test_the_fake_counts_like_the_documentation() -> None:
    assert threads_length("🌱") == 4 and threads_length(FAMILY) == 25
    assert threads_length(TEXT_500) == 500 and threads_length(TEXT_501) == 501


@pytest.mark.parametrize(("text", "ok"), [(TEXT_500, True), (TEXT_501, False)])
def test_validate_and_threads_agree_on_500_versus_501(
    tmp_path: Path, fake: FakeThreads, http: Http, text: str, ok: bool
) -> None:
    import subprocess
    import sys

    from cmflow.platforms.threads import Adapter as ThreadsAdapter

    ch = {"platform": "threads", "user_id": fake.user_id, "token_env": TOKEN_ENV}
    root = write_repo(
        tmp_path / "v",
        {"p.md": post_file(["th"], text, pillar="community")},
        config=channels_yaml({"th": ch}),
    )
    done = subprocess.run(
        [sys.executable, "-m", "cmflow", "validate"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode == 0) is ok, done.stdout + done.stderr
    if not ok:
        assert "channel.max-length" in done.stdout and "501/500" in done.stdout

    adapter = make(tmp_path / "repo", fake, http)
    assert isinstance(adapter, ThreadsAdapter)
    rendered = rendered_of("th", "threads", text)
    result = adapter.publish(rendered, progress_for(adapter, rendered))
    assert (result.outcome == Outcome.PUBLISHED) is ok, result.reason
    if not ok:
        assert result.outcome == Outcome.RETRY or result.outcome == Outcome.FAILED
        assert fake.created == 0
