"""Shared fixtures: an isolated environment, throw-away content repositories, CLI runners.

`make_repo` writes a small but realistic content repository (channels.yaml, posts from
strings, media files) under `tmp_path`; `run_cli` runs `cmflow` in-process with click's
CliRunner; `run_main` runs the real entry point in a subprocess, so that the exit-code
mapping of `cmflow.cli.main` is exercised too.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result

# Tests read cmflow's messages in English whatever the developer's locale, including the help
# text that is built when cmflow.cli is imported; tests/test_i18n.py checks the French.
os.environ["CMFLOW_LANG"] = "en"

from cmflow import i18n
from cmflow.cli import cli

if TYPE_CHECKING:
    from tests.fakes.smtp import SmtpServer
    from tests.publishing import Fakes

# The smallest valid files of each kind, by their magic bytes (cmflow sniffs the bytes).
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64

# A small but realistic channels.yaml. Line numbers matter to tests of config errors:
# keep it stable, or update them.
CHANNELS_YAML = """\
timezone: Europe/Paris
language: fr
editorial_line:
  pillars: [education, community, product]
  require_pillar: true
  forbidden_terms: ["gratuit à vie", "cliquez ici"]
  max_hashtags: 5
  require_alt_text: true
  mix: {max_share: {product: 0.3}, window: 14d}
  link_tracking: {domains: [example.fr], utm_source: "{channel}", utm_medium: social, utm_campaign: "{campaign}"}
channels:
  mastodon:
    platform: mastodon
    base_url: https://mastodon.example
    token_env: CMFLOW_MASTODON_TOKEN
  bluesky:
    platform: bluesky
    handle: marque.bsky.social
    password_env: CMFLOW_BLUESKY_APP_PASSWORD
  linkedin:
    platform: linkedin
    author: urn:li:organization:123
    token_env: CMFLOW_LINKEDIN_TOKEN
    rules:
      required_hashtags: ["#Marque"]
      posting_windows: ["Tue-Thu 08:00-10:00", "Tue-Thu 17:00-18:30"]
      max_per_day: 1
      min_gap: 20h
  x:
    platform: x
    token_env: CMFLOW_X_TOKEN
  instagram:
    platform: instagram
    user_id: "17841400000000000"
    token_env: CMFLOW_INSTAGRAM_TOKEN
    media_base_url: https://example.fr/media
  telegram:
    platform: telegram
    chat_id: "@marque"
    token_env: CMFLOW_TELEGRAM_TOKEN
  threads:
    platform: threads
    user_id: "1234567"
    token_env: CMFLOW_THREADS_TOKEN
    media_base_url: https://example.fr/media
  site:
    platform: feed
    output_dir: public
    site_url: https://example.fr/actus
    title: Actus de la marque
"""

# A moment before every date used in the tests, so schedule.past stays silent unless wanted.
BEFORE_ALL = "2026-01-01 00:00"


def post(front: str, body: str = "Un texte simple.") -> str:
    """A post file: `front` is the front-matter (dedented), `body` the Markdown after it.

    Line 1 is `---`, the front-matter starts on line 2, and the body starts on the line
    after the closing `---`."""
    front = textwrap.dedent(front).strip("\n")
    return f"---\n{front}\n---\n{body}"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No CMFLOW_* / GITHUB_* variable leaks in from the developer's shell or CI, and HOME
    (hence git's global config) is an empty folder: a test that needs one sets it itself."""
    for name in list(os.environ):
        if name.startswith(("CMFLOW_", "GITHUB_")) or name in ("GIT_DIR", "GIT_WORK_TREE", "CI"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.org")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.org")
    # English unless a test asks otherwise (the fixtures' brands write in French).
    monkeypatch.setenv("CMFLOW_LANG", "en")
    i18n.activate("en")


@pytest.fixture
def unset_language(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Neither CMFLOW_LANG nor a locale: the brand's `language` decides."""
    for name in ("CMFLOW_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    yield
    i18n.activate("en")  # what the next test expects, whatever this one left


def write_repo(
    root: Path,
    posts: Mapping[str, str | bytes] | None = None,
    *,
    config: str | bytes | None = CHANNELS_YAML,
    media: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a content repository at `root`: channels.yaml (None: none), posts by path
    relative to content/, and other files (media) by path relative to `root`."""
    root.mkdir(parents=True, exist_ok=True)
    if config is not None:
        data = config if isinstance(config, bytes) else config.encode("utf-8")
        (root / "channels.yaml").write_bytes(data)
    (root / "content").mkdir(exist_ok=True)
    for rel, text in (posts or {}).items():
        path = root / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    for rel, data in (media or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """`make_repo(posts, config=..., media=...)`: a repository in tmp_path/"repo"."""

    def make(
        posts: Mapping[str, str | bytes] | None = None,
        *,
        config: str | bytes | None = CHANNELS_YAML,
        media: Mapping[str, bytes] | None = None,
        name: str = "repo",
    ) -> Path:
        return write_repo(tmp_path / name, posts, config=config, media=media)

    return make


def run_cli(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> Result:
    """Run `cmflow ARGS` in-process from `cwd`; stdout and stderr stay separate."""
    runner = CliRunner()
    with contextlib.chdir(cwd):
        return runner.invoke(cli, args, env=dict(env or {}), catch_exceptions=False)


def run_main(
    args: list[str], cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real entry point (`python -m cmflow ARGS`) in a subprocess from `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "cmflow", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


@dataclass(frozen=True)
class Found:
    """One finding of `cmflow validate --format json`."""

    path: str
    line: int
    column: int
    level: str
    rule: str
    channel: str | None
    message: str


def same_with_and_without_cache(root: Path, at: str) -> list[dict[str, Any]]:
    """`cmflow validate --format json --at AT` three times, the real entry point: without
    the cache, then filling it, then answered from it. The three outputs are the same;
    the findings."""
    args = ["validate", "--format", "json", "--at", at]
    without = run_main([*args, "--no-cache"], root)
    cold, warm = run_main(args, root), run_main(args, root)
    assert cold.stdout == without.stdout == warm.stdout
    findings: list[dict[str, Any]] = json.loads(without.stdout)["findings"]
    return findings


def validate_json(
    root: Path, *args: str, at: str = BEFORE_ALL
) -> tuple[list[Found], dict[str, Any]]:
    """`cmflow validate --format json --at AT ARGS` in `root`: (findings, summary)."""
    result = run_cli(["validate", "--format", "json", "--at", at, "--no-cache", *args], root)
    assert result.exit_code in (0, 1), result.output + result.stderr
    data = json.loads(result.stdout)
    found = [Found(**f) for f in data["findings"]]
    # Exit code and summary agree with the findings.
    errors = sum(1 for f in found if f.level == "error")
    assert result.exit_code == (1 if errors else 0)
    assert data["summary"]["errors"] == errors
    return found, data["summary"]


def only(found: list[Found], rule: str) -> list[Found]:
    return [f for f in found if f.rule == rule]


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    """The loopback platforms of a publishing test (tests/publishing.py); fails the test if
    a fake itself went wrong."""
    from tests.publishing import start_fakes

    f = start_fakes()
    try:
        yield f
    finally:
        for server in f.all():
            server.stop()
    for server in f.all():
        assert not server.errors, server.errors  # a bug in the fake, not in cmflow


@pytest.fixture(scope="session")
def smtp_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    """A real SMTP server on loopback for the test session (tests/fakes/smtp.py): STARTTLS
    with a certificate made for the session, AUTH for `SMTP_USER`."""
    from tests.fakes.smtp import SMTP_PASSWORD, SMTP_USER, SmtpServer, make_certificate

    cert, key = make_certificate(tmp_path_factory.mktemp("smtp-cert"))
    server = SmtpServer(cert, key, users={SMTP_USER: SMTP_PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_session: SmtpServer) -> SmtpServer:
    """The session's SMTP server with an empty mailbox and no fault armed."""
    smtp_session.reset()
    return smtp_session
