"""The `cmflow` command: thin commands over the library. Heavy imports stay inside commands
so that `cmflow --help` starts fast."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from cmflow import __version__, i18n
from cmflow.errors import CmflowError, ExitCode
from cmflow.i18n import _, ngettext

if TYPE_CHECKING:
    from cmflow.config import Config
    from cmflow.ledger import Ledger
    from cmflow.model import Finding, Post
    from cmflow.validation import Report

F = TypeVar("F", bound=Callable[..., Any])


def root_option(f: F) -> F:
    return click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        help=_("Content repository (default: the nearest folder with channels.yaml)."),
    )(f)


def format_option(f: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "github"]),
        default=None,
        help=_("Output format (default: github under GitHub Actions, else text)."),
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
        raise CmflowError(
            _("{folder} has no {name}: pass the repository root").format(
                folder=folder, name=config_mod.CONFIG_NAME
            )
        )
    cfg = config_mod.load(folder, set(BY_ID))
    # Messages from here on speak the brand's language (unless CMFLOW_LANG says otherwise).
    i18n.activate(i18n.choose(cfg.language))
    return cfg


def parse_at(value: str | None, cfg: Config) -> datetime:
    if value is None:
        return datetime.now(UTC)
    from cmflow.timeutil import DateProblem, parse_datetime

    try:
        return parse_datetime(value, cfg.timezone)
    except DateProblem as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


class HelpFormatter(click.HelpFormatter):
    """Click's help layout, with click's own words ("Usage:", "Options:") in cmflow's
    language: click takes them from its English catalogue."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, _("Usage:") + " " if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        words = {"Options": _("Options"), "Commands": _("Commands")}
        title = _("{heading}:").format(heading=words.get(heading, heading))
        self.write(f"{'':>{self.current_indent}}{title}\n")


class Context(click.Context):
    formatter_class = HelpFormatter


class Command(click.Command):
    """A command whose help is all in cmflow's language, its help option included."""

    context_class = Context

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = _("Show this message and exit.")
        return option


class Group(Command, click.Group):
    """Lists each command with its whole first sentence: click cuts it at 45 characters,
    and "What the next publish run would do, per post and…" tells a newcomer nothing."""

    command_class = Command
    group_class = type  # subgroups are Groups too

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help=_(
        "Content-as-code for community managers.\n\n"
        "Posts are Markdown files in content/, the editorial line is channels.yaml. cmflow "
        "checks every post against that line, previews it per channel, and publishes due "
        "posts exactly once."
    ),
)
@click.version_option(__version__, prog_name="cmflow", help=_("Show the version and exit."))
def cli() -> None:
    """Content-as-code for community managers (help text: the `help` above)."""


@cli.command(
    help=_(
        "Check posts against the editorial line and the whole queue.\n\n"
        "With PATHS (files or folders), only findings in those files are reported; the rest "
        "of the queue is still read, because caps, gaps and the content mix depend on every "
        "post. Exit 1 when an error-level finding is reported."
    )
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@root_option
@format_option
@at_option(_("Check the schedule as of TIME (default: now), e.g. 2026-11-24 09:00."))
@click.option(
    "--changed-since",
    metavar="REF",
    help=_("Report only files changed since a git ref (the whole queue is still checked)."),
)
@click.option("--no-cache", is_flag=True, help=_("Ignore the cache in .cmflow-cache/."))
def validate(
    paths: tuple[Path, ...],
    root: Path | None,
    fmt: str | None,
    at: str | None,
    changed_since: str | None,
    no_cache: bool,
) -> None:
    """Check posts against the editorial line and the whole queue (exit 1 on an error)."""
    # Without the cycle collector for the whole command: a run makes hundreds of thousands
    # of objects (posts, marks, findings) and no cycles to speak of, and the collector's
    # passes over them all cost a tenth of a cold run. Memory is given back at exit.
    collecting = gc.isenabled()
    gc.disable()
    try:
        code, _kept = _validate(paths, root, fmt, at, changed_since, no_cache)
    except BaseException:
        if collecting:
            gc.enable()
        raise
    # When this process ends right after (`main`'s quick exit), the collector stays off and
    # `_kept` (the report: the run's posts, entries and cache) stays referenced until then:
    # a collection would walk, and freeing would visit, every object the run made (a tenth
    # of a second on a 50,000-post queue) just before the exit gives it all back at once.
    if collecting and not (_OWNED and not _observed()):
        gc.enable()
    global _QUICK_EXIT
    _QUICK_EXIT = True  # all written, no thread or process left: see `main`
    sys.exit(code)  # its traceback holds this frame, and `_kept`, until `main` exits


def _validate(
    paths: tuple[Path, ...],
    root: Path | None,
    fmt: str | None,
    at: str | None,
    changed_since: str | None,
    no_cache: bool,
) -> tuple[ExitCode, Report]:
    from cmflow.validation import validate as run

    cfg = load_config(root)
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
    if paths and not report.files:
        # Neither a post nor a media file a post uses: "ok, 0 files" would be no answer.
        raise click.BadParameter(
            _(
                "{paths}: no post there, nor a post using it (posts are .md or .markdown files in {folder}/)"
            ).format(paths=", ".join(str(p) for p in paths), folder=cfg.content_dir),
            param_hint="PATHS",
        )
    from cmflow import output  # after: the workers checking posts need none of it

    kind = resolve_format(fmt)
    if kind == "github":
        click.echo(output.github(report.findings, report.files, cfg.root))
        output.step_summary(report.findings, report.files, root=cfg.root)
    else:
        click.echo(output.FORMATTERS[kind](report.findings, report.files))
    return ExitCode.FINDINGS if report.errors else ExitCode.OK, report


def _relative_posts(cfg: Config, path: Path) -> set[str]:
    from cmflow import content

    target = path.resolve()
    root = cfg.root.resolve()
    if not target.exists():
        raise click.BadParameter(_("{path} does not exist").format(path=path), param_hint="PATHS")
    if not target.is_relative_to(root):
        raise click.BadParameter(
            _("{path} is outside the repository {root}").format(path=path, root=root),
            param_hint="PATHS",
        )
    rel = target.relative_to(root).as_posix()
    in_content = rel == cfg.content_dir or rel.startswith(cfg.content_dir.rstrip("/") + "/")
    if target.is_file():
        return {rel}
    if rel not in (".", "") and not in_content:
        # A folder of media (or anything else): the posts using those files are reported.
        return {p.relative_to(root).as_posix() for p in target.rglob("*") if p.is_file()}
    return {
        r
        for r in content.discover(cfg.root, cfg.content_dir)
        if rel in (".", "") or r.startswith(rel + "/")
    }


@cli.command(
    help=_(
        "Show exactly what each channel will receive, with its length against the limit.\n\n"
        "Give post files, or --changed-since REF for every post a pull request changes."
    )
)
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME",
    help=_("Only this channel (repeatable)."),
)
@root_option
@click.option(
    "--changed-since",
    metavar="REF",
    help=_("Preview every post changed since a git ref (a pull request's base)."),
)
@click.option(
    "--comment",
    is_flag=True,
    help=_(
        "With --changed-since in a pull_request workflow: write the preview into one sticky PR "
        "comment (GITHUB_TOKEN), updated on each push, and into the job summary."
    ),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "github"]),
    default=None,
    help=_(
        "Output format: text, json, markdown (as in the PR comment), github (text, plus "
        "annotations and the job summary). Default: markdown with --changed-since, github "
        "under GitHub Actions, else text."
    ),
)
@at_option(_("Preview as of TIME (default: now): which slot a post takes, how late it is."))
def preview(
    paths: tuple[Path, ...],
    channels: tuple[str, ...],
    root: Path | None,
    changed_since: str | None,
    comment: bool,
    fmt: str | None,
    at: str | None,
) -> None:
    """Show exactly what each channel will receive, with its length against the limit."""
    cfg = load_config(root)
    now = parse_at(at, cfg)
    if changed_since or comment:
        if paths or not changed_since:
            raise click.UsageError(_("--changed-since REF replaces PATHS (and --comment needs it)"))
        sys.exit(_preview_changes(cfg, changed_since, now, comment, fmt or "markdown"))
    fmt = resolve_format(fmt)
    if not paths:
        raise click.UsageError(_("give a post file (or --changed-since REF)"))
    from cmflow import content
    from cmflow import preview as preview_mod

    status = ExitCode.OK
    outputs: list[str] = []
    for path in paths:
        rel = next(iter(_relative_posts(cfg, path)))
        if not content.named_as_post(rel.rsplit("/", 1)[-1]):
            raise click.BadParameter(
                _("{path} is not a post (a .md or .markdown file in {folder}/)").format(
                    path=path, folder=cfg.content_dir
                ),
                param_hint="PATHS",
            )
        result = preview_mod.preview(cfg, rel, list(channels), now)
        if fmt == "github":
            from cmflow import output

            outputs.append(preview_mod.as_text(result))
            annotations = output.github(result.findings, 1, cfg.root)
            outputs.append("\n".join(annotations.splitlines()[:-1]))
            title = f"cmflow preview {output.md_code(output.repo_prefix(cfg.root) + rel)}"
            output.step_summary(result.findings, 1, title=title, root=cfg.root)
        elif fmt == "markdown":
            from cmflow import prpreview

            outputs.append(prpreview.markdown(prpreview.collect(cfg, [rel], now), cfg))
        else:
            outputs.append(
                preview_mod.as_json(result) if fmt == "json" else preview_mod.as_text(result)
            )
        if result.errors:
            status = ExitCode.FINDINGS
    click.echo("\n\n".join(outputs))
    sys.exit(status)


def _preview_changes(cfg: Config, ref: str, now: datetime, comment: bool, fmt: str) -> int:
    from cmflow import github, gitops, prpreview
    from cmflow.redact import Redactor

    previews = prpreview.collect(cfg, gitops.changed_files(cfg.root, ref), now)
    label = os.path.relpath(cfg.root, Path.cwd())
    if fmt == "json":
        import json

        data = [
            {"path": p.path, "removed": p.removed, "findings": [f.__dict__ for f in p.findings]}
            for p in previews
        ]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    body = prpreview.markdown(previews, cfg, label="" if label == "." else label)
    if fmt in ("markdown", "github") and not comment:
        click.echo(body)
    if fmt == "github":
        from cmflow import output

        findings = [f for p in previews for f in p.findings]
        click.echo(output.github(findings, len(previews), cfg.root))
        if not comment:
            output.step_summary(findings, len(previews), title="cmflow preview", root=cfg.root)
    errors = any(f.level == "error" for p in previews for f in p.findings)
    if not comment:
        return ExitCode.FINDINGS if errors else ExitCode.OK
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with contextlib.suppress(OSError), open(summary, "a", encoding="utf-8") as fh:
            fh.write(body + "\n")
    pr = github.pull_request_from_env(os.environ)
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if pr is None:
        raise CmflowError(
            _("--comment needs a pull_request workflow run (GITHUB_EVENT_PATH with a pull request)")
        )
    if pr.from_fork:
        click.echo(_("preview: pull request from a fork: preview written to the job summary only"))
        return ExitCode.OK
    if not token:
        raise CmflowError(
            _("--comment needs a token: set GITHUB_TOKEN (env: {setting})").format(
                setting="GITHUB_TOKEN: ${{ github.token }}"
            )
        )
    redact = Redactor([token])
    try:
        key = os.path.relpath(cfg.root, Path.cwd())
        key = "" if key == "." else Path(key).as_posix()
        action, url = github.Comments(pr, token, key=key).upsert(body)
    except github.CommentError as exc:
        # The check's verdict belongs to `cmflow validate`; a comment that cannot be written
        # is reported, and the preview is still in the job summary.
        from cmflow.output import workflow_command

        click.echo(workflow_command("warning", redact.text(exc.reason)), err=True)
        click.echo(
            _("preview: comment not written: {reason}").format(reason=redact.text(exc.reason)),
            err=True,
        )
        return ExitCode.OK
    done = {
        "created": _("preview: comment created {url}"),
        "updated": _("preview: comment updated {url}"),
    }.get(action, _("preview: comment unchanged {url}"))
    click.echo(done.format(url=url))
    return ExitCode.OK


@cli.command(
    help=_(
        "What the next publish run would do, per post and channel (nothing is sent).\n\n"
        "Posts that cannot be read (a typo in the front-matter) are listed with their "
        "findings: they go nowhere until fixed."
    )
)
@root_option
@at_option(_("Plan as of TIME (default: now), e.g. 2026-11-24 09:00."))
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME",
    help=_("Only this channel (repeatable)."),
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help=_("Also list pairs with nothing to do (done, not due, skipped)."),
)
@format_option
def plan(
    root: Path | None, at: str | None, channels: tuple[str, ...], show_all: bool, fmt: str | None
) -> None:
    """What the next publish run would do, per post and channel (nothing is sent)."""
    from cmflow import publisher, runview

    cfg = load_config(root)
    _check_channels(cfg, channels)
    now = parse_at(at, cfg)
    prep = publisher.prepare(cfg, now, channels=list(channels) or None)
    actions = prep.actions
    # What a platform says about all its channels (TikTok: unaudited apps post privately).
    notes = sorted({n for a in actions if (n := cfg.channels[a.channel].spec.notice)})
    kind = resolve_format(fmt)
    if kind == "json":
        click.echo(runview.plan_json(actions, now, notes, prep.why))
        return
    click.echo(
        runview.plan_text(
            actions, cfg.timezone, now, show_all=show_all, notes=notes, unreadable=prep.why
        )
    )
    if kind == "github":
        _annotate_unreadable(prep.why, cfg.root)
        _append_summary(runview.plan_summary_markdown(actions, now, prep.why))


def _annotate_unreadable(why: Mapping[str, Sequence[Finding]], root: Path) -> None:
    """Workflow annotations on the posts that cannot be read (GitHub shows them on the file)."""
    from cmflow import output

    findings = [f for fs in why.values() for f in fs]
    if findings:
        click.echo("\n".join(output.github(findings, len(why), root).splitlines()[:-1]))


def _append_summary(markdown: str) -> None:
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with contextlib.suppress(OSError), open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(markdown)


def _check_channels(cfg: Config, channels: tuple[str, ...]) -> None:
    from cmflow.schema import channel_hint

    for c in channels:
        if c not in cfg.channels:
            raise click.BadParameter(
                _("unknown channel {name}{hint}").format(
                    name=repr(c), hint=channel_hint(c, cfg.channels)
                ),
                param_hint="--channel",
            )


@cli.command(
    help=_(
        "Publish every due post exactly once and record the outcome in data/.\n\n"
        "Exit 1 when anything failed, stays unknown, or the record could not be pushed."
    )
)
@root_option
@at_option(_("Publish what is due at TIME (default: now)."))
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME",
    help=_("Only this channel (repeatable)."),
)
@click.option(
    "--dry-run", is_flag=True, help=_("Show what would be published; send and record nothing.")
)
@click.option(
    "--commit",
    is_flag=True,
    help=_("Commit and push the record (CI): the claim is pushed before sending."),
)
@click.option("--remote", default="origin", help=_("Git remote for --commit (default: origin)."))
@click.option(
    "--budget",
    type=float,
    default=600,
    help=_(
        "Seconds this run may spend (default: 600; rate-limit waits beyond it defer to the "
        "next run)."
    ),
)
@click.option(
    "--force",
    is_flag=True,
    help=_("With --at in the future: publish now what is scheduled up to then."),
)
@format_option
def publish(
    root: Path | None,
    at: str | None,
    channels: tuple[str, ...],
    dry_run: bool,
    commit: bool,
    remote: str,
    budget: float,
    force: bool,
    fmt: str | None,
) -> None:
    """Publish every due post exactly once and record the outcome in data/."""
    from cmflow import publisher, runview
    from cmflow.clock import Clock
    from cmflow.redact import Redactor

    cfg = load_config(root)
    _check_channels(cfg, channels)
    kind = resolve_format(fmt)
    redact = Redactor(cfg.secret_values())
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # Before anything else is printed; on stderr with --format json, so stdout stays JSON
        # (the runner reads workflow commands from both streams).
        for line in redact.github_masks():
            click.echo(line, err=kind == "json")
    clock = Clock.at(parse_at(at, cfg))  # --at moves the schedule only: leases run on real time
    now = clock.schedule_now
    if not dry_run and now - clock.now() > timedelta(minutes=5):
        # `--at` in the future would send, now, posts meant for later: a typo in a date
        # should not publish a week's calendar at once.
        when = f"{now.astimezone(cfg.timezone):%Y-%m-%d %H:%M %Z}"
        if not force:
            raise click.UsageError(
                _(
                    "--at {at} ({when}) is in the future: every post scheduled up to then "
                    "would go out now. Look ahead with `cmflow plan --at` or `publish "
                    "--dry-run`; add --force to publish them now anyway"
                ).format(at=at, when=when)
            )
        click.echo(
            _("note: --force: publishing now what is scheduled up to {when}").format(when=when),
            err=True,
        )

    report = publisher.publish(
        cfg,
        clock,
        channels=list(channels) or None,
        dry_run=dry_run,
        commit=commit,
        remote=remote,
        budget=budget,
    )
    why = {p: report.why.get(p, []) for p in report.unreadable}
    if dry_run:
        out = (
            runview.plan_json(report.actions, now, unreadable=why)
            if kind == "json"
            else runview.plan_text(
                # As the run would list them: the pairs it sends or holds, the rest counted.
                report.actions,
                cfg.timezone,
                now,
                show_all=False,
                unreadable=why,
                all_hint=False,
            )
        )
    else:
        out = runview.run_json(report) if kind == "json" else runview.run_text(report, cfg.timezone)
        _append_summary(redact.text(runview.run_summary_markdown(report, redact.text)))
    click.echo(redact.text(out))
    if kind == "github":
        _annotate_unreadable(why, cfg.root)
    sys.exit(ExitCode.OK if report.ok else ExitCode.FINDINGS)


@cli.command(
    help=_(
        "Settle a post whose outcome cmflow could not prove (needs_human / unknown), or one a "
        "person posts by hand (waiting): --published URL once it is out, --skipped if it is "
        "not.\n\n"
        "--undo puts back the state the last resolve replaced (a mistaken --absent), as long "
        "as no publish run has acted on the pair since."
    )
)
@click.argument("post_id")
@click.argument("channel")
@click.option(
    "--published",
    "url",
    metavar="URL_OR_ID",
    help=_("It is on the network: record this URL or id."),
)
@click.option(
    "--absent", is_flag=True, help=_("It is not on the network: let the next run send it.")
)
@click.option(
    "--skipped",
    is_flag=True,
    help=_("It will not be posted (a reminder channel): close the pair."),
)
@click.option("--force", is_flag=True, help=_("Also overwrite an outcome cmflow did prove."))
@click.option(
    "--undo",
    is_flag=True,
    help=_("Put back the state the last resolve replaced (kept in the record's history)."),
)
@click.option(
    "--publication",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help=_("Which publication: 2 and more are an evergreen post's re-posts."),
)
@root_option
def resolve(
    post_id: str,
    channel: str,
    url: str | None,
    absent: bool,
    skipped: bool,
    force: bool,
    undo: bool,
    publication: int,
    root: Path | None,
) -> None:
    """Settle a pair whose outcome cmflow could not prove, or one posted by hand."""
    from cmflow import ledger
    from cmflow.model import State

    if undo:
        if url or absent or skipped:
            raise click.UsageError(_("--undo takes no --published, --absent nor --skipped"))
        cfg = load_config(root)
        book = ledger.Ledger(cfg.root, cfg.data_dir)
        entry = book.get(post_id, channel, publication)
        if entry is None:
            _no_record(cfg, book, post_id, channel)  # raises if there is no such pair
            raise CmflowError(
                _("{post} on {channel} has no record: nothing to undo").format(
                    post=repr(post_id), channel=repr(channel)
                )
            )
        state = ledger.undo_resolve(entry, book.clock.stamp())
        path = book.write(entry)
        click.echo(
            _("{path}: {state} again (the resolve is undone)").format(
                path=path.relative_to(cfg.root), state=state
            )
        )
        return
    if [bool(url), absent, skipped].count(True) != 1:
        raise click.UsageError(_("say one of --published URL_OR_ID, --absent, --skipped or --undo"))
    cfg = load_config(root)
    book = ledger.Ledger(cfg.root, cfg.data_dir)
    try:
        entry = book.get(post_id, channel, publication)
    except ledger.RecordError as exc:
        if channel not in cfg.channels:
            raise
        # A file cmflow cannot read: the human's answer replaces it.
        entry = ledger.replacement(exc.problem, post_id, channel, cfg.channels[channel].platform)
        entry.publication = publication
    if entry is None:
        # No run tried to send it (its channel's credential missing, say): a person posted
        # it by hand, or chose not to. Recorded so; --absent is what holds already.
        post = _no_record(cfg, book, post_id, channel)
        if absent or publication > 1:
            raise CmflowError(
                _(
                    "{post} on {channel} has no record: the next publish run sends it when "
                    "it is due, nothing to settle"
                ).format(post=repr(post_id), channel=repr(channel))
                if absent
                else _("{post} on {channel} has no re-post {n} recorded").format(
                    post=repr(post_id), channel=repr(channel), n=publication
                )
            )
        entry = ledger.Entry(
            post.id, channel, cfg.channels[channel].platform, post.path, State.UNKNOWN
        )
        entry.scheduled_for = post.date.isoformat() if post.date is not None else None
        entry.source_hash = post.content_hash
        # What the channel would have received, as a run records it: an edit made later
        # is then told apart (`schedule.edited-after-publish`), and the pair shows as out.
        from cmflow import content
        from cmflow.render import fingerprint, render

        raw = content.read_bytes(cfg.root, post.path)
        if isinstance(raw, bytes):
            full = content.parse_post(post.path, raw, cfg.timezone, cfg.channels)
            entry.content_hash = fingerprint(render(full, cfg.channels[channel]))
    ledger.resolve(entry, url, book.clock.stamp(), force=force, skipped=skipped)
    path = book.write(entry)
    click.echo(f"{path.relative_to(cfg.root)}: {entry.state}")


def _no_record(cfg: Config, book: Ledger, post_id: str, channel: str) -> Post:
    """The post `post_id` that goes to `channel` and has no record there yet (no run tried
    to send it: a channel without its credential, say); raises when there is no such
    channel, post, or post on that channel, with the nearest names."""
    from cmflow.schema import channel_hint, did_you_mean
    from cmflow.validation import validate

    if channel not in cfg.channels:
        raise click.BadParameter(
            _("unknown channel {name}{hint}").format(
                name=repr(channel), hint=channel_hint(channel, cfg.channels)
            ),
            param_hint="CHANNEL",
        )
    posts = {p.id: p for p in validate(cfg, now=book.clock.schedule_now).posts}
    post = posts.get(post_id)
    if post is None:
        raise CmflowError(
            _(
                "no record for post {post} on {channel} in {record}, and no post has this id"
                "{hint} (a post's id is its `id:`, else its file name without .md)"
            ).format(
                post=repr(post_id),
                channel=repr(channel),
                record=f"{cfg.data_dir}/record/",
                hint=did_you_mean(post_id, sorted(posts)),
            )
        )
    if channel not in post.channels:
        raise CmflowError(
            _("{path} does not go to {channel} (its channels: {channels})").format(
                path=post.path, channel=channel, channels=", ".join(post.channels)
            )
        )
    return post


@cli.group(help=_("Engagement metrics, kept in data/metrics/ (see `cmflow report`)."))
def metrics() -> None:
    """Engagement metrics, kept in data/metrics/."""


@metrics.command(
    "collect",
    help=_(
        "Snapshot engagement of published posts (at 1h, 24h, 7d, 30d by default), followers, "
        "competitors and site traffic into data/metrics/.\n\n"
        "A failed fetch is recorded as failed, never as zeros, and asked again next run. Exit "
        "1 when a credential is missing or refused (the message names the variable)."
    ),
)
@root_option
@at_option(_("Collect as of TIME (default: now): decides which snapshots are due."))
@click.option("--commit", is_flag=True, help=_("Commit and push the snapshots (CI)."))
@click.option("--remote", default="origin", help=_("Git remote for --commit (default: origin)."))
@click.option(
    "--budget", type=float, default=600, help=_("Seconds this run may spend (default: 600).")
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    help=_("text for people, json for tools, github: text, also in the job summary."),
)
def metrics_collect(
    root: Path | None, at: str | None, commit: bool, remote: str, budget: float, fmt: str
) -> None:
    """Snapshot engagement, followers, competitors and site traffic into data/metrics/."""
    from cmflow.metrics import summary
    from cmflow.metrics.collect import collect
    from cmflow.redact import Redactor

    cfg = load_config(root)
    redact = Redactor(cfg.secret_values())
    report = collect(cfg, parse_at(at, cfg), commit=commit, remote=remote, budget=budget)
    out = summary.as_json(report) if fmt == "json" else summary.as_text(report)
    click.echo(redact.text(out))
    if fmt == "github":
        _append_summary(f"### cmflow metrics collect\n\n```text\n{redact.text(out)}\n```\n")
    sys.exit(ExitCode.OK if report.ok else ExitCode.FINDINGS)


@cli.command(
    help=_(
        "KPIs from data/metrics/: interactions, engagement rate, per channel, pillar, "
        "campaign, format and time slot; top posts, trends, followers, site traffic, "
        "competitors."
    )
)
@root_option
@click.option(
    "--since", metavar="DATE", help=_("First day included (default: 90 days before --until).")
)
@click.option("--until", metavar="DATE", help=_("Last day included (default: today)."))
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME",
    help=_("Only this channel (repeatable)."),
)
@click.option(
    "--campaign",
    "campaigns",
    multiple=True,
    metavar="NAME",
    help=_("Only this campaign (repeatable)."),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "csv", "text", "github"]),
    default="md",
    help=_(
        "md (the default: renders on GitHub, charts as SVG), html (one self-contained page), "
        "csv, text; github: md, also appended to the job summary."
    ),
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=_(
        "Write to this file (Markdown: charts as SVG files beside it). Default: standard output."
    ),
)
@at_option(_("Report as of TIME (default: now): where the default --until and trends end."))
def report(
    root: Path | None,
    since: str | None,
    until: str | None,
    channels: tuple[str, ...],
    campaigns: tuple[str, ...],
    fmt: str,
    out: Path | None,
    at: str | None,
) -> None:
    """KPIs from data/metrics/ (per channel, pillar, campaign, format, time slot)."""
    from cmflow.report.build import run as build_report

    cfg = load_config(root)
    _check_channels(cfg, channels)
    result = build_report(
        cfg,
        since,
        until,
        list(channels),
        list(campaigns),
        "md" if fmt == "github" else fmt,
        out,
        parse_at(at, cfg),
    )
    if fmt == "github" and out is None:
        _append_summary(result)
    if out is None:
        click.echo(result, nl=False)
    else:
        click.echo(_("report written to {path}").format(path=out), err=True)


@cli.command(
    help=_(
        "The rule catalogue: ids, levels (as set in channels.yaml when found) and what fires them."
    )
)
@root_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "github"]),
    default=None,
    help=_(
        "Output format: text, json, markdown (a table for docs), github (text, and the "
        "table in the job summary). Default: github under GitHub Actions, else text."
    ),
)
def rules(root: Path | None, fmt: str | None) -> None:
    """The rule catalogue: ids, levels and what fires them."""
    import json

    from cmflow.rules import RULES

    levels: dict[str, str] = {}
    # Outside any brand's repository: the catalogue with its default levels. Inside one, the
    # levels its channels.yaml sets, and a broken channels.yaml fails as everywhere else.
    from cmflow import config as config_mod

    try:
        found = root is not None or bool(config_mod.find_root(Path.cwd()))
    except CmflowError:
        found = False
    if found:
        levels = dict(load_config(root).levels)
    rows = [(r.id, levels.get(r.id, r.level), r.summary) for r in RULES]
    fmt = resolve_format(fmt)
    head = "| {} | {} | {} |\n|---|---|---|\n".format(_("id"), _("level"), _("fires when"))
    table = head + "\n".join(f"| `{i}` | {lv} | {s} |" for i, lv, s in rows)
    if fmt == "github":
        _append_summary(f"### cmflow rules\n\n{table}\n")
    if fmt == "json":
        click.echo(
            json.dumps([{"id": i, "level": lv, "fires_when": s} for i, lv, s in rows], indent=2)
        )
    elif fmt == "markdown":
        click.echo(table)
    else:
        width = max(len(r[0]) for r in rows)
        for i, lv, s in rows:
            click.echo(f"{i:<{width}}  {lv:<7}  {s}")


@cli.command(
    help=_(
        "JSON Schemas (draft 2020-12) of channels.yaml and of a post's front-matter, for "
        "editors.\n\nGenerated from the definitions the validator itself uses."
    )
)
@click.argument("which", type=click.Choice(["channels", "post", "all"]), default="all")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help=_("Write channels.schema.json and/or post.schema.json into DIR instead of printing."),
)
def schema(which: str, out: Path | None) -> None:
    """JSON Schemas of channels.yaml and of a post's front-matter."""
    import json

    from cmflow import schema as schema_mod
    from cmflow.config import schema_keys

    docs = {
        "channels": schema_mod.json_schema(schema_keys(), "cmflow channels.yaml"),
        "post": schema_mod.json_schema(schema_mod.FRONTMATTER_KEYS, "cmflow post front-matter"),
    }
    wanted = list(docs) if which == "all" else [which]
    if out is None:
        if len(wanted) > 1:
            raise click.UsageError(_("name one schema (channels or post), or give --out DIR"))
        click.echo(json.dumps(docs[wanted[0]], indent=2, ensure_ascii=False))
        return
    out.mkdir(parents=True, exist_ok=True)
    for name in wanted:
        target = out / f"{name}.schema.json"
        _write_atomic(target, json.dumps(docs[name], indent=2, ensure_ascii=False) + "\n")
        click.echo(_("wrote {path}").format(path=target))


@cli.command(
    help=_(
        "Create a content repository: channels.yaml, example posts, workflows, CODEOWNERS."
        "\n\nExisting files are never overwritten unless --force is given. The result "
        "validates and publishes its first example post to the site channel as it is."
    )
)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option(
    "--brand",
    "brand_names",
    multiple=True,
    help=_(
        "The brand's display name (default: the folder's name). Repeat it for an agency "
        "repository: one folder per brand under brands/, workflows run per brand."
    ),
)
@click.option(
    "--timezone", default="Europe/Paris", help=_("IANA time zone (default: Europe/Paris).")
)
@click.option("--language", default="fr", help=_("The posts' language, ISO 639-1 (default: fr)."))
@click.option(
    "--site-url",
    default="https://example.org/actus",
    help=_("Public URL of the site channel, public/ (default: https://example.org/actus)."),
)
@click.option(
    "--action",
    default=None,
    metavar="OWNER/REPO@REF",
    help=_("The cmflow GitHub Action the workflows use (default: cmflow/cmflow@v1)."),
)
@click.option(
    "--owner",
    default="marque/equipe-editoriale",
    help=_(
        "GitHub user or team that approves posts, CODEOWNERS (default: marque/equipe-editoriale)."
    ),
)
@click.option("--force", is_flag=True, help=_("Overwrite files that already exist."))
def init(
    directory: Path,
    brand_names: tuple[str, ...],
    timezone: str,
    language: str,
    site_url: str,
    action: str | None,
    owner: str,
    force: bool,
) -> None:
    """Create a content repository: channels.yaml, example posts, workflows, CODEOWNERS."""
    from cmflow import scaffold

    target = directory.resolve()
    # `cmflow init brands/<name>` inside an agency repository adds one brand's files.
    brand_only = target.parent.name == "brands" and len(brand_names) <= 1
    opts = scaffold.Options(
        brand=brand_names[0] if brand_names else target.name.replace("-", " ").title(),
        brands=brand_names if len(brand_names) > 1 else (),
        brand_only=brand_only,
        timezone=timezone,
        language=language,
        site_url=site_url,
        action=action or scaffold.DEFAULT_ACTION,
        owner=owner,
        force=force,
    )
    written = scaffold.init(target, opts, datetime.now(UTC))
    for rel in written:
        click.echo("  " + _("created {path}").format(path=rel))
    who = ", ".join(opts.brands) if opts.brands else opts.brand
    click.echo(
        "\n"
        + ngettext(
            "{brand}: {count} file in {folder}. Next: git init, then `cmflow validate` and "
            "`cmflow publish` (README.md says which secrets to create).",
            "{brand}: {count} files in {folder}. Next: git init, then `cmflow validate` and "
            "`cmflow publish` (README.md says which secrets to create).",
            len(written),
        ).format(brand=who, count=len(written), folder=target)
    )


@cli.command(
    name="calendar",
    help=_("The editorial calendar: posts per channel and day, key dates, gaps and conflicts."),
)
@root_option
@at_option(_("Mark what is late or published as of TIME (default: now)."))
@click.option("--from", "start", metavar="DATE", help=_("First week shown (default: this week)."))
@click.option(
    "--weeks",
    type=click.IntRange(1, 104),
    default=4,
    help=_("How many weeks to show, 1 to 104 (default: 4)."),
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME",
    help=_("Only this channel (repeatable)."),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "md", "html", "github"]),
    default="text",
    help=_(
        "text for the terminal, md renders on GitHub, html is one self-contained page, "
        "github prints text and adds the md calendar to the job summary."
    ),
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help=_("Write to FILE."))
@click.option(
    "--ics",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help=_("Also write an iCalendar file (Google Calendar, Outlook, Apple Calendar)."),
)
@click.option(
    "--link-base",
    metavar="URL",
    help=_("Link each ICS event to the post file at URL/PATH (e.g. the repository's blob URL)."),
)
def calendar_cmd(
    root: Path | None,
    at: str | None,
    start: str | None,
    weeks: int,
    channels: tuple[str, ...],
    fmt: str,
    out: Path | None,
    ics: Path | None,
    link_base: str | None,
) -> None:
    """The editorial calendar: posts per channel and day, key dates, gaps and conflicts."""
    from datetime import date as date_cls

    from cmflow import calendar as cal_mod
    from cmflow import keydates, ledger
    from cmflow.validation import validate

    cfg = load_config(root)
    _check_channels(cfg, channels)
    now = parse_at(at, cfg)
    if start:
        try:
            first = date_cls.fromisoformat(start.strip())
        except ValueError:
            raise click.BadParameter(
                _("{value}: write a date like 2026-11-30").format(value=repr(start)),
                param_hint="--from",
            ) from None
    else:
        first = now.astimezone(cfg.timezone).date()
    first = cal_mod.monday(first)
    last = first + timedelta(days=7 * weeks - 1)
    report = validate(cfg, now=now)
    scan = ledger.Ledger(cfg.root, cfg.data_dir).scan()
    record = ledger.sent_index(cfg.root, cfg.data_dir, report.posts, scan)
    if cfg.country and not keydates.holidays_known(cfg.country):
        click.echo(
            _(
                "warning: no public holidays known for country {country} (channels.yaml "
                "`country:`): use a two-letter ISO 3166 code such as FR, BE, CH or CA"
            ).format(country=repr(cfg.country)),
            err=True,
        )
    dates = keydates.between(
        first, last, country=cfg.country, language=cfg.language, events=cfg.events
    )
    from cmflow import evergreen

    index = ledger.Index.build(scan.entries, (p.id for p in report.posts), scan.problems)
    reposts = evergreen.plan(evergreen.with_policies(cfg, report.posts), cfg, index, now)
    cal = cal_mod.build(
        report.posts,
        report.findings,
        record,
        dates,
        start=first,
        weeks=weeks,
        channels=list(channels) or list(cfg.channels),
        cadence=cfg.cadence,
        tz=cfg.timezone,
        now=now,
        language=cfg.language,
        reposts=reposts,
    )
    if fmt == "github":
        _append_summary(cal_mod.as_markdown(cal))
    render = {
        "text": cal_mod.as_text,
        "md": cal_mod.as_markdown,
        "html": cal_mod.as_html,
        "github": cal_mod.as_text,
    }[fmt]
    text = render(cal)
    if out:
        _write_atomic(out, text)
        click.echo(_("calendar written to {path}").format(path=out))
    else:
        click.echo(text, nl=False)
    if ics:
        from cmflow import ics as ics_mod

        _write_atomic(
            ics,
            ics_mod.render(
                ics_mod.items(cal),
                timezone=str(cfg.timezone),
                name=f"cmflow — {cfg.root.name}",
                now=now,
                link_base=link_base or "",
                language=cal.language,
            ),
            newline="",
        )
        click.echo(_("iCalendar written to {path}").format(path=ics), err=out is None)


@cli.command(help=_("List the brands of an agency repository (brands/<name>/channels.yaml)."))
@root_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    help=_(
        "json: a list for a GitHub Actions matrix (name, root, secrets_prefix); github: "
        "text, and the list in the job summary."
    ),
)
def brands(root: Path | None, fmt: str) -> None:
    """List the brands of an agency repository."""
    import json

    from cmflow import brands as brands_mod

    found = brands_mod.discover((root or Path.cwd()).resolve())
    if not found:
        raise CmflowError(
            _(
                "no brand found: an agency repository holds brands/<name>/channels.yaml "
                "(one complete content repository per brand)"
            )
        )
    if fmt == "json":
        click.echo(json.dumps([b.as_dict() for b in found], ensure_ascii=False))
        return
    width = max(len(b.name) for b in found)
    for b in found:
        secrets = _("secrets: {prefix}").format(prefix=f"{b.secrets_prefix}_*")
        click.echo(f"{b.name:<{width}}  {b.root}  {secrets}")
    if fmt == "github":
        from cmflow.output import md_cell, md_code

        rows = [
            f"| {md_cell(b.name)} | {md_code(b.root)} | {md_code(b.secrets_prefix + '_*')} |"
            for b in found
        ]
        head = "| {} | {} | {} |".format(_("brand"), _("folder"), _("secrets"))
        _append_summary(f"### cmflow brands\n\n{head}\n|---|---|---|\n" + "\n".join(rows) + "\n")


@cli.command(
    help=_(
        "Create a post file with complete front-matter, named and placed by convention.\n\n"
        "Missing values are asked for when the terminal is interactive."
    )
)
@root_option
@click.option("--title", help=_("The post's title (also names the file)."))
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME",
    help=_("A channel (repeatable; default: all)."),
)
@click.option(
    "--date",
    "when",
    metavar="WHEN",
    help=_(
        "'2026-11-24 09:30', a day (2026-11-24: its first slot, else 09:00), or 'next' "
        "(the next free queue slot, the default when channels have slots)."
    ),
)
@click.option(
    "--for",
    "for_event",
    metavar="EVENT",
    help=_("Date it for a key date (see `cmflow calendar`)."),
)
@click.option("--pillar", help=_("One of editorial_line.pillars."))
@click.option("--campaign", help=_("Campaign name (UTM and reports)."))
@click.option("--tag", "tags", multiple=True, help=_("A tag (repeatable)."))
@click.option(
    "--draft", is_flag=True, help=_("Create it as a draft (never published until ready).")
)
@click.option("--edit", is_flag=True, help=_("Open the new file in $EDITOR."))
@at_option(_("Compute 'next' from TIME (default: now)."))
def new(
    root: Path | None,
    title: str | None,
    channels: tuple[str, ...],
    when: str | None,
    for_event: str | None,
    pillar: str | None,
    campaign: str | None,
    tags: tuple[str, ...],
    draft: bool,
    edit: bool,
    at: str | None,
) -> None:
    """Create a post file with complete front-matter, named and placed by convention."""
    from cmflow import keydates, newpost, output
    from cmflow.validation import validate

    cfg = load_config(root)
    _check_channels(cfg, channels)
    now = parse_at(at, cfg)
    interactive = sys.stdin.isatty()
    event = None
    if for_event:
        today = now.astimezone(cfg.timezone).date()
        dates = keydates.between(
            today,
            today + timedelta(days=366),
            country=cfg.country,
            language=cfg.language,
            events=cfg.events,
        )
        event = newpost.find_key_date(for_event, dates)
    if not title:
        if event is not None:
            title = event.name
        elif interactive:
            title = click.prompt(_("Title"))
        else:
            raise click.UsageError(_("give the post a title with --title"))
    chosen = list(channels) or list(cfg.channels)
    if not channels and interactive and not for_event:
        answer = click.prompt(_("Channels"), default=" ".join(chosen))
        chosen = answer.replace(",", " ").split()
        _check_channels(cfg, tuple(chosen))
    if pillar is None and cfg.pillars and interactive:
        pillar = click.prompt(_("Pillar"), type=click.Choice(cfg.pillars))
    if pillar is not None and cfg.pillars and pillar not in cfg.pillars:
        from cmflow.schema import did_you_mean

        raise click.BadParameter(
            _("{value} is not a pillar{hint}: {pillars}").format(
                value=repr(pillar),
                hint=did_you_mean(pillar, cfg.pillars),
                pillars=", ".join(cfg.pillars),
            ),
            param_hint="--pillar",
        )
    report = validate(cfg, now=now)
    if event is not None:
        moment = newpost.default_time(
            cfg, chosen, datetime.combine(event.day, datetime.min.time(), cfg.timezone)
        )
        campaign = campaign or event.slug
    elif when is None or when.strip().lower() == "next":
        if when is None and not any(cfg.slots.get(c) for c in chosen):
            raise click.UsageError(_("give --date (no channel of this post has queue slots)"))
        moment = newpost.next_slot(cfg, chosen, report.posts, now)
    else:
        from datetime import date as date_cls

        from cmflow.timeutil import DateProblem, parse_datetime

        try:
            day = date_cls.fromisoformat(when.strip())
            moment = newpost.default_time(
                cfg, chosen, datetime.combine(day, datetime.min.time(), cfg.timezone)
            )
        except ValueError:
            try:
                moment = parse_datetime(when, cfg.timezone).astimezone(cfg.timezone)
            except DateProblem as exc:
                raise click.BadParameter(str(exc), param_hint="--date") from None
    post = newpost.Draft(
        title=title,
        channels=chosen,
        when=moment,
        pillar=pillar,
        campaign=campaign,
        tags=list(tags),
        status="draft" if draft else "ready",
    )
    rel = newpost.path_for(cfg, post)
    path = newpost.write(cfg.root, rel, post.text())
    click.echo(
        _("created {path} ({when})").format(
            path=rel, when=f"{moment:%Y-%m-%d %H:%M} {cfg.timezone}"
        )
    )
    if edit:
        click.edit(filename=str(path))
    found = validate(cfg, now=now, only={rel})
    if found.findings:
        click.echo(output.text(found.findings, found.files))
    if found.errors:  # written, but not publishable as it is: said by the exit code too
        sys.exit(ExitCode.FINDINGS)


def _write_atomic(path: Path, text: str, newline: str | None = None) -> None:
    import tempfile

    path = path.resolve()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def show_error(exc: click.ClickException) -> None:
    """What `exc.show()` prints (the usage and a hint for usage errors, then the error), in
    cmflow's language: click's own words come from its English catalogue."""
    message = exc.format_message()
    if isinstance(exc, click.BadParameter) and not isinstance(exc, click.MissingParameter):
        hint = exc.param_hint
        if hint is None and exc.param is not None:
            hint = exc.param.get_error_hint(exc.ctx) if exc.ctx is not None else None
        if hint is not None:
            if not isinstance(hint, str):
                hint = " / ".join(repr(h) for h in hint)
            message = _("Invalid value for {option}: {message}").format(
                option=hint, message=exc.message
            )
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    if ctx is not None:
        hint_line = ""
        if ctx.command.get_help_option(ctx) is not None:
            names = ctx.command.get_help_option_names(ctx)
            hint_line = (
                _("Try '{command} {option}' for help.").format(
                    command=ctx.command_path, option=max(names, key=len)
                )
                + "\n"
            )
        click.echo(f"{ctx.get_usage()}\n{hint_line}", err=True, color=ctx.color)
    click.echo(_("Error: {message}").format(message=message), err=True)


# Set by a command that has written everything and left no thread or process behind
# (`validate`): the process then ends without tearing down the hundreds of thousands of
# objects of a large queue one by one, tens of milliseconds of a run that answers in a
# fraction of a second. Only in `main`, the process's own entry point.
_QUICK_EXIT = False
_OWNED = False  # `main` runs this process: it ends when the command returns


def _quick_exit(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main() -> None:
    """Entry point: map every outcome to one exit code."""
    global _OWNED
    _OWNED = True
    try:
        _main()
    except SystemExit as done:
        if _QUICK_EXIT and isinstance(done.code, int) and not _observed():
            _quick_exit(done.code)
        raise


def _observed() -> bool:
    """Whether a tracer, profiler or coverage tool watches this process: they write what
    they gathered at exit, which `_quick_exit` would skip."""
    return (
        sys.gettrace() is not None
        or sys.getprofile() is not None
        or any(m in sys.modules for m in ("coverage", "pyinstrument", "cProfile", "profile"))
    )


def _main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(_("interrupted"), err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        click.echo(_("interrupted"), err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors and CmflowError
        show_error(exc)
        sys.exit(ExitCode.USAGE if exc.exit_code == 2 else exc.exit_code)
    except SystemExit:
        raise
    except BrokenPipeError:
        sys.exit(ExitCode.OK)
    except Exception as exc:  # a bug: say so plainly, details on demand
        if os.environ.get("CMFLOW_DEBUG"):
            raise
        click.echo(
            _(
                "cmflow: internal error ({error}). This is a bug in cmflow; rerun with "
                "CMFLOW_DEBUG=1 for the traceback and report it."
            ).format(error=f"{type(exc).__name__}: {exc}"),
            err=True,
        )
        sys.exit(ExitCode.INTERNAL)
