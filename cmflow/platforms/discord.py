"""Discord, through a channel webhook (discord/discord-api-docs: developers/resources/webhook.mdx).

The webhook URL (`https://discord.com/api/webhooks/{id}/{token}`) is the credential: it is
read from the environment variable named by the channel's `webhook_env`, and neither it nor
its token may ever reach a reason, an exception or a record (Discord echoes nothing of it,
but proxies and fakes may: every text copied from a response is scrubbed).

Shape of the calls:

- `POST <webhook>?wait=true`: without `wait`, "a message that is not saved does not return
  an error" and no message comes back; with it Discord answers with the message object, whose
  `id` is the part's id (webhook.mdx, Execute Webhook).
- Text goes in `content` (2,000 characters, checked by the validator). Images go as
  multipart `files[n]` with `payload_json` holding `attachments: [{id: n, description: alt,
  filename}]`: the attachment `description` is Discord's alt text.
- A webhook cannot reply to a message, so the parts of a thread are sent as consecutive
  messages, in order, each recorded before the next is sent.
- No message URL: `https://discord.com/channels/{guild}/{channel}/{message}` needs the guild
  id, which the execute answer does not carry, so `PartResult.url` is None.

Outcomes: 404 Unknown Webhook means the webhook was deleted, and Discord asks clients to
stop using a webhook that returns 404 (developers/topics/rate-limits.mdx, "Invalid Request
Limit": 401, 403 and 429 answers count towards 10,000 per 10 minutes before an IP ban), so
after a 401/403/404 this adapter sends nothing more through that webhook for the rest of the
run, and after a 429 nothing before `retry_after` has passed.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cmflow import media as media_files
from cmflow.http import retry_after_seconds
from cmflow.i18n import _
from cmflow.model import Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps
from cmflow.platforms.webhook import Gate, MediaError, credential, post, send_parts
from cmflow.redact import Redactor

if TYPE_CHECKING:
    import requests  # annotations only: validating imports this module, not requests

_SECRET_KEY = "webhook_env"
_LABEL = "Discord"


SPEC = PlatformSpec(
    name="discord",
    label="Discord",
    counter="chars",
    defaults={
        "max_length": 2000,
        "max_media": 10,
        "media_types": ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"],
        "max_media_bytes": 10 * 1024 * 1024,
    },
    keys=(
        ConnKey(
            "webhook_env",
            "environment variable holding the webhook URL",
            required=True,
            secret=True,
        ),
    ),
    # Write-only: a webhook cannot list what was posted, so nothing to reconcile with.
    capabilities=caps(Capability.ALT_TEXT, Capability.NOTIFIES),
    source="discord-api-docs developers/resources/webhook.mdx",
)


def _flatten_errors(errors: Any, path: str = "") -> list[str]:
    """Discord's nested form errors (`{"content": {"_errors": [{"code", "message"}]}}`,
    developers/reference.mdx "Error Messages") as "content: Must be 2000 or fewer..." lines."""
    out: list[str] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key == "_errors" and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and item.get("message"):
                        where = f"{path}: " if path else ""
                        out.append(f"{where}{item['message']}")
            else:
                out.extend(_flatten_errors(value, f"{path}.{key}" if path else str(key)))
    return out


class Adapter:
    """Publish to a Discord channel through its webhook."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.channel = ctx.channel
        self.variable, url = credential(ctx, _SECRET_KEY)
        self._webhook = url
        parts = urlsplit(url)
        token = parts.path.rstrip("/").rsplit("/", 1)[-1] if parts.path.strip("/") else ""
        self._forms = Redactor([url, token])
        # Set once the webhook is refused (401/403/404): Discord says to stop using it.
        self._gate = Gate(_LABEL)

    # -- the contract -----------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """No handle: a webhook takes no idempotency key (`nonce` + `enforce_nonce` exist on
        the bot Create Message endpoint only, developers/resources/message.mdx)."""
        return {}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        done = list(progress.done)
        total = len(rendered.parts)
        if len(done) >= total:
            return Result(Outcome.PUBLISHED, parts=done)
        if (blocked := self._gate.blocked(done)) is not None:
            return blocked
        url = self._execute_url()
        if url is None:
            return Result(
                Outcome.FAILED,
                parts=done,
                reason=_(
                    "{variable} does not hold a Discord webhook URL "
                    "(https://discord.com/api/webhooks/<id>/<token>): copy it again from the "
                    "channel's Integrations settings"
                ).format(variable=self.variable),
                needs_reauth=True,
            )
        return send_parts(
            rendered,
            progress,
            self._forms,
            lambda _i, part, _done: self._body(part),
            lambda body: self._send(url, body),
        )

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        """Always UNKNOWN: a webhook can fetch one of its messages by id
        (`GET /webhooks/{id}/{token}/messages/{message_id}`) but cannot list the channel,
        and the id of a message whose answer was lost is exactly what we do not have;
        webhooks take no nonce either. A human must look at the channel."""
        return Result(
            Outcome.UNKNOWN,
            parts=[],
            reason=_(
                "Discord webhooks cannot list the channel's messages, so cmflow cannot tell "
                "whether the interrupted message was posted: check the channel, then mark the "
                "post published or retry it"
            ),
        )

    # -- helpers ----------------------------------------------------------------------------

    def _execute_url(self) -> str | None:
        """The webhook URL with `wait=true` added to its query (kept: e.g. `thread_id`)."""
        parts = urlsplit(self._webhook)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or "/webhooks/" not in (parts.path)
        ):
            return None
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "wait"]
        query.append(("wait", "true"))
        return urlunsplit(parts._replace(query=urlencode(query), fragment=""))

    def _body(self, part: Part) -> dict[str, Any]:
        """`requests` arguments for one message: JSON, or multipart when it carries media."""
        if not part.media:
            return {"json": {"content": part.text}}
        files: list[tuple[str, tuple[str, bytes, str]]] = []
        attachments: list[dict[str, Any]] = []
        for n, item in enumerate(part.media):
            try:
                # Read and checked now: the file may have changed since `validate`.
                loaded = media_files.load(self.ctx.root, item.path)
            except media_files.MediaProblem as exc:
                raise MediaError(str(exc)) from None
            name = PurePosixPath(item.path).name
            files.append((f"files[{n}]", (name, loaded.data, loaded.mime)))
            attachment: dict[str, Any] = {"id": n, "filename": name}
            if item.alt:
                attachment["description"] = item.alt
            attachments.append(attachment)
        payload = {"content": part.text, "attachments": attachments}
        return {"data": {"payload_json": json.dumps(payload)}, "files": files}

    def _send(self, url: str, kwargs: dict[str, Any]) -> PartResult | Result:
        response = post(self.ctx.http, url, self._gate, **kwargs)
        if isinstance(response, Result):
            return response
        return self._classify(response)

    def _classify(self, response: requests.Response) -> PartResult | Result:
        status = response.status_code
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        if 200 <= status < 300:
            message_id = body.get("id")
            if not message_id:
                return Result(
                    Outcome.UNKNOWN,
                    reason=_(
                        "Discord accepted the message ({status}) but returned no message id: "
                        "check the channel"
                    ).format(status=status),
                )
            extra = {"channel_id": str(body["channel_id"])} if body.get("channel_id") else {}
            return PartResult(id=str(message_id), url=None, extra=extra)
        message = str(body.get("message") or response.reason or "").strip()
        details = "; ".join(_flatten_errors(body.get("errors")))
        said = self._forms.excerpt(message + (f": {details}" if details else ""))
        code = (
            _(" (code {code})").format(code=body["code"])
            if isinstance(body.get("code"), int)
            else ""
        )
        if status == 429:
            retry_after = _retry_after(body, response)
            self._gate.wait(retry_after)
            return Result(
                Outcome.RETRY,
                reason=(
                    _("Discord rate limit reached: retry after {seconds} s").format(
                        seconds=f"{retry_after:.1f}"
                    )
                    if retry_after is not None
                    else _("Discord rate limit reached")
                ),
                retry_after=retry_after,
            )
        if status in (401, 403, 404):
            if status == 404:
                what = _("the webhook no longer exists (deleted or moved)")
            else:
                what = _("the webhook was refused")
            return self._gate.refuse(
                _(
                    "Discord: {what}{said}{code} ({status}). Create a new webhook and update "
                    "{variable}; cmflow stops using this one."
                ).format(
                    what=what,
                    said=": " + said if said else "",
                    code=code,
                    status=status,
                    variable=self.variable,
                )
            )
        if status == 408:
            return Result(
                Outcome.RETRY, reason=_("Discord timed out reading the request: not sent")
            )
        if 400 <= status < 500:
            return Result(
                Outcome.FAILED,
                reason=_("Discord refused the message ({status}){code}: {said}").format(
                    status=status, code=code, said=said or _("no reason given")
                ),
            )
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "Discord answered {status} after the message was sent: it may have been posted"
            ).format(status=status),
        )


def _retry_after(body: dict[str, Any], response: requests.Response) -> float | None:
    """Seconds to wait: the JSON `retry_after` float, else the headers (`Retry-After`,
    `X-RateLimit-Reset-After`), as developers/topics/rate-limits.mdx describes."""
    value = body.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return retry_after_seconds(response.headers)
