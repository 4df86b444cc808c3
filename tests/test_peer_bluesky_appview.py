"""Against a real Bluesky network (PLC, PDS and AppView on PostgreSQL and Redis): another
account likes, reposts and follows, and `cmflow metrics collect` sees it in the counts.

The AppView indexes asynchronously: counts are polled until they show. Skipped, saying
why, where the tier is not installed (tests/peers/appview/setup.sh); CI sets
CMFLOW_REQUIRE_APPVIEW=1 where it must run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import metrics_repo as mr
from tests.conftest import run_cli, write_repo
from tests.peers.bluesky_appview import Network, unavailable

REASON = unavailable()
if REASON and os.environ.get("CMFLOW_REQUIRE_APPVIEW") == "1":
    raise RuntimeError(f"CMFLOW_REQUIRE_APPVIEW=1 but {REASON}")
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.fixture(scope="session")
def network() -> Iterator[Network]:
    with Network() as net:
        yield net


def xrpc(
    base: str,
    nsid: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    **params: Any,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is None:
        r = requests.get(f"{base}/xrpc/{nsid}", params=params, headers=headers, timeout=30)
    else:
        r = requests.post(f"{base}/xrpc/{nsid}", json=body, headers=headers, timeout=30)
    assert r.status_code == 200, (nsid, r.status_code, r.text)
    return r.json()


def account(net: Network, name: str) -> dict[str, Any]:
    handle = f"{name}{int(time.time() * 1000) % 10_000_000}.test"
    return xrpc(
        net.pds,
        "com.atproto.server.createAccount",
        {"handle": handle, "email": f"{handle}@example.org", "password": "hunter2-long-enough"},
    )


def create(
    net: Network, who: dict[str, Any], collection: str, record: dict[str, Any]
) -> dict[str, Any]:
    record = {
        "$type": collection,
        "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        **record,
    }
    return xrpc(
        net.pds,
        "com.atproto.repo.createRecord",
        {"repo": who["did"], "collection": collection, "record": record},
        token=who["accessJwt"],
    )


def test_likes_reposts_and_followers_from_another_account_are_collected(
    tmp_path: Path, network: Network
) -> None:
    brand, fan = account(network, "marque"), account(network, "fan")
    post = create(
        network,
        brand,
        "app.bsky.feed.post",
        {"text": "Atelier community management", "langs": ["fr"]},
    )
    subject = {"uri": post["uri"], "cid": post["cid"]}
    create(network, fan, "app.bsky.feed.like", {"subject": subject})
    create(network, fan, "app.bsky.feed.repost", {"subject": subject})
    create(network, fan, "app.bsky.graph.follow", {"subject": brand["did"]})

    deadline = time.monotonic() + 30
    while True:  # the AppView indexes from the PDS firehose, asynchronously
        views = xrpc(network.appview, "app.bsky.feed.getPosts", uris=[post["uri"]])["posts"]
        if views and views[0]["likeCount"] == 1 and views[0]["repostCount"] == 1:
            break
        assert time.monotonic() < deadline, f"the AppView never counted the like: {views}"
        time.sleep(0.3)

    root = write_repo(
        tmp_path / "repo",
        {},
        config=f"""\
timezone: Europe/Paris
metrics:
  appview: {network.appview}
channels:
  bluesky:
    platform: bluesky
    base_url: {network.pds}
    handle: {brand["handle"]}
    password_env: CMFLOW_BLUESKY_APP_PASSWORD
""",
    )
    now = datetime.now(UTC)
    mr.record(root, "atelier", "bluesky", "bluesky", [post["uri"]], now - timedelta(hours=2))
    deadline = time.monotonic() + 30
    while True:  # the follow may be indexed after the like
        result = run_cli(["metrics", "collect", "--at", mr.iso(now)], root)
        assert result.exit_code == 0, result.output
        accounts = mr.rows(root, "accounts")
        if accounts and accounts[-1]["followers"] == "1":
            break
        assert time.monotonic() < deadline, accounts
        for f in (root / "data" / "metrics" / "accounts").glob("*.csv"):
            f.unlink()  # read followers again on the next try
        now += timedelta(seconds=1)
    (row,) = mr.rows(root, "posts")
    assert (row["status"], row["age"], row["likes"], row["reposts"], row["replies"]) == (
        "ok",
        "1h",
        "1",
        "1",
        "0",
    )
