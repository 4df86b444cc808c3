"""What `cmflow metrics collect` prints: one line per channel, then the files written."""

from __future__ import annotations

import json

from cmflow.i18n import _, ngettext
from cmflow.metrics.collect import ChannelRun, CollectReport
from cmflow.metrics.store import stamp


def _line(run: ChannelRun) -> str:
    head = f"{run.channel} ({run.platform}): "
    if run.skipped:
        return head + run.skipped
    parts = []
    if run.due or run.counts:
        done = ", ".join(f"{n} {s}" for s, n in sorted(run.counts.items()))
        due = ngettext("{count} post due", "{count} posts due", run.due).format(count=run.due)
        parts.append(due + (f": {done}" if done else ""))
    if run.followers is not None:
        parts.append(
            ngettext("{count} follower", "{count} followers", run.followers).format(
                count=run.followers
            )
        )
    text = head + ("; ".join(parts) or _("nothing due"))
    for note in run.notes:
        text += f"\n    {note}"
    return text


def as_text(report: CollectReport) -> str:
    lines = [_("metrics as of {time}").format(time=stamp(report.now))]
    lines += [_line(r) for r in report.channels]
    lines += [_line(r) for r in report.extras]
    for problem in report.problems:
        lines.append(_("warning: {problem}").format(problem=problem))
    if report.files:
        lines.append(_("written: {files}").format(files=", ".join(report.files)))
        if report.pushed:
            lines.append(_("committed and pushed"))
    else:
        lines.append(_("nothing written"))
    return "\n".join(lines)


def as_json(report: CollectReport) -> str:
    def run(r: ChannelRun) -> dict[str, object]:
        return {
            "channel": r.channel,
            "platform": r.platform,
            "due": r.due,
            "results": r.counts,
            "followers": r.followers,
            "skipped": r.skipped,
            "notes": r.notes,
        }

    return json.dumps(
        {
            "at": stamp(report.now),
            "channels": [run(r) for r in report.channels],
            "extras": [run(r) for r in report.extras],
            "files": report.files,
            "problems": report.problems,
            "pushed": report.pushed,
            "ok": report.ok,
        },
        indent=2,
        ensure_ascii=False,
    )
