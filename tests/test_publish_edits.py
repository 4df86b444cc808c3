"""Correcting a post after it went out: the site re-renders it, Mastodon (on_edit: update)
gets an edit, exactly once; elsewhere the change is flagged and left alone."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from cmflow.model import Finding
from tests.fakes import Fault
from tests.publishing import (
    Fakes,
    Site,
    ago,
    created,
    feed_channel,
    mastodon_channel,
    post,
    site,
)

BODY = "Notre croissant sort du four à 7 h. edit-77x"
FIXED = "Notre croissant sort du four à 6 h 30. edit-77x"
DATE = ago(hours=1)


def _atom_dates(feed: str) -> tuple[datetime, datetime]:
    updated = re.search(r"<entry[^>]*>.*?<updated>(.*?)</updated>", feed, re.S)
    published = re.search(r"<published>(.*?)</published>", feed)
    assert updated and published
    return (
        datetime.fromisoformat(updated.group(1).replace("Z", "+00:00")),
        datetime.fromisoformat(published.group(1).replace("Z", "+00:00")),
    )


def test_an_edited_post_is_re_rendered_on_the_site(tmp_path: Path) -> None:
    s = site(
        tmp_path / "repo",
        {"site": feed_channel()},
        {"croissant.md": post(["site"], BODY, date=DATE, title="Le croissant")},
    )
    first = s.publish()
    assert first.code == 0, first
    feed_before = (s.root / "public" / "feed.xml").read_text(encoding="utf-8")
    updated_before, published_before = _atom_dates(feed_before)

    s.write_post("croissant.md", post(["site"], FIXED, date=DATE, title="Le croissant"))
    validate = s.run("validate")
    assert "the next publish run sends the change as an edit" in validate.stdout
    plan = s.actions()
    assert plan[("croissant", "site")] == "update"

    second = s.publish()
    assert second.code == 0, second
    assert "updated" in second.stdout and "site" in second.stdout
    for page in ("index.html", "croissant/index.html", "feed.xml"):
        text = (s.root / "public" / page).read_text(encoding="utf-8")
        assert "6 h 30" in text and "à 7 h." not in text, page
    updated_after, published_after = _atom_dates(
        (s.root / "public" / "feed.xml").read_text(encoding="utf-8")
    )
    assert published_after == published_before and updated_after > updated_before
    record = s.record("croissant", "site")
    assert record is not None and record["state"] == "published"
    assert [h["event"] for h in record["history"]][-1] == "updated"
    # Once sent, nothing more to do; validate no longer warns.
    assert s.actions()[("croissant", "site")] == "done"
    assert "edited-after-publish" not in s.run("validate").stdout


def test_mastodon_gets_the_edit_when_on_edit_is_update(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        {"mastodon": mastodon_channel(fakes.mastodon, on_edit="update")},
        {"croissant.md": post(["mastodon"], BODY, date=DATE)},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    (status,) = fakes.mastodon.posts
    s.write_post("croissant.md", post(["mastodon"], FIXED, date=DATE))
    run = s.publish()
    assert run.code == 0, run
    assert created(fakes.mastodon, "edit-77x") == 1  # edited in place, never a second status
    assert fakes.mastodon.edits == [{"id": status["id"], "text": FIXED}]
    assert "6 h 30" in fakes.mastodon.status(status["id"])["content"]
    assert fakes.mastodon.status(status["id"])["edited_at"] is not None
    assert s.publish().code == 0 and len(fakes.mastodon.edits) == 1  # exactly once


def test_an_edit_whose_answer_is_lost_is_read_back_not_resent(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        {"mastodon": mastodon_channel(fakes.mastodon, on_edit="update")},
        {"croissant.md": post(["mastodon"], BODY, date=DATE)},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    s.write_post("croissant.md", post(["mastodon"], FIXED, date=DATE))
    # The edit lands, but every answer is a 503: the outcome is unknown.
    fakes.mastodon.inject("PUT", r"^/api/v1/statuses/", Fault.after_commit_status(503), times=None)
    lost = s.publish()
    assert lost.code == 1 and s.state("croissant", "mastodon") == "unknown", lost
    fakes.mastodon.clear_faults()
    sent = len(fakes.mastodon.edits)
    assert s.actions()[("croissant", "mastodon")] == "reconcile"
    settled = s.publish()
    assert settled.code == 0, settled
    assert len(fakes.mastodon.edits) == sent  # read back through /source, not sent again
    assert s.state("croissant", "mastodon") == "published"
    assert created(fakes.mastodon, "edit-77x") == 1


def test_a_refused_edit_keeps_the_published_version_and_is_not_retried(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = site(
        tmp_path / "repo",
        {"mastodon": mastodon_channel(fakes.mastodon, on_edit="update")},
        {"croissant.md": post(["mastodon"], BODY, date=DATE)},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    (status,) = fakes.mastodon.posts
    fakes.mastodon.delete_status(status["id"])
    s.write_post("croissant.md", post(["mastodon"], FIXED, date=DATE))
    refused = s.publish()
    assert refused.code == 1 and "edit refused" in refused.stdout, refused
    assert s.state("croissant", "mastodon") == "published"
    assert s.actions()[("croissant", "mastodon")] == "done"  # not retried every run
    assert created(fakes.mastodon, "edit-77x") == 1


def _assert_validate_names_the_url(s: Site, words: str, url: str) -> None:
    """`validate` gives the post's address in its edited-after-publish warning, with a cold
    validation cache and again with a warm one (record entries read from the cache)."""
    from tests.test_cache import _age

    cache = s.root / ".cmflow-cache" / "validate.bin"
    cache.unlink(missing_ok=True)
    _age(s.root)  # files older than the cache's clock tick: trusted by their stamps
    cold = s.run("validate")
    assert words in cold.stdout and url in cold.stdout, cold
    assert cache.is_file()
    stamp = cache.stat().st_mtime_ns
    warm = s.run("validate")
    assert warm.stdout == cold.stdout, warm
    assert cache.stat().st_mtime_ns == stamp  # unchanged: answered from the cache


def test_by_default_an_edit_is_flagged_with_the_posts_address(tmp_path: Path, fakes: Fakes) -> None:
    s = site(
        tmp_path / "repo",
        {"mastodon": mastodon_channel(fakes.mastodon)},
        {"croissant.md": post(["mastodon"], BODY, date=DATE)},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    (status,) = fakes.mastodon.posts
    s.write_post("croissant.md", post(["mastodon"], FIXED, date=DATE))
    _assert_validate_names_the_url(s, "set `on_edit: update` on mastodon", status["url"])
    plan = s.run("plan", "--all").stdout
    assert "set `on_edit: update` on mastodon" in plan and status["url"] in plan
    assert s.actions()[("croissant", "mastodon")] == "done"
    assert s.publish().code == 0 and fakes.mastodon.edits == []


def test_a_platform_that_cannot_edit_keeps_the_warning_with_the_url(
    tmp_path: Path,
) -> None:
    from cmflow.rules.schedule import edited_after_publish  # noqa: F401 (the rule under test)

    s = site(
        tmp_path / "repo",
        {
            "bluesky": {
                "platform": "bluesky",
                "handle": "marque.bsky.social",
                "password_env": "CMFLOW_BLUESKY_APP_PASSWORD",
                "on_edit": "update",
            }
        },
        {"croissant.md": post(["bluesky"], FIXED, date=DATE)},
    )
    url = "https://bsky.app/profile/marque.bsky.social/post/3kabc"
    s.write(
        "data/record/croissant/bluesky.json",
        '{"post": "croissant", "channel": "bluesky", "platform": "bluesky", '
        '"state": "published", "content_hash": "0000", "published_at": "2026-11-24T08:31:00Z", '
        f'"parts": [{{"id": "at://x/app.bsky.feed.post/3kabc", "url": "{url}"}}]}}',
    )
    _assert_validate_names_the_url(s, "Bluesky cannot edit a post", url)
    plan = s.run("plan", "--all").stdout
    assert "Bluesky cannot edit a post" in plan and url in plan
    assert s.actions()[("croissant", "bluesky")] == "done"
    assert isinstance(Finding, type)


def test_resolve_absent_then_publish_rewrites_the_sites_pages(tmp_path: Path) -> None:
    # What a user tried before edits were supported: declare the page absent, publish again.
    s = site(
        tmp_path / "repo",
        {"site": feed_channel(on_edit="warn")},
        {"croissant.md": post(["site"], BODY, date=DATE, title="Le croissant")},
    )
    assert s.publish().code == 0
    s.write_post("croissant.md", post(["site"], FIXED, date=DATE, title="Le croissant"))
    assert s.actions()[("croissant", "site")] == "done"  # on_edit: warn, on purpose
    assert s.run("resolve", "croissant", "site", "--absent", "--force").code == 0
    again = s.publish()
    assert again.code == 0 and "published" in again.stdout, again
    for page in ("index.html", "croissant/index.html", "feed.xml"):
        text = (s.root / "public" / page).read_text(encoding="utf-8")
        assert "6 h 30" in text and "à 7 h." not in text, page


def test_a_change_of_channels_yaml_alone_edits_nothing(tmp_path: Path, fakes: Fakes) -> None:
    body = "Les horaires de Noël : https://boulangerie.example/noel edit-77x"
    channels = {"mastodon": mastodon_channel(fakes.mastodon, on_edit="update")}
    s = site(
        tmp_path / "repo",
        channels,
        {"noel.md": post(["mastodon"], body, date=DATE)},
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    assert s.publish().code == 0
    # UTM tracking added afterwards changes what would be sent, not the post.
    s.write_config(
        channels,
        editorial_line={
            "link_tracking": {"domains": ["boulangerie.example"], "utm_source": "{channel}"}
        },
    )
    assert s.actions()[("noel", "mastodon")] == "done"
    assert s.publish().code == 0 and fakes.mastodon.edits == []
