"""How long does a report over one year of history take? 5,000 published (post, channel)
pairs, 6 snapshots each, followers daily, site traffic daily.

    python bench/report_bench.py

Writes a content repository (2,500 posts on Mastodon and Bluesky, one year) and its
metrics history (30,000 snapshot rows) in a temporary folder, then times `cmflow report`'s
library call (read the posts and the history, compute, render) for each format. Target: at
most 2 s per report on a 2-core machine.
"""

from __future__ import annotations

import csv
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cmflow import config as config_mod  # noqa: E402
from cmflow.metrics.store import ACCOUNT_COLUMNS, POST_COLUMNS, SITE_COLUMNS, stamp  # noqa: E402
from cmflow.report import build  # noqa: E402
from cmflow.rules import BY_ID  # noqa: E402

POSTS = 2500  # x 2 channels = 5,000 pairs
AGES = (("1h", 1), ("24h", 24), ("7d", 168), ("14d", 336), ("30d", 720), ("60d", 1440))
START = datetime(2025, 12, 1, tzinfo=UTC)

CONFIG = """\
timezone: Europe/Paris
language: fr
editorial_line:
  pillars: [education, community, product, coulisses]
metrics:
  schedule: [1h, 24h, 7d, 14d, 30d, 60d]
channels:
  mastodon: {platform: mastodon, base_url: "https://mastodon.example", token_env: BENCH_TOKEN}
  bluesky: {platform: bluesky, handle: marque.bsky.social, password_env: BENCH_PASSWORD}
competitors:
  rival: {bluesky: rival.bsky.social}
"""


def write_history(root: Path) -> None:
    rng = random.Random(7)
    (root / "channels.yaml").write_text(CONFIG, "utf-8")
    pillars = ["education", "community", "product", "coulisses"]
    campaigns = ["", "atelier", "lancement", "salon", "noel"]
    rows: dict[str, list[list[str]]] = {}
    for i in range(POSTS):
        published = START + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        pid = f"post-{i:05d}"
        folder = root / "content" / published.strftime("%Y/%m")
        folder.mkdir(parents=True, exist_ok=True)
        campaign = rng.choice(campaigns)
        media = "\nmedia:\n  - path: media/x.jpg\n    alt: une image" if i % 3 == 0 else ""
        (folder / f"{pid}.md").write_text(
            f"---\ndate: {published.strftime('%Y-%m-%dT%H:%M:%SZ')}\nchannels: [mastodon, bluesky]\n"
            f"id: {pid}\npillar: {rng.choice(pillars)}\n"
            + (f"campaign: {campaign}\n" if campaign else "")
            + f"{media}\n---\nPublication numéro {i} #bench\n",
            "utf-8",
        )
        for channel in ("mastodon", "bluesky"):
            base = rng.randrange(0, 40)
            for label, hours in AGES:
                collected = published + timedelta(hours=hours, minutes=5)
                grow = hours**0.3
                row = [
                    stamp(collected),
                    channel,
                    channel,
                    pid,
                    f"{i}{channel}",
                    f"https://social.example/{channel}/{pid}",
                    stamp(published),
                    label,
                    "ok",
                    str(int(base * grow)),
                    str(int(base * grow / 4)),
                    str(int(base * grow / 6)),
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
                rows.setdefault(collected.strftime("%Y-%m"), []).append(row)
    write_kind(root, "posts", POST_COLUMNS, rows)
    accounts: dict[str, list[list[str]]] = {}
    site: dict[str, list[list[str]]] = {}
    for day in range(400):
        t = START + timedelta(days=day, hours=6)
        for kind, name, platform, base in (
            ("brand", "mastodon", "mastodon", 1000),
            ("brand", "bluesky", "bluesky", 500),
            ("competitor", "rival", "bluesky", 3000),
        ):
            accounts.setdefault(t.strftime("%Y-%m"), []).append(
                [stamp(t), kind, name, platform, name, "ok", str(base + day * 3), "", "", ""]
            )
        for campaign in campaigns[1:]:
            d = (t - timedelta(days=1)).date().isoformat()
            site.setdefault(t.strftime("%Y-%m"), []).append(
                [
                    stamp(t),
                    d,
                    "mastodon",
                    "social",
                    campaign,
                    "ok",
                    str(rng.randrange(100)),
                    "5",
                    "1",
                    "",
                ]
            )
    write_kind(root, "accounts", ACCOUNT_COLUMNS, accounts)
    write_kind(root, "site", SITE_COLUMNS, site)


def write_kind(
    root: Path, kind: str, columns: tuple[str, ...], rows: dict[str, list[list[str]]]
) -> None:
    folder = root / "data" / "metrics" / kind
    folder.mkdir(parents=True, exist_ok=True)
    for month, items in rows.items():
        with (folder / f"{month}.csv").open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(columns)
            w.writerows(sorted(items))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_history(root)
        cfg = config_mod.load(root, set(BY_ID))
        now = datetime(2026, 12, 1, tzinfo=UTC)
        print(f"history: {POSTS * 2} pairs, {POSTS * 2 * len(AGES)} snapshots, one year")
        worst = 0.0
        for fmt in ("md", "html", "csv", "text"):
            out = root / "out" / f"report.{fmt}" if fmt == "md" else None
            t0, c0 = time.perf_counter(), time.process_time()
            text = build.run(cfg, "2025-12-01", "2026-11-30", [], [], fmt, out, now)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            worst = max(worst, elapsed)
            print(
                f"report --format {fmt:<4}: {elapsed:.2f} s wall, {cpu:.2f} s CPU ({len(text):,} characters)"
            )
        # On a shared machine the wall time includes waiting for a core: CPU time is the cost.
        print(f"slowest: {worst:.2f} s wall (target <= 2 s); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
