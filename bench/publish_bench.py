"""How long does publishing 200 (post, channel) pairs take when every request takes 100 ms?

    python bench/publish_bench.py [--runs N] [--profile]

Runs `cmflow publish` in-process against loopback fakes (tests/fakes: Mastodon, Discord,
Telegram, Slack) that hold every write for 100 ms before answering, with 20 channels (five
per platform, each its own account: think an agency's brand with several accounts) and 10
due posts each. Channels run concurrently; the posts of one channel go in order (the
platforms' own limits, 1 message/s on Telegram and Slack, make more per-channel concurrency
pointless), so ten requests in a row on one channel, 10x the latency, is the floor.

Prints, for the best run and the median of `--runs` (default 5, each on a fresh
repository), the wall time in units of one request's latency (target: at most 12x), and
where the time goes, read from the fakes' request log: from the start of the run to each
channel's first request (validation, record and plan, timed apart as a dry run; then the
first claim), each channel's turnaround
between the answer to one post and the request for the next (what cmflow adds per post:
reading the answer, writing the record, building the next request, waiting for the
interpreter's lock), and from the last answer to the end of the run. The CPU time is the
whole process's, the fakes' included (they share the interpreter). `--profile` adds a
cProfile of the best run's threads (the fakes' threads excluded), top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cmflow import config as config_mod  # noqa: E402
from cmflow.publisher import publish  # noqa: E402
from cmflow.rules import BY_ID  # noqa: E402
from tests.fakes import FakeDiscord, FakeMastodon, FakeSlack, FakeTelegram  # noqa: E402
from tests.fakes.base import Fault, LoopbackServer  # noqa: E402

LATENCY = 0.1
PER_PLATFORM = 5
POSTS = 10
TARGET = 12.0


@dataclass
class Run:
    wall: float
    cpu: float
    published: int
    pairs: int
    others: list[str]
    first: list[float] = field(default_factory=list)  # per channel: start -> first request
    turnaround: list[float] = field(default_factory=list)  # per post after the first
    tail: float = 0.0  # last answer -> end of run
    dry: float = 0.0  # a dry run: validation, record, plan
    profiles: list[cProfile.Profile] = field(default_factory=list)


def _channel_of(fake: LoopbackServer, req: Any) -> str:
    """Which bench channel sent `req`: its token, webhook or chat."""
    if isinstance(fake, FakeMastodon):
        return str(req.headers.get("Authorization", ""))
    if isinstance(fake, FakeTelegram):
        return str(req.param("chat_id"))
    return str(req.path)


def start_platforms(stack: ExitStack) -> tuple[dict[str, Any], list[LoopbackServer]]:
    """The four fakes, slowed down, with their 20 accounts; and what cmflow needs to know
    of them (channels.yaml lines, environment, channel names), as JSON data."""
    masto = stack.enter_context(FakeMastodon(token="bench-token-0"))
    discord = stack.enter_context(FakeDiscord())
    telegram = stack.enter_context(FakeTelegram(token="111:bench"))
    slack = stack.enter_context(FakeSlack())
    fakes: list[LoopbackServer] = [masto, discord, telegram, slack]
    for fake in fakes:
        fake.rate_limit(None)
        fake.inject("POST", ".*", Fault.stall_after_commit(LATENCY), times=None)
    env: dict[str, str] = {"BENCH_TG": "111:bench"}
    channels: list[str] = []
    lines = ["timezone: Europe/Paris", "channels:"]
    for i in range(PER_PLATFORM):
        masto.tokens.add(f"bench-token-{i}")
        env[f"BENCH_MASTO{i}"] = f"bench-token-{i}"
        lines.append(
            f"  masto{i}: {{platform: mastodon, base_url: '{masto.url}', "
            f"token_env: BENCH_MASTO{i}}}"
        )
        discord.add_webhook(f"90{i}", f"tok{i}")
        env[f"BENCH_DISCORD{i}"] = discord.webhook_url_for(f"90{i}")
        lines.append(f"  discord{i}: {{platform: discord, webhook_env: BENCH_DISCORD{i}}}")
        telegram.add_chat(-100 - i)
        lines.append(
            f"  tg{i}: {{platform: telegram, base_url: '{telegram.url}', "
            f"chat_id: '{-100 - i}', token_env: BENCH_TG}}"
        )
        env[f"BENCH_SLACK{i}"] = (
            f"{slack.url}/services/{slack.add_webhook(f'T{i}', f'B{i}', f'S{i}')}"
        )
        lines.append(f"  slack{i}: {{platform: slack, webhook_env: BENCH_SLACK{i}}}")
        channels += [f"masto{i}", f"discord{i}", f"tg{i}", f"slack{i}"]
    return {"lines": lines, "env": env, "channels": channels}, fakes


def request_log(fakes: list[LoopbackServer]) -> list[tuple[str, float]]:
    """Every write the fakes received: (channel, arrival time)."""
    return [
        (_channel_of(fake, req), req.received_at)
        for fake in fakes
        for req in fake.requests_to("POST", ".*")
    ]


def serve() -> None:
    """`--serve`: the fakes in this process, for a run in another (as platforms are): says
    how to reach them on stdout, then, once a line comes on stdin, what they received."""
    with ExitStack() as stack:
        setup, fakes = start_platforms(stack)
        print(json.dumps(setup), flush=True)
        sys.stdin.readline()
        print(json.dumps(request_log(fakes)), flush=True)


class Platforms:
    """The fakes, in this interpreter or (`apart`) in a process of their own."""

    def __init__(self, apart: bool) -> None:
        self.apart = apart
        self.stack = ExitStack()
        self.fakes: list[LoopbackServer] = []
        self.child: subprocess.Popen[str] | None = None

    def __enter__(self) -> dict[str, Any]:
        if not self.apart:
            setup, self.fakes = start_platforms(self.stack)
            return setup
        self.child = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.child.stdout is not None
        data: dict[str, Any] = json.loads(self.child.stdout.readline())
        return data

    def log(self) -> list[tuple[str, float]]:
        if self.child is None:
            return request_log(self.fakes)
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write("\n")
        self.child.stdin.flush()
        return [(str(c), float(t)) for c, t in json.loads(self.child.stdout.readline())]

    def __exit__(self, *exc: object) -> None:
        if self.child is not None:
            assert self.child.stdin is not None
            self.child.stdin.close()
            self.child.wait(timeout=30)
        self.stack.close()


def one_run(profile: bool, apart: bool) -> Run:
    platforms = Platforms(apart)
    with platforms as setup, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, **setup["env"]}
        channels: list[str] = setup["channels"]
        (root / "channels.yaml").write_text("\n".join(setup["lines"]) + "\n", encoding="utf-8")
        (root / "content").mkdir()
        for n in range(POSTS):
            (root / "content" / f"post-{n}.md").write_text(
                f"---\ndate: 2026-11-20 {8 + n:02d}:00\nchannels: [{', '.join(channels)}]\n---\n"
                f"Bonjour, voici le message numéro {n}. #bench\n",
                encoding="utf-8",
            )
        cfg = config_mod.load(root, set(BY_ID))
        at = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
        d0 = time.perf_counter()
        publish(cfg, at, env=env, dry_run=True)
        dry = time.perf_counter() - d0
        profiles: list[cProfile.Profile] = []
        if profile:
            main = cProfile.Profile(time.thread_time)
            profiles.append(main)

            def start_thread(*_: object) -> None:
                if threading.current_thread().name.startswith("Fake"):
                    sys.setprofile(None)  # the fakes' own threads: not cmflow's time
                    return
                p = cProfile.Profile(time.thread_time)
                profiles.append(p)
                sys.setprofile(None)
                p.enable()

            threading.setprofile(start_thread)
            main.enable()
        t0, c0 = time.time(), time.process_time()
        p0 = time.perf_counter()
        report = publish(cfg, at, env=env, workers=32)
        wall = time.perf_counter() - p0
        end, cpu = time.time(), time.process_time() - c0
        if profile:
            main.disable()
            threading.setprofile(None)  # type: ignore[arg-type]
        states = {r.state for r in report.results} - {"published"}
        run = Run(
            wall, cpu, report.count("published"), len(channels) * POSTS, sorted(map(str, states))
        )
        run.profiles = profiles
        run.dry = dry
        per_channel: dict[str, list[float]] = {}
        for channel, received_at in platforms.log():
            per_channel.setdefault(channel, []).append(received_at)
    last = 0.0
    for times in per_channel.values():
        times.sort()
        run.first.append(times[0] - t0)
        run.turnaround += [b - a - LATENCY for a, b in itertools.pairwise(times)]
        last = max(last, times[-1])
    run.tail = end - last - LATENCY
    return run


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.1f} ms"


def show_profile(profiles: list[cProfile.Profile]) -> None:
    stats: pstats.Stats | None = None
    for p in profiles:
        p.create_stats()
        if not getattr(p, "stats", None):
            continue
        if stats is None:
            stats = pstats.Stats(p)
        else:
            stats.add(p)
    if stats is None:
        return
    print("\nprofile of the run (cmflow's threads, CPU seconds), by own time:")
    stats.sort_stats("tottime").print_stats(25)
    print("by cumulative time:")
    stats.sort_stats("cumulative").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the fakes in cmflow's interpreter (their work then competes with cmflow's)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    runs = [one_run(args.profile, not args.in_process) for _ in range(max(1, args.runs))]
    best = min(runs, key=lambda r: r.wall)
    median = statistics.median(r.wall for r in runs)
    print(f"pairs published: {best.published}/{best.pairs} (others: {best.others})")
    print(
        f"wall time: best {best.wall:.2f} s, median {median:.2f} s of {len(runs)} runs   "
        f"serial time at {LATENCY * 1000:.0f} ms/request: {best.pairs * LATENCY:.1f} s"
    )
    print(
        f"= best {best.wall / LATENCY:.1f}x, median {median / LATENCY:.1f}x one request's "
        f"latency (floor {POSTS}x: {POSTS} posts in order on a channel; target <= {TARGET:.0f}x)"
    )
    turn = sorted(best.turnaround)
    print("where the time goes (best run):")
    print(
        f"  start -> first request of a channel   median {ms(statistics.median(best.first))}"
        f"   max {ms(max(best.first))}"
    )
    print(f"    of which validation, record, plan     {ms(best.dry)} (a dry run, timed apart)")
    print(
        f"  per post, answer -> next request      median {ms(statistics.median(turn))}"
        f"   p90 {ms(turn[int(len(turn) * 0.9)])}   max {ms(turn[-1])}"
    )
    print(f"  last answer -> end of run             {ms(best.tail)}")
    where = "fakes included" if args.in_process else "cmflow's process only"
    print(f"  CPU time ({where}){' ' * (23 - len(where))}{best.cpu:.2f} s")
    if args.profile:
        show_profile(best.profiles)


if __name__ == "__main__":
    main()
