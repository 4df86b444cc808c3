"""What the loopback Meta servers (Facebook Page, Instagram, Threads) share, after
developers.facebook.com/docs/graph-api:

- Every path starts with a version (`/v25.0/...`); the token is the `access_token` query or
  form parameter (`Authorization: Bearer` is accepted too). No token: code 104; a token the
  server does not know: code 190; an expired one: code 190 with subcode 463
  (`guides/error-handling`).
- Errors are `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`.
- Usage headers: `X-App-Usage` or `X-Business-Use-Case-Usage` (JSON percentages) on every
  answer; `throttle()` makes the server answer the documented throttling error with 100 %
  usage and an `estimated_time_to_regain_access` (minutes, BUC header only).
- Lists are newest first with `paging.cursors.after` and `paging.next`.
- `StaticSite` is the public web server the site is deployed to: the Instagram and Threads
  fakes fetch `image_url` from it over loopback, as Meta does ("We cURL media").
"""

from __future__ import annotations

import json
import mimetypes
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .base import FakeServer, LoopbackServer, Recorded, Response, json_response, text_response

VERSION_RE = r"/v\d+\.\d+"


def graph_time(ts: float) -> str:
    """Graph's timestamp format: `2026-12-02T05:00:00+0000`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    type_: str = "OAuthException",
    subcode: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {
        "message": message,
        "type": type_,
        "code": code,
        "fbtrace_id": "A" + secrets.token_hex(8),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return json_response(status, {"error": error}, headers)


@dataclass
class Fetched:
    """What the platform got when it fetched an image URL."""

    url: str
    status: int
    content_type: str
    data: bytes


def fetch(url: str, timeout: float = 5.0) -> Fetched:
    """GET `url` as Meta's crawler would (loopback only in tests)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            ctype = answer.headers.get("Content-Type", "").split(";")[0].strip()
            return Fetched(url, answer.status, ctype, answer.read())
    except urllib.error.HTTPError as exc:
        return Fetched(url, exc.code, "", b"")
    except (urllib.error.URLError, OSError):
        return Fetched(url, 0, "", b"")


class FakeGraph(FakeServer):
    """Graph API plumbing: version prefix, token parameter, usage headers, throttling."""

    usage_header = "X-App-Usage"
    throttle_code = 4
    throttle_message = "(#4) Application request limit reached"

    def __init__(self, token: str) -> None:
        super().__init__([token])
        self.token = token
        self.expired: set[str] = set()  # tokens answered with 190/463
        self.usage = 12  # percentage shown in the usage header
        self.regain_minutes = 0
        self.throttled = False
        self._ids = 17_841_400_000_000_000
        self._id_lock = threading.Lock()

    # -- ids and clock --

    def new_id(self) -> str:
        with self._id_lock:
            self._ids += 1
            return str(self._ids)

    # -- usage and throttling --

    def throttle(self, regain_minutes: int = 0) -> None:
        """From now on, answer every call with the throttling error and 100 % usage."""
        self.throttled = True
        self.usage = 100
        self.regain_minutes = regain_minutes

    def unthrottle(self) -> None:
        self.throttled = False
        self.usage = 12
        self.regain_minutes = 0

    def usage_headers(self) -> dict[str, str]:
        usage = {"call_count": self.usage, "total_cputime": 5, "total_time": 5}
        if self.usage_header.lower() == "x-business-use-case-usage":
            entry = {"type": self.buc_type, **usage}
            entry["estimated_time_to_regain_access"] = self.regain_minutes
            return {self.usage_header: json.dumps({self.business_id: [entry]})}
        return {self.usage_header: json.dumps(usage)}

    buc_type = "pages"
    business_id = "112233445566"

    # -- request handling --

    @staticmethod
    def access_token(req: Recorded) -> str | None:
        token = req.query.get("access_token") or req.form.get("access_token")
        return token or FakeServer.bearer(req.headers)

    def process(self, req: Recorded) -> Response:
        response = self._process(req)
        headers = {**response.headers, **self.usage_headers()}
        return Response(response.status, response.body, headers)

    def _process(self, req: Recorded) -> Response:
        token = self.access_token(req)
        if not token:
            return graph_error(400, 104, "An access token is required to request this resource.")
        if token in self.expired:
            return graph_error(
                400,
                190,
                "Error validating access token: Session has expired on Tuesday, "
                "01-Dec-26 10:00:00 PST. The current time is Wednesday, 02-Dec-26 06:00:00 PST.",
                subcode=463,
            )
        if token not in self.tokens:
            return graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        if self.throttled:
            return graph_error(
                400, self.throttle_code, self.throttle_message, type_="OAuthException"
            )
        return super().process(req)

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        return graph_error(
            400,
            100,
            f"Unsupported {req.method.lower()} request. Object does not exist, cannot be loaded "
            "due to missing permissions, or does not support this operation.",
            type_="GraphMethodException",
            subcode=33,
        )

    @staticmethod
    def param_error(message: str, subcode: int | None = None) -> Response:
        return graph_error(400, 100, f"(#100) {message}", subcode=subcode)

    # -- lists --

    def page_of(
        self,
        req: Recorded,
        path: str,
        items: list[dict[str, Any]],
        fields: tuple[str, ...],
    ) -> Response:
        """Newest first, `limit` (default 25, max 100) per page, `after` cursor = offset."""
        try:
            limit = max(1, min(100, int(req.query.get("limit", "25"))))
            start = int(req.query.get("after", "0") or "0")
        except ValueError:
            return self.param_error("Param limit/after must be an integer")
        wanted = [f for f in req.query.get("fields", "id").split(",") if f]
        unknown = [f for f in wanted if f not in fields]
        if unknown:
            return graph_error(
                400,
                100,
                f"(#100) Tried accessing nonexisting field ({unknown[0]})",
                type_="OAuthException",
            )
        chosen = items[start : start + limit]
        data = [{k: item[k] for k in ["id", *wanted] if k in item} for item in chosen]
        body: dict[str, Any] = {"data": data}
        if chosen:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + limit)}}
            if start + limit < len(items):
                query = urlencode(
                    {
                        "fields": ",".join(wanted),
                        "limit": str(limit),
                        "after": str(start + limit),
                        "access_token": self.access_token(req) or "",
                    }
                )
                body["paging"]["next"] = f"{self.url}{path}?{query}"
        return json_response(200, body)


class ContainerProcessing:
    """Asynchronous container processing: IN_PROGRESS, then FINISHED or ERROR once the
    image was fetched (after `delay` seconds), EXPIRED on demand, PUBLISHED when published."""

    def __init__(self, owner: FakeGraph, status_field: str) -> None:
        self.owner = owner
        self.status_field = status_field
        self.containers: dict[str, dict[str, Any]] = {}
        self.delay = 0.0
        # Cleared: containers stay IN_PROGRESS until it is set again (to stop a run mid-flow).
        self.release = threading.Event()
        self.release.set()
        self.fetched: list[Fetched] = []
        self.lock = threading.Lock()

    def create(
        self,
        fields: dict[str, Any],
        check: Callable[[Fetched], str | None] | None,
    ) -> dict[str, Any]:
        ident = self.owner.new_id()
        container = {"id": ident, self.status_field: "IN_PROGRESS", "created": time.time()}
        container.update(fields)
        with self.lock:
            self.containers[ident] = container
        children = fields.get("children_ids") or []
        threading.Thread(target=self._process, args=(ident, check, children), daemon=True).start()
        return container

    def _process(
        self, ident: str, check: Callable[[Fetched], str | None] | None, children: list[str]
    ) -> None:
        if self.delay:
            time.sleep(self.delay)
        self.release.wait(60)
        problem: str | None = None
        url = self.containers[ident].get("image_url")
        if url and check is not None:
            got = fetch(str(url))
            with self.lock:
                self.fetched.append(got)
            problem = check(got)
        for child in children:
            deadline = time.time() + 10
            while self.status(child) == "IN_PROGRESS" and time.time() < deadline:
                time.sleep(0.02)
            if self.status(child) != "FINISHED":
                problem = f"carousel item {child} is {self.status(child)}"
        with self.lock:
            container = self.containers[ident]
            if container[self.status_field] == "IN_PROGRESS":
                container[self.status_field] = "ERROR" if problem else "FINISHED"
                container["error_message"] = problem

    def status(self, ident: str) -> str | None:
        with self.lock:
            c = self.containers.get(ident)
            return str(c[self.status_field]) if c else None

    def get(self, ident: str) -> dict[str, Any] | None:
        with self.lock:
            c = self.containers.get(ident)
            return dict(c) if c else None

    def set_status(self, ident: str, status: str) -> None:
        with self.lock:
            self.containers[ident][self.status_field] = status

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.containers)

    def wait_settled(self, timeout: float = 10.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if all(c[self.status_field] != "IN_PROGRESS" for c in self.containers.values()):
                    return
            time.sleep(0.02)


def image_check(types: tuple[str, ...]) -> Callable[[Fetched], str | None]:
    """The platform's verdict on a fetched image: None when usable, else the error."""

    def check(got: Fetched) -> str | None:
        if got.status != 200:
            return f"ERROR: could not fetch {got.url} (HTTP {got.status or 'unreachable'})"
        if got.content_type not in types:
            return f"ERROR: unsupported image type {got.content_type or 'none'}"
        magic = {
            "image/jpeg": b"\xff\xd8\xff",
            "image/png": b"\x89PNG\r\n\x1a\n",
        }
        if not any(got.data.startswith(magic[t]) for t in types if t in magic):
            return "ERROR: the file is not a valid image"
        return None

    return check


class StaticSite(LoopbackServer):
    """The public web server a site is deployed to: serves files under `root` (GET, HEAD)
    with a content type from their suffix; 404 otherwise."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def process(self, req: Recorded) -> Response:
        if req.method not in ("GET", "HEAD"):
            return text_response(405, "method not allowed")
        path = (self.root / req.path.lstrip("/")).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            return text_response(404, "not found")
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Response(200, path.read_bytes(), {"Content-Type": ctype})

    def hits(self, suffix: str) -> int:
        return sum(1 for r in self.requests if r.path.endswith(suffix))
