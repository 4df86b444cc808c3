"""The command line in French: help text from the locale, and plan, publish --dry-run,
preview and the GitHub job summary in the brand's language, with CMFLOW_LANG overriding
both. Real `cmflow` processes on a repository made by `cmflow init`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def run(
    args: list[str], cwd: Path, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CMFLOW_", "LC_", "LANG", "GITHUB_"))
    }
    env.update(extra or {})
    return subprocess.run(
        [sys.executable, "-m", "cmflow", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# The first example post is due when the repository is made: now, or a minute ago on a busy
# machine.
DUE = re.compile(r"prévue (maintenant|il y a \d+ min)")
DUE_EN = re.compile(r"due (now|\d+ min ago)")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh content repository whose channels.yaml says `language: fr`."""
    root = tmp_path_factory.mktemp("marque")
    made = run(["init", str(root), "--brand", "Boulangerie Émile"], root, {"LANG": "C.UTF-8"})
    assert made.returncode == 0, made.stderr
    assert "language: fr" in (root / "channels.yaml").read_text(encoding="utf-8")
    return root


def test_help_follows_the_locale(tmp_path: Path) -> None:
    top = run(["--help"], tmp_path, {"LANG": "fr_FR.UTF-8"})
    assert top.returncode == 0, top.stderr
    assert top.stdout.startswith("Utilisation : ")
    assert "Options :" in top.stdout and "Commandes :" in top.stdout
    assert "Afficher ce message et quitter." in top.stdout
    assert "Vérifie les publications par rapport à la ligne éditoriale" in top.stdout
    assert "Usage:" not in top.stdout and "Show this message" not in top.stdout

    sub = run(["validate", "--help"], tmp_path, {"LANG": "fr_FR.UTF-8"})
    assert sub.returncode == 0, sub.stderr
    assert "Ignorer le cache de .cmflow-cache/." in sub.stdout
    assert "Dépôt de contenus (par défaut" in sub.stdout

    en = run(["validate", "--help"], tmp_path, {"LANG": "fr_FR.UTF-8", "CMFLOW_LANG": "en"})
    assert en.stdout.startswith("Usage: ")
    assert "Ignore the cache in .cmflow-cache/." in en.stdout


def test_usage_errors_are_in_french(tmp_path: Path) -> None:
    bad = run(["calendar", "--weeks", "0"], tmp_path, {"LANG": "fr_FR.UTF-8"})
    assert bad.returncode == 2
    assert "Essayez 'python -m cmflow calendar --help' pour de l'aide." in bad.stderr
    assert "Erreur : Valeur incorrecte pour '--weeks'" in bad.stderr


def test_plan_and_dry_run_speak_the_brands_language(repo: Path) -> None:
    plan = run(["plan", "--all"], repo, {"LANG": "C.UTF-8"})
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("Plan au ")
    assert DUE.search(plan.stdout), plan.stdout
    assert "pas encore : prévue dans" in plan.stdout
    assert "Résumé : 1 publish" in plan.stdout

    dry = run(["publish", "--dry-run"], repo, {"LANG": "C.UTF-8"})
    assert dry.returncode == 0, dry.stderr
    assert DUE.search(dry.stdout) and "Résumé : 1 publish" in dry.stdout

    en = run(["plan", "--all"], repo, {"LANG": "fr_FR.UTF-8", "CMFLOW_LANG": "en"})
    assert en.stdout.startswith("Plan at ")
    assert DUE_EN.search(en.stdout) and "Summary: 1 publish" in en.stdout


def test_preview_and_the_pull_request_comment_speak_the_brands_language(repo: Path) -> None:
    post = next(repo.glob("content/*/*/*-image.md"))
    text = run(["preview", str(post)], repo, {"LANG": "C.UTF-8"})
    assert text.returncode == 0, text.stderr
    assert "media/exemple.png — texte alternatif : " in text.stdout
    comment = run(["preview", "--format", "markdown", str(post)], repo, {"LANG": "C.UTF-8"})
    assert comment.returncode == 0, comment.stderr
    assert "1 publication modifiée · 0 erreur, 0 avertissement · heures en" in comment.stdout
    assert "texte alternatif : " in comment.stdout
    en = run(["preview", "--format", "markdown", str(post)], repo, {"CMFLOW_LANG": "en"})
    assert "1 post changed · 0 errors, 0 warnings · times in" in en.stdout


def test_the_job_summary_speaks_the_brands_language(repo: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    github = {"LANG": "C.UTF-8", "GITHUB_STEP_SUMMARY": str(summary)}
    plan = run(["plan", "--format", "github"], repo, github)
    assert plan.returncode == 0, plan.stderr
    validate = run(["validate", "--format", "github"], repo, github)
    assert validate.returncode == 0, validate.stderr
    # The first example post is due now: a warning may say so, depending on the second.
    assert "ok : 0 erreur, " in validate.stdout and " dans 3 fichiers" in validate.stdout
    written = summary.read_text(encoding="utf-8")
    assert "| | action | canal | publication | détails |" in written
    assert "### cmflow validate — ok : 0 erreur, " in written
    assert "| | fichier | règle | canal | message |" in written or "dans 3 fichiers" in written
    assert DUE.search(written), written
