"""Loopback HTTP servers with fault injection: the common machinery of cmflow's platform fakes.

A fake is a real HTTP server on 127.0.0.1 (free port), served by a background thread, so an
adapter under test goes through its whole HTTP stack: connection errors, timeouts, status
codes, headers and bodies are the ones a client sees from a real platform. Nothing is patched.

`LoopbackServer` owns the socket, the threads, the request log and the fault queue.
`FakeServer` adds what every platform fake needs: routing, the created-posts oracle, bearer
auth, per-key rate limiting and the "echo secrets" switch used by leak tests.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.utils import collapse_rfc2231_value
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "FakeServer",
    "Fault",
    "FaultKind",
    "Headers",
    "LoopbackServer",
    "RateState",
    "Recorded",
    "Response",
    "UploadedFile",
    "after_commit_status",
    "drop_after_commit",
    "drop_before",
    "echo",
    "json_response",
    "route",
    "stall_after_commit",
    "status",
    "text_response",
]

FaultKind = Literal[
    "status",
    "after_commit_status",
    "drop_after_commit",
    "stall_after_commit",
    "drop_before",
    "echo",
    "add_headers",
]
EchoForm = Literal["raw", "url", "json", "json_slash", "base64", "lower"]
BodyLike = bytes | str | Mapping[str, Any] | list[Any]


def _body_bytes(body: BodyLike) -> tuple[bytes, str | None]:
    """Encode a body given as bytes, text or a JSON value; return it with its content type."""
    if isinstance(body, bytes):
        return body, None
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json; charset=utf-8"


@dataclass(frozen=True)
class Fault:
    """What to do to one matching request instead of (or after) the normal behaviour.

    Build one with the class methods (or the module-level functions of the same names):
    `status` answers without processing (nothing created); `after_commit_status` processes
    the request, then answers with another status (the "500 but posted" case);
    `drop_after_commit` processes, then closes the socket without a response;
    `stall_after_commit` processes, then waits `seconds` before answering normally (the
    client times out first); `drop_before` closes the socket without processing; `echo`
    answers `code` without processing, with a body in which `{authorization}` is replaced by
    the request's Authorization header (as some servers and proxies echo it); `add_headers`
    processes and answers normally, with extra response headers.
    """

    kind: FaultKind
    code: int = 0
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    echo_form: EchoForm = "raw"

    @property
    def commits(self) -> bool:
        """True when the request is processed (a post may be created) despite the fault."""
        return self.kind in (
            "after_commit_status",
            "drop_after_commit",
            "stall_after_commit",
            "add_headers",
        )

    @classmethod
    def _answer(
        cls, kind: FaultKind, code: int, body: BodyLike, headers: Mapping[str, str] | None
    ) -> Fault:
        data, ctype = _body_bytes(body)
        hdrs = dict(headers or {})
        if ctype and data and not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = ctype
        return cls(kind, code=code, body=data, headers=tuple(hdrs.items()))

    @classmethod
    def status(
        cls, code: int, body: BodyLike = b"", headers: Mapping[str, str] | None = None
    ) -> Fault:
        """Answer `code` without processing the request: nothing is created."""
        return cls._answer("status", code, body, headers)

    @classmethod
    def after_commit_status(
        cls, code: int, body: BodyLike = b"", headers: Mapping[str, str] | None = None
    ) -> Fault:
        """Process the request (the post is created), then answer `code` instead."""
        return cls._answer("after_commit_status", code, body, headers)

    @classmethod
    def drop_after_commit(cls) -> Fault:
        """Process the request, then close the connection without any response."""
        return cls("drop_after_commit")

    @classmethod
    def stall_after_commit(cls, seconds: float) -> Fault:
        """Process the request, then wait `seconds` before sending the normal answer."""
        return cls("stall_after_commit", seconds=seconds)

    @classmethod
    def echo(
        cls,
        code: int,
        template: str,
        form: EchoForm = "raw",
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer `code` without processing, `template` as the body, its `{target}` replaced
        by the request's path and query as sent, its `{authorization}` by the request's
        Authorization header in `form`:
        raw, URL-encoded, JSON-escaped (with `\\/` or not), base64 or lower-cased."""
        hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls("echo", code, template.encode(), tuple(hdrs.items()), echo_form=form)

    @classmethod
    def add_headers(cls, headers: Mapping[str, str]) -> Fault:
        """Process the request and answer normally, with these headers added."""
        return cls("add_headers", headers=tuple(headers.items()))

    @classmethod
    def drop_before(cls) -> Fault:
        """Close the connection without processing the request or answering."""
        return cls("drop_before")


status = Fault.status
after_commit_status = Fault.after_commit_status
drop_after_commit = Fault.drop_after_commit
stall_after_commit = Fault.stall_after_commit
drop_before = Fault.drop_before
echo = Fault.echo


def _echo_response(req: Recorded, fault: Fault) -> Response:
    """The body of an `echo` fault: the template with the Authorization header put in."""
    import base64
    from urllib.parse import quote

    value = req.headers.get("authorization", "")
    forms = {
        "raw": value,
        "url": quote(value, safe=""),
        "json": json.dumps(value)[1:-1],
        "json_slash": json.dumps(value)[1:-1].replace("/", "\\/"),
        "base64": base64.b64encode(value.encode()).decode(),
        "lower": value.lower(),
    }
    body = fault.body.decode().replace("{authorization}", forms[fault.echo_form])
    body = body.replace("{target}", req.target)  # the path as sent: Telegram's holds the token
    return Response(fault.code, body.encode(), dict(fault.headers))


class Headers(Mapping[str, str]):
    """Request headers: a read-only mapping with case-insensitive keys (stored lower-case)."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, str] = {}
        for key, value in items:
            k = key.lower()
            self._items[k] = f"{self._items[k]}, {value}" if k in self._items else value

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(eq=False)
class Recorded:
    """One request as the server received it, and what became of it.

    `query` and `form` keep the last value of each key; `query_all` and `form_all` keep all
    of them (e.g. Mastodon's repeated `media_ids[]`). `form` holds url-encoded fields and
    the text parts of a multipart body; `files` its file parts. `json` is the parsed body
    when it was sent as JSON (`json_error` is True when it did not parse).
    """

    method: str
    target: str  # request target as sent: path plus query string, percent-encoded
    path: str  # percent-decoded path without the query string
    query: dict[str, str]
    query_all: dict[str, list[str]]
    headers: Headers
    body: bytes
    content_type: str  # media type, lower-case, without parameters ("" when absent)
    json: Any = None
    json_error: bool = False
    form: dict[str, str] = field(default_factory=dict)
    form_all: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    received_at: float = 0.0  # time.time() on arrival
    fault: Fault | None = None  # the injected fault this request consumed, if any
    status: int | None = None  # the status sent back; None if dropped (or still running)
    response_body: bytes | None = None
    dropped: bool = False

    def param(self, name: str) -> Any:
        """A body parameter, from the JSON object or else the form (last value); else None."""
        if isinstance(self.json, dict):
            return self.json.get(name)
        return self.form.get(name)


@dataclass
class Response:
    """What a handler answers. `Content-Length` is added by the server."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(code: int, obj: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response."""
    hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return Response(code, json.dumps(obj).encode(), hdrs)


def text_response(
    code: int,
    text: str,
    headers: Mapping[str, str] | None = None,
    content_type: str = "text/plain; charset=utf-8",
) -> Response:
    """A text response."""
    return Response(code, text.encode(), {"Content-Type": content_type, **(headers or {})})


class _BadRequest(Exception):
    """The request could not even be read (malformed framing)."""


def _parse_multipart(
    body: bytes, boundary: str
) -> tuple[list[tuple[str, str]], list[UploadedFile]]:
    """Split a multipart/form-data body into text fields and file parts (RFC 7578)."""
    fields: list[tuple[str, str]] = []
    files: list[UploadedFile] = []
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    # chunks[0] is the preamble; the chunk after the last delimiter starts with "--".
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise _BadRequest("multipart part without a blank line after its headers")
        part = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
        raw_name = part.get_param("name", header="content-disposition")
        if raw_name is None:
            continue
        name = collapse_rfc2231_value(raw_name)
        filename = part.get_filename()
        ctype = part.get("content-type")
        if filename is not None or (ctype and not ctype.lower().startswith("text/plain")):
            files.append(UploadedFile(name, filename, ctype, data))
        else:
            charset = part.get_content_charset() or "utf-8"
            fields.append((name, data.decode(charset, errors="replace")))
    return fields, files


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        out = bytearray()
        while True:
            line = handler.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise _BadRequest("bad chunk size") from exc
            if size == 0:
                while handler.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(out)
            out += handler.rfile.read(size)
            handler.rfile.readline(65537)
    try:
        length = int(handler.headers.get("Content-Length") or 0)
    except ValueError as exc:
        raise _BadRequest("bad Content-Length") from exc
    return handler.rfile.read(length) if length > 0 else b""


def _read_request(handler: BaseHTTPRequestHandler) -> Recorded:
    target = handler.path
    parts = urlsplit(target)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    query_all = parse_qs(parts.query, keep_blank_values=True)
    headers = Headers(handler.headers.items())
    body = _read_body(handler)
    ctype_header = headers.get("content-type", "")
    content_type = ctype_header.split(";", 1)[0].strip().lower()
    rec = Recorded(
        method=handler.command.upper(),
        target=target,
        path=unquote(parts.path),
        query={k: v[-1] for k, v in query_all.items()},
        query_all=query_all,
        headers=headers,
        body=body,
        content_type=content_type,
        received_at=time.time(),
    )
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            rec.json = json.loads(body) if body else None
        except ValueError:
            rec.json_error = True
    elif content_type == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", errors="replace")
        rec.form_all = parse_qs(text, keep_blank_values=True)
    elif content_type == "multipart/form-data":
        boundary = _param(ctype_header, "boundary")
        if not boundary:
            raise _BadRequest("multipart body without a boundary")
        fields, files = _parse_multipart(body, boundary)
        for name, value in fields:
            rec.form_all.setdefault(name, []).append(value)
        rec.files = {f.name: f for f in files}
    rec.form = {k: v[-1] for k, v in rec.form_all.items()}
    return rec


def _param(header_value: str, name: str) -> str | None:
    """A parameter of a header such as `multipart/form-data; boundary="x"`."""
    for piece in header_value.split(";")[1:]:
        key, _, value = piece.strip().partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None


@dataclass
class _FaultRule:
    method: str
    pattern: re.Pattern[str]
    fault: Fault
    remaining: int | None  # None: forever


class _HTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its open connections and worker threads."""

    daemon_threads = True

    def __init__(self, owner: LoopbackServer) -> None:
        self.owner = owner
        self._track_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        assert isinstance(request, socket.socket)
        worker = threading.Thread(
            target=self._work,
            args=(request, client_address),
            name=f"{type(self.owner).__name__}-conn",
            daemon=True,
        )
        with self._track_lock:
            self._connections.add(request)
            self._workers.add(worker)
        worker.start()

    def _work(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._track_lock:
                self._connections.discard(request)
                self._workers.discard(threading.current_thread())

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        # Client-side disconnects are part of the tests; anything else is a bug in a fake
        # (handlers already turn their own exceptions into 500 + `errors`), so stay quiet.
        pass

    def close_connections(self, timeout: float) -> None:
        """Unblock workers waiting on idle keep-alive connections and wait for them."""
        with self._track_lock:
            connections = list(self._connections)
            workers = list(self._workers)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30.0  # a silent client must not pin a worker thread forever
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.owner._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 with a request log and a fault queue.

    Use it as a context manager: it listens on a free port on `__enter__` and shuts down,
    closing every socket and joining every thread, on `__exit__`. Subclasses implement
    `process(req) -> Response`.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._requests: list[Recorded] = []
        self._faults: list[_FaultRule] = []
        self._errors: list[BaseException] = []
        self._stop = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Added to time.time() wherever the platform keeps time for its data (idempotency
        # windows, created_at): `server.clock_offset += 3700` jumps an hour ahead.
        self.clock_offset: float = 0.0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._stop.clear()
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-serve",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stop.set()  # wakes stalled handlers, which then drop their connection
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections(timeout=5.0)
        if thread is not None:
            thread.join(5.0)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started: use it as a context manager")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. "http://127.0.0.1:41234" (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def now(self) -> float:
        """The platform's clock: time.time() plus `clock_offset`."""
        return time.time() + self.clock_offset

    # -- observation ----------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        """A snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path_regex: str) -> list[Recorded]:
        """Requests with this method whose path matches `path_regex` (re.search)."""
        pattern = re.compile(path_regex)
        return [
            r
            for r in self.requests
            if method in ("*", r.method) and pattern.search(r.path) is not None
        ]

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by the fake's own handlers (answered as 500): a bug in the fake."""
        with self._lock:
            return list(self._errors)

    # -- faults ---------------------------------------------------------------------------

    def inject(self, method: str, path_regex: str, fault: Fault, times: int | None = 1) -> None:
        """Apply `fault` to the next `times` requests (None: all) matching method and path.

        `method` is an HTTP method or "*"; `path_regex` is searched (re.search) in the
        percent-decoded path, without the query string: anchor it (^...$) for an exact
        match. Faults are consumed in injection order by the first request they match.
        """
        if times is not None and times < 1:
            raise ValueError("times must be >= 1, or None for every matching request")
        rule = _FaultRule(method.upper(), re.compile(path_regex), fault, times)
        with self._lock:
            self._faults.append(rule)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """How many injected faults are still waiting for a request (unlimited ones count 1)."""
        with self._lock:
            return sum(r.remaining or 1 for r in self._faults)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._faults:
                if rule.method in ("*", method) and rule.pattern.search(path):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._faults.remove(rule)
                    return rule.fault
        return None

    # -- request handling -----------------------------------------------------------------

    def process(self, req: Recorded) -> Response:
        """Do what the platform does with `req` and say what it answers."""
        raise NotImplementedError

    def fault_response(self, req: Recorded, fault: Fault) -> Response:
        """The answer sent for a `status` / `after_commit_status` fault."""
        return Response(fault.code, fault.body, dict(fault.headers))

    def _process_safely(self, req: Recorded) -> Response:
        try:
            return self.process(req)
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test
            with self._lock:
                self._errors.append(exc)
            return text_response(500, f"fake server error: {exc!r}")

    def _serve(self, handler: _Handler) -> None:
        try:
            req = _read_request(handler)
        except (_BadRequest, OSError) as exc:
            handler.close_connection = True
            if isinstance(exc, _BadRequest):
                self._send(handler, None, text_response(400, f"bad request: {exc}"))
            return
        fault = self._take_fault(req.method, req.path)
        req.fault = fault
        with self._lock:
            self._requests.append(req)
        if fault is not None and fault.kind == "drop_before":
            self._drop(handler, req)
            return
        if fault is not None and fault.kind == "status":
            self._send(handler, req, self.fault_response(req, fault))
            return
        if fault is not None and fault.kind == "echo":
            self._send(handler, req, _echo_response(req, fault))
            return
        response = self._process_safely(req)
        if fault is None:
            self._send(handler, req, response)
        elif fault.kind == "after_commit_status":
            self._send(handler, req, self.fault_response(req, fault))
        elif fault.kind == "add_headers":
            response.headers.update(dict(fault.headers))
            self._send(handler, req, response)
        elif fault.kind == "drop_after_commit":
            self._drop(handler, req)
        elif fault.kind == "stall_after_commit":
            if self._stop.wait(fault.seconds):
                self._drop(handler, req)  # shutting down: nobody is waiting any more
            else:
                self._send(handler, req, response)

    def _drop(self, handler: _Handler, req: Recorded) -> None:
        with self._lock:
            req.dropped = True
        handler.close_connection = True  # the server then closes the socket, unanswered

    def _send(self, handler: _Handler, req: Recorded | None, response: Response) -> None:
        if req is not None:
            with self._lock:
                req.status = response.status
                req.response_body = response.body
        try:
            handler.send_response(response.status)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    handler.send_header(key, value)
            no_body = response.status in (204, 304) or 100 <= response.status < 200
            if not no_body:
                handler.send_header("Content-Length", str(len(response.body)))
            handler.end_headers()
            if not no_body and handler.command != "HEAD":
                handler.wfile.write(response.body)
            handler.wfile.flush()
        except OSError:  # the client went away (timed out): nothing to tell it
            handler.close_connection = True


_F = TypeVar("_F", bound=Callable[..., Response])
RouteHandler = Callable[[Recorded, re.Match[str]], Response]


def route(method: str, pattern: str) -> Callable[[_F], _F]:
    """Mark a `FakeServer` method as the handler of `method` on paths fully matching `pattern`.

    The handler is called as `handler(req, match)` with the `re.Match` of the path.
    """

    def decorate(fn: _F) -> _F:
        routes: list[tuple[str, str]] = list(getattr(fn, "_fake_routes", ()))
        routes.append((method.upper(), pattern))
        setattr(fn, "_fake_routes", routes)  # noqa: B010 - a typed function has no such slot
        return fn

    return decorate


@dataclass(frozen=True)
class RateState:
    """The state of one rate-limit window after counting a request."""

    limit: int
    remaining: int
    reset_at: float  # epoch seconds (real clock) when the window resets
    exceeded: bool  # True when this request is past the limit

    @property
    def reset_after(self) -> float:
        return max(0.0, self.reset_at - time.time())

    @property
    def retry_after_int(self) -> int:
        """Whole seconds to wait, rounded up (at least 1), as in `Retry-After` headers."""
        return max(1, math.ceil(self.reset_after))


@dataclass
class _Window:
    count: int
    reset_at: float


class FakeServer(LoopbackServer):
    """Base of the platform fakes: routing, created-posts oracle, auth, rate limits, leaks.

    Subclasses mark handler methods with `@route(method, regex)` and call `record_post`
    when the platform would have created something.
    """

    #: (limit, reset_in seconds) applied when the fake starts; None: no rate limiting.
    default_rate_limit: tuple[int, float] | None = None

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        super().__init__()
        self.tokens: set[str] = set(tokens)
        # Leak tests: when True, error bodies carry the request's secrets (Authorization
        # header, URL with its token), as platforms' request dumps do in practice.
        self.echo_secrets = False
        self._posts: list[dict[str, Any]] = []
        self._rate: tuple[int, float] | None = self.default_rate_limit
        self._windows: dict[str, _Window] = {}
        self._routes: list[tuple[str, re.Pattern[str], RouteHandler]] = []
        for name in dir(type(self)):
            fn = getattr(type(self), name, None)
            for method, pattern in getattr(fn, "_fake_routes", ()):
                self.add_route(method, pattern, getattr(self, name))

    # -- the oracle -----------------------------------------------------------------------

    @property
    def created(self) -> int:
        """How many posts the platform actually created (whatever the client was told)."""
        with self._lock:
            return len(self._posts)

    @property
    def posts(self) -> list[dict[str, Any]]:
        """The created posts (platform entities as first returned), in creation order."""
        with self._lock:
            return list(self._posts)

    def record_post(self, post: dict[str, Any]) -> None:
        with self._lock:
            self._posts.append(post)

    # -- routing --------------------------------------------------------------------------

    def add_route(self, method: str, pattern: str, handler: RouteHandler) -> None:
        """Serve `method` on paths fully matching `pattern` with `handler(req, match)`."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def process(self, req: Recorded) -> Response:
        path_matched = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            path_matched = True
            if method in ("*", req.method):
                return handler(req, match)
        return self.not_found(req, method_not_allowed=path_matched)

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        """The answer for a path (or method) the fake does not serve."""
        if method_not_allowed:
            return json_response(405, {"error": "Method not allowed"})
        return json_response(404, {"error": "Not found"})

    # -- auth -----------------------------------------------------------------------------

    @staticmethod
    def bearer(headers: Mapping[str, str]) -> str | None:
        """The token of an `Authorization: Bearer <token>` header, if any."""
        value = headers.get("authorization") or headers.get("Authorization") or ""
        scheme, _, token = value.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def auth_ok(self, headers: Mapping[str, str]) -> bool:
        """True when the request carries `Authorization: Bearer <one of self.tokens>`."""
        token = self.bearer(headers)
        return token is not None and token in self.tokens

    # -- rate limits ----------------------------------------------------------------------

    def rate_limit(self, limit: int | None, reset_in: float = 60.0) -> None:
        """Allow `limit` requests per key per window of `reset_in` s (None: unlimited).

        Windows start at a key's first request and use the real clock, so that reset
        headers make sense to a client. Calling this again resets every window.
        """
        with self._lock:
            self._rate = None if limit is None else (limit, reset_in)
            self._windows.clear()

    def take_rate(self, key: str) -> RateState | None:
        """Count one request against `key`'s window; None when rate limiting is off."""
        with self._lock:
            if self._rate is None:
                return None
            limit, reset_in = self._rate
            now = time.time()
            window = self._windows.get(key)
            if window is None or now >= window.reset_at:
                window = self._windows[key] = _Window(0, now + reset_in)
            window.count += 1
            return RateState(
                limit=limit,
                remaining=max(0, limit - window.count),
                reset_at=window.reset_at,
                exceeded=window.count > limit,
            )

    # -- secrets --------------------------------------------------------------------------

    def secret_dump(self, req: Recorded) -> dict[str, Any]:
        """A request dump, secrets included, as some platforms put in error bodies."""
        return {
            "method": req.method,
            "url": self.url + req.target,
            "authorization": req.headers.get("authorization"),
        }

    def fault_response(self, req: Recorded, fault: Fault) -> Response:
        response = super().fault_response(req, fault)
        if self.echo_secrets and not fault.body and fault.code >= 400:
            response = json_response(
                fault.code,
                {"error": "injected fault", "request": self.secret_dump(req)},
                dict(fault.headers),
            )
        return response
