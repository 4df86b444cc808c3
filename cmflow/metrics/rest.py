"""One authenticated JSON read, sorted into what a reader needs to know: ok, refused (the
credential: names the variable), deferred (rate limited), missing (404) or failed. Shared by
the readers of X, LinkedIn, Meta's Graph APIs and dev.to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmflow.http import HttpError, RateLimited
from cmflow.i18n import _
from cmflow.metrics.base import DEFERRED, FAILED, MISSING, OK, REFUSED, ReaderContext
from cmflow.metrics.gate import Gate
from cmflow.redact import Redactor

# Graph API error codes (developers.facebook.com/docs/graph-api/guides/error-handling):
# 190 = access token expired or invalid; 4, 17, 32, 613, 80001-80014 = rate limits.
GRAPH_AUTH = {190, 102}
GRAPH_RATE = {4, 17, 32, 613, *range(80001, 80015)}


class Answer:
    def __init__(self, status: str, data: Any = None, note: str = "") -> None:
        self.status, self.data, self.note = status, data, note


def get_json(
    ctx: ReaderContext,
    gate: Gate,
    url: str,
    *,
    headers: Mapping[str, str],
    variable: str,
    secret: str,
    params: Any = None,
) -> Answer:
    closed = gate.closed
    if closed is not None:
        return Answer(closed[0], note=closed[1])
    redact = Redactor([secret] if secret else [])
    try:
        resp = ctx.http.request("GET", url, headers=dict(headers), params=params)
    except RateLimited as exc:
        gate.close(DEFERRED, str(exc))
        return Answer(DEFERRED, note=str(exc))
    except HttpError as exc:
        return Answer(FAILED, note=redact.text(str(exc)))
    gate.observe(resp.headers)
    try:
        data = resp.json()
    except ValueError:
        data = None
    if resp.status_code == 200 and data is not None:
        return Answer(OK, data)
    err = data.get("error") if isinstance(data, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    message = ""
    if isinstance(err, dict):
        message = str(err.get("message") or "")
    elif isinstance(data, dict):
        message = str(data.get("message") or data.get("detail") or data.get("title") or "")
    message = redact.text(message)[:200]
    if resp.status_code == 401 or code in GRAPH_AUTH:
        note = _(
            "the access token was refused (HTTP {status}): set a new one in {variable}"
        ).format(status=resp.status_code, variable=variable)
        gate.close(REFUSED, note)
        return Answer(REFUSED, note=note)
    if resp.status_code == 429 or code in GRAPH_RATE:
        note = _("rate limited (HTTP {status}): next run").format(
            status=f"{resp.status_code} {message}".strip()
        )
        gate.close(DEFERRED, note)
        return Answer(DEFERRED, note=note)
    if resp.status_code == 404:
        return Answer(MISSING, note=f"HTTP 404 {message}".strip())
    return Answer(FAILED, note=f"HTTP {resp.status_code} {message}".strip())
