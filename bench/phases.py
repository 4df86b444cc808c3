"""Where `cmflow validate` spends its time, phase by phase, on one core (CPU seconds).

    python bench/phases.py ROOT AT

Run by validate_bench.py on its corpora; usable on any repository. A cold run is read +
parse + per-post rules (rendering included, as validation does it: only what the rules
need) + queue rules + output, split over the cores; an unchanged run is cache load +
stat of every file + queue rules that depend on the time + output.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

T = TypeVar("T")


def clock(label: str, n: int, fn: Callable[[], T], out: dict[str, float]) -> T:
    t0 = time.process_time()
    result = fn()
    took = time.process_time() - t0
    out[label] = took
    print(f"  {label:<34} {took:7.3f} s  {took * 1e6 / max(n, 1):7.1f} µs/post")
    return result


def main(root: Path, at: str) -> None:
    # Without the cycle collector, as `cmflow validate` runs: else its passes over the
    # objects of earlier phases land in whichever phase allocates next.
    gc.disable()
    from cmflow import cache, content, output, safefs, validation
    from cmflow import config as config_mod
    from cmflow.render import render
    from cmflow.rules import BY_ID, QUEUE_RULES, QueueContext
    from cmflow.timeutil import parse_datetime

    cfg = config_mod.load(root, set(BY_ID))
    now = parse_datetime(at, cfg.timezone)
    t: dict[str, float] = {}
    print("cold run, one core (CPU time):")
    n = len(content.discover(root, cfg.content_dir))
    rels = clock("discover", n, lambda: content.discover(root, cfg.content_dir), t)

    def read_all() -> list[Any]:
        # As a run reads them: each folder opened once, each file from it by name.
        with safefs.Folders(root) as folders:
            return [content.read_stamped(root, r, folders)[0] for r in rels]

    raws = clock("read", n, read_all, t)
    posts = clock(
        "parse (front-matter, fields)",
        n,
        lambda: [
            content.parse_post(r, raw, cfg.timezone, cfg.channels)
            for r, raw in zip(rels, raws, strict=True)
            if isinstance(raw, bytes)
        ],
        t,
    )

    def render_all() -> int:
        count = 0
        for p in posts:
            for name in p.channels:
                render(p, cfg.channels[name])
                count += 1
        return count

    clock("(render every pair in full, for scale)", n, render_all, t)
    # As a run makes it: without fingerprints (worked out only for a post changed since it
    # went out, when edited-after-publish asks: below).
    checker = validation.Checker(cfg, prints=False)
    results = clock(
        "per-post rules (+ what they render)", n, lambda: [checker.check(p) for p in posts], t
    )
    # What each (post, channel) renders to, as validation hands it to edited-after-publish.
    fingerprints = {p.path: fps for p, (_found, fps) in zip(posts, results, strict=True)}
    del results
    slim = [validation.slim(p) for p in posts]
    entries = {p.path: p for p in slim}
    record = clock(
        "publish record (sent index)",
        n,
        lambda: validation.sent_index(cfg, list(entries.values())),
        t,
    )

    parsed = {p.path: p for p in posts}

    def rendered_hash(post: Any, channel: Any) -> str:
        fps = fingerprints[post.path]
        if channel.name not in fps:  # left out by the check: worked out when asked, as a run does
            fps.update(checker.fingerprints(parsed[post.path]))
        return fps.get(channel.name, "")

    def queue() -> list[Any]:
        ctx = QueueContext(slim, cfg, now, record, rendered_hash)
        return [f for rule in QUEUE_RULES if rule.queue for f in rule.queue(ctx)]

    found = clock("queue rules", n, queue, t)
    report = validation.validate(cfg, now=now, use_cache=False, jobs=1)
    clock("output (json)", n, lambda: output.as_json(report.findings, report.files), t)
    del found
    total = sum(v for k, v in t.items() if not k.startswith("("))
    print(f"  {'total (one core)':<34} {total:7.3f} s")

    print("unchanged run (CPU time):")
    validation.validate(cfg, now=now)  # fill the cache
    c = clock(
        "cache load (read, check, decode)",
        n,
        lambda: cache.Cache.open(root, cfg.digest, cfg.timezone),
        t,
    )
    clock(
        "stat of every post and media file",
        n,
        lambda: [validation._cached(c, root, r) for r in content.discover(root, cfg.content_dir)],
        t,
    )
    clock("stat of the record", n, lambda: validation.record_unchanged(cfg, c), t)
    clock("whole validate, unchanged", n, lambda: validation.validate(cfg, now=now), t)
    later = now + timedelta(days=1)
    clock("whole validate, clock moved", n, lambda: validation.validate(cfg, now=later), t)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
