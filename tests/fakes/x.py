"""A loopback X API v2 server following docs.x.com (posts, media, users, timelines).

What it copies from the documentation (docs.x.com/x-api, `xdevplatform/docs`):

- `POST /2/tweets` with JSON `{"text", "media": {"media_ids"}, "reply": {"in_reply_to_tweet_id"}}`
  answers 201 `{"data": {"id", "text", "edit_history_tweet_ids"}}`. Errors are RFC 7807
  problem details `{"title", "detail", "type", "status"}`; the same text twice is refused with
  403 "You are not allowed to create a Tweet with duplicate content." (legacy code 187).
- Text is counted weighted (docs.x.com/fundamentals/counting-characters): NFC, every URL 23,
  code points in the Latin ranges 1, others (CJK, emoji) 2, an emoji sequence once: 281 -> 400.
- `POST /2/media/upload` (multipart: `media`, `media_category` required, `media_type`) answers
  `{"data": {"id", "media_key", "size", "expires_after_secs"}}`; images only (video and GIF need
  the chunked flow). `POST /2/media/metadata` `{"id", "metadata": {"alt_text": {"text"}}}` sets
  alt text (<= 1,000 characters).
- `GET /2/users/me`, `GET /2/users/:id/tweets` (newest first, `max_results` 5-100,
  `pagination_token`, `tweet.fields`). Returned `text` is what X shows: links replaced by
  t.co links (`entities.urls[].expanded_url` holds the original), `&`, `<`, `>` escaped, and a
  t.co link to the photos appended when the post has media.
- Rate limits: `x-rate-limit-limit`, `-remaining`, `-reset` (epoch seconds) on every answer,
  429 "Too Many Requests" once spent (x-api/fundamentals/rate-limits.mdx).
- A refused token (expired, revoked) gets 401 `{"title": "Unauthorized", ...}`.
"""

from __future__ import annotations

import html
import importlib
import itertools
import re
import time
import unicodedata
from datetime import UTC, datetime
from typing import Any

from .base import FakeServer, Fault, RateState, Recorded, Response, json_response, route

_regex: Any = importlib.import_module("regex")

_URL_RE = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_EMOJI = _regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")
# twitter-text config v3: weight 100 (one character) for these ranges, 200 elsewhere.
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
MAX_WEIGHT = 280
URL_WEIGHT = 23
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/bmp", "image/pjpeg", "image/tiff")


def weighted_length(text: str) -> int:
    """The length X gives `text` (independent of cmflow's counter, for the fake's checks)."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    pos = 0
    for m in _URL_RE.finditer(text):
        total += _weigh(text[pos : m.start()]) + URL_WEIGHT
        pos = m.end()
    return total + _weigh(text[pos:])


def _weigh(text: str) -> int:
    total = 0
    for cluster in _regex.findall(r"\X", text):
        if _EMOJI.search(cluster):
            total += 2
            continue
        for ch in cluster:
            cp = ord(ch)
            total += 1 if any(lo <= cp <= hi for lo, hi in _LIGHT) else 2
    return total


def _iso(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _problem(code: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": "about:blank", "status": code, **extra}


class FakeX(FakeServer):
    """One X account (`user_id`, `username`) reachable with `token`."""

    # x-api/posts/manage-tweets/integrate.mdx: POST /2/tweets 100 per 15 min per user.
    tweet_limit = (100, 900.0)

    def __init__(self, token: str = "x-test-token") -> None:
        super().__init__(tokens=[token])
        self.token = token
        self.user_id = "1500000000000000001"
        self.username = "marque"
        self.refused_tokens: set[str] = set()  # expired or revoked: 401
        self._tweets: dict[str, dict[str, Any]] = {}
        self._media: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1_860_000_000_000_000_000)
        self._tco = itertools.count(1)
        self._limits: dict[str, tuple[int, float]] = {}
        # (n, seconds): the n-th post created (1-based) is answered `seconds` late, so that a
        # test can kill the client while the platform holds a post it never confirmed.
        self.stall_nth: tuple[int, float] | None = None

    # -- helpers for tests ----------------------------------------------------------------

    def tweet(self, tweet_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._tweets[tweet_id])

    def add_tweet(self, text: str, *, created_at: float | None = None) -> str:
        """A post made outside cmflow (by hand on x.com), e.g. earlier with the same text."""
        with self._lock:
            return self._store(text, [], None, created_at or self.now())["id"]

    def rate_limited_fault(self, reset_in: float = 900.0) -> Fault:
        reset = int(time.time() + reset_in)
        return Fault.status(
            429,
            _problem(429, "Too Many Requests", "Too Many Requests"),
            {
                "x-rate-limit-limit": str(self.tweet_limit[0]),
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(reset),
            },
        )

    # -- plumbing -------------------------------------------------------------------------

    def _error(self, req: Recorded, code: int, title: str, detail: str) -> Response:
        body = _problem(code, title, detail)
        if self.echo_secrets:
            body["request"] = self.secret_dump(req)
        return json_response(code, body)

    def _window(self, key: str, limit: int, period: float) -> RateState:
        with self._lock:
            now = time.time()
            count, reset_at = self._limits.get(key, (0, now + period))
            if now >= reset_at:
                count, reset_at = 0, now + period
            count += 1
            self._limits[key] = (count, reset_at)
        return RateState(limit, max(0, limit - count), reset_at, count > limit)

    def process(self, req: Recorded) -> Response:
        token = self.bearer(req.headers)
        if token is None or token not in self.tokens or token in self.refused_tokens:
            return self._error(req, 401, "Unauthorized", "Unauthorized")
        limit, period = self.tweet_limit if req.path == "/2/tweets" else (900, 900.0)
        state = self._window(f"{req.method} {req.path.split('/')[2]}", limit, period)
        if state.exceeded:
            response = self._error(req, 429, "Too Many Requests", "Too Many Requests")
        else:
            response = super().process(req)
        response.headers.update(
            {
                "x-rate-limit-limit": str(state.limit),
                "x-rate-limit-remaining": str(state.remaining),
                "x-rate-limit-reset": str(int(state.reset_at)),
            }
        )
        return response

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        return self._error(req, 404, "Not Found Error", f"Could not find {req.path}")

    # -- posts ----------------------------------------------------------------------------

    @route("POST", r"/2/tweets")
    def create_tweet(self, req: Recorded, match: re.Match[str]) -> Response:
        body = req.json
        if req.content_type != "application/json" or not isinstance(body, dict):
            return self._error(req, 400, "Invalid Request", "One or more parameters are invalid.")
        text = body.get("text")
        media_ids = (body.get("media") or {}).get("media_ids") or []
        reply = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if not text and not media_ids:
            return self._error(req, 400, "Invalid Request", "Text or media is required.")
        if text is not None and not isinstance(text, str):
            return self._error(req, 400, "Invalid Request", "text must be a string")
        if text and weighted_length(text) > MAX_WEIGHT:
            return self._error(
                req, 400, "Invalid Request", "Your Tweet text is too long. (code 186)"
            )
        with self._lock:
            if len(media_ids) > 4 or any(m not in self._media for m in media_ids):
                return self._error(
                    req, 400, "Invalid Request", "Your media IDs are invalid. (code 324)"
                )
            if reply is not None and str(reply) not in self._tweets:
                return self._error(
                    req,
                    400,
                    "Invalid Request",
                    "The tweet you are replying to has been deleted or is not visible to you.",
                )
            if text and any(t["_sent"] == text for t in self._tweets.values()):
                return self._error(
                    req,
                    403,
                    "Forbidden",
                    "You are not allowed to create a Tweet with duplicate content.",
                )
            stored = self._store(text or "", list(media_ids), reply, self.now())
        created = {
            "data": {
                "id": stored["id"],
                "text": stored["text"],
                "edit_history_tweet_ids": [stored["id"]],
            }
        }
        self.record_post(dict(stored))
        if self.stall_nth is not None and self.stall_nth[0] == self.created:
            self._stop.wait(self.stall_nth[1])
        return json_response(201, created)

    def _store(
        self, text: str, media_ids: list[str], reply: str | None, created: float
    ) -> dict[str, Any]:
        tweet_id = str(next(self._ids))
        shown, urls = self._shown(text)
        if media_ids:
            tco = f"https://t.co/m{next(self._tco):07d}"
            urls.append(
                {
                    "start": len(shown) + 1,
                    "end": len(shown) + 1 + len(tco),
                    "url": tco,
                    "expanded_url": f"https://x.com/{self.username}/status/{tweet_id}/photo/1",
                    "display_url": "pic.x.com/abc",
                    "media_key": f"3_{media_ids[0]}",
                }
            )
            shown = f"{shown} {tco}"
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": shown,
            "_sent": text,
            "author_id": self.user_id,
            "created_at": _iso(created),
            "_created": created,
            "edit_history_tweet_ids": [tweet_id],
            "entities": {"urls": urls} if urls else {},
            "attachments": {"media_keys": [f"3_{m}" for m in media_ids]} if media_ids else {},
        }
        if reply is not None:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": str(reply)}]
            tweet["in_reply_to_user_id"] = self.user_id
        for m in media_ids:
            self._media[m]["used"] = True
        self._tweets[tweet_id] = tweet
        return tweet

    def _shown(self, text: str) -> tuple[str, list[dict[str, Any]]]:
        """The text as X returns it: links as t.co links, &, < and > escaped."""
        out, urls, pos = "", [], 0
        for m in _URL_RE.finditer(text):
            out += html.escape(text[pos : m.start()], quote=False)
            tco = f"https://t.co/{next(self._tco):010d}"
            urls.append(
                {
                    "start": len(out),
                    "end": len(out) + len(tco),
                    "url": tco,
                    "expanded_url": m.group(0),
                    "display_url": m.group(0).split("://", 1)[1][:25],
                }
            )
            out += tco
            pos = m.end()
        return out + html.escape(text[pos:], quote=False), urls

    @route("GET", r"/2/users/me")
    def me(self, req: Recorded, match: re.Match[str]) -> Response:
        return json_response(
            200, {"data": {"id": self.user_id, "name": "Marque", "username": self.username}}
        )

    @route("GET", r"/2/users/(?P<id>[0-9]+)/tweets")
    def user_tweets(self, req: Recorded, match: re.Match[str]) -> Response:
        if match.group("id") != self.user_id:
            return self._error(req, 404, "Not Found Error", "Could not find user")
        try:
            size = int(req.query.get("max_results", "10"))
        except ValueError:
            size = 0
        if not 5 <= size <= 100:
            return self._error(
                req, 400, "Invalid Request", "The `max_results` query parameter value is invalid"
            )
        fields = set(req.query.get("tweet.fields", "").split(","))
        with self._lock:
            tweets = sorted(self._tweets.values(), key=lambda t: -int(t["id"]))
        token = req.query.get("pagination_token")
        start = int(token) if token and token.isdigit() else 0
        page = tweets[start : start + size]
        data = []
        for t in page:
            item = {"id": t["id"], "text": t["text"], "edit_history_tweet_ids": [t["id"]]}
            for f in ("created_at", "entities", "referenced_tweets", "attachments", "author_id"):
                if f in fields and t.get(f):
                    item[f] = t[f]
            data.append(item)
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta["newest_id"], meta["oldest_id"] = data[0]["id"], data[-1]["id"]
        if start + size < len(tweets):
            meta["next_token"] = str(start + size)
        body: dict[str, Any] = {"meta": meta}
        if data:
            body["data"] = data
        return json_response(200, body)

    # -- media ----------------------------------------------------------------------------

    @route("POST", r"/2/media/upload")
    def upload(self, req: Recorded, match: re.Match[str]) -> Response:
        media = req.files.get("media")
        category = req.form.get("media_category")
        if media is None or not media.data:
            return self._error(req, 400, "Invalid Request", "media is required")
        if category not in ("tweet_image", "dm_image", "subtitles"):
            return self._error(
                req, 400, "Invalid Request", "media_category must be one of tweet_image, ..."
            )
        media_type = req.form.get("media_type") or media.content_type
        if media_type not in IMAGE_TYPES:
            return self._error(
                req, 400, "Invalid Request", f"media_type {media_type} is not supported"
            )
        if len(media.data) > 5 * 1024 * 1024:
            return self._error(req, 400, "Invalid Request", "File size exceeds 5242880 bytes.")
        with self._lock:
            media_id = str(next(self._ids))
            self._media[media_id] = {"size": len(media.data), "alt": None, "used": False}
        return json_response(
            200,
            {
                "data": {
                    "id": media_id,
                    "media_key": f"3_{media_id}",
                    "size": len(media.data),
                    "expires_after_secs": 86400,
                    "image": {"image_type": media_type, "w": 1, "h": 1},
                }
            },
        )

    @route("POST", r"/2/media/metadata")
    def metadata(self, req: Recorded, match: re.Match[str]) -> Response:
        body = req.json if isinstance(req.json, dict) else {}
        media_id = body.get("id")
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        with self._lock:
            if media_id not in self._media:
                return self._error(req, 400, "Invalid Request", "media id is invalid")
            if not isinstance(alt, str) or len(alt) > 1000:
                return self._error(
                    req, 400, "Invalid Request", "alt_text.text must be 1000 characters or less"
                )
            self._media[media_id]["alt"] = alt
        return json_response(
            200, {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": alt}}}}
        )

    def media_alt(self, media_key: str) -> str | None:
        with self._lock:
            return self._media[media_key.removeprefix("3_")]["alt"]  # type: ignore[no-any-return]
