"""Helpers for end-to-end publishing tests: a content repository on disk, a real git remote,
the real `cmflow` entry point in a subprocess, loopback fakes, and the oracles.

A `Site` is one content repository (a folder with channels.yaml, content/ and media/) plus
the environment a publish job would get (credentials by variable name). Every command run
through it is kept, so that a test can grep everything cmflow printed for secrets at the end.

Times: the record's claim lease (30 min) is measured from the real clock at claim time, so
post dates and `--at` are relative to the real now (`NOW`), never fixed calendar dates.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import yaml

from tests.fakes import FakeDiscord, FakeMastodon, FakeServer, FakeTelegram

if TYPE_CHECKING:
    from cmflow.publisher import RunReport

# Secrets: distinctive, so that a grep finds them wherever they leak. The Telegram token has
# a colon, so its URL-encoded form differs from the raw one.
MASTODON_TOKEN = "mstdn-S3cr3t-token-7f1c9a2b"
TELEGRAM_TOKEN = "7654321:AAHs3cr3t-telegram-Tok_en9x"
DISCORD_ID = "1234567890123456789"
DISCORD_TOKEN = "dscrdS3cr3tWebhookToken_q1w2e3r4t5y6u7i8o9p0-ZXCVB"
TELEGRAM_CHAT = "@fakechannel"

MASTODON_ENV = "CMFLOW_MASTODON_TOKEN"
DISCORD_ENV = "CMFLOW_DISCORD_WEBHOOK"
TELEGRAM_ENV = "CMFLOW_TELEGRAM_TOKEN"
BLUESKY_ENV = "CMFLOW_BLUESKY_APP_PASSWORD"

# The real now, to the minute: post dates and `--at` are written relative to it.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
STATES = {"published", "failed", "unknown", "needs_human", "deferred", "missed"}


def iso(dt: datetime) -> str:
    """`2026-11-21T21:40:00Z`: an explicit UTC time, as posts and `--at` accept it."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def later(**delta: float) -> datetime:
    return NOW + timedelta(**delta)


def from_now(**delta: float) -> datetime:
    """The real clock plus `delta` (for `--at` past a claim lease, which runs on it)."""
    return datetime.now(UTC) + timedelta(**delta)


# -- posts and channels -------------------------------------------------------------------------


def post(
    channels: Sequence[str],
    body: str,
    *,
    date: datetime | None = None,
    **front: Any,
) -> str:
    """A post file: front-matter from keyword arguments (YAML), then the Markdown body."""
    meta: dict[str, Any] = {"date": iso(date or ago(hours=1)), "channels": list(channels)}
    meta.update(front)
    text = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=None)
    return f"---\n{text}---\n{body}\n"


def mastodon_channel(fake: FakeMastodon, **extra: Any) -> dict[str, Any]:
    return {"platform": "mastodon", "base_url": fake.url, "token_env": MASTODON_ENV, **extra}


def discord_channel(**extra: Any) -> dict[str, Any]:
    return {"platform": "discord", "webhook_env": DISCORD_ENV, **extra}


def telegram_channel(fake: FakeTelegram, **extra: Any) -> dict[str, Any]:
    return {
        "platform": "telegram",
        "base_url": fake.url,
        "chat_id": TELEGRAM_CHAT,
        "token_env": TELEGRAM_ENV,
        **extra,
    }


def feed_channel(**extra: Any) -> dict[str, Any]:
    return {
        "platform": "feed",
        "output_dir": "public",
        "site_url": "https://example.fr/actus",
        **extra,
    }


def channels_yaml(channels: Mapping[str, Mapping[str, Any]], **top: Any) -> str:
    data: dict[str, Any] = {"timezone": "Europe/Paris", "language": "fr", **top}
    data["channels"] = {name: dict(ch) for name, ch in channels.items()}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# -- fakes --------------------------------------------------------------------------------------


@dataclass
class Fakes:
    """The loopback platforms of one test, with the environment that points cmflow at them."""

    mastodon: FakeMastodon
    discord: FakeDiscord
    telegram: FakeTelegram

    @property
    def webhook_url(self) -> str:
        return self.discord.webhook_url_for(DISCORD_ID)

    def env(self) -> dict[str, str]:
        return {
            MASTODON_ENV: MASTODON_TOKEN,
            DISCORD_ENV: self.webhook_url,
            TELEGRAM_ENV: TELEGRAM_TOKEN,
        }

    def secrets(self) -> list[str]:
        # A bot token's part after the colon is its secret half: it must not leak alone.
        return [
            MASTODON_TOKEN,
            TELEGRAM_TOKEN,
            TELEGRAM_TOKEN.partition(":")[2],
            self.webhook_url,
            DISCORD_TOKEN,
        ]

    def all(self) -> list[FakeServer]:
        return [self.mastodon, self.discord, self.telegram]

    def channels(self, *names: str) -> dict[str, dict[str, Any]]:
        """Channel definitions named after their platform (`site` is the feed)."""
        known = {
            "site": feed_channel(),
            "mastodon": mastodon_channel(self.mastodon),
            "discord": discord_channel(),
            "telegram": telegram_channel(self.telegram),
        }
        return {n: known[n] for n in names}


def start_fakes() -> Fakes:
    mastodon = FakeMastodon(token=MASTODON_TOKEN).start()
    discord = FakeDiscord().start()
    discord.add_webhook(DISCORD_ID, DISCORD_TOKEN)
    telegram = FakeTelegram(token=TELEGRAM_TOKEN).start()
    return Fakes(mastodon, discord, telegram)


def own_text(entity: Mapping[str, Any]) -> str:
    """The text a created post shows itself (not the message it replies to): Mastodon and
    Discord `content`, Telegram `text` / `caption` (an album: every caption)."""
    if isinstance(entity.get("messages"), list):
        return "\n".join(own_text(m) for m in entity["messages"])
    for key in ("content", "text", "caption"):
        value = entity.get(key)
        if isinstance(value, str):
            return value
    return ""


def created(fake: FakeServer, marker: str) -> int:
    """How many posts the fake created whose own text holds `marker` (the oracle)."""
    return sum(1 for p in fake.posts if marker in own_text(p))


# -- git ----------------------------------------------------------------------------------------


def git(cwd: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{done.stdout}{done.stderr}")
    return done.stdout


def init_remote(path: Path) -> Path:
    """A bare repository on branch main."""
    path.mkdir(parents=True)
    git(path, "init", "--bare", "--quiet", "--initial-branch=main")
    return path


def clone(remote: Path, dest: Path) -> Path:
    git(remote.parent, "clone", "--quiet", str(remote), str(dest))
    if not git(remote, "rev-parse", "--verify", "--quiet", "main", check=False).strip():
        git(dest, "symbolic-ref", "HEAD", "refs/heads/main")  # an empty remote
    return dest


def commit_all(root: Path, message: str, push: bool = True) -> None:
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", message)
    if push:
        git(root, "push", "--quiet", "origin", "HEAD:refs/heads/main")


def remote_history(remote: Path) -> str:
    """`git log -p --all` of the remote: every commit message and every file ever pushed."""
    return git(remote, "log", "-p", "--all", "--format=%H%n%B")


def remote_record(remote: Path, post_id: str, channel: str) -> dict[str, Any] | None:
    done = subprocess.run(
        ["git", "show", f"main:data/record/{post_id}/{channel}.json"],
        cwd=remote,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def remote_record_files(remote: Path) -> list[str]:
    out = git(remote, "ls-tree", "-r", "--name-only", "main", "--", "data/record")
    return [line for line in out.splitlines() if line]


# -- the content repository ---------------------------------------------------------------------


@dataclass
class Run:
    """One finished `cmflow` command."""

    args: list[str]
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"cmflow {' '.join(self.args)} -> {self.code}\n{self.stdout}\n{self.stderr}"


@dataclass
class Site:
    """A content repository and the environment of the job that publishes it."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)

    # -- files --

    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def write_post(self, rel: str, text: str) -> Path:
        return self.write(f"content/{rel}", text)

    def write_config(self, channels: Mapping[str, Mapping[str, Any]], **top: Any) -> None:
        self.write("channels.yaml", channels_yaml(channels, **top))

    # -- commands --

    def _cmd(
        self, args: Sequence[str], at: datetime | str | None
    ) -> tuple[list[str], dict[str, str]]:
        argv = [str(a) for a in args]
        if at is not None:
            argv += ["--at", at if isinstance(at, str) else iso(at)]
            # Tests move time forward on purpose (past a claim lease, a rate limit): a
            # publish as of the future needs --force.
            future = isinstance(at, datetime) and at - datetime.now(UTC) > timedelta(minutes=4)
            if argv[:1] == ["publish"] and "--dry-run" not in argv and future:
                argv.append("--force")
        env = {**os.environ, **self.env}
        # The subprocess must not read the developer's secrets nor publish for real; it
        # speaks the tests' language (CMFLOW_LANG, see conftest.py), not the brand's.
        for name in list(env):
            if name.startswith("CMFLOW_") and name not in self.env and name != "CMFLOW_LANG":
                del env[name]
        return argv, env

    def run(self, *args: str, at: datetime | str | None = None, timeout: float = 60) -> Run:
        """`cmflow ARGS [--at AT]` in a subprocess from the repository root."""
        argv, env = self._cmd(args, at)
        done = subprocess.run(
            [sys.executable, "-m", "cmflow", *argv],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
        result = Run(argv, done.returncode, done.stdout, done.stderr)
        self.runs.append(result)
        return result

    def start(self, *args: str, at: datetime | str | None = None) -> Running:
        """Start `cmflow ARGS` without waiting (to race it or to kill it)."""
        argv, env = self._cmd(args, at)
        proc = subprocess.Popen(
            [sys.executable, "-m", "cmflow", *argv],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        return Running(self, argv, proc)

    def publish(self, *args: str, at: datetime | str | None = None) -> Run:
        return self.run("publish", *args, at=at if at is not None else NOW)

    def plan(self, *args: str, at: datetime | str | None = None) -> dict[str, Any]:
        """`cmflow plan --format json`: {(post, channel): action}."""
        result = self.run("plan", "--format", "json", *args, at=at if at is not None else NOW)
        assert result.code == 0, str(result)
        data: dict[str, Any] = result.json()
        return data

    def actions(self, *args: str, at: datetime | str | None = None) -> dict[tuple[str, str], str]:
        return {(a["post"], a["channel"]): a["action"] for a in self.plan(*args, at=at)["actions"]}

    # -- the record --

    def record(self, post_id: str, channel: str, publication: int = 1) -> dict[str, Any] | None:
        """A record entry; `publication` n >= 2: the post's evergreen re-post n."""
        name = channel if publication == 1 else f"{channel}@{publication}"
        path = self.root / "data" / "record" / post_id / f"{name}.json"
        if not path.is_file():
            return None
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        return data

    def records(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every record entry, each file checked to be valid JSON naming its own pair."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        base = self.root / "data" / "record"
        if not base.is_dir():
            return out
        for path in sorted(base.rglob("*")):
            if path.is_dir():
                continue
            assert path.suffix == ".json" and not path.name.startswith(".tmp-"), (
                f"stray file in the record: {path}"
            )
            data = json.loads(path.read_text("utf-8"))
            assert isinstance(data, dict), path
            n = data.get("publication", 1)
            name = data["channel"] if n == 1 else f"{data['channel']}@{n}"  # a re-post's
            assert path.stem == name and path.parent.name == data["post"], path
            out[(data["post"], name)] = data
        return out

    def state(self, post_id: str, channel: str) -> str | None:
        entry = self.record(post_id, channel)
        return None if entry is None else str(entry["state"])

    # -- oracles --

    def assert_no_secret(self, *extra_texts: str) -> None:
        """No secret, raw or encoded, in anything printed, recorded or written under root;
        and every record file is valid JSON (checked by `records`)."""
        self.records()
        texts = [r.output for r in self.runs] + list(extra_texts)
        for path in self.root.rglob("*"):
            if path.is_file() and ".git" not in path.parts:
                texts.append(path.read_bytes().decode("utf-8", "replace"))
        assert_no_secret(texts, self.secrets)


@dataclass
class Running:
    """A `cmflow` command started with `Site.start`."""

    site: Site
    args: list[str]
    proc: subprocess.Popen[str]

    def wait(self, timeout: float = 60) -> Run:
        out, err = self.proc.communicate(timeout=timeout)
        result = Run(self.args, self.proc.returncode, out, err)
        self.site.runs.append(result)
        return result

    def kill(self) -> Run:
        """SIGKILL: no cleanup handler of cmflow runs."""
        self.proc.kill()
        return self.wait()


def pushed_site(
    remote: Path,
    dest: Path,
    channels: Mapping[str, Mapping[str, Any]],
    posts: Mapping[str, str],
    **kwargs: Any,
) -> Site:
    """A clone of `remote` (empty) holding a new content repository, committed and pushed."""
    clone(remote, dest)
    s = site(dest, channels, posts, **kwargs)
    commit_all(dest, "Contenu de la marque")
    return s


def another_clone(s: Site, remote: Path, dest: Path) -> Site:
    """A second checkout of the same content, with the same job environment."""
    clone(remote, dest)
    return Site(dest, dict(s.env), list(s.secrets))


def site(
    root: Path,
    channels: Mapping[str, Mapping[str, Any]],
    posts: Mapping[str, str],
    *,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
    media: Mapping[str, bytes] | None = None,
    **top: Any,
) -> Site:
    """Write a content repository at `root`."""
    s = Site(root, dict(env or {}), list(secrets))
    root.mkdir(parents=True, exist_ok=True)
    s.write(".gitignore", ".cmflow-cache/\n")
    s.write_config(channels, **top)
    for rel, text in posts.items():
        s.write_post(rel, text)
    for rel, data in (media or {}).items():
        s.write(rel, data)
    return s


def publish_in_process(s: Site, at: datetime, **kwargs: Any) -> RunReport:
    """`cmflow.publisher.publish` in this process (to patch pauses or read the report)."""
    from cmflow import config as config_mod
    from cmflow.publisher import publish
    from cmflow.rules import BY_ID

    config = config_mod.load(s.root, set(BY_ID))
    return publish(config, at, env=s.env, **kwargs)


def secret_forms(secret: str) -> set[str]:
    """How a secret may show up: raw, URL-encoded (both ways), base64."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    forms.add(base64.b64encode(secret.encode()).decode())
    return {f for f in forms if len(f) >= 8}


def assert_no_secret(texts: Iterable[str], secrets: Iterable[str]) -> None:
    forms = {f: s for s in secrets for f in secret_forms(s)}
    for text in texts:
        for form, secret in forms.items():
            assert form not in text, (
                f"secret {secret[:6]}… leaked as {form[:12]}… in:\n{text[:2000]}"
            )


def assert_states(site: Site, pairs: Iterable[tuple[str, str]]) -> None:
    """Invariant: every due pair has a record entry in a known end state, never absent."""
    for post_id, channel in pairs:
        state = site.state(post_id, channel)
        assert state in STATES, f"{post_id}/{channel}: {state!r}"


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)
