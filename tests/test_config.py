"""channels.yaml: every problem reported at once with `channels.yaml:line:col`, and a valid
file resolved into each channel's effective rules (platform default < editorial_line <
channel rules)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from cmflow import config as config_mod
from cmflow import platforms
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
        "channels.yaml:1:1: unknown timezone 'Europe/Pariss': use a name from the time zone database such as "
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
        "channels.yaml:16:5: unknown platform 'blusky' (did you mean 'bluesky'?); known: "
        + ", ".join(platforms.names()),
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
    assert proc.stderr.startswith("Error: channels.yaml has 11 problems:\nchannels.yaml:1:1: ")


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
            "    author: urn:li:organization:123",
            "    author: https://www.linkedin.com/company/marque",
            "channels.yaml:22:5: author must look like urn:li:organization:<id> or "
            "urn:li:person:<id> (got 'https://www.linkedin.com/company/marque')",
        ),
        (
            '    chat_id: "@marque"',
            "    chat_id: [marque]",
            "channels.yaml:39:5: channels.telegram.chat_id must be a string or a whole number, "
            "got a list",
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
            "channels.yaml:1:1: unknown timezone 'Paris': use a name from the time zone database such as Europe/Paris",
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
    assert found.startswith(
        "channels.yaml:30:1: invalid YAML: a value cannot start with this character"
    )


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
    assert any(p.startswith("channels.yaml:51:3: ") and "mastodon" in p for p in found)


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
    # Instagram: the JPEG images cmflow publishes there (no video).
    assert cfg.channels["instagram"].rules.media_types == ("image/jpeg",)


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
        "content/a.md:6:1: error channel.max-length  bluesky: 281/280 characters (an emoji counts 1, a link as shown: cut to 27)"
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


# --- Hostile or mistyped values: a configuration error at their position, never a crash -------

OUT_OF_RANGE = "is out of range: write a duration between 0 and 3650d"
SYSTEM_ENV = (
    "is a variable the system or the CI runner sets, not this channel's credential: name a "
    "variable of its own, like {}, and set it from a repository secret"
)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # Durations: OverflowError, negative and absurd values used to crash or pass.
        (
            "language: fr",
            "language: fr\ncatch_up: 99999999999d",
            f"3:1: '99999999999d' {OUT_OF_RANGE}",
        ),
        ("language: fr", "language: fr\ncatch_up: -1", f"3:1: -1 {OUT_OF_RANGE}"),
        ("language: fr", "language: fr\ncatch_up: .inf", f"3:1: inf {OUT_OF_RANGE}"),
        ("language: fr", "language: fr\ncatch_up: 3651d", f"3:1: '3651d' {OUT_OF_RANGE}"),
        ("min_gap: 20h", "min_gap: 99999999999d", f"28:7: '99999999999d' {OUT_OF_RANGE}"),
        # Wrong types inside the file.
        (
            "max_share: {product: 0.3}",
            "max_share: [1]",
            "9:9: editorial_line.mix.max_share must be a mapping, got a list",
        ),
        (
            '      posting_windows: ["Tue-Thu 08:00-10:00", "Tue-Thu 17:00-18:30"]',
            "      posting_windows: 5",
            "26:7: channels.linkedin.rules.posting_windows must be a list, got int 5",
        ),
        (
            "max_per_day: 1",
            'max_length: "abc"',
            "27:7: channels.linkedin.rules.max_length must be a whole number, got str 'abc'",
        ),
        ("max_per_day: 1", "max_length: -1", "27:7: max_length cannot be negative"),
        (
            "min_gap: 20h",
            "min_gap: [1]",
            "28:7: channels.linkedin.rules.min_gap must be a duration like 48h, got a list",
        ),
        ("language: fr", "language: fr\nlevels: [x]", "3:1: levels must be a mapping, got a list"),
        ("timezone: Europe/Paris", "timezone: 5", "1:1: timezone must be a string, got int 5"),
        (
            "timezone: Europe/Paris",
            "timezone: Mars/Base",
            "1:1: unknown timezone 'Mars/Base': use a name from the time zone database such as Europe/Paris",
        ),
        (
            "timezone: Europe/Paris",
            "timezone: ../../etc/passwd",
            "1:1: unknown timezone '../../etc/passwd': use a name from the time zone database such as Europe/Paris",
        ),
        # Explicit tags, odd keys.
        (
            "timezone: Europe/Paris",
            'timezone: !!int "abc"',
            "1:11: invalid YAML: the tag !!int is not supported: remove it and write the value "
            'plainly (in quotes, "...", to keep it as text)',
        ),
        (
            "timezone: Europe/Paris",
            "timezone: !!python/object/apply:os.system [id]",
            "1:11: invalid YAML: the tag !!python/object/apply:os.system is not supported",
        ),
        ("language: fr", "language: fr\n1: x", "3:1: unknown key '1'"),
        ("language: fr", "language: fr\nnull: x", "3:1: unknown key 'null'"),
        ("language: fr", "language: fr\n2026-01-01: x", "3:1: unknown key '2026-01-01'"),
        (
            "language: fr",
            "language: fr\n[a]: x",
            "3:1: invalid YAML: a key must be a name, not a list or a mapping",
        ),
        (
            "      max_per_day: 1",
            "      true: 1",
            "27:7: unknown key 'true' in channels.linkedin.rules",
        ),
        (
            "{product: 0.3}",
            "{product: 0.3, 2026: 0.1}",
            "9:35: mix names pillar '2026', not in pillars",
        ),
        # Aliases and deep nesting.
        (
            "language: fr",
            "language: &fr fr",
            "2:11: invalid YAML: anchor &fr is not allowed: remove it and write the value out "
            "wherever it is needed (anchors and aliases are refused)",
        ),
        (
            "  x:\n",
            "  x:\n" + "    rules: {max_length: " + "[" * 150 + "]" * 150 + "}\n",
            "30:121: invalid YAML: nested more than 100 levels deep: flatten the structure",
        ),
        # Credentials name a variable of their own, never the runner's.
        (
            "token_env: CMFLOW_X_TOKEN",
            "token_env: PATH",
            "31:5: token_env PATH " + SYSTEM_ENV.format("CMFLOW_X_TOKEN"),
        ),
        ("token_env: CMFLOW_X_TOKEN", "token_env: GITHUB_TOKEN", "31:5: token_env GITHUB_TOKEN "),
        (
            "token_env: CMFLOW_X_TOKEN",
            "token_env: ACTIONS_RUNTIME_TOKEN",
            "31:5: token_env ACTIONS_RUNTIME_TOKEN ",
        ),
        ("token_env: CMFLOW_X_TOKEN", "token_env: RUNNER_TEMP", "31:5: token_env RUNNER_TEMP "),
        ("token_env: CMFLOW_X_TOKEN", "token_env: LD_PRELOAD", "31:5: token_env LD_PRELOAD "),
        ("token_env: CMFLOW_X_TOKEN", "token_env: PYTHONPATH", "31:5: token_env PYTHONPATH "),
        ("token_env: CMFLOW_X_TOKEN", "token_env: HOME", "31:5: token_env HOME "),
        ("token_env: CMFLOW_X_TOKEN", "token_env: CI", "31:5: token_env CI "),
        (
            "password_env: CMFLOW_BLUESKY_APP_PASSWORD",
            "password_env: USER",
            "19:5: password_env USER " + SYSTEM_ENV.format("CMFLOW_BLUESKY_APP_PASSWORD"),
        ),
        (
            "token_env: CMFLOW_X_TOKEN",
            "token_env: cmflow_x_token",
            "31:5: token_env 'cmflow_x_token': write environment variable names in capitals, "
            "e.g. CMFLOW_X_TOKEN",
        ),
        (
            "token_env: CMFLOW_X_TOKEN",
            "token_env: CMFLOW_X_TOKÉN",
            "31:5: token_env names an environment variable (like CMFLOW_X_TOKEN), not the secret",
        ),
        # URLs are absolute http(s) addresses.
        (
            "site_url: https://example.fr/actus",
            "site_url: javascript:alert(1)",
            "49:5: site_url must start with https:// (got 'javascript:alert(1)')",
        ),
        (
            "site_url: https://example.fr/actus",
            "site_url: /actus",
            "49:5: site_url must start with https:// (got '/actus')",
        ),
        (
            "site_url: https://example.fr/actus",
            "site_url: https://",
            "49:5: site_url 'https://' is not a web address: write it like https://example.fr/path",
        ),
        (
            "    media_base_url: https://example.fr/media\n  telegram:",
            "    media_base_url: file:///etc\n  telegram:",
            "36:5: media_base_url must start with https:// (got 'file:///etc')",
        ),
        (
            "language: fr",
            'language: fr\ncontent_dir: "a\\0b"',
            "3:14: invalid YAML: a NUL character (\\0) is not allowed: remove it",
        ),
    ],
)
def test_a_hostile_or_mistyped_value_is_a_problem_at_its_position(
    make_repo: MakeRepo, old: str, new: str, expected: str
) -> None:
    found = problems(make_repo, replaced(old, new))
    assert len(found) == 1 and found[0].startswith(f"channels.yaml:{expected}"), found


def test_an_alias_bomb_is_refused_at_once(make_repo: MakeRepo) -> None:
    # 807 bytes that expanded to 9**9 strings: over 15 s and 1 GB before aliases were refused.
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    bomb = "\n".join(lines) + "\n"
    root = make_repo(
        {"a.md": post("date: 2026-11-24 09:30\nchannels: [site]")}, config=bomb + CHANNELS_YAML
    )
    proc = run_main(["validate"], root)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(
        "Error: channels.yaml:1:5: invalid YAML: anchor &a0 is not allowed"
    )


def test_every_hostile_value_at_once_through_the_entry_point(make_repo: MakeRepo) -> None:
    config = (
        replaced("max_share: {product: 0.3}", "max_share: [1]")
        .replace("timezone: Europe/Paris", "timezone: Mars/Base\ncatch_up: 99999999999d")
        .replace("token_env: CMFLOW_X_TOKEN", "token_env: GITHUB_TOKEN")
        .replace("max_per_day: 1", "max_per_day: -1")
        .replace("site_url: https://example.fr/actus", "site_url: ftp://example.fr")
    )
    root = make_repo({"a.md": post("date: 2026-11-24 09:30\nchannels: [site]")}, config=config)
    proc = run_main(["validate"], root)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        "Error: channels.yaml has 6 problems:",
        "channels.yaml:1:1: unknown timezone 'Mars/Base': use a name from the time zone database such as Europe/Paris",
        f"channels.yaml:2:1: '99999999999d' {OUT_OF_RANGE}",
        "channels.yaml:10:9: editorial_line.mix.max_share must be a mapping, got a list",
        "channels.yaml:28:7: max_per_day cannot be negative",
        "channels.yaml:32:5: token_env GITHUB_TOKEN " + SYSTEM_ENV.format("CMFLOW_X_TOKEN"),
        "channels.yaml:50:5: site_url must start with https:// (got 'ftp://example.fr')",
    ]


@pytest.mark.parametrize("name", ["CMFLOW_X_TOKEN", "X_TOKEN", "_MY_TOKEN2", "MASTODON_PATH"])
def test_a_variable_of_its_own_is_accepted(make_repo: MakeRepo, name: str) -> None:
    cfg = config_mod.load(make_repo({}, config=replaced("CMFLOW_X_TOKEN", name)), set(BY_ID))
    assert cfg.channels["x"].setting("token_env") == name


def test_catch_up_of_ten_years_is_accepted(make_repo: MakeRepo) -> None:
    config = replaced("language: fr", "language: fr\ncatch_up: 3650d")
    cfg = config_mod.load(make_repo({}, config=config), set(BY_ID))
    assert cfg.catch_up == timedelta(days=3650)


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_windows_line_endings_keep_positions_right(make_repo: MakeRepo, newline: str) -> None:
    config = replaced("language: fr", "languge: fr").replace("\n", newline)
    assert problems(make_repo, config) == [
        "channels.yaml:2:1: unknown key 'languge' (did you mean 'language'?)"
    ]


def test_a_truncated_file_points_at_its_end(make_repo: MakeRepo) -> None:
    # Cut after `  pillars: [education, ` (line 4, 23 characters): the end is column 24.
    config = CHANNELS_YAML[: CHANNELS_YAML.index("community")].replace("\n", "\r")
    [found] = problems(make_repo, config)
    assert found.startswith("channels.yaml:4:24: invalid YAML: "), found


def test_a_daily_cap_of_zero_is_refused_at_load(make_repo: MakeRepo) -> None:
    # 0 a day can never be met: the next day with room does not exist. Said at load, with
    # what to do, instead of a check that looks for that day forever.
    config = replaced("max_per_day: 1", "max_per_day: 0")
    root = make_repo({"a.md": post("date: 2026-11-24 09:30\nchannels: [x]")}, config=config)
    proc = run_main(["validate"], root)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        "Error: channels.yaml:27:7: max_per_day is at least 1: to post nothing on a channel, "
        "take it out of the posts' channels",
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('forbidden_terms: ["gratuit à vie", "cliquez ici"]', 'forbidden_terms: ["  "]'),
        ("max_hashtags: 5", 'max_hashtags: 5\n  required_hashtags: [boulangerie, "#"]'),
    ],
    ids=["blank-term", "bare-hash"],
)
def test_an_empty_term_or_hashtag_is_refused_at_load(
    make_repo: MakeRepo, old: str, new: str
) -> None:
    # A blank term would be "found" at every position of every post; a bare `#` could
    # never be present: either way a finding on every post, never what the line meant.
    config = replaced(old, new)
    line = next(
        n
        for n, text in enumerate(config.splitlines(), 1)
        if '"' in text and ('["  "]' in text or '"#"' in text)
    )
    root = make_repo({"a.md": post("date: 2026-11-24 09:30\nchannels: [site]")}, config=config)
    proc = run_main(["validate"], root)
    assert proc.returncode == 2, proc.stderr
    key = "forbidden_terms" if "forbidden" in new else "required_hashtags"
    assert f"channels.yaml:{line}:" in proc.stderr
    assert f"{key}: an empty entry: write a word or remove the line" in proc.stderr
