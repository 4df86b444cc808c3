"""The one sticky pull-request comment holding cmflow's per-channel preview.

GitHub REST API, issue comments (a PR is an issue for comments):
  GET   /repos/{owner}/{repo}/issues/{number}/comments?per_page=100   (paginated by `Link`)
  POST  /repos/{owner}/{repo}/issues/{number}/comments                {"body": ...}
  PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}           {"body": ...}
https://docs.github.com/en/rest/issues/comments

The comment is found again by a hidden marker on its first line, so each push updates it in
place. From a fork, `GITHUB_TOKEN` is read-only: the preview then goes to the job summary only
(GitHub answers 403 "Resource not accessible by integration"). Secondary rate limits answer
403/429 with `retry-after` or `x-ratelimit-reset`: waited out within a small budget.
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmflow.i18n import _

if TYPE_CHECKING:
    import requests

MARKER = "<!-- cmflow:preview -->"
MAX_BODY = 65_536  # GitHub refuses longer comment bodies (422)
API_VERSION = "2022-11-28"


class CommentError(Exception):
    """The comment could not be written; `reason` says why in words for the job log."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class PullRequest:
    api_url: str
    repository: str  # owner/name of the base repository
    number: int
    from_fork: bool


def pull_request_from_env(env: Mapping[str, str]) -> PullRequest | None:
    """The pull request of a `pull_request` workflow run, from the event payload."""
    event_path = env.get("GITHUB_EVENT_PATH")
    if not event_path:
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pr = event.get("pull_request") if isinstance(event, dict) else None
    if not isinstance(pr, dict) or not isinstance(pr.get("number"), int):
        return None
    head = ((pr.get("head") or {}).get("repo") or {}).get("full_name")
    base = ((pr.get("base") or {}).get("repo") or {}).get("full_name")
    repository = env.get("GITHUB_REPOSITORY") or base or ""
    return PullRequest(
        api_url=env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
        repository=repository,
        number=pr["number"],
        from_fork=bool(head and base and head != base),
    )


class Comments:
    """Create or update the sticky comment on one pull request."""

    def __init__(
        self,
        pr: PullRequest,
        token: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 60.0,
        timeout: float = 20.0,
        key: str = "",
    ) -> None:
        import requests

        # One sticky comment per key (an agency repository has one per brand).
        self.marker = f"<!-- cmflow:preview {key} -->" if key else MARKER
        self.pr = pr
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "cmflow",
            }
        )
        self.sleep = sleep
        self.waited = 0.0
        self.max_wait = max_wait
        self.timeout = timeout

    def upsert(self, body: str) -> tuple[str, str]:
        """Write `body` into the sticky comment: ("created" | "updated" | "unchanged", url)."""
        body = f"{self.marker}\n{body}"
        if len(body) > MAX_BODY:
            cut = "\n\n… " + _("(preview cut: the whole preview is in the job summary)")
            body = body[: MAX_BODY - len(cut)] + cut
        existing = self.find()
        base = f"{self.pr.api_url}/repos/{self.pr.repository}/issues"
        if existing is None:
            data = self._call("POST", f"{base}/{self.pr.number}/comments", {"body": body})
            return "created", str(data.get("html_url", ""))
        if existing.get("body") == body:
            return "unchanged", str(existing.get("html_url", ""))
        data = self._call("PATCH", f"{base}/comments/{existing['id']}", {"body": body})
        return "updated", str(data.get("html_url", ""))

    def find(self) -> dict[str, Any] | None:
        """The first comment carrying the marker, following `Link: rel="next"` pages."""
        url: str | None = (
            f"{self.pr.api_url}/repos/{self.pr.repository}/issues/{self.pr.number}"
            "/comments?per_page=100"
        )
        pages = 0
        while url and pages < 100:
            pages += 1
            resp = self._send("GET", url, None)
            items = resp.json()
            if not isinstance(items, list):
                raise CommentError(_("GitHub answered the comment list with something else"))
            for item in items:
                if not isinstance(item, dict):
                    continue
                if str(item.get("body", "")).split("\n", 1)[0] == self.marker:
                    found: dict[str, Any] = item
                    return found
            url = _next_link(resp.headers.get("Link", ""))
        return None

    def _call(self, method: str, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        data = self._send(method, url, payload).json()
        return data if isinstance(data, dict) else {}

    def _send(self, method: str, url: str, payload: dict[str, Any] | None) -> requests.Response:
        import requests

        while True:
            try:
                resp = self.session.request(method, url, json=payload, timeout=self.timeout)
            except requests.RequestException as exc:
                raise CommentError(
                    _("GitHub could not be reached ({error})").format(error=type(exc).__name__)
                ) from None
            wait = _rate_limit_wait(resp)
            if wait is not None and self.waited + wait <= self.max_wait:
                self.waited += wait
                self.sleep(wait)
                continue
            if resp.status_code < 400:
                return resp
            raise CommentError(_explain(resp), resp.status_code)


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        m = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', part)
        if m:
            return m.group(1)
    return None


def _rate_limit_wait(resp: requests.Response) -> float | None:
    """Seconds to wait when GitHub says it is a (secondary) rate limit, else None."""
    if resp.status_code not in (403, 429):
        return None
    h = resp.headers
    try:
        if "retry-after" in h:
            return max(0.0, float(h["retry-after"]))
        if h.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in h:
            return max(0.0, float(h["x-ratelimit-reset"]) - time.time())
    except ValueError:
        return 60.0
    if resp.status_code == 429:
        return 60.0
    text = resp.text.lower()
    return 60.0 if "secondary rate limit" in text else None


def _explain(resp: requests.Response) -> str:
    try:
        message = str(resp.json().get("message", ""))[:200]
    except ValueError:
        message = ""
    status = resp.status_code
    if status == 401:
        hint = _("the token was refused (GITHUB_TOKEN expired or not passed)")
    elif status == 403:
        hint = _(
            "the token may not write comments (a fork's pull request, or the workflow lacks "
            "`permissions: pull-requests: write`)"
        )
    elif status == 404:
        hint = _("the repository or pull request was not found with this token")
    elif status == 422:
        hint = _("GitHub refused the comment body")
    elif status == 429 or status == 403:
        hint = _("rate limited")
    else:
        hint = _("GitHub answered with an error")
    return f"{hint} (HTTP {status}{': ' + message if message else ''})"
