"""What `cmflow metrics collect` prints: one line per channel, then the files written."""

from __future__ import annotations

import json

from cmflow.metrics.collect import ChannelRun, CollectReport
from cmflow.metrics.store import stamp


def _line(run: ChannelRun) -> str:
    head = f"{run.channel} ({run.platform}): "
    if run.skipped:
        return head + run.skipped
    parts = []
    if run.due or run.counts:
        done = ", ".join(f"{n} {s}" for s, n in sorted(run.counts.items()))
        parts.append(f"{run.due} post(s) due" + (f": {done}" if done else ""))
    if run.followers is not None:
        parts.append(f"{run.followers} followers")
    text = head + ("; ".join(parts) or "nothing due")
    for note in run.notes:
        text += f"\n    {note}"
    return text


def as_text(report: CollectReport) -> str:
    lines = [f"metrics as of {stamp(report.now)}"]
    lines += [_line(r) for r in report.channels]
    lines += [_line(r) for r in report.extras]
    for problem in report.problems:
        lines.append(f"warning: {problem}")
    if report.files:
        lines.append("written: " + ", ".join(report.files))
        if report.pushed:
            lines.append("committed and pushed")
    else:
        lines.append("nothing written")
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
