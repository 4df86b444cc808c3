"""Telegram, through the Bot API (core.telegram.org/bots/api).

The bot token travels IN THE PATH of every call (`/bot<token>/<method>`), so any URL this
adapter builds is a secret: no URL ever goes into a reason, and `cmflow.http` already drops
the `requests` exception text (which quotes the URL); every text copied from an answer is
scrubbed of the token too (raw and percent-encoded).

Shape of the calls, one per part, in order:

- text only: `sendMessage` (JSON) `{chat_id, text, link_preview_options?, reply_parameters?}`;
  the text is plain (no `parse_mode`), so nothing needs escaping. When the part has links,
  `link_preview_options.url` names the first one, the link Telegram previews.
- one image: `sendPhoto` (multipart) with the file as `photo` and the text as `caption`
  (1,024 UTF-16 units: the validator checks `max_caption_length`).
- 2 to 10 images: `sendMediaGroup` (multipart) with `media` = a JSON list of InputMediaPhoto
  whose `media` is `attach://photoN`, the caption on the first item only (Telegram shows the
  album with the first item's caption). The answer is one message per image; the part's id is
  the first one's.
- threads: each part after the first replies to the previous part's message with
  `reply_parameters: {message_id}`; for a resumed thread that id comes from `progress.done`.

`PartResult.url` is `https://t.me/<username>/<message_id>` when `chat_id` is `@username`
(a public channel or group); a numeric chat id gives no public link, so None.

Answers are `{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description",
"parameters"?}`: 400 → FAILED with the description; 401/403/404 → needs_reauth (bad token,
bot removed from the chat); 429 → RETRY after `parameters.retry_after`; 5xx or no answer →
UNKNOWN. The Bot API has no idempotency key and bots cannot read a chat's history, so an
unknown outcome cannot be reconciled.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cmflow import media as media_files
from cmflow.http import retry_after_seconds
from cmflow.i18n import _
from cmflow.model import Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token
from cmflow.platforms.webhook import Gate, MediaError, credential, post, send_parts
from cmflow.redact import Redactor

if TYPE_CHECKING:
    import requests  # annotations only: validating imports this module, not requests

_SECRET_KEY = "token_env"
DEFAULT_BASE_URL = "https://api.telegram.org"
MAX_ALBUM = 10  # sendMediaGroup: 2-10 items


SPEC = PlatformSpec(
    name="telegram",
    label="Telegram",
    counter="utf16",
    defaults={
        "max_length": 4096,
        "max_caption_length": 1024,
        "max_media": 10,
        "media_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
        "max_media_bytes": 10_000_000,
    },
    keys=(
        ConnKey(
            "chat_id",
            "chat id or @channelname",
            alt_kinds=("int",),
            required=True,
            pattern=r"@[A-Za-z0-9_]+|-?[0-9]+",
            shape="@channelname or a numeric chat id",
        ),
        token(),
    ),
    # Write-only: a bot cannot list what it posted, so nothing to reconcile with.
    capabilities=caps(Capability.THREADS, Capability.NOTIFIES),
    default_base_url="https://api.telegram.org",
    source="Bot API sendMessage (4,096) / sendPhoto caption (1,024), UTF-16 units",
)


class Adapter:
    """Publish to a Telegram chat (channel, group) as a bot."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.channel = ctx.channel
        self.variable, token = credential(ctx, _SECRET_KEY)
        self._token = token
        self.base_url = ctx.channel.base_url or DEFAULT_BASE_URL
        # "123456:ABC-DEF": the part after the colon is the secret half; scrub both.
        self._forms = Redactor([token, token.partition(":")[2]])
        self.chat_id = str(ctx.channel.setting("chat_id") or "").strip()
        self._gate = Gate("Telegram")

    # -- the contract -----------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """No handle: the Bot API has no idempotency key (sendMessage takes `chat_id`, `text`
        and display options only)."""
        return {}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        done = list(progress.done)
        total = len(rendered.parts)
        if len(done) >= total:
            return Result(Outcome.PUBLISHED, parts=done)
        if (blocked := self._gate.blocked(done)) is not None:
            return blocked
        if not self.chat_id:
            return Result(Outcome.FAILED, parts=done, reason=_("the channel sets no chat_id"))
        return send_parts(
            rendered,
            progress,
            self._forms,
            lambda i, part, done_: self._call(part, done_[-1].id if i > 0 and done_ else None),
            lambda call: self._send(*call),
        )

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        """Always UNKNOWN: bots cannot read a chat's history (no getHistory in the Bot API;
        updates only bring messages sent after the bot subscribed, and never its own), and
        sends take no idempotency key, so nothing can prove the interrupted message absent."""
        return Result(
            Outcome.UNKNOWN,
            parts=[],
            reason=_(
                "a Telegram bot cannot read the chat's history, so cmflow cannot tell whether the "
                "interrupted message was posted: check the chat, then mark the post published or "
                "retry it"
            ),
        )

    # -- helpers ----------------------------------------------------------------------------

    def _chat_param(self) -> int | str:
        return int(self.chat_id) if re.fullmatch(r"-?\d+", self.chat_id) else self.chat_id

    def _call(self, part: Part, reply_to: str | None) -> tuple[str, dict[str, Any]]:
        """The method and `requests` arguments for one part."""
        reply: dict[str, Any] | None = None
        if reply_to is not None:
            reply = {"message_id": int(reply_to) if reply_to.isdigit() else reply_to}
        if not part.media:
            body: dict[str, Any] = {"chat_id": self._chat_param(), "text": part.text}
            if part.links:
                body["link_preview_options"] = {"url": part.links[0].url}
            if reply is not None:
                body["reply_parameters"] = reply
            return "sendMessage", {"json": body}
        if len(part.media) > MAX_ALBUM:
            raise MediaError(
                _("{count} images: a Telegram album holds at most {limit}").format(
                    count=len(part.media), limit=MAX_ALBUM
                )
            )
        files = [self._file(m.path) for m in part.media]
        data: dict[str, Any] = {"chat_id": str(self.chat_id)}
        if reply is not None:
            data["reply_parameters"] = json.dumps(reply)
        if len(files) == 1:
            if part.text:
                data["caption"] = part.text
            return "sendPhoto", {"data": data, "files": {"photo": files[0]}}
        media: list[dict[str, Any]] = []
        for n in range(len(files)):
            item: dict[str, Any] = {"type": "photo", "media": f"attach://photo{n}"}
            if n == 0 and part.text:
                item["caption"] = part.text
            media.append(item)
        data["media"] = json.dumps(media, ensure_ascii=False)
        return "sendMediaGroup", {
            "data": data,
            "files": {f"photo{n}": f for n, f in enumerate(files)},
        }

    def _file(self, rel: str) -> tuple[str, bytes, str]:
        try:
            # Read and checked now: the file may have changed since `validate`.
            loaded = media_files.load(self.ctx.root, rel)
        except media_files.MediaProblem as exc:
            raise MediaError(str(exc)) from None
        return PurePosixPath(rel).name, loaded.data, loaded.mime

    def _send(self, method: str, kwargs: dict[str, Any]) -> PartResult | Result:
        # Secret: never shown. Quoted so that a mistyped token cannot change the path.
        url = f"{self.base_url}/bot{quote(self._token, safe=':')}/{method}"
        response = post(self.ctx.http, url, self._gate, **kwargs)
        if isinstance(response, Result):
            return response
        return self._classify(method, response)

    def _classify(self, method: str, response: requests.Response) -> PartResult | Result:
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        if 200 <= status < 300 and body.get("ok") is True:
            return self._part_result(body.get("result"))
        if 200 <= status < 300:
            return Result(
                Outcome.UNKNOWN,
                reason=_(
                    "Telegram answered {status} to {method} without a message: check the chat"
                ).format(status=status, method=method),
            )
        code = body.get("error_code") if isinstance(body.get("error_code"), int) else status
        description = self._forms.excerpt(str(body.get("description") or response.reason or ""))
        params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        said = f"{description} ({code})" if description else _("error {code}").format(code=code)
        if code == 429 or status == 429:
            retry_after = params.get("retry_after")
            wait = (
                float(retry_after)
                if isinstance(retry_after, int | float) and not isinstance(retry_after, bool)
                else retry_after_seconds(response.headers)
            )
            self._gate.wait(wait)
            return Result(
                Outcome.RETRY,
                reason=_("Telegram rate limit reached: {said}").format(said=said),
                retry_after=wait,
            )
        if code in (401, 403, 404) or status in (401, 403, 404):
            if code == 403 or status == 403:
                text = _(
                    "Telegram refused the bot: {said}. Add the bot back to {chat} with the right "
                    "to post."
                )
            else:
                text = _(
                    "Telegram refused the bot: {said}. Create a new token with @BotFather and "
                    "update {variable}."
                )
            return self._gate.refuse(
                text.format(said=said, chat=self.chat_id, variable=self.variable)
            )
        if code == 408 or status == 408:
            return Result(
                Outcome.RETRY, reason=_("Telegram timed out reading the request: not sent")
            )
        if 400 <= status < 500:
            migrated = params.get("migrate_to_chat_id")
            hint = (
                _("; the group became a supergroup: set chat_id to {chat}").format(chat=migrated)
                if isinstance(migrated, int)
                else ""
            )
            return Result(
                Outcome.FAILED,
                reason=_("Telegram refused {method}: {said}{hint}").format(
                    method=method, said=said, hint=hint
                ),
            )
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "Telegram answered {status} to {method} after it was sent: the message may have "
                "been posted"
            ).format(status=status, method=method),
        )

    def _part_result(self, result: Any) -> PartResult | Result:
        messages = result if isinstance(result, list) else [result]
        ids = [m.get("message_id") for m in messages if isinstance(m, dict)]
        if not ids or not all(isinstance(i, int) for i in ids):
            return Result(
                Outcome.UNKNOWN,
                reason=_(
                    "Telegram accepted the message but returned no message id: check the chat"
                ),
            )
        first = str(ids[0])
        url = f"https://t.me/{self.chat_id[1:]}/{first}" if self.chat_id.startswith("@") else None
        extra: dict[str, Any] = {"message_ids": [str(i) for i in ids]} if len(ids) > 1 else {}
        return PartResult(id=first, url=url, extra=extra)
