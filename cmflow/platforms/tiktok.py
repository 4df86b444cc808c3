"""TikTok (Content Posting API): a video, or up to 35 photos, per post, posted directly.

Why the code has this shape (developers.tiktok.com/doc/content-posting-api-reference-direct-post,
-media-transfer-guide, -reference-photo-post, -reference-get-video-status):

- Every call is `POST https://open.tiktokapis.com/v2/...` with `Authorization: Bearer` and a
  JSON body; answers are `{"data": {...}, "error": {"code", "message", "log_id"}}`, `code`
  "ok" on success (tiktok-api-v2-error-handling).
- First `creator_info/query/`: the privacy levels this account may use, whether it turned
  comments, duets or stitches off (then cmflow turns them off too, as TikTok's guidelines
  require), and the longest video it may post. The post is checked against it before
  anything is sent.
- A video goes by `video/init/` with `source_info: {source: FILE_UPLOAD, video_size,
  chunk_size, total_chunk_count}` -> `publish_id` and `upload_url` (valid one hour), then
  `PUT upload_url` chunk by chunk with `Content-Range: bytes a-b/total` (chunks of 5 to 64 MB,
  the last up to 128 MB; a file under 5 MB in one piece; `total_chunk_count` = floor(size /
  chunk_size): the remainder rides on the last chunk). With `media_base_url` (a URL prefix
  verified with TikTok) it goes by `PULL_FROM_URL` instead; photos always do
  (`content/init/`, `media_type: PHOTO`, `photo_images`), from `media_base_url` or else from
  the copy the site (a feed channel with `site_url`) publishes, once the site serves it.
- `status/fetch/` with the `publish_id` says PROCESSING_UPLOAD, PROCESSING_DOWNLOAD,
  SEND_TO_USER_INBOX, PUBLISH_COMPLETE or FAILED (`fail_reason`);
  `publicaly_available_post_id` (sic, a list) names the post once moderation let it out.
- There is no idempotency key: the `publish_id` is recorded (`Progress.keep`) the moment
  `init` answers, before a byte is uploaded, so a killed run polls that publish instead of
  posting again. An uploaded video without the `publish_id` cannot exist (the bytes go to
  that publish's URL); a lost `init` answer of a pull cannot be checked (TikTok lists only
  public videos, and only to another scope): a human checks.
- An app not yet audited by TikTok posts SELF_ONLY only (from at most five accounts a day,
  which must be private): `unaudited_client_can_only_post_to_private_accounts` otherwise.
- Rate limits: `init` 6 requests a minute per token, `status/fetch` 30 (429
  `rate_limit_exceeded`); `spam_risk_too_many_posts` is the account's daily cap.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cmflow import media as media_files
from cmflow import safefs
from cmflow.i18n import _
from cmflow.platforms import rest
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token

if TYPE_CHECKING:
    from cmflow.model import Rendered

MB = 1_000_000

SPEC = PlatformSpec(
    name="tiktok",
    label="TikTok",
    counter="utf16",  # post_info.title: at most 2,200 UTF-16 runes
    defaults={
        "max_length": 2200,
        "max_media": 35,  # photo_images
        "require_media": True,
        "media_types": ["video/mp4", "video/quicktime", "image/jpeg", "image/webp"],
        "max_media_bytes": 20 * MB,  # a photo
        "max_video_bytes": 4 * 1024**3,
        # The account's own limit (creator_info max_video_post_duration_sec) is checked when
        # publishing; 10 minutes is the most TikTok gives.
        "min_video_seconds": 3,
        "max_video_seconds": 600,
        "video_codecs": ["h264", "hevc", "vp8", "vp9"],
        "min_video_side": 360,
        "max_video_side": 4096,
        "video_aspect": "9:16",
    },
    keys=(
        token("environment variable holding the user access token (video.publish)"),
        ConnKey(
            "privacy",
            "who sees the posts (default private: all an unaudited app may do)",
            choices=("public", "followers", "friends", "private"),
        ),
        ConnKey("disable_comment", "turn comments off", kind="bool"),
        ConnKey("disable_duet", "turn duets off", kind="bool"),
        ConnKey("disable_stitch", "turn stitches off", kind="bool"),
        ConnKey(
            "media_base_url",
            "public URL where media/ is served, verified with TikTok (photos come from it, "
            "else from the site's copy; videos are then pulled from it, not uploaded)",
            url=True,
        ),
        ConnKey("poll_interval", "seconds between two status checks (default 5)", kind="int"),
    ),
    capabilities=caps(Capability.RECONCILES),
    default_base_url="https://open.tiktokapis.com",
    source="developers.tiktok.com content-posting-api-reference-direct-post, "
    "-media-transfer-guide, -reference-photo-post, -get-video-status; video specs third-party",
    notice="TikTok: an app not yet audited by TikTok can only post privately (SELF_ONLY), "
    "from at most 5 accounts a day, which must be private; `privacy: public` works once the "
    "app passed TikTok's audit",
)

PRIVACY = {
    "public": "PUBLIC_TO_EVERYONE",
    "followers": "FOLLOWER_OF_CREATOR",
    "friends": "MUTUAL_FOLLOW_FRIENDS",
    "private": "SELF_ONLY",
}
MIN_CHUNK = 5 * 1024 * 1024
MAX_CHUNKS = 1000
UPLOAD_URL_LIFE = 55 * 60  # seconds: upload_url is valid one hour
POLL_BUDGET = 120.0  # seconds of status checks in one run, then the next run goes on
PENDING_WAIT = 300.0  # seconds before the next run checks a post still being processed
DAY = 86400.0
PHOTO_TITLE = 90
_RETRY_LATER = {
    "spam_risk_too_many_posts": DAY,
    "spam_risk_too_many_pending_share": DAY,
    "reached_active_user_cap": DAY,
    "rate_limit_exceeded": 60.0,
}
_AUDIT = "unaudited_client_can_only_post_to_private_accounts"


def _error(data: Any) -> tuple[str | None, str | None]:
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return None, None
    code, message = err.get("code"), err.get("message")
    return (str(code) if code else None), (str(message) if message else None)


def _message(data: Any) -> str | None:
    code, message = _error(data)
    if code and code != "ok":
        return f"{code}: {message}" if message else code
    return message


_Found = tuple[str, media_files.MediaFile]


@dataclass
class _Creator:
    username: str | None
    privacy_options: list[str]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_seconds: int | None


class _Stop(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.reason)
        self.result = result


class Adapter:
    """Posts to the TikTok account the access token (`token_env`) belongs to."""

    poll_budget: float = POLL_BUDGET

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = rest.Client(ctx, "TikTok")
        self.base_url = str(ctx.channel.base_url or SPEC.default_base_url).rstrip("/")
        ch = ctx.channel
        self.privacy = PRIVACY[str(ch.setting("privacy", "private"))]
        self.media_base_url = str(ch.setting("media_base_url") or "").rstrip("/") or None
        self.poll_interval = float(ch.setting("poll_interval", 5))

    # -- contract -----------------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        return {}  # no idempotency key: the publish_id, once TikTok gives it, is the handle

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return Result(Outcome.PUBLISHED, list(progress.done))
        try:
            if isinstance(progress.handles.get("publish_id"), str):
                return self._follow(rendered, progress)
            return self._post(rendered, progress)
        except _Stop as stop:
            return stop.result

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return Result(Outcome.ABSENT, reason=_("the post is already recorded"))
        publish_id = progress.handles.get("publish_id")
        if isinstance(publish_id, str):
            try:
                status = self._status(publish_id)
            except _Stop as stop:
                r = stop.result
                return Result(Outcome.UNKNOWN, reason=r.reason, needs_reauth=r.needs_reauth)
            if status.get("status") == "PUBLISH_COMPLETE":
                return Result(Outcome.PUBLISHED, [self._part(publish_id, status, progress)])
            # Not out (yet): `publish` follows this very publish_id, never a new one.
            return Result(
                Outcome.ABSENT,
                reason=_("publish {publish_id} is {status}").format(
                    publish_id=publish_id, status=status.get("status")
                ),
            )
        if progress.handles.get("initiating") == "pull":
            return Result(
                Outcome.UNKNOWN,
                reason=_(
                    "TikTok's answer to the post was lost and TikTok may be fetching the media: "
                    "check the account, then `cmflow resolve`"
                ),
            )
        # A file upload without its publish_id sent no byte: nothing can be posted.
        return Result(Outcome.ABSENT, reason=_("the post was never started"))

    # -- a new post ---------------------------------------------------------------------------

    def _post(self, rendered: Rendered, progress: Progress) -> Result:
        videos, photos = self._media(rendered)
        creator = self._creator()
        post_info = self._post_info(rendered, creator, photos=not videos)
        if videos:
            rel, info = videos[0]
            seconds = info.video.duration if info.video else None
            if creator.max_seconds and seconds and seconds > creator.max_seconds:
                raise _Stop(
                    Result(
                        Outcome.FAILED,
                        reason=_(
                            "{rel} lasts {seconds:.0f} s; this TikTok account may post videos of "
                            "at most {max_seconds} s"
                        ).format(rel=rel, seconds=seconds, max_seconds=creator.max_seconds),
                    )
                )
            if self.media_base_url:
                source = {"source": "PULL_FROM_URL", "video_url": self._public_url(rel)}
                return self._init(
                    progress,
                    "video/init/",
                    {"post_info": post_info, "source_info": source},
                    creator,
                    "pull",
                )
            return self._upload(progress, post_info, rel, creator)
        body = {
            "post_info": post_info,
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_cover_index": 0,
                "photo_images": [self._photo_url(rel) for rel, _ in photos],
            },
            "post_mode": "DIRECT_POST",
            "media_type": "PHOTO",
        }
        return self._init(progress, "content/init/", body, creator, "pull")

    def _media(self, rendered: Rendered) -> tuple[list[_Found], list[_Found]]:
        videos: list[_Found] = []
        photos: list[_Found] = []
        for m in rendered.parts[0].media:
            info = media_files.inspect(self.ctx.root, m.path)
            if info.problem or info.mime is None:
                why = info.problem or media_files.UNRECOGNISED
                raise _Stop(
                    Result(
                        Outcome.FAILED, reason=_("media {path} {why}").format(path=m.path, why=why)
                    )
                )
            if info.video_problem:
                raise _Stop(
                    Result(
                        Outcome.FAILED,
                        reason=_("media {path} {problem}").format(
                            path=m.path, problem=info.video_problem
                        ),
                    )
                )
            (videos if info.mime.startswith("video/") else photos).append((m.path, info))
        if videos and (photos or len(videos) > 1):
            raise _Stop(
                Result(
                    Outcome.FAILED,
                    reason=_(
                        "a TikTok post is one video or up to 35 photos: keep one video, or only "
                        "photos (add a variant for TikTok)"
                    ),
                )
            )
        if not videos and not photos:
            raise _Stop(Result(Outcome.FAILED, reason=_("a TikTok post needs a video or photos")))
        return videos, photos

    def _post_info(self, rendered: Rendered, creator: _Creator, *, photos: bool) -> dict[str, Any]:
        if self.privacy not in creator.privacy_options:
            allowed = [k for k, v in PRIVACY.items() if v in creator.privacy_options]
            hint = (
                _(" (an app not yet audited by TikTok may only post privately: `privacy: private`)")
                if self.privacy != "SELF_ONLY"
                else ""
            )
            raise _Stop(
                Result(
                    Outcome.FAILED,
                    reason=_(
                        "this TikTok account allows privacy {allowed}, not {setting}{hint}"
                    ).format(
                        allowed=", ".join(allowed) or _("none"),
                        setting=self.ctx.channel.setting("privacy", "private"),
                        hint=hint,
                    ),
                )
            )
        ch = self.ctx.channel
        text = rendered.parts[0].text
        info: dict[str, Any] = {
            "privacy_level": self.privacy,
            # Off when the creator turned it off in the app (TikTok's sharing guidelines).
            "disable_comment": bool(ch.setting("disable_comment")) or creator.comment_disabled,
            "brand_content_toggle": False,
            "brand_organic_toggle": False,
        }
        if photos:
            title = (rendered.title or "").strip()
            info["title"] = title[:PHOTO_TITLE]
            info["description"] = text
        else:
            info["title"] = text
            info["disable_duet"] = bool(ch.setting("disable_duet")) or creator.duet_disabled
            info["disable_stitch"] = bool(ch.setting("disable_stitch")) or creator.stitch_disabled
        return info

    def _creator(self) -> _Creator:
        answer = self._call("creator_info/query/", {})
        data = answer.data.get("data") if isinstance(answer.data, dict) else None
        if answer.kind != "ok" or not isinstance(data, dict):
            raise _Stop(self._failure(answer, _("reading the creator's settings"), sent=False))
        options = data.get("privacy_level_options")
        longest = data.get("max_video_post_duration_sec")
        return _Creator(
            str(data["creator_username"]) if data.get("creator_username") else None,
            [str(o) for o in options] if isinstance(options, list) else [],
            bool(data.get("comment_disabled")),
            bool(data.get("duet_disabled")),
            bool(data.get("stitch_disabled")),
            int(longest) if isinstance(longest, int) and not isinstance(longest, bool) else None,
        )

    def _init(
        self,
        progress: Progress,
        path: str,
        body: dict[str, Any],
        creator: _Creator,
        mode: str,
    ) -> Result:
        progress.part_started(0)
        if mode == "pull":
            progress.keep(initiating="pull")
        answer = self._call(path, body)
        data = answer.data.get("data") if isinstance(answer.data, dict) else None
        publish_id = data.get("publish_id") if isinstance(data, dict) else None
        if answer.kind != "ok" or not isinstance(publish_id, str) or not publish_id:
            # A pull TikTok may have accepted is unknown; an upload without its URL is not.
            raise _Stop(self._failure(answer, _("starting the post"), sent=mode == "pull"))
        progress.keep(publish_id=publish_id, username=creator.username, initiating=None)
        return self._poll(progress, publish_id)

    # -- the upload ---------------------------------------------------------------------------

    def _upload(
        self, progress: Progress, post_info: dict[str, Any], rel: str, creator: _Creator
    ) -> Result:
        try:
            fd = safefs.open_regular(self.ctx.root, rel)
        except safefs.UnsafePath as exc:
            raise _Stop(
                Result(Outcome.FAILED, reason=_("media {rel} {exc}").format(rel=rel, exc=exc))
            ) from None
        try:
            size = os.fstat(fd).st_size
            chunk = chunk_size(size)
            source = {
                "source": "FILE_UPLOAD",
                "video_size": size,
                "chunk_size": chunk,
                "total_chunk_count": max(1, size // chunk),
            }
            progress.part_started(0)
            answer = self._call("video/init/", {"post_info": post_info, "source_info": source})
            data = answer.data.get("data") if isinstance(answer.data, dict) else None
            publish_id = data.get("publish_id") if isinstance(data, dict) else None
            upload_url = data.get("upload_url") if isinstance(data, dict) else None
            if answer.kind != "ok" or not isinstance(publish_id, str) or not upload_url:
                # No byte went anywhere: no post can exist.
                raise _Stop(self._failure(answer, _("starting the upload"), sent=False))
            progress.keep(
                publish_id=publish_id,
                username=creator.username,
                upload_url=str(upload_url),
                upload_started=time.time(),
            )
            self._send_chunks(fd, size, chunk, str(upload_url), rel)
        finally:
            os.close(fd)
        progress.keep(upload_url=None, upload_started=None)
        return self._poll(progress, publish_id)

    def _send_chunks(
        self, fd: int, size: int, chunk: int, url: str, rel: str, start: int = 0
    ) -> None:
        count = max(1, size // chunk)
        mime = "video/quicktime" if rel.lower().endswith(".mov") else "video/mp4"
        for i in range(min(start, count - 1), count):
            first = i * chunk
            last = size - 1 if i == count - 1 else first + chunk - 1
            data = os.pread(fd, last - first + 1, first)
            if len(data) != last - first + 1:
                raise _Stop(
                    Result(
                        Outcome.RETRY,
                        reason=_("{rel} changed while being uploaded").format(rel=rel),
                    )
                )
            for attempt in range(3):
                # A chunk goes to this publish's own URL: sending it again cannot post twice.
                answer = self.client.call(
                    "PUT",
                    url,
                    data=data,
                    headers={
                        "Content-Type": mime,
                        "Content-Range": f"bytes {first}-{last}/{size}",
                    },
                    message=_message,
                )
                if answer.kind not in ("unknown", "not_sent"):
                    break
                time.sleep(0.5 * (attempt + 1))
            if answer.kind != "ok":
                raise _Stop(
                    self._failure(
                        answer,
                        _("uploading part {number} of {count}").format(number=i + 1, count=count),
                        sent=False,
                    )
                )

    # -- after init ---------------------------------------------------------------------------

    def _follow(self, rendered: Rendered, progress: Progress) -> Result:
        """A publish_id is recorded: find out where it stands, never post again."""
        publish_id = str(progress.handles["publish_id"])
        status = self._status(publish_id)
        state = status.get("status")
        url = progress.handles.get("upload_url")
        started = progress.handles.get("upload_started")
        if (
            state == "PROCESSING_UPLOAD"
            and isinstance(url, str)
            and isinstance(started, int | float)
            and time.time() - started < UPLOAD_URL_LIFE
        ):
            # The run died mid-upload: send the file again to the same publish.
            videos, _ignored = self._media(rendered)
            rel = videos[0][0] if videos else ""
            try:
                fd = safefs.open_regular(self.ctx.root, rel)
            except safefs.UnsafePath as exc:
                raise _Stop(
                    Result(Outcome.FAILED, reason=_("media {rel} {exc}").format(rel=rel, exc=exc))
                ) from None
            try:
                size = os.fstat(fd).st_size
                chunk = chunk_size(size)
                uploaded = status.get("uploaded_bytes")
                have = uploaded if isinstance(uploaded, int) and 0 <= uploaded <= size else 0
                if have < size:  # chunks go in order: on from the first one not complete
                    self._send_chunks(fd, size, chunk, url, rel, start=have // chunk)
            finally:
                os.close(fd)
            progress.keep(upload_url=None, upload_started=None)
        return self._poll(progress, publish_id, status)

    def _poll(
        self, progress: Progress, publish_id: str, status: dict[str, Any] | None = None
    ) -> Result:
        deadline = time.monotonic() + min(self.poll_budget, max(0.0, self.ctx.http.remaining()))
        while True:
            if status is None:
                status = self._status(publish_id)
            state = status.get("status")
            if state == "PUBLISH_COMPLETE":
                part = self._part(publish_id, status, progress)
                progress.part_done(0, part)
                return Result(Outcome.PUBLISHED, [part])
            if state == "FAILED":
                reason = status.get("fail_reason") or _("no reason given")
                interrupted = "upload_url" in progress.handles
                progress.keep(publish_id=None, upload_url=None, upload_started=None)
                if interrupted:  # our upload never finished: nothing is out, post it again
                    return Result(
                        Outcome.RETRY,
                        reason=_(
                            "the upload was interrupted and TikTok dropped it ({reason}): the "
                            "next run posts it again"
                        ).format(reason=reason),
                    )
                return Result(
                    Outcome.FAILED,
                    reason=_("TikTok did not publish it: {reason}").format(reason=reason),
                )
            if time.monotonic() + self.poll_interval > deadline:
                return Result(
                    Outcome.RETRY,
                    reason=_(
                        "TikTok is still processing publish {publish_id} ({state}): the next run "
                        "checks it (never posts it again)"
                    ).format(publish_id=publish_id, state=state),
                    retry_after=PENDING_WAIT,
                )
            time.sleep(self.poll_interval)
            status = None

    def _status(self, publish_id: str) -> dict[str, Any]:
        answer = self._call("status/fetch/", {"publish_id": publish_id}, write=False)
        data = answer.data.get("data") if isinstance(answer.data, dict) else None
        if answer.kind != "ok" or not isinstance(data, dict):
            raise _Stop(
                self._failure(
                    answer,
                    _("checking publish {publish_id}").format(publish_id=publish_id),
                    sent=False,
                )
            )
        return data

    def _part(self, publish_id: str, status: dict[str, Any], progress: Progress) -> PartResult:
        ids = status.get("publicaly_available_post_id") or status.get("publicly_available_post_id")
        post_id = str(ids[0]) if isinstance(ids, list) and ids else None
        user = progress.handles.get("username")
        if post_id is None:
            # Private (SELF_ONLY) posts, or moderation not done: the publish_id stands in.
            return PartResult(publish_id, None, {"publish_id": publish_id})
        url = f"https://www.tiktok.com/@{user}/video/{post_id}" if user else None
        return PartResult(post_id, url, {"publish_id": publish_id})

    # -- plumbing -----------------------------------------------------------------------------

    def _call(self, path: str, body: dict[str, Any], *, write: bool = True) -> rest.Answer:
        return self.client.call(
            "POST",
            f"{self.base_url}/v2/post/publish/{path}",
            json=body,
            headers={
                "Authorization": f"Bearer {self.client.token}",
                "Content-Type": "application/json; charset=UTF-8",
            },
            message=_message,
            write=write,
        )

    def _failure(self, answer: rest.Answer, where: str, *, sent: bool) -> Result:
        code, _ignored = _error(answer.data)
        if code == _AUDIT:
            return Result(
                Outcome.FAILED,
                reason=_(
                    "{where}: {reason}: an app not yet audited by TikTok may only post privately "
                    "(`privacy: private`) to private accounts"
                ).format(where=where, reason=answer.reason),
            )
        if code in _RETRY_LATER:
            return Result(
                Outcome.RETRY,
                reason=_("{where}: {reason}").format(where=where, reason=answer.reason),
                retry_after=answer.retry_after or _RETRY_LATER[code],
            )
        if answer.kind == "auth" or code in ("access_token_invalid", "scope_not_authorized"):
            return Result(
                Outcome.FAILED,
                reason=_(
                    "{where}: {reason}: renew the token in {variable} (scope video.publish)"
                ).format(where=where, reason=answer.reason, variable=self.client.variable),
                needs_reauth=True,
            )
        if answer.kind == "unknown" and not sent:
            return Result(
                Outcome.RETRY,
                reason=_("{where}: {reason}").format(where=where, reason=answer.reason),
            )
        return rest.failure(answer, [], where)

    def _public_url(self, rel: str) -> str:
        from urllib.parse import quote

        path = rel.replace("\\", "/").lstrip("/")
        path = path.removeprefix("media/")
        return f"{self.media_base_url}/{quote(path)}"

    def _photo_url(self, rel: str) -> str:
        """Where TikTok fetches a photo: `media_base_url`, else the copy the site (a feed
        channel with `site_url`) publishes, once it answers (its prefix must be verified with
        TikTok either way)."""
        if self.media_base_url:
            return self._public_url(rel)
        from cmflow.platforms import graph  # the site's copy, as Meta fetches it

        url = graph.public_url(self.ctx, rel)
        if url is None:
            raise _Stop(
                Result(
                    Outcome.FAILED,
                    reason=_(
                        "TikTok fetches photos from a public address: {help}; its prefix must be "
                        "verified with TikTok"
                    ).format(help=graph.media_url_help()),
                )
            )
        # The site goes online after the run that copies the photo there: until it answers,
        # TikTok could not fetch it (video_pull_failed), so the post waits.
        answer = self.client.call("HEAD", url, write=False)
        if answer.kind != "ok":
            raise _Stop(
                Result(
                    Outcome.RETRY,
                    reason=_(
                        "{rel}: the site does not serve {url} yet ({reason}), and TikTok fetches "
                        "the photo from there: the next run tries again"
                    ).format(rel=rel, url=url, reason=answer.reason),
                    retry_after=PENDING_WAIT,
                )
            )
        return url


def chunk_size(size: int) -> int:
    """TikTok's chunking (media transfer guide): a file under 5 MB goes whole; else chunks of
    5 MB (5 to 64 MB allowed), the remainder riding on the last one, at most 1,000 chunks."""
    if size < MIN_CHUNK:
        return max(1, size)
    chunk = MIN_CHUNK
    while size // chunk > MAX_CHUNKS:
        chunk *= 2
    return chunk
