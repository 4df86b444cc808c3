"""The scaffolded workflows' steps, run for real: PR → preview comment → merge → scheduled
publish → commit-back, with `GITHUB_*` variables set as Actions sets them, a bare remote,
and a loopback GitHub REST API for the sticky comment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run_main
from tests.fakes.base import Fault
from tests.fakes.github import FakeGitHub
from tests.publishing import clone, git, init_remote

REPOSITORY = "marque/contenus"
PR = 7
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(REPOSITORY) as fake:
        fake.open_pull_request(PR, ["Merci pour la PR !"])
        yield fake


@dataclass
class Actions:
    """What the runner sets for a job, and a tiny evaluator for the expressions we use."""

    repo: Path
    tmp: Path
    github: FakeGitHub
    token: str
    event: dict[str, Any]
    base_ref: str = ""
    inputs: Mapping[str, str] | None = None
    secrets: Mapping[str, str] | None = None
    matrix: Mapping[str, Any] | None = None

    def expr(self, text: str) -> str:
        def one(m: re.Match[str]) -> str:
            e = m.group(1)
            if e == "github.base_ref":
                return self.base_ref
            if e == "github.token":
                return self.token
            if e.startswith(("steps.", "vars.")):
                return ""  # no optional step ran, no repository variable is set
            if e.startswith("inputs."):
                return (self.inputs or {}).get(e.removeprefix("inputs."), "")
            if e.startswith("secrets."):
                return (self.secrets or {}).get(e.removeprefix("secrets."), "")
            if e.startswith("matrix."):
                value: Any = self.matrix
                for part in e.removeprefix("matrix.").split("."):
                    value = value[part]
                return str(value)
            fmt = re.fullmatch(
                r"secrets\[format\('\{0\}_(\w+)', matrix\.brand\.secrets_prefix\)\]", e
            )
            if fmt:
                assert self.matrix is not None
                name = f"{self.matrix['brand']['secrets_prefix']}_{fmt.group(1)}"
                return (self.secrets or {}).get(name, "")
            raise AssertionError(f"expression not understood by the test: {e}")

        return _EXPR.sub(one, text)

    def run_job(self, workflow: str, job: str) -> list[subprocess.CompletedProcess[str]]:
        """Run every `run:` step of `job` in order, as the runner does (bash -e, step env,
        `if: ${{ !cancelled() }}` steps also after a failure)."""
        wf = yaml.safe_load((self.repo / ".github" / "workflows" / workflow).read_text("utf-8"))
        self.summary = self.tmp / f"summary-{workflow}-{len(list(self.tmp.iterdir()))}.md"
        self.outputs_file = self.tmp / f"output-{workflow}-{len(list(self.tmp.iterdir()))}"
        event_path = self.tmp / "event.json"
        event_path.write_text(json.dumps(self.event), encoding="utf-8")
        base = {
            **os.environ,
            # The action put cmflow on PATH: here, the test environment's.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.repo),
            "CI": "true",
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_API_URL": self.github.url,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_OUTPUT": str(self.outputs_file),
            "GITHUB_RUN_ID": "1",
        }
        failed = False
        results = []
        for step in wf["jobs"][job]["steps"]:
            if "run" not in step:
                continue
            cond = str(step.get("if", ""))
            if failed and "!cancelled()" not in cond and "always()" not in cond:
                continue
            env = {**base, **{k: self.expr(str(v)) for k, v in (step.get("env") or {}).items()}}
            done = subprocess.run(
                ["bash", "-e", "-c", step["run"]],
                cwd=self.repo,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            results.append(done)
            failed = failed or done.returncode != 0
        return results


def _event(head: str = REPOSITORY) -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": PR,
        "pull_request": {
            "number": PR,
            "head": {"ref": "nouveau-post", "repo": {"full_name": head}},
            "base": {"ref": "main", "repo": {"full_name": REPOSITORY}},
        },
    }


POST = """\
---
date: 2026-01-05 10:00
channels: [site]
title: "Nouvelle fournée"
pillar: product
---
La fournée du lundi sort du four à 7 h. {extra}
"""


def _scaffold(tmp_path: Path) -> tuple[Path, Path]:
    remote = init_remote(tmp_path / "remote.git")
    repo = clone(remote, tmp_path / "contenus")
    done = run_main(["init", ".", "--brand", "Boulangerie Émile"], cwd=repo)
    assert done.returncode == 0, done.stderr
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "cmflow init")
    git(repo, "push", "-q", "origin", "HEAD:refs/heads/main")
    return remote, repo


def test_pull_request_preview_then_merge_then_scheduled_publish(
    tmp_path: Path, github: FakeGitHub
) -> None:
    remote, repo = _scaffold(tmp_path)
    git(repo, "checkout", "-q", "-b", "nouveau-post")
    post = repo / "content" / "2026" / "01" / "été-fournée.md"  # accents in the file name
    post.parent.mkdir(parents=True, exist_ok=True)
    post.write_text(POST.format(extra="Cliquez ici !"), encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Nouveau post")
    git(repo, "fetch", "-q", "origin")

    runner = Actions(repo, tmp_path / "runner", github, github.write_token, _event(), "main")
    runner.tmp.mkdir()
    validate, preview = runner.run_job("validate.yml", "validate")
    # The forbidden term fails the check, annotated on the changed file…
    assert validate.returncode == 1, validate.stdout + validate.stderr
    assert "::error file=content/2026/01/été-fournée.md" in validate.stdout
    # …and the preview still runs and writes one comment, beside the user's own.
    assert preview.returncode == 0, preview.stdout + preview.stderr
    comments = github.comments(PR)
    assert len(comments) == 2 and comments[0]["body"] == "Merci pour la PR !"
    body = comments[1]["body"]
    assert body.startswith("<!-- cmflow:preview -->")
    assert "La fournée du lundi sort du four" in body
    assert "editorial.forbidden-term" in body
    assert "Europe/Paris" in body
    assert runner.summary.read_text("utf-8").count("La fournée du lundi") >= 1
    assert github.write_token not in preview.stdout + preview.stderr + body

    # The author fixes the post and pushes: the same comment is updated in place.
    post.write_text(POST.format(extra="Venez tôt !"), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "Sans « cliquez ici »")
    validate, preview = runner.run_job("validate.yml", "validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    comments = github.comments(PR)
    assert len(comments) == 2
    assert "Venez tôt" in comments[1]["body"] and "forbidden-term" not in comments[1]["body"]
    assert "comment updated" in preview.stdout

    # Merge, then the scheduled publish job: the post goes to the site, the record and the
    # pages are committed back to the remote.
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge PR 7", "nouveau-post")
    git(repo, "push", "-q", "origin", "main")
    publisher = Actions(repo, runner.tmp, github, "", {"schedule": "*/15 * * * *"})
    identity, publish = publisher.run_job("publish.yml", "publish")
    assert identity.returncode == 0
    assert publish.returncode == 0, publish.stdout + publish.stderr
    log = git(remote, "log", "--format=%s%n%b", "main")
    files = git(remote, "ls-tree", "-r", "-z", "--name-only", "main").split("\0")
    assert any(f.startswith("data/record/") for f in files), log
    assert any(f.startswith("public/") and "fourn" in f for f in files), files
    # A second scheduled run publishes nothing again.
    _, again = publisher.run_job("publish.yml", "publish")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "published" not in again.stdout.replace("nothing new to publish", "")

    # The metrics job: collect (the site has no metrics: said, not failed), then the monthly
    # report asked by hand, committed and pushed.
    metrics = Actions(repo, runner.tmp, github, "", {"schedule": "x"}, inputs={"report": "true"})
    identity, collect, monthly = metrics.run_job("metrics.yml", "metrics")
    assert collect.returncode == 0, collect.stdout + collect.stderr
    assert monthly.returncode == 0, monthly.stdout + monthly.stderr
    files = git(remote, "ls-tree", "-r", "-z", "--name-only", "main").split("\0")
    assert any(re.fullmatch(r"reports/\d{4}-\d{2}\.md", f) for f in files), files


def test_a_fork_pull_request_gets_the_preview_in_the_summary_only(
    tmp_path: Path, github: FakeGitHub
) -> None:
    _, repo = _scaffold(tmp_path)
    git(repo, "checkout", "-q", "-b", "nouveau-post")
    (repo / "content" / "fourn.md").write_text(POST.format(extra=""), encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "post")
    runner = Actions(
        repo, tmp_path / "runner", github, github.read_token, _event("quelquun/contenus"), "main"
    )
    runner.tmp.mkdir()
    _, preview = runner.run_job("validate.yml", "validate")
    assert preview.returncode == 0, preview.stderr
    assert "fork" in preview.stdout
    assert len(github.comments(PR)) == 1  # only the user's
    assert not github.requests_to("POST", r"/comments$")
    assert "La fournée du lundi" in runner.summary.read_text("utf-8")


def test_a_read_only_token_or_github_errors_never_fail_the_check(
    tmp_path: Path, github: FakeGitHub
) -> None:
    _, repo = _scaffold(tmp_path)
    git(repo, "checkout", "-q", "-b", "nouveau-post")
    (repo / "content" / "fourn.md").write_text(POST.format(extra=""), encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "post")
    runner = Actions(repo, tmp_path / "runner", github, github.read_token, _event(), "main")
    runner.tmp.mkdir()
    _, preview = runner.run_job("validate.yml", "validate")
    assert preview.returncode == 0
    assert "::warning::" in preview.stderr and "HTTP 403" in preview.stderr
    assert "La fournée du lundi" in runner.summary.read_text("utf-8")

    runner.token = "ghs_wrongTOKENwrongTOKENwrong000000000"
    _, preview = runner.run_job("validate.yml", "validate")
    assert "HTTP 401" in preview.stderr
    assert runner.token not in preview.stdout + preview.stderr


def test_the_comment_is_found_across_pages_and_after_a_secondary_rate_limit(
    tmp_path: Path, github: FakeGitHub
) -> None:
    from cmflow import github as gh

    pr = gh.PullRequest(github.url, REPOSITORY, PR, from_fork=False)
    slept: list[float] = []
    comments = gh.Comments(pr, github.write_token, sleep=slept.append)
    assert comments.upsert("premier aperçu")[0] == "created"
    for i in range(250):  # the sticky comment is now on page 1 of 3; others come after
        github._add(PR, f"commentaire {i}", "someone")
    github.inject(
        "GET",
        r"/comments$",
        Fault.status(
            403,
            {"message": "You have exceeded a secondary rate limit.", "documentation_url": ""},
            {"retry-after": "3"},
        ),
    )
    action, url = comments.upsert("second aperçu")
    assert action == "updated" and url
    assert slept == [3.0]
    stickies = [c for c in github.comments(PR) if c["body"].startswith(gh.MARKER)]
    assert len(stickies) == 1 and stickies[0]["body"].endswith("second aperçu")
    assert comments.upsert("second aperçu")[0] == "unchanged"

    # The sticky comment pushed to page 3 is still found (Link: rel="next").
    github.issues[PR].insert(0, github.issues[PR].pop(1))  # move it: first is the user's
    github.issues[PR].append(github.issues[PR].pop(0))
    assert comments.upsert("troisième")[0] == "updated"
    assert len([c for c in github.comments(PR) if c["body"].startswith(gh.MARKER)]) == 1


def test_a_huge_preview_is_cut_to_what_github_accepts(github: FakeGitHub) -> None:
    from cmflow import github as gh

    pr = gh.PullRequest(github.url, REPOSITORY, PR, from_fork=False)
    action, _ = gh.Comments(pr, github.write_token).upsert("x" * 100_000)
    assert action == "created"
    body = github.comments(PR)[-1]["body"]
    assert len(body) <= gh.MAX_BODY and "job summary" in body


def test_post_content_cannot_inject_markup_into_the_comment(tmp_path: Path) -> None:
    from cmflow import prpreview

    assert prpreview.text("<img src=x onerror=alert(1)> | **gras**") == (
        "&lt;img src=x onerror=alert\\(1\\)&gt; \\| \\*\\*gras\\*\\*"
    )
    assert prpreview.code("a `b` c") == "``a `b` c``"
    block = prpreview._block("```\n</details><script>")
    assert block[0] == "````text" and block[-1] == "````"


def _agency(tmp_path: Path, change: Callable[[Path], None] | None = None) -> tuple[Path, Path]:
    """An agency's repository of two brands (`change`d first), pushed to its remote."""
    remote = init_remote(tmp_path / "remote.git")
    repo = clone(remote, tmp_path / "agence")
    done = run_main(["init", ".", "--brand", "Boulangerie Émile", "--brand", "Fleuriste"], cwd=repo)
    assert done.returncode == 0, done.stderr
    if change is not None:
        change(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    git(repo, "push", "-q", "origin", "HEAD:refs/heads/main")
    return remote, repo


def _break_fleuriste(repo: Path) -> None:
    broken = repo / "brands" / "fleuriste" / "channels.yaml"
    broken.write_text(broken.read_text("utf-8").replace("timezone:", "timzone:"), "utf-8")


def test_an_agency_publishes_each_brand_apart_with_its_own_secrets(
    tmp_path: Path, github: FakeGitHub
) -> None:
    # One brand's configuration is broken: its job fails, the other's publishes.
    remote, repo = _agency(tmp_path, _break_fleuriste)

    runner = Actions(repo, tmp_path / "runner", github, "", {"schedule": "x"})
    runner.tmp.mkdir()
    (listing,) = runner.run_job("publish.yml", "brands")
    assert listing.returncode == 0
    outputs = dict(
        line.split("=", 1) for line in runner.outputs_file.read_text("utf-8").splitlines()
    )
    brands = json.loads(outputs["list"])
    assert [b["name"] for b in brands] == ["boulangerie-emile", "fleuriste"]
    secrets = {
        "BOULANGERIE_EMILE_CMFLOW_MASTODON_TOKEN": "tok-boulangerie-0123456789",
        "FLEURISTE_CMFLOW_MASTODON_TOKEN": "tok-fleuriste-0123456789",
    }
    outcomes = {}
    for brand in brands:
        runner.matrix = {"brand": brand}
        runner.secrets = secrets
        env = {
            k: runner.expr(str(v))
            for k, v in _job_step(repo, "publish.yml", "publish", "Publish")["env"].items()
        }
        # A brand's job receives its own secrets only, under the names channels.yaml uses.
        assert (
            env["CMFLOW_MASTODON_TOKEN"]
            == secrets[f"{brand['secrets_prefix']}_CMFLOW_MASTODON_TOKEN"]
        )
        _, publish = runner.run_job("publish.yml", "publish")
        outcomes[brand["name"]] = publish.returncode
    assert outcomes == {"boulangerie-emile": 0, "fleuriste": 2}
    files = git(remote, "ls-tree", "-r", "-z", "--name-only", "main").split("\0")
    assert any(f.startswith("brands/boulangerie-emile/data/record/") for f in files)
    assert any(f.startswith("brands/boulangerie-emile/public/") for f in files)
    assert not any(f.startswith("brands/fleuriste/data/") for f in files)


def test_an_agency_pull_request_is_annotated_on_the_brand_s_files(
    tmp_path: Path, github: FakeGitHub
) -> None:
    # Each brand is checked from the repository's top (`--root brands/<brand>`): GitHub
    # finds an annotation's file from there, so its path must name the brand's folder (it
    # used to start at the brand's own `content/`, a file the pull request does not have).
    _remote, repo = _agency(tmp_path)
    git(repo, "checkout", "-q", "-b", "nouveau-post")
    post = repo / "brands" / "fleuriste" / "content" / "2026" / "01" / "été-fleurs.md"
    post.parent.mkdir(parents=True, exist_ok=True)
    post.write_text(POST.format(extra="Cliquez ici !"), encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Nouveau post")
    git(repo, "fetch", "-q", "origin")
    changed = git(repo, "diff", "--name-only", "-z", "origin/main").split("\0")
    assert "brands/fleuriste/content/2026/01/été-fleurs.md" in changed

    runner = Actions(repo, tmp_path / "runner", github, github.write_token, _event(), "main")
    runner.tmp.mkdir()
    (listing,) = runner.run_job("validate.yml", "brands")
    assert listing.returncode == 0, listing.stderr
    outputs = dict(
        line.split("=", 1) for line in runner.outputs_file.read_text("utf-8").splitlines()
    )
    runner.matrix = {"brand": json.loads(outputs["list"])[1]}
    validate, _preview = runner.run_job("validate.yml", "validate")
    assert validate.returncode == 1, validate.stdout + validate.stderr
    (line,) = [x for x in validate.stdout.splitlines() if x.startswith("::error")]
    assert line.startswith("::error file=brands/fleuriste/content/2026/01/été-fleurs.md,line=")
    summary = runner.summary.read_text("utf-8")
    assert "`brands/fleuriste/content/2026/01/été-fleurs.md:" in summary
    # Run from the brand's own folder (a person at their terminal): the same path.
    here = run_main(["validate", "--format", "github"], cwd=repo / "brands" / "fleuriste")
    assert "::error file=brands/fleuriste/content/2026/01/été-fleurs.md," in here.stdout


def _job_step(repo: Path, workflow: str, job: str, name: str) -> dict[str, Any]:
    wf = yaml.safe_load((repo / ".github" / "workflows" / workflow).read_text("utf-8"))
    step: dict[str, Any] = next(s for s in wf["jobs"][job]["steps"] if s.get("name") == name)
    return step


def test_github_errors_are_explained_without_the_token(github: FakeGitHub) -> None:
    from cmflow import github as gh

    wrong_repo = gh.PullRequest(github.url, "marque/autre", PR, from_fork=False)
    with pytest.raises(gh.CommentError) as err:
        gh.Comments(wrong_repo, github.write_token).upsert("aperçu")
    assert err.value.status == 404 and "not found" in err.value.reason
    pr = gh.PullRequest(github.url, REPOSITORY, PR, from_fork=False)
    github.inject(
        "POST",
        r"/comments$",
        Fault.status(422, {"message": "Validation Failed", "errors": [{"code": "custom"}]}),
    )
    with pytest.raises(gh.CommentError) as err:
        gh.Comments(pr, github.write_token).upsert("aperçu")
    assert err.value.status == 422 and "refused the comment body" in err.value.reason
    assert github.write_token not in err.value.reason
