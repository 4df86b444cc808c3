"""Helpers for metrics tests: a content repository whose publish record says some posts
went out, pointing at loopback platforms."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.conftest import write_repo

TOKEN = "mstdn-metrics-S3cr3t-7a1f"
TOKEN_ENV = "CMFLOW_MASTODON_TOKEN"
HANDLE = "marque.test"


def config(mastodon_url: str, appview_url: str, extra: str = "") -> str:
    return f"""\
timezone: Europe/Paris
language: fr
editorial_line:
  pillars: [education, community, product]
metrics:
  schedule: [1h, 24h, 7d, 30d]
  appview: {appview_url}
channels:
  mastodon:
    platform: mastodon
    base_url: {mastodon_url}
    token_env: {TOKEN_ENV}
  bluesky:
    platform: bluesky
    handle: {HANDLE}
    password_env: CMFLOW_BLUESKY_APP_PASSWORD
  discord:
    platform: discord
    webhook_env: CMFLOW_DISCORD_WEBHOOK
  site:
    platform: feed
    output_dir: public
    site_url: https://example.fr/actus
{extra}"""


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(
    root: Path,
    post: str,
    channel: str,
    platform: str,
    ids: Sequence[str],
    published: datetime,
    state: str = "published",
) -> None:
    """A record file as the publisher writes it (only the keys metrics read, plus required ones)."""
    entry: dict[str, Any] = {
        "post": post,
        "channel": channel,
        "platform": platform,
        "path": f"content/{post}.md",
        "state": state,
        "parts": [{"id": i, "url": f"https://social.example/{i.rsplit('/', 1)[-1]}"} for i in ids],
        "published_at": iso(published),
        "scheduled_for": published.isoformat(),
    }
    path = root / "data" / "record" / post / f"{channel}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry, indent=2) + "\n", "utf-8")


def make(root: Path, mastodon_url: str, appview_url: str, extra: str = "") -> Path:
    return write_repo(root, {}, config=config(mastodon_url, appview_url, extra))


def rows(root: Path, kind: str) -> list[dict[str, str]]:
    folder = root / "data" / "metrics" / kind
    out: list[dict[str, str]] = []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        out.extend(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    return out
