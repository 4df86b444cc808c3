"""Google Analytics 4 Data API on loopback: `POST /v1beta/properties/{id}:runReport`.

Checks the request as the API does: bearer token (401 UNAUTHENTICATED), known property
(403 PERMISSION_DENIED), dateRanges / dimensions / metrics names (400 INVALID_ARGUMENT),
and answers rows `{dimensionValues:[{value}], metricValues:[{value}]}` with values as
strings, `rowCount`, `limit`/`offset` paging and `propertyQuota`. `exhausted = True` answers
429 RESOURCE_EXHAUSTED like a spent property quota (developers.google.com/analytics/
devguides/reporting/data/v1/quotas). Sources: .../rest/v1beta/properties/runReport,
RunReportResponse, PropertyQuota.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from .base import FakeServer, Recorded, Response, json_response, route

KNOWN_DIMENSIONS = {
    "date",
    "sessionSource",
    "sessionMedium",
    "sessionCampaignName",
    "sessionDefaultChannelGroup",
}
KNOWN_METRICS = {"sessions", "engagedSessions", "keyEvents", "totalUsers", "conversions"}


def _error(code: int, status: str, message: str) -> Response:
    return json_response(code, {"error": {"code": code, "message": message, "status": status}})


class FakeGA4(FakeServer):
    def __init__(self, token: str, property_id: str = "123456") -> None:
        super().__init__(tokens=[token])
        self.property_id = property_id
        self.exhausted = False
        # (date YYYY-MM-DD, source, medium, campaign) -> (sessions, engaged, key events)
        self.data: dict[tuple[str, str, str, str], tuple[int, int, int]] = {}
        self.bodies: list[dict[str, Any]] = []

    def add(
        self,
        day: str,
        source: str,
        medium: str,
        campaign: str,
        sessions: int,
        engaged: int,
        key_events: int,
    ) -> None:
        with self._lock:
            self.data[(day, source, medium, campaign)] = (sessions, engaged, key_events)

    @property
    def url_v1beta(self) -> str:
        return f"{self.url}/v1beta"

    @route("POST", r"/v1beta/properties/(?P<prop>[^/:]+):runReport")
    def run_report(self, req: Recorded, match: re.Match[str]) -> Response:
        if not self.auth_ok(req.headers):
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if match["prop"] != self.property_id:
            return _error(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property.",
            )
        if self.exhausted:
            return _error(429, "RESOURCE_EXHAUSTED", "Exhausted property tokens per day quota.")
        body = req.json
        if not isinstance(body, dict):
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload.")
        with self._lock:
            self.bodies.append(body)
        ranges = body.get("dateRanges") or []
        if len(ranges) != 1:
            return _error(400, "INVALID_ARGUMENT", "Exactly one dateRange is supported here.")
        try:
            start = date.fromisoformat(ranges[0]["startDate"])
            end = date.fromisoformat(ranges[0]["endDate"])
        except (KeyError, ValueError):
            return _error(400, "INVALID_ARGUMENT", "Invalid date range.")
        if start > end:
            return _error(400, "INVALID_ARGUMENT", "startDate must be before endDate.")
        dims = [d.get("name") for d in body.get("dimensions", [])]
        mets = [m.get("name") for m in body.get("metrics", [])]
        for name in dims:
            if name not in KNOWN_DIMENSIONS:
                return _error(400, "INVALID_ARGUMENT", f"Field {name} is not a valid dimension.")
        for name in mets:
            if name not in KNOWN_METRICS:
                return _error(400, "INVALID_ARGUMENT", f"Field {name} is not a valid metric.")
        limit = int(body.get("limit", 10000))
        offset = int(body.get("offset", 0))
        with self._lock:
            items = sorted(self.data.items())
        rows = []
        for (day, source, medium, campaign), (sessions, engaged, key_events) in items:
            if not start <= date.fromisoformat(day) <= end:
                continue
            values = {
                "date": day.replace("-", ""),
                "sessionSource": source,
                "sessionMedium": medium,
                "sessionCampaignName": campaign,
                "sessionDefaultChannelGroup": "Organic Social",
            }
            numbers = {
                "sessions": sessions,
                "engagedSessions": engaged,
                "keyEvents": key_events,
                "totalUsers": sessions,
                "conversions": key_events,
            }
            rows.append(
                {
                    "dimensionValues": [{"value": values[d]} for d in dims],
                    "metricValues": [{"value": str(numbers[m])} for m in mets],
                }
            )
        out: dict[str, Any] = {
            "dimensionHeaders": [{"name": d} for d in dims],
            "metricHeaders": [{"name": m, "type": "TYPE_INTEGER"} for m in mets],
            "rowCount": len(rows),
            "metadata": {"currencyCode": "EUR", "timeZone": "Europe/Paris"},
            "kind": "analyticsData#runReport",
        }
        if rows[offset : offset + limit]:
            out["rows"] = rows[offset : offset + limit]
        if body.get("returnPropertyQuota"):
            out["propertyQuota"] = {"tokensPerDay": {"consumed": 12, "remaining": 199988}}
        return json_response(200, out)
