"""How long does publishing 200 (post, channel) pairs take when every request takes 100 ms?

    python bench/publish_bench.py

Runs `cmflow publish` in-process against loopback fakes (tests/fakes: Mastodon, Discord,
Telegram, Slack) that hold every write for 100 ms before answering, with 20 channels (five
per platform: think an agency's brand with several accounts) and 10 due posts each. Prints
the wall time next to 200 x 100 ms. Channels run concurrently; the posts of one channel go
in order (the platforms' own limits, 1 message/s on Telegram and Slack, make more
per-channel concurrency pointless).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cmflow import config as config_mod  # noqa: E402
from cmflow.publisher import publish  # noqa: E402
from cmflow.rules import BY_ID  # noqa: E402
from tests.fakes import FakeDiscord, FakeMastodon, FakeSlack, FakeTelegram  # noqa: E402
from tests.fakes.base import Fault  # noqa: E402

LATENCY = 0.1
PER_PLATFORM = 5
POSTS = 10


def main() -> None:
    with (
        FakeMastodon(token="bench-token") as masto,
        FakeDiscord() as discord,
        FakeTelegram(token="111:bench") as telegram,
        FakeSlack() as slack,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for fake in (masto, discord, telegram, slack):
            fake.rate_limit(None)
            fake.inject("POST", ".*", Fault.stall_after_commit(LATENCY), times=None)
        root = Path(tmp)
        env = dict(os.environ)
        channels: list[str] = []
        lines = ["timezone: Europe/Paris", "channels:"]
        for i in range(PER_PLATFORM):
            lines.append(
                f"  masto{i}: {{platform: mastodon, base_url: '{masto.url}', token_env: BENCH_MASTO}}"
            )
            discord.add_webhook(f"90{i}", f"tok{i}")
            env[f"BENCH_DISCORD{i}"] = discord.webhook_url_for(f"90{i}")
            lines.append(f"  discord{i}: {{platform: discord, webhook_env: BENCH_DISCORD{i}}}")
            telegram.add_chat(-100 - i)
            lines.append(
                f"  tg{i}: {{platform: telegram, base_url: '{telegram.url}', chat_id: '{-100 - i}', token_env: BENCH_TG}}"
            )
            env[f"BENCH_SLACK{i}"] = (
                f"{slack.url}/services/{slack.add_webhook(f'T{i}', f'B{i}', f'S{i}')}"
            )
            lines.append(f"  slack{i}: {{platform: slack, webhook_env: BENCH_SLACK{i}}}")
            channels += [f"masto{i}", f"discord{i}", f"tg{i}", f"slack{i}"]
        env["BENCH_MASTO"] = "bench-token"
        env["BENCH_TG"] = "111:bench"
        (root / "channels.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (root / "content").mkdir()
        for n in range(POSTS):
            (root / "content" / f"post-{n}.md").write_text(
                f"---\ndate: 2026-11-20 {8 + n:02d}:00\nchannels: [{', '.join(channels)}]\n---\n"
                f"Bonjour, voici le message numéro {n}. #bench\n",
                encoding="utf-8",
            )
        cfg = config_mod.load(root, set(BY_ID))
        t0 = time.perf_counter()
        report = publish(cfg, datetime(2026, 11, 20, 20, 0, tzinfo=UTC), env=env, workers=32)
        wall = time.perf_counter() - t0
        published = report.count("published")
        pairs = len(channels) * POSTS
        print(
            f"pairs published: {published}/{pairs} (others: {sorted({r.state for r in report.results} - {'published'})})"
        )
        print(
            f"wall time: {wall:.2f} s   serial time at {LATENCY * 1000:.0f} ms/request: {pairs * LATENCY:.1f} s"
        )
        print(f"= {wall / LATENCY:.1f}x one request's latency (target <= 10x)")


if __name__ == "__main__":
    main()
