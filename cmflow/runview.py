"""How `cmflow plan` and `cmflow publish` show a run: a table for people, JSON for tools."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from cmflow.i18n import _, ngettext
from cmflow.model import Finding
from cmflow.output import md_cell, md_code, printable
from cmflow.publisher import RunReport
from cmflow.scheduler import Action
from cmflow.slotdates import slot_label

SYMBOLS = {
    "publish": "+",
    "update": "~",
    "updated": "✎",
    "reconcile": "?",
    "done": "=",
    "wait": "…",
    "skip": "-",
    "missed": "!",
    "blocked": "✋",
    "invalid": "✗",
    "published": "✓",
    "failed": "✗",
    "unknown": "?",
    "needs_human": "✋",
    "deferred": "↻",
    "needs_reauth": "🔑",
    "waiting": "⏳",
    "skipped": "-",
}


def _when(action: Action, tz: ZoneInfo) -> str:
    post = action.post
    if post.date is None:
        return "—"
    when = f"{post.date.astimezone(tz):%Y-%m-%d %H:%M}"
    if post.slot is None:
        return when
    return f"{when} ({slot_label(post.slot_note)})"


Unreadable = Mapping[str, Sequence[Finding]]  # post path -> its error findings


def unreadable_lines(unreadable: Unreadable) -> list[str]:
    """A post whose channels could not be read goes nowhere: say so, with what to fix."""
    lines = []
    for path, findings in unreadable.items():
        p = printable(path)
        lines.append(
            "  ✗ unreadable "
            + _("{path}  cannot be read as a post, so it goes nowhere:").format(path=p)
        )
        for f in findings:
            lines.append(f"      {p}:{f.line}:{f.column}: {f.rule}  {printable(f.message)}")
        if not findings:
            lines.append("      " + _("run {command}").format(command=f"cmflow validate {p}"))
    return lines


def unreadable_json(unreadable: Unreadable) -> list[dict[str, object]]:
    return [
        {
            "path": path,
            "line": findings[0].line if findings else 1,
            "column": findings[0].column if findings else 1,
            "rule": findings[0].rule if findings else None,
            "message": findings[0].message if findings else _("cannot be read as a post"),
            "findings": [
                {"line": f.line, "column": f.column, "rule": f.rule, "message": f.message}
                for f in findings
            ],
        }
        for path, findings in unreadable.items()
    ]


# The pairs a run leaves be (published, not due, skipped): what a run's output does not list.
QUIET = ("done", "wait", "skip")


def plan_text(
    actions: list[Action],
    tz: ZoneInfo,
    now: datetime,
    *,
    show_all: bool = True,
    notes: list[str] | None = None,
    unreadable: Unreadable | None = None,
    all_hint: bool = True,
) -> str:
    """One line per pair that the run acts on or holds (every pair with `show_all`), then
    the skipped ones grouped by reason, the posts that could not be read, and the counts.
    `all_hint`: whether to point at `--all` (the plan's) for the pairs left out."""
    unreadable = unreadable or {}
    lines = [_("Plan at {time}:").format(time=f"{now.astimezone(tz):%Y-%m-%d %H:%M %Z}")]
    for a in actions:
        if show_all or a.kind not in QUIET:
            lines.append(
                f"  {SYMBOLS.get(str(a.kind), ' ')} {a.kind:<9} {_when(a, tz)}  "
                f"{printable(a.channel):<10} {printable(a.post.path)}  {printable(a.reason)}"
            )
    if not show_all:
        # Drafts are not worth a line (the scheduler's reason for them is `_("draft")`).
        skipped = Counter(a.reason for a in actions if a.kind == "skip" and a.reason != _("draft"))
        for reason, n in sorted(skipped.items(), key=lambda kv: -kv[1]):
            lines.append("  - " + _skipped(n, printable(reason)))
    counts = Counter(str(a.kind) for a in actions)
    order = [
        "publish",
        "update",
        "reconcile",
        "invalid",
        "missed",
        "blocked",
        "waiting",
        "done",
        "wait",
        "skip",
    ]
    lines += unreadable_lines(unreadable)
    if not actions and unreadable:
        n = len(unreadable)
        lines.append(
            ngettext(
                "No readable post goes to these channels, and {n} post could not be read "
                "(above): fix it, it may be meant for these channels.",
                "No readable post goes to these channels, and {n} posts could not be read "
                "(above): fix them, they may be meant for these channels.",
                n,
            ).format(n=n)
        )
    elif not actions:
        lines.append(_("Nothing to do: no post goes to these channels."))
    else:
        lines.append(
            _("Summary: {counts}").format(
                counts=", ".join(
                    [f"{counts[k]} {k}" for k in order if counts[k]]
                    + ([f"{len(unreadable)} unreadable"] if unreadable else [])
                )
            )
        )
        if all_hint and not show_all and any(a.kind in QUIET for a in actions):
            lines.append(_("(--all lists every pair, including done and not yet due)"))
    lines += [_("Note: {note}").format(note=n) for n in notes or ()]
    return "\n".join(lines)


def plan_json(
    actions: list[Action],
    now: datetime,
    notes: list[str] | None = None,
    unreadable: Unreadable | None = None,
) -> str:
    return json.dumps(
        {
            "notes": list(notes or ()),
            "at": now.isoformat(),
            "unreadable": unreadable_json(unreadable or {}),
            "actions": [
                {
                    "post": a.post.id,
                    "path": a.post.path,
                    "channel": a.channel,
                    "date": a.post.date.isoformat() if a.post.date else None,
                    "action": str(a.kind),
                    "reason": a.reason,
                    "state": a.entry.state if a.entry else None,
                    # Only for a post whose time came from a queue slot (`date: next`, a day).
                    **({"slot": a.post.slot} if a.post.slot is not None else {}),
                    # An evergreen re-post: its publication number and "re-post n/times".
                    **({"publication": a.publication, "repost": a.repost} if a.repost else {}),
                }
                for a in actions
            ],
            "summary": dict(Counter(str(a.kind) for a in actions)),
        },
        ensure_ascii=False,
        indent=2,
    )


def run_text(report: RunReport, tz: ZoneInfo) -> str:
    lines = []
    acted = [r for r in report.results if r.status not in QUIET]
    for r in acted:
        lines.append(
            f"  {SYMBOLS.get(r.status, ' ')} {r.status:<11} {printable(r.action.channel):<10} "
            f"{printable(r.action.post.path)}  {printable(r.message)}"
        )
    counts = Counter(r.status for r in report.results)
    order = [
        "published",
        "updated",
        "failed",
        "needs_reauth",
        "unknown",
        "needs_human",
        "deferred",
        "missed",
        "waiting",
        "done",
        "wait",
        "skip",
        "blocked",
        "invalid",
    ]
    head = _("Run {run}: {counts}").format(
        run=report.run_id,
        counts=", ".join(f"{counts[k]} {k}" for k in order if counts[k]) or _("nothing to do"),
    )
    if not acted:
        head += " — " + _("nothing new to publish")
    out = [head, *lines]
    # Blocked pairs are listed above, each with what to do: only the skipped are grouped.
    skipped = Counter(r.message for r in report.results if r.status == "skip")
    for message, n in sorted(skipped.items(), key=lambda kv: -kv[1]):
        if message != _("draft"):
            out.append("  - " + _skipped(n, printable(message)))
    out += unreadable_lines({p: report.why.get(p, []) for p in report.unreadable})
    if report.push_error:
        out.append(_("push failed: {reason}").format(reason=printable(report.push_error)))
    return "\n".join(out)


def _skipped(n: int, reason: str) -> str:
    return ngettext("{n} skipped: {reason}", "{n} skipped: {reason}", n).format(n=n, reason=reason)


def run_json(report: RunReport) -> str:
    return json.dumps(
        {
            "run_id": report.run_id,
            "at": report.now.isoformat(),
            "ok": report.ok,
            "push_error": report.push_error,
            "unreadable": report.unreadable,
            "unreadable_findings": unreadable_json(
                {p: report.why.get(p, []) for p in report.unreadable}
            ),
            "results": [
                {
                    "post": r.action.post.id,
                    "path": r.action.post.path,
                    "channel": r.action.channel,
                    "state": r.status,
                    "message": r.message,
                    "remote_id": r.entry.remote_id if r.entry else None,
                    "url": r.entry.url if r.entry else None,
                }
                for r in report.results
            ],
            "summary": dict(Counter(r.status for r in report.results)),
        },
        ensure_ascii=False,
        indent=2,
    )


def run_summary_markdown(report: RunReport, redact: Callable[[str], str] = str) -> str:
    """The run for the GitHub job summary: what went out, what failed, what waits on a human.

    Every value from a post or a server is escaped (`md_cell`): a file name or a reason must
    not add HTML, a link or a table row to the summary. `redact` masks secrets before the
    escaping, which would otherwise hide a secret's form from the mask."""

    def cell(value: str) -> str:
        return md_cell(redact(value))

    counts = Counter(r.status for r in report.results)
    lines = ["### cmflow publish — " + _("run {run}").format(run=report.run_id), ""]
    lines.append(", ".join(f"{n} {k}" for k, n in counts.most_common()) or _("nothing to do"))
    acted = [r for r in report.results if r.status not in QUIET]
    if acted or report.unreadable or report.push_error:
        lines += ["", _table_head(_("state")), "|---|---|---|---|---|"]
        for r in acted:
            icon = SYMBOLS.get(r.status, "")
            lines.append(
                f"| {icon} | {r.status} | {cell(r.action.channel)} | "
                f"{md_code(redact(r.action.post.path))} | {cell(r.message)} |"
            )
        lines += _unreadable_rows({p: report.why.get(p, []) for p in report.unreadable}, redact)
    if report.push_error:
        lines += [
            "",
            "**{}** {}".format(_("The record could not be pushed:"), cell(report.push_error)),
        ]
    return "\n".join(lines) + "\n"


def _table_head(first: str) -> str:
    return "| | {} | {} | {} | {} |".format(first, _("channel"), _("post"), _("details"))


def _unreadable_rows(unreadable: Unreadable, redact: Callable[[str], str] = str) -> list[str]:
    rows = []
    for path, findings in unreadable.items():
        what = "; ".join(f"{f.line}:{f.column} {f.message}" for f in findings)
        run = _("run {command}").format(command=md_code(redact(f"cmflow validate {path}")))
        what = md_cell(redact(what or _("cannot be read as a post")))
        rows.append(f"| ✗ | unreadable | | {md_code(redact(path))} | {what}: {run} |")
    return rows


def plan_summary_markdown(actions: list[Action], now: datetime, unreadable: Unreadable) -> str:
    """The plan for the GitHub job summary: what the next run would do, and what it cannot."""
    counts = Counter(str(a.kind) for a in actions)
    lines = [f"### cmflow plan — {now.isoformat(timespec='minutes')}", ""]
    summary = [f"{n} {k}" for k, n in counts.most_common()]
    if unreadable:
        summary.append(f"{len(unreadable)} unreadable")
    lines.append(", ".join(summary) or _("nothing to do"))
    acting = [a for a in actions if a.kind not in QUIET]
    if acting or unreadable:
        lines += ["", _table_head(_("action")), "|---|---|---|---|---|"]
        for a in acting:
            icon = SYMBOLS.get(str(a.kind), "")
            lines.append(
                f"| {icon} | {a.kind} | {md_cell(a.channel)} | {md_code(a.post.path)} | "
                f"{md_cell(a.reason)} |"
            )
        lines += _unreadable_rows(unreadable)
    return "\n".join(lines) + "\n"
