"""A Bluesky AppView on loopback: the public read endpoints cmflow's metrics use.

`app.bsky.feed.getPosts` (1 to 25 `uris`, else 400 InvalidRequest; unknown URIs are left out
of `posts`, as the AppView does), `app.bsky.actor.getProfile` (400 "Profile not found"),
`app.bsky.feed.getAuthorFeed` (`limit` ≤ 100, `cursor`, `filter`). Lexicons:
bluesky-social/atproto lexicons/app/bsky/feed/getPosts.json, defs.json#postView,
actor/getProfile.json, feed/getAuthorFeed.json. Rate limits answer with `RateLimit-Limit`,
`RateLimit-Remaining`, `RateLimit-Reset` (epoch seconds) and 429 `RateLimitExceeded`.
`latency` delays every answer (for benchmarks).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from .base import FakeServer, Recorded, Response, json_response, route

MAX_URIS = 25


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeAppView(FakeServer):
    default_rate_limit = (3000, 300.0)

    def __init__(self) -> None:
        super().__init__()
        self.latency = 0.0
        self._posts: dict[str, dict[str, Any]] = {}  # uri -> postView
        self._profiles: dict[str, dict[str, Any]] = {}  # handle -> profileViewDetailed

    # -- helpers for tests ----------------------------------------------------------------

    def add_profile(self, handle: str, followers: int = 0, following: int = 0) -> str:
        did = f"did:plc:{re.sub(r'[^a-z0-9]', '', handle.lower())[:24]:0<24}"
        with self._lock:
            self._profiles[handle] = {
                "did": did,
                "handle": handle,
                "displayName": handle.split(".")[0].title(),
                "followersCount": followers,
                "followsCount": following,
                "postsCount": 0,
                "indexedAt": _iso(time.time()),
            }
        return did

    def set_followers(self, handle: str, followers: int) -> None:
        with self._lock:
            self._profiles[handle]["followersCount"] = followers

    def add_post(
        self,
        handle: str,
        rkey: str,
        text: str = "",
        created_at: float | None = None,
        **counts: int,
    ) -> str:
        """A post by `handle` (added to its profile first); returns its at:// URI."""
        if handle not in self._profiles:
            self.add_profile(handle)
        with self._lock:
            profile = self._profiles[handle]
            uri = f"at://{profile['did']}/app.bsky.feed.post/{rkey}"
            created = _iso(created_at if created_at is not None else time.time())
            self._posts[uri] = {
                "uri": uri,
                "cid": f"bafyrei{rkey[:20]:a<20}",
                "author": {k: profile[k] for k in ("did", "handle", "displayName")},
                "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": created},
                "replyCount": counts.get("replies", 0),
                "repostCount": counts.get("reposts", 0),
                "likeCount": counts.get("likes", 0),
                "quoteCount": counts.get("quotes", 0),
                "bookmarkCount": counts.get("saves", 0),
                "indexedAt": created,
                "labels": [],
            }
            profile["postsCount"] += 1
        return uri

    def set_counts(self, uri: str, **counts: int) -> None:
        names = {
            "likes": "likeCount",
            "reposts": "repostCount",
            "replies": "replyCount",
            "quotes": "quoteCount",
            "saves": "bookmarkCount",
        }
        with self._lock:
            for key, value in counts.items():
                self._posts[uri][names[key]] = value

    def delete_post(self, uri: str) -> None:
        with self._lock:
            del self._posts[uri]

    # -- plumbing -------------------------------------------------------------------------

    @staticmethod
    def _error(
        code: int, name: str, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        return json_response(code, {"error": name, "message": message}, headers)

    def process(self, req: Recorded) -> Response:
        if self.latency:
            time.sleep(self.latency)
        # Public reads are limited per client IP (docs.bsky.app rate limits).
        state = self.take_rate("ip:127.0.0.1")
        headers: dict[str, str] = {}
        if state is not None:
            headers = {
                "RateLimit-Limit": str(state.limit),
                "RateLimit-Remaining": str(state.remaining),
                "RateLimit-Reset": str(int(state.reset_at)),
                "RateLimit-Policy": f"{state.limit};w=300",
            }
            if state.exceeded:
                return self._error(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
        response = super().process(req)
        response.headers.update(headers)
        return response

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        return self._error(501, "MethodNotImplemented", "Method Not Implemented")

    # -- endpoints ------------------------------------------------------------------------

    @route("GET", r"/xrpc/app\.bsky\.feed\.getPosts")
    def get_posts(self, req: Recorded, match: re.Match[str]) -> Response:
        uris = req.query_all.get("uris", [])
        if not uris:
            return self._error(400, "InvalidRequest", 'Error: Params must have the property "uris"')
        if len(uris) > MAX_URIS:
            return self._error(
                400, "InvalidRequest", "Error: uris must not have more than 25 elements"
            )
        with self._lock:
            posts = [dict(self._posts[u]) for u in uris if u in self._posts]
        return json_response(200, {"posts": posts})

    @route("GET", r"/xrpc/app\.bsky\.actor\.getProfile")
    def get_profile(self, req: Recorded, match: re.Match[str]) -> Response:
        actor = req.query.get("actor", "")
        with self._lock:
            profile = self._profiles.get(actor) or next(
                (p for p in self._profiles.values() if p["did"] == actor), None
            )
            if profile is None:
                return self._error(400, "InvalidRequest", "Profile not found")
            return json_response(200, dict(profile))

    @route("GET", r"/xrpc/app\.bsky\.feed\.getAuthorFeed")
    def get_author_feed(self, req: Recorded, match: re.Match[str]) -> Response:
        actor = req.query.get("actor", "")
        try:
            limit = int(req.query.get("limit", "50"))
        except ValueError:
            return self._error(400, "InvalidRequest", "Error: limit must be an integer")
        if not 1 <= limit <= 100:
            return self._error(400, "InvalidRequest", "Error: limit can not be greater than 100")
        with self._lock:
            profile = self._profiles.get(actor)
            if profile is None:
                return self._error(400, "InvalidRequest", "Profile not found")
            mine = [p for p in self._posts.values() if p["author"]["did"] == profile["did"]]
        mine.sort(key=lambda p: p["indexedAt"], reverse=True)
        cursor = req.query.get("cursor")
        if cursor:
            mine = [p for p in mine if p["indexedAt"] < cursor]
        page = mine[:limit]
        body: dict[str, Any] = {"feed": [{"post": dict(p)} for p in page]}
        if len(mine) > limit:
            body["cursor"] = page[-1]["indexedAt"]
        return json_response(200, body)
