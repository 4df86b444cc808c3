"""French for validation: a brand that writes `language: fr` in channels.yaml reads the
findings of every rule module, the rule catalogue and its channels.yaml errors in French
(with CMFLOW_LANG unset), through the real `cmflow validate` and `cmflow rules` on a real
repository; the locale (`LANG=fr_FR.UTF-8`) does the same for a brand that says nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cmflow import i18n
from cmflow.rules import RULES
from tests.conftest import BEFORE_ALL, CHANNELS_YAML, JPEG, post, run_cli, run_main

MakeRepo = Callable[..., Path]
LOCALE = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def findings(root: Path, *args: str, at: str = BEFORE_ALL) -> list[dict[str, object]]:
    result = run_cli(["validate", "--format", "json", "--no-cache", "--at", at, *args], root)
    assert result.exit_code in (0, 1), result.output
    found: list[dict[str, object]] = json.loads(result.stdout)["findings"]
    return found


def text_output(root: Path, at: str = BEFORE_ALL) -> str:
    result = run_cli(["validate", "--format", "text", "--no-cache", "--at", at], root)
    assert result.exit_code in (0, 1), result.output
    return result.stdout


LONG = "a" * 501
SECRET = "ghp_" + "A1b2C3d4E5" * 4

# (rule, post file, what its French message says), one or more per rule module.
CASES: list[tuple[str, str, str]] = [
    (
        "frontmatter.required",
        post("date: 2026-11-24 09:30\npillar: education"),
        "channels manquant : ajoutez `channels: [mastodon, bluesky]`",
    ),
    (
        "frontmatter.syntax",
        "---\ndate: 2026-11-24 09:30\ntitle: Bonjour: le monde\nchannels: [mastodon]\n---\nx\n",
        "l'en-tête n'est pas du YAML valide : YAML lit ce `:` comme le début d'une autre clé",
    ),
    (
        "frontmatter.date",
        post("date: 2026-03-29 02:30\nchannels: [mastodon]\npillar: education"),
        "2026-03-29 02:30 n'existe pas dans Europe/Paris (passage à l'heure d'été) : "
        "choisissez une autre heure",
    ),
    (
        "frontmatter.unknown-channel",
        post(
            "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\n"
            "variants: {x: {body: Court.}}"
        ),
        "variante pour 'x', mais la publication n'y va pas : ajoutez-le à channels",
    ),
    (
        "content.file",
        "---\ndate: 2026-11-24 09:30\n\x00\x01binaire",
        "ce fichier est binaire, ce n'est pas une publication Markdown : déplacez-le dans media/",
    ),
    (
        "channel.max-length",
        post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education", LONG),
        "501/500 caractères (un lien compte 23 par défaut, @nom@domaine compte comme @nom) — "
        "raccourcissez-le, indiquez `thread: auto`",
    ),
    (
        "channel.max-hashtags",
        post(
            "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education",
            "Texte #un #deux #trois #quatre #cinq #six",
        ),
        "6 hashtags, au plus 5 (#un #deux #trois #quatre #cinq #six)",
    ),
    (
        "channel.media-alt",
        post(
            "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\n"
            "media: [media/photo.jpg]"
        ),
        "media/photo.jpg n'a pas de texte alternatif : ajoutez `alt:`",
    ),
    (
        "channel.media-missing",
        post(
            "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\n"
            "media: [{path: media/absente.jpg, alt: Une photo}]"
        ),
        "media/absente.jpg n'existe pas",
    ),
    (
        "channel.media-required",
        post("date: 2026-11-24 09:30\nchannels: [instagram]\npillar: education"),
        "Instagram exige une image ou une vidéo : ajoutez `media:` (ou une variante)",
    ),
    (
        "editorial.forbidden-term",
        post(
            "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education",
            "Pour en savoir plus, Cliquez Ici.",
        ),
        "terme interdit 'cliquez ici' dans le texte ('Cliquez Ici') : reformulez",
    ),
    (
        "editorial.pillar",
        post("date: 2026-11-24 09:30\nchannels: [mastodon]"),
        "pas de pilier : ajoutez `pillar:` (education, community, product)",
    ),
    (
        "editorial.required-hashtag",
        post("date: 2026-11-24 09:00\nchannels: [linkedin]\npillar: education"),
        "hashtag obligatoire manquant : #Marque",
    ),
    (
        "schedule.window",
        post("date: 2026-11-23 09:30\nchannels: [linkedin]\npillar: education", "#Marque"),
        "lun. 23 nov. 09:30 CET est hors des créneaux de publication "
        "(Tue-Thu 08:00-10:00; Tue-Thu 17:00-18:30)",
    ),
    (
        "security.secret",
        post(
            "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education",
            f"Le jeton : {SECRET}",
        ),
        "ceci ressemble à un jeton GitHub : retirez-le de la publication et changez-le",
    ),
]


@pytest.mark.parametrize(("rule", "text", "french"), CASES, ids=[c[0] for c in CASES])
def test_a_french_brand_reads_each_rule_in_french(
    make_repo: MakeRepo, unset_language: None, rule: str, text: str, french: str
) -> None:
    root = make_repo({"a.md": text}, media={"media/photo.jpg": JPEG})
    found = [f for f in findings(root) if f["rule"] == rule]
    assert found, f"{rule} did not fire"
    assert any(french in str(f["message"]) for f in found), found
    # The same words in the text output, where the path and position come first.
    out = text_output(root)
    assert french.split(" : ")[0] in out, out
    assert "content/a.md:" in out


def test_the_queue_rules_speak_french(make_repo: MakeRepo, unset_language: None) -> None:
    """schedule.daily-cap, schedule.min-gap, schedule.past, frontmatter.duplicate-id and
    editorial.mix: the rules run over the whole queue."""
    linkedin = "channels: [linkedin]\npillar: education\nid: {id}"
    posts = {
        "a.md": post("date: 2026-11-24 08:30\n" + linkedin.format(id="lancement"), "#Marque"),
        "b.md": post("date: 2026-11-24 09:30\n" + linkedin.format(id="lancement"), "#Marque"),
    }
    for i in range(4):
        posts[f"p{i}.md"] = post(
            f"date: 2026-12-0{i + 1} 10:00\nchannels: [mastodon]\npillar: product"
        )
    root = make_repo(posts)
    found = findings(root, at="2026-12-10 12:00")
    messages = {(f["rule"], str(f["message"])) for f in found}

    def said(rule: str, french: str) -> bool:
        return any(r == rule and french in m for r, m in messages)

    assert said("schedule.daily-cap", "2 publications le 2026-11-24, au plus 1 par jour (aussi : ")
    assert said("schedule.min-gap", "1h après content/a.md, l'écart minimum est de 20h")
    assert said(
        "frontmatter.duplicate-id", "l'id 'lancement' (tiré de son `id:`) est aussi utilisé"
    )
    assert said("schedule.past", "programmée il y a ")
    assert said(
        "editorial.mix",
        "product représente 4/4 publications (100 %) sur les 14 jours jusqu'à",
    )


def test_the_rule_catalogue_is_listed_in_the_brands_language(
    make_repo: MakeRepo, unset_language: None
) -> None:
    english = {r.id: r.summary for r in RULES}
    root = make_repo()
    result = run_cli(["rules", "--root", str(root), "--format", "json"], root)
    assert result.exit_code == 0, result.output
    listed = {row["id"]: row["fires_when"] for row in json.loads(result.stdout)}
    assert set(listed) == set(english)
    for rule_id, summary in listed.items():
        assert summary != english[rule_id], f"{rule_id} is listed in English: {summary}"
    assert listed["editorial.forbidden-term"] == (
        "un terme interdit apparaît (majuscules et accents ignorés)"
    )
    text = run_cli(["rules", "--root", str(root)], root).stdout
    assert "deux publications ont le même id" in text
    # The summaries are translated when shown: the same process speaks English again.
    i18n.activate("en")
    assert {r.id: r.summary for r in RULES} == english


def test_a_channels_yaml_error_in_french_at_its_line_and_column(
    make_repo: MakeRepo, unset_language: None
) -> None:
    config = CHANNELS_YAML.replace("timezone: Europe/Paris", "timezone: Paris").replace(
        "min_gap: 20h", "min_gap: 20 heures"
    )
    root = make_repo(config=config)
    result = run_cli(["validate", "--root", str(root)], root)
    assert result.exit_code == 2
    assert "channels.yaml a 2 problèmes :" in result.stderr
    assert (
        "channels.yaml:1:1: fuseau horaire inconnu 'Paris' : utilisez un nom de la base des "
        "fuseaux horaires comme Europe/Paris"
    ) in result.stderr
    assert (
        "channels.yaml:28:7: une durée comme 48h, 90m ou 2d est attendue, reçu '20 heures'"
    ) in result.stderr


def test_a_channels_yaml_yaml_cannot_read_says_so_in_the_brands_language(
    make_repo: MakeRepo, unset_language: None
) -> None:
    """The file is not YAML, so its `language:` line is read from the text."""
    root = make_repo(config=CHANNELS_YAML.replace("  x:\n", "  x:\n\t"))
    result = run_cli(["validate", "--root", str(root)], root)
    assert result.exit_code == 2
    assert (
        "channels.yaml:30:1: YAML invalide : une valeur ne peut pas commencer par ce caractère"
    ) in result.stderr


def test_the_locale_chooses_french_when_the_brand_says_nothing(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real process with LANG=fr_FR.UTF-8 and no `language:` in channels.yaml."""
    for name in ("CMFLOW_LANG", *LOCALE):
        monkeypatch.delenv(name, raising=False)
    root = make_repo(
        {"a.md": post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education", LONG)},
        config=CHANNELS_YAML.replace("language: fr\n", ""),
    )
    args = ["validate", "--format", "json", "--no-cache", "--at", BEFORE_ALL]
    fr = run_main(args, root, {"LANG": "fr_FR.UTF-8"})
    assert fr.returncode == 1, fr.stderr
    [finding] = json.loads(fr.stdout)["findings"]
    assert finding["message"].startswith("501/500 caractères (un lien compte 23 par défaut")
    en = run_main(args, root, {"LANG": "fr_FR.UTF-8", "CMFLOW_LANG": "en"})
    [finding] = json.loads(en.stdout)["findings"]
    assert finding["message"].startswith("501/500 characters (a link counts 23 by default")


def test_cached_findings_are_given_in_the_language_asked_now(
    make_repo: MakeRepo, unset_language: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache keeps messages as written: a run in another language does not reuse them."""
    root = make_repo(
        {"a.md": post("date: 2026-11-24 09:30\nchannels: [mastodon]", "Un texte simple.")}
    )
    args = ["validate", "--format", "json", "--at", BEFORE_ALL]

    def message() -> str:
        result = run_cli(args, root)
        [finding] = json.loads(result.stdout)["findings"]
        return str(finding["message"])

    assert message().startswith("pas de pilier")
    assert message().startswith("pas de pilier")  # from the cache
    monkeypatch.setenv("CMFLOW_LANG", "en")
    assert message().startswith("no pillar")
    monkeypatch.delenv("CMFLOW_LANG")
    assert message().startswith("pas de pilier")


def test_speaking_the_language_already_spoken_reads_no_catalogue_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """channels.yaml is read in its language, then the command goes on in it: reading the
    catalogue again each time would cost milliseconds on every run."""
    i18n.activate("fr")
    try:
        monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)  # no catalogue here
        assert i18n.activate("fr") == "fr"
        assert i18n._("invalid YAML") == "YAML invalide"
    finally:
        i18n.activate("en")
