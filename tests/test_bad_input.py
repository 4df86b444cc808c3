"""Bad post files never crash `cmflow validate`: each yields a finding with its location,
and every other post is still checked.

Each scenario is a repository holding the bad file next to `content/witness.md`, a good
post with one known problem (a pillar typo on line 4): seeing that finding too proves the
bad file did not stop the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import BEFORE_ALL, JPEG, Found, only, post, run_cli, run_main, validate_json

MakeRepo = Callable[..., Path]

WITNESS = post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: educaton")
WITNESS_FINDING = Found(
    "content/witness.md",
    4,
    1,
    "error",
    "editorial.pillar",
    "mastodon",
    "pillar 'educaton' is not one of education, community, product (did you mean 'education'?)",
)
GOOD = post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education")
LATIN1 = (
    "---\ndate: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\ntitle: Café\n---\nx\n"
)


def findings_with_witness(make_repo: MakeRepo, bad: str | bytes) -> list[Found]:
    """Validate a repository holding content/bad.md and the witness; return bad.md's findings."""
    root = make_repo({"bad.md": bad, "witness.md": WITNESS})
    found, summary = validate_json(root)
    assert WITNESS_FINDING in found
    assert summary["files"] == 2
    return [f for f in found if f.path == "content/bad.md"]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        pytest.param(
            LATIN1.encode("latin-1"),
            # Line 5 is "title: Café": "title: Caf" is 10 characters, the é byte is column 11.
            ("content.file", 5, 11, "this file is not UTF-8 (byte 0xe9): save it as UTF-8"),
            id="not-utf8",
        ),
        pytest.param(
            b"\xef\xbb\xbf" + LATIN1.encode("latin-1"),
            # The BOM is skipped, not counted: the same byte at the same place as without it.
            ("content.file", 5, 11, "this file is not UTF-8 (byte 0xe9): save it as UTF-8"),
            id="not-utf8-after-bom",
        ),
        pytest.param(
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            ("content.file", 1, 1, "this file is binary, not a Markdown post: move it to media/"),
            id="binary",
        ),
        pytest.param(
            "",
            (
                "frontmatter.required",
                1,
                1,
                "no front-matter: start the file with a line `---`, then `date:` and "
                "`channels:`, then `---`",
            ),
            id="empty",
        ),
        pytest.param(
            "Juste un texte, sans front-matter.\n",
            (
                "frontmatter.required",
                1,
                1,
                "no front-matter: start the file with a line `---`, then `date:` and "
                "`channels:`, then `---`",
            ),
            id="no-front-matter",
        ),
        pytest.param(
            "---\n- date\n- channels\n---\nx\n",
            (
                "frontmatter.syntax",
                2,
                1,
                "front-matter must be a mapping of `key: value` lines, not a list",
            ),
            id="front-matter-list",
        ),
        pytest.param(
            "---\njuste du texte\n---\nx\n",
            (
                "frontmatter.syntax",
                2,
                1,
                "front-matter must be a mapping of `key: value` lines, not a single value "
                "('juste du texte')",
            ),
            id="front-matter-scalar",
        ),
        pytest.param(
            # Line 3: `title: Bonjour: le monde`: the second ":" (column 15) is refused.
            "---\ndate: 2026-11-24 09:30\ntitle: Bonjour: le monde\nchannels: [mastodon]\n---\nx\n",
            (
                "frontmatter.syntax",
                3,
                15,
                "front-matter is not valid YAML: YAML reads this `:` as the start of another key: "
                'put a text holding `: ` in quotes ("..."), and check the indentation',
            ),
            id="yaml-syntax",
        ),
        pytest.param(
            "---\ndate: 2026-11-24 09:30\nchannels: [mastodon\npillar: education\n---\nx\n",
            (
                "frontmatter.syntax",
                3,
                11,
                "front-matter is not valid YAML: this `[` is never closed: "
                "end the list with `]` on this line",
            ),
            id="yaml-unclosed-list",
        ),
        pytest.param(
            "---\ndate: 2026-11-24 09:30\n\tchannels: [mastodon]\n---\nx\n",
            (
                "frontmatter.syntax",
                3,
                1,
                "front-matter is not valid YAML: a tab in the indentation: indent with spaces",
            ),
            id="yaml-tab",
        ),
        pytest.param(
            post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\npilar: x"),
            (
                "frontmatter.unknown-field",
                5,
                1,
                "unknown key 'pilar' (did you mean 'pillar'?)",
            ),
            id="unknown-field",
        ),
        pytest.param(
            post("date:\nchannels: [mastodon]\npillar: education"),
            ("frontmatter.date", 2, 1, "date is empty: give a value or remove the key"),
            id="empty-date",
        ),
        pytest.param(
            post("date: 2026-11-24 09:30\nchannel: sitee\npillar: education"),
            (
                "frontmatter.unknown-channel",
                3,
                1,
                "channel 'sitee' is not defined in channels.yaml (did you mean 'site'?)"
                "; the channels defined are bluesky, instagram, linkedin, mastodon, site, telegram, threads, x",
            ),
            id="channel-singular-typo",
        ),
    ],
)
def test_bad_post_yields_one_finding_and_the_rest_is_checked(
    make_repo: MakeRepo, bad: str | bytes, expected: tuple[str, int, int, str]
) -> None:
    rule, line, column, message = expected
    found = findings_with_witness(make_repo, bad)
    assert found == [Found("content/bad.md", line, column, "error", rule, None, message)]


def test_utf8_bom_is_accepted_and_lines_stay_right(make_repo: MakeRepo) -> None:
    found = findings_with_witness(make_repo, "\ufeff" + WITNESS)
    assert [(f.rule, f.line, f.column) for f in found] == [("editorial.pillar", 4, 1)]


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_windows_line_endings_keep_line_numbers_right(make_repo: MakeRepo, newline: str) -> None:
    # Body on line 6, a blank line 7, the forbidden term on line 8 at column 7.
    text = (WITNESS + "\n\nLigne GRATUIT A VIE\n").replace("\n", newline)
    found = findings_with_witness(make_repo, text)
    assert [(f.rule, f.line, f.column) for f in found] == [
        ("editorial.pillar", 4, 1),
        ("editorial.forbidden-term", 8, 7),
    ]


def test_a_file_over_1_mb_is_refused_but_1_mb_is_accepted(make_repo: MakeRepo) -> None:
    head = post("date: 2026-11-24 09:30\nchannels: [site]\npillar: education", "")
    exactly = head + "a" * (1_000_000 - len(head.encode()))
    root = make_repo({"big.md": exactly + "a", "ok.md": exactly, "witness.md": WITNESS})
    found, _ = validate_json(root)
    assert found == [
        Found(
            "content/big.md",
            1,
            1,
            "error",
            "content.file",
            None,
            "this file is 1,000,001 bytes, over the 1,000,000-byte limit for a post: "
            "is it really a post? Move large media to media/",
        ),
        WITNESS_FINDING,
    ]


def test_a_symlink_leaving_the_repository_is_refused(make_repo: MakeRepo, tmp_path: Path) -> None:
    outside = tmp_path / "secret.md"
    outside.write_text(GOOD, encoding="utf-8")
    root = make_repo({"witness.md": WITNESS, "inside.md": GOOD})
    (root / "content/link.md").symlink_to(outside)
    # A link to another file of the repository is fine (it is also a duplicate id, though).
    (root / "content/sub").mkdir()
    (root / "content/sub/inside-link.md").symlink_to(root / "content/inside.md")
    found, _ = validate_json(root)
    assert (
        Found(
            "content/link.md",
            1,
            1,
            "error",
            "content.file",
            None,
            "this file is a symbolic link leading outside the repository: copy the file into the "
            "repository instead",
        )
        in found
    )
    assert WITNESS_FINDING in found
    assert only(found, "content.file") == [f for f in found if f.path == "content/link.md"]


def test_a_broken_symlink_is_reported(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo({"witness.md": WITNESS})
    (root / "content/gone.md").symlink_to(root / "content/nowhere.md")
    found, _ = validate_json(root)
    gone = [f for f in found if f.path == "content/gone.md"]
    assert [(f.rule, f.line, f.column) for f in gone] == [("content.file", 1, 1)]
    assert WITNESS_FINDING in found


def test_channel_singular_form_is_accepted(make_repo: MakeRepo) -> None:
    text = post("date: 2026-11-24 09:30\nchannel: site\npillar: education")
    assert findings_with_witness(make_repo, text) == []


def test_unclosed_front_matter_is_reported_at_the_top(make_repo: MakeRepo) -> None:
    text = "---\ndate: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\n\nCorps\n"
    found = findings_with_witness(make_repo, text)
    assert [(f.rule, f.line, f.column, f.level) for f in found] == [
        ("frontmatter.required", 1, 1, "error")
    ]


def test_unclosed_front_matter_says_the_closing_line_is_missing(make_repo: MakeRepo) -> None:
    text = "---\ndate: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\n\nCorps\n"
    [f] = findings_with_witness(make_repo, text)
    assert "closing" in f.message or "not closed" in f.message


@pytest.mark.parametrize("front", ["---\n---\n", "---\n# à compléter\n---\n"])
def test_empty_front_matter_is_reported(make_repo: MakeRepo, front: str) -> None:
    found = findings_with_witness(make_repo, front + "Un texte.\n")
    assert [(f.rule, f.line, f.column) for f in found] == [("frontmatter.required", 1, 1)]


def test_yaml_alias_bomb_is_refused(make_repo: MakeRepo) -> None:
    # 5 levels of 9 aliases: 59,049 strings from a 300-byte front-matter.
    lines = ['tags: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"summary{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 5)]
    text = post(
        "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\n" + "\n".join(lines)
    )
    found = findings_with_witness(make_repo, text)
    assert "frontmatter.syntax" in {f.rule for f in found}


def test_hidden_and_non_markdown_files_are_not_posts(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            ".brouillon.md": b"\x00",
            "notes.txt": b"\x00",
            "witness.md": WITNESS,
            ".git/x.md": b"\x00",
        }
    )
    found, summary = validate_json(root)
    assert found == [WITNESS_FINDING]
    assert summary["files"] == 1


def test_every_bad_file_at_once_through_the_entry_point(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    # One run over all of them: exit 1 (findings), never 3 (internal error).
    outside = tmp_path / "outside.md"
    outside.write_text(GOOD, encoding="utf-8")
    root = make_repo(
        {
            "latin1.md": LATIN1.encode("latin-1"),
            "binary.md": b"\x00\x01",
            "empty.md": "",
            "list.md": "---\n- a\n---\n",
            "scalar.md": "---\n42\n---\n",
            "unclosed.md": "---\ndate: 2026-11-24 09:30\n",
            "yaml.md": "---\ndate: [\n---\n",
            "big.md": "a" * 1_000_001,
            "crlf.md": GOOD.replace("\n", "\r\n"),
            "bom.md": "\ufeff" + GOOD.replace("mastodon", "x"),
            "witness.md": WITNESS,
        }
    )
    os.symlink(outside, root / "content/link.md")
    proc = run_main(["validate", "--at", BEFORE_ALL, "--format", "json"], root)
    assert proc.returncode == 1, proc.stderr
    assert "internal error" not in proc.stderr
    assert '"path": "content/witness.md"' in proc.stdout


def test_preview_of_a_bad_file_is_a_clear_error(make_repo: MakeRepo) -> None:
    root = make_repo({"binary.md": b"\x00\x01", "big.md": "a" * 1_000_001})
    result = run_cli(["preview", "content/big.md"], root)
    assert result.exit_code == 2
    assert "content/big.md: this file is 1,000,001 bytes" in result.stderr


# --- One typo in one post never stops the run (it used to be exit 3 for the whole queue) ---

HEAD = "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\n"
NO_TAG = (
    'is not supported: remove it and write the value plainly (in quotes, "...", to keep it as text)'
)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        pytest.param(
            post("date: 2026-02-30\nchannels: [mastodon]\npillar: education"),
            (
                "frontmatter.date",
                2,
                1,
                "'2026-02-30' is not a valid date: day 30: that month has 28 days",
            ),
            id="february-30",
        ),
        pytest.param(
            post("date: 2026-13-01 09:00\nchannels: [mastodon]\npillar: education"),
            (
                "frontmatter.date",
                2,
                1,
                "'2026-13-01 09:00' is not a valid date: the month is 13: it runs from 1 to 12",
            ),
            id="month-13",
        ),
        pytest.param(
            post("date: 2027-02-30T10:00:00+01:00\nchannels: [mastodon]\npillar: education"),
            (
                "frontmatter.date",
                2,
                1,
                "'2027-02-30T10:00:00+01:00' is not a valid date: day 30: that month has 28 days",
            ),
            id="february-30-with-an-offset",
        ),
        pytest.param(
            post("date: 2026-11-24T09:30:00+99:00\nchannels: [mastodon]\npillar: education"),
            (
                "frontmatter.date",
                2,
                1,
                "'2026-11-24T09:30:00+99:00' is not a date: write 2026-11-24 09:30 (in the "
                "brand's timezone) or 2026-11-24T09:30:00+01:00",
            ),
            id="offset-out-of-range",
        ),
        pytest.param(
            post(HEAD + 'title: !!int "abc"'),
            ("frontmatter.syntax", 5, 8, f"front-matter is not valid YAML: the tag !!int {NO_TAG}"),
            id="tag-int",
        ),
        pytest.param(
            post(HEAD + "title: !!float x"),
            (
                "frontmatter.syntax",
                5,
                8,
                f"front-matter is not valid YAML: the tag !!float {NO_TAG}",
            ),
            id="tag-float",
        ),
        pytest.param(
            post(HEAD + 'title: !!binary "@@@"'),
            (
                "frontmatter.syntax",
                5,
                8,
                f"front-matter is not valid YAML: the tag !!binary {NO_TAG}",
            ),
            id="tag-binary",
        ),
        pytest.param(
            post("date: !!timestamp x\nchannels: [mastodon]\npillar: education"),
            (
                "frontmatter.syntax",
                2,
                7,
                f"front-matter is not valid YAML: the tag !!timestamp {NO_TAG}",
            ),
            id="tag-timestamp",
        ),
        pytest.param(
            post(HEAD + 'title: !!python/object/apply:os.system ["id"]'),
            (
                "frontmatter.syntax",
                5,
                8,
                f"front-matter is not valid YAML: the tag !!python/object/apply:os.system {NO_TAG}",
            ),
            id="tag-python",
        ),
        pytest.param(
            post(HEAD + "title: !foo x"),
            ("frontmatter.syntax", 5, 8, f"front-matter is not valid YAML: the tag !foo {NO_TAG}"),
            id="tag-unknown",
        ),
        pytest.param(
            post(HEAD + "tags: !!set {a, b}"),
            ("frontmatter.syntax", 5, 7, f"front-matter is not valid YAML: the tag !!set {NO_TAG}"),
            id="tag-set",
        ),
        pytest.param(
            post(HEAD + "1: x"),
            ("frontmatter.unknown-field", 5, 1, "unknown key '1'"),
            id="key-int",
        ),
        pytest.param(
            post(HEAD + "null: x"),
            ("frontmatter.unknown-field", 5, 1, "unknown key 'null'"),
            id="key-null",
        ),
        pytest.param(
            post(HEAD + "2026-01-01: x"),
            ("frontmatter.unknown-field", 5, 1, "unknown key '2026-01-01'"),
            id="key-date",
        ),
        pytest.param(
            post(HEAD + "true: x"),
            ("frontmatter.unknown-field", 5, 1, "unknown key 'true' (did you mean 'thread'?)"),
            id="key-bool",
        ),
        pytest.param(
            post(HEAD + "[a]: x"),
            (
                "frontmatter.syntax",
                5,
                1,
                "front-matter is not valid YAML: a key must be a name, not a list or a mapping",
            ),
            id="key-list",
        ),
        pytest.param(
            post(HEAD + "variants:\n  mastodon:\n    1: x"),
            ("frontmatter.unknown-field", 7, 5, "unknown key '1' in variants.mastodon"),
            id="key-int-in-variants",
        ),
        pytest.param(
            post(HEAD + "title: &t Bonjour\nsummary: *t"),
            (
                "frontmatter.syntax",
                5,
                8,
                "front-matter is not valid YAML: anchor &t is not allowed: remove it and write "
                "the value out wherever it is needed (anchors and aliases are refused)",
            ),
            id="anchor",
        ),
        pytest.param(
            # 990 nested lists: the 100th `[` (the mapping is the first level) is column 106.
            post(HEAD + "tags: " + "[" * 990 + "]" * 990),
            (
                "frontmatter.syntax",
                5,
                106,
                "front-matter is not valid YAML: nested more than 100 levels deep: "
                "flatten the structure",
            ),
            id="deep-flow",
        ),
        pytest.param(
            # Line 5 is `tags:`, then one `-` a line, two more spaces each time.
            post(HEAD + "tags:\n" + "".join("  " * i + "-\n" for i in range(1, 990)) + "x"),
            (
                "frontmatter.syntax",
                105,
                201,
                "front-matter is not valid YAML: nested more than 100 levels deep: "
                "flatten the structure",
            ),
            id="deep-block",
        ),
        pytest.param(
            post(HEAD + 'title: "Bonjour\x1b[31m"'),
            (
                "frontmatter.syntax",
                5,
                16,
                "front-matter is not valid YAML: control character U+001B is not allowed: "
                "remove it",
            ),
            id="control-character",
        ),
        pytest.param(
            post(HEAD + 'media:\n  - path: "media/a\\0.jpg"\n    alt: Une photo'),
            (
                "frontmatter.syntax",
                6,
                11,
                "front-matter is not valid YAML: a NUL character (\\0) is not allowed: remove it",
            ),
            id="nul-in-media-path",
        ),
        pytest.param(
            post(HEAD + "id: " + "a" * 101),
            (
                "frontmatter.type",
                5,
                1,
                "id is 101 characters long: keep it under 100 (it names the post's publish "
                "record, a file)",
            ),
            id="id-too-long",
        ),
    ],
)
def test_a_typo_in_one_value_is_a_finding_on_that_post(
    make_repo: MakeRepo, bad: str, expected: tuple[str, int, int, str]
) -> None:
    rule, line, column, message = expected
    found = findings_with_witness(make_repo, bad)
    assert found == [Found("content/bad.md", line, column, "error", rule, None, message)]


def test_a_non_text_key_in_a_media_item_is_a_finding(make_repo: MakeRepo) -> None:
    bad = post(HEAD + "media:\n  - path: media/a.jpg\n    alt: Une photo\n    null: x")
    root = make_repo({"bad.md": bad, "witness.md": WITNESS}, media={"media/a.jpg": JPEG})
    found, _ = validate_json(root)
    assert found == [
        Found(
            "content/bad.md",
            8,
            5,
            "error",
            "frontmatter.unknown-field",
            None,
            "unknown key 'null' in media[0]",
        ),
        WITNESS_FINDING,
    ]


def test_a_line_separator_does_not_shift_the_lines(make_repo: MakeRepo) -> None:
    # YAML 1.1 breaks lines at U+2028; editors and cmflow do not: `pilar` stays on line 6.
    found = findings_with_witness(make_repo, post(HEAD + 'title: "a\u2028b"\npilar: x'))
    assert [(f.rule, f.line, f.column) for f in found] == [("frontmatter.unknown-field", 6, 1)]


def test_a_cr_only_file_that_is_not_utf8_names_the_right_line(make_repo: MakeRepo) -> None:
    found = findings_with_witness(make_repo, LATIN1.replace("\n", "\r").encode("latin-1"))
    assert [(f.rule, f.line, f.column) for f in found] == [("content.file", 5, 11)]


def test_every_typo_at_once_through_plan_preview_and_publish(make_repo: MakeRepo) -> None:
    # These stopped validate, plan, preview and publish with "internal error", exit 3.
    root = make_repo(
        {
            "fevrier.md": post("date: 2026-02-30\nchannels: [site]\npillar: education"),
            "tag.md": post('date: 2026-11-24 09:30\nchannels: [site]\ntitle: !!int "abc"'),
            "cle.md": post("date: 2026-11-24 09:30\nchannels: [site]\npillar: education\n1: x"),
            "profond.md": post("date: 2026-11-24 09:30\nchannels: [site]\ntags: " + "[" * 990),
            "bon.md": post("date: 2026-11-24 09:30\nchannels: [site]\npillar: education"),
        }
    )
    at = ["--at", "2026-11-24 10:00"]
    validate = run_main(["validate", *at], root)
    assert validate.returncode == 1, validate.stderr
    assert "internal error" not in validate.stderr
    for rel in ("fevrier", "tag", "cle", "profond"):
        assert f"content/{rel}.md:" in validate.stdout
    plan = run_main(["plan", *at], root)
    assert plan.returncode == 0, plan.stderr
    assert "+ publish" in plan.stdout and "content/bon.md" in plan.stdout
    # The posts whose channels could be read are listed as invalid, never planned.
    assert "invalid" in line_of(plan.stdout, "content/fevrier.md")
    assert "invalid" in line_of(plan.stdout, "content/cle.md")
    published = [ln for ln in plan.stdout.splitlines() if "+ publish" in ln]
    assert len(published) == 1 and "content/bon.md" in published[0]
    for rel in ("fevrier", "tag", "cle", "profond"):
        preview = run_main(["preview", f"content/{rel}.md"], root)
        assert "internal error" not in preview.stderr
        assert preview.returncode in (0, 1, 2), preview.stderr
    publish = run_main(["publish", "--dry-run", *at], root)
    assert publish.returncode in (0, 1), publish.stderr  # 1: invalid posts were skipped
    assert "internal error" not in publish.stderr
    assert "content/bon.md" in publish.stdout


def line_of(text: str, needle: str) -> str:
    [line] = [ln for ln in text.splitlines() if needle in ln]
    return line


def test_preview_at_is_the_clock_its_findings_read(make_repo: MakeRepo) -> None:
    """`preview --at`: how late a post is, as of that time (as `validate --at`)."""
    root = make_repo({"a.md": post("date: 2026-11-24 09:30\nchannels: [x]\npillar: education")})
    before = run_cli(["preview", "content/a.md", "--at", "2026-11-01 00:00"], root)
    after = run_cli(["preview", "content/a.md", "--at", "2027-06-01 00:00"], root)
    assert before.exit_code == 0 and after.exit_code == 0, (before.output, after.output)
    assert "schedule.past" not in before.stdout
    assert "schedule.past" in after.stdout
