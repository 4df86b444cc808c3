"""channels.yaml: every problem reported at once with `channels.yaml:line:col`, and a valid
file resolved into each channel's effective rules (platform default < editorial_line <
channel rules)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from cmflow import config as config_mod
from cmflow.rules import BY_ID
from tests.conftest import BEFORE_ALL, CHANNELS_YAML, post, run_cli, run_main

MakeRepo = Callable[..., Path]


def problems(make_repo: MakeRepo, config: str | bytes) -> list[str]:
    """The problems `cmflow validate` reports for this channels.yaml (exit 2, on stderr)."""
    root = make_repo({}, config=config)
    result = run_cli(["validate"], root)
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: ")
    lines[0] = lines[0].removeprefix("Error: ")
    if lines[0].startswith("channels.yaml has "):
        assert lines[0] == f"channels.yaml has {len(lines) - 1} problems:"
        lines = lines[1:]
    return lines


def replaced(old: str, new: str) -> str:
    assert CHANNELS_YAML.count(old) == 1, old
    return CHANNELS_YAML.replace(old, new)


# Every kind of problem in one file: they are all reported in one run, in file order.
BROKEN = """\
timezone: Europe/Pariss
languge: fr
levels:
  editorial.mixx: warning
editorial_line:
  pillars: [education, product]
  mix: {max_share: {product: 1.5, produit: 0.2}, window: 2 semaines}
channels:
  mastodon:
    platform: mastodon
    base_url: https://mastodon.example
    token_env: CMFLOW_MASTODON_TOKEN
    rules:
      max_lenght: 400
  bsky:
    platform: blusky
  linkedin:
    platform: linkedin
    token_env: AQXdKkLm3_abcdefghijklmnop123
    rules:
      posting_windows: ["Tue-Thu 08:00-10:00", "Tue 10:00-08:00"]
      min_gap: 20 heures
"""


def test_every_problem_is_reported_at_once_with_its_position(make_repo: MakeRepo) -> None:
    assert problems(make_repo, BROKEN) == [
        "channels.yaml:1:1: unknown timezone 'Europe/Pariss': use an IANA name such as "
        "Europe/Paris",
        "channels.yaml:2:1: unknown key 'languge' (did you mean 'language'?)",
        "channels.yaml:4:3: unknown rule 'editorial.mixx' (did you mean 'editorial.mix'?): "
        "`cmflow rules` lists them",
        # Line 7: `  mix: {max_share: {product: 1.5, produit: 0.2}, window: 2 semaines}`
        # "product" is at column 21, "produit" at 35, "window" at 50.
        "channels.yaml:7:21: a share is between 0 and 1 (0.3 = 30%), got 1.5",
        "channels.yaml:7:35: mix names pillar 'produit', not in pillars (did you mean 'product'?)",
        "channels.yaml:7:50: expected a duration like 48h, 90m or 2d, got '2 semaines'",
        "channels.yaml:14:7: unknown key 'max_lenght' in channels.mastodon.rules "
        "(did you mean 'max_length'?)",
        "channels.yaml:16:5: unknown platform 'blusky' (did you mean 'bluesky'?); known: bluesky, "
        "devto, discord, facebook, feed, instagram, linkedin, mastodon, slack, telegram, "
        "threads, x",
        "channels.yaml:17:3: channel 'linkedin' (LinkedIn) needs `author`",
        "channels.yaml:19:5: token_env names an environment variable (like "
        "CMFLOW_LINKEDIN_TOKEN), not the secret itself: store the value as a repository secret under that name, and since it is now in git history, revoke it and create a new one",
        # Line 21: the second window's opening quote is at column 48.
        "channels.yaml:21:48: posting window 'Tue 10:00-08:00': write the hours as start-end, "
        "e.g. 08:00-10:00",
        "channels.yaml:22:7: expected a duration like 48h, 90m or 2d, got '20 heures'",
    ]


def test_the_real_entry_point_exits_2_and_prints_every_problem(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": post("date: 2026-11-24 09:30\nchannels: [mastodon]")}, config=BROKEN)
    proc = run_main(["validate"], root)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("Error: channels.yaml has 12 problems:\nchannels.yaml:1:1: ")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "language: fr",
            "langage: fr",
            "channels.yaml:2:1: unknown key 'langage' (did you mean 'language'?)",
        ),
        (
            "      min_gap: 20h",
            "      min_gap: 20h\n      max_par_day: 2",
            "channels.yaml:29:7: unknown key 'max_par_day' in channels.linkedin.rules "
            "(did you mean 'max_per_day'?)",
        ),
        (
            "    token_env: CMFLOW_X_TOKEN",
            "    token_env: CMFLOW_X_TOKEN\n    rules: {max_lenght: 200}",
            # `    rules: {max_lenght: 200}` is line 32, the key at column 13.
            "channels.yaml:32:13: unknown key 'max_lenght' in channels.x.rules "
            "(did you mean 'max_length'?)",
        ),
        (
            "    platform: x",
            "    platform: mastodn",
            "channels.yaml:30:5: unknown platform 'mastodn' (did you mean 'mastodon'?); known: ",
        ),
        (
            "    handle: marque.bsky.social\n",
            "",
            "channels.yaml:16:3: channel 'bluesky' (Bluesky) needs `handle`",
        ),
        (
            '    chat_id: "@marque"\n',
            "",
            "channels.yaml:37:3: channel 'telegram' (Telegram) needs `chat_id`",
        ),
        (
            "    token_env: CMFLOW_MASTODON_TOKEN",
            "    token_env: glpat-abcdefghijklmnop",
            "channels.yaml:15:5: token_env names an environment variable (like "
            "CMFLOW_MASTODON_TOKEN), not the secret itself: store the value as a repository secret under that name, and since it is now in git history, revoke it and create a new one",
        ),
        (
            "    password_env: CMFLOW_BLUESKY_APP_PASSWORD",
            "    password_env: abcd-efgh-ijkl-mnop",
            "channels.yaml:19:5: password_env names an environment variable (like "
            "CMFLOW_BLUESKY_APP_PASSWORD), not the secret itself: store the value as a repository secret under that name, and since it is now in git history, revoke it and create a new one",
        ),
        (
            "timezone: Europe/Paris",
            "timezone: Paris",
            "channels.yaml:1:1: unknown timezone 'Paris': use an IANA name such as Europe/Paris",
        ),
        (
            '"Tue-Thu 17:00-18:30"',
            '"Tue-Thu 17h-18h30"',
            # The second window of line 26 starts at column 48.
            "channels.yaml:26:48: posting window 'Tue-Thu 17h-18h30': ",
        ),
        (
            '"Tue-Thu 08:00-10:00"',
            '"Tue-Thx 08:00-10:00"',
            "channels.yaml:26:25: posting window 'Tue-Thx 08:00-10:00': unknown day 'Thx'",
        ),
        (
            "min_gap: 20h",
            "min_gap: vingt heures",
            "channels.yaml:28:7: expected a duration like 48h, 90m or 2d, got 'vingt heures'",
        ),
        (
            "window: 14d",
            "window: 2 weeks",
            # Line 9: `  mix: {max_share: {product: 0.3}, window: 14d}`; "product" is at
            # column 21, "window" at 36.
            "channels.yaml:9:36: expected a duration like 48h, 90m or 2d, got '2 weeks'",
        ),
        (
            "{product: 0.3}",
            "{product: 30}",
            "channels.yaml:9:21: a share is between 0 and 1 (0.3 = 30%), got 30",
        ),
        (
            "{product: 0.3}",
            "{produit: 0.3}",
            "channels.yaml:9:21: mix names pillar 'produit', not in pillars (did you mean 'product'?)",
        ),
        (
            "max_hashtags: 5",
            "max_hashtags: cinq",
            "channels.yaml:7:3: editorial_line.max_hashtags must be a whole number, got str 'cinq'",
        ),
        (
            "    base_url: https://mastodon.example",
            "    base_url: mastodon.example",
            "channels.yaml:14:5: base_url must start with https:// (got 'mastodon.example')",
        ),
        (
            "    handle: marque.bsky.social",
            "    handle: marque.bsky.social\n    token_env: CMFLOW_BLUESKY_TOKEN",
            "channels.yaml:19:5: 'token_env' does not apply to Bluesky channels (it takes: "
            "base_url, handle, language, password_env)",
        ),
    ],
)
def test_one_problem_with_its_position(
    make_repo: MakeRepo, old: str, new: str, expected: str
) -> None:
    found = problems(make_repo, replaced(old, new))
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        (
            "{editorial.mixx: warning}",
            "channels.yaml:3:10: unknown rule 'editorial.mixx' (did you mean 'editorial.mix'?): "
            "`cmflow rules` lists them",
        ),
        (
            "{schedule.past: errror}",
            "channels.yaml:3:10: levels.schedule.past is 'errror': use one of error, warning, off "
            "(did you mean 'error'?)",
        ),
    ],
)
def test_levels_problems(make_repo: MakeRepo, levels: str, expected: str) -> None:
    # `levels: {...}` is line 3; its first key starts at column 10.
    config = CHANNELS_YAML.replace("language: fr", f"language: fr\nlevels: {levels}")
    assert problems(make_repo, config) == [expected]


def test_yaml_syntax_error_gives_its_position(make_repo: MakeRepo) -> None:
    # The flow list opened on line 4 is never closed; the parser notices on line 5.
    config = "timezone: Europe/Paris\nchannels:\n  site:\n    rules: {pillars: [a, b}\n"
    found = problems(make_repo, config)
    assert len(found) == 1
    assert found[0].startswith("channels.yaml:4:")
    assert "invalid YAML" in found[0]


def test_yaml_syntax_error_on_a_tab(make_repo: MakeRepo) -> None:
    config = replaced("  x:\n", "  x:\n\t")
    [found] = problems(make_repo, config)
    assert found.startswith("channels.yaml:30:1: invalid YAML: found character")


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing yet\n"])
def test_empty_file(make_repo: MakeRepo, text: str) -> None:
    assert problems(make_repo, text) == [
        "channels.yaml:1:1: define at least one channel under `channels:`"
    ]


def test_not_a_mapping(make_repo: MakeRepo) -> None:
    assert problems(make_repo, "- mastodon\n- bluesky\n") == [
        "channels.yaml:1:1: expected a mapping, got a list"
    ]


def test_non_utf8_file_is_refused(make_repo: MakeRepo) -> None:
    # "café" written in Latin-1 on line 2: the byte 0xe9 is the 28th of the file.
    config = "timezone: Europe/Paris\n# café\n".encode("latin-1") + CHANNELS_YAML.encode()
    [found] = problems(make_repo, config)
    assert "not UTF-8" in found and "save it as UTF-8" in found


def test_non_utf8_file_error_names_line_and_column(make_repo: MakeRepo) -> None:
    config = "timezone: Europe/Paris\n# café\n".encode("latin-1") + CHANNELS_YAML.encode()
    [found] = problems(make_repo, config)
    assert found.startswith("channels.yaml:2:6: ")


def test_utf8_bom_is_accepted(make_repo: MakeRepo) -> None:
    root = make_repo({}, config=b"\xef\xbb\xbf" + CHANNELS_YAML.encode())
    result = run_cli(["validate"], root)
    assert result.exit_code == 0
    assert result.stdout == "ok: 0 errors, 0 warnings in 0 files\n"


def test_a_channel_defined_twice_is_an_error(make_repo: MakeRepo) -> None:
    config = CHANNELS_YAML + "  mastodon:\n    platform: x\n    token_env: CMFLOW_X2_TOKEN\n"
    found = problems(make_repo, config)
    assert any(p.startswith("channels.yaml:50:3: ") and "mastodon" in p for p in found)


def test_root_without_channels_yaml_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(["validate", "--root", str(tmp_path)], tmp_path)
    assert result.exit_code == 2
    assert "has no channels.yaml: pass the repository root" in result.stderr


# --- A valid file: effective rules -------------------------------------------------------------

EFFECTIVE = replaced(
    "    handle: marque.bsky.social\n",
    "    handle: marque.bsky.social\n    rules:\n      max_hashtags: 2\n      max_length: 280\n",
)


@pytest.fixture
def cfg(make_repo: MakeRepo) -> config_mod.Config:
    return config_mod.load(make_repo({}, config=EFFECTIVE), set(BY_ID))


def test_platform_defaults_apply_when_nothing_overrides_them(cfg: config_mod.Config) -> None:
    assert cfg.channels["mastodon"].rules.max_length == 500
    assert cfg.channels["x"].rules.max_media == 4
    assert cfg.channels["telegram"].rules.max_caption_length == 1024
    assert cfg.channels["instagram"].rules.require_media is True
    assert cfg.channels["instagram"].rules.media_types == ("image/jpeg", "video/mp4")


def test_editorial_line_overrides_platform_defaults(cfg: config_mod.Config) -> None:
    # Instagram's own default is 30 hashtags; the brand's line says 5 everywhere.
    assert cfg.channels["instagram"].rules.max_hashtags == 5
    assert cfg.channels["mastodon"].rules.forbidden_terms == ("gratuit à vie", "cliquez ici")
    assert cfg.channels["mastodon"].rules.require_alt_text is True
    mix = cfg.channels["x"].rules.mix
    assert mix is not None and dict(mix.max_share) == {"product": 0.3}
    assert mix.window == timedelta(days=14)


def test_channel_rules_override_the_editorial_line(cfg: config_mod.Config) -> None:
    bluesky = cfg.channels["bluesky"].rules
    assert (bluesky.max_hashtags, bluesky.max_length) == (2, 280)
    linkedin = cfg.channels["linkedin"].rules
    assert linkedin.required_hashtags == ("#Marque",)
    assert linkedin.max_per_day == 1
    assert linkedin.min_gap == timedelta(hours=20)
    assert [w.text for w in linkedin.posting_windows] == [
        "Tue-Thu 08:00-10:00",
        "Tue-Thu 17:00-18:30",
    ]
    # Other channels keep the editorial line.
    assert cfg.channels["mastodon"].rules.required_hashtags == ()
    assert cfg.channels["mastodon"].rules.max_hashtags == 5


def test_config_level_values(cfg: config_mod.Config) -> None:
    assert str(cfg.timezone) == "Europe/Paris"
    assert cfg.language == "fr"
    assert cfg.catch_up == timedelta(hours=48)
    assert cfg.pillars == ("education", "community", "product")
    assert cfg.channels["bluesky"].base_url == "https://bsky.social"  # the platform's default
    assert cfg.channels["mastodon"].base_url == "https://mastodon.example"


def test_channel_rule_override_is_what_validate_applies(make_repo: MakeRepo) -> None:
    # 281 characters: fine on Mastodon (500), over the 280 Bluesky is given here.
    text = post(
        "date: 2026-11-24 09:30\nchannels: [mastodon, bluesky]\npillar: education", "a" * 281
    )
    root = make_repo({"a.md": text}, config=EFFECTIVE)
    result = run_cli(["validate", "--at", BEFORE_ALL], root)
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "content/a.md:6:1: error channel.max-length  bluesky: 281/280 grapheme clusters"
    )


def test_the_example_channels_yaml_loads() -> None:
    root = Path(__file__).resolve().parent.parent
    cfg = config_mod.load(root, set(BY_ID))
    assert set(cfg.channels) == {
        "site",
        "mastodon",
        "bluesky",
        "linkedin",
        "instagram",
        "telegram",
        "discord",
        "x",
    }
    assert cfg.channels["bluesky"].rules.max_hashtags == 3
    assert cfg.channels["site"].rules.catch_up == timedelta(days=365)
