"""How long does collecting metrics for 1,000 published pairs per platform take when every
request takes 100 ms, and does it stay within the platforms' rate limits?

    python bench/metrics_bench.py

Loopback Mastodon and Bluesky AppView fakes (tests/fakes) answer every request after
100 ms, with their documented rate limits (Mastodon 300 requests / 5 min per account,
X-RateLimit-* headers; the AppView RateLimit-* headers). 1,000 pairs are due on each
platform. Mastodon statuses are read 20 per request (GET /api/v1/statuses?id[]=, 4.3+),
Bluesky posts 25 per getPosts call, a few requests in flight at once. Target: each
platform within 15 x 100 ms, no 429.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cmflow import config as config_mod  # noqa: E402
from cmflow.metrics.collect import collect  # noqa: E402
from cmflow.rules import BY_ID  # noqa: E402
from tests import metrics_repo as mr  # noqa: E402
from tests.fakes import FakeMastodon  # noqa: E402
from tests.fakes.appview import FakeAppView  # noqa: E402

LATENCY = float(os.environ.get("BENCH_LATENCY", "0.1"))
PAIRS = 1000
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def main() -> None:
    with (
        FakeMastodon(token=mr.TOKEN) as masto,
        FakeAppView() as appview,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for platform in ("mastodon", "bluesky"):
            root = mr.make(Path(tmp) / platform, masto.url, appview.url)
            for i in range(PAIRS):
                if platform == "mastodon":
                    sid = str(900_000_000 + i)
                    with masto._lock:  # seed statuses directly: publishing 1,000 would take a while
                        masto._statuses[sid] = {
                            "id": sid,
                            "favourites_count": i % 17,
                            "reblogs_count": 1,
                            "replies_count": 0,
                            "account": {"id": masto.account_id},
                            "created_at": "2026-11-24T10:00:00.000Z",
                        }
                    ids = [sid]
                else:
                    ids = [appview.add_post(mr.HANDLE, f"3k{i:011d}", likes=i % 13)]
                mr.record(root, f"p{i:04d}", platform, platform, ids, NOW - timedelta(hours=2))
            masto.rate_limit(300, 300.0)
            appview.rate_limit(3000, 300.0)
            masto.latency = appview.latency = LATENCY
            server = masto if platform == "mastodon" else appview
            before = len(server.requests)
            cfg = config_mod.load(root, set(BY_ID))
            t0 = time.perf_counter()
            report = collect(cfg, NOW, env={mr.TOKEN_ENV: mr.TOKEN})
            elapsed = time.perf_counter() - t0
            masto.latency = appview.latency = 0.0
            asked = server.requests[before:]
            run = next(r for r in report.channels if r.channel == platform)
            limited = sum(1 for r in asked if r.status == 429)
            print(
                f"{platform:<8}: {PAIRS} pairs, {run.counts.get('ok', 0)} read, {len(asked)} requests, "
                f"{limited} answered 429, {elapsed:.2f} s = {elapsed / LATENCY:.1f} x latency (target <= 15)"
            )
        print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
