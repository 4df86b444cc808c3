"""A newsletter sent as a Brevo email campaign (`platform: email`, `provider: brevo`), for
lists kept at Brevo. Brevo API v3 (developers.brevo.com, "Create an email campaign", "Send
an email campaign immediately", "API limits").

Two calls, each recorded before the next:

1. `POST /v3/emailCampaigns` with `name`, `subject`, `sender` {name, email}, `htmlContent`
   (the same letter as over SMTP; images linked from `media_base_url`, Brevo has no inline
   images), `recipients.listIds`, `tag`: answers 201 `{"id"}`, a draft. Its id is recorded
   in the claim at once (`Progress.part_handle`), so a run that dies next sends that draft
   rather than creating a second campaign.
2. `POST /v3/emailCampaigns/{id}/sendNow`: 204, the campaign is sent.

The API key goes in the `api-key` header. Errors are `{"code": "<string>", "message"}`: 401
`unauthorized` (a key to renew), 402 `not_enough_credits`, 400 `invalid_parameter`... A 429
carries `x-sib-ratelimit-reset` (seconds).

No idempotency key, so each attempt's campaign has a unique `name` (chosen in the claim).
An unanswered create is reconciled by listing the account's campaigns for that name; an
unanswered send by reading the campaign's `status` (`sent`, `queued`, `in_process`: out;
`draft`: not sent, send it).
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from cmflow.i18n import _
from cmflow.platforms import rest
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.newsletter import (
    DEFAULT_FOOTER,
    _footer_html,
    letter_html,
    media_url,
    subject_of,
)

if TYPE_CHECKING:
    from cmflow.model import Rendered

DEFAULT_BASE_URL = "https://api.brevo.com/v3"
PLACEHOLDER = "{{unsubscribe}}"
BREVO_UNSUBSCRIBE = "{{ unsubscribe }}"  # Brevo's own unsubscribe link tag
SENT = ("sent", "queued", "in_process", "archive")
PAGE = 100
LOOKUP_PAGES = 5


def _campaign_id(progress: Progress) -> int | None:
    """The campaign this attempt created, when its id was recorded."""
    table = progress.handles.get("part_handles")
    value = table.get("0", {}).get("campaign_id") if isinstance(table, dict) else None
    return value if isinstance(value, int) else None


def _message(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        code = data.get("code")
        return f"{data['message']} ({code})" if code else str(data["message"])
    return None


class Campaigns:
    """Creates and sends one Brevo campaign per post."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        ch = ctx.channel
        self.client = rest.Client(ctx, "Brevo")
        self.base_url = str(ch.setting("base_url") or DEFAULT_BASE_URL).rstrip("/")
        raw = ch.setting("list_ids")
        self.list_ids = [i for i in (raw if isinstance(raw, list) else []) if isinstance(i, int)]
        name, email = parseaddr(str(ch.setting("sender") or ch.setting("from") or ""))
        self.sender = {"email": email, **({"name": name} if name else {})}
        base = ch.setting("media_base_url")
        self.media_base_url = str(base).rstrip("/") if base else None
        self.footer = str(ch.setting("footer", DEFAULT_FOOTER))

    # -- the contract -----------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """The campaign's unique name, how a lost answer is found again."""
        return {"campaign_name": f"cmflow {rendered.post_id} {key[:12]}"}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return Result(Outcome.PUBLISHED, list(progress.done))
        campaign = _campaign_id(progress)
        if campaign is None:
            problem = self._problem(rendered)
            if problem:
                return Result(Outcome.FAILED, reason=problem)
            progress.part_started(0)
            answer = self._call("POST", "/emailCampaigns", json=self.campaign(rendered, progress))
            if answer.kind != "ok":
                return self._failure(answer, _("the campaign"))
            campaign = answer.data.get("id") if isinstance(answer.data, dict) else None
            if campaign is None:
                return Result(Outcome.UNKNOWN, reason=_("the campaign: answer without an id"))
            progress.part_handle(0, "campaign_id", campaign)
        else:
            progress.part_started(0)
        sent = self._call("POST", f"/emailCampaigns/{int(campaign)}/sendNow")
        if sent.kind != "ok":
            return self._failure(sent, _("sending campaign {campaign}").format(campaign=campaign))
        part = PartResult(str(campaign))
        progress.part_done(0, part)
        return Result(Outcome.PUBLISHED, [part])

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        campaign = _campaign_id(progress)
        if campaign is None:
            found = self._find(str(progress.handles.get("campaign_name", "")))
            if isinstance(found, Result):
                return found
            campaign = found
            progress.part_handle(0, "campaign_id", campaign)
        answer = self._call("GET", f"/emailCampaigns/{int(campaign)}")
        if answer.kind != "ok" or not isinstance(answer.data, dict):
            return rest.lookup_failed(answer, _("campaign {campaign}").format(campaign=campaign))
        status = str(answer.data.get("status", ""))
        if status in SENT:
            return Result(Outcome.PUBLISHED, [PartResult(str(campaign))])
        if status == "draft":
            return Result(
                Outcome.ABSENT,
                reason=_("campaign {campaign} is a draft: sending it").format(campaign=campaign),
            )
        return Result(
            Outcome.UNKNOWN,
            reason=_("campaign {campaign} is {status!r}: check it in Brevo").format(
                campaign=campaign, status=status
            ),
        )

    # -- helpers ----------------------------------------------------------------------------

    def campaign(self, rendered: Rendered, progress: Progress) -> dict[str, Any]:
        subject = subject_of(rendered)
        part = rendered.parts[0]
        srcs = [(m, media_url(self.media_base_url or "", m)) for m in part.media]
        footer = self.footer.replace(PLACEHOLDER, BREVO_UNSUBSCRIBE)
        foot = _footer_html(footer, BREVO_UNSUBSCRIBE) if footer else ""
        return {
            "name": str(progress.handles.get("campaign_name") or subject),
            "subject": subject,
            "sender": self.sender,
            "htmlContent": letter_html(rendered, subject, srcs, foot),
            "recipients": {"listIds": self.list_ids},
            "tag": "cmflow",
        }

    def _problem(self, rendered: Rendered) -> str | None:
        if not self.list_ids:
            return _("list_ids must name Brevo lists by number, e.g. [2, 7]")
        if not self.sender["email"]:
            return _("sender must be an address, e.g. 'La Brûlerie <lettre@example.fr>'")
        if rendered.parts[0].media and not self.media_base_url:
            return _("a Brevo campaign links its images: set media_base_url on this channel")
        return None

    def _find(self, name: str) -> int | Result:
        """The id of this attempt's campaign, by its unique name."""
        for page in range(LOOKUP_PAGES):
            answer = self._call(
                "GET", "/emailCampaigns", params={"limit": str(PAGE), "offset": str(page * PAGE)}
            )
            if answer.kind != "ok" or not isinstance(answer.data, dict):
                return rest.lookup_failed(answer, _("the campaign"))
            found = answer.data.get("campaigns")
            items = found if isinstance(found, list) else []
            for item in items:
                if isinstance(item, dict) and item.get("name") == name and item.get("id"):
                    return int(item["id"])
            if len(items) < PAGE:
                return Result(Outcome.ABSENT, reason=_("the campaign was not created"))
        return Result(Outcome.UNKNOWN, reason=_("the campaign: too many campaigns to look through"))

    def _failure(self, answer: rest.Answer, where: str) -> Result:
        if answer.kind == "rate":
            reset = answer.header("x-sib-ratelimit-reset")
            if reset and reset.strip().isdigit():
                answer.retry_after = float(reset)
        return rest.failure(answer, [], where)

    def _call(self, method: str, path: str, **kwargs: Any) -> rest.Answer:
        return self.client.call(
            method,
            f"{self.base_url}{path}",
            headers={"api-key": self.client.token, "Accept": "application/json"},
            message=_message,
            write=method != "GET",
            **kwargs,
        )
