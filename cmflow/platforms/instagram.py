"""Instagram (Graph API, professional accounts): images and carousels, exactly once.

Channel settings: `user_id` (the Instagram professional account id), `token_env` (a token with
`instagram_basic` and `instagram_content_publish`), optional `media_base_url` and `base_url`
(default `https://graph.facebook.com/v25.0`).

Shape of the calls (developers.facebook.com/docs/instagram-platform/content-publishing/):

1. `POST /{ig-user-id}/media` with `image_url`, `caption` and `alt_text` creates a container.
   "We cURL media used in publishing attempts, so the media must be hosted on a publicly
   accessible server at the time of the attempt": cmflow gives the URL under the channel's
   `media_base_url`, else the copy the site (feed channel with `site_url`) publishes, and
   checks that it answers 200 with `image/jpeg` before creating anything (Instagram takes
   JPEG only: error 2207004/2207009 in `instagram-graph-api/reference/error-codes`).
   `alt_text` on image posts exists since 2025-03-24 (same page).
2. A carousel (up to 10 images) is one container per image with `is_carousel_item=true`, then
   a `media_type=CAROUSEL` container with `children` (comma-separated ids) and the caption.
3. `GET /{container-id}?fields=status_code` until FINISHED (IN_PROGRESS before; ERROR,
   EXPIRED after 24 h, PUBLISHED: `reference/ig-container`), then
   `POST /{ig-user-id}/media_publish` with `creation_id` gives the media id.

Reconciliation lists `GET /{ig-user-id}/media?fields=id,caption,timestamp,permalink` and
matches the caption's hash (see `graph.py`, `containers.py`).
"""

from __future__ import annotations

from typing import ClassVar

from cmflow.i18n import _
from cmflow.model import Part, Rendered
from cmflow.platforms.base import Outcome
from cmflow.platforms.containers import ContainerAdapter, Image
from cmflow.platforms.graph import Halt
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token

MAX_CAROUSEL = 10  # content-publishing: "Carousels are limited to 10 images, videos, or a mix"
MIB = 1024 * 1024
GRAPH_ID = r"[0-9]+"

SPEC = PlatformSpec(
    name="instagram",
    label="Instagram",
    counter="chars",
    defaults={
        "max_length": 2200,
        "max_hashtags": 30,
        "max_media": MAX_CAROUSEL,
        "media_types": ["image/jpeg"],  # cmflow publishes JPEG images only
        "max_media_bytes": 8 * MIB,
        "require_media": True,
        # Reels, checked once `video/mp4` is in media_types (instagram-platform
        # content-publishing, "Reel specifications"): MOV or MP4, HEVC or H.264, 3 s to 15 min,
        # at most 300 MB, 9:16 recommended.
        "max_video_bytes": 300 * MIB,
        "min_video_seconds": 3,
        "max_video_seconds": 900,
        "video_codecs": ["h264", "hevc"],
        "video_aspect": "9:16",
    },
    keys=(
        ConnKey(
            "user_id",
            "Instagram professional account id",
            alt_kinds=("int",),
            required=True,
            pattern=GRAPH_ID,
            shape="a numeric account id",
        ),
        token(),
        ConnKey(
            "media_base_url",
            "public URL where media/ is served (Instagram fetches images from it; without "
            "it, from the site of a feed channel with site_url)",
            url=True,
        ),
    ),
    capabilities=caps(Capability.ALT_TEXT, Capability.PUBLIC_MEDIA, Capability.RECONCILES),
    default_base_url="https://graph.facebook.com/v25.0",
    source="instagram-platform content-publishing; error 2207004 (8 MiB JPEG)",
)


class Adapter(ContainerAdapter):
    """Publishes one post (a caption with 1-10 JPEG images) to an Instagram account."""

    label: ClassVar[str] = "Instagram"
    create_path: ClassVar[str] = "media"

    @staticmethod
    def credential_help() -> str:
        return _(
            "create a new token with instagram_basic and instagram_content_publish for the "
            "Instagram professional account and store it in that secret"
        )

    publish_path: ClassVar[str] = "media_publish"
    status_field: ClassVar[str] = "status_code"
    text_field: ClassVar[str] = "caption"
    image_types: ClassVar[tuple[str, ...]] = ("image/jpeg",)
    max_images: ClassVar[int] = MAX_CAROUSEL

    def texts(self, rendered: Rendered) -> list[str]:
        # Instagram has no threads: one caption.
        return ["\n\n".join(p.text for p in rendered.parts)]

    def check(self, rendered: Rendered) -> None:
        if not any(p.media for p in rendered.parts):
            raise Halt(
                Outcome.FAILED,
                _(
                    "Instagram posts need at least one image (text-only posts do not exist "
                    "there): add `media` to the post"
                ),
            )
        texts = self.texts(rendered)
        self._check_files([self.part_at(rendered, 0, texts[0])])

    def part_at(self, rendered: Rendered, index: int, text: str) -> Part:
        return Part(text, [m for p in rendered.parts for m in p.media])

    def single_fields(self, text: str, image: Image | None, reply_to: str | None) -> dict[str, str]:
        assert image is not None  # check() requires an image
        fields = {"image_url": image.url, "caption": text}
        if image.alt:
            fields["alt_text"] = image.alt
        return fields

    def child_fields(self, image: Image) -> dict[str, str]:
        fields = {"image_url": image.url, "is_carousel_item": "true"}
        if image.alt:
            fields["alt_text"] = image.alt
        return fields

    def carousel_fields(
        self, text: str, children: list[str], reply_to: str | None
    ) -> dict[str, str]:
        return {"media_type": "CAROUSEL", "children": ",".join(children), "caption": text}
