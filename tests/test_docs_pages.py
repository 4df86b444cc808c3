"""The project's documentation (docs/) stays true: the channels.yaml reference is generated
from the definitions, every rule's example really fires it, and every command, option and
rule id is documented. A new command or option fails here until docs/ says what it does."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from cmflow.cli import cli
from cmflow.reference import PAGE, channels_reference
from cmflow.rules import RULES
from tests.conftest import JPEG, PNG, run_cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


def test_the_channels_yaml_reference_is_generated_from_the_schema() -> None:
    on_disk = (ROOT / PAGE).read_text(encoding="utf-8")
    assert on_disk == channels_reference(), "regenerate it: python -m cmflow.reference"


def _commands() -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    stack: list[tuple[str, click.Command]] = list(cli.commands.items())
    while stack:
        name, cmd = stack.pop()
        out.append((name, cmd))
        if isinstance(cmd, click.Group):
            stack += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
    return sorted(out, key=lambda nc: nc[0])


def test_every_command_option_and_rule_is_documented() -> None:
    commands = (DOCS / "commands.md").read_text(encoding="utf-8")
    sections = {
        m.group(1): m.end()
        for m in re.finditer(r"^## `cmflow ([a-z]+(?: [a-z]+)*)", commands, re.M)
    }
    missing: list[str] = []
    for name, cmd in _commands():
        if name not in sections:
            missing.append(f"command `cmflow {name}` (a `## `cmflow {name}...`` section)")
            continue
        start = sections[name]
        end = min((v for v in sections.values() if v > start), default=len(commands))
        section = commands[start:end]
        for param in cmd.params:
            if isinstance(param, click.Option):
                for opt in param.opts:
                    if opt.startswith("--") and opt not in section:
                        missing.append(f"option {opt} of `cmflow {name}`")
    text = _docs_text()
    missing += [f"rule `{r.id}`" for r in RULES if f"`{r.id}`" not in text]
    assert not missing, "document in docs/commands.md or docs/rules.md:\n" + "\n".join(missing)


def test_docs_name_no_notes_outside_the_repository() -> None:
    paths = [*DOCS.glob("*.md"), *(ROOT / "cmflow").rglob("*.py"), ROOT / "README.md"]
    paths += [p for p in (ROOT / "tests").glob("*.py") if p.name != Path(__file__).name]
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for name in ("DESIGN.md", "RELIABILITY.md", "PLATFORMS.md", "PLATFORMS-2.md"):
            assert name not in text, f"{path.relative_to(ROOT)} points to {name}"


def test_links_between_pages_lead_somewhere() -> None:
    for path in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([a-z0-9-]+\.md)(?:#[^)]*)?\)", path.read_text("utf-8")):
            assert (DOCS / target).is_file(), f"{path.name} links to missing {target}"


# -- the rule examples ---------------------------------------------------------------------------

RULES_PAGE = DOCS / "rules.md"


@dataclass
class Example:
    rule: str
    attrs: dict[str, str]
    files: dict[str, str] = field(default_factory=dict)


def _examples() -> tuple[str, list[Example]]:
    text = RULES_PAGE.read_text(encoding="utf-8")
    config = re.search(r"<!-- example-config -->\s*```yaml\n(.*?)```", text, re.S)
    assert config is not None
    out: list[Example] = []
    marker = re.compile(r"<!-- example ([a-z.-]+)((?: [a-z]+=[^ ]+(?: [0-9:]+)?)*) -->")
    for m in marker.finditer(text):
        attrs = dict(re.findall(r"([a-z]+)=(\S+(?: \d\d:\d\d)?)", m.group(2)))
        rest = text[m.end() :]
        stop = re.search(r"^#", rest, re.M)
        block = rest[: stop.start()] if stop else rest
        example = Example(m.group(1), attrs)
        for path, body in re.findall(r"```\w+ file=(\S+)\n(.*?)```", block, re.S):
            example.files[path] = body
        out.append(example)
    return config.group(1), out


CONFIG, EXAMPLES = _examples()


def test_every_rule_has_an_example() -> None:
    assert {e.rule for e in EXAMPLES} == {r.id for r in RULES}


MEDIA = {".jpg": JPEG, ".png": PNG, ".pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.rule for e in EXAMPLES])
def test_each_example_fires_its_rule(example: Example, tmp_path: Path) -> None:
    (tmp_path / "channels.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "content").mkdir()
    encoding = example.attrs.get("encoding", "utf-8")
    for rel, body in example.files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body.encode(encoding if rel.startswith("content/") else "utf-8"))
    for rel in filter(None, example.attrs.get("media", "").split(",")):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(MEDIA[path.suffix])
    at = example.attrs.get("at", "2026-11-20 08:00")
    result = run_cli(["validate", "--no-cache", "--format", "json", "--at", at], tmp_path)
    assert result.exit_code in (0, 1), result.output
    rules = {f["rule"] for f in json.loads(result.stdout)["findings"]}
    assert example.rule in rules, f"{example.rule} did not fire; found {sorted(rules)}"
