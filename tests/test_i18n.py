"""French and English: every message of the code is in the French catalogue, the compiled
catalogue matches its source, the language follows CMFLOW_LANG, the brand and the locale,
and a third language is a catalogue file, not a code change."""

from __future__ import annotations

import ast
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from cmflow import i18n

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cmflow"
PO = PACKAGE / "locale" / "fr" / "LC_MESSAGES" / "cmflow.po"
MO = PO.with_suffix(".mo")
POT = PACKAGE / "locale" / "cmflow.pot"
KEYWORDS = {"_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?:[!:][^{}]*)?\}(?!\})")


def source_ids() -> set[str | tuple[str, str]]:
    ids: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        ids.add(message if isinstance(message, str) else (message[0], message[1]))
    return ids


def catalogue(path: Path) -> dict[str | tuple[str, str], object]:
    with path.open("rb") as fp:
        cat = read_po(fp)
    return {m.id: m for m in cat if m.id}  # type: ignore[misc]


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def test_every_message_of_the_code_has_a_french_translation() -> None:
    ids = source_ids()
    assert ids, "no message wrapped in _() was found: the extraction is broken"
    fr = catalogue(PO)
    missing = sorted(str(i) for i in ids if i not in fr)
    assert not missing, f"add these to {PO.relative_to(ROOT)} (docs/translating.md): {missing}"
    problems = []
    for mid in ids:
        msg = fr[mid]
        strings = msg.string if isinstance(msg.string, (list, tuple)) else [msg.string]  # type: ignore[attr-defined]
        if not all(strings) or msg.fuzzy:  # type: ignore[attr-defined]
            problems.append(f"untranslated or fuzzy: {mid!r}")
            continue
        singulars = [mid] if isinstance(mid, str) else list(mid)
        want = set().union(*(placeholders(s) for s in singulars))
        for s in strings:
            if placeholders(s) - want:
                problems.append(f"{mid!r}: the translation names values the code does not give")
    assert not problems, "\n".join(problems)


def test_the_catalogue_holds_no_message_the_code_no_longer_says() -> None:
    stale = sorted(str(i) for i in set(catalogue(PO)) - source_ids())
    assert not stale, f"remove (or run pybabel update on) these stale entries: {stale}"


def test_the_template_lists_exactly_the_messages_of_the_code() -> None:
    assert set(catalogue(POT)) == source_ids(), (
        "cmflow/locale/cmflow.pot is out of date: see docs/translating.md"
    )


def test_no_translation_is_two_messages_run_together() -> None:
    """French runs longer than English, never twice as long on a sentence: a translation that
    is holds another message's too (a bad merge once ended the French help of `preview --at`
    with that of `collect --at`)."""
    long = []
    for mid, msg in catalogue(PO).items():
        singulars = [mid] if isinstance(mid, str) else list(mid)
        strings = msg.string if isinstance(msg.string, (list, tuple)) else [msg.string]  # type: ignore[attr-defined]
        if min(map(len, singulars)) >= 40 and any(
            len(s) > 2 * max(map(len, singulars)) for s in strings
        ):
            long.append(str(mid))
    assert not long, f"translations holding more than their message: {long}"


def test_the_compiled_catalogue_is_compiled_from_the_current_source() -> None:
    with PO.open("rb") as fp:
        cat = read_po(fp)
    buf = io.BytesIO()
    write_mo(buf, cat)
    import gettext

    fresh = gettext.GNUTranslations(io.BytesIO(buf.getvalue()))
    with MO.open("rb") as fp:
        shipped = gettext.GNUTranslations(fp)

    # The header ("" entry) carries compile-time dates: compare the messages only.
    def messages(t: gettext.GNUTranslations) -> dict[object, str]:
        return {k: v for k, v in t._catalog.items() if k != ""}  # type: ignore[attr-defined]

    assert messages(shipped) == messages(fresh), (
        "cmflow.mo is older than cmflow.po: pybabel compile -d cmflow/locale -D cmflow"
    )


def test_messages_are_literals_with_named_values() -> None:
    """`_(f"...")` would look up a message that is never in the catalogue, and `{}` or `%s`
    cannot be reordered by a translation."""
    bad = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id not in KEYWORDS:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            count = 2 if node.func.id == "ngettext" else 1
            args = node.args[:count]
            if len(args) < count or not all(
                isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args
            ):
                bad.append(f"{where}: the message must be a plain string literal")
                continue
            for a in args:
                text = a.value  # type: ignore[attr-defined]
                if "{}" in text or re.search(r"%[sdr]", text):
                    bad.append(f"{where}: name the values ({{count}}, not {{}} or %s)")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("env", "brand", "expected"),
    [
        ({}, None, "en"),
        ({"LANG": "fr_FR.UTF-8"}, None, "fr"),
        ({"LANG": "C.UTF-8"}, "fr", "fr"),
        ({"LANG": "fr_FR.UTF-8"}, "en", "en"),
        ({"LANGUAGE": "de:fr", "LANG": "en_US.UTF-8"}, None, "fr"),
        ({"LC_ALL": "fr_CA.UTF-8", "LANG": "en_GB.UTF-8"}, None, "fr"),
        ({"CMFLOW_LANG": "en"}, "fr", "en"),
        ({"CMFLOW_LANG": "fr", "LANG": "en_US.UTF-8"}, "en", "fr"),
        ({"CMFLOW_LANG": "xx"}, "fr", "fr"),  # no catalogue: the next choice
        ({"LANG": "POSIX"}, "de", "en"),
    ],
)
def test_which_language_is_spoken(env: dict[str, str], brand: str | None, expected: str) -> None:
    assert i18n.choose(brand, env) == expected


def run_cmflow(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(("CMFLOW_", "LC_", "LANG"))}
    return subprocess.run(
        [sys.executable, "-m", "cmflow", *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_locale_and_cmflow_lang_choose_the_language_of_errors(tmp_path: Path) -> None:
    fr = run_cmflow(["validate", "--root", str(tmp_path)], tmp_path, {"LANG": "fr_FR.UTF-8"})
    assert fr.returncode != 0
    assert "n'a pas de channels.yaml : indiquez la racine du dépôt" in fr.stderr
    en = run_cmflow(
        ["validate", "--root", str(tmp_path)],
        tmp_path,
        {"LANG": "fr_FR.UTF-8", "CMFLOW_LANG": "en"},
    )
    assert "has no channels.yaml: pass the repository root" in en.stderr


def test_a_third_language_is_a_catalogue_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A German catalogue dropped beside the French one is found and spoken, with no change
    to the code."""
    locale = tmp_path / "locale"
    shutil.copytree(PACKAGE / "locale", locale)
    with POT.open("rb") as fp:
        cat = read_po(fp, locale="de")
    mid = "{folder} has no {name}: pass the repository root"
    cat[mid].string = "{folder} hat keine {name}: geben Sie die Wurzel des Repositorys an"
    target = locale / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "cmflow.mo").open("wb") as fp:
        write_mo(fp, cat)
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    assert "de" in i18n.available()
    assert i18n.choose("de", {}) == "de"
    i18n.activate("de")
    try:
        assert i18n._(mid).format(folder="/x", name="channels.yaml").startswith("/x hat keine")
    finally:
        i18n.activate("en")
