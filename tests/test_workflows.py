"""The GitHub workflows keep the promises of docs/publishing.md ("GitHub Actions")."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    assert isinstance(data, dict)
    return data


def test_the_pr_check_runs_untrusted_code_with_no_secret_and_no_write_access() -> None:
    wf = load("validate.yml")
    assert set(wf["on"]) == {"pull_request"}
    assert wf["permissions"] == {"contents": "read"}
    text = (WORKFLOWS / "validate.yml").read_text(encoding="utf-8")
    assert not re.search(r"\$\{\{\s*secrets\.", text)
    steps = " ".join(str(s.get("run", "")) for s in wf["jobs"]["validate"]["steps"])
    assert "cmflow validate" in steps and "--format github" in steps


def test_no_workflow_uses_pull_request_target() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        assert "pull_request_target" not in load(path.name)["on"], path.name


def test_the_publisher_runs_alone_is_never_cancelled_and_commits_the_record() -> None:
    wf = load("publish.yml")
    assert "schedule" in wf["on"] and "workflow_dispatch" in wf["on"]
    assert "pull_request" not in wf["on"] and "push" not in wf["on"]
    assert wf["concurrency"] == {"group": "cmflow-publish", "cancel-in-progress": False}
    assert wf["permissions"] == {"contents": "write"}
    steps = wf["jobs"]["publish"]["steps"]
    publish = next(s for s in steps if s.get("name") == "Publish")
    assert "cmflow publish --commit" in publish["run"]
    # Every credential comes from a repository secret, named as channels.yaml names it.
    config = yaml.safe_load((WORKFLOWS.parent.parent / "channels.yaml").read_text("utf-8"))
    wanted = {
        str(v)
        for ch in config["channels"].values()
        for k, v in ch.items()
        if k in ("token_env", "password_env", "webhook_env")
    }
    assert wanted <= set(publish["env"]), wanted - set(publish["env"])
    for name, value in publish["env"].items():
        assert value == "${{ secrets." + name + " }}"


def test_the_composite_action_installs_cmflow_from_its_own_ref() -> None:
    action = yaml.safe_load((WORKFLOWS.parent.parent / "action.yml").read_text("utf-8"))
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    install = next(s for s in steps if "pip install" in str(s.get("run", "")))
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert '"$ACTION_PATH"' in install["run"]
    for step in steps:
        assert "${{" not in str(step.get("run", "")), step


def test_the_tool_is_tested_on_every_supported_python() -> None:
    wf = load("ci.yml")
    job = wf["jobs"]["test"]
    assert job["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    runs = " ".join(str(s.get("run", "")) for s in job["steps"])
    for command in ("ruff check", "ruff format --check", "mypy", "pytest"):
        assert command in runs


def test_metrics_are_collected_daily_and_the_monthly_report_committed() -> None:
    wf = load("metrics.yml")
    assert "schedule" in wf["on"] and "pull_request" not in wf["on"]
    assert wf["permissions"] == {"contents": "write"}
    assert wf["concurrency"]["cancel-in-progress"] is False
    runs = " ".join(str(s.get("run", "")) for s in wf["jobs"]["metrics"]["steps"])
    assert "cmflow metrics collect --commit" in runs and "cmflow report" in runs
