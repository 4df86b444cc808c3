"""The `cmflow` command: thin commands over the library. Heavy imports stay inside commands
so that `cmflow --help` starts fast."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cmflow import __version__
from cmflow.errors import CmflowError, ExitCode

if TYPE_CHECKING:
    from cmflow.config import Config

F = TypeVar("F", bound=Callable[..., Any])


def root_option(f: F) -> F:
    return click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        help="Content repository (default: the nearest folder with channels.yaml).",
    )(f)


def format_option(f: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "github"]),
        default=None,
        help="Output format (default: github under GitHub Actions, else text).",
    )(f)


def at_option(help_text: str) -> Callable[[F], F]:
    return click.option("--at", "at", metavar="TIME", default=None, help=help_text)


def resolve_format(fmt: str | None) -> str:
    if fmt:
        return fmt
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"


def load_config(root: Path | None) -> Config:
    from cmflow import config as config_mod
    from cmflow.rules import BY_ID

    folder = root.resolve() if root else config_mod.find_root(Path.cwd())
    if root and not (folder / config_mod.CONFIG_NAME).is_file():
        raise CmflowError(f"{folder} has no {config_mod.CONFIG_NAME}: pass the repository root")
    return config_mod.load(folder, set(BY_ID))


def parse_at(value: str | None, cfg: Config) -> datetime:
    if value is None:
        return datetime.now(UTC)
    from cmflow.timeutil import DateProblem, parse_datetime

    try:
        return parse_datetime(value, cfg.timezone)
    except DateProblem as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cmflow")
def cli() -> None:
    """Content-as-code for community managers.

    Posts are Markdown files in content/, the editorial line is channels.yaml. cmflow checks
    every post against that line, previews it per network, and publishes due posts exactly once.
    """


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@root_option
@format_option
@at_option("Check the schedule as of TIME (default: now), e.g. 2026-11-24 09:00.")
@click.option(
    "--changed-since",
    metavar="REF",
    help="Report only files changed since a git ref (the whole queue is still checked).",
)
@click.option("--no-cache", is_flag=True, help="Ignore the cache in .cmflow-cache/.")
def validate(
    paths: tuple[Path, ...],
    root: Path | None,
    fmt: str | None,
    at: str | None,
    changed_since: str | None,
    no_cache: bool,
) -> None:
    """Check posts against the editorial line and the whole queue.

    With PATHS (files or folders), only findings in those files are reported; the rest of the
    queue is still read, because caps, gaps and the content mix depend on every post.
    Exit 1 when an error-level finding is reported.
    """
    from cmflow import output
    from cmflow.validation import validate as run

    cfg = load_config(root)
    if not (cfg.root / cfg.content_dir).is_dir():
        raise CmflowError(
            f"the content folder {cfg.content_dir!r} does not exist in {cfg.root}: "
            "create it, or set content_dir in channels.yaml"
        )
    now = parse_at(at, cfg)
    only: set[str] | None = None
    if paths:
        only = set()
        for p in paths:
            only |= _relative_posts(cfg, p)
    if changed_since:
        from cmflow import gitops

        changed = gitops.changed_files(cfg.root, changed_since)
        only = changed if only is None else only & changed
    report = run(cfg, now=now, only=only, use_cache=not no_cache)
    kind = resolve_format(fmt)
    click.echo(output.FORMATTERS[kind](report.findings, report.files))
    if kind == "github":
        output.step_summary(report.findings, report.files)
    sys.exit(ExitCode.FINDINGS if report.errors else ExitCode.OK)


def _relative_posts(cfg: Config, path: Path) -> set[str]:
    from cmflow import content

    target = path.resolve()
    root = cfg.root.resolve()
    if not target.exists():
        raise click.BadParameter(f"{path} does not exist", param_hint="PATHS")
    if not target.is_relative_to(root):
        raise click.BadParameter(f"{path} is outside the repository {root}", param_hint="PATHS")
    rel = target.relative_to(root).as_posix()
    if target.is_file():
        return {rel}
    if (
        rel not in (".", "")
        and not rel.startswith(cfg.content_dir.rstrip("/") + "/")
        and rel != cfg.content_dir
    ):
        # A folder of media (or anything else): the posts using those files are reported.
        return {p.relative_to(root).as_posix() for p in target.rglob("*") if p.is_file()}
    return {
        r
        for r in content.discover(cfg.root, cfg.content_dir)
        if rel in (".", "") or r.startswith(rel + "/")
    }


@cli.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--channel", "channels", multiple=True, metavar="NAME", help="Only this channel (repeatable)."
)
@root_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format."
)
def preview(path: Path, channels: tuple[str, ...], root: Path | None, fmt: str) -> None:
    """Show exactly what each channel will receive, with its length against the limit."""
    from cmflow import preview as preview_mod

    cfg = load_config(root)
    rel = next(iter(_relative_posts(cfg, path)))
    if not rel.endswith((".md", ".markdown")):
        raise click.BadParameter(
            f"{path} is not a post (a .md file in {cfg.content_dir}/)", param_hint="PATH"
        )
    result = preview_mod.preview(cfg, rel, list(channels), datetime.now(UTC))
    click.echo(preview_mod.as_json(result) if fmt == "json" else preview_mod.as_text(result))
    sys.exit(ExitCode.FINDINGS if result.errors else ExitCode.OK)


@cli.command()
@root_option
@at_option("Plan as of TIME (default: now).")
@click.option(
    "--channel", "channels", multiple=True, metavar="NAME", help="Only this channel (repeatable)."
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Also list pairs with nothing to do (done, not due, skipped).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def plan(
    root: Path | None, at: str | None, channels: tuple[str, ...], show_all: bool, fmt: str
) -> None:
    """What the next publish run would do, per post and channel (nothing is sent)."""
    from cmflow import publisher, runview

    cfg = load_config(root)
    _check_channels(cfg, channels)
    now = parse_at(at, cfg)
    actions = publisher.prepare(cfg, now, channels=list(channels) or None).actions
    if fmt == "json":
        click.echo(runview.plan_json(actions, now))
        return
    click.echo(runview.plan_text(actions, cfg.timezone, now, show_all=show_all))


def _check_channels(cfg: Config, channels: tuple[str, ...]) -> None:
    from cmflow.schema import did_you_mean

    for c in channels:
        if c not in cfg.channels:
            raise click.BadParameter(
                f"unknown channel {c!r}{did_you_mean(c, tuple(cfg.channels))}",
                param_hint="--channel",
            )


@cli.command()
@root_option
@at_option("Publish what is due at TIME (default: now).")
@click.option(
    "--channel", "channels", multiple=True, metavar="NAME", help="Only this channel (repeatable)."
)
@click.option(
    "--dry-run", is_flag=True, help="Show what would be published; send and record nothing."
)
@click.option(
    "--commit",
    is_flag=True,
    help="Commit and push the record (CI): the claim is pushed before sending.",
)
@click.option("--remote", default="origin", show_default=True, help="Git remote for --commit.")
@click.option(
    "--budget",
    type=float,
    default=600,
    show_default=True,
    help="Seconds this run may spend (rate-limit waits beyond it defer to the next run).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def publish(
    root: Path | None,
    at: str | None,
    channels: tuple[str, ...],
    dry_run: bool,
    commit: bool,
    remote: str,
    budget: float,
    fmt: str,
) -> None:
    """Publish every due post exactly once and record the outcome in data/.

    Exit 1 when anything failed, stays unknown, or the record could not be pushed."""
    from cmflow import publisher, runview
    from cmflow.redact import Redactor

    cfg = load_config(root)
    _check_channels(cfg, channels)
    redact = Redactor(cfg.secret_values())
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # Before anything else is printed; on stderr with --format json, so stdout stays JSON
        # (the runner reads workflow commands from both streams).
        for line in redact.github_masks():
            click.echo(line, err=fmt == "json")
    now = parse_at(at, cfg)
    if not dry_run and now - datetime.now(UTC) > timedelta(minutes=5):
        click.echo(
            f"note: publishing as of {at}, which is in the future: posts scheduled up to then "
            "go out now (use --dry-run or `cmflow plan --at` to look ahead)",
            err=True,
        )

    report = publisher.publish(
        cfg,
        now,
        channels=list(channels) or None,
        dry_run=dry_run,
        commit=commit,
        remote=remote,
        budget=budget,
    )
    if dry_run:
        out = (
            runview.plan_json(report.actions, now)
            if fmt == "json"
            else runview.plan_text([a for a in report.actions if a.acts], cfg.timezone, now)
        )
    else:
        out = runview.run_json(report) if fmt == "json" else runview.run_text(report, cfg.timezone)
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_file:
            with contextlib.suppress(OSError), open(summary_file, "a", encoding="utf-8") as fh:
                fh.write(redact.text(runview.run_summary_markdown(report, redact.text)))
    click.echo(redact.text(out))
    sys.exit(ExitCode.OK if report.ok else ExitCode.FINDINGS)


@cli.command()
@click.argument("post_id")
@click.argument("channel")
@click.option(
    "--published", "url", metavar="URL_OR_ID", help="It is on the network: record this URL or id."
)
@click.option("--absent", is_flag=True, help="It is not on the network: let the next run send it.")
@click.option("--force", is_flag=True, help="Also overwrite an outcome cmflow did prove.")
@root_option
def resolve(
    post_id: str, channel: str, url: str | None, absent: bool, force: bool, root: Path | None
) -> None:
    """Settle a post whose outcome cmflow could not prove (needs_human / unknown)."""
    from cmflow import ledger

    if bool(url) == absent:
        raise click.UsageError("say either --published URL_OR_ID or --absent")
    cfg = load_config(root)
    book = ledger.Ledger(cfg.root, cfg.data_dir)
    entry = book.get(post_id, channel)
    if entry is None:
        raise CmflowError(f"no record for post {post_id!r} on {channel!r} (see data/record/)")
    ledger.resolve(entry, url, force=force)
    path = book.write(entry)
    click.echo(f"{path.relative_to(cfg.root)}: {entry.state}")


@cli.command()
@root_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
def rules(root: Path | None, fmt: str) -> None:
    """The rule catalogue: ids, levels (as set in channels.yaml when found) and what fires them."""
    import json

    from cmflow.rules import RULES

    levels: dict[str, str] = {}
    try:
        levels = dict(load_config(root).levels)
    except CmflowError:
        if root is not None:
            raise
    rows = [(r.id, levels.get(r.id, r.level), r.summary) for r in RULES]
    if fmt == "json":
        click.echo(
            json.dumps([{"id": i, "level": lv, "fires_when": s} for i, lv, s in rows], indent=2)
        )
    elif fmt == "markdown":
        click.echo("| id | level | fires when |\n|---|---|---|")
        for i, lv, s in rows:
            click.echo(f"| `{i}` | {lv} | {s} |")
    else:
        width = max(len(i) for i, _, _ in rows)
        for i, lv, s in rows:
            click.echo(f"{i:<{width}}  {lv:<7}  {s}")


@cli.command()
@click.argument("which", type=click.Choice(["channels", "post"]))
def schema(which: str) -> None:
    """JSON Schema of channels.yaml or of a post's front-matter, for editors."""
    import json

    from cmflow import schema as schema_mod

    if which == "channels":
        data = schema_mod.json_schema(schema_mod.CONFIG_KEYS, "cmflow channels.yaml")
    else:
        data = schema_mod.json_schema(schema_mod.FRONTMATTER_KEYS, "cmflow post front-matter")
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def main() -> None:
    """Entry point: map every outcome to one exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors and CmflowError
        exc.show()
        sys.exit(ExitCode.USAGE if exc.exit_code == 2 else exc.exit_code)
    except SystemExit:
        raise
    except BrokenPipeError:
        sys.exit(ExitCode.OK)
    except Exception as exc:  # a bug: say so plainly, details on demand
        if os.environ.get("CMFLOW_DEBUG"):
            raise
        click.echo(
            f"cmflow: internal error ({type(exc).__name__}: {exc}). This is a bug in cmflow; "
            "rerun with CMFLOW_DEBUG=1 for the traceback and report it.",
            err=True,
        )
        sys.exit(ExitCode.INTERNAL)
