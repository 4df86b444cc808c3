"""`cmflow validate` (and its companions rules, schema, preview) end to end.

Exit codes are checked on the real entry point in a subprocess (`python -m cmflow`), so the
mapping in `cmflow.cli.main` is exercised; output formats are compared whole.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cmflow.cli import cli
from cmflow.rules import RULES
from tests.conftest import BEFORE_ALL, CHANNELS_YAML, JPEG, PNG, post, run_cli, run_main

MakeRepo = Callable[..., Path]
EXAMPLE = Path(__file__).resolve().parent.parent

# content/a.md: a pillar typo on two channels (error, line 4).
# content/b.md: due half an hour before --at and not published (warning, line 2).
# content/c.md: an unknown front-matter key (error without a channel, line 5).
A = post("date: 2026-11-30 09:30\nchannels: [mastodon, x]\npillar: educaton")
B = post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education")
C = post("date: 2026-11-30 09:30\nchannels: [mastodon]\npillar: education\ntitel: Bonjour")
AT = "2026-11-24 10:00"

TEXT_REPORT = """\
content/a.md:4:1: error editorial.pillar  mastodon, x: pillar 'educaton' is not one of education, community, product (did you mean 'education'?)
content/b.md:2:1: warning schedule.past  mastodon: scheduled 30 min ago and not published: the next publish run will still send it
content/c.md:5:1: error frontmatter.unknown-field  unknown key 'titel' (did you mean 'title'?)
failed: 2 errors, 1 warning in 3 files
"""


@pytest.fixture
def three(make_repo: MakeRepo) -> Path:
    return make_repo({"a.md": A, "b.md": B, "c.md": C})


# --- Exit codes (real entry point) ------------------------------------------------------


def test_exit_0_when_only_warnings(make_repo: MakeRepo) -> None:
    root = make_repo({"b.md": B})
    proc = run_main(["validate", "--at", AT], root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "ok: 0 errors, 1 warning in 1 file"


def test_exit_1_when_an_error_is_found_and_text_output_is_exact(three: Path) -> None:
    proc = run_main(["validate", "--at", AT], three)
    assert proc.returncode == 1
    assert proc.stdout == TEXT_REPORT
    assert proc.stderr == ""


def test_exit_2_on_an_invalid_channels_yaml(make_repo: MakeRepo) -> None:
    root = make_repo({"b.md": B}, config=CHANNELS_YAML.replace("timezone:", "timezon:"))
    proc = run_main(["validate"], root)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "channels.yaml:1:1: unknown key 'timezon' (did you mean 'timezone'?)" in proc.stderr


def test_exit_2_on_an_unknown_format(three: Path) -> None:
    proc = run_main(["validate", "--format", "xml"], three)
    assert proc.returncode == 2
    assert "'xml' is not one of 'text', 'json', 'github'" in proc.stderr
    assert proc.stdout == ""


def test_exit_2_without_channels_yaml(tmp_path: Path) -> None:
    proc = run_main(["validate"], tmp_path)
    assert proc.returncode == 2
    assert "no channels.yaml found" in proc.stderr


def test_exit_2_on_a_bad_at_value(three: Path) -> None:
    proc = run_main(["validate", "--at", "mardi prochain"], three)
    assert proc.returncode == 2
    assert "--at" in proc.stderr


def test_exit_2_on_a_path_outside_the_repository(three: Path, tmp_path: Path) -> None:
    outside = tmp_path / "ailleurs.md"
    outside.write_text(B, encoding="utf-8")
    result = run_cli(["validate", str(outside)], three)
    assert result.exit_code == 2
    assert "outside the repository" in result.stderr


# --- Output formats -----------------------------------------------------------------------------


def test_text_format_from_a_subfolder_uses_paths_from_the_root(three: Path) -> None:
    # --root defaults to the nearest folder holding channels.yaml, walking up.
    result = run_cli(["validate", "--at", AT, "--no-cache"], three / "content")
    assert result.exit_code == 1
    assert result.stdout == TEXT_REPORT


def test_json_format(three: Path) -> None:
    result = run_cli(["validate", "--format", "json", "--at", AT], three)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert set(data) == {"findings", "summary"}
    assert data["summary"] == {"files": 3, "errors": 2, "warnings": 1}
    assert data["findings"] == [
        {
            "path": "content/a.md",
            "line": 4,
            "column": 1,
            "level": "error",
            "rule": "editorial.pillar",
            "channel": "mastodon, x",
            "message": "pillar 'educaton' is not one of education, community, product "
            "(did you mean 'education'?)",
        },
        {
            "path": "content/b.md",
            "line": 2,
            "column": 1,
            "level": "warning",
            "rule": "schedule.past",
            "channel": "mastodon",
            "message": "scheduled 30 min ago and not published: "
            "the next publish run will still send it",
        },
        {
            "path": "content/c.md",
            "line": 5,
            "column": 1,
            "level": "error",
            "rule": "frontmatter.unknown-field",
            "channel": None,
            "message": "unknown key 'titel' (did you mean 'title'?)",
        },
    ]


def test_json_format_when_clean(make_repo: MakeRepo) -> None:
    root = make_repo({"b.md": B})
    result = run_cli(["validate", "--format", "json", "--at", BEFORE_ALL], root)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "findings": [],
        "summary": {"files": 1, "errors": 0, "warnings": 0},
    }


GITHUB_REPORT = """\
::error file=content/a.md,line=4,col=1,title=editorial.pillar (mastodon%2C x)::pillar 'educaton' is not one of education, community, product (did you mean 'education'?)
::warning file=content/b.md,line=2,col=1,title=schedule.past (mastodon)::scheduled 30 min ago and not published: the next publish run will still send it
::error file=content/c.md,line=5,col=1,title=frontmatter.unknown-field::unknown key 'titel' (did you mean 'title'?)
failed: 2 errors, 1 warning in 3 files
"""


def test_github_format(three: Path) -> None:
    # Property values escape "," and ":" (GitHub workflow commands), so the merged channel
    # list "mastodon, x" becomes "mastodon%2C x".
    result = run_cli(["validate", "--format", "github", "--at", AT], three)
    assert result.exit_code == 1
    assert result.stdout == GITHUB_REPORT


STEP_SUMMARY = """\
### cmflow validate — failed: 2 errors, 1 warning in 3 files

| | file | rule | channel | message |
|---|---|---|---|---|
| ❌ | `content/a.md:4` | `editorial.pillar` | mastodon, x | pillar 'educaton' is not one of education, community, product (did you mean 'education'?) |
| ⚠️ | `content/b.md:2` | `schedule.past` | mastodon | scheduled 30 min ago and not published: the next publish run will still send it |
| ❌ | `content/c.md:5` | `frontmatter.unknown-field` |  | unknown key 'titel' (did you mean 'title'?) |

"""


def test_github_format_is_automatic_in_actions_with_a_job_summary(
    three: Path, tmp_path: Path
) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    proc = run_main(["validate", "--at", AT], three, env=env)
    assert proc.returncode == 1
    assert proc.stdout == GITHUB_REPORT
    # Appended after what earlier steps wrote, never overwriting it.
    assert summary.read_text("utf-8") == "earlier step\n" + STEP_SUMMARY


def test_explicit_format_wins_over_github_actions(three: Path) -> None:
    result = run_cli(
        ["validate", "--format", "text", "--at", AT], three, env={"GITHUB_ACTIONS": "true"}
    )
    assert result.stdout == TEXT_REPORT


def test_github_format_escapes_the_file_property(make_repo: MakeRepo) -> None:
    root = make_repo({"a,b.md": A})
    result = run_cli(["validate", "--format", "github", "--at", BEFORE_ALL], root)
    assert result.stdout.startswith("::error file=content/a%2Cb.md,line=4,col=1,")


# --- PATH arguments, --changed-since ---------------------------------------------------------

LINKEDIN_MORNING = post(
    "date: 2026-11-24 08:30\nchannels: [linkedin]\npillar: education", "Matin #Marque"
)
LINKEDIN_EVENING = post(
    "date: 2026-11-24 17:30\nchannels: [linkedin]\npillar: community", "Soir #Marque"
)


def test_paths_restrict_the_report_but_the_queue_sees_every_post(make_repo: MakeRepo) -> None:
    root = make_repo({"2026/a.md": LINKEDIN_MORNING, "2026/b.md": LINKEDIN_EVENING, "c.md": C})
    # Only b.md is reported, yet its daily cap and gap are measured against a.md.
    result = run_cli(["validate", "--at", BEFORE_ALL, "content/2026/b.md"], root)
    assert result.exit_code == 1
    assert result.stdout == (
        "content/2026/b.md:2:1: error schedule.daily-cap  linkedin: 2 posts on 2026-11-24, "
        "at most 1 a day (also: content/2026/a.md): the next time that passes is "
        "Wed 25 Nov 17:30 (Europe/Paris)\n"
        "content/2026/b.md:2:1: error schedule.min-gap  linkedin: 9h after content/2026/a.md, "
        "the minimum gap is 20h: the next time that passes is Wed 25 Nov 04:30 (Europe/Paris)\n"
        "failed: 2 errors, 0 warnings in 1 file\n"
    )
    # a.md is the first post of the day: nothing to report on it.
    result = run_cli(["validate", "--at", BEFORE_ALL, "content/2026/a.md"], root)
    assert result.exit_code == 0
    assert result.stdout == "ok: 0 errors, 0 warnings in 1 file\n"


def test_a_folder_path_reports_every_post_under_it(make_repo: MakeRepo) -> None:
    root = make_repo({"2026/a.md": LINKEDIN_MORNING, "2026/b.md": LINKEDIN_EVENING, "c.md": C})
    result = run_cli(["validate", "--at", BEFORE_ALL, "--format", "json", "content/2026"], root)
    data = json.loads(result.stdout)
    assert {f["path"] for f in data["findings"]} == {"content/2026/b.md"}
    assert data["summary"] == {"files": 2, "errors": 2, "warnings": 0}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)


def test_changed_since_reports_only_changed_files(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": A, "c.md": C, "2026/a.md": LINKEDIN_MORNING})
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "posts")
    _git(root, "tag", "base")
    # A committed change since `base`, and an uncommitted new post.
    (root / "content/2026/b.md").write_text(LINKEDIN_EVENING, encoding="utf-8")
    _git(root, "add", "content/2026/b.md")
    _git(root, "commit", "-q", "-m", "evening post")
    (root / "content/d.md").write_text(A, encoding="utf-8")

    result = run_cli(
        ["validate", "--at", BEFORE_ALL, "--format", "json", "--changed-since", "base"], root
    )
    data = json.loads(result.stdout)
    # a.md and c.md are unchanged: their errors are not reported. b.md's cap is measured
    # against the unchanged 2026/a.md.
    assert [(f["path"], f["rule"]) for f in data["findings"]] == [
        ("content/2026/b.md", "schedule.daily-cap"),
        ("content/2026/b.md", "schedule.min-gap"),
        ("content/d.md", "editorial.pillar"),
    ]
    assert data["summary"]["files"] == 2
    assert result.exit_code == 1


def test_changed_since_an_unknown_ref_is_a_usage_error(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": B})
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "posts")
    result = run_cli(["validate", "--changed-since", "origin/main"], root)
    assert result.exit_code == 2
    assert "'origin/main' is not a git ref here" in result.stderr


def test_changed_since_outside_a_git_repository_is_a_usage_error(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": B})
    proc = run_main(["validate", "--changed-since", "main"], root)
    assert proc.returncode == 2
    assert "is not inside a git repository" in proc.stderr


def test_a_path_that_does_not_exist_is_a_usage_error(three: Path) -> None:
    result = run_cli(["validate", "content/absent.md"], three)
    assert result.exit_code == 2
    assert "content/absent.md does not exist" in result.stderr


# --- levels: in channels.yaml --------------------------------------------------------------------


def _with_levels(levels: str) -> str:
    return CHANNELS_YAML.replace("editorial_line:", f"levels: {levels}\neditorial_line:", 1)


def test_level_off_silences_a_rule(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": A, "b.md": B}, config=_with_levels('{schedule.past: "off"}'))
    result = run_cli(["validate", "--at", AT, "--format", "json"], root)
    rules = [f["rule"] for f in json.loads(result.stdout)["findings"]]
    assert rules == ["editorial.pillar"]


def test_level_off_unquoted_as_in_the_design(make_repo: MakeRepo) -> None:
    root = make_repo({"b.md": B}, config=_with_levels("{editorial.mix: error, schedule.past: off}"))
    result = run_cli(["validate", "--at", AT], root)
    assert result.exit_code == 0
    assert result.stdout == "ok: 0 errors, 0 warnings in 1 file\n"


def test_level_warning_downgrades_an_error_and_exits_0(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": A}, config=_with_levels("{editorial.pillar: warning}"))
    result = run_cli(["validate", "--at", BEFORE_ALL], root)
    assert result.exit_code == 0
    assert result.stdout.startswith("content/a.md:4:1: warning editorial.pillar  mastodon, x: ")
    assert result.stdout.endswith("ok: 0 errors, 1 warning in 1 file\n")


def test_level_error_upgrades_a_warning_and_exits_1(make_repo: MakeRepo) -> None:
    root = make_repo({"b.md": B}, config=_with_levels("{schedule.past: error}"))
    result = run_cli(["validate", "--at", AT], root)
    assert result.exit_code == 1
    assert result.stdout.startswith("content/b.md:2:1: error schedule.past  mastodon: ")


def test_rules_shows_levels_set_in_channels_yaml(make_repo: MakeRepo) -> None:
    root = make_repo({}, config=_with_levels('{schedule.past: error, editorial.mix: "off"}'))
    result = run_cli(["rules", "--format", "json"], root)
    levels = {r["id"]: r["level"] for r in json.loads(result.stdout)}
    assert levels["schedule.past"] == "error"
    assert levels["editorial.mix"] == "off"
    assert levels["channel.max-length"] == "error"


def test_a_post_saved_in_other_capitals_is_named_not_left_out(make_repo: MakeRepo) -> None:
    # `Noël.MD` (an editor's or a phone's choice): it was no post, so every command went on
    # as if it did not exist ("ok: 0 files"). Now each says to rename it, and the run it
    # would have gone out in fails until then.
    text = B.replace("2026-11-24 09:30", "2026-11-25 09:00")
    root = make_repo({"Noël.MD": text, "ok.md": text})
    result = run_cli(["validate", "--format", "json", "--at", AT], root)
    assert result.exit_code == 1
    (found,) = [f for f in json.loads(result.stdout)["findings"] if f["rule"] == "content.file"]
    assert found["path"] == "content/Noël.MD"
    assert found["message"].endswith("rename it Noël.md")
    only = run_cli(["validate", "content/Noël.MD", "--at", AT], root)
    assert only.exit_code == 1 and "rename it Noël.md" in only.stdout
    plan = json.loads(run_cli(["plan", "--format", "json", "--at", AT], root).stdout)
    assert [u["path"] for u in plan["unreadable"]] == ["content/Noël.MD"]
    # Beside a `Noël.md`: said to merge them, and it holds no id (the other post goes).
    (root / "content" / "Noël.md").write_text(text, "utf-8")
    both = json.loads(run_cli(["validate", "--format", "json", "--at", AT], root).stdout)
    mine = [(f["path"], f["rule"]) for f in both["findings"] if "Noël" in f["path"]]
    assert mine == [("content/Noël.MD", "content.file")], mine
    assert "Noël.md beside it is: merge the two" in both["findings"][0]["message"]
    (root / "content" / "Noël.md").unlink()
    # A file of the content folder that is no post at all: said, not "0 files".
    (root / "content" / "notes.txt").write_text("des notes", "utf-8")
    notes = run_cli(["validate", "content/notes.txt", "--at", AT], root)
    assert notes.exit_code == 2
    assert "content/notes.txt: no post there, nor a post using it" in notes.stderr
    # A media file kept beside the posts: the posts using it are checked, as for media/.
    (root / "content" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    (root / "content" / "photo.md").write_text(
        text.replace(
            "pillar: education",
            "pillar: education\nmedia: [{path: content/photo.jpg, alt: Une photo}]",
        ),
        "utf-8",
    )
    used = run_cli(["validate", "content/photo.jpg", "--format", "json", "--at", AT], root)
    assert used.exit_code in (0, 1), used.output
    assert json.loads(used.stdout)["summary"]["files"] == 1
    everything = run_cli(["validate", "--format", "json", "--at", AT], root)
    assert "notes.txt" not in everything.stdout  # not a post: never listed as one


def test_rules_fails_on_a_broken_channels_yaml_but_not_outside_a_repository(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    # In a brand's repository, `rules` shows the levels its channels.yaml sets: a broken
    # one must fail as validate does (it showed the defaults and exited 0).
    root = make_repo({}, config=_with_levels("{editorial.mix: warn}"))
    result = run_cli(["rules"], root)
    assert result.exit_code == 2
    assert "channels.yaml:" in result.stderr and "editorial.mix" in result.stderr
    # Elsewhere (no channels.yaml here or above): the catalogue, with its default levels.
    away = tmp_path / "ailleurs"
    away.mkdir()
    listing = run_cli(["rules", "--format", "json"], away)
    assert listing.exit_code == 0, listing.output
    assert {r["id"]: r["level"] for r in json.loads(listing.stdout)}["editorial.mix"] == "warning"


# --- The cache ----------------------------------------------------------------------------------

INSTAGRAM = post(
    "date: 2026-11-24 09:30\nchannels: [instagram]\npillar: education\n"
    "media:\n  - path: media/photo.jpg\n    alt: Une photo",
    "Bonjour #un #deux #trois",
)


def _validate(root: Path, *args: str) -> tuple[int, str]:
    result = run_cli(["validate", "--at", BEFORE_ALL, *args], root)
    return result.exit_code, result.stdout


def test_cache_second_run_gives_identical_output(three: Path) -> None:
    first = _validate(three)
    assert (three / ".cmflow-cache/validate.bin").is_file()
    assert _validate(three) == first
    assert _validate(three, "--no-cache") == first


def test_cache_picks_up_an_edited_post(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": A, "b.md": B})
    assert _validate(root)[0] == 1
    # The same size, only the content changes: "educaton" -> "community".
    path = root / "content/a.md"
    path.write_text(A.replace("educaton", "communit"), encoding="utf-8")
    assert _validate(root)[1].startswith(
        "content/a.md:4:1: error editorial.pillar  mastodon, x: pillar 'communit'"
    )
    path.write_text(A.replace("educaton", "education"), encoding="utf-8")
    assert _validate(root) == (0, "ok: 0 errors, 0 warnings in 2 files\n")


def test_cache_picks_up_a_new_and_a_deleted_post(make_repo: MakeRepo) -> None:
    root = make_repo({"b.md": B})
    assert _validate(root) == (0, "ok: 0 errors, 0 warnings in 1 file\n")
    (root / "content/a.md").write_text(A, encoding="utf-8")
    assert _validate(root)[1].endswith("failed: 1 error, 0 warnings in 2 files\n")
    (root / "content/a.md").unlink()
    assert _validate(root) == (0, "ok: 0 errors, 0 warnings in 1 file\n")


def test_cache_picks_up_an_edited_media_file(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": INSTAGRAM}, media={"media/photo.jpg": PNG})
    code, out = _validate(root)
    assert code == 1 and "channel.media-format  instagram: media/photo.jpg is image/png" in out
    (root / "media/photo.jpg").write_bytes(JPEG)  # the file is fixed, the post is not touched
    assert _validate(root) == (0, "ok: 0 errors, 0 warnings in 1 file\n")
    (root / "media/photo.jpg").unlink()
    code, out = _validate(root)
    assert "channel.media-missing  instagram: media/photo.jpg does not exist" in out


def test_cache_is_dropped_when_channels_yaml_changes(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": INSTAGRAM}, media={"media/photo.jpg": JPEG})
    assert _validate(root)[0] == 0
    config = CHANNELS_YAML.replace("max_hashtags: 5", "max_hashtags: 2")
    (root / "channels.yaml").write_text(config, encoding="utf-8")
    code, out = _validate(root)
    assert code == 1
    assert "channel.max-hashtags  instagram: 3 hashtags, at most 2" in out


def test_cache_that_cannot_be_read_is_ignored(three: Path) -> None:
    first = _validate(three)
    (three / ".cmflow-cache/validate.bin").write_bytes(b"not a cache at all")
    assert _validate(three) == first


def test_no_cache_writes_no_cache(three: Path) -> None:
    assert _validate(three, "--no-cache")[0] == 1
    assert not (three / ".cmflow-cache").exists()


# --- rules, schema, preview, help -------------------------------------------------------------


def test_rules_lists_every_rule_id(make_repo: MakeRepo) -> None:
    root = make_repo({})
    text = run_cli(["rules"], root)
    assert text.exit_code == 0
    listed = [line.split()[0] for line in text.stdout.splitlines()]
    assert listed == [r.id for r in RULES]
    data = json.loads(run_cli(["rules", "--format", "json"], root).stdout)
    assert [(r["id"], r["level"]) for r in data] == [(r.id, r.level) for r in RULES]
    assert all(r["fires_when"] for r in data)
    markdown = run_cli(["rules", "--format", "markdown"], root).stdout
    assert all(f"| `{r.id}` | {r.level} |" in markdown for r in RULES)


def test_rules_outside_a_repository_shows_default_levels(tmp_path: Path) -> None:
    result = run_cli(["rules"], tmp_path)
    assert result.exit_code == 0
    assert "schedule.past" in result.stdout and "warning" in result.stdout


def _schema(which: str, cwd: Path) -> dict[str, Any]:
    result = run_cli(["schema", which], cwd)
    assert result.exit_code == 0
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize("which", ["channels", "post"])
def test_schema_is_json_schema(which: str, tmp_path: Path) -> None:
    data = _schema(which, tmp_path)
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert data["type"] == "object"
    assert data["additionalProperties"] is False
    expected = {
        "channels": {"timezone", "editorial_line", "channels", "levels"},
        "post": {"date", "channels", "channel", "media", "variants", "status", "pillar"},
    }
    assert expected[which] <= set(data["properties"])


def test_schema_of_channels_accepts_the_example_and_refuses_a_typo(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = _schema("channels", tmp_path)
    jsonschema.Draft202012Validator.check_schema(schema)
    example = yaml.safe_load((EXAMPLE / "channels.yaml").read_text("utf-8"))
    jsonschema.validate(example, schema)
    example["channels"]["mastodon"]["tokn_env"] = "CMFLOW_MASTODON_TOKEN"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(example, schema)


def test_schema_of_post_accepts_an_example_post(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = _schema("post", tmp_path)
    jsonschema.Draft202012Validator.check_schema(schema)
    text = (EXAMPLE / "content/2026/11/2026-11-10-portrait-ines-garnier.md").read_text("utf-8")
    front = yaml.safe_load(text.split("---\n")[1])
    jsonschema.validate(front, schema)


PREVIEWED = post(
    """
    date: 2099-11-24 09:30
    channels: [mastodon, bluesky, x]
    pillar: education
    variants:
      bluesky:
        body: Version courte pour Bluesky.
    """,
    "Premier message **important**. #Marque\n\n<!-- thread -->\n\nSecond message 🎉 "
    "https://exemple.fr/programme\n",
)


def test_preview_shows_each_channel_with_its_count_and_thread_parts(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": PREVIEWED})
    result = run_cli(["preview", "content/a.md"], root)
    assert result.exit_code == 0, result.output
    # Mastodon: part 1 "Premier message important. #Marque" is 34 graphemes; part 2
    # "Second message 🎉 " is 17 + the URL at 23 = 40.
    assert result.stdout == (
        "content/a.md  (id: a)\n"
        "\n"
        "── mastodon (mastodon) · 40/500 characters (a link counts 23 by default, @user@domain "
        "counts as @user) · thread of 2  ✓\n"
        "[1/2] 34/500\n"
        "Premier message important. #Marque\n"
        "[2/2] 40/500\n"
        "Second message 🎉 https://exemple.fr/programme\n"
        "\n"
        "── bluesky (bluesky) · 28/300 characters (an emoji counts 1, a link as shown: cut to 27)  ✓\n"
        "Version courte pour Bluesky.\n"
        "\n"
        # X: the emoji weighs 2: 14 + 1 + 2 + 1 + 23 = 41.
        "── x (x) · 41/280 characters as X counts them (a link 23, an emoji or a CJK character 2) · thread of 2  ✓\n"
        "[1/2] 34/280\n"
        "Premier message important. #Marque\n"
        "[2/2] 41/280\n"
        "Second message 🎉 https://exemple.fr/programme\n"
    )


def test_the_pull_request_comment_shows_a_title_where_one_is_sent(make_repo: MakeRepo) -> None:
    # The site takes a title, Mastodon does not: the comment reviewers read showed it under
    # every channel, as if Mastodon's post would start with it.
    text = PREVIEWED.replace("channels: [mastodon, bluesky, x]", "channels: [mastodon, site]")
    root = make_repo(
        {"a.md": text.replace("pillar: education", "pillar: education\ntitle: Atelier")}
    )
    md = run_cli(["preview", "--format", "markdown", "content/a.md"], root).stdout
    sections = {s.split("</b>")[0]: s for s in md.split("<summary>")[1:]}
    assert set(sections) == {"✓ <b>mastodon", "✓ <b>site"}
    assert "**Title:** Atelier" in sections["✓ <b>site"]
    assert "Title:" not in sections["✓ <b>mastodon"]
    text_view = run_cli(["preview", "content/a.md"], root).stdout
    assert text_view.count("Atelier") == 1  # the text preview agrees


def test_preview_one_channel_and_its_findings(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": PREVIEWED.replace("pillar: education", "pillar: educaton")})
    result = run_cli(["preview", "content/a.md", "--channel", "bluesky"], root)
    assert result.exit_code == 1
    assert "── mastodon" not in result.stdout and "── bluesky (bluesky)" in result.stdout
    # Beside the channel's text, with the channel's verdict in its heading.
    assert "── bluesky (bluesky)" in result.stdout and "✗ 1 error" in result.stdout
    assert result.stdout.endswith(
        "  content/a.md:4:1: error editorial.pillar  pillar 'educaton' is"
        " not one of education, community, product (did you mean 'education'?)\n"
    )


def test_preview_an_unknown_channel_is_a_usage_error(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": PREVIEWED})
    result = run_cli(["preview", "content/a.md", "--channel", "mastodn"], root)
    assert result.exit_code == 2
    assert "unknown channel 'mastodn'" in result.stderr


def test_every_command_has_help(tmp_path: Path) -> None:
    top = run_cli(["--help"], tmp_path)
    assert top.exit_code == 0
    for name, command in cli.commands.items():
        assert re.search(rf"^  {re.escape(name)}\b", top.stdout, re.MULTILINE), name
        result = run_cli([name, "--help"], tmp_path)
        assert result.exit_code == 0, name
        assert result.stdout.startswith(f"Usage: cli {name}")
        # The first words of the command's docstring (click wraps the rest).
        assert command.help and " ".join(command.help.split()[:5]) in " ".join(
            result.stdout.split()
        )


def test_help_through_the_entry_point(tmp_path: Path) -> None:
    proc = run_main(["validate", "--help"], tmp_path)
    assert proc.returncode == 0
    for option in ("--root", "--format", "--at", "--changed-since", "--no-cache"):
        assert option in proc.stdout


SITE_ONLY = """\
timezone: Europe/Paris
language: fr
channels:
  mastodon:
    platform: mastodon
    base_url: https://mastodon.example
    token_env: CMFLOW_MASTODON_TOKEN
  actus:
    platform: feed
    output_dir: public
"""


def test_a_site_with_neither_title_nor_brand_is_flagged_where_channels_yaml_defines_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "channels.yaml").write_text(SITE_ONLY, encoding="utf-8")
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "pain.md").write_text(
        "---\ndate: 2026-11-30 09:30\nchannels: [actus, mastodon]\n---\nLe pain du jour.\n",
        encoding="utf-8",
    )
    expected = (
        "channels.yaml:8:3: warning config.site-title  actus: the site's heading, its pages' "
        "<title> and the feed's author will show the channel's name 'actus': set `brand:` at "
        "the top of channels.yaml (the brand's name) or `title:` on the actus channel\n"
    )
    for _ in ("cold", "warm"):  # the second run answers from the validation cache
        done = run_main(["validate", "--at", AT], tmp_path)
        assert done.returncode == 0, done.stderr  # a warning never blocks
        assert done.stdout.startswith(expected), done.stdout
    assert (tmp_path / ".cmflow-cache" / "validate.bin").is_file()
    data = json.loads(run_main(["validate", "--format", "json"], tmp_path).stdout)
    (finding,) = [f for f in data["findings"] if f["rule"] == "config.site-title"]
    assert finding["channel"] == "actus" and finding["path"] == "channels.yaml"

    for fixed in (f"brand: Boulangerie Martin\n{SITE_ONLY}", f"{SITE_ONLY}    title: Actus\n"):
        (tmp_path / "channels.yaml").write_text(fixed, encoding="utf-8")
        done = run_main(["validate", "--at", AT], tmp_path)
        assert done.returncode == 0 and "config.site-title" not in done.stdout, done.stdout


def test_json_output_is_what_json_dumps_writes_for_any_text() -> None:
    """`--format json` is written without `json.dumps(indent=2)`'s slow encoder: the bytes
    are the same for quotes, backslashes, control characters, lone surrogates, emoji and
    accents in every field, a finding without a channel, and no finding at all."""
    import random

    from cmflow.model import Finding
    from cmflow.output import as_json

    def reference(findings: list[Finding], files: int) -> str:
        keys = ("path", "line", "column", "level", "rule", "channel", "message")
        rows = [{k: getattr(f, k) for k in keys} for f in findings]
        summary = {
            "files": files,
            "errors": sum(f.level == "error" for f in findings),
            "warnings": sum(f.level == "warning" for f in findings),
        }
        data = {"findings": rows, "summary": summary}
        return json.dumps(data, ensure_ascii=False, indent=2)

    alphabet = 'aé"\\\n\t\r\x00\x1f\x7f\u2028\ud800😀/<>&ß'
    rnd = random.Random(12)

    def text() -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 10)))

    for count in (0, 1, 3):
        for _ in range(200):
            findings = [
                Finding(
                    text(),
                    rnd.randint(0, 10**6),
                    rnd.randint(0, 500),
                    rnd.choice(["error", "warning"]),
                    text(),
                    rnd.choice([None, text()]),
                    text(),
                )
                for _ in range(count)
            ]
            files = rnd.randint(0, 99)
            assert as_json(findings, files) == reference(findings, files)
            assert json.loads(as_json(findings, files))["summary"]["files"] == files


def test_a_file_name_that_is_not_utf8_is_cached_like_any_other(tmp_path: Path) -> None:
    """A post named with a byte of another encoding (a file copied from an old Windows or
    Mac disk): the cache keeps it (Python holds the byte as a lone surrogate), and the runs
    with a cache answer as the run without one."""
    (tmp_path / "channels.yaml").write_text(CHANNELS_YAML, encoding="utf-8")
    folder = tmp_path / "content" / "2027"
    folder.mkdir(parents=True)
    text = post("date: 2026-12-01 10:00\nchannels: [mastodon]\npillar: education", "Un mot.")
    (folder / "bon.md").write_text(text, encoding="utf-8")
    with open(os.fsencode(folder) + b"/caf\xe9-\xff.md", "w", encoding="utf-8") as fh:
        fh.write(text)
    # Bytes: the output names the file as it is on disk, which is not UTF-8.
    cmd = [sys.executable, "-m", "cmflow", "validate", "--format", "json"]
    runs = [
        subprocess.run([*cmd, *extra], cwd=tmp_path, capture_output=True, check=False)
        for extra in ([], [], ["--no-cache"])
    ]
    assert [r.returncode for r in runs] == [0, 0, 0], runs[0].stderr
    assert (tmp_path / ".cmflow-cache/validate.bin").is_file()
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    found = json.loads(runs[2].stdout.decode("utf-8", "surrogateescape"))["findings"]
    assert sorted(f["path"] for f in found) == sorted(
        ["content/2027/bon.md", "content/2027/caf\udce9-\udcff.md"]
    )
