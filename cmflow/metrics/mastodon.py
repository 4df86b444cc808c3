"""Mastodon metrics: `favourites_count`, `reblogs_count`, `replies_count`, `quotes_count` of
a status (mastodon/documentation entities/Status.md; no impressions exist), and the account's
`followers_count` from `GET /api/v1/accounts/verify_credentials`.

Statuses are read 20 at a time with `GET /api/v1/statuses?id[]=` (Mastodon 4.3+; the
controller refuses more than DEFAULT_STATUSES_LIMIT = 20 ids with 422); an instance older
than 4.3 answers 404 there, and the reader falls back to `GET /api/v1/statuses/:id`, one per
status, concurrently. A status missing from a batch answer was deleted or is not visible.
The default limit is 300 requests per 5 minutes per account (api/rate-limits.md), shared
with publishing: the `Gate` keeps a reserve.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from cmflow.http import HttpError, RateLimited
from cmflow.i18n import _
from cmflow.metrics.base import (
    DEFERRED,
    FAILED,
    MISSING,
    OK,
    REFUSED,
    AccountStats,
    Fetched,
    ReaderContext,
    Target,
    as_int,
    sum_counts,
)
from cmflow.metrics.gate import Gate, chunks, fan_out
from cmflow.redact import Redactor

BATCH = 20  # Api::BaseController DEFAULT_STATUSES_LIMIT
SECRETS = ("token_env",)  # connection keys whose variable must be set


class _Answer:
    def __init__(self, status: str, data: Any = None, note: str = "") -> None:
        self.status, self.data, self.note = status, data, note


class Reader:
    def __init__(self, ctx: ReaderContext) -> None:
        self.ctx = ctx
        self.base_url = ctx.channel.base_url or ""
        self.token = ctx.secrets.get("token_env", "")
        self.variable = str(ctx.channel.setting("token_env", "token_env"))
        self.gate = Gate()
        self._redact = Redactor([self.token] if self.token else [])
        self._batch_ok: bool | None = None
        self._lock = threading.Lock()

    # -- the contract ---------------------------------------------------------------------

    def posts(self, targets: Sequence[Target]) -> list[Fetched]:
        ids = list(dict.fromkeys(i for t in targets for i in t.remote_ids))
        found: dict[str, dict[str, int | None]] = {}
        failed: dict[str, tuple[str, str]] = {}
        batches = chunks(ids, BATCH)
        first = batches[:1]
        # The first batch tells whether the instance has the batch endpoint (4.3+).
        for batch, answer in zip(first, fan_out(first, self._batch), strict=True):
            self._sort(batch, answer, found, failed)
        if self._batch_ok is False:
            singles = [[i] for i in ids]
            results = fan_out(singles, self._single)
            for batch, answer in zip(singles, results, strict=True):
                self._sort(batch, answer, found, failed)
        else:
            rest = batches[1:]
            for batch, answer in zip(rest, fan_out(rest, self._batch), strict=True):
                self._sort(batch, answer, found, failed)
        return [self._result(t, found, failed) for t in targets]

    def account(self) -> AccountStats:
        answer = self._get("/api/v1/accounts/verify_credentials")
        if answer.status != OK or not isinstance(answer.data, dict):
            return AccountStats(answer.status, note=answer.note or _("unexpected answer"))
        d = answer.data
        return AccountStats(
            OK,
            account=str(d.get("acct") or d.get("username") or ""),
            followers=as_int(d.get("followers_count")),
            following=as_int(d.get("following_count")),
            posts=as_int(d.get("statuses_count")),
        )

    # -- requests -------------------------------------------------------------------------

    def _batch(self, ids: list[str]) -> _Answer:
        if self._batch_ok is False:
            return _Answer("no-batch")
        query = "&".join(f"id[]={quote(i, safe='')}" for i in ids)
        answer = self._get(f"/api/v1/statuses?{query}", batch=True)
        if answer.status == "no-batch":
            with self._lock:
                self._batch_ok = False
            return _Answer("no-batch")
        with self._lock:
            if answer.status == OK:
                self._batch_ok = True
        return answer

    def _single(self, ids: list[str]) -> _Answer:
        (status_id,) = ids
        answer = self._get(f"/api/v1/statuses/{quote(status_id, safe='')}")
        if answer.status == OK:
            return _Answer(OK, [answer.data])
        return answer

    def _get(self, path: str, *, batch: bool = False) -> _Answer:
        closed = self.gate.closed
        if closed is not None:
            return _Answer(closed[0], note=closed[1])
        try:
            resp = self.ctx.http.request(
                "GET", self.base_url + path, headers={"Authorization": f"Bearer {self.token}"}
            )
        except RateLimited as exc:
            self.gate.close(DEFERRED, str(exc))
            return _Answer(DEFERRED, note=str(exc))
        except HttpError as exc:
            return _Answer(FAILED, note=self._redact.text(str(exc)))
        self.gate.observe(resp.headers)
        code = resp.status_code
        if code == 200:
            try:
                return _Answer(OK, resp.json())
            except ValueError:
                return _Answer(FAILED, note=_("HTTP 200 without JSON"))
        if code == 401:
            note = _("the access token was refused (HTTP 401): set a new one in {variable}").format(
                variable=self.variable
            )
            self.gate.close(REFUSED, note)
            return _Answer(REFUSED, note=note)
        if code == 429:
            note = _("rate limited (HTTP 429): next run")
            self.gate.close(DEFERRED, note)
            return _Answer(DEFERRED, note=note)
        if batch and code in (404, 405):
            return _Answer("no-batch")
        if code == 404:
            return _Answer(MISSING, note=_("HTTP 404: deleted, or not visible to this account"))
        return _Answer(FAILED, note=f"HTTP {code} {self._reason(resp)}")

    def _reason(self, resp: Any) -> str:
        try:
            data = resp.json()
        except ValueError:
            return str(resp.reason or "")
        text = data.get("error") if isinstance(data, dict) else None
        return self._redact.text(str(text or resp.reason or ""))[:200]

    # -- results --------------------------------------------------------------------------

    @staticmethod
    def _sort(
        batch: list[str],
        answer: _Answer,
        found: dict[str, dict[str, int | None]],
        failed: dict[str, tuple[str, str]],
    ) -> None:
        if answer.status == "no-batch":
            return
        if answer.status != OK:
            for i in batch:
                failed[i] = (answer.status, answer.note)
            return
        items = answer.data if isinstance(answer.data, list) else []
        for status in items:
            if isinstance(status, dict) and str(status.get("id")) in batch:
                found[str(status["id"])] = counts(status)
        for i in batch:
            if i not in found:
                failed[i] = (MISSING, _("not returned: deleted, or not visible to this account"))

    @staticmethod
    def _result(
        target: Target,
        found: dict[str, dict[str, int | None]],
        failed: dict[str, tuple[str, str]],
    ) -> Fetched:
        for i in target.remote_ids:
            if i not in found:
                status, note = failed.get(i, (FAILED, _("not read")))
                return Fetched(target, status, note=note)
        return Fetched(target, OK, sum_counts([found[i] for i in target.remote_ids]))


def counts(status: dict[str, Any]) -> dict[str, int | None]:
    return {
        "likes": as_int(status.get("favourites_count")),
        "reposts": as_int(status.get("reblogs_count")),
        "replies": as_int(status.get("replies_count")),
        "quotes": as_int(status.get("quotes_count")),  # Mastodon 4.5+; absent before
    }
