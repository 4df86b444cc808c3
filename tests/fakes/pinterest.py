"""A loopback Pinterest API v5, from the official OpenAPI description
(`pinterest/api-description` v5/openapi.yaml) and the rate-limit page.

- Auth: `Authorization: Bearer <token>`; otherwise 401 `{"code": 2, "message":
  "Authentication failed."}`. Every error body is `{"code": <int>, "message": <str>}`.
- `POST /v5/pins` (`PinCreate`): `board_id` (a board of the user: else 404 code 3 "Board not
  found."), `title` ≤ 100, `description` ≤ 800, `link` ≤ 2048, `alt_text` ≤ 500 (else 400
  code 1), `media_source` one of `image_url` {url}, `image_base64` {content_type
  image/jpeg|image/png, data}, `video_id` {media_id (succeeded), cover_image_url |
  cover_image_data + cover_image_content_type | cover_image_key_frame_time}. Answers 201
  with the Pin (`id`, `created_at`, `board_id`, `title`, `description`, `link`, `alt_text`,
  `media`).
- `GET /v5/boards/{board_id}/pins` (`page_size` ≤ 250, default 25; `bookmark`): the board's
  pins, newest first, `{"items": [...], "bookmark": <str|null>}`.
- `POST /v5/media` {media_type: "video"} → 201 `{media_id, media_type, upload_url,
  upload_parameters}`; the upload URL takes a multipart POST with every parameter and the
  `file` (S3-style: 204, no auth); `GET /v5/media/{media_id}` → `{media_id, media_type,
  status}`: registered → (uploaded) processing → succeeded after `processing_polls` reads.
- Rate limits: with `rate_limit(n)`, over `n` requests per window per token: 429
  `{"code": 8, "message": ...}` with `X-RateLimit-Limit`, `X-RateLimit-Remaining: 0`,
  `X-RateLimit-Reset` (seconds until the window resets).
"""

from __future__ import annotations

import base64
import itertools
import re
from datetime import UTC, datetime
from typing import Any

from .base import FakeServer, Recorded, Response, json_response, route, text_response

MAX = {"title": 100, "description": 800, "link": 2048, "alt_text": 500}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class FakePinterest(FakeServer):
    def __init__(self, token: str = "pina_test", boards: tuple[str, ...] = ("549755885175",)):
        super().__init__(tokens=[token])
        self.boards: dict[str, list[dict[str, Any]]] = {b: [] for b in boards}
        self.media: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.processing_polls = 2  # GET /media/{id} answers "processing" this many times
        self._ids = itertools.count(1_031_000_000_000_000)
        self._media_ids = itertools.count(5_000_000)

    # -- helpers for tests ----------------------------------------------------------------

    def add_pin(self, board_id: str, **fields: Any) -> dict[str, Any]:
        """A pin saved by hand (or by another tool) on a board."""
        with self._lock:
            return self._store(board_id, fields)

    def pins(self, board_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.boards[board_id])

    # -- plumbing -------------------------------------------------------------------------

    def _error(
        self, req: Recorded, status: int, code: int, message: str, **headers: str
    ) -> Response:
        body: dict[str, Any] = {"code": code, "message": message}
        if self.echo_secrets:
            body["request"] = self.secret_dump(req)
        return json_response(status, body, headers)

    def process(self, req: Recorded) -> Response:
        if req.path.startswith("/upload/"):
            return super().process(req)  # the storage URL: signed, no bearer token
        token = self.bearer(req.headers)
        if token is None or token not in self.tokens:
            return self._error(req, 401, 2, "Authentication failed.")
        state = self.take_rate(f"token:{token}")
        if state is not None and state.exceeded:
            return self._error(
                req,
                429,
                8,
                "You have exceeded your rate limit. Try again later.",
                **{
                    "X-RateLimit-Limit": str(state.limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(state.retry_after_int),
                },
            )
        return super().process(req)

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        if method_not_allowed:
            return self._error(req, 405, 405, "Method Not Allowed")
        return self._error(req, 404, 404, "Not Found")

    def _store(self, board_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        pin_id = str(next(self._ids))
        pin = {
            "id": pin_id,
            "created_at": _iso(self.now()),
            "board_id": board_id,
            "board_owner": {"username": "brulerie"},
            "title": fields.get("title"),
            "description": fields.get("description"),
            "link": fields.get("link"),
            "alt_text": fields.get("alt_text"),
            "media": fields.get("media", {"media_type": "image"}),
        }
        self.boards[board_id].insert(0, pin)
        return pin

    # -- pins -----------------------------------------------------------------------------

    @route("POST", r"/v5/pins")
    def create_pin(self, req: Recorded, match: re.Match[str]) -> Response:
        body = req.json if isinstance(req.json, dict) else None
        if body is None:
            return self._error(req, 400, 1, "Invalid request body")
        board_id = body.get("board_id")
        if not isinstance(board_id, str) or board_id not in self.boards:
            return self._error(req, 404, 3, "Board not found.")
        for key, limit in MAX.items():
            value = body.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                return self._error(
                    req, 400, 1, f"Invalid parameters. '{key}' is longer than {limit} characters"
                )
        source = body.get("media_source")
        media = self._media_of(source)
        if isinstance(media, str):
            return self._error(req, 400, 1, media)
        with self._lock:
            pin = self._store(board_id, {**body, "media": media})
        self.record_post({**pin, "text": pin["description"] or "", "source": source})
        return json_response(201, pin)

    def _media_of(self, source: Any) -> dict[str, Any] | str:
        """The pin's media, or why `media_source` is refused."""
        if not isinstance(source, dict):
            return "Invalid parameters. 'media_source' is required"
        kind = source.get("source_type")
        if kind == "image_url":
            url = source.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                return "Invalid parameters. 'url' must be an image URL"
            return {"media_type": "image", "images": {"originals": {"url": url}}}
        if kind == "image_base64":
            if source.get("content_type") not in ("image/jpeg", "image/png"):
                return "Invalid parameters. 'content_type' must be image/jpeg or image/png"
            try:
                base64.b64decode(str(source.get("data", "")), validate=True)
            except ValueError:
                return "Invalid parameters. 'data' is not base64"
            return {"media_type": "image"}
        if kind == "video_id":
            media_id = str(source.get("media_id"))
            with self._lock:
                media = self.media.get(media_id)
            if media is None or media["status"] != "succeeded":
                return f"Invalid parameters. Media {media_id} is not ready"
            covers = ("cover_image_url", "cover_image_data", "cover_image_key_frame_time")
            if not any(source.get(c) is not None for c in covers):
                return "Invalid parameters. A cover image is required for a video Pin"
            if source.get("cover_image_data") and not source.get("cover_image_content_type"):
                return "Invalid parameters. 'cover_image_content_type' is required"
            return {"media_type": "video", "media_id": media_id}
        return f"Invalid parameters. Unknown source_type {kind!r}"

    @route("GET", r"/v5/boards/(?P<board>[^/]+)/pins")
    def board_pins(self, req: Recorded, match: re.Match[str]) -> Response:
        board = match["board"]
        if board not in self.boards:
            return self._error(req, 404, 3, "Board not found.")
        size = int(req.query.get("page_size", "25"))
        if not 1 <= size <= 250:
            return self._error(req, 400, 1, "Invalid parameters. 'page_size' must be 1-250")
        start = int(req.query.get("bookmark") or 0)
        with self._lock:
            items = self.boards[board][start : start + size]
            more = start + size < len(self.boards[board])
        return json_response(200, {"items": items, "bookmark": str(start + size) if more else None})

    # -- media ----------------------------------------------------------------------------

    @route("POST", r"/v5/media")
    def register_media(self, req: Recorded, match: re.Match[str]) -> Response:
        body = req.json if isinstance(req.json, dict) else {}
        if body.get("media_type") != "video":
            return self._error(req, 400, 1, "Invalid parameters. 'media_type' must be video")
        media_id = str(next(self._media_ids))
        params = {
            "x-amz-date": "20261202T000000Z",
            "key": f"uploads/{media_id}.mp4",
            "policy": "ZmFrZS1wb2xpY3k=",
            "x-amz-signature": f"sig{media_id}",
            "Content-Type": "multipart/form-data",
        }
        with self._lock:
            self.media[media_id] = {"status": "registered", "polls": 0, "params": params}
        return json_response(
            201,
            {
                "media_id": media_id,
                "media_type": "video",
                "upload_url": f"{self.url}/upload/{media_id}",
                "upload_parameters": params,
            },
        )

    @route("POST", r"/upload/(?P<media>[0-9]+)")
    def upload(self, req: Recorded, match: re.Match[str]) -> Response:
        with self._lock:
            media = self.media.get(match["media"])
        if media is None:
            return text_response(404, "NoSuchUpload", content_type="application/xml")
        for key, value in media["params"].items():
            if req.form.get(key) != value:
                return text_response(
                    403, f"missing or wrong field {key}", content_type="application/xml"
                )
        file = req.files.get("file")
        if file is None or not file.data:
            return text_response(400, "no file", content_type="application/xml")
        with self._lock:
            self.uploads[match["media"]] = file.data
            media["status"] = "processing"
        return Response(204)

    @route("GET", r"/v5/media/(?P<media>[0-9]+)")
    def media_status(self, req: Recorded, match: re.Match[str]) -> Response:
        with self._lock:
            media = self.media.get(match["media"])
            if media is None:
                return self._error(req, 404, 4, "Media not found.")
            if media["status"] == "processing":
                media["polls"] += 1
                if media["polls"] > self.processing_polls:
                    media["status"] = "succeeded"
            status = media["status"]
        return json_response(
            200, {"media_id": match["media"], "media_type": "video", "status": status}
        )
