"""An in-memory `Progress` (the publisher's side of an attempt) for adapter tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cmflow.platforms.base import PartResult
from tests.fakes.base import FakeServer


@dataclass
class MemProgress:
    """Notes how many requests the server had seen when each part was started and recorded,
    to prove that part i is recorded before part i+1 is sent."""

    server: FakeServer
    handles: dict[str, Any] = field(default_factory=dict)
    done: list[PartResult] = field(default_factory=list)
    started_at: datetime | None = None
    events: list[tuple[str, int, int]] = field(default_factory=list)

    def part_started(self, index: int) -> None:
        self.started_at = datetime.now(UTC)
        self.events.append(("started", index, len(self.server.requests)))

    def part_done(self, index: int, result: PartResult) -> None:
        assert index == len(self.done)
        self.done.append(result)
        self.events.append(("done", index, len(self.server.requests)))

    def part_handle(self, index: int, name: str, value: Any) -> None:
        table = self.handles.setdefault("part_handles", {})
        table.setdefault(str(index), {})[name] = value
        self.events.append(("handle", index, len(self.server.requests)))
