"""Findings for people and machines: text, JSON, GitHub workflow annotations."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from cmflow.i18n import _, ngettext
from cmflow.model import Finding
from cmflow.redact import one_line


def count_errors(n: int) -> str:
    return ngettext("{n} error", "{n} errors", n).format(n=n)


def count_warnings(n: int) -> str:
    return ngettext("{n} warning", "{n} warnings", n).format(n=n)


def level_word(level: str) -> str:
    """`error` / `warning` for people (the JSON keeps the identifier)."""
    return {"error": _("error"), "warning": _("warning")}.get(level, level)


def summary_line(findings: Sequence[Finding], files: int) -> str:
    errors = sum(1 for f in findings if f.level == "error")
    warnings = sum(1 for f in findings if f.level == "warning")
    line = (
        _("ok: {errors}, {warnings} in {files}")
        if errors == 0
        else _("failed: {errors}, {warnings} in {files}")
    )
    return line.format(
        errors=count_errors(errors),
        warnings=count_warnings(warnings),
        files=ngettext("{n} file", "{n} files", files).format(n=files),
    )


def text(findings: Sequence[Finding], files: int) -> str:
    lines = []
    for f in findings:
        where = f"{f.channel}: " if f.channel else ""
        lines.append(
            f"{printable(f.path)}:{f.line}:{f.column}: {level_word(f.level)} {f.rule}  "
            f"{printable(where)}{printable(f.message)}"
        )
    lines.append(summary_line(findings, files))
    return "\n".join(lines)


def as_json(findings: Sequence[Finding], files: int) -> str:
    """`{"findings": [...], "summary": {...}}`, as `json.dumps(..., indent=2)` writes it."""
    errors = sum(1 for f in findings if f.level == "error")
    warnings = sum(1 for f in findings if f.level == "warning")
    fast = _findings_json(findings)
    if fast is not None:
        return (
            f'{{\n  "findings": {fast},\n  "summary": {{\n    "files": {int(files)},\n'
            f'    "errors": {errors},\n    "warnings": {warnings}\n  }}\n}}'
        )
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
        "summary": {"files": files, "errors": errors, "warnings": warnings},
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


def _findings_json(findings: Sequence[Finding]) -> str | None:
    """The findings' list as `json.dumps(indent=2)` writes it inside the report, each string
    escaped by json's C encoder: with an indent, `json.dumps` runs its pure-Python encoder,
    which took a tenth of an unchanged run with a thousand findings. None when a value is not
    of the type a finding holds (then `json.dumps` writes it)."""
    if not findings:
        return "[]"
    quote = json.encoder.encode_basestring  # the C one where there is one, as json.dumps's
    items: list[str] = []
    for f in findings:
        path, line, column, level, rule, channel, message = (
            f.path,
            f.line,
            f.column,
            f.level,
            f.rule,
            f.channel,
            f.message,
        )
        if not (
            type(path) is str
            and type(line) is int
            and type(column) is int
            and type(level) is str
            and type(rule) is str
            and (channel is None or type(channel) is str)
            and type(message) is str
        ):
            return None
        items.append(
            f'    {{\n      "path": {quote(path)},\n      "line": {line},\n'
            f'      "column": {column},\n      "level": {quote(level)},\n'
            f'      "rule": {quote(rule)},\n'
            f'      "channel": {"null" if channel is None else quote(channel)},\n'
            f'      "message": {quote(message)}\n    }}'
        )
    return "[\n" + ",\n".join(items) + "\n  ]"


def printable(s: object) -> str:
    """A value for one line of human output: line breaks and other control characters are
    shown escaped (`\\n`), so a file name cannot start a line of its own (under GitHub
    Actions, a line starting with `::` is a workflow command)."""
    text = str(s)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def escape_data(s: str) -> str:
    """A workflow command's message: the runner unescapes these before use."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    """A workflow command's property value (`file=`, `title=`): `:` and `,` also end it."""
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str = "", **properties: object) -> str:
    """One GitHub Actions workflow command line, every value escaped, so that nothing taken
    from a post (a file name with a line break, a `::`) can end it or start another
    (docs.github.com, "Workflow commands for GitHub Actions")."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


# What can make a cell's text more than text: HTML, links and images (`[`), emphasis,
# code spans, and the `|` that starts another column. Other punctuation stays as it is.
_MD_ESCAPE = {c: "\\" + c for c in "\\`*_[]|~"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def md_cell(s: object) -> str:
    """A value as plain text in a Markdown table cell of the job summary: HTML (`<img
    onerror>`), a link, emphasis or a `|` that would add a column are escaped, and line
    breaks, which would end the row, become spaces."""
    return "".join(_MD_ESCAPE.get(c, c) for c in one_line(str(s)))


def md_code(s: object) -> str:
    """A value as code in a table cell: a code span when it holds no backtick nor HTML
    (inside one, only `|` needs escaping in a table), else an escaped `<code>` element."""
    text = one_line(str(s))
    if not any(c in text for c in "`<>&"):
        return "`" + text.replace("|", "\\|") + "`"
    return f"<code>{md_cell(text)}</code>"


def repo_prefix(root: Path | None) -> str:
    """What goes before a path relative to the brand's folder `root` for GitHub to find the
    file in the repository: `root`'s place in the checkout (GITHUB_WORKSPACE in Actions,
    else the nearest folder holding `.git`), e.g. "brands/cafe/" for one brand of an
    agency's repository, "" for a brand at the top (or a folder outside any checkout)."""
    if root is None:
        return ""
    real = Path(os.path.realpath(root))
    top = os.environ.get("GITHUB_WORKSPACE")
    base = Path(os.path.realpath(top)) if top else _checkout_of(real)
    if base is None:
        return ""
    try:
        rel = real.relative_to(base).as_posix()
    except ValueError:
        return ""
    return "" if rel == "." else f"{rel}/"


def _checkout_of(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def github(findings: Sequence[Finding], files: int, root: Path | None = None) -> str:
    """Workflow commands that GitHub shows as annotations on the pull request's diff (paths
    from the repository's top: see `repo_prefix`)."""
    prefix = repo_prefix(root)
    lines = []
    for f in findings:
        title = f"{f.rule} ({f.channel})" if f.channel else f.rule
        lines.append(
            workflow_command(
                "error" if f.level == "error" else "warning",
                f.message,
                file=prefix + f.path,
                line=f.line,
                col=f.column,
                title=title,
            )
        )
    lines.append(summary_line(findings, files))
    return "\n".join(lines)


def step_summary(
    findings: Sequence[Finding],
    files: int,
    title: str = "cmflow validate",
    root: Path | None = None,
) -> None:
    """Append a Markdown table to the job summary when running in GitHub Actions (paths as
    the annotations give them: see `repo_prefix`)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    prefix = repo_prefix(root)
    out = [f"### {title} — {summary_line(findings, files)}", ""]
    if findings:
        head = (_("file"), _("rule"), _("channel"), _("message"))
        out += ["| | " + " | ".join(head) + " |", "|---|---|---|---|---|"]
        for f in findings:
            icon = "❌" if f.level == "error" else "⚠️"
            out.append(
                f"| {icon} | {md_code(f'{prefix}{f.path}:{f.line}')} | {md_code(f.rule)} | "
                f"{md_cell(f.channel or '')} | {md_cell(f.message)} |"
            )
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("\n".join(out) + "\n\n")
    except OSError:
        pass


FORMATTERS = {"text": text, "json": as_json, "github": github}
