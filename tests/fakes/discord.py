"""A loopback Discord webhook endpoint (discord/discord-api-docs: resources/webhook.mdx).

`POST /api/webhooks/{id}/{token}` (also under `/api/v10/...`) executes a webhook: with
`?wait=true` it answers 200 with the message object, without it 204 and no body. Bodies are
JSON or multipart (`payload_json` plus `files[n]`). Rate limits follow topics/rate-limits.mdx:
`X-RateLimit-*` headers per webhook bucket; 429 with `Retry-After` and a `retry_after` float;
401/403/429 answers count as invalid requests (10,000 per 10 min earn an IP ban).
"""

from __future__ import annotations

import json
import math
import re
import threading
from datetime import UTC, datetime
from typing import Any

from .base import FakeServer, Fault, RateState, Recorded, Response, json_response, route

DISCORD_EPOCH_MS = 1_420_070_400_000
_PREFIX = r"/api(?:/v\d+)?/webhooks/(?P<id>[^/]+)/(?P<token>[^/]+)"


def _timestamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")


def _form_error(field: str, message: str, code: str = "BASE_TYPE_MAX_LENGTH") -> dict[str, Any]:
    return {field: {"_errors": [{"code": code, "message": message}]}}


class FakeDiscord(FakeServer):
    """Discord webhooks. One webhook exists from the start: `webhook_id`, `webhook_token`,
    `webhook_url` (= `url + "/api/webhooks/{id}/{token}"`). Add others with `add_webhook`;
    `delete_webhook` makes one answer 404 Unknown Webhook (a revoked webhook).
    """

    # Observed per-webhook bucket (not in the docs, which say to read the headers).
    default_rate_limit = (5, 2.0)

    def __init__(self) -> None:
        super().__init__()
        self._webhooks: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, dict[str, Any]] = {}
        self._message_hook: dict[str, str] = {}
        self._snowflake_lock = threading.Lock()
        self._increment = 0
        self.webhook_id = "1234567890123456789"
        self.webhook_token = "fakeWebhookToken_abcdefghijklmnopqrstuvwxyz0123456789-ABCDEFGHIJ"
        self.channel_id = "1111111111111111111"
        self.add_webhook(self.webhook_id, self.webhook_token, self.channel_id)

    # -- helpers for tests ----------------------------------------------------------------

    def add_webhook(
        self, webhook_id: str, token: str, channel_id: str | None = None, forum: bool = False
    ) -> None:
        """Register a webhook. `forum=True`: posts need `thread_id` or `thread_name`."""
        with self._lock:
            self._webhooks[webhook_id] = {
                "id": webhook_id,
                "token": token,
                "channel_id": channel_id or self.channel_id,
                "guild_id": "2222222222222222222",
                "name": "cmflow",
                "forum": forum,
            }

    def delete_webhook(self, webhook_id: str) -> None:
        with self._lock:
            del self._webhooks[webhook_id]

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/api/webhooks/{self.webhook_id}/{self.webhook_token}"

    def webhook_url_for(self, webhook_id: str) -> str:
        with self._lock:
            token = self._webhooks[webhook_id]["token"]
        return f"{self.url}/api/webhooks/{webhook_id}/{token}"

    @property
    def invalid_requests(self) -> int:
        """Requests answered 401, 403 or 429 (injected faults included)."""
        return sum(1 for r in self.requests if r.status in (401, 403, 429))

    def message(self, message_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._messages[message_id])

    def rate_limited_fault(
        self, retry_after: float = 64.57, is_global: bool = False, bucket: str = "abcd1234"
    ) -> Fault:
        """A 429 as Discord sends it (for `inject`), with this `retry_after`."""
        headers = {
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Scope": "shared" if not is_global else "global",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        return Fault.status(429, body, headers)

    # -- plumbing -------------------------------------------------------------------------

    def _snowflake(self) -> str:
        with self._snowflake_lock:
            self._increment = (self._increment + 1) & 0xFFF
            ms = int(self.now() * 1000) - DISCORD_EPOCH_MS
            return str((ms << 22) | (1 << 17) | (1 << 12) | self._increment)

    def _error(self, req: Recorded, code: int, body: dict[str, Any], **headers: str) -> Response:
        if self.echo_secrets:
            body = {**body, "request": self.secret_dump(req)}
        return json_response(code, body, headers)

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        if method_not_allowed:
            return self._error(req, 405, {"message": "405: Method Not Allowed", "code": 0})
        return self._error(req, 404, {"message": "404: Not Found", "code": 0})

    def _hook(self, req: Recorded, match: re.Match[str]) -> dict[str, Any] | Response:
        with self._lock:
            hook = self._webhooks.get(match["id"])
        if hook is None:
            return self._error(req, 404, {"message": "Unknown Webhook", "code": 10015})
        if hook["token"] != match["token"]:
            return self._error(req, 401, {"message": "Invalid Webhook Token", "code": 50027})
        return hook

    @staticmethod
    def _rate_headers(state: RateState, bucket: str) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(state.limit),
            "X-RateLimit-Remaining": str(state.remaining),
            "X-RateLimit-Reset": f"{state.reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{state.reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }

    # -- webhooks -------------------------------------------------------------------------

    @route("GET", _PREFIX)
    def get_webhook(self, req: Recorded, match: re.Match[str]) -> Response:
        hook = self._hook(req, match)
        if isinstance(hook, Response):
            return hook
        return json_response(
            200,
            {
                "id": hook["id"],
                "type": 1,
                "guild_id": hook["guild_id"],
                "channel_id": hook["channel_id"],
                "name": hook["name"],
                "avatar": None,
                "application_id": None,
                "token": hook["token"],
            },
        )

    @route("POST", _PREFIX)
    def execute(self, req: Recorded, match: re.Match[str]) -> Response:
        hook = self._hook(req, match)
        if isinstance(hook, Response):
            return hook
        bucket = f"webhook-{hook['id'][-6:]}"
        state = self.take_rate(f"webhook:{hook['id']}")
        if state is not None and state.exceeded:
            retry_after = round(state.reset_after, 3)
            headers = self._rate_headers(state, bucket)
            headers["Retry-After"] = str(state.retry_after_int)
            headers["X-RateLimit-Scope"] = "shared"
            return self._error(
                req,
                429,
                {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": False,
                },
                **headers,
            )
        response = self._execute(req, hook)
        if state is not None:
            response.headers.update(self._rate_headers(state, bucket))
        return response

    def _payload(self, req: Recorded) -> dict[str, Any] | Response:
        if req.content_type == "multipart/form-data":
            raw = req.form.get("payload_json")
            if raw is None and "payload_json" in req.files:
                raw = req.files["payload_json"].data.decode()
            if raw is None:
                return {k: v for k, v in req.form.items()}
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = None
        elif req.content_type == "application/x-www-form-urlencoded":
            return dict(req.form)
        else:
            payload = None if req.json_error else req.json
            if not req.body:
                payload = {}
        if not isinstance(payload, dict):
            return self._error(
                req, 400, {"message": "The request body contains invalid JSON.", "code": 50109}
            )
        return payload

    def _execute(self, req: Recorded, hook: dict[str, Any]) -> Response:
        payload = self._payload(req)
        if isinstance(payload, Response):
            return payload
        content = payload.get("content")
        content = "" if content is None else str(content)
        embeds = payload.get("embeds") or []
        errors: dict[str, Any] = {}
        if len(content) > 2000:
            errors.update(_form_error("content", "Must be 2000 or fewer in length."))
        if not isinstance(embeds, list):
            errors.update(_form_error("embeds", "Must be an array.", "LIST_TYPE_CONVERT"))
        elif len(embeds) > 10:
            errors.update(_form_error("embeds", "Must be 10 or fewer in length."))
        if errors:
            return self._error(
                req, 400, {"code": 50035, "errors": errors, "message": "Invalid Form Body"}
            )
        files = [f for name, f in sorted(req.files.items()) if name != "payload_json"]
        if not content.strip() and not embeds and not files and not payload.get("poll"):
            return self._error(req, 400, {"message": "Cannot send an empty message", "code": 50006})
        thread_id = req.query.get("thread_id")
        if hook["forum"] and not thread_id and not payload.get("thread_name"):
            return self._error(
                req,
                400,
                {
                    "message": "Webhooks posted to forum channels must have a thread_name "
                    "or thread_id",
                    "code": 220001,
                },
            )
        descriptions = {
            str(a.get("id")): a.get("description")
            for a in payload.get("attachments") or []
            if isinstance(a, dict)
        }
        channel_id = thread_id or hook["channel_id"]
        if payload.get("thread_name") and not thread_id:
            channel_id = self._snowflake()
        attachments = []
        for upload in files:
            index = re.fullmatch(r"files?\[(\d+)\]", upload.name)
            att_id = self._snowflake()
            filename = upload.filename or "file"
            url = f"https://cdn.discordapp.com/attachments/{channel_id}/{att_id}/{filename}"
            attachments.append(
                {
                    "id": att_id,
                    "filename": filename,
                    "size": len(upload.data),
                    "url": url,
                    "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
                    "content_type": upload.content_type,
                    "description": descriptions.get(index.group(1)) if index else None,
                }
            )
        message_id = self._snowflake()
        message: dict[str, Any] = {
            "id": message_id,
            "type": 0,
            "content": content,
            "channel_id": channel_id,
            "author": {
                "id": hook["id"],
                "username": payload.get("username") or hook["name"],
                "avatar": None,
                "discriminator": "0000",
                "bot": True,
            },
            "attachments": attachments,
            "embeds": embeds,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": bool(payload.get("tts")),
            "timestamp": _timestamp(self.now()),
            "edited_timestamp": None,
            "flags": int(payload.get("flags") or 0),
            "components": payload.get("components") or [],
            "webhook_id": hook["id"],
        }
        with self._lock:
            self._messages[message_id] = message
            self._message_hook[message_id] = hook["id"]
        self.record_post(dict(message))
        if req.query.get("wait", "").lower() in ("true", "1"):
            return json_response(200, message)
        return Response(204)  # "a message that is not saved does not return an error"

    @route("GET", _PREFIX + r"/messages/(?P<message_id>[^/]+)")
    def get_message(self, req: Recorded, match: re.Match[str]) -> Response:
        hook = self._hook(req, match)
        if isinstance(hook, Response):
            return hook
        with self._lock:
            message = self._messages.get(match["message_id"])
            owner = self._message_hook.get(match["message_id"])
        if message is None or owner != hook["id"]:
            return self._error(req, 404, {"message": "Unknown Message", "code": 10008})
        return json_response(200, message)
