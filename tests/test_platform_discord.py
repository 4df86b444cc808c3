"""The Discord webhook adapter against the loopback FakeDiscord (real HTTP, no patching).

What a user relies on: the channel receives exactly the rendered text, the images with their
alt text, thread parts in order; each outcome lands in the right class (a deleted webhook is
`needs_reauth` and never hit again in the run, a 429 is a RETRY with Discord's delay); a lost
answer is UNKNOWN with one message created, never two; the webhook URL never leaks.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from cmflow.config import Channel, load
from cmflow.content import parse_post
from cmflow.errors import MissingSecret
from cmflow.http import Http
from cmflow.model import Media, Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult, Result
from cmflow.platforms.discord import Adapter
from cmflow.render import render
from tests.fakes import FakeDiscord, Fault
from tests.progress import MemProgress

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 64
POST_PATH = r"^/api/webhooks/"


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        server.rate_limit(None)  # rate limits are tested explicitly
        yield server


@pytest.fixture
def channel(tmp_path: Path) -> Channel:
    (tmp_path / "channels.yaml").write_text(
        "channels:\n  discord:\n    platform: discord\n    webhook_env: CMFLOW_TEST_DISCORD\n"
    )
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "chart.png").write_bytes(PNG)
    (tmp_path / "media" / "photo.jpg").write_bytes(JPEG)
    return load(tmp_path).channels["discord"]


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=1.0, max_wait=1.0) as client:
        yield client


def adapter_for(channel: Channel, root: Path, http: Http, url: str) -> Adapter:
    return Adapter(Context(channel, root, http, {"webhook_env": url}))


def rendered(*parts: Part) -> Rendered:
    return Rendered(post_id="p1", channel="discord", platform="discord", parts=list(parts))


def assert_no_secret(result: Result, *secrets: str) -> None:
    texts = [result.reason or "", repr(result)]
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}:
            for text in texts:
                assert form not in text
                assert form.lower() not in text.lower()


# -- what the server receives ---------------------------------------------------------------


def test_text_message_is_posted_with_wait_and_its_id_recorded(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    adapter = adapter_for(channel, tmp_path, http, fake.webhook_url)
    progress = MemProgress(fake)
    text = "Bonjour à tous ! L'atelier CM 2026 ouvre ses inscriptions 🎉 https://example.fr/a"

    assert adapter.prepare(rendered(Part(text)), "key") == {}
    result = adapter.publish(rendered(Part(text)), progress)

    assert result.outcome is Outcome.PUBLISHED, result.reason
    [req] = fake.requests
    assert req.method == "POST"
    assert req.query["wait"] == "true"
    assert req.json == {"content": text}
    [post] = fake.posts
    assert post["content"] == text
    assert result.parts == progress.done
    assert result.remote_id == post["id"]
    assert result.url is None  # no guild id in the answer: no reliable message URL
    assert fake.message(post["id"])["content"] == text


def test_rendered_post_goes_out_as_rendered(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    raw = (
        b"---\ndate: 2026-11-19 08:30\nchannels: [discord]\n---\n"
        b"Cinq **indicateurs** qui comptent, et pourquoi.\n"
    )
    post = parse_post("content/p.md", raw, UTC, {"discord": channel})
    r = render(post, channel)
    result = adapter_for(channel, tmp_path, http, fake.webhook_url).publish(r, MemProgress(fake))
    assert result.outcome is Outcome.PUBLISHED, result.reason
    assert fake.posts[0]["content"] == r.parts[0].text


def test_images_are_uploaded_with_their_alt_text(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    part = Part(
        "Le programme en images",
        media=[Media("media/chart.png", "Graphique en barres"), Media("media/photo.jpg")],
    )
    result = adapter_for(channel, tmp_path, http, fake.webhook_url).publish(
        rendered(part), MemProgress(fake)
    )

    assert result.outcome is Outcome.PUBLISHED, result.reason
    [req] = fake.requests
    assert req.content_type == "multipart/form-data"
    assert req.query["wait"] == "true"
    payload = json.loads(req.form["payload_json"])
    assert payload["content"] == "Le programme en images"
    assert req.files["files[0]"].data == PNG
    assert req.files["files[0]"].filename == "chart.png"
    assert req.files["files[0]"].content_type == "image/png"
    assert req.files["files[1]"].data == JPEG
    assert req.files["files[1]"].content_type == "image/jpeg"
    attachments = fake.posts[0]["attachments"]
    assert [a["filename"] for a in attachments] == ["chart.png", "photo.jpg"]
    assert [a["description"] for a in attachments] == ["Graphique en barres", None]


def test_missing_media_fails_before_anything_is_sent(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    part = Part("x", media=[Media("media/absent.png", "alt")])
    progress = MemProgress(fake)
    result = adapter_for(channel, tmp_path, http, fake.webhook_url).publish(
        rendered(part), progress
    )
    assert result.outcome is Outcome.FAILED
    assert "media/absent.png" in (result.reason or "")
    assert fake.requests == [] and progress.events == []


def test_thread_parts_go_as_consecutive_messages_each_recorded_before_the_next(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    progress = MemProgress(fake)
    result = adapter_for(channel, tmp_path, http, fake.webhook_url).publish(
        rendered(Part("un"), Part("deux"), Part("trois")), progress
    )

    assert result.outcome is Outcome.PUBLISHED, result.reason
    assert [p["content"] for p in fake.posts] == ["un", "deux", "trois"]
    assert [p.id for p in result.parts] == [p["id"] for p in fake.posts]
    # started(i) before request i; done(i) after response i and before request i+1.
    assert progress.events == [
        ("started", 0, 0),
        ("done", 0, 1),
        ("started", 1, 1),
        ("done", 1, 2),
        ("started", 2, 2),
        ("done", 2, 3),
    ]


def test_resumed_thread_sends_only_the_missing_parts(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    progress = MemProgress(fake, done=[PartResult("111")])
    result = adapter_for(channel, tmp_path, http, fake.webhook_url).publish(
        rendered(Part("un"), Part("deux")), progress
    )
    assert result.outcome is Outcome.PUBLISHED, result.reason
    assert [p["content"] for p in fake.posts] == ["deux"]
    assert [p.id for p in result.parts] == ["111", fake.posts[0]["id"]]


def test_webhook_query_is_kept_and_wait_added(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    url = fake.webhook_url + "?thread_id=4242&wait=false"
    result = adapter_for(channel, tmp_path, http, url).publish(
        rendered(Part("dans le fil")), MemProgress(fake)
    )
    assert result.outcome is Outcome.PUBLISHED, result.reason
    [req] = fake.requests
    assert req.query_all["wait"] == ["true"]
    assert req.query["thread_id"] == "4242"
    assert fake.posts[0]["channel_id"] == "4242"


# -- outcomes -------------------------------------------------------------------------------


def test_form_error_is_failed_with_discords_words(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    result = adapter_for(channel, tmp_path, http, fake.webhook_url).publish(
        rendered(Part("x" * 2001)), MemProgress(fake)
    )
    assert result.outcome is Outcome.FAILED
    assert not result.needs_reauth
    assert "Invalid Form Body" in (result.reason or "")
    assert "content: Must be 2000 or fewer in length." in (result.reason or "")
    assert fake.created == 0


def test_second_part_refused_keeps_the_first(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    progress = MemProgress(fake)
    result = adapter_for(channel, tmp_path, http, fake.webhook_url).publish(
        rendered(Part("un"), Part("x" * 2001), Part("trois")), progress
    )
    assert result.outcome is Outcome.FAILED
    assert (result.reason or "").startswith("part 2 of 3: ")
    assert [p.id for p in result.parts] == [fake.posts[0]["id"]]
    assert progress.done == result.parts
    assert fake.created == 1 and len(fake.requests) == 2  # part 3 never sent


def test_deleted_webhook_needs_reauth_and_is_never_used_again(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    fake.delete_webhook(fake.webhook_id)
    adapter = adapter_for(channel, tmp_path, http, fake.webhook_url)

    first = adapter.publish(rendered(Part("a")), MemProgress(fake))
    second = adapter.publish(rendered(Part("b")), MemProgress(fake))

    for result in (first, second):
        assert result.outcome is Outcome.FAILED
        assert result.needs_reauth
        assert "Unknown Webhook" in (result.reason or "")
        assert "CMFLOW_TEST_DISCORD" in (result.reason or "")
    assert len(fake.requests) == 1  # "stop using a webhook that returns 404"


def test_invalid_token_needs_reauth(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    bad = f"{fake.url}/api/webhooks/{fake.webhook_id}/wrongToken_0123456789"
    adapter = adapter_for(channel, tmp_path, http, bad)
    result = adapter.publish(rendered(Part("a")), MemProgress(fake))
    assert result.outcome is Outcome.FAILED
    assert result.needs_reauth
    assert "Invalid Webhook Token" in (result.reason or "")
    assert adapter.publish(rendered(Part("b")), MemProgress(fake)).needs_reauth
    assert fake.invalid_requests == 1


def test_rate_limit_is_retry_with_discords_delay_and_no_second_try(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    fake.inject("POST", POST_PATH, fake.rate_limited_fault(retry_after=64.57))
    adapter = adapter_for(channel, tmp_path, http, fake.webhook_url)

    first = adapter.publish(rendered(Part("a")), MemProgress(fake))
    assert first.outcome is Outcome.RETRY
    assert first.retry_after == pytest.approx(64.57)
    assert not first.needs_reauth

    # The next post in the same run does not hit Discord again before the delay.
    second = adapter.publish(rendered(Part("b")), MemProgress(fake))
    assert second.outcome is Outcome.RETRY
    assert second.retry_after is not None and second.retry_after > 60
    assert len(fake.requests) == 1
    assert fake.invalid_requests < 10
    assert fake.created == 0


def test_rate_limit_from_the_fakes_own_bucket(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    fake.rate_limit(1, reset_in=30.0)
    adapter = adapter_for(channel, tmp_path, http, fake.webhook_url)
    result = adapter.publish(rendered(Part("un"), Part("deux")), MemProgress(fake))
    # The first answer says Remaining: 0 for ~30 s: the client does not even try part 2.
    assert result.outcome is Outcome.RETRY
    assert [p.id for p in result.parts] == [fake.posts[0]["id"]]
    assert result.retry_after is not None and result.retry_after > 20
    assert fake.created == 1 and fake.invalid_requests == 0


def test_dropped_answer_after_commit_is_unknown_with_one_message(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    fake.inject("POST", POST_PATH, Fault.drop_after_commit())
    adapter = adapter_for(channel, tmp_path, http, fake.webhook_url)
    progress = MemProgress(fake)

    result = adapter.publish(rendered(Part("a")), progress)

    assert result.outcome is Outcome.UNKNOWN
    assert fake.created == 1
    assert progress.done == [] and progress.started_at is not None
    reconciled = adapter.reconcile(rendered(Part("a")), progress)
    assert reconciled.outcome is Outcome.UNKNOWN
    assert fake.created == 1  # reconcile sent nothing


def test_stalled_answer_is_unknown(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    fake.inject("POST", POST_PATH, Fault.stall_after_commit(3.0))
    result = adapter_for(channel, tmp_path, http, fake.webhook_url).publish(
        rendered(Part("a")), MemProgress(fake)
    )
    assert result.outcome is Outcome.UNKNOWN
    assert fake.created == 1


def test_server_error_after_commit_is_unknown(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    fake.inject("POST", POST_PATH, Fault.after_commit_status(502, "Bad Gateway"))
    progress = MemProgress(fake)
    result = adapter_for(channel, tmp_path, http, fake.webhook_url).publish(
        rendered(Part("un"), Part("deux")), progress
    )
    assert result.outcome is Outcome.UNKNOWN
    assert result.parts == [] and progress.done == []
    assert fake.created == 1 and len(fake.requests) == 1  # part 2 not sent after an unknown


def test_unreachable_server_is_retry(channel: Channel, tmp_path: Path, http: Http) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/webhooks/1/tok"
    result = adapter_for(channel, tmp_path, http, url).publish(
        rendered(Part("a")), MemProgress(FakeDiscord())
    )
    assert result.outcome is Outcome.RETRY


def test_not_a_webhook_url_needs_reauth_without_request(
    channel: Channel, tmp_path: Path, http: Http
) -> None:
    result = adapter_for(channel, tmp_path, http, "not-a-url-s3cr3t").publish(
        rendered(Part("a")), MemProgress(FakeDiscord())
    )
    assert result.outcome is Outcome.FAILED and result.needs_reauth
    assert_no_secret(result, "not-a-url-s3cr3t")


def test_missing_secret_raises(channel: Channel, tmp_path: Path, http: Http) -> None:
    with pytest.raises(MissingSecret) as info:
        Adapter(Context(channel, tmp_path, http, {}))
    assert "CMFLOW_TEST_DISCORD" in str(info.value)


def test_reconcile_cannot_tell(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http
) -> None:
    progress = MemProgress(fake, started_at=datetime.now(UTC))
    result = adapter_for(channel, tmp_path, http, fake.webhook_url).reconcile(
        rendered(Part("a")), progress
    )
    assert result.outcome is Outcome.UNKNOWN and result.parts == []
    assert fake.requests == []


# -- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenario",
    ["form_error", "unknown_webhook", "bad_token", "rate_limited", "server_error", "dropped"],
)
def test_no_secret_in_any_outcome_even_when_echoed(
    fake: FakeDiscord, channel: Channel, tmp_path: Path, http: Http, scenario: str
) -> None:
    fake.echo_secrets = True
    url = fake.webhook_url
    secrets = [fake.webhook_url, fake.webhook_token]
    text = "a"
    if scenario == "form_error":
        text = "x" * 2001
    elif scenario == "unknown_webhook":
        fake.delete_webhook(fake.webhook_id)
    elif scenario == "bad_token":
        bad_token = "wrongToken_s3cr3t/with?odd=chars"
        url = f"{fake.url}/api/webhooks/{fake.webhook_id}/{quote(bad_token, safe='')}"
        secrets += [url, bad_token, quote(bad_token, safe="")]
    elif scenario == "rate_limited":
        fake.inject("POST", POST_PATH, Fault.status(429, headers={"Retry-After": "3"}))
    elif scenario == "server_error":
        fake.inject("POST", POST_PATH, Fault.after_commit_status(500))
    else:
        fake.inject("POST", POST_PATH, Fault.drop_after_commit())

    adapter = adapter_for(channel, tmp_path, http, url)
    result = adapter.publish(rendered(Part(text)), MemProgress(fake))

    assert result.outcome is not Outcome.PUBLISHED
    response = fake.requests[0].response_body or b""
    if scenario != "dropped":  # the fake really did echo the secret
        assert fake.webhook_token.encode() in response or b"wrongToken" in response
    assert_no_secret(result, *secrets)
    assert_no_secret(adapter.reconcile(rendered(Part(text)), MemProgress(fake)), *secrets)
