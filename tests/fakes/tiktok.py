"""A loopback TikTok Content Posting API server (developers.tiktok.com/doc/content-posting-api-*).

- Every answer carries `{"data": {...}, "error": {"code", "message", "log_id"}}`, code "ok" on
  success (tiktok-api-v2-error-handling). A missing or refused token: 401
  `access_token_invalid`.
- `POST /v2/post/publish/creator_info/query/`: the creator's username, privacy level options,
  comment/duet/stitch switches and `max_video_post_duration_sec`.
- `POST /v2/post/publish/video/init/`: `post_info` (title <= 2,200 UTF-16 runes,
  `privacy_level` among the creator's options, else 403 `privacy_level_option_mismatch`) and
  `source_info`. FILE_UPLOAD: `video_size`, `chunk_size`, `total_chunk_count` checked as the
  media transfer guide says (under 5 MB: one chunk of the whole file; else chunks of 5-64 MB,
  count = floor(size / chunk), the last <= 128 MB), answered with `publish_id` and
  `upload_url`. PULL_FROM_URL: `video_url` under a verified prefix, else 403
  `url_ownership_unverified`. An app not audited (`audited = False`) posting anything but
  SELF_ONLY: 403 `unaudited_client_can_only_post_to_private_accounts`. 6 requests a minute
  per token: 429 `rate_limit_exceeded`.
- `PUT upload_url` with `Content-Range: bytes a-b/total`, chunks in order, each as long as
  its range and as `chunk_size` says: 206 until the last, 201 then.
- `POST /v2/post/publish/content/init/` (`media_type: PHOTO`, `photo_images` <= 35 verified
  URLs, title <= 90).
- `POST /v2/post/publish/status/fetch/` `{publish_id}`: PROCESSING_UPLOAD while bytes are
  missing, PROCESSING_DOWNLOAD for a pull, then PUBLISH_COMPLETE after `polls_to_complete`
  checks (the post exists from then on: the oracle) with `publicaly_available_post_id`
  (sic), or FAILED with `fail_reason`. 30 requests a minute per token.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from typing import Any

from .base import FakeServer, Recorded, Response, json_response, route

MB = 1024 * 1024
OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]


class FakeTikTok(FakeServer):
    def __init__(self, token: str = "act.tiktok-test-token") -> None:
        super().__init__(tokens=[token])
        self.token = token
        self.audited = False
        self.username = "marque"
        self.privacy_options = list(OPTIONS)
        self.comment_disabled = False
        self.duet_disabled = True
        self.stitch_disabled = False
        self.max_duration = 600
        self.verified_prefixes = ["https://example.fr/"]
        self.polls_to_complete = 1  # status checks after the bytes are in, before it is out
        self.fail_reason: str | None = None  # the next publish ends FAILED with it
        self.broken_from_chunk: int | None = None  # chunks from this index (0-based): 500
        self.limits = {"init": (6, 60.0), "status": (30, 60.0), "creator": (20, 60.0)}
        self.publishes: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(7_400_000_000_000_000_001)
        self._windows: dict[str, tuple[int, float]] = {}

    # -- plumbing -------------------------------------------------------------------------

    def _answer(
        self, code: int, data: dict[str, Any], error: str = "ok", message: str = ""
    ) -> Response:
        body = {
            "data": data,
            "error": {"code": error, "message": message, "log_id": secrets.token_hex(16)},
        }
        return json_response(code, body)

    def _err(self, code: int, error: str, message: str) -> Response:
        return self._answer(code, {}, error, message)

    def _limited(self, kind: str) -> Response | None:
        limit, period = self.limits[kind]
        with self._lock:
            now = time.time()
            count, reset = self._windows.get(kind, (0, now + period))
            if now >= reset:
                count, reset = 0, now + period
            self._windows[kind] = (count + 1, reset)
        if count + 1 > limit:
            return self._err(
                429, "rate_limit_exceeded", "API rate limit was exceeded, please try again later."
            )
        return None

    def process(self, req: Recorded) -> Response:
        if req.path.startswith("/upload/"):
            return super().process(req)  # the upload URL carries its own token
        if not self.auth_ok(req.headers):
            return self._err(
                401,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            )
        return super().process(req)

    # -- creator info ---------------------------------------------------------------------

    @route("POST", r"/v2/post/publish/creator_info/query/")
    def creator_info(self, req: Recorded, match: re.Match[str]) -> Response:
        limited = self._limited("creator")
        if limited:
            return limited
        return self._answer(
            200,
            {
                "creator_avatar_url": "https://p16.tiktokcdn.com/avatar.jpeg",
                "creator_username": self.username,
                "creator_nickname": "Marque",
                "privacy_level_options": list(self.privacy_options),
                "comment_disabled": self.comment_disabled,
                "duet_disabled": self.duet_disabled,
                "stitch_disabled": self.stitch_disabled,
                "max_video_post_duration_sec": self.max_duration,
            },
        )

    # -- init -----------------------------------------------------------------------------

    def _check_post_info(self, info: Any, *, photo: bool) -> Response | None:
        if not isinstance(info, dict):
            return self._err(400, "invalid_params", "post_info is required")
        privacy = info.get("privacy_level")
        if privacy not in self.privacy_options:
            return self._err(
                403,
                "privacy_level_option_mismatch",
                "privacy_level is not among the creator's options",
            )
        if not self.audited and privacy != "SELF_ONLY":
            return self._err(
                403,
                "unaudited_client_can_only_post_to_private_accounts",
                "Unaudited clients can only post to private accounts.",
            )
        title = info.get("title") or ""
        if photo:
            if len(title) > 90 or len(info.get("description") or "") > 4000:
                return self._err(400, "invalid_params", "title or description is too long")
        elif len(title.encode("utf-16-le")) // 2 > 2200:
            return self._err(400, "invalid_params", "title is too long")
        if self.comment_disabled and not info.get("disable_comment"):
            return self._err(
                400,
                "invalid_params",
                "disable_comment must be true: the creator turned comments off",
            )
        return None

    def _verified(self, url: Any) -> bool:
        return isinstance(url, str) and any(url.startswith(p) for p in self.verified_prefixes)

    @route("POST", r"/v2/post/publish/video/init/")
    def video_init(self, req: Recorded, match: re.Match[str]) -> Response:
        limited = self._limited("init")
        if limited:
            return limited
        body = req.json if isinstance(req.json, dict) else {}
        refused = self._check_post_info(body.get("post_info"), photo=False)
        if refused:
            return refused
        source = body.get("source_info") or {}
        publish_id = f"v_pub_file~v2-1.{next(self._ids)}"
        state: dict[str, Any] = {
            "post_info": body["post_info"],
            "status": "PROCESSING_UPLOAD",
            "polls": 0,
            "data": bytearray(),
            "media": "video",
        }
        data: dict[str, Any] = {"publish_id": publish_id}
        if source.get("source") == "FILE_UPLOAD":
            size, chunk, count = (
                source.get(k) for k in ("video_size", "chunk_size", "total_chunk_count")
            )
            if not all(isinstance(v, int) and v > 0 for v in (size, chunk, count)):
                return self._err(
                    400,
                    "invalid_params",
                    "video_size, chunk_size and total_chunk_count are required",
                )
            if size < 5 * MB:
                ok = chunk == size and count == 1
            else:
                ok = (
                    5 * MB <= chunk <= 64 * MB
                    and count == size // chunk
                    and size - (count - 1) * chunk <= 128 * MB
                )
            if not ok or count > 1000:
                return self._err(
                    400, "invalid_params", "chunk_size and total_chunk_count do not fit video_size"
                )
            token = secrets.token_urlsafe(10)
            state.update(size=size, chunk=chunk, count=count, token=token)
            data["upload_url"] = (
                f"{self.url}/upload/video/?upload_id={publish_id}&upload_token={token}"
            )
        elif source.get("source") == "PULL_FROM_URL":
            if not self._verified(source.get("video_url")):
                return self._err(
                    403,
                    "url_ownership_unverified",
                    "The video URL is not under a verified domain or prefix.",
                )
            state.update(status="PROCESSING_DOWNLOAD", url=source["video_url"])
        else:
            return self._err(
                400, "invalid_params", "source_info.source must be FILE_UPLOAD or PULL_FROM_URL"
            )
        with self._lock:
            self.publishes[publish_id] = state
        return self._answer(200, data)

    @route("POST", r"/v2/post/publish/content/init/")
    def content_init(self, req: Recorded, match: re.Match[str]) -> Response:
        limited = self._limited("init")
        if limited:
            return limited
        body = req.json if isinstance(req.json, dict) else {}
        if body.get("media_type") != "PHOTO" or body.get("post_mode") not in (
            "DIRECT_POST",
            "MEDIA_UPLOAD",
        ):
            return self._err(400, "invalid_params", "media_type PHOTO and post_mode are required")
        refused = self._check_post_info(body.get("post_info"), photo=True)
        if refused:
            return refused
        source = body.get("source_info") or {}
        images = source.get("photo_images")
        if (
            source.get("source") != "PULL_FROM_URL"
            or not isinstance(images, list)
            or not 1 <= len(images) <= 35
        ):
            return self._err(400, "invalid_params", "photo_images: 1 to 35 URLs, PULL_FROM_URL")
        if not all(self._verified(u) for u in images):
            return self._err(
                403, "url_ownership_unverified", "A photo URL is not under a verified prefix."
            )
        publish_id = f"p_pub_url~v2.{next(self._ids)}"
        with self._lock:
            self.publishes[publish_id] = {
                "post_info": body["post_info"],
                "status": "PROCESSING_DOWNLOAD",
                "polls": 0,
                "media": "photo",
                "images": images,
            }
        return self._answer(200, {"publish_id": publish_id})

    # -- upload ---------------------------------------------------------------------------

    @route("PUT", r"/upload/video/")
    def upload(self, req: Recorded, match: re.Match[str]) -> Response:
        publish_id = req.query.get("upload_id", "")
        with self._lock:
            state = self.publishes.get(publish_id)
        if state is None or state.get("token") != req.query.get("upload_token"):
            return self._err(404, "invalid_upload", "upload_url is not valid")
        ranged = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", req.headers.get("content-range", ""))
        if ranged is None:
            return self._err(400, "invalid_params", "Content-Range is required")
        if req.content_type not in ("video/mp4", "video/quicktime", "video/webm"):
            return self._err(400, "invalid_params", "Content-Type must be a video type")
        first, last, total = (int(g) for g in ranged.groups())
        if self.broken_from_chunk is not None and first // state["chunk"] >= self.broken_from_chunk:
            return self._err(500, "internal_error", "Something went wrong. Please try again later.")
        with self._lock:
            have = len(state["data"])
            index = first // state["chunk"]
            last_chunk = index == state["count"] - 1
            expected_end = state["size"] - 1 if last_chunk else first + state["chunk"] - 1
            if total != state["size"] or first % state["chunk"] or last != expected_end:
                return self._err(
                    400,
                    "invalid_params",
                    f"Content-Range {first}-{last}/{total} does not fit the chunks",
                )
            if first > have:
                return self._err(400, "invalid_params", "chunks must be sent in order")
            if len(req.body) != last - first + 1:
                return self._err(
                    400, "invalid_params", "the body is not as long as Content-Range says"
                )
            if first == have:
                state["data"] += req.body
            complete = len(state["data"]) == state["size"]
            if complete and state["status"] == "PROCESSING_UPLOAD":
                state["status"] = "UPLOADED"
        return Response(201 if complete else 206, b"")

    # -- status ---------------------------------------------------------------------------

    @route("POST", r"/v2/post/publish/status/fetch/")
    def status(self, req: Recorded, match: re.Match[str]) -> Response:
        limited = self._limited("status")
        if limited:
            return limited
        publish_id = (req.json or {}).get("publish_id") if isinstance(req.json, dict) else None
        with self._lock:
            state = self.publishes.get(str(publish_id))
            if state is None:
                return self._err(400, "invalid_publish_id", "publish_id does not exist")
            data: dict[str, Any] = {}
            if state["status"] in ("UPLOADED", "PROCESSING_DOWNLOAD"):
                state["polls"] += 1
                if state["polls"] >= self.polls_to_complete:
                    if self.fail_reason:
                        state["status"], state["fail_reason"] = "FAILED", self.fail_reason
                        self.fail_reason = None
                    else:
                        state["status"] = "PUBLISH_COMPLETE"
                        private = state["post_info"].get("privacy_level") == "SELF_ONLY"
                        post_id = str(next(self._ids))
                        state["post_id"] = None if private else post_id
                        self.record_post(
                            {
                                "id": post_id,
                                "publish_id": publish_id,
                                "media": state["media"],
                                "text": state["post_info"].get("title") or "",
                                "description": state["post_info"].get("description"),
                                "privacy_level": state["post_info"].get("privacy_level"),
                                "bytes": len(state.get("data", b"")),
                            }
                        )
            shown = state["status"]
            if shown == "UPLOADED":
                shown = "PROCESSING_UPLOAD"
            data["status"] = shown
            if "data" in state:
                data["uploaded_bytes"] = len(state["data"])
            if shown == "FAILED":
                data["fail_reason"] = state["fail_reason"]
            if shown == "PUBLISH_COMPLETE":
                data["publicaly_available_post_id"] = (
                    [int(state["post_id"])] if state["post_id"] else []
                )
        return self._answer(200, data)
