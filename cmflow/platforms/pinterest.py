"""Pinterest, through API v5 (`pinterest/api-description` v5/openapi.yaml).

Why the code has this shape:

- A post is one Pin on the channel's board: `POST /v5/pins` with `board_id`, `title` (≤ 100),
  `description` (≤ 800: the post's text), `link` (≤ 2048) and `alt_text` (≤ 500).
  The link is the first link of the text, UTM parameters included (`render` adds them), else
  the post's page on the brand's site (tagged the same way).
- The image: `media_source` `image_url` when the channel sets `media_base_url` (Pinterest
  fetches it from there), else `image_base64` (JPEG or PNG only, per `PinCreate`). Not the
  site channel's copy: it goes live only once this run's commit is deployed, after the Pin.
- A video Pin (a video in `media`, with an optional image as its cover) goes through the
  media upload flow: `POST /v5/media {media_type: video}` gives an upload URL and
  parameters; the file is POSTed there (multipart, every parameter, then `file`); `GET
  /v5/media/{id}` is polled until `succeeded`; the Pin then takes `media_source: {source_type:
  video_id, media_id, cover_image_url | cover_image_data | cover_image_key_frame_time}`. The
  upload creates no Pin, so only the last call needs care. (Duration and aspect ratio,
  4 s-15 min and 1.91:1-1:2, are not checked before sending: Pinterest refuses the video.)
- No idempotency key. A Pin create that got no answer is reconciled from the board's pins
  (`GET /v5/boards/{id}/pins`, newest first): a Pin with this post's title, link and
  description (by content hash) created since the attempt began is this post's; never "the
  latest Pin" (someone may have pinned meanwhile).
- Errors are `{"code", "message"}`. 401: the token expired (about 30 days) or was revoked:
  the channel needs new credentials. 429: rate limited, `X-RateLimit-Reset` says when the
  window resets (`cmflow.http` reads it).
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cmflow import media as media_files
from cmflow.i18n import _
from cmflow.platforms import rest
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token

if TYPE_CHECKING:
    from cmflow.model import Media, Rendered

SPEC = PlatformSpec(
    name="pinterest",
    label="Pinterest",
    counter="chars",
    defaults={
        "max_length": 800,
        "max_title_length": 100,
        "require_media": True,
        "max_media": 2,  # one image, or one video and its cover image
        "media_types": ["image/jpeg", "image/png", "video/mp4", "video/quicktime"],
    },
    keys=(
        ConnKey(
            "board_id",
            "the board's numeric id (GET /v5/boards lists them)",
            required=True,
            pattern=r"[0-9]+",
            shape="a board's numeric id",
            alt_kinds=("int",),
        ),
        token("environment variable holding the Pinterest access token"),
        ConnKey("media_base_url", "public URL where media/ is served", url=True),
    ),
    # Not PUBLIC_MEDIA: Pinterest fetches from `media_base_url` when there is one, but an
    # upload (image_base64, the video flow) needs no public URL.
    capabilities=caps(Capability.TITLES, Capability.ALT_TEXT, Capability.RECONCILES),
    default_base_url="https://api.pinterest.com/v5",
    max_alt_length=500,
    source="pinterest/api-description v5/openapi.yaml (PinCreate)",
)

PIN_URL = "https://www.pinterest.com/pin/{id}/"
PAGE_SIZE = 100
LOOKUP_PAGES = 5
POLL_LIMIT = 120.0  # seconds a video may take to be processed within one run


def _message(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        code = data.get("code")
        return f"{data['message']} (code {code})" if code is not None else str(data["message"])
    return None


class Adapter:
    """Pins each post on one board (`board_id`, `token_env`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = rest.Client(ctx, "Pinterest")
        self.base_url = str(ctx.channel.base_url or SPEC.default_base_url).rstrip("/")
        self.board_id = str(ctx.channel.setting("board_id", ""))
        base = ctx.channel.setting("media_base_url")
        self.media_base_url = str(base).rstrip("/") if base else None

    # -- the contract -----------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        return {}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return Result(Outcome.PUBLISHED, list(progress.done))
        try:
            pin = self.pin(rendered)
            source = self._media_source(rendered)
        except media_files.MediaProblem as exc:
            return Result(Outcome.FAILED, reason=str(exc))
        if isinstance(source, Result):
            return source
        pin["media_source"] = source
        progress.part_started(0)
        answer = self._call("POST", "/pins", json=pin)
        if answer.kind != "ok":
            return rest.failure(answer, [], _("the Pin"))
        found = self._part(answer.data)
        if found is None:
            return Result(Outcome.UNKNOWN, reason=_("the Pin: answer without an id"))
        progress.part_done(0, found)
        return Result(Outcome.PUBLISHED, [found])

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return Result(Outcome.ABSENT, reason=_("every part is already recorded"))
        since = progress.started_at
        if since is None:
            return Result(Outcome.ABSENT, reason=_("the Pin was never sent"))
        ours = self.pin(rendered)
        key = rest.content_key(ours.get("description", ""))
        bookmark: str | None = None
        for _i in range(LOOKUP_PAGES):
            params = {"page_size": str(PAGE_SIZE), **({"bookmark": bookmark} if bookmark else {})}
            answer = self._call("GET", f"/boards/{quote(self.board_id)}/pins", params=params)
            if answer.kind != "ok" or not isinstance(answer.data, dict):
                return rest.lookup_failed(answer, _("the Pin"))
            items = answer.data.get("items")
            older = False
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict):
                    continue
                created = rest.parse_time(item.get("created_at"))
                if created is not None and created < since - rest.CLOCK_SKEW:
                    older = True  # newest first: the rest was there before the attempt
                    continue
                same = (
                    (item.get("title") or None) == ours.get("title")
                    and (item.get("link") or None) == ours.get("link")
                    and rest.content_key(str(item.get("description") or "")) == key
                )
                if same and (found := self._part(item)) is not None:
                    return Result(Outcome.PUBLISHED, [found])
            bookmark = answer.data.get("bookmark") or None
            if older or not bookmark:
                return Result(Outcome.ABSENT, reason=_("the Pin is not on the board"))
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "the Pin: not among the board's {number} newest Pins: check the board by hand"
            ).format(number=LOOKUP_PAGES * PAGE_SIZE),
        )

    # -- the Pin ----------------------------------------------------------------------------

    def pin(self, rendered: Rendered) -> dict[str, Any]:
        """The Pin's fields (without its media) for `POST /v5/pins`."""
        part = rendered.parts[0]
        pin: dict[str, Any] = {"board_id": self.board_id, "description": part.text}
        if rendered.title:
            pin["title"] = rendered.title
        link = self._link(rendered)
        if link:
            pin["link"] = link
        alt = next((m.alt for m in part.media if m.alt), None)
        if alt:
            pin["alt_text"] = alt[:500]
        return pin

    def _link(self, rendered: Rendered) -> str | None:
        part = rendered.parts[0]
        if part.links:
            return part.links[0].url  # UTM parameters already added by `render`
        if not rendered.canonical_url:
            return None
        from cmflow.render import utm  # lazy: validation imports this module

        tracking = self.ctx.channel.rules.link_tracking
        if tracking is None:
            return rendered.canonical_url
        params = {
            "channel": rendered.channel,
            "platform": rendered.platform,
            "campaign": "",
            "id": rendered.post_id,
        }
        return utm(rendered.canonical_url, tracking, params)

    def _media_source(self, rendered: Rendered) -> dict[str, Any] | Result:
        media = rendered.parts[0].media
        kinds = [(m, media_files.inspect(self.ctx.root, m.path).mime or "") for m in media]
        videos = [m for m, mime in kinds if mime.startswith("video/")]
        images = [m for m, mime in kinds if mime.startswith("image/")]
        if len(videos) > 1 or len(images) > 1 or not (videos or images):
            return Result(
                Outcome.FAILED,
                reason=_("a Pin takes one image, or one video with at most one image as its cover"),
            )
        if videos:
            return self._video_source(videos[0], images[0] if images else None)
        return self._image_source(images[0])

    def _image_source(self, item: Media) -> dict[str, Any]:
        if self.media_base_url:
            return {"source_type": "image_url", "url": self._public_url(item)}
        loaded = media_files.load(self.ctx.root, item.path)
        if loaded.mime not in ("image/jpeg", "image/png"):
            raise media_files.MediaProblem(
                _(
                    "media {path} is {mime}: Pinterest takes JPEG or PNG uploads (or set "
                    "media_base_url so that it fetches the image from the site)"
                ).format(path=item.path, mime=loaded.mime)
            )
        return {
            "source_type": "image_base64",
            "content_type": loaded.mime,
            "data": base64.b64encode(loaded.data).decode("ascii"),
        }

    def _video_source(self, video: Media, cover: Media | None) -> dict[str, Any] | Result:
        media_id = self._upload_video(video)
        if isinstance(media_id, Result):
            return media_id
        source: dict[str, Any] = {"source_type": "video_id", "media_id": media_id}
        if cover is None:
            source["cover_image_key_frame_time"] = 0
        elif self.media_base_url:
            source["cover_image_url"] = self._public_url(cover)
        else:
            loaded = media_files.load(self.ctx.root, cover.path)
            source["cover_image_content_type"] = loaded.mime
            source["cover_image_data"] = base64.b64encode(loaded.data).decode("ascii")
        return source

    def _upload_video(self, video: Media) -> str | Result:
        """Register, upload and wait for a video; its media id (no Pin exists yet)."""
        loaded = media_files.load(self.ctx.root, video.path)
        answer = self._call("POST", "/media", json={"media_type": "video"})
        data = answer.data if isinstance(answer.data, dict) else {}
        if answer.kind != "ok" or not data.get("media_id") or not data.get("upload_url"):
            return _not_sent(answer, _("the video's upload"))
        media_id = str(data["media_id"])
        params = data.get("upload_parameters")
        fields = {str(k): str(v) for k, v in (params if isinstance(params, dict) else {}).items()}
        upload = self.client.call(
            "POST",
            str(data["upload_url"]),
            data=fields,
            files={"file": (loaded.name, loaded.data, loaded.mime)},
            write=False,  # uploading again replaces the file: safe to retry
        )
        if upload.kind != "ok":
            return _not_sent(upload, _("the video's upload"))
        waited, delay = 0.0, 0.5
        while True:
            status = self._call("GET", f"/media/{quote(media_id)}")
            state = status.data.get("status") if isinstance(status.data, dict) else None
            if status.kind == "ok" and state == "succeeded":
                return media_id
            if status.kind == "ok" and state == "failed":
                return Result(
                    Outcome.FAILED,
                    reason=_(
                        "Pinterest could not process the video {path} (MP4 or MOV, 4 s to 15 min, "
                        "1.91:1 to 1:2)"
                    ).format(path=video.path),
                )
            if status.kind not in ("ok",) or waited >= POLL_LIMIT:
                return Result(
                    Outcome.RETRY,
                    reason=_(
                        "the video {path} is still being processed by Pinterest ({state}): no Pin "
                        "yet, the next run tries again"
                    ).format(path=video.path, state=state or status.reason),
                )
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, 10.0)

    def _public_url(self, item: Media) -> str:
        return f"{self.media_base_url}/{quote(item.path.removeprefix('media/'))}"

    # -- HTTP -------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> rest.Answer:
        return self.client.call(
            method,
            f"{self.base_url}{path}",
            headers={"Authorization": f"Bearer {self.client.token}"},
            message=_message,
            write=method != "GET",
            **kwargs,
        )

    @staticmethod
    def _part(data: Any) -> PartResult | None:
        if not isinstance(data, dict) or not data.get("id"):
            return None
        pin_id = str(data["id"])
        return PartResult(pin_id, PIN_URL.format(id=quote(pin_id)))


def _not_sent(answer: rest.Answer, where: str) -> Result:
    """A step before the Pin itself failed: no Pin exists, whatever the answer."""
    result = rest.failure(answer, [], where)
    if result.outcome == Outcome.UNKNOWN:
        result.outcome = Outcome.RETRY  # a lost upload answer created no Pin
    return result
