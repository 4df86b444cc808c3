"""The exception tree and exit codes, mapped in one place (`cmflow.cli.main`)."""

from __future__ import annotations

from enum import IntEnum

import click

from cmflow.i18n import _, ngettext


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # error-level findings, or a failed publish
    USAGE = 2  # bad arguments or configuration
    INTERNAL = 3  # a bug in cmflow
    INTERRUPTED = 130


class CmflowError(click.ClickException):
    """Base of every error cmflow reports to the user (exit 2 unless stated)."""

    exit_code = ExitCode.USAGE


class ConfigError(CmflowError):
    """Raised by `cmflow.config` when channels.yaml is missing or invalid; lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def format_message(self) -> str:
        n = len(self.problems)
        head = (
            ngettext(
                "channels.yaml has {count} problem:", "channels.yaml has {count} problems:", n
            ).format(count=n)
            if n > 1
            else ""
        )
        return "\n".join([head, *self.problems]) if head else self.problems[0]


class MissingSecret(CmflowError):
    """Raised by a platform adapter when the environment variable holding a credential is unset."""

    def __init__(self, channel: str, variable: str) -> None:
        super().__init__(
            _(
                "channel {channel} needs a credential: set the environment variable {variable} "
                "(in GitHub Actions: a repository secret passed as env)"
            ).format(channel=repr(channel), variable=variable)
        )
        self.channel = channel
        self.variable = variable
