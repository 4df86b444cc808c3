"""A fixed metrics history for report tests: a brand (French) with posts on Mastodon and
Bluesky across pillars, campaigns and formats, followers, site traffic and a competitor."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cmflow.metrics.store import ACCOUNT_COLUMNS, POST_COLUMNS, SITE_COLUMNS
from tests.conftest import JPEG, write_repo

CONFIG = """\
timezone: Europe/Paris
language: {language}
editorial_line:
  pillars: [education, community, product]
channels:
  mastodon:
    platform: mastodon
    base_url: https://mastodon.example
    token_env: CMFLOW_MASTODON_TOKEN
  bluesky:
    platform: bluesky
    handle: marque.bsky.social
    password_env: CMFLOW_BLUESKY_APP_PASSWORD
competitors:
  rival:
    name: Rival SA
    bluesky: rival.bsky.social
"""

POSTS = {
    "2026/11/atelier.md": """---
date: 2026-11-03 09:30
channels: [mastodon, bluesky]
pillar: education
campaign: atelier-2026
title: Atelier community management
media:
  - path: media/atelier.jpg
    alt: L'équipe anime l'atelier
---
Atelier : inscrivez-vous !
""",
    "2026/11/coulisses.md": """---
date: 2026-11-05 18:00
channels: [mastodon]
pillar: community
---
Les coulisses de l'équipe.

<!-- thread -->

Deuxième partie.
""",
    "2026/11/lancement.md": """---
date: 2026-11-10 12:15
channels: [mastodon, bluesky]
pillar: product
campaign: lancement
media:
  - path: media/demo.mp4
    alt: Démonstration
---
Le nouveau produit est là.
""",
    "2026/11/astuce.md": """---
date: 2026-11-12 08:00
channels: [bluesky]
pillar: education
campaign: atelier-2026
---
Une astuce | avec un [crochet].
""",
}

# (post, channel, platform, published UTC, [(collected, age, likes, reposts, replies, note)])
SNAPSHOTS = [
    (
        "atelier",
        "mastodon",
        "mastodon",
        "2026-11-03T08:30:00Z",
        "111",
        [
            ("2026-11-03T09:35:00Z", "1h", 4, 1, 0, ""),
            ("2026-11-04T09:00:00Z", "24h", 20, 6, 3, ""),
            ("2026-11-10T09:00:00Z", "7d", 31, 8, 5, ""),
        ],
    ),
    (
        "atelier",
        "bluesky",
        "bluesky",
        "2026-11-03T08:30:00Z",
        "at://did:plc:marque/app.bsky.feed.post/3kat",
        [
            ("2026-11-04T09:00:00Z", "24h", 12, 2, 1, ""),
            ("2026-11-10T09:00:00Z", "7d", 15, 3, 2, ""),
        ],
    ),
    (
        "coulisses",
        "mastodon",
        "mastodon",
        "2026-11-05T17:00:00Z",
        "112",
        [
            ("2026-11-06T18:00:00Z", "24h", 9, 1, 4, "thread"),
        ],
    ),
    (
        "lancement",
        "mastodon",
        "mastodon",
        "2026-11-10T11:15:00Z",
        "113",
        [
            ("2026-11-11T12:00:00Z", "24h", 40, 12, 9, ""),
        ],
    ),
    (
        "lancement",
        "bluesky",
        "bluesky",
        "2026-11-10T11:15:00Z",
        "at://did:plc:marque/app.bsky.feed.post/3kla",
        [
            ("2026-11-11T12:00:00Z", "24h", 25, 7, 2, ""),
        ],
    ),
    (
        "astuce",
        "bluesky",
        "bluesky",
        "2026-11-12T07:00:00Z",
        "at://did:plc:marque/app.bsky.feed.post/3kas",
        [
            ("2026-11-13T08:00:00Z", "24h", 3, 0, 0, ""),
        ],
    ),
]

ACCOUNTS = [
    ("2026-11-03T09:35:00Z", "brand", "mastodon", "mastodon", 1000),
    ("2026-11-03T09:35:00Z", "brand", "bluesky", "bluesky", 500),
    ("2026-11-10T09:00:00Z", "brand", "mastodon", "mastodon", 1040),
    ("2026-11-10T09:00:00Z", "brand", "bluesky", "bluesky", 560),
    ("2026-11-20T09:00:00Z", "brand", "mastodon", "mastodon", 1100),
    ("2026-11-20T09:00:00Z", "brand", "bluesky", "bluesky", 600),
    ("2026-11-03T09:35:00Z", "competitor", "rival", "bluesky", 3000),
    ("2026-11-20T09:00:00Z", "competitor", "rival", "bluesky", 3100),
]

SITE = [
    ("2026-11-21T06:00:00Z", "2026-11-03", "mastodon", "social", "atelier-2026", 40, 22, 3),
    ("2026-11-21T06:00:00Z", "2026-11-04", "bluesky", "social", "atelier-2026", 15, 9, 1),
    ("2026-11-21T06:00:00Z", "2026-11-10", "mastodon", "social", "lancement", 80, 50, 7),
    ("2026-11-22T06:00:00Z", "2026-11-10", "mastodon", "social", "lancement", 82, 51, 7),  # revised
    ("2026-11-21T06:00:00Z", "2026-11-11", "google", "organic", "(not set)", 120, 60, 2),
]

RIVAL_POSTS = [
    (
        "at://did:plc:rival/app.bsky.feed.post/r1",
        "2026-11-04T10:00:00Z",
        "2026-11-05T10:00:00Z",
        "24h",
        60,
        10,
        5,
    ),
    (
        "at://did:plc:rival/app.bsky.feed.post/r2",
        "2026-11-11T10:00:00Z",
        "2026-11-12T10:00:00Z",
        "24h",
        30,
        4,
        2,
    ),
]


def _csv(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in columns})
    return buf.getvalue()


def build(root: Path, language: str = "fr") -> Path:
    write_repo(
        root,
        POSTS,
        config=CONFIG.format(language=language),
        media={
            "media/atelier.jpg": JPEG,
            "media/demo.mp4": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32,
        },
    )
    posts = []
    for post, channel, platform, published, rid, snaps in SNAPSHOTS:
        for collected, age, likes, reposts, replies, note in snaps:
            posts.append(
                {
                    "collected_at": collected,
                    "channel": channel,
                    "platform": platform,
                    "post": post,
                    "remote_id": rid,
                    "url": f"https://social.example/{channel}/{post}",
                    "published_at": published,
                    "age": age,
                    "status": "ok",
                    "likes": str(likes),
                    "reposts": str(reposts),
                    "replies": str(replies),
                    "note": note,
                }
            )
    # A failed fetch: never counted.
    posts.append(
        {
            "collected_at": "2026-11-13T08:00:00Z",
            "channel": "mastodon",
            "platform": "mastodon",
            "post": "lancement",
            "remote_id": "113",
            "published_at": "2026-11-10T11:15:00Z",
            "age": "7d",
            "status": "failed",
            "note": "HTTP 503",
        }
    )
    accounts = [
        {
            "collected_at": c,
            "kind": k,
            "name": n,
            "platform": p,
            "account": n,
            "status": "ok",
            "followers": str(f),
        }
        for c, k, n, p, f in ACCOUNTS
    ]
    site = [
        {
            "collected_at": c,
            "date": d,
            "source": s,
            "medium": m,
            "campaign": cp,
            "status": "ok",
            "sessions": str(a),
            "engaged_sessions": str(b),
            "key_events": str(e),
        }
        for c, d, s, m, cp, a, b, e in SITE
    ]
    rivals = [
        {
            "collected_at": c,
            "channel": "rival",
            "platform": "bluesky",
            "post": "",
            "remote_id": rid,
            "url": "https://bsky.app/profile/rival.bsky.social/post/" + rid.rsplit("/", 1)[-1],
            "published_at": pub,
            "age": age,
            "status": "ok",
            "likes": str(li),
            "reposts": str(rp),
            "replies": str(re),
        }
        for rid, pub, c, age, li, rp, re in RIVAL_POSTS
    ]
    m = root / "data" / "metrics"
    for kind, cols, rows in (
        ("posts", POST_COLUMNS, posts),
        ("accounts", ACCOUNT_COLUMNS, accounts),
        ("site", SITE_COLUMNS, site),
        ("competitors", POST_COLUMNS, rivals),
    ):
        (m / kind).mkdir(parents=True, exist_ok=True)
        (m / kind / "2026-11.csv").write_text(_csv(cols, rows), "utf-8")
    return root
