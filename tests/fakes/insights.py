"""Loopback servers for the metrics of X, LinkedIn, Meta's Graph APIs and dev.to, following
their documented read endpoints, error bodies and rate-limit headers (sources in each
class). They hold posts by id with their counts; tests set them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from .base import FakeServer, Recorded, Response, json_response, route


class FakeX(FakeServer):
    """X API v2: GET /2/tweets?ids= (≤100, public_metrics), GET /2/users/me. 401 body
    {"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"};
    rate headers x-rate-limit-limit/-remaining/-reset (docs.x.com rate-limits)."""

    default_rate_limit = (900, 900.0)

    def __init__(self, token: str) -> None:
        super().__init__(tokens=[token])
        self.tweets: dict[str, dict[str, int]] = {}
        self.followers = 0

    def process(self, req: Recorded) -> Response:
        if not self.auth_ok(req.headers):
            return json_response(
                401,
                {
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                },
            )
        state = self.take_rate(f"user:{self.bearer(req.headers)}")
        headers = {}
        if state is not None:
            headers = {
                "x-rate-limit-limit": str(state.limit),
                "x-rate-limit-remaining": str(state.remaining),
                "x-rate-limit-reset": str(int(state.reset_at)),
            }
            if state.exceeded:
                return json_response(429, {"title": "Too Many Requests", "status": 429}, headers)
        response = super().process(req)
        response.headers.update(headers)
        return response

    @route("GET", r"/2/tweets")
    def tweets_lookup(self, req: Recorded, match: re.Match[str]) -> Response:
        ids = [i for i in req.query.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            return json_response(400, {"title": "Invalid Request", "detail": "ids: 1 to 100"})
        data, errors = [], []
        for i in ids:
            if i in self.tweets:
                m = self.tweets[i]
                metrics = {
                    k: m.get(k, 0)
                    for k in (
                        "retweet_count",
                        "reply_count",
                        "like_count",
                        "quote_count",
                        "bookmark_count",
                        "impression_count",
                    )
                }
                data.append({"id": i, "text": "…", "public_metrics": metrics})
            else:
                errors.append(
                    {
                        "value": i,
                        "detail": f"Could not find tweet with ids: [{i}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "resource_id": i,
                    }
                )
        body: dict[str, Any] = {"data": data} if data else {}
        if errors:
            body["errors"] = errors
        return json_response(200, body)

    @route("GET", r"/2/users/me")
    def me(self, req: Recorded, match: re.Match[str]) -> Response:
        return json_response(
            200,
            {
                "data": {
                    "id": "42",
                    "username": "marque",
                    "public_metrics": {
                        "followers_count": self.followers,
                        "following_count": 10,
                        "tweet_count": len(self.tweets),
                    },
                }
            },
        )


class FakeLinkedIn(FakeServer):
    """LinkedIn REST: organizationalEntityShareStatistics (shares=/ugcPosts= Rest.li lists of
    URL-encoded URNs), networkSizes. Requires LinkedIn-Version and X-Restli-Protocol-Version
    2.0.0 (400 otherwise); 401 {"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN"}."""

    def __init__(self, token: str, org: str = "urn:li:organization:123") -> None:
        super().__init__(tokens=[token])
        self.org = org
        self.stats: dict[str, dict[str, int]] = {}
        self.followers = 0

    def process(self, req: Recorded) -> Response:
        if not self.auth_ok(req.headers):
            return json_response(
                401,
                {
                    "status": 401,
                    "serviceErrorCode": 65600,
                    "code": "INVALID_ACCESS_TOKEN",
                    "message": "Invalid access token",
                },
            )
        if (
            not re.fullmatch(r"\d{6}", req.headers.get("linkedin-version", ""))
            or req.headers.get("x-restli-protocol-version") != "2.0.0"
        ):
            return json_response(400, {"status": 400, "message": "A version header is required"})
        return super().process(req)

    @route("GET", r"/rest/organizationalEntityShareStatistics")
    def share_stats(self, req: Recorded, match: re.Match[str]) -> Response:
        if (
            req.query.get("q") != "organizationalEntity"
            or req.query.get("organizationalEntity") != self.org
        ):
            return json_response(
                403, {"status": 403, "message": "Not enough permissions to access organization"}
            )
        elements = []
        for kind, key in (("shares", "share"), ("ugcPosts", "ugcPost")):
            raw = re.search(rf"[?&]{kind}=List\(([^)]*)\)", req.target)
            if not raw:
                continue
            for urn in (unquote(u) for u in raw.group(1).split(",") if u):
                if ":" not in urn or not urn.startswith("urn:li:"):
                    return json_response(
                        400, {"status": 400, "message": f"Invalid URN {urn}: encode it"}
                    )
                if urn in self.stats:
                    elements.append(
                        {
                            key: urn,
                            "organizationalEntity": self.org,
                            "totalShareStatistics": dict(self.stats[urn]),
                        }
                    )
        return json_response(200, {"paging": {"count": 10, "start": 0}, "elements": elements})

    @route("GET", r"/rest/networkSizes/(?P<urn>.+)")
    def network_size(self, req: Recorded, match: re.Match[str]) -> Response:
        if (
            unquote(match["urn"]) != self.org
            or req.query.get("edgeType") != "COMPANY_FOLLOWED_BY_MEMBER"
        ):
            return json_response(400, {"status": 400, "message": "bad edgeType or entity"})
        return json_response(200, {"firstDegreeSize": self.followers})


class FakeGraph(FakeServer):
    """Meta Graph (Facebook Page posts, Instagram media, Threads posts). Expired token: HTTP
    400 {"error":{"message":"Error validating access token...","type":"OAuthException","code":190}}.
    An unknown object: 400 code 100 "Unsupported get request". Deprecated metrics (e.g.
    Instagram `impressions` on new media) answer 400 code 100 as Meta does since 2025-04-21."""

    DEPRECATED = frozenset({"impressions", "plays", "post_impressions_unique", "page_fans"})

    def __init__(self, token: str) -> None:
        super().__init__(tokens=[token])
        self.objects: dict[str, dict[str, Any]] = {}  # id -> fields
        self.insights: dict[str, dict[str, int]] = {}  # id -> metric -> value

    def process(self, req: Recorded) -> Response:
        if not self.auth_ok(req.headers):
            return json_response(
                400,
                {
                    "error": {
                        "message": "Error validating access token: Session has expired.",
                        "type": "OAuthException",
                        "code": 190,
                        "error_subcode": 463,
                    }
                },
            )
        return super().process(req)

    @staticmethod
    def _unknown(oid: str) -> Response:
        return json_response(
            400,
            {
                "error": {
                    "message": f"Unsupported get request. Object with ID '{oid}' does not exist",
                    "type": "GraphMethodException",
                    "code": 100,
                    "error_subcode": 33,
                }
            },
        )

    @route("GET", r"/v\d+\.\d+/(?P<id>[^/]+)/(?P<edge>insights|threads_insights)")
    def get_insights(self, req: Recorded, match: re.Match[str]) -> Response:
        oid = match["id"]
        if oid not in self.insights:
            return self._unknown(oid)
        metrics = [m for m in req.query.get("metric", "").split(",") if m]
        bad = [m for m in metrics if m in self.DEPRECATED]
        if bad:
            return json_response(
                400,
                {
                    "error": {
                        "message": f"(#100) metric[0] must be one of the following values: ... ({bad[0]} is no longer supported)",
                        "type": "OAuthException",
                        "code": 100,
                    }
                },
            )
        data = []
        for m in metrics:
            if m in self.insights[oid]:
                item: dict[str, Any] = {
                    "name": m,
                    "period": "lifetime",
                    "id": f"{oid}/insights/{m}/lifetime",
                }
                if match["edge"] == "threads_insights":
                    item["total_value"] = {"value": self.insights[oid][m]}
                else:
                    item["values"] = [{"value": self.insights[oid][m]}]
                data.append(item)
        return json_response(200, {"data": data})

    @route("GET", r"/v\d+\.\d+/(?P<id>[^/]+)")
    def get_object(self, req: Recorded, match: re.Match[str]) -> Response:
        oid = match["id"]
        if oid not in self.objects:
            return self._unknown(oid)
        return json_response(200, {"id": oid, **self.objects[oid]})


class FakeDevto(FakeServer):
    """Forem: GET /api/articles/me/all (api-key header; 401 {"error":"unauthorized","status":401};
    `per_page` ≤ 1000, `page` from 1)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.articles: list[dict[str, Any]] = []

    def process(self, req: Recorded) -> Response:
        if req.headers.get("api-key") != self.key:
            return json_response(401, {"error": "unauthorized", "status": 401})
        return super().process(req)

    @route("GET", r"/api/articles/me/all")
    def mine(self, req: Recorded, match: re.Match[str]) -> Response:
        per_page = min(1000, int(req.query.get("per_page", "30")))
        page = int(req.query.get("page", "1"))
        return json_response(200, self.articles[(page - 1) * per_page : page * per_page])
