"""Threads (Meta): text, image and carousel posts, and threads of replies, exactly once.

Channel settings: `user_id` (the Threads user id), `token_env` (a token with `threads_basic`
and `threads_content_publish`), optional `media_base_url` and `base_url` (default
`https://graph.threads.net/v1.0`).

Shape of the calls (developers.facebook.com/documentation/threads/posts,
`threads/reference/publishing`):

1. `POST /{threads-user-id}/threads` with `media_type` TEXT (with `text`), IMAGE (with
   `image_url`, optional `text` and `alt_text`: `threads/posts/accessibility`, "for images
   and videos only", so never on TEXT) or, after one IMAGE container per picture
   with `is_carousel_item=true`, CAROUSEL (with `children`). "Threads retrieves your image
   from the URL provided, so it must be on a public server": the same URL rules as Instagram
   (`media_base_url`, else the site's copy), checked before anything is created.
2. Each later part of a thread is a reply: `reply_to_id` is the previous part's media id
   (`threads/retrieve-and-manage-replies/create-replies`).
3. `GET /{container-id}?fields=status,error_message` until FINISHED (`threads/troubleshooting`:
   IN_PROGRESS, FINISHED, PUBLISHED, ERROR, EXPIRED), then
   `POST /{threads-user-id}/threads_publish` with `creation_id` gives the media id.

Text is limited to 500 characters with emoji counted as their UTF-8 bytes ("Emojis are
counted as the number of UTF-8 bytes", posts page): `cmflow validate` counts it that way
(`counting.count_threads`). Reconciliation lists `/{threads-user-id}/threads` (first part)
or `/{threads-user-id}/replies` (later parts) and matches the text's hash.
"""

from __future__ import annotations

from typing import ClassVar

from cmflow.i18n import _
from cmflow.model import Rendered
from cmflow.platforms.containers import ContainerAdapter, Image
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token

MAX_CAROUSEL = 20  # threads/posts: a carousel holds 2 to 20 images or videos
IMAGE_TYPES = ("image/jpeg", "image/png")
GRAPH_ID = r"[0-9]+"

SPEC = PlatformSpec(
    name="threads",
    label="Threads",
    counter="threads",
    defaults={"max_length": 500, "max_media": MAX_CAROUSEL, "media_types": list(IMAGE_TYPES)},
    keys=(
        ConnKey(
            "user_id",
            "Threads user id",
            alt_kinds=("int",),
            required=True,
            pattern=GRAPH_ID,
            shape="a numeric user id",
        ),
        token(),
        ConnKey(
            "media_base_url",
            "public URL where media/ is served (Threads fetches images from it; without "
            "it, from the site of a feed channel with site_url)",
            url=True,
        ),
    ),
    capabilities=caps(
        Capability.THREADS, Capability.ALT_TEXT, Capability.PUBLIC_MEDIA, Capability.RECONCILES
    ),
    default_base_url="https://graph.threads.net/v1.0",
    source="developers.facebook.com/documentation/threads/posts",
)


class Adapter(ContainerAdapter):
    """Publishes a post (or a thread of replies) to a Threads account."""

    label: ClassVar[str] = "Threads"

    @staticmethod
    def credential_help() -> str:
        return _(
            "create a new long-lived Threads token with threads_basic and "
            "threads_content_publish (they expire after 60 days unless refreshed) and store it "
            "in that secret"
        )

    create_path: ClassVar[str] = "threads"
    publish_path: ClassVar[str] = "threads_publish"
    status_field: ClassVar[str] = "status"
    text_field: ClassVar[str] = "text"
    image_types: ClassVar[tuple[str, ...]] = IMAGE_TYPES
    max_images: ClassVar[int] = MAX_CAROUSEL

    def check(self, rendered: Rendered) -> None:
        self._check_files(rendered.parts)

    def list_path(self, index: int) -> str:
        return f"{self.user_id}/{'threads' if index == 0 else 'replies'}"

    def single_fields(self, text: str, image: Image | None, reply_to: str | None) -> dict[str, str]:
        if image is None:
            fields = {"media_type": "TEXT", "text": text}
        else:
            fields = {"media_type": "IMAGE", "image_url": image.url}
            if text:
                fields["text"] = text
            if image.alt:
                fields["alt_text"] = image.alt
        if reply_to:
            fields["reply_to_id"] = reply_to
        return fields

    def child_fields(self, image: Image) -> dict[str, str]:
        fields = {"media_type": "IMAGE", "image_url": image.url, "is_carousel_item": "true"}
        if image.alt:
            fields["alt_text"] = image.alt
        return fields

    def carousel_fields(
        self, text: str, children: list[str], reply_to: str | None
    ) -> dict[str, str]:
        fields = {"media_type": "CAROUSEL", "children": ",".join(children)}
        if text:
            fields["text"] = text
        if reply_to:
            fields["reply_to_id"] = reply_to
        return fields
