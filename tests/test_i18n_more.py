"""French for the messages the first i18n pass left in English: the hints and type errors of
the file formats (cmflow/schema.py: "did you mean", "must be a mapping, got …", "the
channels defined are …"), the "(slot)" label of a time a queue slot gave, and numbers in
messages (1 000 000 octets, 30 %). Through the real `cmflow validate` on a real repository,
with `language: fr` in channels.yaml and CMFLOW_LANG unset, and through a real process with
LANG=fr_FR.UTF-8 for a brand that says nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cmflow import i18n
from tests.conftest import BEFORE_ALL, CHANNELS_YAML, JPEG, post, run_cli, run_main

MakeRepo = Callable[..., Path]
LOCALE = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def validate_text(root: Path, at: str = BEFORE_ALL) -> str:
    result = run_cli(["validate", "--format", "text", "--no-cache", "--at", at], root)
    assert result.exit_code == 1, result.output
    return result.stdout


# A post with a misspelt channel, a misspelt key, a status that is not one, a media entry
# that is a bare file name, one without its path, an empty key, and a list for a mapping.
BAD_POST = post(
    """
    date: 2026-11-24 09:30
    channels: [sitee]
    pilar: education
    status: publie
    media: [photo.jpg, {alt: Une photo}]
    thread:
    evergreen: [90d]
    """
)


def test_a_bad_post_is_explained_in_french(make_repo: MakeRepo, unset_language: None) -> None:
    root = make_repo({"a.md": BAD_POST}, media={"media/photo.jpg": JPEG})
    out = validate_text(root)
    for line in (
        "content/a.md:3:12: erreur frontmatter.unknown-channel  le canal 'sitee' n'est pas "
        "défini dans channels.yaml (vouliez-vous dire 'site' ?) ; canaux définis : bluesky, "
        "instagram, linkedin, mastodon, site, telegram, threads, x",
        "content/a.md:4:1: erreur frontmatter.unknown-field  clé inconnue 'pilar' "
        "(vouliez-vous dire 'pillar' ?)",
        "content/a.md:5:1: erreur frontmatter.status  status vaut 'publie' : choisissez parmi "
        "draft, ready",
        "content/a.md:6:9: erreur frontmatter.type  media[0] doit être un ensemble de lignes "
        "`clé: valeur`, reçu le texte 'photo.jpg'",
        "content/a.md:6:20: erreur frontmatter.type  clé obligatoire manquante : media[1].path",
        "content/a.md:7:1: erreur frontmatter.type  thread est vide : indiquez une valeur ou "
        "retirez la clé",
        "content/a.md:8:1: erreur frontmatter.type  evergreen doit être un ensemble de lignes "
        "`clé: valeur` ou true ou false, reçu une liste",
    ):
        assert line in out.splitlines(), out
    assert "did you mean" not in out and "must be" not in out, out


def test_the_same_post_stays_english_for_an_english_brand(
    make_repo: MakeRepo, unset_language: None
) -> None:
    """The English words are unchanged: the language is the brand's choice."""
    config = CHANNELS_YAML.replace("language: fr\n", "language: en\n")
    root = make_repo({"a.md": BAD_POST}, config=config, media={"media/photo.jpg": JPEG})
    out = validate_text(root)
    assert "media[0] must be a mapping, got str 'photo.jpg'" in out, out
    assert "(did you mean 'site'?); the channels defined are bluesky, instagram" in out, out


def test_channels_yaml_type_errors_and_hints_in_french(
    make_repo: MakeRepo, unset_language: None
) -> None:
    config = (
        CHANNELS_YAML.replace("max_share: {product: 0.3}", "max_share: {produit: 0.3}")
        .replace("max_hashtags: 5", "max_hashtags: cinq")
        .replace("      min_gap: 20h\n", "      min_gap: 20h\n      max_lenght: 300\n")
        .replace("    platform: feed\n", "    platform: feed\n    evergreen: [90d]\n")
    )
    root = make_repo(config=config)
    result = run_cli(["validate", "--root", str(root)], root)
    assert result.exit_code == 2
    for line in (
        "channels.yaml a 4 problèmes :",
        "channels.yaml:7:3: editorial_line.max_hashtags doit être un nombre entier, reçu le "
        "texte 'cinq'",
        "channels.yaml:9:21: mix nomme le pilier 'produit', absent de pillars "
        "(vouliez-vous dire 'product' ?)",
        "channels.yaml:29:7: clé inconnue 'max_lenght' dans channels.linkedin.rules "
        "(vouliez-vous dire 'max_length' ?)",
        "channels.yaml:49:5: channels.site.evergreen doit être un ensemble de lignes "
        "`clé: valeur`, reçu une liste",
    ):
        assert line in result.stderr, result.stderr


def test_a_slot_time_and_a_size_in_french(make_repo: MakeRepo, unset_language: None) -> None:
    """`(créneau)` after a time a queue slot gave; French thousands in a size in bytes."""
    config = CHANNELS_YAML.replace(
        "      min_gap: 20h\n", '      min_gap: 20h\n    slots: ["Mon 12:00"]\n'
    ).replace(
        "    token_env: CMFLOW_MASTODON_TOKEN\n",
        "    token_env: CMFLOW_MASTODON_TOKEN\n    rules: {max_media_bytes: 1000}\n",
    )
    big = JPEG + b"\0" * (1_000_000 - len(JPEG))
    posts = {
        "a.md": post("date: next\nchannels: [linkedin]\npillar: education", "Texte #Marque"),
        "b.md": post(
            "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\n"
            "media: [{path: media/photo.jpg, alt: Une photo}]"
        ),
    }
    root = make_repo(posts, config=config, media={"media/photo.jpg": big})
    out = validate_text(root, at="2026-11-20 10:00")
    assert "linkedin: lun. 23 nov. 12:00 CET (créneau) est hors des créneaux" in out, out
    assert (
        "mastodon: media/photo.jpg fait 1 000 000 octets ; Mastodon en accepte au plus 1 000"
    ) in out, out


def test_the_locale_gives_french_hints_to_a_brand_that_says_nothing(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real process with LANG=fr_FR.UTF-8 and no `language:` in channels.yaml."""
    for name in ("CMFLOW_LANG", *LOCALE):
        monkeypatch.delenv(name, raising=False)
    root = make_repo(
        {"a.md": BAD_POST},
        config=CHANNELS_YAML.replace("language: fr\n", ""),
        media={"media/photo.jpg": JPEG},
    )
    args = ["validate", "--format", "text", "--no-cache", "--at", BEFORE_ALL]
    fr = run_main(args, root, {"LANG": "fr_FR.UTF-8"})
    assert fr.returncode == 1, fr.stderr
    assert "media[0] doit être un ensemble de lignes `clé: valeur`, reçu le texte" in fr.stdout
    en = run_main(args, root, {"LANG": "fr_FR.UTF-8", "CMFLOW_LANG": "en"})
    assert "media[0] must be a mapping, got str 'photo.jpg'" in en.stdout, en.stdout


def test_numbers_in_messages_follow_the_language() -> None:
    try:
        i18n.activate("fr")
        assert (i18n.number(1_000_000), i18n.percent(0.3), i18n.percent(0.045, 1)) == (
            "1 000 000",
            "30 %",
            "4,5 %",
        )
        i18n.activate("en")
        assert (i18n.number(1_000_000), i18n.percent(0.3), i18n.percent(0.045, 1)) == (
            "1,000,000",
            "30%",
            "4.5%",
        )
    finally:
        i18n.activate("en")


def test_a_brand_without_channels_is_told_so_in_its_language() -> None:
    """Not "the channels defined are none": a sentence that reads in either language."""
    from cmflow.schema import channel_hint

    try:
        assert channel_hint("twitter", {}) == (
            " ('twitter' is the x platform, and no channel uses it); no channel is defined yet"
        )
        i18n.activate("fr")
        assert channel_hint("twitter", {}) == (
            " ('twitter' désigne la plateforme x, et aucun canal ne l'utilise) ; "
            "aucun canal n'est encore défini"
        )
    finally:
        i18n.activate("en")
