"""Tests of the loopback platform fakes themselves, through plain `requests`.

Each fault kind is observed the way an adapter would observe it: a status code, a
`requests.ConnectionError`, a `requests.ReadTimeout`; the fake's `created` counter says what
really happened on the platform side.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.fakes import (
    FakeDiscord,
    FakeMastodon,
    FakeSlack,
    FakeTelegram,
    Fault,
    FaultProxy,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TOKEN = "mastodon-secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TIMEOUT = 5.0


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    with FakeMastodon(token=TOKEN) as server:
        yield server
        assert not server.errors  # an exception inside the fake is a bug in the fake


def post_status(server: FakeMastodon, text: str = "Hello", **kwargs: Any) -> requests.Response:
    headers = {**AUTH, **kwargs.pop("headers", {})}
    kwargs.setdefault("timeout", TIMEOUT)
    kwargs.setdefault("data", {"status": text})
    return requests.post(f"{server.url}/api/v1/statuses", headers=headers, **kwargs)


# -- the base server ------------------------------------------------------------------------


def test_binds_loopback_free_port_and_closes_everything() -> None:
    threads_before = threading.active_count()
    with FakeMastodon() as server, requests.Session() as session:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.port > 0
        # A keep-alive connection left open by the client must not block shutdown.
        assert session.get(f"{server.url}/api/v1/instance", timeout=TIMEOUT).status_code == 200
        port = server.port
    assert threading.active_count() == threads_before
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


def test_records_requests_form_fields_and_headers(mastodon: FakeMastodon) -> None:
    response = requests.post(
        f"{mastodon.url}/api/v1/statuses?x=1",
        data=[("status", "Hi"), ("media_ids[]", "1"), ("media_ids[]", "2")],
        headers={**AUTH, "X-Custom": "yes"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    (req,) = mastodon.requests
    assert (req.method, req.path, req.query) == ("POST", "/api/v1/statuses", {"x": "1"})
    assert req.headers["x-custom"] == req.headers["X-Custom"] == "yes"
    assert req.form["status"] == "Hi"
    assert req.form_all["media_ids[]"] == ["1", "2"]
    assert req.status == 200 and req.fault is None
    assert mastodon.requests_to("POST", r"^/api/v1/statuses$") == [req]


def test_chunked_request_body_is_read(mastodon: FakeMastodon) -> None:
    response = requests.post(
        f"{mastodon.url}/api/v1/statuses",
        data=iter([b"status=", b"chunked"]),  # a generator body is sent chunked
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert mastodon.requests[0].headers["transfer-encoding"] == "chunked"
    assert mastodon.posts[0]["content"] == "<p>chunked</p>"


def test_fault_status_answers_without_creating(mastodon: FakeMastodon) -> None:
    mastodon.inject("POST", r"^/api/v1/statuses$", Fault.status(503, {"error": "down"}))
    response = post_status(mastodon)
    assert response.status_code == 503
    assert response.json() == {"error": "down"}
    assert mastodon.created == 0
    assert post_status(mastodon).status_code == 200  # consumed: the next one goes through
    assert mastodon.created == 1


def test_after_commit_status_creates_then_answers_500_empty(mastodon: FakeMastodon) -> None:
    mastodon.inject("POST", "statuses", Fault.after_commit_status(500))
    response = post_status(mastodon)
    assert response.status_code == 500
    assert response.content == b""
    assert mastodon.created == 1


def test_drop_after_commit_is_a_connection_error_after_create(mastodon: FakeMastodon) -> None:
    mastodon.inject("POST", "statuses", Fault.drop_after_commit())
    with pytest.raises(requests.ConnectionError):
        post_status(mastodon)
    assert mastodon.created == 1
    assert mastodon.requests[0].dropped and mastodon.requests[0].status is None


def test_drop_before_is_a_connection_error_without_create(mastodon: FakeMastodon) -> None:
    mastodon.inject("POST", "statuses", Fault.drop_before())
    with requests.Session() as session:
        with pytest.raises(requests.ConnectionError):
            session.post(
                f"{mastodon.url}/api/v1/statuses",
                data={"status": "x"},
                headers=AUTH,
                timeout=TIMEOUT,
            )
        assert mastodon.created == 0
        ok = session.post(
            f"{mastodon.url}/api/v1/statuses", data={"status": "x"}, headers=AUTH, timeout=TIMEOUT
        )
        assert ok.status_code == 200


def test_stall_after_commit_times_the_client_out(mastodon: FakeMastodon) -> None:
    mastodon.inject("POST", "statuses", Fault.stall_after_commit(2.0))
    with pytest.raises(requests.ReadTimeout):
        post_status(mastodon, timeout=0.2)
    assert mastodon.created == 1
    # Leaving the `with` while the handler still stalls must not hang or leak (fixture exit).


def test_stall_shorter_than_timeout_answers_normally(mastodon: FakeMastodon) -> None:
    mastodon.inject("POST", "statuses", Fault.stall_after_commit(0.1))
    assert post_status(mastodon, timeout=TIMEOUT).status_code == 200


def test_faults_are_consumed_in_order_by_matching_requests(mastodon: FakeMastodon) -> None:
    mastodon.inject("POST", r"^/api/v1/statuses$", Fault.status(502), times=2)
    mastodon.inject("POST", r"^/api/v1/statuses$", Fault.status(504))
    mastodon.inject("GET", r"^/never$", Fault.status(418), times=None)
    assert requests.get(f"{mastodon.url}/api/v1/instance", timeout=TIMEOUT).status_code == 200
    codes = [post_status(mastodon).status_code for _ in range(4)]
    assert codes == [502, 502, 504, 200]
    assert mastodon.pending_faults == 1
    mastodon.clear_faults()
    assert mastodon.pending_faults == 0
    with pytest.raises(ValueError):
        mastodon.inject("GET", "x", Fault.status(500), times=0)


def test_echo_secrets_puts_the_token_in_error_bodies(mastodon: FakeMastodon) -> None:
    mastodon.echo_secrets = True
    mastodon.inject("POST", "statuses", Fault.status(500))
    assert TOKEN in post_status(mastodon).text
    bad = requests.get(
        f"{mastodon.url}/api/v1/accounts/verify_credentials",
        headers={"Authorization": "Bearer wrong-secret"},
        timeout=TIMEOUT,
    )
    assert bad.status_code == 401 and "wrong-secret" in bad.text


# -- Mastodon -------------------------------------------------------------------------------


def test_mastodon_status_entity_form_and_json(mastodon: FakeMastodon) -> None:
    first = post_status(mastodon, "Hello #cmflow https://example.com/a").json()
    second = requests.post(
        f"{mastodon.url}/api/v1/statuses",
        json={"status": "reply", "in_reply_to_id": first["id"], "visibility": "unlisted"},
        headers=AUTH,
        timeout=TIMEOUT,
    ).json()
    assert int(second["id"]) > int(first["id"])
    assert first["url"] == f"https://fake.social/@marque/{first['id']}"
    assert first["content"].startswith("<p>Hello <a href=")
    assert first["tags"] == [{"name": "cmflow", "url": "https://fake.social/tags/cmflow"}]
    assert datetime.fromisoformat(first["created_at"])
    for key in ("uri", "media_attachments", "replies_count", "reblogs_count", "favourites_count"):
        assert key in first
    assert second["in_reply_to_id"] == first["id"]
    assert second["visibility"] == "unlisted"
    assert mastodon.status(first["id"])["replies_count"] == 1
    assert [p["id"] for p in mastodon.posts] == [first["id"], second["id"]]


def test_mastodon_auth_and_validation(mastodon: FakeMastodon) -> None:
    unauth = requests.post(f"{mastodon.url}/api/v1/statuses", data={"status": "x"}, timeout=TIMEOUT)
    assert unauth.status_code == 401
    assert unauth.json() == {"error": "The access token is invalid"}
    too_long = post_status(mastodon, "é" * 501)
    assert too_long.status_code == 422
    assert too_long.json() == {"error": "Validation failed: Text character limit of 500 exceeded"}
    # A URL counts 23 whatever its length; a ZWJ family emoji is one grapheme.
    url = "https://example.com/" + "a" * 200
    assert post_status(mastodon, "x" * 476 + " " + url).status_code == 200
    assert post_status(mastodon, "\U0001f468\u200d\U0001f469\u200d\U0001f467" * 500).ok
    empty = post_status(mastodon, "   ")
    assert empty.status_code == 422 and "blank" in empty.json()["error"]
    missing = post_status(mastodon, "reply", data=None)
    assert missing.status_code == 422  # no body at all: blank text, no media
    bad_reply = requests.post(
        f"{mastodon.url}/api/v1/statuses",
        json={"status": "x", "in_reply_to_id": "999"},
        headers=AUTH,
        timeout=TIMEOUT,
    )
    assert bad_reply.status_code == 404
    assert mastodon.created == 2


def test_mastodon_idempotency_key_replays_for_an_hour(mastodon: FakeMastodon) -> None:
    key = {"Idempotency-Key": "post-1|mastodon|0"}
    first = post_status(mastodon, "once", headers=key)
    again = post_status(mastodon, "once (edited)", headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert mastodon.created == 1
    mastodon.clock_offset += 3599
    assert post_status(mastodon, "once", headers=key).json()["id"] == first.json()["id"]
    mastodon.clock_offset += 101  # 3,700 s after the first create: the key has expired
    late = post_status(mastodon, "once", headers=key)
    assert late.json()["id"] != first.json()["id"]
    assert mastodon.created == 2


def test_mastodon_idempotency_after_drop_and_concurrent_retries(mastodon: FakeMastodon) -> None:
    key = {"Idempotency-Key": "k"}
    mastodon.inject("POST", "statuses", Fault.drop_after_commit())
    with pytest.raises(requests.ConnectionError):
        post_status(mastodon, headers=key)
    ids: list[str] = []

    def retry() -> None:
        ids.append(post_status(mastodon, headers=key).json()["id"])

    workers = [threading.Thread(target=retry) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(set(ids)) == 1 and mastodon.created == 1


def test_mastodon_media_upload_and_attach(mastodon: FakeMastodon) -> None:
    upload = requests.post(
        f"{mastodon.url}/api/v2/media",
        files={"file": ("a.png", PNG, "image/png")},
        data={"description": "A red square"},
        headers=AUTH,
        timeout=TIMEOUT,
    )
    assert upload.status_code == 200
    media = upload.json()
    assert media["type"] == "image" and media["url"] and media["description"] == "A red square"
    status = requests.post(
        f"{mastodon.url}/api/v1/statuses",
        data={"status": "", "media_ids[]": [media["id"]]},
        headers=AUTH,
        timeout=TIMEOUT,
    ).json()
    assert [m["id"] for m in status["media_attachments"]] == [media["id"]]
    long_alt = requests.post(
        f"{mastodon.url}/api/v2/media",
        files={"file": ("a.png", PNG)},
        data={"description": "x" * 1501},
        headers=AUTH,
        timeout=TIMEOUT,
    )
    assert long_alt.status_code == 422
    not_media = requests.post(
        f"{mastodon.url}/api/v2/media",
        files={"file": ("a.txt", b"hello", "text/plain")},
        headers=AUTH,
        timeout=TIMEOUT,
    )
    assert not_media.status_code == 422


def test_mastodon_media_processing_202_then_206_then_200(mastodon: FakeMastodon) -> None:
    mastodon.media_processing = True
    upload = requests.post(
        f"{mastodon.url}/api/v2/media",
        files={"file": ("a.png", PNG)},
        headers=AUTH,
        timeout=TIMEOUT,
    )
    assert upload.status_code == 202 and upload.json()["url"] is None
    media_id = upload.json()["id"]
    early = post_status(mastodon, "pic", data={"status": "pic", "media_ids[]": media_id})
    assert early.status_code == 422 and "processing" in early.json()["error"]
    polls = [
        requests.get(f"{mastodon.url}/api/v1/media/{media_id}", headers=AUTH, timeout=TIMEOUT)
        for _ in range(3)
    ]
    assert [p.status_code for p in polls] == [206, 200, 200]
    assert polls[0].json()["url"] is None and polls[1].json()["url"]
    later = post_status(mastodon, "pic", data={"status": "pic", "media_ids[]": media_id})
    assert later.status_code == 200 and later.json()["media_attachments"][0]["url"]


def test_mastodon_reads_and_metrics(mastodon: FakeMastodon) -> None:
    ids = [post_status(mastodon, f"post {i}").json()["id"] for i in range(3)]
    mastodon.set_counts(ids[0], favourites=5, reblogs=2, replies=1)
    one = requests.get(f"{mastodon.url}/api/v1/statuses/{ids[0]}", timeout=TIMEOUT).json()
    assert (one["favourites_count"], one["reblogs_count"], one["replies_count"]) == (5, 2, 1)
    missing = requests.get(f"{mastodon.url}/api/v1/statuses/42", headers=AUTH, timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json() == {"error": "Record not found"}
    listed = requests.get(
        f"{mastodon.url}/api/v1/accounts/1/statuses", params={"limit": 2}, timeout=TIMEOUT
    )
    assert [s["id"] for s in listed.json()] == [ids[2], ids[1]]
    assert 'rel="next"' in listed.headers["Link"]
    me = requests.get(
        f"{mastodon.url}/api/v1/accounts/verify_credentials", headers=AUTH, timeout=TIMEOUT
    ).json()
    assert (me["id"], me["username"], me["acct"], me["statuses_count"]) == (
        "1",
        "marque",
        "marque",
        3,
    )
    for version in ("v1", "v2"):
        conf = requests.get(f"{mastodon.url}/api/{version}/instance", timeout=TIMEOUT).json()[
            "configuration"
        ]
        assert conf["statuses"]["max_characters"] == 500
        assert conf["statuses"]["characters_reserved_per_url"] == 23
        assert conf["statuses"]["max_media_attachments"] == 4
        assert conf["media_attachments"]["image_size_limit"] == 16_777_216
        assert conf["media_attachments"]["description_limit"] == 1500


def test_mastodon_rate_limit_headers_and_429(mastodon: FakeMastodon) -> None:
    first = post_status(mastodon)
    assert first.headers["X-RateLimit-Limit"] == "300"
    assert first.headers["X-RateLimit-Remaining"] == "299"
    assert datetime.fromisoformat(first.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    mastodon.rate_limit(2, reset_in=60)
    remaining = [post_status(mastodon).headers["X-RateLimit-Remaining"] for _ in range(2)]
    assert remaining == ["1", "0"]
    limited = post_status(mastodon)
    assert limited.status_code == 429
    assert limited.json() == {"error": "Too many requests"}
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert mastodon.created == 3
    assert "X-RateLimit-Limit" not in requests.get(f"{mastodon.url}/api/v1/instance").headers
    injected = mastodon.rate_limited_fault(reset_in=900)
    mastodon.inject("POST", "statuses", injected)
    assert post_status(mastodon).headers["X-RateLimit-Remaining"] == "0"


# -- Discord --------------------------------------------------------------------------------


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        yield server
        assert not server.errors


def test_discord_execute_with_and_without_wait(discord: FakeDiscord) -> None:
    saved = requests.post(
        discord.webhook_url, params={"wait": "true"}, json={"content": "Hi"}, timeout=TIMEOUT
    )
    assert saved.status_code == 200
    message = saved.json()
    assert message["content"] == "Hi" and message["channel_id"] == discord.channel_id
    assert int(message["id"]) > 0 and datetime.fromisoformat(message["timestamp"])
    assert message["attachments"] == [] and message["embeds"] == []
    fire_and_forget = requests.post(discord.webhook_url, json={"content": "Yo"}, timeout=TIMEOUT)
    assert fire_and_forget.status_code == 204 and fire_and_forget.content == b""
    assert discord.created == 2
    fetched = requests.get(f"{discord.webhook_url}/messages/{message['id']}", timeout=TIMEOUT)
    assert fetched.json()["id"] == message["id"]
    unknown = requests.get(f"{discord.webhook_url}/messages/1", timeout=TIMEOUT)
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "Unknown Message", "code": 10008}


def test_discord_multipart_with_files_and_thread(discord: FakeDiscord) -> None:
    payload = {"content": "pic", "attachments": [{"id": 0, "description": "alt text"}]}
    response = requests.post(
        discord.webhook_url,
        params={"wait": "true", "thread_id": "999"},
        data={"payload_json": json.dumps(payload)},
        files={"files[0]": ("a.png", PNG, "image/png")},
        timeout=TIMEOUT,
    )
    message = response.json()
    assert message["channel_id"] == "999"
    (attachment,) = message["attachments"]
    assert attachment["filename"] == "a.png" and attachment["description"] == "alt text"
    assert attachment["size"] == len(PNG)


def test_discord_after_commit_fault_then_reconcile_by_id(discord: FakeDiscord) -> None:
    discord.inject("POST", r"^/api/webhooks/", Fault.after_commit_status(502))
    failed = requests.post(
        discord.webhook_url, params={"wait": "true"}, json={"content": "x"}, timeout=TIMEOUT
    )
    assert failed.status_code == 502 and discord.created == 1
    # The client never learnt the id; the fake's oracle knows it.
    message_id = discord.posts[0]["id"]
    fetched = requests.get(f"{discord.webhook_url}/messages/{message_id}", timeout=TIMEOUT)
    assert fetched.json()["content"] == "x"


def test_discord_errors(discord: FakeDiscord) -> None:
    unknown = requests.post(
        f"{discord.url}/api/webhooks/1/nope", json={"content": "x"}, timeout=TIMEOUT
    )
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "Unknown Webhook", "code": 10015}
    too_long = requests.post(discord.webhook_url, json={"content": "x" * 2001}, timeout=TIMEOUT)
    assert too_long.status_code == 400
    assert too_long.json() == {
        "code": 50035,
        "errors": {
            "content": {
                "_errors": [
                    {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
                ]
            }
        },
        "message": "Invalid Form Body",
    }
    empty = requests.post(discord.webhook_url, json={}, timeout=TIMEOUT)
    assert empty.json()["code"] == 50006
    wrong_token = f"{discord.url}/api/webhooks/{discord.webhook_id}/wrong"
    assert requests.post(wrong_token, json={"content": "x"}, timeout=TIMEOUT).status_code == 401
    discord.delete_webhook(discord.webhook_id)
    assert requests.post(discord.webhook_url, json={"content": "x"}).status_code == 404
    assert discord.created == 0
    assert discord.invalid_requests == 1  # the 401; 404s and 400s are not "invalid"


def test_discord_rate_limit_headers_and_429(discord: FakeDiscord) -> None:
    discord.rate_limit(1, reset_in=64.57)
    ok = requests.post(discord.webhook_url, json={"content": "a"}, timeout=TIMEOUT)
    for header in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
        assert f"X-RateLimit-{header}" in ok.headers
    assert ok.headers["X-RateLimit-Remaining"] == "0"
    limited = requests.post(discord.webhook_url, json={"content": "b"}, timeout=TIMEOUT)
    assert limited.status_code == 429
    body = limited.json()
    assert body["message"] == "You are being rate limited." and body["global"] is False
    assert 60 < body["retry_after"] <= 64.57
    assert limited.headers["Retry-After"] == "65"
    assert discord.created == 1 and discord.invalid_requests == 1
    discord.rate_limit(None)
    discord.inject("POST", "webhooks", discord.rate_limited_fault(64.57))
    injected = requests.post(discord.webhook_url, json={"content": "c"}, timeout=TIMEOUT)
    assert injected.json()["retry_after"] == 64.57
    assert discord.invalid_requests == 2


# -- Slack ----------------------------------------------------------------------------------


def test_slack_incoming_webhook() -> None:
    with FakeSlack() as slack:
        ok = requests.post(slack.webhook_url, json={"text": "hello"}, timeout=TIMEOUT)
        assert (ok.status_code, ok.text) == (200, "ok")
        assert ok.headers["Content-Type"].startswith("text/plain")
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
        assert requests.post(slack.webhook_url, json={"blocks": blocks}, timeout=TIMEOUT).ok
        assert slack.created == 2 and slack.posts[0]["text"] == "hello"

        def post(url: str, **kwargs: Any) -> tuple[int, str]:
            response = requests.post(url, timeout=TIMEOUT, **kwargs)
            return response.status_code, response.text

        form = {"payload": json.dumps({"text": "as a form"})}
        assert post(slack.webhook_url, data=form) == (200, "ok")
        assert slack.created == 3 and slack.posts[-1]["text"] == "as a form"
        assert post(slack.webhook_url, data=b"{not json") == (400, "invalid_payload")
        assert post(slack.webhook_url, json={"username": "x"}) == (400, "no_text")
        team, bot, _ = slack.webhook_path.split("/")
        wrong = f"{slack.url}/services/{team}/{bot}/wrong"
        assert post(wrong, json={"text": "x"}) == (403, "invalid_token")
        assert post(f"{slack.url}/services/T1/B1/X1", json={"text": "x"}) == (404, "no_service")
        slack.archive()
        assert post(slack.webhook_url, json={"text": "x"}) == (410, "channel_is_archived")
        assert slack.created == 3
        assert not slack.errors


def test_slack_rate_limit_and_leaks() -> None:
    with FakeSlack() as slack:
        slack.rate_limit(1, reset_in=30)
        assert requests.post(slack.webhook_url, json={"text": "a"}, timeout=TIMEOUT).ok
        limited = requests.post(slack.webhook_url, json={"text": "b"}, timeout=TIMEOUT)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"
        slack.echo_secrets = True
        secret = slack.webhook_path.split("/")[2]
        assert secret in requests.post(slack.webhook_url, json={}, timeout=TIMEOUT).text


# -- Telegram -------------------------------------------------------------------------------


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server
        assert not server.errors


def test_telegram_send_message_json_and_form(telegram: FakeTelegram) -> None:
    url = telegram.api_url("sendMessage")
    first = requests.post(
        url,
        json={
            "chat_id": telegram.chat_id,
            "text": "Hello",
            "link_preview_options": {"is_disabled": True},
        },
        timeout=TIMEOUT,
    ).json()
    assert first["ok"] is True
    result = first["result"]
    assert result["text"] == "Hello" and result["chat"]["id"] == telegram.chat_id
    assert isinstance(result["message_id"], int) and isinstance(result["date"], int)
    reply = requests.post(
        url,
        data={
            "chat_id": "@fakechannel",
            "text": "<b>bold</b> &amp; more",
            "parse_mode": "HTML",
            "reply_parameters": json.dumps({"message_id": result["message_id"]}),
        },
        timeout=TIMEOUT,
    ).json()["result"]
    assert reply["text"] == "bold & more"
    assert reply["reply_to_message"]["message_id"] == result["message_id"]
    me = requests.get(telegram.api_url("getMe"), timeout=TIMEOUT).json()["result"]
    assert me["id"] == 123456 and me["is_bot"] is True
    assert telegram.created == 2


def test_telegram_errors(telegram: FakeTelegram) -> None:
    url = telegram.api_url("sendMessage")

    def send(**params: Any) -> tuple[int, dict[str, Any]]:
        response = requests.post(url, json={"chat_id": telegram.chat_id, **params}, timeout=5)
        return response.status_code, response.json()

    emoji = "\U0001f600"  # 1 code point, 2 UTF-16 units
    assert send(text=emoji * 2048)[0] == 200
    assert send(text=emoji * 2048 + "x") == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"},
    )
    code, body = send(text="1.5", parse_mode="MarkdownV2")
    assert code == 400 and "Character '.' is reserved" in body["description"]
    assert send(text="1\\.5 *bold*", parse_mode="MarkdownV2")[1]["result"]["text"] == "1.5 bold"
    assert send(text="")[1]["description"] == "Bad Request: message text is empty"
    not_found = requests.post(url, json={"chat_id": 42, "text": "x"}, timeout=5).json()
    assert not_found["description"] == "Bad Request: chat not found"
    wrong = requests.post(
        f"{telegram.url}/bot123456:WRONG/sendMessage", json={"chat_id": 1, "text": "x"}, timeout=5
    )
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert telegram.created == 2
    telegram.echo_secrets = True
    assert telegram.token in requests.post(url, json={"chat_id": 42, "text": "x"}).text


def test_telegram_rate_limit(telegram: FakeTelegram) -> None:
    telegram.rate_limit(1, reset_in=7)
    url = telegram.api_url("sendMessage")
    assert requests.post(url, json={"chat_id": telegram.chat_id, "text": "a"}).ok
    limited = requests.post(url, json={"chat_id": telegram.chat_id, "text": "b"})
    assert limited.status_code == 429
    assert limited.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }


def test_telegram_photo_and_media_group(telegram: FakeTelegram) -> None:
    first = requests.post(
        telegram.api_url("sendMessage"), json={"chat_id": telegram.chat_id, "text": "root"}
    ).json()["result"]
    photo = requests.post(
        telegram.api_url("sendPhoto"),
        data={
            "chat_id": str(telegram.chat_id),
            "caption": "A caption",
            "reply_parameters": json.dumps({"message_id": first["message_id"]}),
        },
        files={"photo": ("a.png", PNG, "image/png")},
        timeout=TIMEOUT,
    ).json()
    assert photo["ok"] and photo["result"]["caption"] == "A caption"
    assert photo["result"]["photo"] and photo["result"]["reply_to_message"]["message_id"] == 1
    long_caption = requests.post(
        telegram.api_url("sendPhoto"),
        data={"chat_id": str(telegram.chat_id), "caption": "x" * 1025},
        files={"photo": ("a.png", PNG)},
        timeout=TIMEOUT,
    ).json()
    assert long_caption["description"] == "Bad Request: message caption is too long"
    media = [
        {"type": "photo", "media": "attach://p0", "caption": "one"},
        {"type": "photo", "media": "attach://p1"},
    ]
    album = requests.post(
        telegram.api_url("sendMediaGroup"),
        data={"chat_id": str(telegram.chat_id), "media": json.dumps(media)},
        files={"p0": ("0.png", PNG), "p1": ("1.png", PNG)},
        timeout=TIMEOUT,
    ).json()["result"]
    assert len(album) == 2 and album[0]["media_group_id"] == album[1]["media_group_id"]
    assert album[0]["caption"] == "one"
    assert telegram.created == 3 and len(telegram.messages) == 4


# -- the fault proxy ------------------------------------------------------------------------


def test_proxy_forwards_and_injects_faults(mastodon: FakeMastodon) -> None:
    with FaultProxy(mastodon.url) as proxy:
        relayed = post_status(mastodon, "via proxy", headers={}, timeout=TIMEOUT)
        assert relayed.ok  # direct, for comparison
        through = requests.post(
            f"{proxy.url}/api/v1/statuses?x=1",
            data={"status": "through"},
            headers={**AUTH, "Idempotency-Key": "p"},
            timeout=TIMEOUT,
        )
        assert through.status_code == 200
        assert through.json()["content"] == "<p>through</p>"
        assert through.headers["X-RateLimit-Limit"] == "300"
        upstream_req = mastodon.requests[-1]
        assert upstream_req.query == {"x": "1"}
        assert upstream_req.headers["idempotency-key"] == "p"

        proxy.inject("POST", "statuses", Fault.after_commit_status(500))
        assert (
            requests.post(
                f"{proxy.url}/api/v1/statuses", data={"status": "a"}, headers=AUTH, timeout=TIMEOUT
            ).status_code
            == 500
        )
        proxy.inject("POST", "statuses", Fault.drop_after_commit())
        with pytest.raises(requests.ConnectionError):
            requests.post(
                f"{proxy.url}/api/v1/statuses", data={"status": "b"}, headers=AUTH, timeout=5
            )
        proxy.inject("POST", "statuses", Fault.drop_before())
        with pytest.raises(requests.ConnectionError):
            requests.post(
                f"{proxy.url}/api/v1/statuses", data={"status": "c"}, headers=AUTH, timeout=5
            )
        proxy.inject("POST", "statuses", Fault.stall_after_commit(2.0))
        with pytest.raises(requests.ReadTimeout):
            requests.post(
                f"{proxy.url}/api/v1/statuses", data={"status": "d"}, headers=AUTH, timeout=0.2
            )
        proxy.inject("POST", "statuses", Fault.status(503))
        assert requests.post(f"{proxy.url}/api/v1/statuses", headers=AUTH).status_code == 503

        assert proxy.count("POST", r"^/api/v1/statuses$") == 4  # through, a, b, d
        assert proxy.count("POST", r"statuses", status=200) == 4
        assert proxy.count("GET", r".") == 0
        assert mastodon.created == 5  # 1 direct + 4 forwarded


def test_proxy_reports_an_unreachable_upstream_as_502() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{placeholder.getsockname()[1]}"
        with FaultProxy(dead, upstream_timeout=1) as proxy:
            response = requests.get(f"{proxy.url}/xrpc/_health", timeout=TIMEOUT)
            assert response.status_code == 502
            assert proxy.count("*", ".") == 0
