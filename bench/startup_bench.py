"""How long does `cmflow --help` take to start?

    python bench/startup_bench.py [--runs N]

Runs `python -m cmflow --help` and `python -m cmflow validate --help` in a fresh interpreter
`--runs` times each (default 20) and prints the best and the median wall time (target: at
most 100 ms), next to a bare `python -c pass` (the interpreter's own start-up on this machine,
under its current load). Then lists the modules that cost the most to import
(`python -X importtime`, own time, the best of three runs), the fastest way to see what to
import lazily.

The runs may write bytecode (`__pycache__`) whatever PYTHONDONTWRITEBYTECODE says: an
installed cmflow has its bytecode compiled at install time, and compiling cmflow's modules
again at every start would be most of what is measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 100.0
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "cmflow --help": [sys.executable, "-m", "cmflow", "--help"],
    "cmflow validate --help": [sys.executable, "-m", "cmflow", "validate", "--help"],
}


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=ENV, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def import_times(cmd: list[str]) -> dict[str, tuple[int, int]]:
    """Own and cumulative import time (µs) of each module, from `-X importtime`."""
    out = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]],
        cwd=ROOT,
        env=ENV,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ).stderr
    found: dict[str, tuple[int, int]] = {}
    for line in out.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, total, name = line.removeprefix("import time:").split("|", 2)
        found[name.strip()] = (int(own), int(total))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    for label, cmd in COMMANDS.items():
        timed(cmd)  # warm the file cache and the bytecode
        times = sorted(timed(cmd) for _ in range(max(1, args.runs)))
        best, median = times[0] * 1000, statistics.median(times) * 1000
        verdict = "" if label.startswith("python") else ("  ok" if best <= TARGET_MS else "  SLOW")
        print(f"{label:<24} best {best:6.1f} ms   median {median:6.1f} ms{verdict}")
    runs = [import_times(COMMANDS["cmflow --help"]) for _ in range(3)]
    best_of = {name: min(r.get(name, (0, 0)) for r in runs) for name in runs[0]}
    total = sum(own for own, _ in best_of.values())
    print(f"\nimports of `cmflow --help`: {len(best_of)} modules, {total / 1000:.1f} ms in all")
    print(f"{'own ms':>8} {'cumulative ms':>14}  module")
    for name, (own, cumulative) in sorted(best_of.items(), key=lambda kv: -kv[1][0])[: args.top]:
        print(f"{own / 1000:8.1f} {cumulative / 1000:14.1f}  {name}")


if __name__ == "__main__":
    main()
