"""The Bluesky adapter against a real PDS (``@atproto/pds``), faults injected by a proxy.

Every record is read back from the PDS (``getRecord`` / ``listRecords``): the oracle for
"exactly once" is the number of records carrying a test's unique nonce, and the number of
``createRecord`` requests that reached the PDS. Skips when the PDS tier is not installed
(``bash tests/peers/bluesky/setup.sh``); fails instead with ``CMFLOW_REQUIRE_PDS=1``.
"""

from __future__ import annotations

import json
import re
import struct
import time
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from cmflow import config
from cmflow.errors import MissingSecret
from cmflow.http import Http
from cmflow.model import Media, Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult, Result
from cmflow.platforms.bluesky import TID_ALPHABET, Adapter, clock_id_for, make_tid
from cmflow.render import shorten_links
from tests.fakes.base import Fault, Recorded, Response
from tests.fakes.proxy import FaultProxy
from tests.peers.fixtures import BlueskyPeer, bluesky_pds  # noqa: F401

POST = "app.bsky.feed.post"
CREATE = r"/xrpc/com\.atproto\.repo\.createRecord$"
GET_RECORD = r"/xrpc/com\.atproto\.repo\.getRecord$"
SESSION = r"/xrpc/com\.atproto\.server\.createSession$"
TIMEOUT = 30


# -- helpers --------------------------------------------------------------------------
class Recorder:
    """The publisher's side, in memory: what the adapter reported, in order."""

    def __init__(self, handles: dict[str, Any], done: list[PartResult] | None = None) -> None:
        self.handles = handles
        self.done = list(done or [])
        self.started_at: datetime | None = None
        self.events: list[tuple[str, int]] = []

    def part_started(self, index: int) -> None:
        self.events.append(("started", index))
        self.started_at = datetime.now(UTC)

    def part_done(self, index: int, result: PartResult) -> None:
        assert index == len(self.done), "parts must be recorded in order"
        self.events.append(("done", index))
        self.done.append(result)


class Crash(Exception):
    """The process dies right after recording a part (T4/T15)."""


class CrashAfter(Recorder):
    def __init__(self, handles: dict[str, Any], after: int) -> None:
        super().__init__(handles)
        self.after = after

    def part_done(self, index: int, result: PartResult) -> None:
        super().part_done(index, result)
        if index == self.after:
            raise Crash


class EchoProxy(FaultProxy):
    """A proxy whose injected error bodies echo the caller's secrets, like careless servers
    do: ``{auth}`` becomes the bearer token, ``{password}`` the login password (raw and
    URL-encoded as ``{password_url}``)."""

    def fault_response(self, req: Recorded, fault: Fault) -> Response:
        body = fault.body
        token = req.headers.get("authorization", "").removeprefix("Bearer ")
        password = ""
        if isinstance(req.json, dict):
            password = str(req.json.get("password", ""))
        body = body.replace(b"{auth}", token.encode())
        body = body.replace(b"{password_url}", quote(password, safe="").encode())
        body = body.replace(b"{password}", password.encode())
        return Response(fault.code, body, dict(fault.headers))


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x00\x80\xff" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def nonce() -> str:
    return uuid.uuid4().hex[:10]


def rendered(*texts: str, language: str | None = None, **kw: Any) -> Rendered:
    parts = [Part(t) for t in texts]
    return Rendered("p", "bsky", "bluesky", parts, language=language, **kw)


def get_record(peer: BlueskyPeer, rkey: str) -> requests.Response:
    return requests.get(
        f"{peer.url}/xrpc/com.atproto.repo.getRecord",
        params={"repo": peer.did, "collection": POST, "rkey": rkey},
        timeout=TIMEOUT,
    )


def record_of(peer: BlueskyPeer, rkey: str) -> dict[str, Any]:
    resp = get_record(peer, rkey)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def records_containing(peer: BlueskyPeer, marker: str) -> list[dict[str, Any]]:
    """Every post in the account whose text contains `marker` (the exactly-once oracle)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"repo": peer.did, "collection": POST, "limit": "100"}
        if cursor:
            params["cursor"] = cursor
        resp = requests.get(
            f"{peer.url}/xrpc/com.atproto.repo.listRecords", params=params, timeout=TIMEOUT
        )
        assert resp.status_code == 200, resp.text
        data = resp.json()
        found += [r for r in data["records"] if marker in r["value"]["text"]]
        cursor = data.get("cursor")
        if not cursor or not data["records"]:
            return found


def leaks(result: Result, *secrets: str) -> list[str]:
    """Secrets (raw or URL-encoded) found anywhere in a Result."""
    text = repr(result)
    return [s for s in secrets if s and (s in text or quote(s, safe="") in text)]


@pytest.fixture
def proxy(bluesky_pds: BlueskyPeer) -> Iterator[EchoProxy]:  # noqa: F811
    with EchoProxy(bluesky_pds.url) as p:
        yield p


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(connect_timeout=2.0, read_timeout=10.0) as h:
        yield h


def make_adapter(
    tmp_path: Path, base_url: str, http: Http, password: str | None, handle: str = "marque.test"
) -> Adapter:
    (tmp_path / "channels.yaml").write_text(
        "channels:\n"
        "  bsky:\n"
        "    platform: bluesky\n"
        f"    handle: {handle}\n"
        "    password_env: CMFLOW_TEST_BSKY_PASSWORD\n"
        f"    base_url: {base_url}\n",
        encoding="utf-8",
    )
    channel = config.load(tmp_path).channels["bsky"]
    secrets = {"password_env": password} if password is not None else {}
    return Adapter(Context(channel, tmp_path, http, secrets))


@pytest.fixture
def adapter(
    tmp_path: Path,
    proxy: EchoProxy,
    http: Http,
    bluesky_pds: BlueskyPeer,  # noqa: F811
) -> Adapter:
    return make_adapter(tmp_path, proxy.url, http, bluesky_pds.app_password)


def tid_parts(tid: str) -> tuple[int, int]:
    value = 0
    for ch in tid:
        value = value * 32 + TID_ALPHABET.index(ch)
    return value >> 10, value & 0x3FF


# -- record keys ----------------------------------------------------------------------
def test_prepare_chooses_one_tid_per_part_before_any_call(tmp_path: Path) -> None:
    with Http() as http:
        a = make_adapter(tmp_path, "http://127.0.0.1:9", http, "unused")
        before = time.time_ns() // 1000
        handles = a.prepare(rendered("un", "deux", "trois"), "post-1|bsky|0")
        after = time.time_ns() // 1000
    rkeys = handles["rkeys"]
    assert json.loads(json.dumps(handles)) == handles  # storable in the claim as is
    assert len(rkeys) == 3 and len(set(rkeys)) == 3
    assert rkeys == sorted(rkeys)  # thread order is key order
    clock = clock_id_for("post-1|bsky|0")
    for i, tid in enumerate(rkeys):
        assert len(tid) == 13 and set(tid) <= set(TID_ALPHABET)
        assert tid[0] in TID_ALPHABET[:16]  # the top bit of a TID is 0
        micros, clock_id = tid_parts(tid)
        assert before + i <= micros <= after + i
        assert clock_id == clock
    assert make_tid(1_700_000_000_000_000, 5) < make_tid(1_700_000_000_000_001, 0)
    assert clock_id_for("post-1|bsky|0") != clock_id_for("post-2|bsky|0")


# -- what the PDS receives ----------------------------------------------------------------
def test_text_link_tag_and_mention_facets_use_utf8_byte_offsets(
    adapter: Adapter,
    bluesky_pds: BlueskyPeer,  # noqa: F811
) -> None:
    tag = nonce()
    url = (
        "https://exemple.fr/ateliers/2026/programme-complet-des-journees?"
        "utm_source=bsky&utm_medium=social"
    )
    source = (
        f"Café déjà prêt ☕️ 👩‍👩‍👧 à l'atelier ! Lisez {url} "
        f"#Événement #cm{tag}, avec @marque.test et @personne.invalid "
        "(voir aussi https://exemple.fr/faq#inscription)."
    )
    shown, links = shorten_links(source, 27)
    post = Rendered("p", "bsky", "bluesky", [Part(shown, links=links)], language="fr")
    progress = Recorder(adapter.prepare(post, "facets"))

    result = adapter.publish(post, progress)

    assert result.outcome is Outcome.PUBLISHED, result.reason
    rkey = progress.handles["rkeys"][0]
    got = record_of(bluesky_pds, rkey)
    record = got["value"]
    assert record["text"] == shown
    assert record["langs"] == ["fr"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["createdAt"])
    raw = shown.encode("utf-8")
    seen = []
    for facet in record["facets"]:
        index = facet["index"]
        [feature] = facet["features"]
        piece = raw[index["byteStart"] : index["byteEnd"]].decode("utf-8")
        seen.append((piece, feature["$type"].rsplit("#", 1)[1], feature))
    assert [(piece, kind) for piece, kind, _ in seen] == [
        ("exemple.fr/ateliers/2026/p…", "link"),
        ("#Événement", "tag"),
        (f"#cm{tag}", "tag"),
        ("@marque.test", "mention"),
        ("exemple.fr/faq#inscription", "link"),
    ]
    assert seen[0][2]["uri"] == url
    assert seen[1][2]["tag"] == "Événement"
    assert seen[2][2]["tag"] == f"cm{tag}"
    assert seen[3][2]["did"] == bluesky_pds.did
    assert seen[4][2]["uri"] == "https://exemple.fr/faq#inscription"
    # What the publisher records: the at:// uri, its cid, the public URL.
    [part] = result.parts
    assert part.id == f"at://{bluesky_pds.did}/{POST}/{rkey}" == got["uri"]
    assert part.extra == {"cid": got["cid"]}
    assert part.url == f"https://bsky.app/profile/marque.test/post/{rkey}"
    assert progress.events == [("started", 0), ("done", 0)]
    assert progress.done == result.parts


def test_image_is_uploaded_as_a_blob_with_its_alt_text(
    adapter: Adapter,
    proxy: EchoProxy,
    tmp_path: Path,
    bluesky_pds: BlueskyPeer,  # noqa: F811
) -> None:
    png = tiny_png()
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "bandeau").write_bytes(png)  # no extension: typed by its bytes
    part = Part(f"Le bandeau {nonce()}", media=[Media("media/bandeau", "Un bandeau bleu, 3×2")])
    post = Rendered("p", "bsky", "bluesky", [part])
    progress = Recorder(adapter.prepare(post, "image"))

    result = adapter.publish(post, progress)

    assert result.outcome is Outcome.PUBLISHED, result.reason
    [upload] = proxy.requests_to("POST", r"uploadBlob$")
    assert upload.headers["content-type"] == "image/png"
    assert upload.body == png
    embed = record_of(bluesky_pds, progress.handles["rkeys"][0])["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    [image] = embed["images"]
    assert image["alt"] == "Un bandeau bleu, 3×2"
    assert image["image"]["mimeType"] == "image/png"
    assert image["image"]["size"] == len(png)
    blob = requests.get(
        f"{bluesky_pds.url}/xrpc/com.atproto.sync.getBlob",
        params={"did": bluesky_pds.did, "cid": image["image"]["ref"]["$link"]},
        timeout=TIMEOUT,
    )
    assert blob.content == png


def test_thread_parts_reply_to_root_and_previous_part(
    adapter: Adapter,
    proxy: EchoProxy,
    bluesky_pds: BlueskyPeer,  # noqa: F811
) -> None:
    n = nonce()
    post = rendered(f"1/3 {n}", f"2/3 {n}", f"3/3 {n}")
    progress = Recorder(adapter.prepare(post, "thread"))

    result = adapter.publish(post, progress)

    assert result.outcome is Outcome.PUBLISHED, result.reason
    assert progress.events == [
        ("started", 0),
        ("done", 0),
        ("started", 1),
        ("done", 1),
        ("started", 2),
        ("done", 2),
    ]
    rkeys = progress.handles["rkeys"]
    records = [record_of(bluesky_pds, k) for k in rkeys]
    assert [r["value"]["text"] for r in records] == [f"1/3 {n}", f"2/3 {n}", f"3/3 {n}"]
    refs = [{"uri": r["uri"], "cid": r["cid"]} for r in records]
    assert "reply" not in records[0]["value"]
    assert records[1]["value"]["reply"] == {"root": refs[0], "parent": refs[0]}
    assert records[2]["value"]["reply"] == {"root": refs[0], "parent": refs[1]}
    assert [(p.id, p.extra["cid"]) for p in result.parts] == [(r["uri"], r["cid"]) for r in refs]
    assert proxy.count("POST", SESSION) == 1  # one session for the whole thread


@pytest.mark.parametrize("cid_recorded", [True, False])
def test_thread_resumes_after_the_recorded_part(
    tmp_path: Path,
    proxy: EchoProxy,
    bluesky_pds: BlueskyPeer,  # noqa: F811
    cid_recorded: bool,
) -> None:
    n = nonce()
    post = rendered(f"A {n}", f"B {n}", f"C {n}")
    with Http(read_timeout=10.0) as http:
        first = make_adapter(tmp_path, proxy.url, http, bluesky_pds.app_password)
        handles = first.prepare(post, "resume")
        with pytest.raises(Crash):  # the run dies right after part 1 was recorded
            first.publish(post, CrashAfter(handles, after=0))
    got0 = record_of(bluesky_pds, handles["rkeys"][0])
    extra = {"cid": got0["cid"]} if cid_recorded else {}
    part0 = PartResult(got0["uri"], "https://bsky.app/profile/marque.test/post/A", extra)
    creates_before = proxy.count("POST", CREATE)

    with Http(read_timeout=10.0) as http:  # the next run
        second = make_adapter(tmp_path, proxy.url, http, bluesky_pds.app_password)
        progress = Recorder(handles, done=[part0])
        result = second.publish(post, progress)

    assert result.outcome is Outcome.PUBLISHED, result.reason
    assert proxy.count("POST", CREATE) - creates_before == 2  # B and C only
    assert progress.events == [("started", 1), ("done", 1), ("started", 2), ("done", 2)]
    assert len(records_containing(bluesky_pds, n)) == 3
    root = {"uri": got0["uri"], "cid": got0["cid"]}
    b = record_of(bluesky_pds, handles["rkeys"][1])
    c = record_of(bluesky_pds, handles["rkeys"][2])
    assert b["value"]["reply"] == {"root": root, "parent": root}
    assert c["value"]["reply"] == {"root": root, "parent": {"uri": b["uri"], "cid": b["cid"]}}
    assert [p.id for p in result.parts] == [got0["uri"], b["uri"], c["uri"]]


# -- credentials ----------------------------------------------------------------------
def test_wrong_password_needs_reauth_and_is_tried_once(
    tmp_path: Path,
    proxy: EchoProxy,
    http: Http,
) -> None:
    password = "wrong-pass/word+1234"
    a = make_adapter(tmp_path, proxy.url, http, password)
    post = rendered(f"jamais {nonce()}")
    progress = Recorder(a.prepare(post, "wrong"))

    result = a.publish(post, progress)
    again = a.publish(post, progress)
    check = a.reconcile(post, progress)

    assert result.outcome is Outcome.FAILED and result.needs_reauth
    assert "AuthenticationRequired" in (result.reason or "")
    assert again.outcome is Outcome.FAILED and again.needs_reauth
    assert check.outcome is Outcome.UNKNOWN and check.needs_reauth
    assert leaks(result, password) == leaks(check, password) == []
    assert proxy.count("POST", SESSION) == 1  # at most one login attempt per run
    assert proxy.count("POST", CREATE) == 0
    assert progress.events == []


def test_echoed_password_and_session_token_never_reach_a_reason(
    proxy: EchoProxy,
    bluesky_pds: BlueskyPeer,  # noqa: F811
    tmp_path: Path,
    http: Http,
) -> None:
    # A login error that quotes the password, raw and URL-encoded.
    password = "pa ss/wörd+&=?"
    proxy.inject(
        "POST",
        SESSION,
        Fault.status(
            401,
            {"error": "AuthenticationRequired", "message": "bad {password} / {password_url}"},
        ),
    )
    post = rendered(f"fuite {nonce()}")
    with Http() as other:
        echoing = make_adapter(tmp_path, proxy.url, other, password)
        refused = echoing.publish(post, Recorder(echoing.prepare(post, "leak-1")))
    assert refused.outcome is Outcome.FAILED and refused.needs_reauth
    assert "bad *** / ***" in (refused.reason or ""), refused.reason
    assert leaks(refused, password) == []

    # A write error that quotes the access token (a fresh adapter: a fresh login).
    fresh = make_adapter(tmp_path, proxy.url, http, bluesky_pds.app_password)
    proxy.inject(
        "POST", CREATE, Fault.status(400, {"error": "InvalidRequest", "message": "jwt {auth}"})
    )
    failed = fresh.publish(post, Recorder(fresh.prepare(post, "leak-2")))
    [create] = proxy.requests_to("POST", CREATE)
    jwt = create.headers["authorization"].removeprefix("Bearer ")
    assert failed.outcome is Outcome.FAILED and not failed.needs_reauth
    assert "InvalidRequest: jwt ***" in (failed.reason or "")
    assert leaks(failed, jwt, bluesky_pds.app_password) == []


def test_invalid_session_token_needs_reauth(adapter: Adapter, proxy: EchoProxy) -> None:
    # The PDS answers a bad or expired access token with 400 InvalidToken/ExpiredToken.
    proxy.inject(
        "POST",
        CREATE,
        Fault.status(400, {"error": "ExpiredToken", "message": "Token has expired"}),
    )
    post = rendered(f"expiré {nonce()}")
    result = adapter.publish(post, Recorder(adapter.prepare(post, "expired")))
    assert result.outcome is Outcome.FAILED and result.needs_reauth
    assert proxy.count("POST", CREATE) == 0


def test_login_rate_limit_is_retry_later(adapter: Adapter, proxy: EchoProxy) -> None:
    reset = int(time.time()) + 240
    proxy.inject(
        "POST",
        SESSION,
        Fault.status(
            429,
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            {
                "RateLimit-Limit": "30",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(reset),
                "RateLimit-Policy": "30;w=300",
            },
        ),
    )
    post = rendered(f"plus tard {nonce()}")
    progress = Recorder(adapter.prepare(post, "429"))
    result = adapter.publish(post, progress)
    again = adapter.publish(post, progress)
    assert result.outcome is Outcome.RETRY and not result.needs_reauth
    assert result.retry_after is not None and 200 <= result.retry_after <= 240
    assert again.outcome is Outcome.RETRY
    assert len(proxy.requests_to("POST", SESSION)) == 1  # no second login in this run
    assert progress.events == []


def test_one_session_serves_every_call_of_the_run(
    adapter: Adapter,
    proxy: EchoProxy,
) -> None:
    for i in range(2):
        post = rendered(f"post {i} {nonce()}")
        progress = Recorder(adapter.prepare(post, f"run-{i}"))
        assert adapter.publish(post, progress).outcome is Outcome.PUBLISHED
        assert adapter.reconcile(post, Recorder(progress.handles)).outcome is Outcome.PUBLISHED
    assert proxy.count("POST", SESSION) == 1


def test_missing_password_raises_missing_secret(tmp_path: Path, proxy: EchoProxy) -> None:
    with Http() as http:
        a = make_adapter(tmp_path, proxy.url, http, None)
        post = rendered("x")
        with pytest.raises(MissingSecret, match="CMFLOW_TEST_BSKY_PASSWORD"):
            a.publish(post, Recorder(a.prepare(post, "k")))
    assert proxy.requests == []


def test_bad_claims_and_media_fail_before_any_call(
    adapter: Adapter, proxy: EchoProxy, tmp_path: Path
) -> None:
    post = rendered("x", "y")
    no_keys = adapter.publish(post, Recorder({"rkeys": ["3kabc"]}))
    assert no_keys.outcome is Outcome.FAILED and "record key" in (no_keys.reason or "")
    missing = Rendered("p", "bsky", "bluesky", [Part("x", media=[Media("media/nope.png")])])
    gone = adapter.publish(missing, Recorder(adapter.prepare(missing, "m")))
    assert gone.outcome is Outcome.FAILED and "media/nope.png does not exist" in (gone.reason or "")
    (tmp_path / "a.png").write_bytes(tiny_png())
    five = Rendered("p", "bsky", "bluesky", [Part("x", media=[Media("a.png")] * 5)])
    many = adapter.publish(five, Recorder(adapter.prepare(five, "5")))
    assert many.outcome is Outcome.FAILED and "at most 4" in (many.reason or "")
    assert proxy.requests == []


# -- outcomes of createRecord ---------------------------------------------------------
def test_record_refused_by_lexicon_is_failed_with_the_server_message(
    adapter: Adapter,
    bluesky_pds: BlueskyPeer,  # noqa: F811
) -> None:
    n = nonce()
    post = rendered(f"{n} " + "é" * 300)  # 311 graphemes
    progress = Recorder(adapter.prepare(post, "long"))
    result = adapter.publish(post, progress)
    assert result.outcome is Outcome.FAILED and not result.needs_reauth
    assert "grapheme too big (maximum 300, got 311)" in (result.reason or ""), result.reason
    assert records_containing(bluesky_pds, n) == []


def test_rate_limited_create_is_retry_with_retry_after(
    adapter: Adapter,
    proxy: EchoProxy,
) -> None:
    proxy.inject(
        "POST",
        CREATE,
        Fault.status(
            429, {"error": "RateLimitExceeded", "message": "slow down"}, {"Retry-After": "7"}
        ),
    )
    post = rendered(f"limité {nonce()}")
    result = adapter.publish(post, Recorder(adapter.prepare(post, "429-create")))
    assert result.outcome is Outcome.RETRY
    assert result.retry_after == pytest.approx(7, abs=1)
    assert proxy.count("POST", CREATE) == 0


@pytest.mark.parametrize(
    "fault",
    [
        Fault.after_commit_status(500, {"error": "InternalServerError"}),
        Fault.drop_after_commit(),
        Fault.stall_after_commit(3.0),
    ],
    ids=["500-after-commit", "dropped-after-commit", "timeout-after-commit"],
)
def test_landed_despite_an_error_is_adopted_through_get_record(
    tmp_path: Path,
    proxy: EchoProxy,
    bluesky_pds: BlueskyPeer,  # noqa: F811
    fault: Fault,
) -> None:
    n = nonce()
    post = rendered(f"arrivé {n}")
    with Http(read_timeout=1.5) as http:
        a = make_adapter(tmp_path, proxy.url, http, bluesky_pds.app_password)
        progress = Recorder(a.prepare(post, f"landed-{fault.kind}"))
        a.reconcile(post, Recorder(progress.handles))  # log in before the fault, off the clock
        proxy.inject("POST", CREATE, fault)
        result = a.publish(post, progress)

    assert result.outcome is Outcome.PUBLISHED, result.reason
    [record] = records_containing(bluesky_pds, n)
    assert result.parts[0].id == record["uri"]
    assert result.parts[0].extra == {"cid": record["cid"]}
    assert progress.done == result.parts
    assert proxy.count("POST", CREATE) == 1  # never resent
    assert proxy.count("GET", GET_RECORD) == 2  # the pre-check above, then the check


def test_500_before_commit_is_checked_then_resent_once_at_the_same_key(
    adapter: Adapter,
    proxy: EchoProxy,
    bluesky_pds: BlueskyPeer,  # noqa: F811
) -> None:
    n = nonce()
    post = rendered(f"renvoyé {n}")
    progress = Recorder(adapter.prepare(post, "resend"))
    proxy.inject("POST", CREATE, Fault.status(500, {"error": "InternalServerError"}))

    result = adapter.publish(post, progress)

    assert result.outcome is Outcome.PUBLISHED, result.reason
    [record] = records_containing(bluesky_pds, n)
    rkey = progress.handles["rkeys"][0]
    assert record["uri"].endswith(f"/{rkey}")
    sent = proxy.requests_to("POST", CREATE)
    assert len(sent) == 2 and sent[0].json["rkey"] == sent[1].json["rkey"] == rkey
    assert sent[0].json["record"] == sent[1].json["record"]
    assert [r.method for r in proxy.requests if "repo." in r.path] == ["POST", "GET", "POST"]


def test_unclear_check_gives_unknown_then_reconcile_and_publish(
    tmp_path: Path,
    proxy: EchoProxy,
    bluesky_pds: BlueskyPeer,  # noqa: F811
) -> None:
    n = nonce()
    post = rendered(f"incertain {n}")
    with Http(read_timeout=10.0) as http:
        a = make_adapter(tmp_path, proxy.url, http, bluesky_pds.app_password)
        handles = a.prepare(post, "unclear")
        proxy.inject("POST", CREATE, Fault.status(500))
        proxy.inject("GET", GET_RECORD, Fault.status(500))
        unknown = a.publish(post, Recorder(handles))
    assert unknown.outcome is Outcome.UNKNOWN, unknown.reason
    assert "HTTP 500" in (unknown.reason or "")
    assert proxy.count("POST", CREATE) == 0 and len(proxy.requests_to("POST", CREATE)) == 1

    with Http(read_timeout=10.0) as http:  # the next run: reconcile first
        b = make_adapter(tmp_path, proxy.url, http, bluesky_pds.app_password)
        progress = Recorder(handles)
        progress.started_at = datetime.now(UTC)
        assert b.reconcile(post, progress).outcome is Outcome.ABSENT
        assert b.publish(post, progress).outcome is Outcome.PUBLISHED
    assert len(records_containing(bluesky_pds, n)) == 1


# -- reconcile ------------------------------------------------------------------------
def test_reconcile_published_absent_unknown(
    adapter: Adapter,
    proxy: EchoProxy,
    bluesky_pds: BlueskyPeer,  # noqa: F811
) -> None:
    n = nonce()
    post = rendered(f"P1 {n}", f"P2 {n}")
    handles = adapter.prepare(post, "reconcile")
    with pytest.raises(Crash):  # part 1 recorded; part 2 never sent
        adapter.publish(post, CrashAfter(handles, after=0))
    part0 = PartResult(record_of(bluesky_pds, handles["rkeys"][0])["uri"])  # no cid: an old record

    # Part 1 in flight (the record missed it): found, with uri, cid and URL.
    found = adapter.reconcile(post, Recorder(handles))
    assert found.outcome is Outcome.PUBLISHED
    got = record_of(bluesky_pds, handles["rkeys"][0])
    assert [(p.id, p.extra, p.url) for p in found.parts] == [
        (
            got["uri"],
            {"cid": got["cid"]},
            f"https://bsky.app/profile/marque.test/post/{handles['rkeys'][0]}",
        )
    ]
    # Part 2 in flight: provably absent.
    absent = adapter.reconcile(post, Recorder(handles, done=[part0]))
    assert absent.outcome is Outcome.ABSENT and absent.parts == []
    # The PDS cannot tell: unknown, never absent.
    proxy.inject("GET", GET_RECORD, Fault.status(500, {"error": "InternalServerError"}))
    unclear = adapter.reconcile(post, Recorder(handles, done=[part0]))
    assert unclear.outcome is Outcome.UNKNOWN and "HTTP 500" in (unclear.reason or "")
