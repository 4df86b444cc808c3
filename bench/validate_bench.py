"""How fast is `cmflow validate` on a large queue? Prints figures; asserts nothing.

    python bench/validate_bench.py [N]      # default N = 10,000 posts

Generates N realistic posts and a channels.yaml in a temporary folder, then times, as whole
processes: the baseline (reading every file and parsing its front-matter with PyYAML's C
loader), `cmflow validate` cold (no cache), `cmflow validate` again with nothing changed
(cache), and `cmflow --help` (start-up). Targets on a 2-core machine: cold <= 1.5x the
baseline, warm <= 0.3 s, --help <= 150 ms.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

CHANNELS = textwrap.dedent(
    """\
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


def timed(cmd: list[str], cwd: Path, runs: int = 1) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
        best = min(best, time.perf_counter() - t0)
        if done.returncode not in (0, 1):  # 1 = findings, which generated posts may have
            sys.exit(f"{' '.join(cmd[:4])} failed ({done.returncode}): {done.stderr[-500:]}")
    return best


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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
        start = datetime(2027, 1, 4, 9, 0)
        for i in range(n):
            folder = root / "content" / f"{(start + timedelta(hours=3 * i)):%Y/%m}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"post-{i:05d}.md").write_text(make_post(i, rng, start), encoding="utf-8")
        py = sys.executable
        at = ["--at", "2027-01-01 00:00"]
        baseline = timed([py, "-c", BASELINE, str(root / "content")], root, runs=2)
        cold = timed([py, "-m", "cmflow", "validate", "--no-cache", *at], root, runs=2)
        timed([py, "-m", "cmflow", "validate", *at], root)  # fill the cache
        warm = timed([py, "-m", "cmflow", "validate", *at], root, runs=3)
        helptime = timed([py, "-m", "cmflow", "--help"], root, runs=5)
        print(f"posts: {n:,}")
        print(f"baseline (read + PyYAML C loader): {baseline:6.2f} s")
        print(
            f"cmflow validate, cold:            {cold:6.2f} s  ({cold / baseline:.2f}x baseline; target <= 1.5x)"
        )
        print(f"cmflow validate, unchanged:       {warm:6.2f} s  (target <= 0.30 s)")
        print(f"cmflow --help:                    {helptime * 1000:6.0f} ms (target <= 150 ms)")


if __name__ == "__main__":
    main()
