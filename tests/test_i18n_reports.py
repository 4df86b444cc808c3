"""French and English in the documents cmflow writes (the calendar, its iCalendar export, the
report) and in what platforms answer (a refused token, a media problem), on real repositories
with the real entry point: `language: fr` or `en` in channels.yaml, CMFLOW_LANG removed.

The calendar and the report are documents for the brand: they speak the brand's `language`
even when CMFLOW_LANG sets another language for the messages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from icalendar import Calendar as ICalendar

from cmflow import i18n
from cmflow.report.i18n import Lang
from tests.conftest import run_main, write_repo
from tests.fakes import FakeDevto, FakeMastodon
from tests.publishing import (
    MASTODON_ENV,
    MASTODON_TOKEN,
    NOW,
    Site,
    created,
    mastodon_channel,
    post,
    site,
)
from tests.report_fixture import build as report_repo
from tests.test_planning import CONFIG, POSTS

CALENDAR = ["calendar", "--from", "2026-11-30", "--weeks", "2", "--at", "2026-12-02 10:00"]
PERIOD = ["--since", "2026-11-01", "--until", "2026-11-30"]


@pytest.fixture
def no_cmflow_lang(monkeypatch: pytest.MonkeyPatch) -> None:
    """The language comes from channels.yaml (or the locale), as for a real user."""
    monkeypatch.delenv("CMFLOW_LANG", raising=False)
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)


def calendar_repo(tmp_path: Path, language: str | None) -> Path:
    config = CONFIG.replace("language: fr\n", f"language: {language}\n" if language else "")
    return write_repo(tmp_path / "marque", POSTS, config=config)


# -- the calendar ------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_cmflow_lang")
def test_the_calendar_speaks_french_in_text_markdown_html_and_ics(tmp_path: Path) -> None:
    root = calendar_repo(tmp_path, "fr")
    text = run_main([*CALENDAR, "--format", "text"], root)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Calendrier éditorial (Europe/Paris)\n")
    assert "Semaine du 30 nov. 2026" in text.stdout
    assert "lun. 30" in text.stdout and "mar. 1" in text.stdout
    assert "Dates clés : 30 nov. Cyber Monday" in text.stdout
    assert "Rythme visé non atteint :\n  mastodon: 1/3 — semaine du 7 déc." in text.stdout
    assert "✓ publié · ◐ en cours · ● prévu" in text.stdout

    md = run_main([*CALENDAR, "--format", "md"], root)
    assert md.stdout.startswith("# Calendrier éditorial\n")
    assert "## Semaine du 7 déc. 2026" in md.stdout
    assert "| canal | lun. 7 | mar. 8 |" in md.stdout

    ics = tmp_path / "calendrier.ics"
    html = run_main([*CALENDAR, "--format", "html", "--ics", str(ics)], root)
    assert html.returncode == 0, html.stderr
    assert '<html lang="fr">' in html.stdout
    assert "<title>Calendrier éditorial</title>" in html.stdout
    assert "<h2>Semaine du 30 nov. 2026</h2>" in html.stdout
    events = ICalendar.from_ical(ics.read_bytes()).walk("VEVENT")
    descriptions = {str(e["DESCRIPTION"]) for e in events}
    assert "content/2026/12/2026-12-08-semaine2.md — prévu — education" in descriptions
    assert "content/2026/11/2026-11-30-lundi.md — en retard — education" in descriptions
    assert "content/2026/12/2026-12-04-brouillon.md — brouillon — education" in descriptions
    # The same from the validation cache (the runs above wrote it), pillar included.
    shutil.rmtree(root / ".cmflow-cache")
    for _ in range(2):
        again = run_main([*CALENDAR, "--format", "html", "--ics", str(ics)], root)
        assert again.returncode == 0, again.stderr
        events = ICalendar.from_ical(ics.read_bytes()).walk("VEVENT")
        assert {str(e["DESCRIPTION"]) for e in events} == descriptions


@pytest.mark.usefixtures("no_cmflow_lang")
def test_the_calendar_speaks_english_for_an_english_brand(tmp_path: Path) -> None:
    root = calendar_repo(tmp_path, "en")
    text = run_main([*CALENDAR, "--format", "text"], root)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Editorial calendar (Europe/Paris)\n")
    assert "Week of 30 Nov 2026" in text.stdout and "Mon 30" in text.stdout
    assert "Below the target cadence:\n  mastodon: 1/3 — week of 7 Dec" in text.stdout
    assert "✓ published · ◐ in progress" in text.stdout
    md = run_main([*CALENDAR, "--format", "md"], root)
    assert "| channel | Mon 7 | Tue 8 |" in md.stdout
    html = run_main([*CALENDAR, "--format", "html"], root)
    assert '<html lang="en">' in html.stdout and "<h1>Editorial calendar</h1>" in html.stdout


def test_the_calendar_follows_the_brand_when_cmflow_lang_sets_the_messages(
    tmp_path: Path,
) -> None:
    """CMFLOW_LANG=en (the team reads English): messages in English, the calendar, a document
    for a French brand, in French."""
    root = calendar_repo(tmp_path, "fr")
    bad = run_main([*CALENDAR, "--channel", "mastodom"], root, {"CMFLOW_LANG": "en"})
    assert bad.returncode != 0
    done = run_main(CALENDAR, root, {"CMFLOW_LANG": "en"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Calendrier éditorial")


@pytest.mark.usefixtures("no_cmflow_lang")
def test_a_brand_without_a_language_gets_the_calendar_in_the_locales(tmp_path: Path) -> None:
    root = calendar_repo(tmp_path, None)
    fr = run_main(CALENDAR, root, {"LANG": "fr_FR.UTF-8"})
    assert fr.returncode == 0, fr.stderr
    assert fr.stdout.startswith("Calendrier éditorial") and "lun. 30" in fr.stdout
    en = run_main(CALENDAR, root, {"LANG": "en_GB.UTF-8"})
    assert en.stdout.startswith("Editorial calendar") and "Mon 30" in en.stdout


# -- the report --------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_cmflow_lang")
@pytest.mark.parametrize("fmt", ["md", "text", "html"])
def test_the_report_speaks_the_brands_language(tmp_path: Path, fmt: str) -> None:
    fr = run_main(["report", *PERIOD, "--format", fmt], report_repo(tmp_path / "fr", "fr"))
    assert fr.returncode == 0, fr.stderr
    assert "Bilan des réseaux sociaux — 2026-11-01 → 2026-11-30" in fr.stdout
    assert "Taux d" in fr.stdout and "engagement" in fr.stdout and "Par canal" in fr.stdout
    assert "Produit par cmflow" in fr.stdout or fmt == "text"
    assert "Social media report" not in fr.stdout
    en = run_main(["report", *PERIOD, "--format", fmt], report_repo(tmp_path / "en", "en"))
    assert en.returncode == 0, en.stderr
    assert "Social media report — 2026-11-01 → 2026-11-30" in en.stdout
    assert "Engagement rate" in en.stdout and "By channel" in en.stdout
    assert "Bilan" not in en.stdout


@pytest.mark.usefixtures("no_cmflow_lang")
def test_report_errors_follow_the_brands_language(tmp_path: Path) -> None:
    root = report_repo(tmp_path / "fr", "fr")
    bad = run_main(["report", "--since", "2026-12-01", "--until", "2026-11-01"], root)
    assert bad.returncode != 0
    assert "--since 2026-12-01 est après --until 2026-11-01 : inversez-les" in bad.stderr


def test_numbers_are_written_the_way_of_the_language() -> None:
    fr, en = Lang("fr"), Lang("en")
    assert (fr.count(1234567), en.count(1234567)) == ("1\u202f234\u202f567", "1,234,567")
    assert (fr.num(1234.56), en.num(1234.56)) == ("1\u202f234,6", "1,234.6")
    assert (fr.pct(0.045, 1), en.pct(0.045, 1)) == ("4,5\u202f%", "4.5%")
    assert fr.weekday(0) == "lun." and en.weekday(0) == "Mon"
    assert Lang.of("fr-CA").code == "fr" and Lang.of("xx").code == "en"


def test_a_document_language_is_independent_of_the_messages_language() -> None:
    i18n.activate("en")
    assert i18n.translation("fr").gettext("Editorial calendar") == "Calendrier éditorial"
    assert i18n._("Editorial calendar") == "Editorial calendar"
    assert i18n.translation("xx").gettext("Editorial calendar") == "Editorial calendar"


# -- platforms ---------------------------------------------------------------------------------

DEVTO_ENV = "CMFLOW_DEVTO_API_KEY"


def devto_site(root: Path, fake: FakeDevto, key: str, language: str) -> Site:
    channels = {"dev": {"platform": "devto", "base_url": f"{fake.url}/api", "token_env": DEVTO_ENV}}
    posts = {"atelier.md": post(["dev"], "Un **atelier**.", date=NOW, title="Atelier CM")}
    return site(root, channels, posts, env={DEVTO_ENV: key}, secrets=[key], language=language)


@pytest.mark.usefixtures("no_cmflow_lang")
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "fr",
            f"le jeton de {DEVTO_ENV} a été refusé (expiré ou révoqué) : créez-en un "
            f"nouveau et enregistrez-le dans {DEVTO_ENV}",
        ),
        (
            "en",
            f"the token in {DEVTO_ENV} was refused (expired or revoked): create a new one "
            f"and store it in {DEVTO_ENV}",
        ),
    ],
)
def test_a_refused_token_is_explained_in_the_brands_language(
    tmp_path: Path, language: str, expected: str
) -> None:
    with FakeDevto(api_key="devto-the-right-key-1234") as fake:
        s = devto_site(tmp_path / "repo", fake, "devto-revoked-key-0000", language)
        result = s.publish()
        assert fake.created == 0
    assert result.code != 0, result
    assert expected in result.output, result
    record = s.record("atelier", "dev")
    assert record is not None and expected in str(record)
    s.assert_no_secret()


@pytest.mark.usefixtures("no_cmflow_lang")
def test_a_revoked_mastodon_token_is_explained_in_french(tmp_path: Path) -> None:
    with FakeMastodon(token=MASTODON_TOKEN) as fake:
        s = site(
            tmp_path / "repo",
            {"mastodon": mastodon_channel(fake)},
            {"atelier.md": post(["mastodon"], "Un atelier.", date=NOW)},
            env={MASTODON_ENV: "mstdn-revoked-token-0000"},
            secrets=["mstdn-revoked-token-0000"],
        )
        result = s.publish()
        assert created(fake, "Un atelier") == 0
    assert result.code != 0, result
    assert "HTTP 401: The access token is invalid : renouvelez le jeton d'accès" in result.output
    assert "renew the access token" not in result.output
    s.assert_no_secret()
