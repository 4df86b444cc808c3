"""A loopback LinkedIn server following the Posts and Images APIs (learn.microsoft.com,
linkedin/marketing/community-management/shares/posts-api, images-api, little-text-format).

- Every call needs `LinkedIn-Version: YYYYMM` (400 `VERSION_MISSING` without it, 426
  `NONEXISTENT_VERSION` for one that is not active) and `X-Restli-Protocol-Version: 2.0.0`.
- `POST /rest/posts` takes `{author, commentary, visibility, distribution, lifecycleState,
  isReshareDisabledByAuthor, content?}` and answers 201 with an empty body, the post's URN in
  the `x-restli-id` header. `commentary` is "little" text: reserved characters
  (`\\ | { } @ [ ] ( ) < > # * _ ~`) must be backslash-escaped, hashtags are
  `{hashtag|\\#|tag}`; an unescaped one is refused here (the real API truncates or refuses).
  Its length (3,000) is counted on the text shown, escapes not counted.
- The same commentary by the same author again: 422 `DUPLICATE_POST` "Content is a duplicate
  of urn:li:share:..." (`Arisamiga/Linkedin-RSS#5`).
- `GET /rest/posts/{urn}`, `GET /rest/posts?author=...&q=author` (newest first, `count`,
  `start`) with `X-RestLi-Method: FINDER`.
- Update (posts-api "Update Posts"): `POST /rest/posts/{encoded urn}` with
  `X-RestLi-Method: PARTIAL_UPDATE` and `{"patch": {"$set": {...}}}`; `commentary`,
  `contentCallToActionLabel`, `contentLandingPage`, `lifecycleState` and `adContext` may be
  set, nothing else (400). 204 with an empty body; 404 `NOT_FOUND` for an unknown or deleted
  post; 403 for another author's. The commentary is checked as on creation (little text,
  3,000 characters shown).
- `POST /rest/images?action=initializeUpload` `{"initializeUploadRequest": {"owner"}}` answers
  `{"value": {"uploadUrl", "image", "uploadUrlExpiresAt"}}`; the bytes go with a PUT to
  `uploadUrl`. A post's `content.media` `{id, altText}` or `content.multiImage.images`.
- Errors: `{"status", "serviceErrorCode"?, "code", "message"}`. 401 `EXPIRED_ACCESS_TOKEN`
  (tokens last 60 days) or `REVOKED_ACCESS_TOKEN`; 429 `TOO_MANY_REQUESTS` once the daily
  quota is spent (limits reset at midnight UTC, no Retry-After).
"""

from __future__ import annotations

import itertools
import re
from typing import Any
from urllib.parse import quote, unquote

from .base import FakeServer, Fault, Recorded, Response, json_response, route

RESERVED = set("\\|{}@[]()<>#*_~")
ACTIVE_VERSIONS = {f"{y}{m:02d}" for y in (2025, 2026) for m in range(1, 13)}
MAX_COMMENTARY = 3000
_HASHTAG = re.compile(r"\{hashtag\|\\?[#＃]\|((?:\\.|[^}\\])+)\}")
_MENTION = re.compile(r"@\[((?:\\.|[^\]\\])*)\]\((urn:li:(?:person|organization):[^)]+)\)")


def shown(commentary: str) -> str | None:
    """The text LinkedIn shows for little text, or None when a reserved character is not
    escaped."""
    out = []
    i = 0
    while i < len(commentary):
        for pattern, render in (
            (_HASHTAG, lambda m: "#" + _unescape(m.group(1))),
            (_MENTION, lambda m: _unescape(m.group(1))),
        ):
            m = pattern.match(commentary, i)
            if m:
                out.append(render(m))
                i = m.end()
                break
        else:
            ch = commentary[i]
            if ch == "\\" and i + 1 < len(commentary) and commentary[i + 1] in RESERVED:
                out.append(commentary[i + 1])
                i += 2
                continue
            if ch in RESERVED:
                return None
            out.append(ch)
            i += 1
    return "".join(out)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


class FakeLinkedIn(FakeServer):
    """One token, acting for `members` authors (organisation or member URNs)."""

    def __init__(
        self, token: str = "li-test-token", author: str = "urn:li:organization:2414183"
    ) -> None:
        super().__init__(tokens=[token])
        self.token = token
        self.authors = {author}
        self.expired_tokens: set[str] = set()
        self.daily_quota: int | None = None  # POST /rest/posts per day, then 429
        self._posts_by_urn: dict[str, dict[str, Any]] = {}
        self._images: dict[str, dict[str, Any]] = {}
        self.edits: list[dict[str, Any]] = []  # every applied update: {"id", "text"}
        self._ids = itertools.count(7_200_000_000_000_000_000)
        self._calls = 0

    # -- helpers for tests ----------------------------------------------------------------

    def add_post(
        self, commentary: str, *, author: str | None = None, at: float | None = None
    ) -> str:
        """A post made outside cmflow (on linkedin.com), in little text as LinkedIn stores it."""
        with self._lock:
            return self._store(
                {"author": author or next(iter(self.authors)), "commentary": commentary},
                at or self.now(),
            )["id"]

    def delete(self, urn: str) -> None:
        """Delete a post: a later duplicate of it still names it (a ghost URN)."""
        with self._lock:
            self._posts_by_urn[urn]["_deleted"] = True

    def post(self, urn: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._posts_by_urn[urn])

    def image(self, urn: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._images[urn])

    @staticmethod
    def throttled_fault() -> Fault:
        return Fault.status(429, _error(429, "TOO_MANY_REQUESTS", _THROTTLE, 101))

    # -- plumbing -------------------------------------------------------------------------

    def _error(
        self,
        req: Recorded,
        code: int,
        kind: str,
        message: str,
        service: int | None = None,
        **extra: Any,
    ) -> Response:
        body = _error(code, kind, message, service, **extra)
        if self.echo_secrets:
            body["request"] = self.secret_dump(req)
        return json_response(code, body)

    def process(self, req: Recorded) -> Response:
        if req.method == "PUT" and req.path.startswith("/dms-uploads/"):
            return super().process(req)  # the upload URL carries its own signature
        token = self.bearer(req.headers)
        if token in self.expired_tokens:
            return self._error(
                req, 401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65601
            )
        if token is None or token not in self.tokens:
            return self._error(req, 401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        version = req.headers.get("linkedin-version")
        if not version:
            return self._error(
                req,
                400,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.",
            )
        if version not in ACTIVE_VERSIONS:
            return self._error(
                req, 426, "NONEXISTENT_VERSION", f"Requested version {version} is not active"
            )
        if req.headers.get("x-restli-protocol-version") != "2.0.0":
            return self._error(
                req,
                400,
                "ILLEGAL_ARGUMENT",
                "Rest.li protocol version 2.0.0 is required (X-Restli-Protocol-Version)",
            )
        return super().process(req)

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        return self._error(req, 404, "NOT_FOUND", f"No virtual resource found for {req.path}")

    # -- posts ----------------------------------------------------------------------------

    @route("POST", r"/rest/posts")
    def create_post(self, req: Recorded, match: re.Match[str]) -> Response:
        body = req.json
        if not isinstance(body, dict):
            return self._error(req, 400, "ILLEGAL_ARGUMENT", "Request body must be JSON")
        for key in ("author", "visibility", "distribution", "lifecycleState"):
            if key not in body:
                return self._error(
                    req,
                    422,
                    "FIELD_VALIDATION_ERROR",
                    f"/{key} :: field is required but not found and has no default value",
                )
        if body["author"] not in self.authors:
            return self._error(
                req,
                403,
                "ACCESS_DENIED",
                f"Not enough permissions to access: partnerApiPostsExternal.CREATE.20251101 "
                f"for author {body['author']}",
            )
        commentary = body.get("commentary", "")
        text = shown(commentary) if isinstance(commentary, str) else None
        if text is None:
            return self._error(
                req,
                422,
                "FIELD_VALIDATION_ERROR",
                "/commentary :: little text format error: unescaped reserved character",
            )
        if len(text) > MAX_COMMENTARY:
            return self._error(
                req,
                422,
                "FIELD_VALIDATION_ERROR",
                f"/commentary :: length {len(text)} exceeds the maximum allowed 3000",
            )
        content = body.get("content") or {}
        images = [content["media"]] if "media" in content else []
        images += (content.get("multiImage") or {}).get("images") or []
        with self._lock:
            self._calls += 1
            if self.daily_quota is not None and self._calls > self.daily_quota:
                return self._error(req, 429, "TOO_MANY_REQUESTS", _THROTTLE, 101)
            for image in images:
                stored = self._images.get(image.get("id", ""))
                if stored is None or not stored["uploaded"]:
                    return self._error(
                        req, 400, "ILLEGAL_ARGUMENT", f"Image {image.get('id')} is not AVAILABLE"
                    )
            for other in self._posts_by_urn.values():
                if other["author"] == body["author"] and other["commentary"] == commentary:
                    return self._error(
                        req,
                        422,
                        "DUPLICATE_POST",
                        f"Content is a duplicate of {other['id']}",
                        errorDetailType="com.linkedin.common.error.BadRequest",
                    )
            stored_post = self._store(body, self.now())
        self.record_post({**stored_post, "text": text})
        return Response(201, b"", {"x-restli-id": stored_post["id"]})

    def _store(self, body: dict[str, Any], at: float) -> dict[str, Any]:
        urn = f"urn:li:share:{next(self._ids)}"
        post = {
            "id": urn,
            "author": body["author"],
            "commentary": body.get("commentary", ""),
            "visibility": body.get("visibility", "PUBLIC"),
            "lifecycleState": "PUBLISHED",
            "createdAt": int(at * 1000),
            "lastModifiedAt": int(at * 1000),
            "publishedAt": int(at * 1000),
            "distribution": body.get("distribution", {"feedDistribution": "MAIN_FEED"}),
            "content": body.get("content") or {},
        }
        self._posts_by_urn[urn] = post
        return post

    @route("GET", r"/rest/posts/(?P<urn>urn(?::|%3A)li(?::|%3A).+)")
    def get_post(self, req: Recorded, match: re.Match[str]) -> Response:
        urn = unquote(match.group("urn"))
        with self._lock:
            post = self._posts_by_urn.get(urn)
        if post is None or post.get("_deleted"):
            return self._error(req, 404, "NOT_FOUND", f"Post {urn} not found")
        return json_response(200, {k: v for k, v in post.items() if not k.startswith("_")})

    @route("POST", r"/rest/posts/(?P<urn>urn(?::|%3A)li(?::|%3A).+)")
    def update_post(self, req: Recorded, match: re.Match[str]) -> Response:
        urn = unquote(match.group("urn"))
        if req.headers.get("x-restli-method", "").upper() != "PARTIAL_UPDATE":
            return self._error(
                req,
                400,
                "ILLEGAL_ARGUMENT",
                "Updating an entity requires the header X-RestLi-Method: PARTIAL_UPDATE",
            )
        body = req.json
        patch = body.get("patch") if isinstance(body, dict) else None
        changes = patch.get("$set") if isinstance(patch, dict) else None
        if not isinstance(changes, dict) or not changes:
            return self._error(
                req, 400, "ILLEGAL_ARGUMENT", 'Request body must be {"patch": {"$set": {...}}}'
            )
        for key in changes:
            if key not in _UPDATABLE:
                return self._error(
                    req, 400, "ILLEGAL_ARGUMENT", f"/{key} :: field cannot be partially updated"
                )
        text: str | None = None
        if "commentary" in changes:
            commentary = changes["commentary"]
            text = shown(commentary) if isinstance(commentary, str) else None
            if text is None:
                return self._error(
                    req,
                    422,
                    "FIELD_VALIDATION_ERROR",
                    "/commentary :: little text format error: unescaped reserved character",
                )
            if len(text) > MAX_COMMENTARY:
                return self._error(
                    req,
                    422,
                    "FIELD_VALIDATION_ERROR",
                    f"/commentary :: length {len(text)} exceeds the maximum allowed 3000",
                )
        with self._lock:
            post = self._posts_by_urn.get(urn)
            if post is None or post.get("_deleted"):
                return self._error(req, 404, "NOT_FOUND", f"Post {urn} not found")
            if post["author"] not in self.authors:
                return self._error(
                    req, 403, "ACCESS_DENIED", f"Not enough permissions to update {urn}"
                )
            post.update(changes)
            post["lastModifiedAt"] = int(self.now() * 1000)
            if text is not None:
                self.edits.append({"id": urn, "text": text})
                # The oracle `posts` shows what a reader sees now: the edited text.
                for seen in self._posts:
                    if seen.get("id") == urn:
                        seen.update(commentary=post["commentary"], text=text)
        return Response(204, b"")

    @route("GET", r"/rest/posts")
    def find_posts(self, req: Recorded, match: re.Match[str]) -> Response:
        if req.query.get("q") != "author" or req.headers.get("x-restli-method") != "FINDER":
            return self._error(
                req, 400, "ILLEGAL_ARGUMENT", "q=author with X-RestLi-Method: FINDER"
            )
        author = req.query.get("author", "")
        if author not in self.authors:
            return self._error(req, 403, "ACCESS_DENIED", f"Not enough permissions for {author}")
        count = min(100, int(req.query.get("count", "10")))
        start = int(req.query.get("start", "0"))
        with self._lock:
            mine = [
                {k: v for k, v in p.items() if not k.startswith("_")}
                for p in sorted(self._posts_by_urn.values(), key=lambda p: -p["createdAt"])
                if p["author"] == author and not p.get("_deleted")
            ]
        page = mine[start : start + count]
        return json_response(
            200, {"elements": page, "paging": {"start": start, "count": count, "total": len(mine)}}
        )

    # -- images ---------------------------------------------------------------------------

    @route("POST", r"/rest/images")
    def initialize_upload(self, req: Recorded, match: re.Match[str]) -> Response:
        if req.query.get("action") != "initializeUpload":
            return self._error(req, 400, "ILLEGAL_ARGUMENT", "action=initializeUpload is required")
        owner = ((req.json or {}).get("initializeUploadRequest") or {}).get("owner")
        if owner not in self.authors:
            return self._error(req, 403, "ACCESS_DENIED", f"Not enough permissions for {owner}")
        with self._lock:
            image_id = f"C4D10AQ{next(self._ids)}"
            urn = f"urn:li:image:{image_id}"
            self._images[urn] = {"owner": owner, "uploaded": False, "data": b""}
        return json_response(
            200,
            {
                "value": {
                    "uploadUrlExpiresAt": int((self.now() + 86400) * 1000),
                    "uploadUrl": f"{self.url}/dms-uploads/{quote(image_id)}/uploaded-image/0",
                    "image": urn,
                }
            },
        )

    @route("PUT", r"/dms-uploads/(?P<id>[^/]+)/uploaded-image/0")
    def upload(self, req: Recorded, match: re.Match[str]) -> Response:
        urn = f"urn:li:image:{unquote(match.group('id'))}"
        with self._lock:
            image = self._images.get(urn)
            if image is None or not req.body:
                return json_response(400, {"message": "bad upload"})
            image.update(uploaded=True, data=req.body)
        return Response(201, b"")


_UPDATABLE = frozenset(
    {"commentary", "contentCallToActionLabel", "contentLandingPage", "lifecycleState", "adContext"}
)
_THROTTLE = "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."


def _error(
    code: int, kind: str, message: str, service: int | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": code, "code": kind, "message": message, **extra}
    if service is not None:
        body["serviceErrorCode"] = service
    return body
