"""A loopback Slack incoming-webhook endpoint (api.slack.com/messaging/webhooks).

`POST /services/{T}/{B}/{X}` with a JSON body (or a form field `payload` holding JSON)
answers 200 with the plain-text body `ok`. Errors are plain-text codes with the status Slack
documents for incoming webhooks: 400 `invalid_payload` / `no_text` / `invalid_blocks`,
403 `invalid_token`, 404 `no_service`, 410 `channel_is_archived`, 429 with `Retry-After`.
Nothing identifies the posted message in the answer, so there is nothing to reconcile with.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .base import FakeServer, Fault, Recorded, Response, route, text_response


class FakeSlack(FakeServer):
    """Slack incoming webhooks. One exists from the start: `webhook_url`
    (= `url + "/services/" + webhook_path`); add others with `add_webhook`, make one
    answer 410 with `archive`, or 404 with `remove_webhook`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._hooks: dict[tuple[str, str], dict[str, Any]] = {}
        self.webhook_path = self.add_webhook("T00000FAKE", "B00000FAKE", "fAkEsEcReT0123456789abcd")

    # -- helpers for tests ----------------------------------------------------------------

    def add_webhook(self, team: str, bot: str, secret: str) -> str:
        """Register a webhook; returns its path after /services/ ("T/B/X")."""
        with self._lock:
            self._hooks[(team, bot)] = {"secret": secret, "archived": False}
        return f"{team}/{bot}/{secret}"

    def remove_webhook(self, path: str) -> None:
        team, bot, _ = path.split("/")
        with self._lock:
            del self._hooks[(team, bot)]

    def archive(self, path: str | None = None) -> None:
        """Archive the channel behind a webhook (default: the first one): 410 from then on."""
        team, bot, _ = (path or self.webhook_path).split("/")
        with self._lock:
            self._hooks[(team, bot)]["archived"] = True

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/services/{self.webhook_path}"

    def rate_limited_fault(self, retry_after: int = 30) -> Fault:
        """A 429 as Slack sends it (for `inject`)."""
        return Fault.status(
            429, "rate_limited", {"Retry-After": str(retry_after), "Content-Type": "text/plain"}
        )

    # -- plumbing -------------------------------------------------------------------------

    def _error(self, req: Recorded, code: int, text: str, **headers: str) -> Response:
        if self.echo_secrets:
            dump = self.secret_dump(req)
            text = f"{text}\nrequest: {dump['method']} {dump['url']}"
        return text_response(code, text, headers)

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        return self._error(req, 404, "no_service")

    @route("POST", r"/services/(?P<team>[^/]+)/(?P<bot>[^/]+)/(?P<secret>[^/]+)")
    def incoming_webhook(self, req: Recorded, match: re.Match[str]) -> Response:
        with self._lock:
            hook = self._hooks.get((match["team"], match["bot"]))
        if hook is None:
            return self._error(req, 404, "no_service")
        if hook["secret"] != match["secret"]:
            return self._error(req, 403, "invalid_token")
        state = self.take_rate(f"hook:{match['team']}/{match['bot']}")
        if state is not None and state.exceeded:
            return self._error(
                req, 429, "rate_limited", **{"Retry-After": str(state.retry_after_int)}
            )
        if hook["archived"]:
            return self._error(req, 410, "channel_is_archived")
        payload: Any
        if req.content_type == "application/x-www-form-urlencoded":
            try:
                payload = json.loads(req.form.get("payload", ""))
            except ValueError:
                payload = None
        else:
            try:
                payload = json.loads(req.body)
            except ValueError:
                payload = None
        if not isinstance(payload, dict):
            return self._error(req, 400, "invalid_payload")
        blocks = payload.get("blocks")
        if blocks is not None and (
            not isinstance(blocks, list)
            or not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)
        ):
            return self._error(req, 400, "invalid_blocks")
        text = payload.get("text")
        if (
            not (isinstance(text, str) and text.strip())
            and not blocks
            and not payload.get("attachments")
        ):
            return self._error(req, 400, "no_text")
        self.record_post({**payload, "webhook": f"{match['team']}/{match['bot']}"})
        return text_response(200, "ok")
