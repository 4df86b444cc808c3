"""A loopback GitHub REST API: the issue-comments endpoints a pull-request check uses.

Follows https://docs.github.com/en/rest/issues/comments:
- `GET /repos/{owner}/{repo}/issues/{n}/comments?per_page=&page=` lists oldest first,
  `per_page` capped at 100, with a `Link` header (`rel="next"`, `rel="last"`) when more pages;
- `POST /repos/{owner}/{repo}/issues/{n}/comments` `{"body"}` → 201 with the comment;
- `PATCH /repos/{owner}/{repo}/issues/comments/{id}` `{"body"}` → 200;
- 401 `Bad credentials` without a valid token, 403 `Resource not accessible by integration`
  for a read-only token (a fork's), 404 `Not Found` for an unknown repository or issue, 422
  `Validation Failed` for a missing or too long body (65,536 characters);
- secondary rate limit: 403 with `retry-after` and the documented message.
Every error body is `{"message", "documentation_url"}` (and `errors` for 422).
"""

from __future__ import annotations

import re
from typing import Any

from .base import FakeServer, Recorded, Response, json_response, route

MAX_BODY = 65_536
DOCS = "https://docs.github.com/rest/issues/comments"


class FakeGitHub(FakeServer):
    def __init__(self, repository: str = "marque/contenus", *, per_page_cap: int = 100) -> None:
        self.write_tokens: set[str] = {"ghs_writeTOKEN0123456789abcdefABCDEF"}
        self.read_tokens: set[str] = {"ghs_readONLYtoken0123456789abcdefABC"}
        super().__init__(tokens=self.write_tokens | self.read_tokens)
        self.repository = repository
        self.per_page_cap = per_page_cap
        self.issues: dict[int, list[dict[str, Any]]] = {}
        self._next_id = 1000

    @property
    def write_token(self) -> str:
        return next(iter(self.write_tokens))

    @property
    def read_token(self) -> str:
        return next(iter(self.read_tokens))

    def open_pull_request(self, number: int, comments: list[str] = ()) -> None:  # type: ignore[assignment]
        with self._lock:
            self.issues[number] = []
        for body in comments:
            self._add(number, body, "someone")

    def comments(self, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self.issues.get(number, [])]

    def _add(self, number: int, body: str, user: str) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            cid = self._next_id
            comment = {
                "id": cid,
                "body": body,
                "user": {"login": user, "type": "Bot" if user.endswith("[bot]") else "User"},
                "html_url": f"https://github.com/{self.repository}/pull/{number}#issuecomment-{cid}",
                "issue_url": f"{self.url}/repos/{self.repository}/issues/{number}",
            }
            self.issues[number].append(comment)
            return dict(comment)

    # -- plumbing -----------------------------------------------------------------------

    def _error(self, code: int, message: str, **extra: Any) -> Response:
        return json_response(code, {"message": message, "documentation_url": DOCS, **extra})

    def _check(self, req: Recorded, owner: str, repo: str, *, write: bool) -> Response | None:
        token = self.bearer(req.headers)
        if token is None or token not in self.tokens:
            return self._error(401, "Bad credentials")
        if f"{owner}/{repo}" != self.repository:
            return self._error(404, "Not Found")
        state = self.take_rate(f"token:{token}")
        if state is not None and state.exceeded:
            return json_response(
                403,
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few "
                    "minutes before you try again.",
                    "documentation_url": DOCS,
                },
                {"retry-after": str(state.retry_after_int)},
            )
        if write and token not in self.write_tokens:
            return self._error(403, "Resource not accessible by integration")
        return None

    def _body(self, req: Recorded) -> str | Response:
        body = req.json.get("body") if isinstance(req.json, dict) else None
        if not isinstance(body, str) or not body:
            return self._error(
                422, "Validation Failed", errors=[{"field": "body", "code": "missing_field"}]
            )
        if len(body) > MAX_BODY:
            return self._error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "IssueComment",
                        "code": "custom",
                        "field": "body",
                        "message": "body is too long (maximum is 65536 characters)",
                    }
                ],
            )
        return body

    @route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/issues/(?P<n>\d+)/comments")
    def list_comments(self, req: Recorded, m: re.Match[str]) -> Response:
        denied = self._check(req, m["owner"], m["repo"], write=False)
        if denied:
            return denied
        number = int(m["n"])
        with self._lock:
            items = self.issues.get(number)
        if items is None:
            return self._error(404, "Not Found")
        per_page = min(int(req.query.get("per_page", "30")), self.per_page_cap)
        page = int(req.query.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        headers: dict[str, str] = {}
        base = f"{self.url}/repos/{self.repository}/issues/{number}/comments?per_page={per_page}"
        links = []
        if page < last:
            links.append(f'<{base}&page={page + 1}>; rel="next"')
            links.append(f'<{base}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}&page={page - 1}>; rel="prev"')
        if links:
            headers["Link"] = ", ".join(links)
        return json_response(200, chunk, headers)

    @route("POST", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/issues/(?P<n>\d+)/comments")
    def create_comment(self, req: Recorded, m: re.Match[str]) -> Response:
        denied = self._check(req, m["owner"], m["repo"], write=True)
        if denied:
            return denied
        number = int(m["n"])
        if number not in self.issues:
            return self._error(404, "Not Found")
        body = self._body(req)
        if isinstance(body, Response):
            return body
        comment = self._add(number, body, "github-actions[bot]")
        self.record_post(comment)
        return json_response(201, comment)

    @route("PATCH", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/issues/comments/(?P<id>\d+)")
    def update_comment(self, req: Recorded, m: re.Match[str]) -> Response:
        denied = self._check(req, m["owner"], m["repo"], write=True)
        if denied:
            return denied
        body = self._body(req)
        if isinstance(body, Response):
            return body
        with self._lock:
            for items in self.issues.values():
                for c in items:
                    if c["id"] == int(m["id"]):
                        c["body"] = body
                        return json_response(200, dict(c))
        return self._error(404, "Not Found")
