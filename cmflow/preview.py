"""`cmflow preview`: exactly what each channel receives, with its count against its limit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cmflow import content, platforms, slotdates
from cmflow import media as media_files
from cmflow.config import Config
from cmflow.errors import CmflowError
from cmflow.i18n import _, ngettext
from cmflow.model import Finding, Rendered
from cmflow.output import level_word
from cmflow.render import render
from cmflow.schema import channel_hint
from cmflow.validation import take_slot, validate


@dataclass
class Preview:
    path: str
    post_id: str
    rendered: list[Rendered]
    findings: list[Finding] = field(default_factory=list)
    root: Path | None = None  # the repository, to describe videos (duration, aspect ratio)
    slot: str | None = None  # the time a queue slot gives it: "Tue 8 Dec 2026 09:00 CET (slot)"

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error")


def preview(config: Config, rel: str, channels: list[str], now: datetime) -> Preview:
    raw = content.read_bytes(config.root, rel)
    if isinstance(raw, Finding):
        raise CmflowError(f"{rel}: {raw.message}")
    post = content.parse_post(rel, raw, config.timezone, config.channels)
    unknown = [c for c in channels if c not in config.channels]
    if unknown:
        raise CmflowError(
            _("unknown channel {name}{hint}").format(
                name=repr(unknown[0]), hint=channel_hint(unknown[0], config.channels)
            )
        )
    wanted = [c for c in post.channels if not channels or c in channels]
    if channels and not wanted:
        raise CmflowError(
            _("{path} is not published on {channels} (it goes to {goes})").format(
                path=rel,
                channels=", ".join(channels),
                goes=", ".join(post.channels) or _("no channel"),
            )
        )
    report = validate(config, now=now, only=[rel])
    take_slot(post, report.posts)
    findings = report.findings
    if channels:
        findings = [
            f
            for f in findings
            if f.channel is None or any(c in f.channel.split(", ") for c in channels)
        ]
    rendered = [render(post, config.channels[c], html=True) for c in wanted]
    slot = (
        f"{slotdates.when_text(post.date, config.timezone)} ({slotdates.slot_label(post.slot_note)})"
        if post.slot is not None and post.date is not None
        else None
    )
    return Preview(rel, post.id, rendered, findings, config.root, slot)


def _line(f: Finding) -> str:
    return f"  {f.path}:{f.line}:{f.column}: {level_word(f.level)} {f.rule}  {f.message}"


def findings_for(p: Preview, channel: str | None) -> list[Finding]:
    """The findings about `channel` (None: about the post itself, every channel)."""
    if channel is None:
        return [f for f in p.findings if f.channel is None]
    return [f for f in p.findings if f.channel and channel in f.channel.split(", ")]


def as_text(p: Preview) -> str:
    """Each channel's text with its count and, beside it, what holds it back: a tick means
    the channel has no error, not merely that the text fits."""
    out = [f"{p.path}  (id: {p.post_id})"]
    if p.slot is not None:
        out.append(_("date: {when}").format(when=p.slot))
    shared = findings_for(p, None)
    if shared:
        out += ["", _("About the post (every channel):"), *(_line(f) for f in shared)]
    shared_errors = sum(1 for f in shared if f.level == "error")
    for r in p.rendered:
        n = len(r.parts)
        worst = max((part.length for part in r.parts), default=0)
        limit = f"{worst}/{r.limit}" if r.limit is not None else f"{worst}"
        mine = findings_for(p, r.channel)
        errors = shared_errors + sum(1 for f in mine if f.level == "error")
        head = f"── {r.channel} ({r.platform}) · {limit} {r.counter}"
        head += " · " + _("thread of {n}").format(n=n) if n > 1 else ""
        if errors:
            head += "  ✗ " + ngettext(
                "{n} error: not sent until fixed", "{n} errors: not sent until fixed", errors
            ).format(n=errors)
        else:
            head += "  ✓"
        out += ["", head]
        if r.title and titled(r.platform):
            out.append(_("title: {title}").format(title=r.title))
        for i, part in enumerate(r.parts, 1):
            if n > 1:
                out.append(f"[{i}/{n}] {part.length}{'/' + str(r.limit) if r.limit else ''}")
            out.append(part.text)
            for m in part.media:
                video = _video_line(p.root, m.path)
                if video is not None:
                    out.append(f"  🎬  {m.path} — {video}")
                else:
                    alt = _("alt: {text}").format(text=m.alt or _("(none)"))
                    out.append(f"  🖼  {m.path} — {alt}")
        out += [_line(f) for f in mine]
    return "\n".join(out)


def as_json(p: Preview) -> str:
    data = {
        "path": p.path,
        "id": p.post_id,
        "channels": [
            {
                "channel": r.channel,
                "platform": r.platform,
                "title": r.title,
                "limit": r.limit,
                "counted_as": r.counter,
                "errors": sum(
                    1
                    for f in [*findings_for(p, None), *findings_for(p, r.channel)]
                    if f.level == "error"
                ),
                "findings": [f.__dict__ for f in findings_for(p, r.channel)],
                "parts": [
                    {
                        "text": part.text,
                        "length": part.length,
                        "media": [
                            {"path": m.path, "alt": m.alt, "video": _video_json(p.root, m.path)}
                            for m in part.media
                        ],
                        "links": [
                            {"start": lk.start, "end": lk.end, "url": lk.url} for lk in part.links
                        ],
                    }
                    for part in r.parts
                ],
            }
            for r in p.rendered
        ],
        "findings": [f.__dict__ for f in p.findings],
    }
    if p.slot is not None:
        data["date"] = p.slot
    return json.dumps(data, ensure_ascii=False, indent=2)


def _video_line(root: Path | None, rel: str) -> str | None:
    return media_files.video_line(root, rel) if root is not None else None


def _video_json(root: Path | None, rel: str) -> dict[str, object] | None:
    if root is None:
        return None
    v = media_files.inspect(root, rel).video
    if v is None:
        return None
    return {
        "duration": v.duration,
        "width": v.width,
        "height": v.height,
        "aspect": v.aspect,
        "rotation": v.rotation,
        "codecs": list(v.codecs),
    }


def titled(platform: str) -> bool:
    spec = platforms.spec(platform)
    return spec is not None and spec.titles
