"""A loopback Threads API after developers.facebook.com/documentation/threads/posts,
`threads/reference/publishing`, `threads/troubleshooting` and `create-replies`.

- `POST /{threads-user-id}/threads`: `media_type` TEXT (`text` required), IMAGE (`image_url`
  required, optional `text`, `alt_text`), or CAROUSEL (`children`: 2 to 20 carousel items);
  `is_carousel_item=true` for the items; `reply_to_id` replies to a published post of the
  account. Text over 500 characters, emoji counted as their UTF-8 bytes ("Emojis are counted
  as the number of UTF-8 bytes"), is refused.
- Images are fetched from `image_url` over loopback (JPEG or PNG), so a container goes
  IN_PROGRESS → FINISHED or ERROR (`error_message`).
- `GET /{container-id}?fields=status,error_message`; `POST /{threads-user-id}/threads_publish`
  with `creation_id` → `{"id": media}`; a container publishes once.
- `GET /{threads-user-id}/threads` (posts) and `/replies` (replies), newest first, paged;
  `GET /{media-id}?fields=permalink,text,...`.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from .base import Recorded, Response, json_response, route
from .graph import VERSION_RE, ContainerProcessing, FakeGraph, graph_error, graph_time, image_check

_regex: Any = importlib.import_module("regex")
TEXT_LIMIT = 500
THREAD_FIELDS = ("id", "text", "timestamp", "permalink", "media_type", "replied_to", "is_reply")
_EMOJI = _regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")


def threads_length(text: str) -> int:
    """Threads' count: one per character, an emoji (grapheme) counts its UTF-8 bytes."""
    total = 0
    for g in _regex.findall(r"\X", text):
        if _EMOJI.search(g):
            total += len(g.encode("utf-8"))
        else:
            total += len(g)
    return total


class FakeThreads(FakeGraph):
    """One Threads account (`user_id`) with the token `token`."""

    throttle_code = 4
    throttle_message = "(#4) Application request limit reached"

    def __init__(self, token: str, user_id: str = "25123456789012345") -> None:
        super().__init__(token)
        self.user_id = user_id
        self.containers = ContainerProcessing(self, "status")
        self.media: list[dict[str, Any]] = []  # newest last

    def _user(self, match: re.Match[str]) -> Response | None:
        if match.group("user") not in (self.user_id, "me"):
            return graph_error(
                400, 100, "Object does not exist", type_="THApiException", subcode=33
            )
        return None

    def _media(self, ident: str) -> dict[str, Any] | None:
        with self._lock:
            return next((m for m in self.media if m["id"] == ident), None)

    @route("POST", VERSION_RE + r"/(?P<user>\w+)/threads")
    def create(self, req: Recorded, match: re.Match[str]) -> Response:
        wrong = self._user(match)
        if wrong:
            return wrong
        form = req.form
        media_type = form.get("media_type")
        text = form.get("text", "")
        if threads_length(text) > TEXT_LIMIT:
            return self.param_error(
                f"The text is too long: {threads_length(text)} > {TEXT_LIMIT}", subcode=4279009
            )
        reply_to = form.get("reply_to_id")
        if reply_to and self._media(reply_to) is None:
            return self.param_error(f"reply_to_id {reply_to} is not a post", subcode=4279010)
        fields: dict[str, Any] = {
            "owner": self.user_id,
            "text": text,
            "reply_to_id": reply_to,
            "is_carousel_item": form.get("is_carousel_item") == "true",
        }
        if media_type == "TEXT":
            if not text:
                return self.param_error("The parameter text is required for TEXT")
            if form.get("alt_text"):
                # threads/posts/accessibility: "isn't available for text-only posts".
                return self.param_error("alt_text is only for images and videos")
            fields["media_type"] = "TEXT"
            container = self.containers.create(fields, None)
        elif media_type == "IMAGE":
            if not form.get("image_url"):
                return self.param_error("The parameter image_url is required for IMAGE")
            fields.update(
                media_type="IMAGE", image_url=form["image_url"], alt_text=form.get("alt_text")
            )
            container = self.containers.create(fields, image_check(("image/jpeg", "image/png")))
        elif media_type == "CAROUSEL":
            children = [c for c in form.get("children", "").split(",") if c]
            if not 2 <= len(children) <= 20:
                return self.param_error("A carousel takes 2 to 20 children")
            for child in children:
                c = self.containers.get(child)
                if c is None or not c.get("is_carousel_item"):
                    return self.param_error(f"Invalid carousel child {child}")
            fields.update(media_type="CAROUSEL", children_ids=children)
            container = self.containers.create(fields, None)
        else:
            return self.param_error("media_type must be TEXT, IMAGE, VIDEO or CAROUSEL")
        return json_response(200, {"id": container["id"]})

    @route("POST", VERSION_RE + r"/(?P<user>\w+)/threads_publish")
    def publish(self, req: Recorded, match: re.Match[str]) -> Response:
        wrong = self._user(match)
        if wrong:
            return wrong
        ident = req.form.get("creation_id", "")
        container = self.containers.get(ident)
        if container is None:
            return self.param_error(f"Invalid creation_id {ident}")
        if container["status"] != "FINISHED":
            return graph_error(
                400,
                24,
                f"The media is not ready to be published ({container['status']})",
                type_="THApiException",
                subcode=4279001,
            )
        media_id = self.new_id()
        children = [self.containers.get(c) or {} for c in container.get("children_ids") or []]
        items = children or [container]
        media = {
            "id": media_id,
            "text": container.get("text", ""),
            "timestamp": graph_time(self.now()),
            "permalink": f"https://www.threads.com/@marque/post/{media_id[-11:]}",
            "media_type": {"TEXT": "TEXT_POST", "IMAGE": "IMAGE", "CAROUSEL": "CAROUSEL_ALBUM"}[
                container["media_type"]
            ],
            "replied_to": container.get("reply_to_id"),
            "is_reply": bool(container.get("reply_to_id")),
            "container": ident,
            "alt_text": [c.get("alt_text") for c in items if c.get("image_url")],
            "image_urls": [c.get("image_url") for c in items if c.get("image_url")],
        }
        self.containers.set_status(ident, "PUBLISHED")
        with self._lock:
            self.media.append(media)
        self.record_post(media)
        return json_response(200, {"id": media_id})

    @route("GET", VERSION_RE + r"/(?P<user>\w+)/(?P<edge>threads|replies)")
    def list_posts(self, req: Recorded, match: re.Match[str]) -> Response:
        wrong = self._user(match)
        if wrong:
            return wrong
        replies = match.group("edge") == "replies"
        with self._lock:
            items = [m for m in reversed(self.media) if m["is_reply"] == replies]
        return self.page_of(req, req.path, items, THREAD_FIELDS)

    @route("GET", VERSION_RE + r"/(?P<ident>\d+)")
    def get_object(self, req: Recorded, match: re.Match[str]) -> Response:
        ident = match.group("ident")
        fields = [f for f in req.query.get("fields", "id").split(",") if f]
        container = self.containers.get(ident)
        if container is not None:
            body: dict[str, Any] = {"id": ident}
            for f in fields:
                if f == "status":
                    body[f] = container["status"]
                elif f == "error_message":
                    if container.get("error_message"):
                        body[f] = container["error_message"]
                elif f != "id":
                    return self.param_error(f"Tried accessing nonexisting field ({f})")
            return json_response(200, body)
        media = self._media(ident)
        if media is None:
            return self.not_found(req)
        return json_response(200, {f: media[f] for f in ["id", *fields] if f in media})

    def expire(self, container_id: str) -> None:
        self.containers.set_status(container_id, "EXPIRED")
