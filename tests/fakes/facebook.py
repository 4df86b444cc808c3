"""A loopback Facebook Page (Graph API) after developers.facebook.com/docs/pages-api/posts,
`graph-api/reference/page/feed` and `graph-api/reference/page/photos`.

- `POST /{page-id}/feed` with `message`, `link`, `attached_media[i]={"media_fbid": id}` (ids of
  this Page's unpublished photos; each may be attached once) → `{"id": "<page>_<post>"}`.
  The same message again within `duplicate_window` seconds → `(#506) Duplicate status message`
  (facebook-csharp-sdk#119).
- `POST /{page-id}/photos` multipart with the file in `source` (or a `url`), `message`,
  `alt_text_custom`, `published`: published → `{"id": photo, "post_id": post}`; unpublished →
  `{"id": photo}`, no post.
- `GET /{page-id}/feed?fields=id,message,created_time,permalink_url` newest first, paged.
- `GET /{page-post-id}?fields=...` one post; `POST /{page-post-id}` with `message` updates
  its text (pages-api/posts "Update a post") → `{"success": true}`. An unknown or deleted
  post: HTTP 400, `(#100)` GraphMethodException with subcode 33 ("Object with ID ... does not
  exist, cannot be loaded due to missing permissions, or does not support this operation").
- Page tokens count against Business Use Case limits: `X-Business-Use-Case-Usage`; a
  throttled Page answers `(#32) Page request limit reached`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .base import Recorded, Response, json_response, route
from .graph import VERSION_RE, FakeGraph, graph_error, graph_time

FEED_FIELDS = ("id", "message", "created_time", "permalink_url", "attachments", "link")


class FakeFacebook(FakeGraph):
    """One Facebook Page (`page_id`) managed with the Page token `token`."""

    usage_header = "X-Business-Use-Case-Usage"
    buc_type = "pages"
    throttle_code = 32
    throttle_message = "(#32) Page request limit reached"

    def __init__(self, token: str, page_id: str = "104857600000001") -> None:
        super().__init__(token)
        self.page_id = page_id
        self.duplicate_window = 3600.0
        self.photos: dict[str, dict[str, Any]] = {}
        self.feed: list[dict[str, Any]] = []  # newest last
        self.edits: list[dict[str, Any]] = []  # every applied update: {"id", "text"}

    def _page(self, match: re.Match[str]) -> Response | None:
        if match.group("page") != self.page_id:
            return self.not_found_for(match.group("page"))
        return None

    def not_found_for(self, ident: str) -> Response:
        return graph_error(
            400,
            100,
            f"Unsupported post request. Object with ID '{ident}' does not exist",
            type_="GraphMethodException",
            subcode=33,
        )

    def _new_post(self, message: str, **extra: Any) -> dict[str, Any]:
        post_id = f"{self.page_id}_{self.new_id()}"
        post = {
            "id": post_id,
            "message": message,
            "created_time": graph_time(self.now()),
            "permalink_url": f"https://www.facebook.com/{post_id}",
            **extra,
        }
        with self._lock:
            self.feed.append(post)
        self.record_post(post)
        return post

    def _duplicate(self, message: str) -> bool:
        now = self.now()
        with self._lock:
            recent = list(self.feed)
        return bool(message) and any(
            p["message"] == message and now - p["_at"] < self.duplicate_window
            for p in recent
            if "_at" in p
        )

    @route("POST", VERSION_RE + r"/(?P<page>[^/]+)/feed")
    def post_feed(self, req: Recorded, match: re.Match[str]) -> Response:
        wrong = self._page(match)
        if wrong:
            return wrong
        message = req.form.get("message", "")
        link = req.form.get("link")
        attached: list[str] = []
        for key in sorted(k for k in req.form if k.startswith("attached_media[")):
            try:
                value = json.loads(req.form[key])
                fbid = str(value["media_fbid"])
            except (ValueError, KeyError, TypeError):
                return self.param_error(f"Param {key} must be a JSON object with media_fbid")
            photo = self.photos.get(fbid)
            if photo is None or photo["published"] or photo.get("attached"):
                return self.param_error(f"Invalid media_fbid {fbid}", subcode=1366046)
            attached.append(fbid)
        if not message and not link and not attached:
            return self.param_error("The parameter message, link or attached_media is required")
        if self._duplicate(message):
            return graph_error(400, 506, "(#506) Duplicate status message")
        for fbid in attached:
            self.photos[fbid]["attached"] = True
        extra: dict[str, Any] = {"_at": self.now()}
        if link:
            extra["link"] = link
        if attached:
            extra["attachments"] = [
                {"media_fbid": f, "alt_text": self.photos[f].get("alt")} for f in attached
            ]
        post = self._new_post(message, **extra)
        return json_response(200, {"id": post["id"]})

    @route("POST", VERSION_RE + r"/(?P<page>[^/]+)/photos")
    def post_photo(self, req: Recorded, match: re.Match[str]) -> Response:
        wrong = self._page(match)
        if wrong:
            return wrong
        source = req.files.get("source")
        if source is None and not req.form.get("url"):
            return self.param_error("Requires upload file", subcode=None)
        if source is not None and not source.data.startswith(
            (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF")
        ):
            return graph_error(
                400, 324, "(#324) Requires upload file: the file is not a valid image"
            )
        published = req.form.get("published", "true").lower() != "false"
        photo_id = self.new_id()
        photo = {
            "id": photo_id,
            "published": published,
            "alt": req.form.get("alt_text_custom"),
            "bytes": source.data if source else b"",
        }
        with self._lock:
            self.photos[photo_id] = photo
        if not published:
            return json_response(200, {"id": photo_id})
        message = req.form.get("message", "")
        if self._duplicate(message):
            return graph_error(400, 506, "(#506) Duplicate status message")
        post = self._new_post(
            message,
            _at=self.now(),
            attachments=[{"media_fbid": photo_id, "alt_text": photo["alt"]}],
        )
        return json_response(200, {"id": photo_id, "post_id": post["id"]})

    @route("GET", VERSION_RE + r"/(?P<page>[^/]+)/feed")
    def get_feed(self, req: Recorded, match: re.Match[str]) -> Response:
        wrong = self._page(match)
        if wrong:
            return wrong
        with self._lock:
            items = [p for p in reversed(self.feed) if not p.get("_deleted")]
        return self.page_of(req, req.path, items, FEED_FIELDS)

    def _post(self, ident: str) -> dict[str, Any] | None:
        with self._lock:
            for post in self.feed:
                if post["id"] == ident and not post.get("_deleted"):
                    return post
        return None

    def delete(self, post_id: str) -> None:
        """Delete a post from the Page (by hand on facebook.com)."""
        with self._lock:
            for post in self.feed:
                if post["id"] == post_id:
                    post["_deleted"] = True

    def unknown_object(self, method: str, ident: str) -> Response:
        return graph_error(
            400,
            100,
            f"Unsupported {method} request. Object with ID '{ident}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation. Please "
            "read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
            type_="GraphMethodException",
            subcode=33,
        )

    @route("GET", VERSION_RE + r"/(?P<post>[0-9]+_[0-9]+)")
    def get_post(self, req: Recorded, match: re.Match[str]) -> Response:
        post = self._post(match.group("post"))
        if post is None:
            return self.unknown_object("get", match.group("post"))
        wanted = [f for f in req.query.get("fields", "id").split(",") if f]
        unknown = [f for f in wanted if f not in FEED_FIELDS]
        if unknown:
            return self.param_error(f"Tried accessing nonexisting field ({unknown[0]})")
        with self._lock:
            return json_response(200, {k: post[k] for k in ["id", *wanted] if k in post})

    @route("POST", VERSION_RE + r"/(?P<post>[0-9]+_[0-9]+)")
    def update_post(self, req: Recorded, match: re.Match[str]) -> Response:
        post = self._post(match.group("post"))
        if post is None:
            return self.unknown_object("post", match.group("post"))
        if "message" not in req.form:
            return self.param_error("The parameter message is required to update a post")
        message = req.form["message"]
        with self._lock:
            post["message"] = message
            post["updated_time"] = graph_time(self.now())
            self.edits.append({"id": post["id"], "text": message})
        return json_response(200, {"success": True})

    @property
    def unpublished_photos(self) -> int:
        with self._lock:
            return sum(1 for p in self.photos.values() if not p["published"])
