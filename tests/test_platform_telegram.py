"""The Telegram Bot API adapter against the loopback FakeTelegram (real HTTP, no patching).

What a user relies on: the chat receives exactly the rendered text, a photo with its caption
or an album with the caption on the first image, thread parts replying to the previous part
(also when a thread resumes in a later run); each error lands in the right class; a lost
answer is UNKNOWN with one message created; the bot token (in every URL) never leaks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from cmflow.config import Channel, load
from cmflow.content import parse_post
from cmflow.errors import MissingSecret
from cmflow.http import Http
from cmflow.model import Link, Media, Part, Rendered
from cmflow.platforms.base import Context, Outcome, Result
from cmflow.platforms.telegram import Adapter
from cmflow.render import render
from tests.fakes import FakeTelegram, Fault
from tests.progress import MemProgress

TOKEN = "123456:ABC-DEF_s3cr3tTok-0123456789abcdefghij"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 64
CHAT = -1001234567890


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN, chat_id=CHAT) as server:
        yield server


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=1.0, read_timeout=1.0, max_wait=1.0) as client:
        yield client


def make_channel(root: Path, base_url: str, chat_id: str = "@fakechannel") -> Channel:
    (root / "channels.yaml").write_text(
        "channels:\n  telegram:\n    platform: telegram\n"
        f"    base_url: {base_url}\n    chat_id: '{chat_id}'\n"
        "    token_env: CMFLOW_TEST_TELEGRAM\n"
    )
    media = root / "media"
    media.mkdir(exist_ok=True)
    (media / "a.png").write_bytes(PNG)
    (media / "b.jpg").write_bytes(JPEG)
    (media / "c.png").write_bytes(PNG + b"c")
    return load(root).channels["telegram"]


def adapter_for(
    fake: FakeTelegram, root: Path, http: Http, chat_id: str = "@fakechannel", token: str = TOKEN
) -> Adapter:
    channel = make_channel(root, fake.url, chat_id)
    return Adapter(Context(channel, root, http, {"token_env": token}))


def rendered(*parts: Part) -> Rendered:
    return Rendered(post_id="p1", channel="telegram", platform="telegram", parts=list(parts))


def method_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def assert_no_secret(result: Result, *secrets: str) -> None:
    texts = [result.reason or "", repr(result)]
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}:
            for text in texts:
                assert form.lower() not in text.lower()


# -- what the server receives ---------------------------------------------------------------


def test_text_part_is_sent_with_sendmessage_and_linked(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    text = "Atelier CM 2026 : inscriptions ouvertes 🎉 <b>pas du HTML</b> https://example.fr/a"
    link = Link(text.index("https"), len(text), "https://example.fr/a")
    adapter = adapter_for(fake, tmp_path, http)
    progress = MemProgress(fake)

    assert adapter.prepare(rendered(Part(text)), "key") == {}
    result = adapter.publish(rendered(Part(text, links=[link])), progress)

    assert result.outcome is Outcome.PUBLISHED, result.reason
    [req] = fake.requests
    assert method_of(req.path) == "sendMessage"
    assert req.json["chat_id"] == "@fakechannel"
    assert req.json["text"] == text
    assert "parse_mode" not in req.json
    assert req.json["link_preview_options"] == {"url": "https://example.fr/a"}
    [message] = fake.messages
    assert message["text"] == text
    assert message["chat"]["id"] == CHAT
    assert result.remote_id == str(message["message_id"])
    assert result.url == f"https://t.me/fakechannel/{message['message_id']}"
    assert result.parts == progress.done


def test_numeric_chat_id_has_no_public_url(fake: FakeTelegram, tmp_path: Path, http: Http) -> None:
    result = adapter_for(fake, tmp_path, http, chat_id=str(CHAT)).publish(
        rendered(Part("bonjour")), MemProgress(fake)
    )
    assert result.outcome is Outcome.PUBLISHED, result.reason
    assert fake.requests[0].json["chat_id"] == CHAT
    assert result.url is None


def test_rendered_thread_replies_part_to_part(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    channel = make_channel(tmp_path, fake.url)
    raw = (
        "---\ndate: 2026-11-19 08:30\nchannels: [telegram]\n---\n"
        "Premier message du fil.\n\n<!-- thread -->\n\nDeuxième.\n\n<!-- thread -->\n\n"
        "Troisième et dernier.\n"
    ).encode()
    r = render(parse_post("content/p.md", raw, UTC, {"telegram": channel}), channel)
    assert len(r.parts) == 3
    progress = MemProgress(fake)

    result = Adapter(Context(channel, tmp_path, http, {"token_env": TOKEN})).publish(r, progress)

    assert result.outcome is Outcome.PUBLISHED, result.reason
    messages = fake.messages
    assert [m["text"] for m in messages] == [p.text for p in r.parts]
    assert "reply_to_message" not in messages[0]
    assert messages[1]["reply_to_message"]["message_id"] == messages[0]["message_id"]
    assert messages[2]["reply_to_message"]["message_id"] == messages[1]["message_id"]
    assert [p.id for p in result.parts] == [str(m["message_id"]) for m in messages]
    assert progress.events == [
        ("started", 0, 0),
        ("done", 0, 1),
        ("started", 1, 1),
        ("done", 1, 2),
        ("started", 2, 2),
        ("done", 2, 3),
    ]


def test_one_image_goes_with_sendphoto_and_caption(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    part = Part("Le programme", media=[Media("media/a.png", "Affiche")])
    result = adapter_for(fake, tmp_path, http).publish(rendered(part), MemProgress(fake))

    assert result.outcome is Outcome.PUBLISHED, result.reason
    [req] = fake.requests
    assert method_of(req.path) == "sendPhoto"
    assert req.content_type == "multipart/form-data"
    assert req.form["chat_id"] == "@fakechannel"
    assert req.form["caption"] == "Le programme"
    assert req.files["photo"].data == PNG
    assert req.files["photo"].filename == "a.png"
    assert req.files["photo"].content_type == "image/png"
    [message] = fake.messages
    assert message["caption"] == "Le programme"
    assert result.remote_id == str(message["message_id"])


def test_album_has_the_caption_on_the_first_image_and_the_first_id(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    part = Part(
        "Trois images",
        media=[Media("media/a.png", "A"), Media("media/b.jpg", "B"), Media("media/c.png", "C")],
    )
    result = adapter_for(fake, tmp_path, http).publish(rendered(part), MemProgress(fake))

    assert result.outcome is Outcome.PUBLISHED, result.reason
    [req] = fake.requests
    assert method_of(req.path) == "sendMediaGroup"
    media = json.loads(req.form["media"])
    assert [m["media"] for m in media] == ["attach://photo0", "attach://photo1", "attach://photo2"]
    assert [req.files[f"photo{n}"].data for n in range(3)] == [PNG, JPEG, PNG + b"c"]
    messages = fake.messages
    assert [m.get("caption") for m in messages] == ["Trois images", None, None]
    assert len({m["media_group_id"] for m in messages}) == 1
    assert fake.created == 1  # one album
    assert result.remote_id == str(messages[0]["message_id"])
    assert result.parts[0].extra["message_ids"] == [str(m["message_id"]) for m in messages]


def test_part_after_an_album_replies_to_its_first_message(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    first = Part("Album", media=[Media("media/a.png", "A"), Media("media/b.jpg", "B")])
    second = Part("Suite", media=[Media("media/c.png", "C")])
    result = adapter_for(fake, tmp_path, http).publish(
        rendered(first, second, Part("Fin")), MemProgress(fake)
    )
    assert result.outcome is Outcome.PUBLISHED, result.reason
    album0, _album1, photo, end = fake.messages
    assert photo["reply_to_message"]["message_id"] == album0["message_id"]
    assert json.loads(fake.requests[1].form["reply_parameters"]) == {
        "message_id": album0["message_id"]
    }
    assert end["reply_to_message"]["message_id"] == photo["message_id"]
    assert end["text"] == "Fin"


def test_resumed_thread_replies_to_the_stored_part(fake: FakeTelegram, tmp_path: Path) -> None:
    parts = rendered(Part("un"), Part("deux"), Part("trois"))
    progress = MemProgress(fake)
    fake.rate_limit(1, reset_in=30.0)  # part 1 goes out, part 2 gets a 429
    with Http(connect_timeout=1.0, read_timeout=1.0, max_wait=1.0) as run1:
        stopped = adapter_for(fake, tmp_path, run1).publish(parts, progress)
    assert stopped.outcome is Outcome.RETRY
    assert stopped.retry_after is not None and 25 <= stopped.retry_after <= 30
    assert [p.id for p in stopped.parts] == [str(fake.messages[0]["message_id"])]
    assert progress.done == stopped.parts

    fake.rate_limit(None)
    with Http(connect_timeout=1.0, read_timeout=1.0, max_wait=1.0) as run2:  # the next run
        resumed = adapter_for(fake, tmp_path, run2).publish(parts, progress)

    assert resumed.outcome is Outcome.PUBLISHED, resumed.reason
    one, two, three = fake.messages
    assert [m["text"] for m in fake.messages] == ["un", "deux", "trois"]
    assert two["reply_to_message"]["message_id"] == one["message_id"]
    assert three["reply_to_message"]["message_id"] == two["message_id"]
    assert [p.id for p in resumed.parts] == [str(m["message_id"]) for m in fake.messages]
    assert fake.created == 3


# -- outcomes -------------------------------------------------------------------------------


def test_bad_request_is_failed_with_the_description(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    result = adapter_for(fake, tmp_path, http, chat_id="@nosuchchat").publish(
        rendered(Part("a")), MemProgress(fake)
    )
    assert result.outcome is Outcome.FAILED and not result.needs_reauth
    assert "Bad Request: chat not found" in (result.reason or "")


def test_failure_mid_thread_keeps_done_parts(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    progress = MemProgress(fake)
    result = adapter_for(fake, tmp_path, http).publish(
        rendered(Part("un"), Part("   "), Part("trois")), progress
    )
    assert result.outcome is Outcome.FAILED
    assert (result.reason or "").startswith("part 2 of 3: ")
    assert "message text is empty" in (result.reason or "")
    assert [p.id for p in result.parts] == [str(fake.messages[0]["message_id"])]
    assert progress.done == result.parts
    assert len(fake.requests) == 2


def test_migrated_group_says_which_chat_id_to_use(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    body = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -1009876543210},
    }
    fake.inject("POST", r"/sendMessage$", Fault.status(400, body))
    result = adapter_for(fake, tmp_path, http).publish(rendered(Part("a")), MemProgress(fake))
    assert result.outcome is Outcome.FAILED
    assert "set chat_id to -1009876543210" in (result.reason or "")


def test_wrong_token_needs_reauth_and_is_not_used_again(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    adapter = adapter_for(fake, tmp_path, http, token="654321:WRONG")
    first = adapter.publish(rendered(Part("a")), MemProgress(fake))
    second = adapter.publish(rendered(Part("b")), MemProgress(fake))
    for result in (first, second):
        assert result.outcome is Outcome.FAILED and result.needs_reauth
        assert "Unauthorized" in (result.reason or "")
        assert "CMFLOW_TEST_TELEGRAM" in (result.reason or "")
    assert len(fake.requests) == 1


def test_bot_removed_from_chat_needs_reauth(fake: FakeTelegram, tmp_path: Path, http: Http) -> None:
    body = {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot is not a member of the channel chat",
    }
    fake.inject("POST", r"/sendMessage$", Fault.status(403, body))
    result = adapter_for(fake, tmp_path, http).publish(rendered(Part("a")), MemProgress(fake))
    assert result.outcome is Outcome.FAILED and result.needs_reauth
    assert "not a member" in (result.reason or "")


def test_rate_limit_is_retry_with_parameters_retry_after(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    fake.inject("POST", r"/sendMessage$", fake.rate_limited_fault(retry_after=37))
    adapter = adapter_for(fake, tmp_path, http)
    first = adapter.publish(rendered(Part("a")), MemProgress(fake))
    assert first.outcome is Outcome.RETRY
    assert first.retry_after == 37
    second = adapter.publish(rendered(Part("b")), MemProgress(fake))
    assert second.outcome is Outcome.RETRY
    assert len(fake.requests) == 1 and fake.created == 0


def test_rate_limit_body_wins_over_header(fake: FakeTelegram, tmp_path: Path, http: Http) -> None:
    body = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 12",
        "parameters": {"retry_after": 12},
    }
    fake.inject("POST", r"/sendMessage$", Fault.status(429, body))  # no Retry-After header
    result = adapter_for(fake, tmp_path, http).publish(rendered(Part("a")), MemProgress(fake))
    assert result.outcome is Outcome.RETRY
    assert result.retry_after == 12


def test_dropped_answer_after_commit_is_unknown_with_one_message(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    fake.inject("POST", r"/sendMessage$", Fault.drop_after_commit())
    adapter = adapter_for(fake, tmp_path, http)
    progress = MemProgress(fake)
    result = adapter.publish(rendered(Part("un"), Part("deux")), progress)
    assert result.outcome is Outcome.UNKNOWN
    assert fake.created == 1 and len(fake.requests) == 1  # part 2 not sent after an unknown
    assert progress.done == [] and progress.started_at is not None
    reconciled = adapter.reconcile(rendered(Part("un"), Part("deux")), progress)
    assert reconciled.outcome is Outcome.UNKNOWN
    assert len(fake.requests) == 1


def test_album_dropped_after_commit_is_unknown(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    fake.inject("POST", r"/sendMediaGroup$", Fault.drop_after_commit())
    part = Part("x", media=[Media("media/a.png", "A"), Media("media/b.jpg", "B")])
    result = adapter_for(fake, tmp_path, http).publish(rendered(part), MemProgress(fake))
    assert result.outcome is Outcome.UNKNOWN
    assert fake.created == 1


def test_server_error_after_commit_is_unknown(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    fake.inject("POST", r"/sendPhoto$", Fault.after_commit_status(502, "Bad Gateway"))
    part = Part("x", media=[Media("media/a.png", "A")])
    result = adapter_for(fake, tmp_path, http).publish(rendered(part), MemProgress(fake))
    assert result.outcome is Outcome.UNKNOWN
    assert fake.created == 1


def test_missing_media_fails_before_sending(fake: FakeTelegram, tmp_path: Path, http: Http) -> None:
    part = Part("x", media=[Media("media/absent.png", "A")])
    progress = MemProgress(fake)
    result = adapter_for(fake, tmp_path, http).publish(rendered(part), progress)
    assert result.outcome is Outcome.FAILED
    assert "media/absent.png" in (result.reason or "")
    assert fake.requests == [] and progress.events == []


def test_missing_secret_raises(fake: FakeTelegram, tmp_path: Path, http: Http) -> None:
    channel = make_channel(tmp_path, fake.url)
    with pytest.raises(MissingSecret) as info:
        Adapter(Context(channel, tmp_path, http, {}))
    assert "CMFLOW_TEST_TELEGRAM" in str(info.value)


# -- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenario",
    ["bad_request", "bad_token", "rate_limited", "server_error", "empty_500", "dropped"],
)
def test_no_secret_in_any_outcome_even_when_echoed(
    fake: FakeTelegram, tmp_path: Path, http: Http, scenario: str
) -> None:
    fake.echo_secrets = True
    token = TOKEN
    chat = "@fakechannel"
    if scenario == "bad_request":
        chat = "@nosuchchat"
    elif scenario == "bad_token":
        token = "654321:WRONG_s3cr3t+/="
    elif scenario == "rate_limited":
        fake.inject("POST", r"/sendMessage$", Fault.status(429, headers={"Retry-After": "4"}))
    elif scenario == "server_error":
        fake.inject("POST", r"/sendMessage$", Fault.after_commit_status(500, f"boom {TOKEN}"))
    elif scenario == "empty_500":
        fake.inject("POST", r"/sendMessage$", Fault.status(500))
    else:
        fake.inject("POST", r"/sendMessage$", Fault.drop_after_commit())

    adapter = adapter_for(fake, tmp_path, http, chat_id=chat, token=token)
    result = adapter.publish(rendered(Part("a")), MemProgress(fake))

    assert result.outcome is not Outcome.PUBLISHED
    secrets = [token, token.partition(":")[2], f"{fake.url}/bot{token}"]
    if scenario != "dropped":  # the fake really did echo the token
        body = fake.requests[0].response_body or b""
        assert b"s3cr3t" in body
    assert_no_secret(result, *secrets)
    assert_no_secret(adapter.reconcile(rendered(Part("a")), MemProgress(fake)), *secrets)


def test_token_in_an_echoed_url_across_the_cut_of_a_long_error_never_leaks(
    fake: FakeTelegram, tmp_path: Path, http: Http
) -> None:
    """Telegram's token is in every URL: a long `description` quoting the request's path,
    wherever the cut falls, keeps not one run of 8 characters of the token's secret half."""
    adapter = adapter_for(fake, tmp_path, http)
    secret = TOKEN.partition(":")[2]
    for offset in range(270, 305, 3):
        template = json.dumps(
            {"ok": False, "error_code": 400, "description": "x" * offset + " {target} " + "y" * 99}
        )
        fake.inject("POST", r"^/bot", Fault.echo(400, template))
        result = adapter.publish(rendered(Part("bonjour")), MemProgress(fake))
        assert result.outcome is Outcome.FAILED, result
        assert TOKEN in (fake.requests[-1].response_body or b"").decode()  # it was echoed
        reason = result.reason or ""
        assert len(reason) < 400
        for i in range(len(secret) - 7):
            assert secret[i : i + 8] not in reason, (offset, reason)
