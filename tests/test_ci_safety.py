"""What the CI job prints and writes when posts and credentials are not what they should
be: a credential that cannot be sent refuses its channel before any claim, and a file name
cannot inject a workflow command or Markdown into the job's log and summary. Real CLI in a
subprocess, real files, loopback fakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.publishing import (
    MASTODON_ENV,
    NOW,
    Fakes,
    assert_no_secret,
    created,
    post,
    site,
)


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("mstdn-Half-one-abc\nmstdn-Half-two-xyz", "line break at character 19"),
        ("mstdn-Half-one-abc\r\nmstdn-Half-two-xyz\n", "line break at character 19"),
        ("mstdn-Tab\tinside-token", "control character at character 10"),
        ("mstdn-Curly’quote-token", "U+2019 at character 12"),
        ("mstdn-Esc\x1bape-token", "control character at character 10"),
    ],
)
def test_a_credential_that_cannot_be_sent_refuses_its_channel_before_any_claim(
    tmp_path: Path, fakes: Fakes, value: str, what: str
) -> None:
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon", "telegram"),
        {"a.md": post(["mastodon", "telegram"], "Jeton cred-a21")},
        env={**fakes.env(), MASTODON_ENV: value},
        secrets=[*fakes.secrets(), value, *value.split()],
    )
    result = s.publish()
    # Nothing was sent there, nothing is left for a human to check, the others went on.
    assert fakes.mastodon.requests == []
    assert s.record("a", "mastodon") is None  # as with an unset variable: skipped
    assert s.state("a", "telegram") == "published"
    assert created(fakes.telegram, "cred-a21") == 1
    # The variable and what is wrong with it, never its value.
    assert MASTODON_ENV in result.stdout and what in result.stdout, result
    s.assert_no_secret()
    for piece in value.split():
        assert piece not in result.output
    plan = s.actions(at=NOW)
    assert plan[("a", "mastodon")] == "skip"


NASTY = "a\n::error file=x::injected%0A,b\r::warning::again ::add-mask::z.md"


def test_a_file_name_cannot_inject_workflow_commands_or_summary_markup(
    tmp_path: Path, fakes: Fakes
) -> None:
    summary = tmp_path / "summary.md"
    s = site(
        tmp_path / "repo",
        fakes.channels("mastodon"),
        {
            NASTY: post(["mastodon"], "Nom piégé inject-a31"),
            "<img src=x onerror=alert(1)> | faux | [lien](https:__evil) |.md": post(
                ["mastodon"], "Balise inject-b31"
            ),
        },
        env={**fakes.env(), "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
        secrets=fakes.secrets(),
    )
    assert (s.root / "content" / NASTY).is_file()
    runs = [
        s.run("validate", "--no-cache", at=NOW),
        s.run("validate", "--format", "text", "--no-cache", at=NOW),
        s.run("plan", "--all", at=NOW),
        s.publish(),
    ]
    for run in runs:
        for line in (run.stdout + "\n" + run.stderr).splitlines():
            if line.lstrip().startswith("::"):
                # Only cmflow's own commands, each on one line with its values escaped.
                assert line.startswith(("::add-mask::", "::error ", "::warning ")), (line, run)
                assert "::error file=x::" not in line and "::warning::again" not in line
    # The post itself went out (its name is odd, not wrong).
    published = created(fakes.mastodon, "inject-a31") + created(fakes.mastodon, "inject-b31")
    text = summary.read_text(encoding="utf-8")
    assert "<img" not in text and "&lt;img" in text
    assert "[lien](" not in text
    for row in (ln for ln in text.splitlines() if ln.startswith("| ")):
        cells = row.replace("\\|", "").count("|")
        assert cells == 6, row  # five columns: no cell adds one
    assert published == 2
    # (The record folder of the odd name is a sanitised one: not Site.records' layout.)
    # `::add-mask::` lines name the secrets on purpose: the runner hides them from then on.
    shown = [
        "\n".join(ln for ln in r.output.splitlines() if not ln.startswith("::add-mask::"))
        for r in s.runs
    ]
    assert_no_secret([*shown, text], s.secrets)
