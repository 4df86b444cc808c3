"""Findings for people and machines: text, JSON, GitHub workflow annotations."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from cmflow.model import Finding


def summary_line(findings: Sequence[Finding], files: int) -> str:
    errors = sum(1 for f in findings if f.level == "error")
    warnings = sum(1 for f in findings if f.level == "warning")

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    verdict = "ok" if errors == 0 else "failed"
    return f"{verdict}: {plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(files, 'file')}"


def text(findings: Sequence[Finding], files: int) -> str:
    lines = []
    for f in findings:
        where = f"{f.channel}: " if f.channel else ""
        lines.append(f"{f.path}:{f.line}:{f.column}: {f.level} {f.rule}  {where}{f.message}")
    lines.append(summary_line(findings, files))
    return "\n".join(lines)


def as_json(findings: Sequence[Finding], files: int) -> str:
    data = {
        "findings": [
            {
                "path": f.path,
                "line": f.line,
                "column": f.column,
                "level": f.level,
                "rule": f.rule,
                "channel": f.channel,
                "message": f.message,
            }
            for f in findings
        ],
        "summary": {
            "files": files,
            "errors": sum(1 for f in findings if f.level == "error"),
            "warnings": sum(1 for f in findings if f.level == "warning"),
        },
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github(findings: Sequence[Finding], files: int) -> str:
    """Workflow commands that GitHub shows as annotations on the pull request's diff."""
    lines = []
    for f in findings:
        title = f"{f.rule} ({f.channel})" if f.channel else f.rule
        lines.append(
            f"::{'error' if f.level == 'error' else 'warning'} file={_escape_property(f.path)},"
            f"line={f.line},col={f.column},title={_escape_property(title)}::{_escape_data(f.message)}"
        )
    lines.append(summary_line(findings, files))
    return "\n".join(lines)


def step_summary(findings: Sequence[Finding], files: int) -> None:
    """Append a Markdown table to the job summary when running in GitHub Actions."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    out = [f"### cmflow validate — {summary_line(findings, files)}", ""]
    if findings:
        out += ["| | file | rule | channel | message |", "|---|---|---|---|---|"]
        for f in findings:
            icon = "❌" if f.level == "error" else "⚠️"
            msg = f.message.replace("|", "\\|")
            out.append(f"| {icon} | `{f.path}:{f.line}` | `{f.rule}` | {f.channel or ''} | {msg} |")
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("\n".join(out) + "\n\n")
    except OSError:
        pass


FORMATTERS = {"text": text, "json": as_json, "github": github}
