"""A loopback Mastodon server following docs.joinmastodon.org (statuses, media, instance).

Behaviour copied from the documentation and from mastodon/mastodon's source where the docs
are silent: the Idempotency-Key is scoped per account and replays the original status for
3,600 s (`app/services/post_status_service.rb`, `setex(..., 3_600, status.id)`); the key is
checked before validation; errors are `{"error": "..."}`; rate-limit headers carry an ISO 8601
reset (`X-RateLimit-Reset`). Text length counts grapheme clusters, URLs as 23 characters and
remote mentions by their local part (`app/validators/status_length_validator.rb`).
"""

from __future__ import annotations

import html
import importlib
import mimetypes
import re
import time
from datetime import UTC, datetime
from typing import Any

from .base import (
    FakeServer,
    Fault,
    RateState,
    Recorded,
    Response,
    json_response,
    route,
)

# `regex` (a cmflow dependency) has no type stubs; \X matches one extended grapheme cluster.
_regex: Any = importlib.import_module("regex")

DOMAIN = "fake.social"
IDEMPOTENCY_TTL = 3600.0
_URL_RE = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_REMOTE_MENTION_RE = re.compile(r"(?<![\w/])@(\w+)@[\w.-]+\w")
_HASHTAG_RE = re.compile(r"(?<![\w/&#])#(\w+)")
_SUPPORTED_MIME = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/heic",
    "image/heif",
    "image/webp",
    "image/avif",
    "video/webm",
    "video/mp4",
    "video/quicktime",
    "video/ogg",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-pn-wave",
    "audio/vnd.wave",
    "audio/ogg",
    "audio/vorbis",
    "audio/mpeg",
    "audio/mp3",
    "audio/webm",
    "audio/flac",
    "audio/aac",
    "audio/m4a",
    "audio/x-m4a",
    "audio/mp4",
    "audio/3gpp",
    "video/x-ms-asf",
)


def iso(ts: float) -> str:
    """Mastodon's timestamp format: "2026-05-01T12:00:00.000Z"."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def sniff_mime(data: bytes) -> str | None:
    """The media type of common image/video files, from their first bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return None


def status_length(text: str, reserved_per_url: int = 23) -> int:
    """Length as Mastodon counts it: graphemes; each URL = `reserved_per_url`."""
    text = _URL_RE.sub("x" * reserved_per_url, text)
    text = _REMOTE_MENTION_RE.sub(lambda m: "@" + m.group(1), text)
    return len(_regex.findall(r"\X", text))


def render_html(text: str) -> str:
    """Plain text to the HTML Mastodon stores in `content` (paragraphs, links, hashtags)."""

    def line_html(line: str) -> str:
        out: list[str] = []
        pos = 0
        for m in _URL_RE.finditer(line):
            out.append(_tags_html(line[pos : m.start()]))
            url = m.group(0)
            scheme, _, rest = url.partition("://")
            out.append(
                f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" '
                f'translate="no"><span class="invisible">{scheme}://</span>'
                f'<span class="">{html.escape(rest)}</span>'
                f'<span class="invisible"></span></a>'
            )
            pos = m.end()
        out.append(_tags_html(line[pos:]))
        return "".join(out)

    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p]
    return "".join(
        "<p>" + "<br />".join(line_html(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def _tags_html(fragment: str) -> str:
    escaped = html.escape(fragment, quote=False)
    return _HASHTAG_RE.sub(
        lambda m: (
            f'<a href="https://{DOMAIN}/tags/{m.group(1).lower()}" class="mention hashtag" '
            f'rel="tag">#<span>{m.group(1)}</span></a>'
        ),
        escaped,
    )


class FakeMastodon(FakeServer):
    """Mastodon for one account (`marque`, id "1") authenticated by `token`.

    Configurable limits (instance configuration): `max_characters`,
    `characters_reserved_per_url`, `max_media_attachments`, `image_size_limit`,
    `video_size_limit`, `description_limit`. `media_processing = True` makes uploads answer
    202 and `GET /api/v1/media/:id` answer 206 `media_processing_polls` times before 200.
    """

    # mastodon/documentation content/en/api/rate-limits.md: 300 requests / 5 min per account.
    default_rate_limit = (300, 300.0)

    def __init__(self, token: str = "mastodon-test-token") -> None:
        super().__init__(tokens=[token])
        self.token = token
        self.max_characters = 500
        self.characters_reserved_per_url = 23
        self.max_media_attachments = 4
        self.image_size_limit = 16_777_216
        self.video_size_limit = 103_809_024
        self.description_limit = 1500
        self.media_processing = False
        self.media_processing_polls = 1
        self.account_id = "1"
        self.username = "marque"
        self._statuses: dict[str, dict[str, Any]] = {}
        self._sources: dict[str, tuple[str, str]] = {}  # status id -> (text, spoiler_text)
        self.edits: list[dict[str, Any]] = []  # every accepted edit, in order
        self._media: dict[str, dict[str, Any]] = {}
        # media id -> (206 answers still to give, the attachment once processed)
        self._media_pending: dict[str, tuple[int, dict[str, Any]]] = {}
        self._media_used: set[str] = set()
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self._next_status = 113_000_000_000_000_000
        self._next_media = 113_500_000_000_000_000
        self._created_at = self.now() - 86_400 * 365
        self.followers_count = 42
        self.batch_statuses = True  # GET /api/v1/statuses?id[]= (Mastodon 4.3+); False: 404
        # Other accounts, public (competitors): acct -> account entity, and their statuses.
        self._others: dict[str, dict[str, Any]] = {}
        self.latency = 0.0  # seconds added to every answer (benchmarks)

    # -- helpers for tests ----------------------------------------------------------------

    def set_counts(
        self,
        status_id: str,
        favourites: int | None = None,
        reblogs: int | None = None,
        replies: int | None = None,
        quotes: int | None = None,
    ) -> None:
        """Set a status's engagement counts, as other users' actions would."""
        with self._lock:
            status = self._statuses[status_id]
            for key, value in (
                ("favourites_count", favourites),
                ("reblogs_count", reblogs),
                ("replies_count", replies),
                ("quotes_count", quotes),
            ):
                if value is not None:
                    status[key] = value

    def status(self, status_id: str) -> dict[str, Any]:
        """The current state of a status (KeyError if unknown)."""
        with self._lock:
            return dict(self._statuses[status_id])

    def delete_status(self, status_id: str) -> None:
        """Remove a status, as if deleted on the web (its idempotency key stays stored)."""
        with self._lock:
            del self._statuses[status_id]

    def rate_limited_fault(self, reset_in: float = 300.0) -> Fault:
        """A 429 as Mastodon sends it once the window is spent (for `inject`)."""
        limit = self._rate[0] if self._rate else 300
        state = RateState(limit, 0, time.time() + reset_in, True)
        return Fault.status(429, {"error": "Too many requests"}, self._rate_headers(state))

    # -- plumbing -------------------------------------------------------------------------

    def _error(self, req: Recorded, code: int, message: str, **extra: Any) -> Response:
        body: dict[str, Any] = {"error": message, **extra}
        if self.echo_secrets:
            body["request"] = self.secret_dump(req)
        return json_response(code, body)

    @staticmethod
    def _rate_headers(state: RateState) -> dict[str, str]:
        reset = datetime.fromtimestamp(state.reset_at, UTC)
        return {
            "X-RateLimit-Limit": str(state.limit),
            "X-RateLimit-Remaining": str(state.remaining),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }

    def process(self, req: Recorded) -> Response:
        if self.latency:
            time.sleep(self.latency)
        token = self.bearer(req.headers)
        public = req.method == "GET" and (
            req.path.startswith("/api/v1/instance")
            or req.path.startswith("/api/v2/instance")
            or re.fullmatch(
                r"/api/v1/(statuses|statuses/[^/]+|accounts/[^/]+/statuses|accounts/lookup)",
                req.path,
            )
            is not None
        )
        if token is None and public:
            return super().process(req)
        if token is None or token not in self.tokens:
            return self._error(req, 401, "The access token is invalid")
        state = self.take_rate(f"account:{token}")
        if state is not None and state.exceeded:
            response = self._error(req, 429, "Too many requests")
        else:
            response = super().process(req)
        if state is not None:
            response.headers.update(self._rate_headers(state))
        return response

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        return self._error(req, 404, "Record not found" if not method_not_allowed else "Not found")

    def _account(self, with_source: bool = False) -> dict[str, Any]:
        with self._lock:
            mine = [s for s in self._statuses.values() if s["account"]["id"] == self.account_id]
            last = max((s["created_at"] for s in mine), default=None)
        account: dict[str, Any] = {
            "id": self.account_id,
            "username": self.username,
            "acct": self.username,
            "display_name": "Marque",
            "locked": False,
            "bot": False,
            "discoverable": True,
            "group": False,
            "created_at": iso(self._created_at),
            "note": "",
            "url": f"https://{DOMAIN}/@{self.username}",
            "uri": f"https://{DOMAIN}/users/{self.username}",
            "avatar": f"https://{DOMAIN}/avatars/original/missing.png",
            "avatar_static": f"https://{DOMAIN}/avatars/original/missing.png",
            "header": f"https://{DOMAIN}/headers/original/missing.png",
            "header_static": f"https://{DOMAIN}/headers/original/missing.png",
            "followers_count": self.followers_count,
            "following_count": 7,
            "statuses_count": len(mine),
            "last_status_at": last[:10] if last else None,
            "emojis": [],
            "fields": [],
        }
        if with_source:
            account["source"] = {
                "privacy": "public",
                "sensitive": False,
                "language": "",
                "note": "",
                "fields": [],
                "follow_requests_count": 0,
            }
        return account

    # -- statuses -------------------------------------------------------------------------

    @route("POST", r"/api/v1/statuses")
    def create_status(self, req: Recorded, match: re.Match[str]) -> Response:
        if req.json_error:
            return self._error(req, 400, "Error while parsing request body")
        key = req.headers.get("idempotency-key")
        with self._lock:  # one lock: concurrent duplicates wait, like Mastodon's redis lock
            if key:
                stored = self._idempotency.get((self.account_id, key))
                if stored is not None and self.now() - stored[1] < IDEMPOTENCY_TTL:
                    original = self._statuses.get(stored[0])
                    if original is not None:
                        return json_response(200, original)
            return self._create_status(req, key)

    def _create_status(self, req: Recorded, key: str | None) -> Response:
        if isinstance(req.json, dict):
            params: dict[str, Any] = dict(req.json)
            media_ids_raw = params.get("media_ids") or []
            if not isinstance(media_ids_raw, list):
                media_ids_raw = [media_ids_raw]
        else:
            params = dict(req.form)
            media_ids_raw = req.form_all.get("media_ids[]", [])
        text = str(params.get("status") or "")
        spoiler = str(params.get("spoiler_text") or "")
        visibility = str(params.get("visibility") or "public")
        in_reply_to_id = params.get("in_reply_to_id") or None
        language = params.get("language") or "en"
        sensitive = params.get("sensitive") in (True, "true", "1", "True")

        media_ids = [str(m) for m in media_ids_raw]
        if len(media_ids) > self.max_media_attachments:
            return self._error(
                req, 422, f"Cannot attach more than {self.max_media_attachments} files"
            )
        # Unknown ids, or ids already attached to a status, are ignored as Mastodon does
        # (`where(status_id: nil).where(id: ...)`).
        attachments = [
            self._media[m] for m in media_ids if m in self._media and m not in self._media_used
        ]
        if any(a["url"] is None for a in attachments):
            return self._error(
                req,
                422,
                "Cannot attach files that have not finished processing. Try again in a moment!",
            )
        if not text.strip() and not attachments and not params.get("poll"):
            return self._error(req, 422, "Validation failed: Text can't be blank")
        length = status_length(text, self.characters_reserved_per_url) + status_length(spoiler)
        if length > self.max_characters:
            return self._error(
                req,
                422,
                f"Validation failed: Text character limit of {self.max_characters} exceeded",
            )
        if visibility not in ("public", "unlisted", "private", "direct"):
            return self._error(
                req, 422, "Validation failed: Visibility is not included in the list"
            )
        parent: dict[str, Any] | None = None
        if in_reply_to_id is not None:
            parent = self._statuses.get(str(in_reply_to_id))
            if parent is None:
                return self._error(
                    req, 404, "The post you are trying to reply to does not appear to exist."
                )

        self._next_status += 1
        sid = str(self._next_status)
        status: dict[str, Any] = {
            "id": sid,
            "uri": f"https://{DOMAIN}/users/{self.username}/statuses/{sid}",
            "url": f"https://{DOMAIN}/@{self.username}/{sid}",
            "created_at": iso(self.now()),
            "edited_at": None,
            "account": self._account(),
            "content": render_html(text),
            "text": None,
            "visibility": visibility,
            "sensitive": sensitive or bool(spoiler),
            "spoiler_text": spoiler,
            "language": language,
            "in_reply_to_id": parent["id"] if parent else None,
            "in_reply_to_account_id": parent["account"]["id"] if parent else None,
            "media_attachments": attachments,
            "mentions": [],
            "tags": [
                {"name": t.lower(), "url": f"https://{DOMAIN}/tags/{t.lower()}"}
                for t in dict.fromkeys(_HASHTAG_RE.findall(text))
            ],
            "emojis": [],
            "application": {"name": "cmflow", "website": None},
            "reblog": None,
            "poll": None,
            "card": None,
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "quotes_count": 0,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "pinned": False,
        }
        self._statuses[sid] = status
        self._sources[sid] = (text, spoiler)
        self._media_used.update(a["id"] for a in attachments)
        if parent is not None:
            parent["replies_count"] += 1
        if key:
            self._idempotency[(self.account_id, key)] = (sid, self.now())
        self.record_post(dict(status))
        return json_response(200, status)

    @route("GET", r"/api/v1/statuses/(?P<id>[^/]+)")
    def get_status(self, req: Recorded, match: re.Match[str]) -> Response:
        with self._lock:
            status = self._statuses.get(match["id"])
            if status is None:
                return self._error(req, 404, "Record not found")
            return json_response(200, status)

    @route("PUT", r"/api/v1/statuses/(?P<id>[^/]+)")
    def edit_status(self, req: Recorded, match: re.Match[str]) -> Response:
        """Edit a status (docs.joinmastodon.org/methods/statuses/#edit, Mastodon 3.5+):
        200 with the status, `edited_at` set and `content` re-rendered; 404 "Record not
        found" for an unknown status, 403 for another account's; 422 for a validation
        failure. Without `media_ids` the attachments are kept (UpdateStatusService only
        touches media when the key is given)."""
        params: dict[str, Any] = dict(req.json) if isinstance(req.json, dict) else dict(req.form)
        with self._lock:
            status = self._statuses.get(match["id"])
            if status is None:
                return self._error(req, 404, "Record not found")
            if status["account"]["id"] != self.account_id:
                return self._error(req, 403, "This action is not allowed")
            text = str(params.get("status") or "")
            spoiler = str(params.get("spoiler_text") or status["spoiler_text"])
            if not text.strip() and not status["media_attachments"]:
                return self._error(req, 422, "Validation failed: Text can't be blank")
            length = status_length(text, self.characters_reserved_per_url) + status_length(spoiler)
            if length > self.max_characters:
                return self._error(
                    req,
                    422,
                    f"Validation failed: Text character limit of {self.max_characters} exceeded",
                )
            status["content"] = render_html(text)
            status["spoiler_text"] = spoiler
            status["edited_at"] = iso(self.now())
            if params.get("language"):
                status["language"] = params["language"]
            status["tags"] = [
                {"name": t.lower(), "url": f"https://{DOMAIN}/tags/{t.lower()}"}
                for t in dict.fromkeys(_HASHTAG_RE.findall(text))
            ]
            self._sources[status["id"]] = (text, spoiler)
            self.edits.append({"id": status["id"], "text": text})
            # The oracle `posts` shows what a reader sees now: the edited text.
            for post in self._posts:
                if post.get("id") == status["id"]:
                    post["content"] = status["content"]
                    post["edited_at"] = status["edited_at"]
            return json_response(200, dict(status))

    @route("GET", r"/api/v1/statuses/(?P<id>[^/]+)/source")
    def status_source(self, req: Recorded, match: re.Match[str]) -> Response:
        """The text as written, for editing (docs.joinmastodon.org/methods/statuses/#source)."""
        with self._lock:
            if match["id"] not in self._statuses:
                return self._error(req, 404, "Record not found")
            text, spoiler = self._sources[match["id"]]
            return json_response(200, {"id": match["id"], "text": text, "spoiler_text": spoiler})

    @route("GET", r"/api/v1/accounts/(?P<id>[^/]+)/statuses")
    def account_statuses(self, req: Recorded, match: re.Match[str]) -> Response:
        if match["id"] != self.account_id:
            with self._lock:
                other = next((o for o in self._others.values() if o["id"] == match["id"]), None)
            if other is None:
                return self._error(req, 404, "Record not found")
            limit = max(1, min(40, int(req.query.get("limit", "20") or 20)))
            with self._lock:
                items = sorted(other["_statuses"], key=lambda s: int(s["id"]), reverse=True)
            return json_response(200, [dict(s) for s in items[:limit]])
        try:
            limit = max(1, min(40, int(req.query.get("limit", "20"))))
            max_id = int(req.query["max_id"]) if "max_id" in req.query else None
            since_id = int(req.query["since_id"]) if "since_id" in req.query else None
            min_id = int(req.query["min_id"]) if "min_id" in req.query else None
        except ValueError:
            return self._error(req, 400, "Invalid pagination parameter")
        exclude_replies = req.query.get("exclude_replies") in ("true", "1")
        with self._lock:
            items = sorted(self._statuses.values(), key=lambda s: int(s["id"]), reverse=True)
            items = [
                s
                for s in items
                if (max_id is None or int(s["id"]) < max_id)
                and (since_id is None or int(s["id"]) > since_id)
                and (min_id is None or int(s["id"]) > min_id)
                and not (exclude_replies and s["in_reply_to_id"])
            ]
            page = items[-limit:] if min_id is not None else items[:limit]
        headers: dict[str, str] = {}
        if page:
            base = f"{self.url}/api/v1/accounts/{self.account_id}/statuses?limit={limit}"
            headers["Link"] = (
                f'<{base}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return json_response(200, page, headers)

    @route("GET", r"/api/v1/statuses")
    def get_statuses(self, req: Recorded, match: re.Match[str]) -> Response:
        """View multiple statuses (4.3+): `id[]` repeated, at most 20 (DEFAULT_STATUSES_LIMIT,
        else 422); unknown or invisible ids are left out of the answer."""
        if not self.batch_statuses:
            return self._error(req, 404, "Record not found")
        ids = req.query_all.get("id[]", [])
        if len(ids) > 20:
            return self._error(req, 422, "Validation failed")
        with self._lock:
            found = [dict(self._statuses[i]) for i in dict.fromkeys(ids) if i in self._statuses]
            for other in self._others.values():
                found += [dict(s) for s in other["_statuses"] if s["id"] in ids]
        return json_response(200, found)

    def add_account(self, acct: str, followers: int = 0) -> str:
        """Another (public) account, e.g. a competitor; returns its id."""
        with self._lock:
            aid = str(1000 + len(self._others))
            self._others[acct] = {
                "id": aid,
                "username": acct.split("@")[0],
                "acct": acct,
                "display_name": acct.split("@")[0].title(),
                "followers_count": followers,
                "following_count": 3,
                "statuses_count": 0,
                "_statuses": [],
            }
        return aid

    def add_other_status(self, acct: str, created_at: float, **counts: int) -> str:
        with self._lock:
            other = self._others[acct]
            sid = str(self._next_status)
            self._next_status += 1
            other["_statuses"].append(
                {
                    "id": sid,
                    "created_at": iso(created_at),
                    "url": f"https://{DOMAIN}/@{other['username']}/{sid}",
                    "content": "<p>rival</p>",
                    "in_reply_to_id": None,
                    "reblog": None,
                    "visibility": "public",
                    "favourites_count": counts.get("likes", 0),
                    "reblogs_count": counts.get("reposts", 0),
                    "replies_count": counts.get("replies", 0),
                    "account": {k: v for k, v in other.items() if not k.startswith("_")},
                }
            )
            other["statuses_count"] += 1
        return sid

    @route("GET", r"/api/v1/accounts/lookup")
    def lookup_account(self, req: Recorded, match: re.Match[str]) -> Response:
        acct = req.query.get("acct", "").lstrip("@")
        with self._lock:
            other = self._others.get(acct) or self._others.get(acct.split("@")[0])
            if other is None:
                return self._error(req, 404, "Record not found")
            return json_response(200, {k: v for k, v in other.items() if not k.startswith("_")})

    # -- media ----------------------------------------------------------------------------

    @route("POST", r"/api/v(?P<v>[12])/media")
    def upload_media(self, req: Recorded, match: re.Match[str]) -> Response:
        upload = req.files.get("file")
        if upload is None or not upload.data:
            return self._error(req, 422, "Validation failed: File can't be blank")
        description = req.form.get("description")
        if description is not None and len(description) > self.description_limit:
            return self._error(
                req,
                422,
                "Validation failed: Description is too long "
                f"(maximum is {self.description_limit} characters)",
            )
        mime = (
            sniff_mime(upload.data)
            or (upload.content_type or "").split(";")[0].strip().lower()
            or mimetypes.guess_type(upload.filename or "")[0]
            or "application/octet-stream"
        )
        if mime not in _SUPPORTED_MIME:
            return self._error(
                req, 422, "Validation failed: File content type is invalid, File is invalid"
            )
        kind = mime.split("/")[0]
        limit = self.image_size_limit if kind == "image" else self.video_size_limit
        if len(upload.data) > limit:
            return self._error(
                req,
                422,
                f"Validation failed: File file size must be less than {limit // 1_048_576} MB",
            )
        with self._lock:
            self._next_media += 1
            mid = str(self._next_media)
            filename = upload.filename or "file"
            url = f"https://files.{DOMAIN}/media_attachments/files/{mid}/original/{filename}"
            attachment: dict[str, Any] = {
                "id": mid,
                "type": {"image": "image", "video": "video", "audio": "audio"}.get(kind, "unknown"),
                "url": url,
                "preview_url": url.replace("/original/", "/small/"),
                "remote_url": None,
                "preview_remote_url": None,
                "text_url": None,
                "meta": {},
                "description": description or None,
                "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}",
            }
            if self.media_processing and match["v"] == "2":
                # Large files are processed asynchronously: 202 with url null, then poll.
                self._media_pending[mid] = (self.media_processing_polls, attachment)
                self._media[mid] = dict(attachment, url=None)
                return json_response(202, self._media[mid])
            self._media[mid] = attachment
            return json_response(200, attachment)

    @route("GET", r"/api/v1/media/(?P<id>[^/]+)")
    def get_media(self, req: Recorded, match: re.Match[str]) -> Response:
        mid = match["id"]
        with self._lock:
            attachment = self._media.get(mid)
            if attachment is None:
                return self._error(req, 404, "Record not found")
            pending = self._media_pending.get(mid)
            if pending is not None:
                polls, final = pending
                if polls > 0:
                    self._media_pending[mid] = (polls - 1, final)
                    return json_response(206, attachment)
                del self._media_pending[mid]
                attachment = self._media[mid] = final
            return json_response(200, attachment)

    # -- account and instance -------------------------------------------------------------

    @route("GET", r"/api/v1/accounts/verify_credentials")
    def verify_credentials(self, req: Recorded, match: re.Match[str]) -> Response:
        return json_response(200, self._account(with_source=True))

    def _configuration(self) -> dict[str, Any]:
        return {
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            "statuses": {
                "max_characters": self.max_characters,
                "max_media_attachments": self.max_media_attachments,
                "characters_reserved_per_url": self.characters_reserved_per_url,
            },
            "media_attachments": {
                "supported_mime_types": list(_SUPPORTED_MIME),
                "description_limit": self.description_limit,
                "image_size_limit": self.image_size_limit,
                "image_matrix_limit": 33_177_600,
                "video_size_limit": self.video_size_limit,
                "video_frame_rate_limit": 120,
                "video_matrix_limit": 8_294_400,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2_629_746,
            },
        }

    @route("GET", r"/api/v1/instance")
    def instance_v1(self, req: Recorded, match: re.Match[str]) -> Response:
        return json_response(
            200,
            {
                "uri": DOMAIN,
                "title": "Fake Social",
                "short_description": "A loopback Mastodon for cmflow's tests",
                "description": "",
                "email": f"admin@{DOMAIN}",
                "version": "4.4.0",
                "urls": {"streaming_api": f"wss://{DOMAIN}"},
                "stats": {"user_count": 1, "status_count": len(self._statuses), "domain_count": 1},
                "thumbnail": None,
                "languages": ["en"],
                "registrations": False,
                "approval_required": False,
                "invites_enabled": False,
                "configuration": self._configuration(),
                "contact_account": None,
                "rules": [],
            },
        )

    @route("GET", r"/api/v2/instance")
    def instance_v2(self, req: Recorded, match: re.Match[str]) -> Response:
        configuration = self._configuration()
        configuration["urls"] = {"streaming": f"wss://{DOMAIN}", "status": None}
        configuration["translation"] = {"enabled": False}
        return json_response(
            200,
            {
                "domain": DOMAIN,
                "title": "Fake Social",
                "version": "4.4.0",
                "source_url": "https://github.com/mastodon/mastodon",
                "description": "A loopback Mastodon for cmflow's tests",
                "usage": {"users": {"active_month": 1}},
                "thumbnail": {"url": f"https://{DOMAIN}/thumbnail.png"},
                "languages": ["en"],
                "configuration": configuration,
                "registrations": {"enabled": False, "approval_required": False, "message": None},
                "contact": {"email": f"admin@{DOMAIN}", "account": None},
                "rules": [],
            },
        )
