"""The real Bluesky PDS tier works: plain ``requests`` against ``@atproto/pds``.

These tests document the PDS behaviours cmflow relies on (app-password sessions,
client-chosen rkeys, RecordNotFound, 401 on a bad password, blobs and image embeds).
They skip when Node/node_modules are missing (run tests/peers/bluesky/setup.sh), and
fail instead with CMFLOW_REQUIRE_PDS=1.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.peers.bluesky_pds import PdsServer
from tests.peers.fixtures import BlueskyPeer, bluesky_pds, skip_unless_pds  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parent.parent
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable
TIMEOUT = 30


# -- helpers --------------------------------------------------------------------------
def make_tid(micros: int | None = None, clock_id: int = 0) -> str:
    """An atproto TID: 53-bit microsecond timestamp + 10-bit clock id, 13 chars."""
    if micros is None:
        micros = time.time_ns() // 1000
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    return "".join(TID_ALPHABET[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


_last_tid_micros = 0


def next_tid() -> str:
    global _last_tid_micros
    micros = max(time.time_ns() // 1000, _last_tid_micros + 1)
    _last_tid_micros = micros
    return make_tid(micros, clock_id=7)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))  # red RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def xrpc(
    peer: BlueskyPeer,
    method: str,
    *,
    jwt: str | None = None,
    json_body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {jwt}"} if jwt else {}
    url = f"{peer.url}/xrpc/{method}"
    if json_body is None:
        return requests.get(url, params=params, headers=headers, timeout=TIMEOUT)
    return requests.post(url, json=json_body, headers=headers, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def session(bluesky_pds: BlueskyPeer) -> dict[str, Any]:  # noqa: F811
    """One app-password session for the module (createSession costs ~0.4 s)."""
    resp = xrpc(
        bluesky_pds,
        "com.atproto.server.createSession",
        json_body={"identifier": bluesky_pds.handle, "password": bluesky_pds.app_password},
    )
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


# -- the tier itself ------------------------------------------------------------------
def test_make_tid_shape() -> None:
    tid = make_tid(1_700_000_000_000_000, 0)
    assert len(tid) == 13
    assert set(tid) <= set(TID_ALPHABET)
    assert tid[0] in TID_ALPHABET[:16]  # top bit is 0
    assert make_tid(1) < make_tid(2) < make_tid(1_700_000_000_000_000)


def test_server_is_loopback_and_healthy(bluesky_pds: BlueskyPeer) -> None:  # noqa: F811
    assert bluesky_pds.url.startswith("http://127.0.0.1:")
    assert bluesky_pds.plc_url.startswith("http://127.0.0.1:")
    health = requests.get(f"{bluesky_pds.url}/xrpc/_health", timeout=TIMEOUT)
    assert health.status_code == 200
    assert health.json() == {"version": "0.4.217"}
    assert bluesky_pds.handle == "marque.test"
    assert bluesky_pds.did.startswith("did:plc:")
    # The DID really lives in the PLC directory the PDS registered it with.
    doc = requests.get(f"{bluesky_pds.plc_url}/{bluesky_pds.did}", timeout=TIMEOUT)
    assert doc.status_code == 200
    assert "at://marque.test" in doc.json()["alsoKnownAs"]


def test_create_session_with_app_password(
    bluesky_pds: BlueskyPeer,  # noqa: F811
    session: dict[str, Any],
) -> None:
    assert session["did"] == bluesky_pds.did
    assert session["handle"] == bluesky_pds.handle
    assert session["accessJwt"] and session["refreshJwt"]
    me = xrpc(bluesky_pds, "com.atproto.server.getSession", jwt=session["accessJwt"])
    assert me.status_code == 200, me.text
    assert me.json()["did"] == bluesky_pds.did


def test_wrong_password_is_401(bluesky_pds: BlueskyPeer) -> None:  # noqa: F811
    resp = xrpc(
        bluesky_pds,
        "com.atproto.server.createSession",
        json_body={"identifier": bluesky_pds.handle, "password": "wrong-pass-word-0000"},
    )
    assert resp.status_code == 401
    assert resp.json()["error"] == "AuthenticationRequired"


def test_create_record_with_client_rkey_then_get_it(
    bluesky_pds: BlueskyPeer,  # noqa: F811
    session: dict[str, Any],
) -> None:
    rkey = next_tid()
    record = {
        "$type": "app.bsky.feed.post",
        "text": "Hello from cmflow 👋",
        "langs": ["en"],
        "createdAt": now_iso(),
    }
    created = xrpc(
        bluesky_pds,
        "com.atproto.repo.createRecord",
        jwt=session["accessJwt"],
        json_body={
            "repo": bluesky_pds.did,
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": record,
        },
    )
    assert created.status_code == 200, created.text
    uri = created.json()["uri"]
    assert uri == f"at://{bluesky_pds.did}/app.bsky.feed.post/{rkey}"

    got = xrpc(
        bluesky_pds,
        "com.atproto.repo.getRecord",
        params={"repo": bluesky_pds.did, "collection": "app.bsky.feed.post", "rkey": rkey},
    )
    assert got.status_code == 200, got.text
    assert got.json()["uri"] == uri
    assert got.json()["cid"] == created.json()["cid"]
    assert got.json()["value"]["text"] == "Hello from cmflow 👋"

    # The same rkey cannot be created twice (what makes publishing exactly-once possible),
    # but the real PDS answers a 500, not a 4xx: its log says "There is already a value at
    # key: app.bsky.feed.post/<rkey>". A client must look the rkey up (getRecord) to know.
    again = xrpc(
        bluesky_pds,
        "com.atproto.repo.createRecord",
        jwt=session["accessJwt"],
        json_body={
            "repo": bluesky_pds.did,
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": record,
        },
    )
    assert again.status_code == 500, again.text
    assert again.json()["error"] == "InternalServerError"
    unchanged = xrpc(
        bluesky_pds,
        "com.atproto.repo.getRecord",
        params={"repo": bluesky_pds.did, "collection": "app.bsky.feed.post", "rkey": rkey},
    )
    assert unchanged.json()["cid"] == created.json()["cid"]


def test_get_record_for_unused_rkey_is_record_not_found(
    bluesky_pds: BlueskyPeer,  # noqa: F811
) -> None:
    resp = xrpc(
        bluesky_pds,
        "com.atproto.repo.getRecord",
        params={
            "repo": bluesky_pds.did,
            "collection": "app.bsky.feed.post",
            "rkey": make_tid(1_000_000, 1),  # a 1970 TID nobody used
        },
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "RecordNotFound"


def test_upload_blob_then_post_with_image_and_alt_text(
    bluesky_pds: BlueskyPeer,  # noqa: F811
    session: dict[str, Any],
) -> None:
    png = tiny_png()
    uploaded = requests.post(
        f"{bluesky_pds.url}/xrpc/com.atproto.repo.uploadBlob",
        data=png,
        headers={"Authorization": f"Bearer {session['accessJwt']}", "Content-Type": "image/png"},
        timeout=TIMEOUT,
    )
    assert uploaded.status_code == 200, uploaded.text
    blob = uploaded.json()["blob"]
    assert blob["$type"] == "blob"
    assert blob["mimeType"] == "image/png"
    assert blob["size"] == len(png)

    rkey = next_tid()
    created = xrpc(
        bluesky_pds,
        "com.atproto.repo.createRecord",
        jwt=session["accessJwt"],
        json_body={
            "repo": bluesky_pds.did,
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": {
                "$type": "app.bsky.feed.post",
                "text": "A red square",
                "createdAt": now_iso(),
                "embed": {
                    "$type": "app.bsky.embed.images",
                    "images": [
                        {
                            "alt": "A 2×2 red square",
                            "image": blob,
                            "aspectRatio": {"width": 2, "height": 2},
                        }
                    ],
                },
            },
        },
    )
    assert created.status_code == 200, created.text

    got = xrpc(
        bluesky_pds,
        "com.atproto.repo.getRecord",
        params={"repo": bluesky_pds.did, "collection": "app.bsky.feed.post", "rkey": rkey},
    )
    assert got.status_code == 200, got.text
    image = got.json()["value"]["embed"]["images"][0]
    assert image["alt"] == "A 2×2 red square"
    assert image["image"]["ref"]["$link"] == blob["ref"]["$link"]

    # The blob is now referenced by a record: the PDS serves it back byte for byte.
    fetched = requests.get(
        f"{bluesky_pds.url}/xrpc/com.atproto.sync.getBlob",
        params={"did": bluesky_pds.did, "cid": blob["ref"]["$link"]},
        timeout=TIMEOUT,
    )
    assert fetched.status_code == 200
    assert fetched.content == png


# -- the helper and the fixture's skip/fail contract ------------------------------------
@pytest.fixture
def extra_server() -> Iterator[PdsServer]:
    skip_unless_pds()
    with PdsServer({"PDS_RATE_LIMITS_ENABLED": "true"}) as server:
        yield server


def test_pds_server_stops_cleanly(extra_server: PdsServer) -> None:
    pid = extra_server.pid
    assert pid is not None
    url = extra_server.url
    assert requests.get(f"{url}/xrpc/_health", timeout=TIMEOUT).status_code == 200
    # Rate limits were requested through the environment: the PDS announces them.
    resp = requests.post(
        f"{url}/xrpc/com.atproto.server.createSession",
        json={"identifier": "nobody.test", "password": "x"},
        timeout=TIMEOUT,
    )
    assert "ratelimit-limit" in {k.lower() for k in resp.headers}
    extra_server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/xrpc/_health", timeout=5)
    assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


_FIXTURE_PROBE = textwrap.dedent(
    """
    from tests.peers.fixtures import bluesky_pds  # noqa: F401

    def test_probe(bluesky_pds):
        pass
    """
)


@pytest.mark.parametrize(("require", "outcome"), [("", "skipped"), ("1", "error")])
def test_fixture_without_node_skips_or_fails(tmp_path: Path, require: str, outcome: str) -> None:
    (tmp_path / "test_probe.py").write_text(_FIXTURE_PROBE)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {
        **os.environ,
        "PATH": str(empty_bin),  # no node on PATH
        "PYTHONPATH": str(REPO_ROOT),
        "CMFLOW_REQUIRE_PDS": require,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    assert f"1 {outcome}" in output, output
    assert "node not found" in output, output
    if require:
        assert "CMFLOW_REQUIRE_PDS=1" in output, output
