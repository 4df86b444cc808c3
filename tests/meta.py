"""Helpers shared by the Meta adapters' tests (Facebook Page, Instagram, Threads): a content
repository with JPEG/PNG files, the public site those files are served from (a loopback
static server), channels pointing at the loopback Graph fakes, an in-memory Progress."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from cmflow import config as cfg
from cmflow.http import Http
from cmflow.model import Media, Part, Rendered
from cmflow.platforms.base import Context, PartResult, Result

TOKEN = "EAAGm0PX4ZCpsBAMetaS3cr3tT0ken9x"
TOKEN_ENV = "CMFLOW_META_TOKEN"
# Real JPEG/PNG magic bytes (cmflow and the fakes sniff the bytes, not the names).
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


class Crash(Exception):
    """Stands for the process being killed at a given step."""


@dataclass
class MemoryProgress:
    """The publisher's side of one attempt, in memory, with a hook on each step."""

    handles: dict[str, Any]
    done: list[PartResult] = field(default_factory=list)
    started_at: datetime | None = None
    on_start: Callable[[int], None] | None = None
    events: list[tuple[str, int]] = field(default_factory=list)

    def part_started(self, index: int) -> None:
        assert index == len(self.done)
        self.events.append(("started", index))
        self.started_at = datetime.now(UTC)
        if self.on_start is not None:
            self.on_start(index)

    def part_done(self, index: int, result: PartResult) -> None:
        assert index == len(self.done)
        self.events.append(("done", index))
        self.done.append(result)
        self.started_at = None

    def part_handle(self, index: int, name: str, value: Any) -> None:
        # As the ledger does: a JSON round trip, so only what a record can hold survives.
        table = self.handles.setdefault("part_handles", {})
        table.setdefault(str(index), {})[name] = json.loads(json.dumps(value))
        self.events.append(("handle", index))


def write_media(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def load_config(root: Path, channels: dict[str, dict[str, Any]]) -> cfg.Config:
    data = {"timezone": "Europe/Paris", "channels": channels}
    (root / "channels.yaml").write_text(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return cfg.load(root)


def context(config: cfg.Config, name: str, http: Http, token: str | None = TOKEN) -> Context:
    secrets = {"token_env": token} if token else {}
    return Context(config.channels[name], config.root, http, secrets, config.channels)


def rendered_of(
    name: str, platform: str, *texts: str, media: list[Media] | None = None
) -> Rendered:
    parts = [Part(t, list(media or []) if i == 0 else []) for i, t in enumerate(texts)]
    return Rendered("post-1", name, platform, parts, language="fr")


def url_of(base: str, rel: str) -> str:
    return f"{base}/{quote(rel)}"


def assert_no_token(result: Result, *texts: str) -> None:
    dumped = repr(result) + json.dumps([vars(p) for p in result.parts]) + "".join(texts)
    for form in (TOKEN, quote(TOKEN, safe="")):
        assert form not in dumped
