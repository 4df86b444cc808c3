"""The pull-request preview: for every changed post, exactly what each channel will receive.

Rendered as GitHub Markdown for the sticky PR comment and the job summary: final text in a
code block (never interpreted as Markdown), count against the limit, thread parts, media with
alt text, publish time in the brand's time zone, and the findings beside the channel they
concern. Everything taken from the post is escaped: a PR cannot inject HTML or Markdown into
the comment.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from cmflow import content
from cmflow import media as media_files
from cmflow.config import Config
from cmflow.i18n import _, ngettext
from cmflow.model import Finding, Post, Rendered
from cmflow.output import count_errors, count_warnings
from cmflow.preview import titled
from cmflow.slotdates import slot_label

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_LEVEL_MARK = {"error": "✗", "warning": "⚠"}


@dataclass
class PostPreview:
    path: str
    post: Post | None
    rendered: list[Rendered] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    removed: bool = False


def collect(config: Config, rels: Iterable[str], now: datetime) -> list[PostPreview]:
    """Previews of the posts among `rels` (other changed files are ignored; a change to
    channels.yaml or a media file is reported on the posts it affects by `validate`)."""
    from cmflow.render import render
    from cmflow.validation import take_slot, validate

    prefix = config.content_dir.rstrip("/") + "/"
    posts = sorted(
        r for r in set(rels) if r.startswith(prefix) and r.endswith((".md", ".markdown"))
    )
    report = validate(config, now=now, only=posts) if posts else None
    by_path: dict[str, list[Finding]] = {}
    for f in report.findings if report else []:
        by_path.setdefault(f.path, []).append(f)
    out: list[PostPreview] = []
    for rel in posts:
        if not (config.root / rel).is_file():
            out.append(PostPreview(rel, None, removed=True))
            continue
        findings = by_path.get(rel, [])
        raw = content.read_bytes(config.root, rel)
        if isinstance(raw, Finding):
            out.append(PostPreview(rel, None, findings=[raw, *findings]))
            continue
        post = content.parse_post(rel, raw, config.timezone, config.channels)
        if report is not None:
            take_slot(post, report.posts)
        rendered = [
            render(post, config.channels[c], html=False)
            for c in post.channels
            if c in config.channels and post.meta
        ]
        out.append(PostPreview(rel, post, rendered, findings))
    return out


def code(text: str) -> str:
    """Inline code that no backtick inside `text` can close early."""
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace(chr(10), ' ')}{pad}{fence}"


def text(value: str) -> str:
    """Plain text inside Markdown: no HTML, no Markdown syntax, one line."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(value.replace("\n", " "), quote=False))


def _block(body: str) -> list[str]:
    run = max((len(m) for m in re.findall(r"`{3,}|~{3,}", body)), default=2)
    fence = "`" * max(3, run + 1)
    return [f"{fence}text", body, fence]


def _count(r: Rendered) -> tuple[str, bool]:
    worst = max((p.length for p in r.parts), default=0)
    if r.limit is None:
        return f"{worst} {r.counter}", True
    return f"{worst}/{r.limit} {r.counter}", worst <= r.limit


def _finding_line(f: Finding) -> str:
    mark = _LEVEL_MARK.get(f.level, "•")
    where = _("line {line}:{column}").format(line=f.line, column=f.column)
    return f"- {mark} {where} {code(f.rule)} {text(f.message)}"


def markdown(
    previews: list[PostPreview], config: Config, *, heading: bool = True, label: str = ""
) -> str:
    errors = sum(1 for p in previews for f in p.findings if f.level == "error")
    warnings = sum(1 for p in previews for f in p.findings if f.level == "warning")
    out: list[str] = []
    if heading:
        out.append("## cmflow preview" + (f" — {code(label)}" if label else ""))
    if not previews:
        out.append(_("No post changed in this pull request."))
        return "\n".join(out) + "\n"
    n = len(previews)
    out.append(
        " · ".join(
            [
                ngettext("{n} post changed", "{n} posts changed", n).format(n=n),
                f"{count_errors(errors)}, {count_warnings(warnings)}",
                _("times in {zone}").format(zone=text(str(config.timezone))),
            ]
        )
    )
    for p in previews:
        out += ["", *_post_section(p, config)]
    return "\n".join(out) + "\n"


def _post_section(p: PostPreview, config: Config) -> list[str]:
    title = p.post.meta.get("title") if p.post and isinstance(p.post.meta, dict) else None
    head = f"### {code(p.path)}" + (f" — {text(str(title))}" if title else "")
    if p.removed:
        return [head, _("Removed in this pull request.")]
    lines = [head]
    if p.post is not None and p.post.date is not None:
        local = p.post.date.astimezone(config.timezone)
        status = " · " + _("draft (never published)") if p.post.status == "draft" else ""
        slot = f" ({slot_label(p.post.slot_note)})" if p.post.slot is not None else ""
        lines.append(f"📅 {local:%Y-%m-%d %H:%M} ({text(str(config.timezone))}){slot}{status}")
    general = [f for f in p.findings if not f.channel]
    if general:
        lines += ["", *(_finding_line(f) for f in general)]
    for r in p.rendered:
        mine = [f for f in p.findings if f.channel and r.channel in f.channel.split(", ")]
        count, fits = _count(r)
        bad = any(f.level == "error" for f in mine) or not fits
        mark = "✗" if bad else ("⚠" if mine else "✓")
        n = len(r.parts)
        thread = " · " + _("thread of {n}").format(n=n) if n > 1 else ""
        summary = f"{mark} <b>{text(r.channel)}</b> ({text(r.platform)}) · {text(count)}{thread}"
        lines += ["", f"<details{' open' if mine else ''}><summary>{summary}</summary>", ""]
        if r.title and titled(r.platform):  # as `preview` shows it: where one is sent
            lines.append("**{}** {}".format(_("Title:"), text(r.title)))
        for i, part in enumerate(r.parts, 1):
            if n > 1:
                limit = f"/{r.limit}" if r.limit is not None else ""
                lines.append(f"**{i}/{n}** · {part.length}{limit}")
            lines += _block(part.text)
            for m in part.media:
                video = media_files.video_line(config.root, m.path)
                if video is not None:
                    lines.append(f"- 🎬 {code(m.path)} — {text(video)}")
                    continue
                alt = text(m.alt) if m.alt else "**{}**".format(_("no alt text"))
                lines.append(f"- 🖼 {code(m.path)} — " + _("alt: {text}").format(text=alt))
        lines += [_finding_line(f) for f in mine]
        lines += ["", "</details>"]
    return lines
