"""A loopback Brevo API v3 (email campaigns), from developers.brevo.com ("Create an email
campaign", "Send an email campaign immediately", "Get an email campaign", "API limits").

- Auth by the `api-key` header: 401 `{"code": "unauthorized", "message": "Key not found"}`.
- `POST /v3/emailCampaigns`: `name` and `sender` ({email, name?} or {id}) required; exactly
  one of `htmlContent`, `htmlUrl`, `templateId`; `recipients.listIds` must be the account's
  lists. Answers 201 `{"id"}`: a draft. Errors 400 `{"code": "missing_parameter" |
  "invalid_parameter", "message"}`.
- `POST /v3/emailCampaigns/{id}/sendNow`: 204, the campaign becomes `sent` (the oracle counts
  it as created); 400 `campaign_sent` when it already was; 404 `document_not_found`.
- `GET /v3/emailCampaigns/{id}`: the campaign with its `status`; `GET /v3/emailCampaigns`
  (`limit`, `offset`): `{"campaigns": [...], "count"}`, newest first.
- Rate limits: with `rate_limit(n)`, 429 `{"code": "too_many_requests"}` with
  `x-sib-ratelimit-limit`, `-remaining: 0`, `-reset` (seconds).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from .base import FakeServer, Recorded, Response, json_response, route


class FakeBrevo(FakeServer):
    def __init__(self, api_key: str = "xkeysib-test", lists: tuple[int, ...] = (2, 7)) -> None:
        super().__init__(tokens=[api_key])
        self.lists = set(lists)
        self.campaigns: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(11)

    def _error(
        self, req: Recorded, status: int, code: str, message: str, **headers: str
    ) -> Response:
        body: dict[str, Any] = {"code": code, "message": message}
        if self.echo_secrets:
            body["request"] = {**self.secret_dump(req), "api-key": req.headers.get("api-key")}
        return json_response(status, body, headers)

    def process(self, req: Recorded) -> Response:
        key = req.headers.get("api-key")
        if key is None or key not in self.tokens:
            return self._error(req, 401, "unauthorized", "Key not found")
        state = self.take_rate(f"key:{key}")
        if state is not None and state.exceeded:
            return self._error(
                req,
                429,
                "too_many_requests",
                "The expected rate limit is exceeded.",
                **{
                    "x-sib-ratelimit-limit": str(state.limit),
                    "x-sib-ratelimit-remaining": "0",
                    "x-sib-ratelimit-reset": str(state.retry_after_int),
                },
            )
        return super().process(req)

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        return self._error(req, 404, "document_not_found", "Not found")

    @route("POST", r"/v3/emailCampaigns")
    def create(self, req: Recorded, match: re.Match[str]) -> Response:
        body = req.json if isinstance(req.json, dict) else {}
        for key in ("name", "sender"):
            if not body.get(key):
                return self._error(req, 400, "missing_parameter", f"{key} is missing")
        sender = body["sender"]
        if not isinstance(sender, dict) or ("id" in sender) == ("email" in sender):
            return self._error(req, 400, "invalid_parameter", "sender: give email or id")
        contents = [k for k in ("htmlContent", "htmlUrl", "templateId") if body.get(k)]
        if len(contents) != 1:
            return self._error(
                req, 400, "invalid_parameter", "give one of htmlContent, htmlUrl, templateId"
            )
        list_ids = (body.get("recipients") or {}).get("listIds") or []
        if not list_ids or any(i not in self.lists for i in list_ids):
            return self._error(req, 400, "invalid_parameter", "listIds: unknown list")
        campaign_id = next(self._ids)
        with self._lock:
            self.campaigns[campaign_id] = {**body, "id": campaign_id, "status": "draft"}
        return json_response(201, {"id": campaign_id})

    @route("POST", r"/v3/emailCampaigns/(?P<id>[0-9]+)/sendNow")
    def send_now(self, req: Recorded, match: re.Match[str]) -> Response:
        with self._lock:
            campaign = self.campaigns.get(int(match["id"]))
            if campaign is None:
                return self._error(req, 404, "document_not_found", "Campaign ID does not exist")
            if campaign["status"] != "draft":
                return self._error(req, 400, "campaign_sent", "Campaign has already been sent")
            campaign["status"] = "sent"
        self.record_post({**campaign, "text": campaign.get("htmlContent", "")})
        return Response(204)

    @route("GET", r"/v3/emailCampaigns/(?P<id>[0-9]+)")
    def get(self, req: Recorded, match: re.Match[str]) -> Response:
        with self._lock:
            campaign = self.campaigns.get(int(match["id"]))
        if campaign is None:
            return self._error(req, 404, "document_not_found", "Campaign ID does not exist")
        return json_response(200, campaign)

    @route("GET", r"/v3/emailCampaigns")
    def list(self, req: Recorded, match: re.Match[str]) -> Response:
        limit = int(req.query.get("limit", "50"))
        offset = int(req.query.get("offset", "0"))
        with self._lock:
            items = sorted(self.campaigns.values(), key=lambda c: -int(c["id"]))
        return json_response(
            200, {"campaigns": items[offset : offset + limit], "count": len(items)}
        )
