"""YouTube (Data API v3): a video per post through `videos.insert`'s resumable upload.

Why the code has this shape (developers.google.com/youtube/v3, guides/using_resumable_upload_protocol):

- The upload is resumable: `POST /upload/youtube/v3/videos?uploadType=resumable&part=
  snippet,status` with the video resource as JSON and `X-Upload-Content-Length` /
  `X-Upload-Content-Type` answers 200 with the session URI in `Location`. The bytes go to
  that URI in chunks, `PUT` with `Content-Range: bytes a-b/total` (chunks are multiples of
  256 KiB except the last); each but the last answers `308 Resume Incomplete` with
  `Range: bytes=0-N` (what the server holds, which may be less than what was sent); the last
  answers 200/201 with the video resource. `PUT` with `Content-Range: bytes */total` and no
  body asks where the upload stands: 308 (and the range) while incomplete, the final answer
  repeated once complete; 404 once the session expired.
- The video exists only once every byte is in, so the session URI is the idempotency handle:
  it is recorded (`Progress.keep`) before the first byte is sent, and a run killed mid-upload
  resumes the same session instead of starting a second video. Without it (a fresh checkout
  whose claim was pushed before the session existed) the channel's uploads playlist
  (`channels.list?mine=true&part=contentDetails` -> `relatedPlaylists.uploads` ->
  `playlistItems.list`) is searched for the marker `cmflow:<hash>` this attempt put at the end
  of the description: never "the latest video".
- A session URI is sent the OAuth token: it must be on the API's own host (a record file is
  repository content, and a `Location` could point anywhere). It is dropped from the record
  as soon as the video exists; a run that stops mid-upload leaves it there (pushed with the
  record) so that the next run can go on: treat an unfinished upload's record as private.
- `thumbnails.set` (an image besides the video) and `playlistItems.insert` (`playlist`) come
  after the video; their failure never un-publishes it: it is noted in the record's handles.
- Quota (developers.google.com/youtube/v3/determine_quota_cost, 2026): `videos.insert` has a
  bucket of its own, 100 calls a day by default; every other call spends units from 10,000 a
  day (`thumbnails.set` and `playlistItems.insert` 50, lists 1); both reset at midnight Pacific
  time. What each pair spends is recorded in its handles by Pacific day, and a run that
  would go over defers the pair to after midnight (a project with other limits sets
  `daily_quota` / `daily_uploads`). Google's `403 quotaExceeded` defers too.
- Errors are `{"error": {"code", "message", "errors": [{"domain", "reason"}]}}`; 401
  `authError` is an expired token (access tokens last an hour: refreshing them is the job's).
- A Short is a vertical or square video of at most 3 minutes: no API flag; `shorts: true`
  validates that and adds #Shorts to the description.
- Projects not yet audited by Google upload as private whatever `privacyStatus` says.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from cmflow import media as media_files
from cmflow import safefs
from cmflow.i18n import _, number
from cmflow.platforms import rest
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token

if TYPE_CHECKING:
    from cmflow.model import Rendered

GIB = 1024**3
TRAILER_ROOM = 40  # bytes: "\n\n#Shorts\n\ncmflow:" and a 16-character hash

SPEC = PlatformSpec(
    name="youtube",
    label="YouTube",
    counter="utf8",
    defaults={
        # The description: 5,000 bytes (videos#snippet.description), less what cmflow adds.
        "max_length": 5000 - TRAILER_ROOM,
        "max_title_length": 100,
        # One video, and an image to set as its thumbnail.
        "max_media": 2,
        "require_media": True,
        "media_types": ["video/mp4", "video/quicktime", "image/jpeg", "image/png"],
        "max_media_bytes": 50 * 1024 * 1024,  # thumbnails.set: 50 MB (2 MB on older pages)
        "max_video_bytes": 256 * GIB,  # videos.insert: 256 GB
        # 12 hours for verified accounts; an unverified one takes 15 minutes (set
        # `max_video_seconds: 900` in the channel's rules).
        "max_video_seconds": 12 * 3600,
    },
    keys=(
        token("environment variable holding the OAuth 2.0 access token (youtube.upload)"),
        ConnKey(
            "privacy",
            "privacyStatus of the video (default public)",
            choices=("public", "unlisted", "private"),
        ),
        ConnKey(
            "category",
            "categoryId, e.g. 22 (People & Blogs)",
            alt_kinds=("int",),
            pattern=r"[0-9]+",
            shape="a numeric category id such as 22",
        ),
        ConnKey(
            "playlist",
            "playlist id to add each video to",
            pattern=r"[A-Za-z0-9_-]{10,64}",
            shape="a playlist id such as PLxxxxxxxx",
        ),
        ConnKey("made_for_kids", "selfDeclaredMadeForKids (default false)", kind="bool"),
        ConnKey("shorts", "videos are Shorts: vertical, at most 3 minutes, #Shorts", kind="bool"),
        ConnKey("daily_quota", "quota units a day for this project (default 10000)", kind="int"),
        ConnKey("daily_uploads", "videos.insert calls a day (default 100)", kind="int"),
        ConnKey(
            "chunk_size",
            "upload chunk in bytes, a multiple of 262144 (default 8 MiB)",
            kind="int",
        ),
    ),
    capabilities=caps(Capability.TITLES, Capability.RECONCILES),
    default_base_url="https://www.googleapis.com",
    setting_rules={"shorts": {"max_video_seconds": 180, "video_orientation": "vertical_or_square"}},
    source="developers.google.com/youtube/v3 docs/videos, videos/insert, resumable uploads; "
    "support.google.com/youtube/answer/15424877 (Shorts)",
)

CHUNK_UNIT = 256 * 1024
DEFAULT_CHUNK = 32 * CHUNK_UNIT  # 8 MiB
DAILY_UNITS = 10_000
DAILY_UPLOADS = 100
COST = {"thumbnails.set": 50, "playlistItems.insert": 50, "list": 1}
PACIFIC = ZoneInfo("America/Los_Angeles")
PAGE_SIZE = 50  # playlistItems.list maxResults
LOOKUP_PAGES = 4
STATUS_TRIES = 3
_RANGE = re.compile(r"bytes=0-(\d+)")
_QUOTA_REASONS = ("quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded")


def _error(data: Any) -> tuple[str | None, str | None]:
    """(reason, message) of a Google error body."""
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return None, None
    reason = None
    errors = err.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = errors[0].get("reason")
    message = err.get("message")
    return (str(reason) if reason else None), (str(message) if message else None)


def _message(data: Any) -> str | None:
    reason, message = _error(data)
    if reason and message:
        return f"{reason}: {message}"
    return message or reason


def pacific_day(now: datetime) -> str:
    """The quota day: YouTube's daily quotas reset at midnight Pacific time."""
    return now.astimezone(PACIFIC).date().isoformat()


def until_reset(now: datetime) -> float:
    """Seconds from `now` to the next midnight Pacific time."""
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
    return max(60.0, (midnight - local).total_seconds())


@dataclass
class _Video:
    rel: str
    fd: int
    size: int
    mime: str


class _Stop(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.reason)
        self.result = result


class Adapter:
    """Uploads one video per post to the channel the OAuth token (`token_env`) belongs to."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = rest.Client(ctx, "YouTube")
        self.base_url = str(ctx.channel.base_url or SPEC.default_base_url).rstrip("/")
        ch = ctx.channel
        chunk = int(ch.setting("chunk_size", DEFAULT_CHUNK) or DEFAULT_CHUNK)
        self.chunk_size = max(CHUNK_UNIT, chunk - chunk % CHUNK_UNIT)
        self.daily_units = int(ch.setting("daily_quota", DAILY_UNITS))
        self.daily_uploads = int(ch.setting("daily_uploads", DAILY_UPLOADS))
        self._spent: dict[str, list[int]] | None = None  # day -> [units, uploads], all pairs
        self._follow = 0  # units the calls after the upload will need

    # -- contract -----------------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        # The marker ends the description: how reconciliation knows this attempt's video.
        return {"marker": f"cmflow:{hashlib.sha256(key.encode()).hexdigest()[:16]}"}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return self._after(rendered, progress, list(progress.done))
        try:
            resource = self._resource(rendered, progress)
            video = self._open(rendered)
        except _Stop as stop:
            return stop.result
        try:
            self._follow = self._follow_up_units(rendered)
            found = self._upload(rendered, progress, resource, video)
        except _Stop as stop:
            return stop.result
        finally:
            os.close(video.fd)
        progress.part_done(0, found)
        progress.keep(upload=None, upload_size=None)
        return self._after(rendered, progress, [found])

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return Result(Outcome.ABSENT, reason=_("the video is already recorded"))
        session = progress.handles.get("upload")
        size = progress.handles.get("upload_size")
        if isinstance(session, str) and isinstance(size, int):
            try:
                state = self._status(session, size)
            except _Stop as stop:
                return Result(
                    Outcome.UNKNOWN,
                    reason=stop.result.reason,
                    needs_reauth=stop.result.needs_reauth,
                )
            if isinstance(state, PartResult):
                # Done with the session (a killed run after this finds it by its marker).
                progress.keep(upload=None, upload_size=None)
                return Result(Outcome.PUBLISHED, [state])
            if state is not None:
                # Incomplete: no video yet; `publish` resumes this very session.
                return Result(
                    Outcome.ABSENT,
                    reason=_("upload incomplete ({size} bytes in)").format(size=number(state)),
                )
        return self._find(progress)

    # -- the video resource -------------------------------------------------------------------

    def _resource(self, rendered: Rendered, progress: Progress) -> dict[str, Any]:
        ch = self.ctx.channel
        title = (rendered.title or "").strip()
        if not title:
            raise _Stop(
                Result(Outcome.FAILED, reason=_("YouTube needs a title: add `title:` to the post"))
            )
        marker = str(progress.handles.get("marker") or "")
        description = rendered.parts[0].text.strip()
        if ch.setting("shorts") is True and "#shorts" not in description.lower():
            description += "\n\n#Shorts"
        if marker:
            description += f"\n\n{marker}"
        tags = [t.lstrip("#") for t in rendered.tags]
        problem = _metadata_problem(title, description, tags)
        if problem:
            raise _Stop(Result(Outcome.FAILED, reason=problem))
        snippet: dict[str, Any] = {"title": title, "description": description}
        if tags:
            snippet["tags"] = tags
        if ch.setting("category") is not None:
            snippet["categoryId"] = str(ch.setting("category"))
        if rendered.language:
            snippet["defaultLanguage"] = rendered.language
        status = {
            "privacyStatus": str(ch.setting("privacy", "public")),
            "selfDeclaredMadeForKids": bool(ch.setting("made_for_kids", False)),
        }
        return {"snippet": snippet, "status": status}

    def _open(self, rendered: Rendered) -> _Video:
        """The post's video, opened (never followed through a link, never read whole)."""
        for m in rendered.parts[0].media:
            info = media_files.inspect(self.ctx.root, m.path)
            if info.problem:
                raise _Stop(
                    Result(
                        Outcome.FAILED,
                        reason=_("media {path} {problem}").format(
                            path=m.path, problem=info.problem
                        ),
                    )
                )
            if info.mime is None or not info.mime.startswith("video/"):
                continue
            if info.video_problem:
                raise _Stop(
                    Result(
                        Outcome.FAILED,
                        reason=_("media {path} {problem}").format(
                            path=m.path, problem=info.video_problem
                        ),
                    )
                )
            try:
                fd = safefs.open_regular(self.ctx.root, m.path)
            except safefs.UnsafePath as exc:
                raise _Stop(
                    Result(
                        Outcome.FAILED, reason=_("media {path} {exc}").format(path=m.path, exc=exc)
                    )
                ) from None
            return _Video(m.path, fd, os.fstat(fd).st_size, info.mime)
        raise _Stop(
            Result(
                Outcome.FAILED,
                reason=_("YouTube needs a video: add an MP4 or MOV file under `media:`"),
            )
        )

    # -- the upload ---------------------------------------------------------------------------

    def _upload(
        self, rendered: Rendered, progress: Progress, resource: dict[str, Any], video: _Video
    ) -> PartResult:
        session = progress.handles.get("upload")
        offset = 0
        if isinstance(session, str) and progress.handles.get("upload_size") == video.size:
            state = self._status(session, video.size)
            if isinstance(state, PartResult):
                return state
            if state is None:  # expired: did it finish before? Else a new session.
                found = self._find(progress)
                if found.outcome == Outcome.PUBLISHED:
                    return found.parts[0]
                if found.outcome != Outcome.ABSENT:
                    raise _Stop(found)
                session = None
            else:
                offset = state
        else:
            session = None
        if session is None:
            session = self._session(progress, resource, video)
            offset = 0
        tries = 0
        while True:
            end = min(offset + self.chunk_size, video.size)
            try:
                data = os.pread(video.fd, end - offset, offset)
            except OSError as exc:
                raise _Stop(
                    Result(
                        Outcome.RETRY,
                        reason=_("{rel} cannot be read ({strerror})").format(
                            rel=video.rel, strerror=exc.strerror
                        ),
                    )
                ) from None
            if len(data) != end - offset:
                raise _Stop(
                    Result(
                        Outcome.RETRY,
                        reason=_("{rel} changed while being uploaded").format(rel=video.rel),
                    )
                )
            answer = self.client.call(
                "PUT",
                session,
                data=data,
                headers={
                    **self._auth(),
                    "Content-Type": video.mime,
                    "Content-Range": f"bytes {offset}-{end - 1}/{video.size}",
                },
                message=_message,
            )
            if answer.kind == "ok":
                return self._video(answer.data)
            if answer.status == 308:
                offset = _next_offset(answer.header("Range"))
                tries = 0
                continue
            if answer.status in (404, 410):
                progress.keep(upload=None, upload_size=None)
                raise _Stop(
                    Result(
                        Outcome.RETRY,
                        reason=_("the upload session expired: the next run starts it again"),
                    )
                )
            if answer.kind in ("unknown", "not_sent") and tries < STATUS_TRIES:
                # A chunk without an answer cannot make a second video: ask where the
                # upload stands and go on from there.
                tries += 1
                state = self._status(session, video.size)
                if isinstance(state, PartResult):
                    return state
                if state is None:
                    raise _Stop(Result(Outcome.RETRY, reason=_("the upload session expired")))
                offset = state
                continue
            raise _Stop(self._failure(answer, _("uploading the video"), sent=True))

    def _session(self, progress: Progress, resource: dict[str, Any], video: _Video) -> str:
        self._check_quota(uploads=1, units=self._follow)
        progress.part_started(0)
        answer = self.client.call(
            "POST",
            f"{self.base_url}/upload/youtube/v3/videos",
            params={"uploadType": "resumable", "part": "snippet,status"},
            json=resource,
            headers={
                **self._auth(),
                "X-Upload-Content-Length": str(video.size),
                "X-Upload-Content-Type": video.mime,
            },
            message=_message,
        )
        self._spend(progress, uploads=1)
        location = answer.header("Location") if answer.kind == "ok" else None
        if answer.kind != "ok":
            # No byte was sent on that session: no video can exist.
            raise _Stop(self._failure(answer, _("starting the upload"), sent=False))
        if not location or not self._same_host(location):
            raise _Stop(
                Result(
                    Outcome.RETRY,
                    reason=_(
                        "starting the upload: YouTube's answer has no upload address on its own "
                        "host"
                    ),
                )
            )
        progress.keep(upload=location, upload_size=video.size)
        return location

    def _status(self, session: str, size: int) -> PartResult | int | None:
        """Where an upload session stands: the video when complete, the next byte to send
        when not, None when the session expired. Raises _Stop when YouTube cannot say."""
        if not self._same_host(session):
            raise _Stop(
                Result(
                    Outcome.FAILED,
                    reason=_(
                        "the recorded upload session is not on YouTube's host: the record was "
                        "edited; resolve it by hand"
                    ),
                )
            )
        for attempt in range(STATUS_TRIES):
            # A question changes nothing: asked again when the answer is lost (by hand,
            # not by `Http`, whose reads follow redirects and a 308 is not one here).
            answer = self.client.call(
                "PUT",
                session,
                data=b"",
                headers={**self._auth(), "Content-Range": f"bytes */{size}"},
                message=_message,
            )
            if answer.kind not in ("unknown", "not_sent") or answer.status is not None:
                break
            time.sleep(0.2 * (attempt + 1))
        if answer.kind == "ok":
            return self._video(answer.data)
        if answer.status == 308:
            return _next_offset(answer.header("Range"))
        if answer.status in (404, 410):
            return None
        failure = self._failure(answer, _("asking YouTube where the upload stands"), sent=False)
        raise _Stop(failure)

    def _video(self, data: Any) -> PartResult:
        video_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(video_id, str) or not video_id:
            raise _Stop(
                Result(Outcome.UNKNOWN, reason=_("the upload ended without a video id: check"))
            )
        shorts = self.ctx.channel.setting("shorts") is True
        url = (
            f"https://www.youtube.com/shorts/{video_id}"
            if shorts
            else f"https://www.youtube.com/watch?v={video_id}"
        )
        return PartResult(video_id, url)

    # -- after the video ----------------------------------------------------------------------

    def _after(self, rendered: Rendered, progress: Progress, done: list[PartResult]) -> Result:
        """Thumbnail and playlist: their failure never un-publishes the video; the outcome
        of each is noted in the record's handles."""
        video_id = done[0].id
        thumb = self._thumbnail(rendered)
        if thumb is not None and "thumbnail" not in progress.handles:
            progress.keep(thumbnail=self._set_thumbnail(progress, video_id, thumb))
        playlist = self.ctx.channel.setting("playlist")
        if playlist and "playlist" not in progress.handles:
            progress.keep(playlist=self._add_to_playlist(progress, video_id, str(playlist)))
        return Result(Outcome.PUBLISHED, done)

    def _thumbnail(self, rendered: Rendered) -> tuple[str, str] | None:
        for m in rendered.parts[0].media:
            info = media_files.inspect(self.ctx.root, m.path)
            if info.mime in ("image/jpeg", "image/png"):
                return m.path, info.mime
        return None

    def _set_thumbnail(self, progress: Progress, video_id: str, thumb: tuple[str, str]) -> str:
        rel = thumb[0]
        try:
            self._check_quota(units=COST["thumbnails.set"])
            image = media_files.load(self.ctx.root, rel)
        except _Stop as stop:
            return _("not set: {reason}").format(reason=stop.result.reason)
        except media_files.MediaProblem as exc:
            return _("not set: {reason}").format(reason=exc)
        answer = self.client.call(
            "POST",
            f"{self.base_url}/upload/youtube/v3/thumbnails/set",
            params={"videoId": video_id},
            data=image.data,
            headers={**self._auth(), "Content-Type": image.mime},
            message=_message,
        )
        self._spend(progress, units=COST["thumbnails.set"])
        return "set" if answer.kind == "ok" else _("not set: {reason}").format(reason=answer.reason)

    def _add_to_playlist(self, progress: Progress, video_id: str, playlist: str) -> str:
        try:
            self._check_quota(units=COST["playlistItems.insert"])
        except _Stop as stop:
            return _("not added: {reason}").format(reason=stop.result.reason)
        answer = self.client.call(
            "POST",
            f"{self.base_url}/youtube/v3/playlistItems",
            params={"part": "snippet"},
            json={
                "snippet": {
                    "playlistId": playlist,
                    "resourceId": {"kind": "youtube#video", "videoId": video_id},
                }
            },
            headers=self._auth(),
            message=_message,
        )
        self._spend(progress, units=COST["playlistItems.insert"])
        if answer.kind == "ok":
            return "added"
        return _("not added: {reason}").format(reason=answer.reason)

    # -- reconciliation -----------------------------------------------------------------------

    def _find(self, progress: Progress) -> Result:
        """This attempt's video among the channel's uploads, by the marker in its
        description; absent when the uploads reach back before the attempt without it."""
        marker = progress.handles.get("marker")
        if not isinstance(marker, str) or not marker:
            return Result(
                Outcome.UNKNOWN, reason=_("no marker recorded for this attempt: check by hand")
            )
        since = (progress.started_at or datetime.now(UTC)) - rest.CLOCK_SKEW
        answer = self.client.call(
            "GET",
            f"{self.base_url}/youtube/v3/channels",
            params={"part": "contentDetails", "mine": "true"},
            headers=self._auth(),
            message=_message,
            write=False,
        )
        self._spend(progress, units=COST["list"])
        uploads = _uploads_playlist(answer.data) if answer.kind == "ok" else None
        if uploads is None:
            return _lookup_failed(answer)
        page: str | None = None
        for _i in range(LOOKUP_PAGES):
            params = {"part": "snippet", "playlistId": uploads, "maxResults": str(PAGE_SIZE)}
            if page:
                params["pageToken"] = page
            answer = self.client.call(
                "GET",
                f"{self.base_url}/youtube/v3/playlistItems",
                params=params,
                headers=self._auth(),
                message=_message,
                write=False,
            )
            self._spend(progress, units=COST["list"])
            if answer.kind != "ok" or not isinstance(answer.data, dict):
                return _lookup_failed(answer)
            items = answer.data.get("items")
            older = False
            for item in items if isinstance(items, list) else ():
                snippet = item.get("snippet") if isinstance(item, dict) else None
                if not isinstance(snippet, dict):
                    continue
                description = str(snippet.get("description") or "")
                video_id = (snippet.get("resourceId") or {}).get("videoId")
                if marker in description.split() and isinstance(video_id, str):
                    return Result(Outcome.PUBLISHED, [self._video({"id": video_id})])
                published = rest.parse_time(snippet.get("publishedAt"))
                older = older or (published is not None and published < since)
            page = answer.data.get("nextPageToken")
            if older or not page:
                return Result(Outcome.ABSENT, reason=_("the video is not among the uploads"))
        return Result(
            Outcome.UNKNOWN,
            reason=_(
                "not among the channel's {number} latest uploads, which do not reach back to the "
                "attempt: check by hand"
            ).format(number=LOOKUP_PAGES * PAGE_SIZE),
        )

    # -- quota --------------------------------------------------------------------------------

    def _follow_up_units(self, rendered: Rendered) -> int:
        """Units the calls after the upload will spend (reserved before it starts)."""
        units = 0
        if self._thumbnail(rendered) is not None:
            units += COST["thumbnails.set"]
        if self.ctx.channel.setting("playlist"):
            units += COST["playlistItems.insert"]
        return units

    def _spent_today(self) -> list[int]:
        """[units, uploads] spent today (Pacific) by this channel, summed over the record."""
        if self._spent is None:
            from cmflow.ledger import Ledger  # lazy: only publishing reads the record

            spent: dict[str, list[int]] = {}
            for entry in Ledger(self.ctx.root, self.ctx.data_dir).scan().entries:
                if entry.channel != self.ctx.channel.name:
                    continue
                for day, used in _usage(entry.handles).items():
                    total = spent.setdefault(day, [0, 0])
                    total[0] += used[0]
                    total[1] += used[1]
            self._spent = spent
        # Google's quota day runs on Google's clock: the real time, whatever --at says.
        return self._spent.setdefault(pacific_day(datetime.now(UTC)), [0, 0])

    def _check_quota(self, *, units: int = 0, uploads: int = 0) -> None:
        used_units, used_uploads = self._spent_today()
        over = []
        if uploads and used_uploads + uploads > self.daily_uploads:
            over.append(
                _("{used} of {limit} uploads").format(used=used_uploads, limit=self.daily_uploads)
            )
        if units and used_units + units > self.daily_units:
            over.append(
                _("{used} of {limit} units ({needed} needed)").format(
                    used=number(used_units), limit=number(self.daily_units), needed=number(units)
                )
            )
        if over:
            now = datetime.now(UTC)
            raise _Stop(
                Result(
                    Outcome.RETRY,
                    reason=_(
                        "YouTube daily quota: {quotas} used today (Pacific time): deferred until "
                        "it resets at midnight Pacific time"
                    ).format(quotas=_(" and ").join(over)),
                    retry_after=until_reset(now),
                )
            )

    def _spend(self, progress: Progress, *, units: int = 0, uploads: int = 0) -> None:
        day = pacific_day(datetime.now(UTC))
        today = self._spent_today()
        today[0] += units
        today[1] += uploads
        usage = _usage(progress.handles)
        mine = usage.setdefault(day, [0, 0])
        mine[0] += units
        mine[1] += uploads
        progress.keep(quota={d: {"units": u[0], "uploads": u[1]} for d, u in usage.items()})

    def _quota_spent(self) -> None:
        """Google said the quota is spent: nothing more today in this run."""
        today = self._spent_today()
        today[0] = max(today[0], self.daily_units)
        today[1] = max(today[1], self.daily_uploads)

    # -- errors -------------------------------------------------------------------------------

    def _failure(self, answer: rest.Answer, where: str, *, sent: bool) -> Result:
        reason, _ignored = _error(answer.data)
        if reason in _QUOTA_REASONS or reason == "uploadLimitExceeded":
            self._quota_spent()
            wait = until_reset(datetime.now(UTC)) if reason != "uploadLimitExceeded" else 86400
            return Result(
                Outcome.RETRY,
                reason=_("{where}: {reason}: deferred until the quota resets").format(
                    where=where, reason=answer.reason
                ),
                retry_after=wait,
            )
        if answer.kind == "auth":
            return Result(
                Outcome.FAILED,
                reason=_("{where}: {reason}").format(where=where, reason=answer.reason),
                needs_reauth=True,
            )
        if answer.kind == "unknown" and not sent:
            # Nothing that could have made a video was in flight.
            return Result(
                Outcome.RETRY,
                reason=_("{where}: {reason}").format(where=where, reason=answer.reason),
            )
        return rest.failure(answer, [], where)

    def _same_host(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.client.token}"}


def _next_offset(header: str | None) -> int:
    """The byte to send next after a 308: `Range: bytes=0-N` -> N + 1; none -> 0."""
    match = _RANGE.fullmatch((header or "").strip())
    return int(match.group(1)) + 1 if match else 0


def _usage(handles: Any) -> dict[str, list[int]]:
    raw = handles.get("quota") if isinstance(handles, Mapping) else None
    out: dict[str, list[int]] = {}
    for day, used in (raw or {}).items() if isinstance(raw, dict) else ():
        if isinstance(used, dict):
            units, uploads = used.get("units", 0), used.get("uploads", 0)
            if isinstance(units, int) and isinstance(uploads, int):
                out[str(day)] = [units, uploads]
    return out


def _uploads_playlist(data: Any) -> str | None:
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return None
    details = items[0].get("contentDetails") or {}
    uploads = (details.get("relatedPlaylists") or {}).get("uploads")
    return str(uploads) if uploads else None


def _lookup_failed(answer: rest.Answer) -> Result:
    result = rest.lookup_failed(answer, _("the video"))
    if answer.status == 403:
        result.reason = _(
            "{reason} (listing uploads needs the youtube.readonly scope besides youtube.upload)"
        ).format(reason=result.reason)
    return result


def _metadata_problem(title: str, description: str, tags: list[str]) -> str | None:
    """What YouTube would refuse in the snippet (videos#snippet), said before sending."""
    for text, refused in (
        (title, _("YouTube refuses < and > in a video's title: remove them from the post")),
        (
            description,
            _("YouTube refuses < and > in a video's description: remove them from the post"),
        ),
    ):
        if "<" in text or ">" in text:
            return refused
    if len(title) > 100:
        return _("the title is {count}/100 characters").format(count=len(title))
    size = len(description.encode("utf-8"))
    if size > 5000:
        return _("the description is {size}/5000 bytes (with the line cmflow adds)").format(
            size=size
        )
    # Tags: 500 characters in all, commas between them counted, quotes around one with a
    # space counted too.
    total = sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)
    if total > 500:
        return _("the tags take {count}/500 characters: remove some").format(count=total)
    return None
