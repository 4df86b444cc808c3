"""A community manager's first run: a bakery's repository with Instagram, Facebook, LinkedIn,
Mastodon and the site, and the places where cmflow used to let them down (silent results,
misleading messages). Each test reproduces what the user saw, through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cmflow.cli import cli
from tests.conftest import JPEG, run_cli, run_main

BAKERY_YAML = """\
timezone: Europe/Paris
language: fr
brand: Boulangerie Martin
editorial_line:
  pillars: [produit, coulisses]
  require_pillar: true
  forbidden_terms: ["meilleur de France"]
channels:
  instagram:
    platform: instagram
    user_id: "178414"
    token_env: CMFLOW_INSTAGRAM_TOKEN
    media_base_url: https://boulangerie.example/media
  facebook:
    platform: facebook
    page_id: "1234"
    token_env: CMFLOW_FACEBOOK_TOKEN
  linkedin:
    platform: linkedin
    author: urn:li:organization:1
    token_env: CMFLOW_LINKEDIN_TOKEN
    rules:
      posting_windows: ["Tue-Thu 08:00-10:00"]
  mastodon:
    platform: mastodon
    base_url: https://mastodon.example
    token_env: CMFLOW_MASTODON_TOKEN
  site:
    platform: feed
    output_dir: public
    site_url: https://boulangerie.example/actus
"""

CROISSANT = """\
---
date: 2026-11-24 09:00
channels: [instagram, facebook, linkedin, mastodon, site]
title: Le croissant du mardi
pillar: produit
media:
  - path: media/pain.jpg
    alt: Un croissant doré sur le comptoir
---
Notre croissant au beurre sort du four à 7 h. Venez le goûter ! #boulangerie
"""

TYPO = """\
---
date: 2026-11-24 10:00
chanels: [site, mastodon]
title: Le pain de seigle
pillar: produit
---
Le pain de seigle revient cette semaine.
"""

FORBIDDEN = """\
---
date: 2026-11-24 11:00
channels: [site, mastodon]
title: La baguette
pillar: produit
---
Pas le meilleur de France, mais presque.
"""

WINDOW = """\
---
date: 2026-11-23 20:00
channels: [linkedin, site, instagram]
title: Dans le fournil
pillar: coulisses
---
Une nuit dans le fournil avec l'équipe.
"""

LATER = """\
---
date: 2026-11-25 08:30
channels: [site, mastodon]
title: Le mercredi des enfants
pillar: coulisses
---
Atelier pâtisserie pour les enfants mercredi après-midi. Inscriptions en boutique.
"""


@pytest.fixture
def bakery(make_repo: Callable[..., Path]) -> Path:
    return make_repo(
        {
            "01-croissant.md": CROISSANT,
            "02-typo.md": TYPO,
            "03-forbidden.md": FORBIDDEN,
            "04-window.md": WINDOW,
            "05-later.md": LATER,
        },
        config=BAKERY_YAML,
        media={"media/pain.jpg": JPEG},
    )


# -- silent or misleading results ---------------------------------------------------------------


def test_plan_lists_the_post_it_could_not_read_with_its_finding(bakery: Path) -> None:
    result = run_cli(["plan", "--all", "--at", "2026-11-26 08:00"], bakery)
    head = next(ln for ln in result.stdout.splitlines() if "02-typo.md" in ln)
    assert "unreadable" in head
    finding = next(ln for ln in result.stdout.splitlines() if "content/02-typo.md:3:1:" in ln)
    assert "unknown key 'chanels'" in finding and "did you mean 'channels'" in finding
    assert "1 unreadable" in result.stdout

    data = json.loads(run_cli(["plan", "--format", "json"], bakery).stdout)
    (bad,) = data["unreadable"]
    assert bad["path"] == "content/02-typo.md"
    assert any(f["line"] == 3 and "chanels" in f["message"] for f in bad["findings"])


def test_dry_run_on_one_channel_names_the_unreadable_post(bakery: Path) -> None:
    # Before anything is due on the site, the only thing to say is that a post is unreadable.
    args = ["publish", "--dry-run", "--channel", "site", "--at", "2026-11-24 08:00"]
    result = run_cli(args, bakery)
    assert result.exit_code == 1
    assert "no post goes to these channels" not in result.stdout
    assert "content/02-typo.md" in result.stdout and "chanels" in result.stdout
    data = json.loads(run_cli([*args, "--format", "json"], bakery).stdout)
    assert [u["path"] for u in data["unreadable"]] == ["content/02-typo.md"]


def test_plan_job_summary_lists_unreadable_posts(bakery: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    result = run_cli(["plan", "--format", "github", "--at", "2026-11-26 08:00"], bakery, env)
    assert result.exit_code == 0, result.output
    assert "::error file=content/02-typo.md,line=3" in result.stdout
    text = summary.read_text(encoding="utf-8")
    assert "02-typo.md" in text and "chanels" in text


@pytest.mark.parametrize("command", [["validate"], ["plan"], ["publish"], ["publish", "--dry-run"]])
def test_a_missing_content_folder_fails_every_command(
    make_repo: Callable[..., Path], command: list[str]
) -> None:
    root = make_repo(
        {}, config=BAKERY_YAML.replace("language: fr\n", "language: fr\ncontent_dir: contnet\n")
    )
    result = run_main(command, root)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "'contnet' does not exist" in result.stderr and "did you mean 'content'" in result.stderr
    assert "nothing to do" not in result.stdout.lower()


def test_publish_at_a_future_time_is_refused_without_force(bakery: Path) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    (bakery / "content" / "06-demain.md").write_text(
        LATER.replace("2026-11-25 08:30", f"{tomorrow:%Y-%m-%dT%H:%M:00Z}").replace(
            "[site, mastodon]", "[site]"
        ),
        encoding="utf-8",
    )
    at = f"{tomorrow + timedelta(hours=1):%Y-%m-%dT%H:%M:00Z}"
    result = run_main(["publish", "--at", at], bakery)
    assert result.returncode == 2
    assert "is in the future" in result.stderr and "--force" in result.stderr
    assert not (bakery / "data").exists() and not (bakery / "public").exists()
    forced = run_main(["publish", "--at", at, "--force"], bakery)
    assert "is in the future" not in forced.stderr and "--force" in forced.stderr
    assert "06-demain" in (bakery / "public" / "feed.xml").read_text(encoding="utf-8")


# -- help ---------------------------------------------------------------------------------------


def _commands() -> list[tuple[str, click.Command]]:
    """Every command, groups' subcommands included (`metrics collect`)."""
    out: list[tuple[str, click.Command]] = []
    stack: list[tuple[str, click.Command]] = list(cli.commands.items())
    while stack:
        name, cmd = stack.pop()
        out.append((name, cmd))
        if isinstance(cmd, click.Group):
            stack += [(f"{name} {n}", c) for n, c in cmd.commands.items()]
    return sorted(out, key=lambda nc: nc[0])


def test_help_lists_commands_without_cutting_their_description() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=200)
    commands = result.output.split("Commands:")[1]
    assert "..." not in commands and "…" not in commands
    for name, cmd in cli.commands.items():
        first = " ".join((cmd.help or "").split("\n\n")[0].split()).split(". ")[0]
        assert first.rstrip(".") in " ".join(result.output.split()), name


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"cmflow {name} {param.opts[0]}"
        for name, cmd in _commands()
        for param in cmd.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert not missing, f"options without help: {missing}"


@pytest.mark.parametrize("command", ["validate", "plan", "publish", "preview", "rules", "calendar"])
def test_github_format_is_accepted_wherever_format_is(command: str, bakery: Path) -> None:
    args = {
        "publish": ["publish", "--dry-run", "--at", "2026-11-26 08:00"],
        "preview": ["preview", "content/03-forbidden.md"],
        "plan": ["plan", "--at", "2026-11-26 08:00"],
        "calendar": ["calendar", "--from", "2026-11-23", "--weeks", "1"],
    }.get(command, [command])
    result = run_cli([*args, "--format", "github"], bakery)
    assert result.exit_code in (0, 1), result.output


# -- messages -----------------------------------------------------------------------------------


def test_a_misspelt_channels_key_hints_only_at_what_is_missing(bakery: Path) -> None:
    found = validate(bakery)
    (required,) = [f for f in found if f["rule"] == "frontmatter.required"]
    assert "date" not in required["message"]  # the post has one
    assert "channels:" in required["message"] and "'chanels'" in required["message"]


def validate(root: Path, *args: str) -> list[dict[str, object]]:
    result = run_cli(["validate", "--no-cache", "--format", "json", *args], root)
    findings: list[dict[str, object]] = json.loads(result.stdout)["findings"]
    return findings


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("twitter", None),
        ("fb", "facebook"),
        ("insta", "instagram"),
        ("ig", "instagram"),
        ("li", "linkedin"),
        ("toot", "mastodon"),
        ("Mastodon", "mastodon"),
        ("linkdin", "linkedin"),
    ],
)
def test_an_unknown_channel_names_the_closest_and_the_defined_ones(
    bakery: Path, written: str, meant: str | None
) -> None:
    (bakery / "content" / "05-later.md").write_text(
        LATER.replace("[site, mastodon]", f"[site, {written}]"), encoding="utf-8"
    )
    (f,) = [
        f
        for f in validate(bakery, "content/05-later.md")
        if f["rule"] == "frontmatter.unknown-channel"
    ]
    message = str(f["message"])
    assert "facebook, instagram, linkedin, mastodon, site" in message
    if meant:
        assert f"did you mean {meant!r}" in message
    else:
        assert "did you mean" not in message and "x platform" in message


def test_a_far_channel_name_gets_no_suggestion(bakery: Path) -> None:
    result = run_main(["plan", "--channel", "twiter"], bakery)
    assert result.returncode == 2
    assert "did you mean 'site'" not in result.stderr
    assert "facebook, instagram, linkedin, mastodon, site" in result.stderr


def test_yaml_errors_point_at_what_was_left_open(bakery: Path) -> None:
    (bakery / "content" / "05-later.md").write_text(
        LATER.replace("[site, mastodon]", "[site, mastodon"), encoding="utf-8"
    )
    (f,) = [f for f in validate(bakery, "content/05-later.md") if f["rule"] == "frontmatter.syntax"]
    assert (f["line"], f["column"]) == (3, 11)  # the `[` of `channels: [site, mastodon`
    assert "`[` is never closed" in str(f["message"])
    config = BAKERY_YAML.replace('["meilleur de France"]', '["meilleur de France"')
    (bakery / "channels.yaml").write_text(config, encoding="utf-8")
    result = run_main(["validate"], bakery)
    assert result.returncode == 2
    assert "channels.yaml:7:20:" in result.stderr and "never closed" in result.stderr


def test_times_are_in_the_brands_zone_and_labelled(bakery: Path) -> None:
    # 20:00 in Paris is 19:00 UTC: the window finding shows the time the post was written in.
    (f,) = [
        f for f in validate(bakery, "--at", "2026-11-20 08:00") if f["rule"] == "schedule.window"
    ]
    assert "Mon 23 Nov 20:00 CET" in str(f["message"])


def test_validate_and_plan_name_a_late_pair_the_same_way(bakery: Path) -> None:
    # Three days late, beyond the 48h catch-up, with no Mastodon credential set: the pair is
    # missed (credentials or not), in validate's words and in plan's.
    at = "2026-11-28 12:00"
    past = [
        f
        for f in validate(bakery, "content/05-later.md", "--at", at)
        if f["rule"] == "schedule.past" and f["channel"] == "mastodon, site"
    ]
    assert past and "missed: beyond the 2d catch-up window" in str(past[0]["message"])
    actions = json.loads(run_cli(["plan", "--format", "json", "--at", at], bakery).stdout)
    mastodon = next(
        a
        for a in actions["actions"]
        if a["path"].endswith("05-later.md") and a["channel"] == "mastodon"
    )
    assert mastodon["action"] == "missed"
    assert "beyond the 2d catch-up window" in mastodon["reason"]


def test_a_too_long_post_is_told_about_thread_auto_and_variants(bakery: Path) -> None:
    long = "Le pain. " * 80
    (bakery / "content" / "05-later.md").write_text(
        LATER.replace("Atelier pâtisserie", long + "Atelier"), encoding="utf-8"
    )
    (f,) = [f for f in validate(bakery, "content/05-later.md") if f["rule"] == "channel.max-length"]
    assert "thread: auto" in str(f["message"]) and "variants: {mastodon:" in str(f["message"])


def test_preview_shows_each_channels_findings_beside_its_text(bakery: Path) -> None:
    result = run_cli(["preview", "content/04-window.md"], bakery)
    assert result.exit_code == 1
    blocks = {b.split(" ", 1)[0]: b for b in result.stdout.split("── ")[1:]}
    assert "✓" not in blocks["linkedin"].splitlines()[0]
    assert "✗ 1 error" in blocks["linkedin"] and "schedule.window" in blocks["linkedin"]
    assert "media-required" in blocks["instagram"] and "schedule.window" not in blocks["instagram"]
    assert blocks["site"].splitlines()[0].endswith("✓") and "error" not in blocks["site"]
    data = json.loads(
        run_cli(["preview", "content/04-window.md", "--format", "json"], bakery).stdout
    )
    by = {c["channel"]: c for c in data["channels"]}
    assert by["linkedin"]["errors"] == 1 and by["site"]["errors"] == 0
    assert "schedule.window" in {f["rule"] for f in by["linkedin"]["findings"]}


# -- the site -----------------------------------------------------------------------------------


def test_the_site_is_titled_with_the_brand_shows_images_and_whole_sentences(bakery: Path) -> None:
    long = " ".join(f"Phrase numéro {i} sur notre fournée du matin." for i in range(7))
    (bakery / "content" / "01-croissant.md").write_text(
        CROISSANT.replace("Notre croissant au beurre", long + " Notre croissant au beurre"),
        encoding="utf-8",
    )
    result = run_main(["publish", "--channel", "site", "--at", "2026-11-24 09:30"], bakery)
    assert "published" in result.stdout, result.stdout + result.stderr
    index = (bakery / "public" / "index.html").read_text(encoding="utf-8")
    assert "<title>Boulangerie Martin</title>" in index and ">site<" not in index
    assert '<img src="media/pain.jpg" alt="Un croissant doré sur le comptoir"' in index
    feed = (bakery / "public" / "feed.xml").read_text(encoding="utf-8")
    assert "<name>Boulangerie Martin</name>" in feed
    summary = feed.split("<summary>")[1].split("</summary>")[0]
    assert summary.endswith("du matin.") and "…" not in summary


# -- holds --------------------------------------------------------------------------------------


def test_a_finding_about_one_channel_holds_that_pair_only(bakery: Path) -> None:
    # 04-window: LinkedIn is outside its posting window, Instagram has no image; the site
    # has nothing wrong and goes out. 03-forbidden: a forbidden term in the shared body
    # holds every channel of the post.
    at = "2026-11-24 22:00"
    data = json.loads(run_cli(["plan", "--format", "json", "--at", at], bakery).stdout)
    by = {(a["path"].split("/")[-1], a["channel"]): a for a in data["actions"]}
    assert by[("04-window.md", "site")]["action"] == "publish"
    for channel, rule in (("linkedin", "schedule.window"), ("instagram", "channel.media-required")):
        action = by[("04-window.md", channel)]
        assert action["action"] == "invalid" and rule in action["reason"]
        # Each is held by its own error: the other channels go unless held too.
        assert (
            "on this channel only: the others go unless held by their own errors"
            in (action["reason"])
        )
    for channel in ("site", "mastodon"):
        action = by[("03-forbidden.md", channel)]
        assert action["action"] == "invalid" and "about the post" in action["reason"]

    result = run_main(["publish", "--channel", "site", "--at", at], bakery)
    assert result.returncode == 1  # the held pairs still fail the run until fixed
    assert "Dans le fournil" in (bakery / "public" / "feed.xml").read_text(encoding="utf-8")


def test_a_hold_reason_names_only_the_channels_there_are(bakery: Path) -> None:
    # A post on LinkedIn alone, outside its window: no "other channels" to speak of. One on
    # LinkedIn and the site: the site goes, the reason says so.
    for name, channels in (("06-seul", "[linkedin]"), ("07-duo", "[linkedin, site]")):
        text = WINDOW.replace("[linkedin, site, instagram]", channels)
        (bakery / "content" / f"{name}.md").write_text(text, encoding="utf-8")
    at = "2026-11-24 22:00"
    data = json.loads(run_cli(["plan", "--format", "json", "--at", at], bakery).stdout)
    by = {(a["path"].split("/")[-1], a["channel"]): a for a in data["actions"]}
    alone = by[("06-seul.md", "linkedin")]
    assert alone["action"] == "invalid"
    assert "1 error (schedule.window) on this channel (run cmflow validate" in alone["reason"]
    duo = by[("07-duo.md", "linkedin")]
    assert duo["action"] == "invalid"
    assert "on this channel only: the others go (run cmflow validate" in duo["reason"]
    assert by[("07-duo.md", "site")]["action"] == "publish"
    fr = json.loads(
        run_cli(["plan", "--format", "json", "--at", at], bakery, {"CMFLOW_LANG": "fr"}).stdout
    )
    seul = next(a for a in fr["actions"] if a["path"].endswith("06-seul.md"))
    assert "sur ce canal (" in seul["reason"] and "autres" not in seul["reason"]


def test_a_dry_run_shows_and_fails_on_what_the_run_would_hold(bakery: Path) -> None:
    # LinkedIn: 04-window is due but outside the posting window (held by its error);
    # 01-croissant waits for its credential. The run lists the held pair and fails; the dry
    # run used to say "Nothing to do" and exit 0.
    (bakery / "content" / "02-typo.md").unlink()  # unreadable: fails every run on its own
    args = ["publish", "--channel", "linkedin", "--at", "2026-11-24 22:00"]
    dry = run_main([*args, "--dry-run"], bakery)
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert "Nothing to do" not in dry.stdout
    held = [line for line in dry.stdout.splitlines() if "04-window.md" in line]
    assert len(held) == 1 and "invalid" in held[0] and "schedule.window" in held[0]
    assert "1 invalid" in dry.stdout
    assert not (bakery / "data").exists()  # a dry run records nothing

    real = run_main(args, bakery)
    assert real.returncode == dry.returncode
    shown = [line for line in real.stdout.splitlines() if "04-window.md" in line]
    assert len(shown) == 1 and "invalid" in shown[0] and "schedule.window" in shown[0]

    # Once nothing is held, the dry run has nothing to report and succeeds.
    fixed = WINDOW.replace("2026-11-23 20:00", "2026-11-24 09:00")
    (bakery / "content" / "04-window.md").write_text(fixed, encoding="utf-8")
    again = run_main([*args, "--dry-run"], bakery)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "04-window.md" not in again.stdout and "Nothing to do" not in again.stdout
    assert "2 skip" in again.stdout and "2 skipped: " in again.stdout  # no credential
    assert "CMFLOW_LINKEDIN_TOKEN" in again.stdout and "--all" not in again.stdout


# -- correcting after publishing ----------------------------------------------------------------


def _record(root: Path, post_id: str, channel: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (root / "data" / "record" / post_id / f"{channel}.json").read_text(encoding="utf-8")
    )
    return data


def test_resolve_records_a_post_put_out_by_hand_where_no_run_could(bakery: Path) -> None:
    # Mastodon's token is not set: runs skip the pair, so there is no record of it. The
    # community manager posts it by hand, then says so; it used to answer "no record".
    at = "2026-11-24 09:30"
    plan = json.loads(run_cli(["plan", "--format", "json", "--at", at], bakery).stdout)
    (pair,) = [
        a for a in plan["actions"] if a["post"] == "01-croissant" and a["channel"] == "mastodon"
    ]
    assert pair["action"] == "skip" and "CMFLOW_MASTODON_TOKEN" in pair["reason"]
    url = "https://mastodon.example/@boulangerie/1101"
    done = run_main(["resolve", "01-croissant", "mastodon", "--published", url], bakery)
    assert done.returncode == 0, done.stderr
    entry = _record(bakery, "01-croissant", "mastodon")
    assert entry["state"] == "published" and entry["parts"][0]["url"] == url
    assert entry["content_hash"]  # what it would have sent: a later edit shows
    plan = json.loads(run_cli(["plan", "--format", "json", "--at", at], bakery).stdout)
    (pair,) = [
        a for a in plan["actions"] if a["post"] == "01-croissant" and a["channel"] == "mastodon"
    ]
    assert pair["action"] == "done" and url in pair["reason"]
    found = json.loads(run_cli(["validate", "--format", "json", "--at", at], bakery).stdout)
    assert not [
        f
        for f in found["findings"]
        if f["path"].endswith("01-croissant.md") and f["channel"] == "mastodon"
    ]
    post_file = bakery / "content" / "01-croissant.md"
    post_file.write_text(post_file.read_text("utf-8").replace("7 h", "6 h 30"), "utf-8")
    found = json.loads(run_cli(["validate", "--format", "json", "--at", at], bakery).stdout)
    edited = [f for f in found["findings"] if f["rule"] == "schedule.edited-after-publish"]
    assert [f["channel"] for f in edited] == ["mastodon"], edited
    # What cannot be settled says why, with the nearest names.
    typo = run_main(["resolve", "01-croisant", "site", "--published", url], bakery)
    assert typo.returncode == 2 and "did you mean '01-croissant'" in typo.stderr, typo.stderr
    channel = run_main(["resolve", "01-croissant", "sit", "--published", url], bakery)
    assert channel.returncode == 2 and "did you mean 'site'" in channel.stderr
    elsewhere = run_main(["resolve", "05-later", "instagram", "--published", url], bakery)
    assert elsewhere.returncode == 2 and "does not go to instagram" in elsewhere.stderr
    absent = run_main(["resolve", "05-later", "mastodon", "--absent"], bakery)
    assert absent.returncode == 2 and "nothing to settle" in absent.stderr
    assert not (bakery / "data/record/05-later").exists()


def test_resolve_undo_restores_the_state_before_a_mistaken_absent(bakery: Path) -> None:
    at = "2026-11-24 09:30"
    assert run_main(["publish", "--channel", "site", "--at", at], bakery).returncode in (0, 1)
    before = _record(bakery, "01-croissant", "site")
    assert before["state"] == "published"
    mistaken = run_main(["resolve", "01-croissant", "site", "--absent", "--force"], bakery)
    assert mistaken.returncode == 0, mistaken.stderr
    assert _record(bakery, "01-croissant", "site")["state"] == "deferred"
    undo = run_main(["resolve", "01-croissant", "site", "--undo"], bakery)
    assert undo.returncode == 0, undo.stderr
    assert "published again" in undo.stdout
    after = _record(bakery, "01-croissant", "site")
    assert (after["state"], after["parts"], after["published_at"]) == (
        before["state"],
        before["parts"],
        before["published_at"],
    )
    plan = json.loads(run_cli(["plan", "--format", "json", "--at", at], bakery).stdout)
    (site,) = [a for a in plan["actions"] if a["post"] == "01-croissant" and a["channel"] == "site"]
    assert site["action"] == "done"
    # Nothing left to undo: said plainly, exit 2.
    again = run_main(["resolve", "01-croissant", "site", "--undo"], bakery)
    assert again.returncode == 2 and "nothing to undo" in again.stderr
