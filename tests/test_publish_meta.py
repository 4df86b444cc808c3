"""End to end with the Meta platforms: the real `cmflow` CLI in a subprocess, a real git
repository with a bare remote, loopback Graph fakes and the public site they fetch images
from. Oracles: the fakes' post and container counts, the record pushed to the remote, and
what the run prints (and writes to the GitHub job summary)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.facebook import FakeFacebook
from tests.fakes.graph import FakeGraph, StaticSite
from tests.fakes.instagram import FakeInstagram
from tests.fakes.threads import FakeThreads
from tests.meta import JPEG, TOKEN
from tests.publishing import (
    NOW,
    from_now,
    init_remote,
    iso,
    post,
    pushed_site,
    remote_record,
    site,
    wait_until,
)

FB_ENV = "CMFLOW_FACEBOOK_TOKEN"
IG_ENV = "CMFLOW_INSTAGRAM_TOKEN"
TH_ENV = "CMFLOW_THREADS_TOKEN"
OTHER_TOKEN = "THQWJRTHREADSs3cr3tT0ken7"


def instagram_channel(fake: FakeInstagram, web: StaticSite) -> dict[str, Any]:
    return {
        "platform": "instagram",
        "base_url": f"{fake.url}/v25.0",
        "user_id": fake.user_id,
        "token_env": IG_ENV,
        "media_base_url": f"{web.url}/media",
    }


def threads_channel(fake: FakeThreads, web: StaticSite) -> dict[str, Any]:
    return {
        "platform": "threads",
        "base_url": f"{fake.url}/v1.0",
        "user_id": fake.user_id,
        "token_env": TH_ENV,
        "media_base_url": f"{web.url}/media",
    }


def facebook_channel(fake: FakeFacebook) -> dict[str, Any]:
    return {
        "platform": "facebook",
        "base_url": f"{fake.url}/v25.0",
        "page_id": fake.page_id,
        "token_env": FB_ENV,
    }


CASES: dict[str, tuple[type[FakeGraph], str, Callable[..., dict[str, Any]]]] = {
    "instagram": (FakeInstagram, IG_ENV, instagram_channel),
    "threads": (FakeThreads, TH_ENV, threads_channel),
}


@pytest.mark.parametrize("platform", sorted(CASES))
def test_sigkill_between_container_and_publish_gives_one_post_and_one_container(
    tmp_path: Path, platform: str
) -> None:
    fake_class, env_name, make_channel = CASES[platform]
    with fake_class(token=TOKEN) as fake, StaticSite(tmp_path / "ci") as web:
        assert isinstance(fake, FakeInstagram | FakeThreads)
        remote = init_remote(tmp_path / "remote.git")
        s = pushed_site(
            remote,
            tmp_path / "ci",
            {platform: make_channel(fake, web)},
            {
                "a.md": post(
                    [platform],
                    "Atelier compost samedi, coupé net entre deux étapes",
                    media=[{"path": "media/atelier.jpg", "alt": "Bacs à compost au jardin"}],
                )
            },
            env={env_name: TOKEN},
            secrets=[TOKEN],
            media={"media/atelier.jpg": JPEG},
        )
        # The platform keeps the container IN_PROGRESS: the run is killed while it waits.
        fake.containers.release.clear()
        running = s.start("publish", "--commit", at=NOW)

        def container_recorded() -> bool:
            entry = s.record("a", platform) or {}
            handles = entry.get("handles", {}).get("part_handles", {})
            return bool(handles.get("0", {}).get("container"))

        wait_until(container_recorded, what="the container id in the local record")
        killed = running.kill()
        assert killed.code == -9
        assert fake.containers.count == 1 and fake.created == 0
        pushed = remote_record(remote, "a", platform)
        assert pushed is not None and pushed["state"] == "claimed"
        fake.containers.release.set()
        fake.containers.wait_settled()

        # The next run (the killed one holds nothing any more): the recorded container is
        # FINISHED, not published, so it is published, and no second container is made.
        second = s.publish("--commit", at=from_now(minutes=5))
        assert second.code == 0, second
        assert fake.created == 1 and fake.containers.count == 1
        entry = remote_record(remote, "a", platform)
        assert entry is not None and entry["state"] == "published", entry
        assert entry["parts"][0]["id"] == fake.posts[0]["id"]

        # And the run after that does nothing.
        assert s.publish("--commit", at=from_now(minutes=40)).code == 0
        assert fake.created == 1 and fake.containers.count == 1
        s.assert_no_secret()


def test_expired_token_marks_only_that_channel_needs_new_credentials(tmp_path: Path) -> None:
    with FakeFacebook(token=TOKEN) as fb, FakeThreads(token=OTHER_TOKEN) as th:
        fb.expired.add(TOKEN)
        with StaticSite(tmp_path / "repo") as web:
            s = site(
                tmp_path / "repo",
                {"facebook": facebook_channel(fb), "threads": threads_channel(th, web)},
                {"a.md": post(["facebook", "threads"], "Jeton expiré, les autres continuent")},
                env={FB_ENV: TOKEN, TH_ENV: OTHER_TOKEN},
                secrets=[TOKEN, OTHER_TOKEN],
            )
            summary = tmp_path / "summary.md"
            env = {
                **os.environ,
                **s.env,
                "GITHUB_ACTIONS": "true",
                "GITHUB_STEP_SUMMARY": str(summary),
            }
            done = subprocess.run(
                [sys.executable, "-m", "cmflow", "publish", "--at", iso(NOW)],
                cwd=s.root,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
    assert done.returncode == 1, done.stdout + done.stderr
    assert th.created == 1 and fb.created == 0
    assert "needs_reauth" in done.stdout and "needs new credentials" in done.stdout
    assert FB_ENV in done.stdout
    text = summary.read_text("utf-8")
    assert "| 🔑 | needs_reauth | facebook |" in text
    assert FB_ENV.replace("_", "\\_") in text  # Markdown-escaped in the job summary
    assert "| ✓ | published | threads |" in text
    assert s.state("a", "facebook") == "deferred"
    # In GitHub Actions the secrets are first announced as `::add-mask::` (so GitHub hides
    # them); nothing else may hold them.
    printed = "\n".join(
        line for line in done.stdout.splitlines() if not line.startswith("::add-mask::")
    )
    s.assert_no_secret(printed, done.stderr, text)


def test_business_use_case_limit_defers_the_channel_until_access_returns(
    tmp_path: Path,
) -> None:
    with FakeFacebook(token=TOKEN) as fb, FakeThreads(token=OTHER_TOKEN) as th:
        fb.throttle(regain_minutes=30)
        with StaticSite(tmp_path / "repo") as web:
            s = site(
                tmp_path / "repo",
                {"facebook": facebook_channel(fb), "threads": threads_channel(th, web)},
                {
                    "a.md": post(["facebook", "threads"], "Limite atteinte, premier"),
                    "b.md": post(["facebook"], "Limite atteinte, second"),
                },
                env={FB_ENV: TOKEN, TH_ENV: OTHER_TOKEN},
                secrets=[TOKEN, OTHER_TOKEN],
            )
            result = s.publish()
            assert result.code == 0, result
            assert th.created == 1 and fb.created == 0
            assert len(fb.requests) == 1  # the second post was not even tried
            for post_id in ("a", "b"):
                entry = s.record(post_id, "facebook")
                assert entry is not None and entry["state"] == "deferred", entry
            not_before = (s.record("a", "facebook") or {})["not_before"]
            assert not_before and not_before > from_now(minutes=25).isoformat()[:16]
            assert s.actions(at=from_now(minutes=10))[("a", "facebook")] == "wait"

            fb.unthrottle()
            later = s.publish(at=from_now(minutes=31))
            assert later.code == 0, later
            assert fb.created == 2 and th.created == 1
            s.assert_no_secret()
