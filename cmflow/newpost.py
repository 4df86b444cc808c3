"""`cmflow new`: a post file with complete, valid front-matter, named and placed by convention
(`content/YYYY/MM/YYYY-MM-DD-slug.md`). Pure apart from `write`: the clock, the queue and
the key dates are passed in."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path

import yaml

from cmflow.config import Config
from cmflow.errors import CmflowError
from cmflow.i18n import _
from cmflow.keydates import KeyDate, slugify
from cmflow.model import Post
from cmflow.slotdates import first_shared
from cmflow.slots import local


@dataclass
class Draft:
    title: str
    channels: list[str]
    when: datetime  # aware, brand zone
    pillar: str | None = None
    campaign: str | None = None
    tags: list[str] = field(default_factory=list)
    status: str = "ready"
    body: str = ""

    def front_matter(self) -> dict[str, object]:
        data: dict[str, object] = {
            "date": self.when.strftime("%Y-%m-%d %H:%M"),
            "channels": list(self.channels),
            "title": self.title,
        }
        if self.pillar:
            data["pillar"] = self.pillar
        if self.campaign:
            data["campaign"] = self.campaign
        if self.tags:
            data["tags"] = list(self.tags)
        if self.status != "ready":
            data["status"] = self.status
        return data

    def text(self) -> str:
        head = yaml.safe_dump(
            self.front_matter(), allow_unicode=True, sort_keys=False, default_flow_style=None
        )
        body = self.body.strip() or _("Write the post's text here (Markdown).")
        return f"---\n{head}---\n{body}\n"


def next_slot(
    config: Config, channels: Sequence[str], posts: Iterable[Post], after: datetime
) -> datetime:
    """The first moment after `after` that is a free slot on every channel of the post that
    has `slots` (a slot is taken by any post already dated then on that channel)."""
    with_slots = [c for c in channels if config.slots.get(c)]
    if not with_slots:
        raise CmflowError(
            _(
                "no queue slots on {channels}: add {example} to a channel in channels.yaml, or "
                "give --date"
            ).format(channels=", ".join(channels), example='`slots: ["Tue 09:00"]`')
        )
    posts = list(posts)
    taken = {
        c: {p.date for p in posts if p.date is not None and c in p.channels} for c in with_slots
    }
    found = first_shared({c: config.slots[c] for c in with_slots}, config.timezone, after, taken)
    if found is None:
        raise CmflowError(
            _(
                "no free slot shared by {channels} in the next year: add slots, or give --date"
            ).format(channels=", ".join(with_slots))
        )
    return found.astimezone(config.timezone)


def find_key_date(name: str, dates: Iterable[KeyDate]) -> KeyDate:
    wanted = slugify(name)
    found = [d for d in dates if d.slug == wanted or slugify(d.name) == wanted]
    if not found:
        found = [d for d in dates if wanted and wanted in d.slug]
    if not found:
        import difflib

        names = sorted({d.slug for d in dates})
        close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
        hint = " " + _("(did you mean {names}?)").format(names=", ".join(close)) if close else ""
        raise CmflowError(
            _("no key date {name} in the coming year{hint}: `cmflow calendar` shows them").format(
                name=repr(name), hint=hint
            )
        )
    return min(found)


def default_time(config: Config, channels: Sequence[str], day: datetime) -> datetime:
    """09:00 that day, or the first slot that day of a channel that has slots."""
    for c in channels:
        for slot in sorted(config.slots.get(c, ()), key=lambda s: s.at):
            if day.weekday() in slot.weekdays:
                return local(day.date(), slot.at, config.timezone)
    return local(day.date(), time(9, 0), config.timezone)


def path_for(config: Config, draft: Draft) -> str:
    slug = slugify(draft.title)[:60].strip("-") or "post"
    w = draft.when
    return f"{config.content_dir.rstrip('/')}/{w:%Y}/{w:%m}/{w:%Y-%m-%d}-{slug}.md"


def write(root: Path, rel: str, text: str) -> Path:
    """Create the file; never overwrite one that exists."""
    path = root / rel
    if path.exists() or path.is_symlink():
        raise CmflowError(_("{path} already exists: choose another title or date").format(path=rel))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".new-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.link(tmp, path)  # fails if the file appeared meanwhile: no overwrite, ever
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
