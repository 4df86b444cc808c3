"""How much CPU each queue rule costs (the rules over the whole queue). Prints figures;
asserts nothing.

    python bench/queue_rules_bench.py ROOT [ROOT ...] [--at AT] [--runs R] [--caps] [--fresh]
                                      [--secret]

ROOT: a repository, e.g. one kept by `bench/validate_bench.py N --keep DIR` (DIR/queue,
DIR/archive). The posts are read as the one-edited-post run reads them: from the cache
(filled first), marks and meta in full; `--fresh` parses every file instead (dates in the
brand's zone rather than the cache's fixed offsets). Each rule runs R times alone
(default 3, min kept) over the same posts, record and clock, and its CPU time
(time.process_time) is printed in seconds and per 10,000 posts, with its findings.

`--caps` gives every channel max_per_day 2 and min_gap 4h (the bench corpora set neither),
so that schedule.daily-cap and schedule.min-gap have work and findings. `--secret` sets a
channel credential variable to a value written in no post, so that security.secret's live
check reads every post file (as in CI, where the secrets are set). Target: every queue
rule together well under 0.2 s on 50,000 posts (one edited post <= 1 s in all).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AT = "2027-01-01 00:00"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("roots", nargs="+", type=Path)
    ap.add_argument("--at", default=AT)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--caps", action="store_true")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--secret", action="store_true")
    ap.add_argument("--dump", metavar="FILE", help="Write every finding, rule by rule, as JSON.")
    args = ap.parse_args()
    for root in args.roots:
        bench(root.resolve(), args)


def bench(root: Path, args: argparse.Namespace) -> None:
    from cmflow import config as config_mod
    from cmflow import content, validation
    from cmflow.rules import BY_ID, QUEUE_RULES, QueueContext
    from cmflow.timeutil import parse_datetime

    cfg = config_mod.load(root, set(BY_ID))
    now = parse_datetime(args.at, cfg.timezone)
    if args.fresh:
        rels = content.discover(root, cfg.content_dir)
        full = [
            content.parse_post(r, raw, cfg.timezone, cfg.channels)
            for r in rels
            if isinstance(raw := content.read_bytes(root, r), bytes)
        ]
        posts = [validation.slim(p) for p in full]
        fps: dict[str, dict[str, str]] = {}
    else:
        validation.validate(cfg, now=now)  # fill the cache
        entries, cache = validation._load(cfg, True)
        assert cache is not None and cache.complete()
        cache.fingerprints()
        posts = [e.post for e in entries.values()]
        fps = {rel: e.fingerprints for rel, e in entries.items()}
    record = validation.sent_index(cfg, posts)
    if args.caps:
        cfg = dataclasses.replace(
            cfg,
            channels={
                name: dataclasses.replace(
                    ch,
                    rules=dataclasses.replace(ch.rules, max_per_day=2, min_gap=timedelta(hours=4)),
                )
                for name, ch in cfg.channels.items()
            },
        )
    if args.secret:
        for ch in cfg.channels.values():
            names = [str(v) for k, v in ch.settings.items() if k in ch.spec.secrets]
            if names:
                os.environ[names[0]] = "bench-secret-value-written-nowhere"
                break
    # What loading left for the cycle collector is not the rules' doing: collected now.
    gc.collect()
    gc.freeze()
    n = len(posts)
    print(
        f"\n== {root} ({n:,} posts, {'parsed' if args.fresh else 'from the cache'}"
        f"{', caps' if args.caps else ''}; load {os.getloadavg()[0]:.1f})"
    )
    total = 0.0
    dumped: list[list[object]] = []
    for rule in QUEUE_RULES:
        assert rule.queue is not None
        best = float("inf")
        found = 0
        got: list[Any] = []
        for _ in range(args.runs):
            ctx = QueueContext(
                posts, cfg, now, record, lambda p, c: fps.get(p.path, {}).get(c.name, "")
            )
            t0 = time.process_time()
            got = list(rule.queue(ctx))
            best = min(best, time.process_time() - t0)
            found = len(got)
        dumped += [[f.path, f.line, f.column, f.level, f.rule, f.message, f.channel] for f in got]
        total += best
        print(
            f"  {rule.id:<32} {best:7.3f} s  {best * 10_000 / max(n, 1):7.3f} s/10k"
            f"  {found:6,} findings{'  (cached)' if rule.stable else ''}"
        )
    print(f"  {'all queue rules':<32} {total:7.3f} s  {total * 10_000 / max(n, 1):7.3f} s/10k")
    if args.dump:
        Path(args.dump).write_text(json.dumps(dumped, indent=0), encoding="utf-8")


if __name__ == "__main__":
    main()
