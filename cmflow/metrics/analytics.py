"""Site traffic from Google Analytics 4: sessions, engaged sessions and key events per day,
source, medium and campaign, so that a campaign's report shows what its posts brought.

Data API `POST {base}/properties/{id}:runReport` with an OAuth access token (the one
`google-github-actions/auth` hands out with `token_format: access_token` and the scope
`analytics.readonly`) from the variable named by `analytics.token_env`. Snapshotted once a
day; GA4 keeps revising the last days, so each run re-reads `lookback` days and the report
takes the latest snapshot of each day. A 429 RESOURCE_EXHAUSTED (the property's token quota,
developers.google.com/analytics/devguides/reporting/data/v1/quotas) defers to the next run;
no figure is ever written for a request that failed.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cmflow.http import HttpError, RateLimited
from cmflow.i18n import _, ngettext
from cmflow.metrics import store
from cmflow.metrics.base import DEFERRED, FAILED, OK, REFUSED

if TYPE_CHECKING:
    from cmflow.config import Config
    from cmflow.http import Http
    from cmflow.metrics.collect import ChannelRun, Pending
    from cmflow.metrics.settings import Settings

DIMENSIONS = ("date", "sessionSource", "sessionMedium", "sessionCampaignName")
METRICS = ("sessions", "engagedSessions", "keyEvents")
PAGE = 10_000
MAX_DAYS = 90


def request_body(start: date, end: date, offset: int = 0) -> dict[str, Any]:
    return {
        "dateRanges": [{"startDate": start.isoformat(), "endDate": end.isoformat()}],
        "dimensions": [{"name": d} for d in DIMENSIONS],
        "metrics": [{"name": m} for m in METRICS],
        "limit": PAGE,
        "offset": offset,
        "keepEmptyRows": False,
        "returnPropertyQuota": True,
    }


def date_range(now: datetime, tz: Any, last: date | None, lookback: int) -> tuple[date, date]:
    """Yesterday back to `lookback` days before the last day already read (28 days the first
    time), at most 90 days."""
    end = now.astimezone(tz).date() - timedelta(days=1)
    start = last - timedelta(days=lookback - 1) if last else end - timedelta(days=27)
    return max(start, end - timedelta(days=MAX_DAYS - 1)), end


def collect(
    conf: Settings,
    cfg: Config,
    http: Http,
    st: store.Store,
    now: datetime,
    env: dict[str, str],
    pending: Pending,
    extras: list[ChannelRun],
    lock: threading.Lock,
) -> None:
    from cmflow.metrics.collect import ChannelRun

    a = conf.analytics
    assert a is not None
    run = ChannelRun("analytics", "ga4")
    with lock:
        extras.append(run)
    local_midnight = now.astimezone(cfg.timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = list(st.rows("site", now - timedelta(days=MAX_DAYS)))
    if any(r["status"] == OK and r["collected_at"] >= store.stamp(local_midnight) for r in rows):
        run.skipped = _("site traffic already read today")
        return
    token = env.get(a.token_env, "").strip()
    if not token:
        run.missing = [a.token_env]
        run.skipped = _("needs credentials: set {variable} (a GA4 access token)").format(
            variable=a.token_env
        )
        return
    days = [r["date"] for r in rows if r["status"] == OK and r["date"]]
    last = date.fromisoformat(max(days)) if days else None
    start, end = date_range(now, cfg.timezone, last, a.lookback)
    stamp = store.stamp(now)
    url = f"{a.base_url}/properties/{a.property}:runReport"
    got: list[store.Row] = []
    offset = 0
    while True:
        status, data, note = _post(http, url, token, request_body(start, end, offset), a.token_env)
        if status != OK:
            run.counts[status] = 1
            run.notes.append(note)
            failure = {"collected_at": stamp, "date": "", "status": status, "note": note}
            with lock:
                pending.add("site", [failure])
            return
        page = data.get("rows") or []
        for item in page:
            got.append(_row(stamp, item))
        total = data.get("rowCount") or 0
        offset += len(page)
        if not page or offset >= int(total):
            break
    if not got:
        got.append(
            {"collected_at": stamp, "date": end.isoformat(), "status": OK, "note": _("no sessions")}
        )
    run.counts[OK] = len(got)
    run.notes.append(
        ngettext(
            "{start} to {end}: {count} row", "{start} to {end}: {count} rows", len(got)
        ).format(start=start.isoformat(), end=end.isoformat(), count=len(got))
    )
    with lock:
        pending.add("site", got)


def _row(stamp: str, item: dict[str, Any]) -> store.Row:
    dims = [d.get("value", "") for d in item.get("dimensionValues", [])]
    mets = [m.get("value", "") for m in item.get("metricValues", [])]
    dims += [""] * (len(DIMENSIONS) - len(dims))
    mets += [""] * (len(METRICS) - len(mets))
    day = dims[0]
    if len(day) == 8 and day.isdigit():  # GA4 dates are YYYYMMDD
        day = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    return {
        "collected_at": stamp,
        "date": day,
        "source": dims[1],
        "medium": dims[2],
        "campaign": dims[3],
        "status": OK,
        "sessions": mets[0],
        "engaged_sessions": mets[1],
        "key_events": mets[2],
        "note": "",
    }


def _post(
    http: Http, url: str, token: str, body: dict[str, Any], variable: str
) -> tuple[str, dict[str, Any], str]:
    try:
        resp = http.request(
            "POST",
            url,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            idempotent=True,  # a report is a read: safe to send again
        )
    except RateLimited as exc:
        return DEFERRED, {}, str(exc)
    except HttpError as exc:
        return FAILED, {}, str(exc)
    try:
        data = resp.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if resp.status_code == 200:
        return OK, data, ""
    raw = data.get("error")
    err: dict[str, Any] = raw if isinstance(raw, dict) else {}
    status_name = str(err.get("status") or "")
    message = str(err.get("message") or resp.reason or "")[:200].replace(token, "[redacted]")
    if resp.status_code in (401, 403):
        return (
            REFUSED,
            {},
            _(
                "GA4 refused the access token (HTTP {status} {name}): set a new one in "
                "{variable}, with read access to the property"
            ).format(status=resp.status_code, name=status_name, variable=variable),
        )
    if resp.status_code == 429 or status_name == "RESOURCE_EXHAUSTED":
        return (
            DEFERRED,
            {},
            _("GA4 quota exhausted (HTTP 429 {name}): next run").format(name=status_name),
        )
    return FAILED, {}, f"GA4 HTTP {resp.status_code} {status_name} {message}".strip()
