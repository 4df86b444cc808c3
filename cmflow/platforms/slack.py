"""Slack, through an incoming webhook (api.slack.com/messaging/webhooks).

The webhook URL (`https://hooks.slack.com/services/T…/B…/<secret>`) is the credential, read
from the environment variable named by the channel's `webhook_env`; it never reaches a reason
or a record, and every text copied from an answer is scrubbed of it.

Shape of the call: `POST <webhook>` with JSON `{"text": ..., "blocks": [...]?}`.

- Text: Slack reads `text` as mrkdwn, where only `&`, `<` and `>` are control characters and
  must be sent as `&amp;`, `&lt;`, `&gt;` (api.slack.com/reference/surfaces/formatting,
  "Escaping text"); everything else goes as written, and Slack links bare URLs itself.
- Media: an incoming webhook cannot upload files. When the channel sets `media_base_url`
  (the public URL where the repository's `media/` folder is served, e.g. by GitHub Pages),
  each image becomes an `image` block whose `image_url` is that URL plus the path relative
  to `media/`, with the post's alt text as `alt_text`; Slack fetches it from there. Without
  `media_base_url` the images are NOT sent: the message carries the text only. When blocks
  are sent, Slack shows the blocks and uses `text` only for notifications, so the text also
  goes first as `section` blocks (3,000 characters each, Block Kit reference).
- The answer is the plain-text body `ok`, with no message id or timestamp (grafana/alerting#84:
  webhooks answer with a non-JSON body), so a part's id is derived from its text:
  `slack:` + the first 16 hex digits of sha256(text). There is no URL.
- Parts of a thread go as consecutive messages (a webhook cannot reply in a thread without
  the parent's `ts`, which it never learns).

Errors are plain-text codes with an HTTP status (api.slack.com/changelog/
2016-05-17-changes-to-errors-for-incoming-webhooks): 400 `invalid_payload`, 403
`invalid_token` / `action_prohibited`, 404 `no_service` / `channel_not_found`, 410
`channel_is_archived`, 429 with `Retry-After`, 500 `rollup_error`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

from cmflow.http import retry_after_seconds
from cmflow.i18n import _
from cmflow.model import Media, Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps
from cmflow.platforms.webhook import Gate, credential, post, send_parts
from cmflow.redact import Redactor

_SECRET_KEY = "webhook_env"
SECTION_LIMIT = 3000  # Block Kit: a section's text is at most 3,000 characters
ALT_LIMIT = 2000  # Block Kit: an image block's alt_text is at most 2,000 characters

# The webhook itself is gone or refused: a new one is needed (re-authorisation).
_REAUTH_CODES = frozenset(
    {
        "invalid_token",
        "no_service",
        "no_team",
        "team_disabled",
        "channel_not_found",
        "action_prohibited",
    }
)


def _reauth_reason(code: str) -> str | None:
    """What a Slack error code that needs a new webhook means, in words."""
    return {
        "invalid_token": _("the webhook's token is invalid (revoked or regenerated)"),
        "no_service": _("the webhook no longer exists (removed or the app was uninstalled)"),
        "no_team": _("the workspace behind the webhook no longer exists"),
        "team_disabled": _("the workspace behind the webhook is disabled"),
        "channel_not_found": _("the webhook's channel no longer exists"),
        "action_prohibited": _("the workspace forbids this webhook from posting here"),
    }.get(code)


def _failure_reason(code: str) -> str | None:
    """What a Slack error code that refuses this message means, in words."""
    return {
        "channel_is_archived": _(
            "the channel is archived and accepts no messages: unarchive it or point the "
            "channel at another webhook"
        ),
        "invalid_payload": _("Slack could not read the message"),
        "invalid_blocks": _(
            "Slack refused the image blocks (check media_base_url: Slack must be able to "
            "download each image from there)"
        ),
        "no_text": _("the message is empty"),
        "user_not_found": _("a user named in the message does not exist"),
        "posting_to_general_channel_denied": _("only admins may post in this channel"),
        "too_many_attachments": _("too many images in one message"),
    }.get(code)


SPEC = PlatformSpec(
    name="slack",
    label="Slack",
    counter="chars",
    defaults={
        "max_length": 4000,
        "media_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
    },
    keys=(
        ConnKey(
            "webhook_env",
            "environment variable holding the webhook URL",
            required=True,
            secret=True,
        ),
        ConnKey("media_base_url", "public URL where media/ is served", url=True),
    ),
    # Write-only: a webhook cannot list what was posted, so nothing to reconcile with.
    capabilities=caps(Capability.ALT_TEXT, Capability.PUBLIC_MEDIA, Capability.NOTIFIES),
    source="humanwhocodes/crosspost src/strategies/slack.js (4,000)",
)


def escape(text: str) -> str:
    """Text for Slack mrkdwn: `&`, `<`, `>` as entities, nothing else touched."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_id(text: str) -> str:
    """The id cmflow records for a Slack message: Slack returns none."""
    return "slack:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _chunks(text: str, limit: int) -> list[str]:
    """`text` split so that each piece, once escaped, fits in `limit` characters; cut at the
    last line break (else space) that fits, never inside an entity."""
    out: list[str] = []
    rest = text
    while len(escape(rest)) > limit:
        cut = size = 0
        for ch in rest:
            size += len(escape(ch))
            if size > limit:
                break
            cut += 1
        window = rest[:cut]
        brk = window.rfind("\n")
        if brk <= 0:
            brk = window.rfind(" ")
        end = brk + 1 if brk > 0 else cut
        out.append(rest[:end].rstrip())
        rest = rest[end:]
    out.append(rest)
    return [c for c in out if c.strip()] or [""]


class Adapter:
    """Publish to a Slack channel through an incoming webhook."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.channel = ctx.channel
        self.variable, url = credential(ctx, _SECRET_KEY)
        self._webhook = url
        path = urlsplit(url).path.strip("/")
        self._forms = Redactor([url, path, path.rsplit("/", 1)[-1] if path else ""])
        base = ctx.channel.setting("media_base_url")
        self.media_base_url = str(base).rstrip("/") if base else None
        self._gate = Gate("Slack")

    # -- the contract -----------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """No handle: incoming webhooks take no idempotency key and return no id."""
        return {}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        done = list(progress.done)
        total = len(rendered.parts)
        if len(done) >= total:
            return Result(Outcome.PUBLISHED, parts=done)
        if (blocked := self._gate.blocked(done)) is not None:
            return blocked
        parts = urlsplit(self._webhook)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return Result(
                Outcome.FAILED,
                parts=done,
                reason=_(
                    "{variable} does not hold a Slack webhook URL "
                    "(https://hooks.slack.com/services/...): copy it again from the Slack app"
                ).format(variable=self.variable),
                needs_reauth=True,
            )
        return send_parts(
            rendered,
            progress,
            self._forms,
            lambda _i, part, _done: (self.payload(part), part.text),
            lambda request: self._send(*request),
        )

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        """Always UNKNOWN: incoming webhooks are write-only (no read API, no message `ts` in
        the answer), so nothing can prove whether the interrupted message was posted."""
        return Result(
            Outcome.UNKNOWN,
            parts=[],
            reason=_(
                "a Slack incoming webhook cannot read the channel, so cmflow cannot tell whether "
                "the interrupted message was posted: check the channel, then mark the post "
                "published or retry it"
            ),
        )

    # -- helpers ----------------------------------------------------------------------------

    def payload(self, part: Part) -> dict[str, Any]:
        """The JSON body for one part (see the module docstring for the media rule)."""
        text = escape(part.text)
        body: dict[str, Any] = {"text": text}
        if part.media and self.media_base_url:
            blocks: list[dict[str, Any]] = [
                {"type": "section", "text": {"type": "mrkdwn", "text": escape(chunk)}}
                for chunk in _chunks(part.text, SECTION_LIMIT)
                if chunk
            ]
            blocks.extend(self._image_block(m) for m in part.media)
            body["blocks"] = blocks
        return body

    def _image_block(self, item: Media) -> dict[str, Any]:
        path = PurePosixPath(item.path)
        rel = path.relative_to("media") if path.parts[:1] == ("media",) else path
        alt = (item.alt or path.name)[:ALT_LIMIT]
        return {
            "type": "image",
            "image_url": f"{self.media_base_url}/{quote(rel.as_posix())}",
            "alt_text": alt,
        }

    def _send(self, payload: dict[str, Any], text: str) -> PartResult | Result:
        response = post(self.ctx.http, self._webhook, self._gate, json=payload)
        if isinstance(response, Result):
            return response
        status = response.status_code
        if 200 <= status < 300:
            return PartResult(id=message_id(text))
        code = _error_code(response.text)
        shown = f"`{code}`" if code else _("no error code")
        if status == 429:
            retry_after = retry_after_seconds(response.headers)
            self._gate.wait(retry_after)
            return Result(
                Outcome.RETRY,
                reason=(
                    _(
                        "Slack rate limit reached (about one message per second): retry after "
                        "{seconds} s"
                    ).format(seconds=f"{retry_after:.0f}")
                    if retry_after is not None
                    else _("Slack rate limit reached (about one message per second)")
                ),
                retry_after=retry_after,
            )
        if code in _REAUTH_CODES or status in (401, 403, 404):
            what = _reauth_reason(code or "") or _("the webhook was refused")
            return self._gate.refuse(
                _(
                    "Slack: {what} ({status} {shown}). Create a new incoming webhook and update "
                    "{variable}."
                ).format(what=what, status=status, shown=shown, variable=self.variable)
            )
        if status == 408:
            return Result(Outcome.RETRY, reason=_("Slack timed out reading the request: not sent"))
        if 400 <= status < 500:
            what = _failure_reason(code or "") or _("Slack refused the message")
            return Result(
                Outcome.FAILED,
                reason=_("{what} ({status} {shown})").format(what=what, status=status, shown=shown),
            )
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "Slack answered {status} ({shown}) after the message was sent: it may have been "
                "posted"
            ).format(status=status, shown=shown),
        )


def _error_code(body: str) -> str | None:
    """The error code Slack puts alone in the body (`channel_is_archived`), or None: only a
    bare code is kept, so nothing else from the answer (an echoed URL) is ever copied."""
    first = body.strip().split("\n", 1)[0].strip()
    return first if re.fullmatch(r"[a-z][a-z0-9_]{0,63}", first) else None
