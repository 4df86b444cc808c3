"""The Slack incoming-webhook adapter against the loopback FakeSlack (real HTTP, no patching).

What a user relies on: the channel shows exactly the rendered text (mrkdwn control characters
escaped, nothing else changed), images as blocks served from `media_base_url` with their alt
text (and none without it), thread parts in order; each error code lands in the right class;
a lost answer is UNKNOWN with one message created; the webhook URL never leaks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from cmflow.config import Channel, load
from cmflow.errors import MissingSecret
from cmflow.http import Http
from cmflow.model import Media, Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult, Result
from cmflow.platforms.slack import Adapter
from tests.fakes import FakeSlack, Fault
from tests.progress import MemProgress

POST_PATH = r"^/services/"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


def make_channel(root: Path, media_base_url: str | None = None) -> Channel:
    extra = f"    media_base_url: {media_base_url}\n" if media_base_url else ""
    (root / "channels.yaml").write_text(
        "channels:\n  slack:\n    platform: slack\n    webhook_env: CMFLOW_TEST_SLACK\n" + extra
    )
    return load(root).channels["slack"]


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=1.0, max_wait=1.0) as client:
        yield client


def adapter_for(root: Path, http: Http, url: str, media_base_url: str | None = None) -> Adapter:
    channel = make_channel(root, media_base_url)
    return Adapter(Context(channel, root, http, {"webhook_env": url}))


def rendered(*parts: Part) -> Rendered:
    return Rendered(post_id="p1", channel="slack", platform="slack", parts=list(parts))


def sha16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def assert_no_secret(result: Result, *secrets: str) -> None:
    texts = [result.reason or "", repr(result)]
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}:
            for text in texts:
                assert form.lower() not in text.lower()


# -- what the server receives ---------------------------------------------------------------


def test_text_is_sent_escaped_for_mrkdwn_and_id_derived_from_it(
    fake: FakeSlack, tmp_path: Path, http: Http
) -> None:
    text = "Tom & Jerry <b>gras</b> -> *pas du gras* _ni_ ça 🎉 https://example.fr/?a=1&b=2"
    adapter = adapter_for(tmp_path, http, fake.webhook_url)
    progress = MemProgress(fake)

    assert adapter.prepare(rendered(Part(text)), "key") == {}
    result = adapter.publish(rendered(Part(text)), progress)

    assert result.outcome is Outcome.PUBLISHED, result.reason
    [req] = fake.requests
    assert req.content_type == "application/json"
    assert req.json == {
        "text": "Tom &amp; Jerry &lt;b&gt;gras&lt;/b&gt; -&gt; *pas du gras* _ni_ ça 🎉 "
        "https://example.fr/?a=1&amp;b=2"
    }
    assert fake.created == 1
    assert result.parts == progress.done
    assert result.remote_id == "slack:" + sha16(text)
    assert result.url is None


def test_images_become_blocks_from_media_base_url_with_alt_text(
    fake: FakeSlack, tmp_path: Path, http: Http
) -> None:
    part = Part(
        "Le programme <en images>",
        media=[
            Media("media/atelier cm.jpg", "Affiche de l'atelier"),
            Media("media/2026/chart.png", "Graphique"),
        ],
    )
    adapter = adapter_for(tmp_path, http, fake.webhook_url, "https://example.fr/media/")
    result = adapter.publish(rendered(part), MemProgress(fake))

    assert result.outcome is Outcome.PUBLISHED, result.reason
    [post] = fake.posts
    assert post["text"] == "Le programme &lt;en images&gt;"
    assert post["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Le programme &lt;en images&gt;"}},
        {
            "type": "image",
            "image_url": "https://example.fr/media/atelier%20cm.jpg",
            "alt_text": "Affiche de l'atelier",
        },
        {
            "type": "image",
            "image_url": "https://example.fr/media/2026/chart.png",
            "alt_text": "Graphique",
        },
    ]


def test_long_text_with_images_is_split_into_sections(
    fake: FakeSlack, tmp_path: Path, http: Http
) -> None:
    text = "\n".join(f"Ligne {i} & suite" for i in range(250))  # ~4,300 escaped characters
    part = Part(text, media=[Media("media/a.png", "A")])
    adapter = adapter_for(tmp_path, http, fake.webhook_url, "https://example.fr/media")
    assert adapter.publish(rendered(part), MemProgress(fake)).outcome is Outcome.PUBLISHED
    blocks = fake.posts[0]["blocks"]
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(sections) == 2
    assert all(len(s) <= 3000 for s in sections)
    assert "\n".join(sections) == text.replace("&", "&amp;")
    assert blocks[-1]["type"] == "image"


def test_without_media_base_url_images_are_not_sent(
    fake: FakeSlack, tmp_path: Path, http: Http
) -> None:
    part = Part("Avec image", media=[Media("media/a.png", "A")])
    result = adapter_for(tmp_path, http, fake.webhook_url).publish(
        rendered(part), MemProgress(fake)
    )
    assert result.outcome is Outcome.PUBLISHED, result.reason
    assert fake.posts[0]["text"] == "Avec image"
    assert "blocks" not in fake.posts[0]


def test_thread_parts_are_consecutive_messages_each_recorded_before_the_next(
    fake: FakeSlack, tmp_path: Path, http: Http
) -> None:
    progress = MemProgress(fake)
    result = adapter_for(tmp_path, http, fake.webhook_url).publish(
        rendered(Part("un"), Part("deux"), Part("trois")), progress
    )
    assert result.outcome is Outcome.PUBLISHED, result.reason
    assert [p["text"] for p in fake.posts] == ["un", "deux", "trois"]
    assert [p.id for p in result.parts] == ["slack:" + sha16(t) for t in ("un", "deux", "trois")]
    assert progress.events == [
        ("started", 0, 0),
        ("done", 0, 1),
        ("started", 1, 1),
        ("done", 1, 2),
        ("started", 2, 2),
        ("done", 2, 3),
    ]


def test_resume_sends_only_missing_parts(fake: FakeSlack, tmp_path: Path, http: Http) -> None:
    progress = MemProgress(fake, done=[PartResult("slack:" + sha16("un"))])
    result = adapter_for(tmp_path, http, fake.webhook_url).publish(
        rendered(Part("un"), Part("deux")), progress
    )
    assert result.outcome is Outcome.PUBLISHED
    assert [p["text"] for p in fake.posts] == ["deux"]
    assert len(result.parts) == 2


# -- outcomes -------------------------------------------------------------------------------


def test_archived_channel_is_failed_without_reauth(
    fake: FakeSlack, tmp_path: Path, http: Http
) -> None:
    fake.archive()
    result = adapter_for(tmp_path, http, fake.webhook_url).publish(
        rendered(Part("a")), MemProgress(fake)
    )
    assert result.outcome is Outcome.FAILED
    assert not result.needs_reauth
    assert "channel_is_archived" in (result.reason or "")
    assert "archived" in (result.reason or "")
    assert fake.created == 0


def test_invalid_payload_is_failed(fake: FakeSlack, tmp_path: Path, http: Http) -> None:
    fake.inject("POST", POST_PATH, Fault.status(400, "invalid_payload"))
    result = adapter_for(tmp_path, http, fake.webhook_url).publish(
        rendered(Part("a")), MemProgress(fake)
    )
    assert result.outcome is Outcome.FAILED and not result.needs_reauth
    assert "invalid_payload" in (result.reason or "")


def test_removed_webhook_needs_reauth_and_is_not_called_again(
    fake: FakeSlack, tmp_path: Path, http: Http
) -> None:
    fake.remove_webhook(fake.webhook_path)
    adapter = adapter_for(tmp_path, http, fake.webhook_url)
    first = adapter.publish(rendered(Part("a")), MemProgress(fake))
    second = adapter.publish(rendered(Part("b")), MemProgress(fake))
    for result in (first, second):
        assert result.outcome is Outcome.FAILED and result.needs_reauth
        assert "no_service" in (result.reason or "")
        assert "CMFLOW_TEST_SLACK" in (result.reason or "")
    assert len(fake.requests) == 1


def test_invalid_token_needs_reauth(fake: FakeSlack, tmp_path: Path, http: Http) -> None:
    bad = fake.webhook_url.rsplit("/", 1)[0] + "/wrongSecret123"
    result = adapter_for(tmp_path, http, bad).publish(rendered(Part("a")), MemProgress(fake))
    assert result.outcome is Outcome.FAILED and result.needs_reauth
    assert "invalid_token" in (result.reason or "")


def test_rate_limit_is_retry_with_retry_after(fake: FakeSlack, tmp_path: Path, http: Http) -> None:
    fake.inject("POST", POST_PATH, fake.rate_limited_fault(retry_after=30))
    adapter = adapter_for(tmp_path, http, fake.webhook_url)
    first = adapter.publish(rendered(Part("a")), MemProgress(fake))
    assert first.outcome is Outcome.RETRY
    assert first.retry_after == 30
    second = adapter.publish(rendered(Part("b")), MemProgress(fake))
    assert second.outcome is Outcome.RETRY
    assert len(fake.requests) == 1 and fake.created == 0


def test_rate_limit_mid_thread_keeps_done_parts(
    fake: FakeSlack, tmp_path: Path, http: Http
) -> None:
    fake.rate_limit(1, reset_in=20.0)
    result = adapter_for(tmp_path, http, fake.webhook_url).publish(
        rendered(Part("un"), Part("deux")), MemProgress(fake)
    )
    assert result.outcome is Outcome.RETRY
    assert result.retry_after is not None and result.retry_after > 10
    assert [p.id for p in result.parts] == ["slack:" + sha16("un")]
    assert (result.reason or "").startswith("part 2 of 2: ")
    assert fake.created == 1


def test_dropped_answer_after_commit_is_unknown_with_one_message(
    fake: FakeSlack, tmp_path: Path, http: Http
) -> None:
    fake.inject("POST", POST_PATH, Fault.drop_after_commit())
    adapter = adapter_for(tmp_path, http, fake.webhook_url)
    progress = MemProgress(fake)
    result = adapter.publish(rendered(Part("a")), progress)
    assert result.outcome is Outcome.UNKNOWN
    assert fake.created == 1
    assert progress.done == []
    assert adapter.reconcile(rendered(Part("a")), progress).outcome is Outcome.UNKNOWN
    assert fake.created == 1 and len(fake.requests) == 1


def test_server_error_is_unknown(fake: FakeSlack, tmp_path: Path, http: Http) -> None:
    fake.inject("POST", POST_PATH, Fault.after_commit_status(500, "rollup_error"))
    result = adapter_for(tmp_path, http, fake.webhook_url).publish(
        rendered(Part("a"), Part("b")), MemProgress(fake)
    )
    assert result.outcome is Outcome.UNKNOWN
    assert "rollup_error" in (result.reason or "")
    assert fake.created == 1 and len(fake.requests) == 1


def test_missing_secret_raises(tmp_path: Path, http: Http) -> None:
    channel = make_channel(tmp_path)
    with pytest.raises(MissingSecret) as info:
        Adapter(Context(channel, tmp_path, http, {}))
    assert "CMFLOW_TEST_SLACK" in str(info.value)


# -- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenario", ["archived", "removed", "bad_token", "rate_limited", "server_error", "dropped"]
)
def test_no_secret_in_any_outcome_even_when_echoed(
    fake: FakeSlack, tmp_path: Path, http: Http, scenario: str
) -> None:
    fake.echo_secrets = True
    url = fake.webhook_url
    secret = fake.webhook_path.rsplit("/", 1)[-1]
    secrets = [url, secret]
    if scenario == "archived":
        fake.archive()
    elif scenario == "removed":
        fake.remove_webhook(fake.webhook_path)
    elif scenario == "bad_token":
        url = url.rsplit("/", 1)[0] + "/wrong%2BSecret%3D1"
        secrets += [url, "wrong+Secret=1", "wrong%2BSecret%3D1"]
    elif scenario == "rate_limited":
        fake.inject("POST", POST_PATH, Fault.status(429, headers={"Retry-After": "5"}))
    elif scenario == "server_error":
        fake.inject("POST", POST_PATH, Fault.after_commit_status(500))
    else:
        fake.inject("POST", POST_PATH, Fault.drop_after_commit())

    adapter = adapter_for(tmp_path, http, url)
    result = adapter.publish(rendered(Part("a")), MemProgress(fake))

    assert result.outcome is not Outcome.PUBLISHED
    if scenario != "dropped":  # the fake really did echo the URL
        body = fake.requests[0].response_body or b""
        assert b"/services/" in body
    assert_no_secret(result, *secrets)
    assert_no_secret(adapter.reconcile(rendered(Part("a")), MemProgress(fake)), *secrets)
