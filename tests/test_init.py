"""`cmflow init`: a content repository that works as soon as it is pushed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from cmflow import scaffold
from tests.conftest import run_main

ROOT = Path(__file__).resolve().parent.parent


def _init(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_main(["init", str(target), *args], cwd=target.parent)


def test_init_scaffolds_a_repository_that_validates_and_publishes_its_first_post(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "boulangerie-emile"
    done = _init(repo, "--brand", 'Boulangerie "Émile"')
    assert done.returncode == 0, done.stderr
    files = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    assert {
        "channels.yaml",
        "README.md",
        ".gitignore",
        ".gitattributes",
        ".github/CODEOWNERS",
        ".github/workflows/validate.yml",
        ".github/workflows/publish.yml",
        ".github/workflows/metrics.yml",
        "media/exemple.png",
    } <= files
    posts = sorted(f for f in files if f.startswith("content/"))
    assert len(posts) == 3 and all(
        p.endswith(("-bienvenue.md", "-fil.md", "-image.md")) for p in posts
    )

    # The brand's name, quotes and accent included, is valid YAML where it lands.
    config = yaml.safe_load((repo / "channels.yaml").read_text("utf-8"))
    assert config["brand"] == 'Boulangerie "Émile"'

    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    done = run_main(["validate", "--format", "json"], cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["summary"]["errors"] == 0

    # The README's publish command, on the scaffold: the first example post goes to the site.
    done = run_main(["publish"], cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "published" in done.stdout
    index = (repo / "public" / "index.html").read_text("utf-8")
    assert "Bienvenue" in index
    # The thread and the image post are dated later: they wait.
    assert "Trois questions" not in index


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "marque"
    repo.mkdir()
    (repo / "README.md").write_text("notre README\n", encoding="utf-8")
    done = _init(repo)
    assert done.returncode == 2
    assert "README.md" in done.stderr and "--force" in done.stderr
    assert sorted(p.name for p in repo.iterdir()) == ["README.md"]
    assert (repo / "README.md").read_text("utf-8") == "notre README\n"

    done = _init(repo, "--force")
    assert done.returncode == 0, done.stderr
    assert "notre README" not in (repo / "README.md").read_text("utf-8")


def test_init_does_not_write_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "marque"
    repo.mkdir()
    (repo / ".github").symlink_to(outside, target_is_directory=True)
    done = _init(repo, "--force")
    assert done.returncode == 2
    assert "symbolic link" in done.stderr
    assert list(outside.iterdir()) == []


def test_every_credential_the_channels_name_is_mapped_from_a_secret(tmp_path: Path) -> None:
    files = scaffold.plan_files(scaffold.Options(brand="Marque"), datetime(2026, 12, 2, tzinfo=UTC))
    channels = files["channels.yaml"].decode()
    names = scaffold.secret_names(channels)
    assert "CMFLOW_MASTODON_TOKEN" in names and "CMFLOW_BLUESKY_APP_PASSWORD" in names
    workflow = yaml.safe_load(files[".github/workflows/publish.yml"])
    step = next(s for s in workflow["jobs"]["publish"]["steps"] if s.get("name") == "Publish")
    for name in names:
        if name == scaffold.GA4_TOKEN:  # metrics only, from Google's auth step
            assert name not in step["env"]
            continue
        assert step["env"][name] == f"${{{{ secrets.{name} }}}}"
    # Every platform the validator knows has a commented example.
    from cmflow import platforms

    for platform in platforms.names():
        assert f"platform: {platform}" in channels, platform


def test_scaffolded_workflows_are_safe_by_construction() -> None:
    files = scaffold.plan_files(scaffold.Options(brand="Marque"), datetime(2026, 12, 2, tzinfo=UTC))
    for rel in (
        ".github/workflows/validate.yml",
        ".github/workflows/publish.yml",
        ".github/workflows/metrics.yml",
    ):
        wf = yaml.safe_load(files[rel])
        on = wf.pop(True, wf.get("on"))
        assert "pull_request_target" not in on
        for job in wf["jobs"].values():
            for step in job["steps"]:
                # Expressions never expand inside a shell script (no script injection).
                assert "${{" not in str(step.get("run", "")), (rel, step)
                if "uses" in step and not step["uses"].startswith(
                    ("actions/", "google-github-actions/")
                ):
                    assert step["uses"] == scaffold.DEFAULT_ACTION
    validate = yaml.safe_load(files[".github/workflows/validate.yml"])
    assert validate["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "secrets." not in files[".github/workflows/validate.yml"].decode()
    publish = yaml.safe_load(files[".github/workflows/publish.yml"])
    assert publish["concurrency"] == {"group": "cmflow-publish", "cancel-in-progress": False}
    assert publish["permissions"] == {"contents": "write"}


def test_init_dates_the_examples_from_the_clock_in_the_brand_zone() -> None:
    # 23:30 UTC on 31 December is already 1 January in Paris.
    now = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    files = scaffold.plan_files(scaffold.Options(brand="Marque"), now)
    first = next(f for f in files if f.endswith("-bienvenue.md"))
    assert first == "content/2027/01/2027-01-01-bienvenue.md"
    assert "date: 2027-01-01 00:30" in files[first].decode()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")
def test_a_built_wheel_installed_outside_the_source_tree_scaffolds_a_valid_repository(
    tmp_path: Path,
) -> None:
    # Build from a copy: the wheel must carry the templates itself.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "cmflow", src / "cmflow", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(wheels.glob("cmflow_cli-*.whl"))

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # cmflow from the wheel; its dependencies from the test environment (no network, and no
    # .pth of that environment is processed, so its editable cmflow stays out of sight).
    import click

    deps = Path(click.__file__).resolve().parent.parent
    (site / "zz_test_deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.check_output(
        [str(py), "-c", "import cmflow; print(cmflow.__file__)"], cwd=work, env=env, text=True
    )
    assert Path(where.strip()).is_relative_to(site)
    done = subprocess.run(
        [str(py), "-m", "cmflow", "init", "marque"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [str(py), "-m", "cmflow", "validate"],
        cwd=work / "marque",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 errors" in done.stdout
    # The agency layout and the French messages come from the wheel too.
    done = subprocess.run(
        [
            str(py),
            "-m",
            "cmflow",
            "init",
            "agence",
            "--brand",
            "Boulangerie",
            "--brand",
            "Fleuriste",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (work / "agence" / ".github" / "workflows" / "publish.yml").is_file()
    done = subprocess.run(
        [str(py), "-m", "cmflow", "validate", "--root", str(work / "nulle-part")],
        cwd=work,
        env={**env, "CMFLOW_LANG": "fr"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "indiquez la racine du dépôt" in done.stderr, done.stderr


def test_brands_lists_an_agency_and_fails_where_there_is_none(tmp_path: Path) -> None:
    done = run_main(["brands"], cwd=tmp_path)
    assert done.returncode == 2 and "brands/<name>/channels.yaml" in done.stderr
    agency = tmp_path / "agence"
    made = _init(agency, "--brand", "Café Ümit", "--brand", "Fleuriste", "--brand", "L'Œuf & Cie")
    assert made.returncode == 0, made.stderr
    done = run_main(["brands", "--format", "json"], cwd=agency)
    assert json.loads(done.stdout) == [
        {"name": "cafe-umit", "root": "brands/cafe-umit", "secrets_prefix": "CAFE_UMIT"},
        {"name": "fleuriste", "root": "brands/fleuriste", "secrets_prefix": "FLEURISTE"},
        # Œ has no accent to drop: spelt OE (it was left out: `l-uf-cie`).
        {"name": "l-oeuf-cie", "root": "brands/l-oeuf-cie", "secrets_prefix": "L_OEUF_CIE"},
    ]
    # Adding a brand to the agency writes that brand's files only.
    done = _init(agency / "brands" / "troisieme", "--brand", "Troisième")
    assert done.returncode == 0, done.stderr
    assert not (agency / "brands" / "troisieme" / ".github").exists()
    assert (agency / "brands" / "troisieme" / "channels.yaml").is_file()
    assert len(json.loads(run_main(["brands", "--format", "json"], cwd=agency).stdout)) == 4
