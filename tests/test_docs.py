"""The documentation people read stays true: README commands, rule table, CI script."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from cmflow.cli import cli
from cmflow.rules import RULES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    block = re.search(r"```sh\n(.*?)\n```", README, re.S)
    assert block is not None and README.index(block.group(0)) < 40
    run, test = block.group(1).splitlines()
    assert "cmflow publish" in run
    assert "pytest" in test


def test_ci_runs_the_readme_test_command() -> None:
    block = re.search(r"```sh\n(.*?)\n```", README, re.S)
    assert block is not None
    test_command = block.group(1).splitlines()[1]
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_rule_table_matches_the_catalogue() -> None:
    table = README.split("<!-- rules:start -->")[1].split("<!-- rules:end -->")[0].strip()
    expected = CliRunner().invoke(cli, ["rules", "--format", "markdown", "--root", str(ROOT)])
    assert expected.exit_code == 0
    assert table == expected.output.strip(), "refresh the table: cmflow rules --format markdown"


def test_every_rule_is_documented() -> None:
    for rule in RULES:
        assert rule.summary and f"`{rule.id}`" in README


def test_every_command_has_help() -> None:
    for name, command in cli.commands.items():
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert command.help and len(command.help) > 20, name
