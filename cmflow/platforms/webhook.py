"""What the write-only adapters (Discord and Slack webhooks, Telegram's Bot API) share: a
gate that stops calling a channel within the run once it refused the credential or asked
to wait, and one POST whose transport errors are sorted by what they prove."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cmflow.errors import MissingSecret
from cmflow.http import MaybeSent, NotSent, RateLimited
from cmflow.i18n import _
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result

if TYPE_CHECKING:
    import requests

    from cmflow.http import Http
    from cmflow.model import Part, Rendered
    from cmflow.redact import Redactor


class Gate:
    """Stop signs for one channel within one run. Discord: "stop using a webhook that
    returns 404" and fewer than 10 invalid requests per 10 min (rate-limits.mdx)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.refused: str | None = None  # the credential was refused: never call again
        self.retry_at = 0.0  # monotonic time before which the platform asked us not to call

    def blocked(self, done: list[PartResult]) -> Result | None:
        """A result to return at once, without any request, or None to go on."""
        if self.refused is not None:
            return Result(Outcome.FAILED, parts=done, reason=self.refused, needs_reauth=True)
        wait = self.retry_at - time.monotonic()
        if wait > 0:
            return Result(
                Outcome.RETRY,
                parts=done,
                reason=_("{label} asked to wait {wait:.0f} s before sending again").format(
                    label=self.label, wait=wait
                ),
                retry_after=wait,
            )
        return None

    def wait(self, seconds: float | None) -> None:
        self.retry_at = time.monotonic() + (seconds or 0.0)

    def refuse(self, reason: str) -> Result:
        self.refused = reason
        return Result(Outcome.FAILED, reason=reason, needs_reauth=True)


def post(http: Http, url: str, gate: Gate, **kwargs: Any) -> requests.Response | Result:
    """POST once (writes are never retried), or the Result its transport error proves.

    Error texts from `requests` may hold the URL, which is the secret here: only the
    exception's type is ever reported."""
    import requests

    label = gate.label
    try:
        return http.request("POST", url, **kwargs)
    except RateLimited as exc:
        gate.wait(exc.retry_after)
        return Result(
            Outcome.RETRY,
            reason=_("{label} is rate limited for {retry_after:.0f} s more: not sent").format(
                label=label, retry_after=exc.retry_after
            ),
            retry_after=exc.retry_after,
        )
    except NotSent:
        return Result(
            Outcome.RETRY, reason=_("could not reach {label}: not sent").format(label=label)
        )
    except MaybeSent:
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "{label} did not answer after the message was sent: it may have been posted"
            ).format(label=label),
        )
    except requests.RequestException as exc:
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "the request to {label} failed ({error}): the message may have been posted"
            ).format(label=label, error=type(exc).__name__),
        )


def credential(ctx: Context, key: str) -> tuple[str, str]:
    """(variable name, value) of the channel's credential `key` ("webhook_env", "token_env").

    Raises MissingSecret, naming the variable to set, when it is empty or unset."""
    variable = str(ctx.channel.setting(key) or key)
    value = (ctx.secrets.get(key) or "").strip()
    if not value:
        raise MissingSecret(ctx.channel.name, variable)
    return variable, value


class MediaError(Exception):
    """A media file of a part cannot be used: nothing was sent for that part."""


def send_parts(
    rendered: Rendered,
    progress: Progress,
    redactor: Redactor,
    build: Callable[[int, Part, list[PartResult]], Any],
    send: Callable[[Any], PartResult | Result],
) -> Result:
    """Send the parts not yet recorded, in order: `build` makes a part's request (it may raise
    MediaError before anything is sent), `send` sends it. Each part is recorded as started
    just before it goes and as done the moment it is answered; the first failure stops the
    thread, with the parts done so far."""
    done = list(progress.done)
    total = len(rendered.parts)
    for index in range(len(done), total):
        where = (
            _("part {number} of {total}: ").format(number=index + 1, total=total)
            if total > 1
            else ""
        )
        try:
            request = build(index, rendered.parts[index], done)
        except MediaError as exc:
            return Result(Outcome.FAILED, parts=done, reason=f"{where}{exc}")
        progress.part_started(index)
        answer = send(request)
        if isinstance(answer, Result):
            answer.parts = done
            if answer.reason:
                answer.reason = redactor.text(where + answer.reason)
            return answer
        progress.part_done(index, answer)
        done.append(answer)
    return Result(Outcome.PUBLISHED, parts=done)
