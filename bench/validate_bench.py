"""How fast is `cmflow validate` on a large queue? Prints figures; asserts nothing.

    python bench/validate_bench.py [N] [--corpus queue|archive|both] [--runs R]
                                   [--save DIR] [--compare DIR] [--cmflow-src DIR] [--keep DIR]

Generates N posts and a channels.yaml in a temporary folder, in one of two shapes:

- `queue`: a year or so of upcoming posts, none published yet (the plain editorial queue);
- `archive`: seven years of posts, most of them old and published (a record entry per
  (post, channel) in data/record/, as `cmflow publish` writes it), a third with media files,
  some without alt text, some never published (schedule.past), a few edited after
  publishing: what a brand's repository looks like after years of use.

Then times, as whole processes: the baseline (reading every file and parsing its
front-matter with PyYAML's C loader), `cmflow validate` cold (no cache), unchanged (cache),
unchanged with the clock moved a day (time rules recomputed), one edited post, and
`cmflow --help` / `cmflow validate --help` (start-up). Each is run R times (default 3):
min and median are printed, with the ratio to the baseline measured in the same run
(the machine is shared: ratios are steadier than seconds).

Then, in this process and on one core, where the time of a cold run goes per phase (read,
parse, render, rules, queue rules, output) and of an unchanged run (cache load, stat),
per 1,000 posts: run N=10000 and N=50000 to see how it grows.

`--save DIR` writes each corpus's `validate --format json` output to DIR; `--compare DIR`
checks the output is identical to the one saved there (same findings, same order).
`--cmflow-src DIR` runs the cmflow found in DIR (e.g. an older checkout) for the timed
commands. Targets on a 2-core machine: cold <= 1.5x the baseline, unchanged <= 0.25 s,
one edited post in 50,000 <= 1 s, --help <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHANNELS = textwrap.dedent(
    """\
    brand: Boulangerie Martin
    timezone: Europe/Paris
    language: fr
    editorial_line:
      pillars: [education, community, product, behind-the-scenes]
      require_pillar: true
      forbidden_terms: ["gratuit à vie", "cliquez ici"]
      max_hashtags: 5
      require_alt_text: true
      mix: {max_share: {product: 0.3}, window: 14d}
      link_tracking: {domains: [example.fr], utm_source: "{channel}", utm_medium: social, utm_campaign: "{campaign}"}
    channels:
      site: {platform: feed, output_dir: public, site_url: https://example.fr/actus}
      mastodon: {platform: mastodon, base_url: https://piaille.fr, token_env: CMFLOW_MASTODON_TOKEN}
      bluesky: {platform: bluesky, handle: marque.bsky.social, password_env: CMFLOW_BLUESKY_APP_PASSWORD}
      linkedin: {platform: linkedin, author: "urn:li:organization:1", token_env: CMFLOW_LINKEDIN_TOKEN}
      x: {platform: x, token_env: CMFLOW_X_TOKEN}
    """
)

WORDS = [
    "communauté",
    "atelier",
    "ligne",
    "éditoriale",
    "calendrier",
    "engagement",
    "portrait",
    "coulisses",
    "équipe",
    "modération",
    "abonnés",
    "publication",
    "réseau",
    "format",
    "vidéo",
    "carrousel",
    "question",
    "sondage",
    "astuce",
    "newsletter",
    "lancement",
    "bilan",
    "semaine",
    "rendez-vous",
    "formation",
    "outil",
    "méthode",
]
AT = "2027-01-01 00:00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 2000


def make_post(i: int, rng: random.Random, start: datetime) -> str:
    date = start + timedelta(hours=3 * i)
    pillar = rng.choice(
        [
            "education",
            "community",
            "behind-the-scenes",
            "education",
            "community",
            "product",
            "education",
            "community",
        ]
    )
    channels = rng.sample(["site", "mastodon", "bluesky", "linkedin", "x"], k=rng.randint(2, 4))
    body_words = [rng.choice(WORDS) for _ in range(rng.randint(10, 22))]
    body = " ".join(body_words).capitalize()
    return (
        "---\n"
        f"date: {date:%Y-%m-%d %H:%M}\n"
        f"channels: [{', '.join(channels)}]\n"
        f"title: Post numéro {i}\n"
        f"pillar: {pillar}\n"
        f"campaign: campagne-{i % 12}\n"
        "tags: [communaute, atelier]\n"
        "---\n"
        f"{body}.\n\n"
        f"**À lire** sur [notre site](https://example.fr/articles/{i}) 🎉 #communaute\n"
    )


def write_queue(root: Path, n: int) -> None:
    """The bench's original corpus: N upcoming posts, 3 hours apart from 2027-01-04."""
    rng = random.Random(42)
    (root / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    start = datetime(2027, 1, 4, 9, 0)
    for i in range(n):
        folder = root / "content" / f"{(start + timedelta(hours=3 * i)):%Y/%m}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"post-{i:05d}.md").write_text(make_post(i, rng, start), encoding="utf-8")


def make_archive_post(i: int, rng: random.Random, date: datetime, media: str | None) -> str:
    pillar = rng.choice(["education", "community", "behind-the-scenes", "product", "education"])
    channels = rng.sample(["site", "mastodon", "bluesky", "linkedin", "x"], k=rng.randint(1, 3))
    lines = [
        "---",
        f"date: {date:%Y-%m-%d %H:%M}",
        f"channels: [{', '.join(channels)}]",
        f"title: Archive {i} — {rng.choice(WORDS)}",
        f"pillar: {pillar}",
        f"campaign: saison-{date.year}",
    ]
    if media is not None:
        alt = "" if rng.random() < 0.05 else f"\n    alt: Photo de l'{rng.choice(WORDS)}"
        lines.append(f"media:\n  - path: {media}{alt}")
    if rng.random() < 0.3:
        lines.append(f"tags: [{rng.choice(WORDS[:5])}, marque]")
    paragraphs = []
    for _ in range(rng.randint(1, 2)):
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
        paragraphs.append(" ".join(words).capitalize() + ".")
    if rng.random() < 0.5:
        paragraphs.append(f"Plus sur [le blog](https://example.fr/blog/{i}) #marque")
    if rng.random() < 0.01:
        paragraphs.append("Cliquez ici pour un cadeau gratuit à vie !")
    return "\n".join(lines) + "\n---\n" + "\n\n".join(paragraphs) + "\n"


def write_archive(root: Path, n: int) -> None:
    """Seven years of posts (2020-03 to 2027-03, ~97% before AT), a third with a media file,
    and the record `cmflow publish` would have left for the old ones (a few never
    published, a few edited since)."""
    sys.path.insert(0, str(ROOT))
    from cmflow import config as config_mod
    from cmflow import content
    from cmflow.ledger import Entry, Ledger
    from cmflow.model import State
    from cmflow.platforms.base import PartResult
    from cmflow.render import fingerprint, render
    from cmflow.rules import BY_ID

    rng = random.Random(7)
    (root / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    start = datetime(2020, 3, 2, 8, 0)
    step = (datetime(2027, 3, 1) - start) / n
    texts: dict[str, str] = {}
    for i in range(n):
        date = start + step * i + timedelta(minutes=rng.randint(0, 90))
        media = None
        if rng.random() < 0.33:
            media = f"media/{date:%Y/%m}/photo-{i:05d}.jpg"
            path = root / media
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(JPEG)
        rel = f"content/{date:%Y/%m}/{date:%d}-archive-{i:05d}.md"
        texts[rel] = make_archive_post(i, rng, date, media)
    for rel, text in texts.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    cfg = config_mod.load(root, set(BY_ID))
    ledger = Ledger(root, cfg.data_dir)
    now = datetime(2027, 1, 1, tzinfo=UTC)
    for rel, _raw, post in content.load_all(root, sorted(texts), cfg.timezone, cfg.channels):
        if post.date is None or post.date > now or rng.random() < 0.04:
            continue  # upcoming, or never published: schedule.past
        for name in post.channels:
            ident = str(rng.randrange(10**17, 10**18))
            fp = fingerprint(render(post, cfg.channels[name]))
            source = post.content_hash
            if rng.random() < 0.01:
                # Edited since: what went out, and the post then, were an earlier version
                # (schedule.edited-after-publish).
                fp = "0" * 32
                source = content.content_hash(post.meta, f"{post.body}\n(avant)")
            when = post.date.astimezone(UTC).isoformat(timespec="seconds")
            ledger.write(
                Entry(
                    post=post.id,
                    channel=name,
                    platform=cfg.channels[name].platform,
                    path=rel,
                    state=State.PUBLISHED,
                    content_hash=fp,
                    source_hash=source,
                    published_at=when,
                    scheduled_for=post.date.isoformat(),
                    # Where it went out, as the platform answered.
                    parts=[PartResult(ident, f"https://{name}.example/p/{ident}")],
                )
            )


CORPORA: dict[str, Callable[[Path, int], None]] = {"queue": write_queue, "archive": write_archive}

BASELINE = """
import sys, yaml, pathlib
loader = yaml.CSafeLoader
n = 0
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*.md")):
    text = p.read_text("utf-8")
    fm = text.split("---\\n", 2)[1]
    yaml.load(fm, Loader=loader)
    n += 1
print(n)
"""


def compile_bytecode(src: Path | None) -> None:
    """Compile cmflow's modules, as installing it does. Without it, and with
    PYTHONDONTWRITEBYTECODE set (as on some CI machines), every timed command compiles every
    module it imports from source: tens of milliseconds that an installed cmflow never pays."""
    package = (src or ROOT) / "cmflow"
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(package)],
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print(f"(PYTHONDONTWRITEBYTECODE is set: bytecode compiled once in {package})")


class Runner:
    def __init__(self, root: Path, src: Path | None, runs: int) -> None:
        self.root = root
        self.runs = runs
        self.env = dict(os.environ)
        if src is not None:
            self.env["PYTHONPATH"] = str(src)

    def once(self, cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
        t0 = time.perf_counter()
        done = subprocess.run(
            cmd, cwd=self.root, capture_output=True, text=True, check=False, env=self.env
        )
        took = time.perf_counter() - t0
        if done.returncode not in (0, 1):  # 1 = findings, which generated posts have
            sys.exit(f"{' '.join(cmd[:5])} failed ({done.returncode}): {done.stderr[-800:]}")
        return took, done

    def times(self, cmd: list[str], runs: int | None = None) -> list[float]:
        return [self.once(cmd)[0] for _ in range(runs or self.runs)]

    def cmflow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cmflow", *args]


def fmt(times: list[float], base: float | None = None, unit: str = "s") -> str:
    lo, mid = min(times), statistics.median(times)
    if unit == "ms":
        out = f"min {lo * 1000:6.0f} ms  median {mid * 1000:6.0f} ms"
    else:
        out = f"min {lo:6.2f} s   median {mid:6.2f} s "
    if base:
        out += f"  ({lo / base:.2f}x / {mid / base:.2f}x baseline)"
    return out


def bench_corpus(kind: str, n: int, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) / kind if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        CORPORA[kind](root, n)
        print(f"\n== {kind}: {n:,} posts (generated in {time.perf_counter() - t0:.0f} s)")
        r = Runner(root, Path(args.cmflow_src) if args.cmflow_src else None, args.runs)
        at = ["--at", AT]
        # Interleaved, so that both see the same load of a shared machine.
        base_t: list[float] = []
        cold_t: list[float] = []
        out = ""
        for _ in range(args.runs):
            base_t += r.times([sys.executable, "-c", BASELINE, str(root / "content")], 1)
            took, done = r.once(r.cmflow("validate", "--no-cache", "--format", "json", *at))
            cold_t.append(took)
            out = done.stdout
        base = statistics.median(base_t)
        r.once(r.cmflow("validate", *at))  # fill the cache
        warm_t = r.times(r.cmflow("validate", *at))
        moved = ["--at", "2027-01-02 00:00"]
        clock_t = r.times(r.cmflow("validate", *moved))
        # One post edited (a different body), then validated: the cache holds the others.
        edited_t: list[float] = []
        posts = sorted((root / "content").rglob("*.md"))
        for i in range(args.runs):
            target = posts[(i * 7919) % len(posts)]
            target.write_text(target.read_text("utf-8") + f"\nÉdité {i}.\n", encoding="utf-8")
            edited_t.append(r.once(r.cmflow("validate", *at))[0])
        print(f"baseline (read + PyYAML C loader): {fmt(base_t)}")
        print(f"validate, cold:                    {fmt(cold_t, base)}  target <= 1.5x")
        print(f"validate, unchanged:               {fmt(warm_t)}  target <= 0.25 s")
        print(f"validate, unchanged, clock moved:  {fmt(clock_t)}  target <= 0.25 s")
        print(f"validate, one post edited:         {fmt(edited_t)}  target <= 1 s (50,000)")
        print(f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        per_k = 1000 / n
        print(
            f"per 1,000 posts: baseline {base * per_k * 1000:.0f} ms, cold "
            f"{min(cold_t) * per_k * 1000:.0f} ms, unchanged {min(warm_t) * per_k * 1000:.1f} ms"
        )
        found = json.loads(out)["findings"]
        print(f"findings: {len(found):,} ({summary_rules(found)})")
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            (Path(args.save) / f"{kind}-{n}.json").write_text(out, encoding="utf-8")
        if args.compare:
            before = (Path(args.compare) / f"{kind}-{n}.json").read_text("utf-8")
            same = before == out
            print(f"output vs {args.compare}: {'identical' if same else 'DIFFERENT'}")
            if not same:
                show_difference(json.loads(before)["findings"], found)
        if args.phases:
            phases(root, n)


def summary_rules(found: list[dict[str, object]]) -> str:
    counts: dict[str, int] = {}
    for f in found:
        counts[str(f["rule"])] = counts.get(str(f["rule"]), 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def show_difference(before: list[dict[str, object]], after: list[dict[str, object]]) -> None:
    for i, (b, a) in enumerate(zip(before, after, strict=False)):
        if b != a:
            print(f"  first difference at finding {i}:\n  before {b}\n  after  {a}")
            break
    print(f"  {len(before)} findings before, {len(after)} after")


def phases(root: Path, n: int) -> None:
    """Where the time goes, phase by phase, on one core (bench/phases.py)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "phases.py"), str(root), AT],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(done.stderr[-1500:])
    print(done.stdout.rstrip())


def startup(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        r = Runner(Path(tmp), None, runs)
        print(
            f"\ncmflow --help:                     {fmt(r.times(r.cmflow('--help'), 7), unit='ms')}  target <= 100 ms"
        )
        print(
            f"cmflow validate --help:            {fmt(r.times(r.cmflow('validate', '--help'), 7), unit='ms')}  target <= 100 ms"
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("n", type=int, nargs="?", default=10_000)
    ap.add_argument("--corpus", choices=["queue", "archive", "both"], default="both")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--save", metavar="DIR")
    ap.add_argument("--compare", metavar="DIR")
    ap.add_argument("--cmflow-src", metavar="DIR")
    ap.add_argument("--keep", metavar="DIR", help="Generate the corpora in DIR and keep them.")
    ap.add_argument("--no-phases", dest="phases", action="store_false")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    compile_bytecode(Path(args.cmflow_src) if args.cmflow_src else None)
    for kind in ("queue", "archive") if args.corpus == "both" else (args.corpus,):
        bench_corpus(kind, args.n, args)
    startup(args.runs)


if __name__ == "__main__":
    main()
