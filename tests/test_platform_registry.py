"""The platform registry: every platform describes itself in its own module, validating stays
light, and a channel whose account is not connected yet is checked but not published."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cmflow import platforms
from cmflow.platforms.spec import Capability
from tests.publishing import Fakes, created, post, site


def test_every_registered_platform_has_its_spec_and_publishers_their_adapter() -> None:
    for name in platforms.names():
        spec = platforms.spec(name)
        assert spec is not None and spec.name == name
        target = platforms.PLATFORMS[name]
        # A module line means an adapter; "module:ATTRIBUTE" a spec waiting for one.
        assert platforms.can_publish(name) == (":" not in target), name
    assert platforms.spec("myspace") is None and not platforms.can_publish("myspace")
    # Capabilities are what the publisher asks, not names.
    assert platforms.spec("feed").can(Capability.WRITES_FILES)  # type: ignore[union-attr]
    assert not platforms.spec("discord").reconcilable  # type: ignore[union-attr]


VALIDATE_IMPORTS = """
import sys
from datetime import datetime, UTC
from pathlib import Path
from cmflow import config
from cmflow.validation import validate
cfg = config.load(Path(sys.argv[1]))
validate(cfg, now=datetime(2026, 1, 1, tzinfo=UTC))
heavy = ["requests", "urllib3", "markdown", "git"]
print([m for m in heavy if m in sys.modules])
"""


def test_validating_every_platform_imports_no_http_stack(tmp_path: Path) -> None:
    """Specs live in the platform modules, whose top level stays light: validating channels
    of every platform must not pull in `requests` (start-up time of every `cmflow validate`)."""
    channels = {
        name: {"platform": name} for name in platforms.names()
    }  # no connection keys at all: still validated
    s = site(tmp_path / "repo", channels, {"a.md": post(list(channels), "Bonjour")})
    done = subprocess.run(
        [sys.executable, "-c", VALIDATE_IMPORTS, str(s.root)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.strip().replace("'", '"')) == []


def test_channel_without_its_account_id_yet_is_validated_and_skipped_naming_the_key(
    tmp_path: Path, fakes: Fakes
) -> None:
    """A team writes and reviews posts before it has the account id: the channel is checked
    with its platform's limits; plan and publish skip it naming the key; the others go."""
    channels = fakes.channels("mastodon", "telegram")
    del channels["telegram"]["chat_id"]
    channels["linkedin"] = {"platform": "linkedin", "token_env": "CMFLOW_LINKEDIN_TOKEN"}
    s = site(
        tmp_path / "repo",
        channels,
        {
            "ok.md": post(["mastodon", "telegram"], "Bonjour ok-77"),
            # Over Telegram's 4,096: an error on that channel although it is not connected.
            "long.md": post(["telegram"], "long-77 " + "y" * 4200),
        },
        env=fakes.env(),
        secrets=fakes.secrets(),
    )
    check = s.run("validate", "--format", "json")
    assert check.code == 1, check
    findings = check.json()["findings"]
    assert [(f["path"], f["rule"], f["channel"]) for f in findings if f["level"] == "error"] == [
        ("content/long.md", "channel.max-length", "telegram")
    ]

    actions = {(a["post"], a["channel"]): a for a in s.plan()["actions"]}
    skipped = actions[("ok", "telegram")]
    assert skipped["action"] == "skip"
    assert "`chat_id` under channels.telegram in channels.yaml" in skipped["reason"]
    assert actions[("ok", "mastodon")]["action"] == "publish"

    s.write_post("long.md", post(["telegram"], "court long-77"))
    result = s.publish()
    assert result.code == 0, result
    assert "chat_id" in result.stdout
    assert created(fakes.mastodon, "ok-77") == 1
    assert fakes.telegram.posts == []
    assert s.record("ok", "telegram") is None
