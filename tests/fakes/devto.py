"""A loopback dev.to (Forem API v1) server, from `forem/forem` and its OpenAPI description.

- Auth by the `api-key` header: 401 `{"error": "unauthorized", "status": 401}` otherwise.
- `POST /api/articles` `{"article": {title, body_markdown, published, tags, series,
  canonical_url, description, main_image}}` answers 201 with the article. Validations from
  `app/models/article.rb`: a title ("Title can't be blank", at most 128), at most 4 tags ("Tag
  list exceed the maximum of 4 tags"), `body_markdown` unique per (user, title) ("Body
  markdown has already been taken"), `canonical_url` unique among published articles
  ("Canonical url has already been taken"). Errors: 422 `{"error": "...", "status": 422}`.
- `GET /api/articles/me/all` (`page`, `per_page`): the user's articles, newest first,
  published or not, with `body_markdown`.
- Writes throttled to 1 per second per key (`config/initializers/rack_attack.rb`): 429
  `{"error": "Rate limit reached, try again in 1 seconds", "status": 429}`, `Retry-After: 1`.
"""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime
from typing import Any

from .base import FakeServer, Recorded, Response, json_response, route


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "article"


class FakeDevto(FakeServer):
    def __init__(self, api_key: str = "devto-test-key", username: str = "marque") -> None:
        super().__init__(tokens=[api_key])
        self.api_key = api_key
        self.username = username
        self.write_interval = 1.0  # seconds between two writes of one key (0: no throttle)
        self._articles: list[dict[str, Any]] = []
        self._ids = itertools.count(2_100_000)
        self._last_write: dict[str, float] = {}

    def add_article(
        self, title: str, body: str, *, canonical_url: str | None = None, at: float | None = None
    ) -> dict[str, Any]:
        """An article written on dev.to by hand (or by an earlier tool)."""
        with self._lock:
            return self._store(
                {
                    "title": title,
                    "body_markdown": body,
                    "published": True,
                    "canonical_url": canonical_url,
                },
                at or self.now(),
            )

    def _error(self, req: Recorded, code: int, message: str, **headers: str) -> Response:
        body: dict[str, Any] = {"error": message, "status": code}
        if self.echo_secrets:
            body["request"] = {**self.secret_dump(req), "api-key": req.headers.get("api-key")}
        return json_response(code, body, headers)

    def process(self, req: Recorded) -> Response:
        key = req.headers.get("api-key")
        if key is None or key not in self.tokens:
            return self._error(req, 401, "unauthorized")
        if req.method != "GET" and self.write_interval:
            with self._lock:
                now = time.monotonic()
                last = self._last_write.get(key)
                if last is not None and now - last < self.write_interval:
                    return self._error(
                        req,
                        429,
                        "Rate limit reached, try again in 1 seconds",
                        **{"Retry-After": "1"},
                    )
                self._last_write[key] = now
        return super().process(req)

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        return self._error(req, 404, "not found")

    @route("POST", r"/api/articles")
    def create(self, req: Recorded, match: re.Match[str]) -> Response:
        article = (req.json or {}).get("article") if isinstance(req.json, dict) else None
        if not isinstance(article, dict):
            return self._error(req, 422, "param is missing or the value is empty: article")
        title = article.get("title")
        if not isinstance(title, str) or not title.strip():
            return self._error(req, 422, "Title can't be blank")
        if len(title) > 128:
            return self._error(req, 422, "Title is too long (maximum is 128 characters)")
        tags = article.get("tags") or []
        if isinstance(tags, str):
            tags = [t.strip() for t in tags.split(",") if t.strip()]
        if len(tags) > 4:
            return self._error(req, 422, "Tag list exceed the maximum of 4 tags")
        with self._lock:
            for other in self._articles:
                if other["title"] == title and other["body_markdown"] == article.get(
                    "body_markdown"
                ):
                    return self._error(req, 422, "Body markdown has already been taken")
                canonical = article.get("canonical_url")
                if (
                    canonical
                    and other["published"]
                    and other["canonical_url"] == canonical
                    and article.get("published")
                ):
                    return self._error(req, 422, "Canonical url has already been taken")
            stored = self._store({**article, "tags": tags}, self.now())
        self.record_post({**stored, "text": stored["body_markdown"]})
        return json_response(201, stored)

    def _store(self, article: dict[str, Any], at: float) -> dict[str, Any]:
        article_id = next(self._ids)
        slug = f"{_slug(article['title'])}-{article_id % 10000:04d}"
        stored = {
            "type_of": "article",
            "id": article_id,
            "title": article["title"],
            "body_markdown": article.get("body_markdown") or "",
            "published": bool(article.get("published")),
            "published_at": _iso(at) if article.get("published") else None,
            "created_at": _iso(at),
            "slug": slug,
            "path": f"/{self.username}/{slug}",
            "url": f"https://dev.to/{self.username}/{slug}",
            "canonical_url": article.get("canonical_url")
            or f"https://dev.to/{self.username}/{slug}",
            "tag_list": list(article.get("tags") or []),
            "series": article.get("series"),
        }
        self._articles.append(stored)
        return stored

    @route("GET", r"/api/articles/me/all")
    def mine(self, req: Recorded, match: re.Match[str]) -> Response:
        page = max(1, int(req.query.get("page", "1")))
        per_page = min(1000, max(1, int(req.query.get("per_page", "30"))))
        with self._lock:
            ordered = list(reversed(self._articles))
        chunk = ordered[(page - 1) * per_page : page * per_page]
        return json_response(200, chunk)
