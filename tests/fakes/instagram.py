"""A loopback Instagram Graph API (professional account) after
developers.facebook.com/docs/instagram-platform/content-publishing/ and
`instagram-graph-api/reference/ig-container`, `ig-user/media`, `ig-user/media_publish`.

- `POST /{ig-user-id}/media` creates a container: `image_url` (+ `caption`, `alt_text`), or
  `is_carousel_item=true` with `image_url` (+ `alt_text`), or `media_type=CAROUSEL` with
  `children` (2 to 10 carousel-item container ids) and `caption`. Answer `{"id": container}`.
- The fake then fetches `image_url` over loopback, as Instagram cURLs it: the container goes
  IN_PROGRESS → FINISHED, or ERROR when the URL does not answer 200 with a JPEG (Instagram
  takes JPEG only: error 2207009 "unsupported format").
- `GET /{container-id}?fields=status_code` → IN_PROGRESS, FINISHED, ERROR, EXPIRED, PUBLISHED.
- `POST /{ig-user-id}/media_publish` with `creation_id`: a FINISHED container becomes a media
  (the post); an unfinished one is refused with code 9007 / subcode 2207027 ("Media ID is not
  available"); a published one cannot be published again.
- `GET /{ig-user-id}/media?fields=id,caption,timestamp,permalink` newest first, paged.
- Business Use Case limits: `X-Business-Use-Case-Usage` (type `instagram`); throttled answers
  code 80002 ("There have been too many calls to this Instagram account").
"""

from __future__ import annotations

import re
from typing import Any

from .base import Recorded, Response, json_response, route
from .graph import VERSION_RE, ContainerProcessing, FakeGraph, graph_error, graph_time, image_check

CAPTION_LIMIT = 2200
MEDIA_FIELDS = ("id", "caption", "timestamp", "permalink", "media_type", "children")


class FakeInstagram(FakeGraph):
    """One Instagram professional account (`user_id`) with the token `token`."""

    usage_header = "X-Business-Use-Case-Usage"
    buc_type = "instagram"
    throttle_code = 80002
    throttle_message = "There have been too many calls to this Instagram account. Wait a bit."

    def __init__(self, token: str, user_id: str = "17841400000000001") -> None:
        super().__init__(token)
        self.user_id = user_id
        self.containers = ContainerProcessing(self, "status_code")
        self.media: list[dict[str, Any]] = []  # newest last

    def _user(self, match: re.Match[str]) -> Response | None:
        if match.group("user") != self.user_id:
            return graph_error(
                400, 100, "Object does not exist", type_="GraphMethodException", subcode=33
            )
        return None

    @route("POST", VERSION_RE + r"/(?P<user>\d+)/media")
    def create(self, req: Recorded, match: re.Match[str]) -> Response:
        wrong = self._user(match)
        if wrong:
            return wrong
        form = req.form
        caption = form.get("caption", "")
        if len(caption) > CAPTION_LIMIT:
            return self.param_error("The caption is too long", subcode=2207035)
        fields: dict[str, Any] = {"owner": self.user_id, "caption": caption}
        media_type = form.get("media_type", "IMAGE")
        if media_type == "CAROUSEL":
            children = [c for c in form.get("children", "").split(",") if c]
            if not 2 <= len(children) <= 10:
                return self.param_error("A carousel takes 2 to 10 children", subcode=2207026)
            for child in children:
                c = self.containers.get(child)
                if c is None or not c.get("is_carousel_item") or c["owner"] != self.user_id:
                    return self.param_error(f"Invalid carousel child {child}")
            fields.update(media_type="CAROUSEL", children_ids=children)
            container = self.containers.create(fields, None)
        elif media_type == "IMAGE":
            url = form.get("image_url")
            if not url:
                return self.param_error("The parameter image_url is required")
            fields.update(
                media_type="IMAGE",
                image_url=url,
                alt_text=form.get("alt_text"),
                is_carousel_item=form.get("is_carousel_item") == "true",
            )
            container = self.containers.create(fields, image_check(("image/jpeg",)))
        else:
            return self.param_error(f"media_type {media_type} is not handled by this fake")
        return json_response(200, {"id": container["id"]})

    @route("POST", VERSION_RE + r"/(?P<user>\d+)/media_publish")
    def publish(self, req: Recorded, match: re.Match[str]) -> Response:
        wrong = self._user(match)
        if wrong:
            return wrong
        ident = req.form.get("creation_id", "")
        container = self.containers.get(ident)
        if container is None or container["owner"] != self.user_id:
            return self.param_error(f"Invalid creation_id {ident}")
        status = container["status_code"]
        if status == "IN_PROGRESS":
            return graph_error(
                400, 9007, "Media ID is not available", subcode=2207027, type_="OAuthException"
            )
        if status != "FINISHED":
            return graph_error(
                400,
                9004 if status == "ERROR" else 100,
                f"The container cannot be published ({status})",
                type_="OAuthException",
                subcode=2207032 if status == "EXPIRED" else 2207001,
            )
        media_id = self.new_id()
        children = [self.containers.get(c) or {} for c in container.get("children_ids") or []]
        media = {
            "id": media_id,
            "caption": container.get("caption", ""),
            "timestamp": graph_time(self.now()),
            "permalink": f"https://www.instagram.com/p/{media_id[-10:]}/",
            "media_type": container["media_type"] if children else "IMAGE",
            "container": ident,
            "alt_text": [c.get("alt_text") for c in children]
            if children
            else [container.get("alt_text")],
            "image_urls": [c.get("image_url") for c in children]
            if children
            else [container.get("image_url")],
        }
        self.containers.set_status(ident, "PUBLISHED")
        with self._lock:
            self.media.append(media)
        self.record_post(media)
        return json_response(200, {"id": media_id})

    @route("GET", VERSION_RE + r"/(?P<user>\d+)/media")
    def list_media(self, req: Recorded, match: re.Match[str]) -> Response:
        wrong = self._user(match)
        if wrong:
            return wrong
        with self._lock:
            items = list(reversed(self.media))
        return self.page_of(req, req.path, items, MEDIA_FIELDS)

    @route("GET", VERSION_RE + r"/(?P<ident>\d+)")
    def get_object(self, req: Recorded, match: re.Match[str]) -> Response:
        ident = match.group("ident")
        container = self.containers.get(ident)
        fields = [f for f in req.query.get("fields", "id").split(",") if f]
        if container is not None:
            body = {"id": ident}
            for f in fields:
                if f == "status_code":
                    body[f] = container["status_code"]
                elif f == "status":
                    err = container.get("error_message")
                    body[f] = f"{container['status_code']}" + (f": {err}" if err else "")
                elif f != "id":
                    return self.param_error(f"Tried accessing nonexisting field ({f})")
            return json_response(200, body)
        with self._lock:
            media = next((m for m in self.media if m["id"] == ident), None)
        if media is None:
            return self.not_found(req)
        return json_response(200, {f: media[f] for f in ["id", *fields] if f in media})

    def expire(self, container_id: str) -> None:
        """The container was not published within 24 hours."""
        self.containers.set_status(container_id, "EXPIRED")
