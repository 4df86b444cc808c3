"""A loopback YouTube Data API v3 server: resumable video uploads, thumbnails, playlists,
the channel's uploads playlist, quota and Google's error bodies.

What it copies from the documentation (developers.google.com/youtube/v3):

- `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` with the video
  resource as JSON, `X-Upload-Content-Length` and `X-Upload-Content-Type` (`video/*` or
  `application/octet-stream`) answers 200, empty, with the session URI in `Location`
  (guides/using_resumable_upload_protocol). Title at most 100 characters, description at most
  5,000 bytes, neither with `<` or `>` (400 `invalidTitle` / `invalidDescription`); privacy
  public, unlisted or private.
- `PUT <session>` with `Content-Range: bytes a-b/total`: the bytes must start where the
  server stands (a chunk that starts past it is refused: 400), be as long as the range says,
  and be a multiple of 262,144 bytes unless they end the file. Incomplete: `308` with
  `Range: bytes=0-N` (no `Range` before the first byte). Complete: `200` with the video
  resource; the video exists from then on (the oracle). `Content-Range: bytes */total` asks:
  308 with the range, or the final answer repeated. An expired session answers 404.
- `POST /upload/youtube/v3/thumbnails/set?videoId=` (image/jpeg or image/png body),
  `POST /youtube/v3/playlistItems?part=snippet`, `GET /youtube/v3/channels?part=contentDetails
  &mine=true` (-> `relatedPlaylists.uploads`), `GET /youtube/v3/playlistItems?part=snippet
  &playlistId=` (newest first, `maxResults` <= 50, `pageToken` / `nextPageToken`).
- Quota (determine_quota_cost): `videos.insert` has its own bucket (`upload_limit` a day,
  default 100), other calls spend units (`unit_limit`, default 10,000; thumbnails.set and
  playlistItems.insert 50, lists 1). Spent: 403 `{"error": {"code": 403, "message": ...,
  "errors": [{"domain": "youtube.quota", "reason": "quotaExceeded"}]}}`.
- A refused token: 401 with `reason: authError` (`status: UNAUTHENTICATED`).
"""

from __future__ import annotations

import itertools
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from .base import FakeServer, Recorded, Response, json_response, route

CHUNK_UNIT = 256 * 1024
UNIT_COST = {"thumbnails.set": 50, "playlistItems.insert": 50, "list": 1}


def google_error(code: int, reason: str, message: str, domain: str = "global") -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeYouTube(FakeServer):
    """One channel reachable with `token`; `videos` are what it holds (the oracle: `created`)."""

    def __init__(self, token: str = "yt-test-token") -> None:
        super().__init__(tokens=[token])
        self.token = token
        self.channel_id = "UCmarque0000000000000000"
        self.uploads_playlist = "UUmarque0000000000000000"
        self.playlists: dict[str, list[str]] = {"PLatelier0000000001": []}
        self.unit_limit = 10_000
        self.upload_limit = 100
        self.units = 0
        self.inserts = 0
        self.thumbnails: dict[str, bytes] = {}
        self.uploads: dict[str, dict[str, Any]] = {}  # session id -> state
        # (n, seconds): after storing the n-th chunk PUT (1-based, counting every chunk of
        # every session), wait `seconds` before answering: a test kills the client meanwhile.
        self.stall_chunk: tuple[int, float] | None = None
        self.chunk_puts = 0
        self._ids = itertools.count(1)

    # -- helpers for tests ----------------------------------------------------------------

    def add_video(self, title: str, description: str, *, at: float | None = None) -> str:
        """A video uploaded by hand on youtube.com."""
        with self._lock:
            return self._store({"title": title, "description": description}, at or self.now())["id"]

    def expire_sessions(self) -> None:
        with self._lock:
            for state in self.uploads.values():
                state["expired"] = True

    @property
    def received(self) -> dict[str, int]:
        with self._lock:
            return {sid: len(state["data"]) for sid, state in self.uploads.items()}

    # -- plumbing -------------------------------------------------------------------------

    def _err(self, code: int, reason: str, message: str, domain: str = "global") -> Response:
        return json_response(code, google_error(code, reason, message, domain))

    def process(self, req: Recorded) -> Response:
        if not self.auth_ok(req.headers):
            body = google_error(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
            body["error"]["status"] = "UNAUTHENTICATED"
            if self.echo_secrets:
                body["error"]["request"] = self.secret_dump(req)
            return json_response(401, body)
        return super().process(req)

    def _charge(self, units: int) -> Response | None:
        with self._lock:
            if self.units + units > self.unit_limit:
                self.units += 1  # every request costs at least one unit, refused or not
                return self._quota()
            self.units += units
        return None

    def _quota(self) -> Response:
        return self._err(
            403,
            "quotaExceeded",
            "The request cannot be completed because you have exceeded your "
            '<a href="/youtube/v3/getting-started#quota">quota</a>.',
            "youtube.quota",
        )

    def _store(self, snippet: dict[str, Any], at: float) -> dict[str, Any]:
        video_id = f"vid{next(self._ids):08d}"
        video = {
            "kind": "youtube#video",
            "id": video_id,
            "snippet": {
                "publishedAt": _iso(at),
                "channelId": self.channel_id,
                "title": snippet.get("title", ""),
                "description": snippet.get("description", ""),
                "tags": snippet.get("tags", []),
                "categoryId": snippet.get("categoryId", "22"),
            },
            "status": snippet.get("_status", {"privacyStatus": "public"}),
            "_at": at,
        }
        self.record_post(video)
        return video

    # -- the upload -----------------------------------------------------------------------

    @route("POST", r"/upload/youtube/v3/videos")
    def insert(self, req: Recorded, match: re.Match[str]) -> Response:
        if req.query.get("uploadType") != "resumable":
            return self._err(400, "badRequest", "uploadType must be resumable here")
        with self._lock:
            if self.inserts >= self.upload_limit:
                return self._quota()
            self.inserts += 1
        body = req.json if isinstance(req.json, dict) else None
        if body is None or "snippet" not in req.query.get("part", ""):
            return self._err(400, "badRequest", "a video resource with its snippet is required")
        snippet = body.get("snippet") or {}
        status = body.get("status") or {}
        title = snippet.get("title")
        description = snippet.get("description", "")
        if not isinstance(title, str) or not title or len(title) > 100 or re.search("[<>]", title):
            return self._err(
                400, "invalidTitle", "The request metadata specifies an invalid video title."
            )
        if len(description.encode()) > 5000 or re.search("[<>]", description):
            return self._err(
                400,
                "invalidDescription",
                "The request metadata specifies an invalid video description.",
            )
        if status.get("privacyStatus", "public") not in ("public", "unlisted", "private"):
            return self._err(400, "invalidVideoMetadata", "invalid privacyStatus")
        try:
            total = int(req.headers.get("x-upload-content-length", ""))
        except ValueError:
            return self._err(400, "badRequest", "X-Upload-Content-Length is required")
        kind = req.headers.get("x-upload-content-type", "")
        if not (kind.startswith("video/") or kind == "application/octet-stream"):
            return self._err(400, "badContent", "The video content type is not supported.")
        sid = secrets.token_urlsafe(12)
        with self._lock:
            self.uploads[sid] = {
                "total": total,
                "data": bytearray(),
                "snippet": {**snippet, "_status": status},
                "video": None,
                "expired": False,
            }
        location = f"{self.url}/upload/youtube/v3/videos?uploadType=resumable&upload_id={sid}"
        return Response(200, b"", {"Location": location, "X-GUploader-UploadID": sid})

    @route("PUT", r"/upload/youtube/v3/videos")
    def upload(self, req: Recorded, match: re.Match[str]) -> Response:
        sid = req.query.get("upload_id", "")
        with self._lock:
            state = self.uploads.get(sid)
        if state is None or state["expired"]:
            return self._err(404, "notFound", "The upload session was not found or has expired.")
        header = req.headers.get("content-range", "")
        query = re.fullmatch(r"bytes \*/(\d+)", header)
        if query:
            if int(query.group(1)) != state["total"]:
                return self._err(400, "badRequest", "Content-Range total does not match")
            return self._where(state)
        ranged = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", header)
        if ranged is None:
            return self._err(400, "badRequest", f"Content-Range is required (got {header!r})")
        first, last, total = (int(g) for g in ranged.groups())
        with self._lock:
            if state["video"] is not None:
                return json_response(200, self._public(state["video"]))
            have = len(state["data"])
            if total != state["total"] or last < first or last >= total:
                return self._err(400, "badRequest", "Content-Range does not fit the upload")
            if first > have:
                return self._err(
                    400, "badRequest", f"Content-Range starts at {first}, the server holds {have}"
                )
            if len(req.body) != last - first + 1:
                return self._err(400, "badRequest", "the body is not as long as Content-Range says")
            if last + 1 < total and len(req.body) % CHUNK_UNIT:
                return self._err(400, "badRequest", "chunks must be multiples of 262144 bytes")
            state["data"] += req.body[have - first :]
            self.chunk_puts += 1
            stall = self.stall_chunk is not None and self.stall_chunk[0] == self.chunk_puts
            if len(state["data"]) == total:
                state["video"] = self._store(state["snippet"], self.now())
        if stall and self.stall_chunk is not None:
            self._stop.wait(self.stall_chunk[1])
        return self._where(state)

    def _where(self, state: dict[str, Any]) -> Response:
        with self._lock:
            if state["video"] is not None:
                return json_response(200, self._public(state["video"]))
            have = len(state["data"])
        headers = {"Range": f"bytes=0-{have - 1}"} if have else {}
        return Response(308, b"", headers)

    @staticmethod
    def _public(video: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in video.items() if not k.startswith("_")}

    # -- after the upload -----------------------------------------------------------------

    @route("POST", r"/upload/youtube/v3/thumbnails/set")
    def thumbnail(self, req: Recorded, match: re.Match[str]) -> Response:
        refused = self._charge(UNIT_COST["thumbnails.set"])
        if refused:
            return refused
        video_id = req.query.get("videoId", "")
        if video_id not in {v["id"] for v in self.posts}:
            return self._err(404, "videoNotFound", "The video could not be found.")
        if req.content_type not in ("image/jpeg", "image/png") or not req.body:
            return self._err(400, "invalidImage", "The provided image content is invalid.")
        with self._lock:
            self.thumbnails[video_id] = req.body
        return json_response(
            200,
            {
                "kind": "youtube#thumbnailSetResponse",
                "items": [{"default": {"url": f"https://i.ytimg.com/vi/{video_id}/default.jpg"}}],
            },
        )

    @route("POST", r"/youtube/v3/playlistItems")
    def add_item(self, req: Recorded, match: re.Match[str]) -> Response:
        refused = self._charge(UNIT_COST["playlistItems.insert"])
        if refused:
            return refused
        snippet = (req.json or {}).get("snippet") or {}
        playlist = snippet.get("playlistId")
        video_id = (snippet.get("resourceId") or {}).get("videoId")
        with self._lock:
            if playlist not in self.playlists:
                return self._err(404, "playlistNotFound", "The playlist could not be found.")
            self.playlists[playlist].append(str(video_id))
        return json_response(200, {"kind": "youtube#playlistItem", "snippet": snippet})

    @route("GET", r"/youtube/v3/channels")
    def channels(self, req: Recorded, match: re.Match[str]) -> Response:
        refused = self._charge(UNIT_COST["list"])
        if refused:
            return refused
        return json_response(
            200,
            {
                "kind": "youtube#channelListResponse",
                "items": [
                    {
                        "id": self.channel_id,
                        "contentDetails": {"relatedPlaylists": {"uploads": self.uploads_playlist}},
                    }
                ],
            },
        )

    @route("GET", r"/youtube/v3/playlistItems")
    def list_items(self, req: Recorded, match: re.Match[str]) -> Response:
        refused = self._charge(UNIT_COST["list"])
        if refused:
            return refused
        if req.query.get("playlistId") != self.uploads_playlist:
            return self._err(404, "playlistNotFound", "The playlist could not be found.")
        size = int(req.query.get("maxResults", "5"))
        if not 0 <= size <= 50:
            return self._err(400, "invalidValue", "maxResults must be 0-50")
        videos = sorted(self.posts, key=lambda v: -v["_at"])
        start = int(req.query.get("pageToken") or 0)
        page = videos[start : start + size]
        body: dict[str, Any] = {
            "kind": "youtube#playlistItemListResponse",
            "items": [
                {
                    "kind": "youtube#playlistItem",
                    "snippet": {
                        "publishedAt": v["snippet"]["publishedAt"],
                        "title": v["snippet"]["title"],
                        "description": v["snippet"]["description"],
                        "playlistId": self.uploads_playlist,
                        "resourceId": {"kind": "youtube#video", "videoId": v["id"]},
                    },
                }
                for v in page
            ],
            "pageInfo": {"totalResults": len(videos), "resultsPerPage": size},
        }
        if start + size < len(videos):
            body["nextPageToken"] = str(start + size)
        return json_response(200, body)
