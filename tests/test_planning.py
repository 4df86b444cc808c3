"""Planning like a community manager: queue slots, key dates, the calendar, ICS, `cmflow new`."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import yaml

from cmflow import keydates, slots
from tests.conftest import run_main, write_repo

PARIS = ZoneInfo("Europe/Paris")
GOLDEN = Path(__file__).parent / "golden"

CONFIG = """\
timezone: Europe/Paris
language: fr
country: FR
editorial_line:
  pillars: [education, community, product]
  require_pillar: true
  forbidden_terms: ["cliquez ici"]
events:
  - date: 2026-12-10
    name: Salon des artisans
    id: salon
  - date: 2026-12-26
    until: 2026-12-31
    name: Soldes de fin d'année
channels:
  site:
    platform: feed
    output_dir: public
    site_url: https://example.fr/actus
    slots: ["Mon-Fri 09:00"]
  mastodon:
    platform: mastodon
    base_url: https://mastodon.example
    token_env: CMFLOW_MASTODON_TOKEN
    slots: ["Tue 12:30", "Thu 12:30"]
    cadence: 3/week
"""


def _post(when: str, channels: str, pillar: str = "education", extra: str = "") -> str:
    return f"---\ndate: {when}\nchannels: [{channels}]\npillar: {pillar}\n{extra}---\nUn texte. {extra and ''}\n"


POSTS = {
    "2026/11/2026-11-30-lundi.md": _post("2026-11-30 09:00", "site, mastodon"),
    "2026/12/2026-12-01-mardi.md": _post("2026-12-01 12:30", "mastodon", "community"),
    "2026/12/2026-12-03-jeudi.md": _post("2026-12-03 12:30", "site, mastodon", "product")
    + "Cliquez ici !\n",
    "2026/12/2026-12-04-brouillon.md": _post("2026-12-04 09:00", "site", extra="status: draft\n"),
    "2026/12/2026-12-08-semaine2.md": _post("2026-12-08 12:30", "mastodon"),
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "marque", POSTS, config=CONFIG)


# -- slots ---------------------------------------------------------------------------------


def test_slots_are_parsed_in_english_and_french_and_bad_ones_say_how_to_write_them() -> None:
    assert slots.parse_slot("Mon-Fri 18:00").weekdays == frozenset(range(5))
    assert slots.parse_slot("sam,dim 10h30").weekdays == frozenset({5, 6})
    assert slots.parse_slot("Sat-Mon 08:00").weekdays == frozenset({5, 6, 0})
    assert slots.parse_slot("daily 07:05").at.minute == 5
    assert str(slots.parse_cadence("3/semaine")) == "3/week"
    for bad in ("Tue", "Tue 25:00", "Funday 09:00", "09:00"):
        with pytest.raises(ValueError, match=r"slot|day"):
            slots.parse_slot(bad)
    with pytest.raises(ValueError, match="3/week"):
        slots.parse_cadence("often")


def test_a_slot_keeps_its_wall_clock_time_across_dst_changes() -> None:
    daily = [slots.parse_slot("daily 02:30")]
    spring = list(slots.times(daily, PARIS, date(2027, 3, 27), 3))
    local = [t.astimezone(PARIS).strftime("%d %H:%M %z") for t in spring]
    # 02:30 does not exist on 28 March: the first minute that does, 03:00 (+02:00).
    assert local == ["27 02:30 +0100", "28 03:00 +0200", "29 02:30 +0200"]
    autumn = list(slots.times(daily, PARIS, date(2026, 10, 25), 1))
    assert [t.astimezone(PARIS).strftime("%H:%M %z") for t in autumn] == ["02:30 +0200"]


def test_next_free_slot_skips_taken_slots_deterministically() -> None:
    tue = [slots.parse_slot("Tue 09:00")]
    after = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # Tuesday 08:00 in Paris
    first = slots.next_free(tue, PARIS, after)
    assert first == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert slots.next_free(tue, PARIS, after, [first]) == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    assert slots.next_free([], PARIS, after) is None


# -- configuration --------------------------------------------------------------------------


def test_bad_slots_cadence_and_events_are_configuration_errors_with_positions(
    tmp_path: Path,
) -> None:
    config = CONFIG.replace(
        'slots: ["Tue 12:30", "Thu 12:30"]', 'slots: ["Tue 12:30", "Jeudi midi"]'
    )
    config = config.replace("cadence: 3/week", "cadence: souvent").replace(
        "date: 2026-12-10", "date: le 10"
    )
    root = write_repo(tmp_path / "r", {}, config=config)
    done = run_main(["validate"], cwd=root)
    assert done.returncode == 2
    err = done.stderr
    assert "channels.yaml:25:" in err and "Tue 09:00" in err  # the slot, with an example
    assert "channels.yaml:26:5:" in err and "3/week" in err  # the cadence
    assert "channels.yaml:9:5:" in err and "2027-03-10" in err  # the event date


def test_events_can_live_in_a_data_file(tmp_path: Path) -> None:
    config = (
        CONFIG.split("events:")[0]
        + "events: data/events.yaml\n"
        + "channels:"
        + CONFIG.split("channels:")[1]
    )
    root = write_repo(tmp_path / "r", POSTS, config=config)
    (root / "data").mkdir()
    (root / "data" / "events.yaml").write_text(
        "- date: 2026-12-02\n  name: Lancement de la boutique\n", encoding="utf-8"
    )
    done = run_main(
        ["calendar", "--from", "2026-11-30", "--weeks", "1", "--at", "2026-11-29 10:00"], cwd=root
    )
    assert done.returncode == 0, done.stderr
    assert "Lancement de la boutique" in done.stdout
    (root / "data" / "events.yaml").write_text("- date: demain\n  name: X\n", encoding="utf-8")
    done = run_main(["validate"], cwd=root)
    assert done.returncode == 2 and "data/events.yaml:1:" in done.stderr


# -- key dates -------------------------------------------------------------------------------


def test_key_dates_hold_holidays_world_days_and_the_brand_events() -> None:
    found = keydates.between(
        date(2027, 5, 1),
        date(2027, 7, 31),
        country="FR",
        language="fr",
        events=[{"date": date(2027, 6, 10), "name": "Portes ouvertes", "until": None}],
    )
    names = {(k.day, k.name) for k in found}
    assert (date(2027, 7, 14), "Fête nationale") in names  # from the holidays library
    assert (date(2027, 6, 21), "Fête de la musique") in names
    assert (date(2027, 5, 30), "Fête des mères") in names  # last Sunday of May
    assert (date(2027, 6, 30), "Début des soldes d'été") in names  # last Wednesday of June
    assert (date(2027, 6, 10), "Portes ouvertes") in names
    english = keydates.between(date(2027, 6, 1), date(2027, 6, 30), country=None, language="en")
    assert any(k.name == "World Oceans Day" for k in english)
    assert not any(k.kind == keydates.KIND_HOLIDAY for k in english)
    # Mother's Day moves when the last Sunday of May is Pentecost (2024: 26 May is not).
    assert keydates._fete_des_meres_fr(2013) == date(2013, 5, 26)
    assert keydates._fete_des_meres_fr(2020) == date(2020, 6, 7)  # 31 May 2020 was Pentecost


# -- the calendar ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "md"])
def test_calendar_golden(repo: Path, fmt: str) -> None:
    done = run_main(
        [
            "calendar",
            "--from",
            "2026-11-30",
            "--weeks",
            "2",
            "--at",
            "2026-12-02 10:00",
            "--format",
            fmt,
        ],
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr
    golden = GOLDEN / f"calendar.{fmt}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(done.stdout, encoding="utf-8")
    assert done.stdout == golden.read_text(encoding="utf-8")


def test_calendar_marks_published_pairs_from_the_record(repo: Path) -> None:
    done = run_main(["publish", "--at", "2026-11-30 09:05", "--channel", "site"], cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_main(
        [
            "calendar",
            "--from",
            "2026-11-30",
            "--weeks",
            "1",
            "--at",
            "2026-12-02 10:00",
            "--channel",
            "site",
        ],
        cwd=repo,
    )
    site_row = next(line for line in done.stdout.splitlines() if line.startswith("site"))
    assert "09:00 ✓ lundi" in site_row


def test_calendar_html_is_one_self_contained_page(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "cal.html"
    done = run_main(
        [
            "calendar",
            "--from",
            "2026-11-30",
            "--at",
            "2026-12-02 10:00",
            "--format",
            "html",
            "--out",
            str(out),
        ],
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr
    page = out.read_text("utf-8")
    assert page.startswith("<!doctype html>") and "Salon des artisans" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_ics_export_reimports_without_duplicates(repo: Path, tmp_path: Path) -> None:
    ics = tmp_path / "cal.ics"
    args = ["calendar", "--from", "2026-11-30", "--weeks", "2", "--at", "2026-12-02 10:00"]
    done = run_main(
        [*args, "--ics", str(ics), "--link-base", "https://github.com/m/c/blob/main"], cwd=repo
    )
    assert done.returncode == 0, done.stderr
    cal = icalendar.Calendar.from_ical(ics.read_bytes())
    events = list(cal.walk("VEVENT"))
    pairs = {(str(e["SUMMARY"]), e["DTSTART"].dt) for e in events}
    assert ("mastodon: 2026-12-01-mardi", datetime(2026, 12, 1, 11, 30, tzinfo=UTC)) in pairs
    assert len(events) == 7  # one per (post, channel): 2 + 1 + 2 + 1 + 1
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/Paris"
    assert all(
        e["DTSTART"].dt.tzinfo is not None and e["DTSTART"].dt.utcoffset().total_seconds() == 0
        for e in events
    )
    draft = next(e for e in events if "brouillon" in str(e["SUMMARY"]))
    assert str(draft["STATUS"]) == "TENTATIVE"
    url = next(e for e in events if "lundi" in str(e["SUMMARY"]))["URL"]
    assert str(url) == "https://github.com/m/c/blob/main/content/2026/11/2026-11-30-lundi.md"
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    # Moving a post keeps its UID: calendars update the event instead of adding one.
    post = repo / "content" / "2026" / "12" / "2026-12-01-mardi.md"
    post.write_text(post.read_text("utf-8").replace("12:30", "18:00"), encoding="utf-8")
    run_main([*args, "--ics", str(ics)], cwd=repo)
    again = {
        str(e["UID"]): e for e in icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
    }
    assert set(again) == set(uids)
    moved = next(e for e in again.values() if str(e["SUMMARY"]) == "mastodon: 2026-12-01-mardi")
    assert moved["DTSTART"].dt == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


# -- cmflow new ------------------------------------------------------------------------------


def test_new_takes_the_next_free_slot_and_writes_a_valid_post(repo: Path) -> None:
    done = run_main(
        [
            "new",
            "--title",
            "Atelier pain au levain !",
            "--channel",
            "mastodon",
            "--pillar",
            "education",
            "--at",
            "2026-11-30 10:00",
        ],
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr
    # Tue 1 Dec 12:30 and Thu 3 Dec 12:30 are taken: the next free slot is Tue 8 Dec?
    # No: 8 Dec 12:30 is taken too, so Thursday 10 Dec 12:30.
    rel = "content/2026/12/2026-12-10-atelier-pain-au-levain.md"
    assert f"created {rel}" in done.stdout
    front = yaml.safe_load((repo / rel).read_text("utf-8").split("---")[1])
    assert front == {
        "date": "2026-12-10 12:30",
        "channels": ["mastodon"],
        "title": "Atelier pain au levain !",
        "pillar": "education",
    }
    done = run_main(["validate", rel, "--format", "json", "--at", "2026-11-30 10:00"], cwd=repo)
    assert json.loads(done.stdout)["summary"]["errors"] == 0
    # Same title and date again: never overwritten.
    again = run_main(
        [
            "new",
            "--title",
            "Atelier pain au levain !",
            "--channel",
            "mastodon",
            "--pillar",
            "education",
            "--date",
            "2026-12-10 12:30",
        ],
        cwd=repo,
    )
    assert again.returncode == 2 and "already exists" in again.stderr


def test_new_for_a_key_date_prefills_title_date_and_campaign(repo: Path) -> None:
    done = run_main(
        [
            "new",
            "--for",
            "salon",
            "--channel",
            "site",
            "--pillar",
            "community",
            "--draft",
            "--at",
            "2026-12-01 10:00",
        ],
        cwd=repo,
    )
    assert done.returncode == 0, done.stderr
    rel = "content/2026/12/2026-12-10-salon-des-artisans.md"
    front = yaml.safe_load((repo / rel).read_text("utf-8").split("---")[1])
    assert front["date"] == "2026-12-10 09:00"  # the site's first slot that Thursday
    assert front["campaign"] == "salon" and front["status"] == "draft"
    bad = run_main(
        ["new", "--for", "salon des artisns", "--channel", "site", "--at", "2026-12-01 10:00"],
        cwd=repo,
    )
    assert bad.returncode == 2 and "did you mean" in bad.stderr


def test_new_fails_when_the_post_it_wrote_has_errors(repo: Path) -> None:
    # Without --pillar, where the editorial line requires one (and no terminal to ask on):
    # the file is written and its errors printed; the exit code says so too (it was 0).
    args = ["new", "--title", "Sans pilier", "--channel", "mastodon", "--date", "2026-12-20 10:00"]
    done = run_main(args, cwd=repo, env={"CMFLOW_LANG": "en"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "created content/2026/12/2026-12-20-sans-pilier.md" in done.stdout
    assert "editorial.pillar" in done.stdout


def test_new_without_a_title_or_slots_says_what_to_give(repo: Path) -> None:
    done = run_main(["new", "--channel", "mastodon"], cwd=repo)
    assert done.returncode == 2 and "--title" in done.stderr
    root = write_repo(
        repo.parent / "sans-slots",
        {},
        config=CONFIG.replace('    slots: ["Mon-Fri 09:00"]\n', "").replace(
            '    slots: ["Tue 12:30", "Thu 12:30"]\n', ""
        ),
    )
    done = run_main(["new", "--title", "x", "--pillar", "education"], cwd=root)
    assert done.returncode == 2 and "--date" in done.stderr


# -- schemas for editors -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


class _StringDates(yaml.SafeLoader):
    """YAML as editors' language servers see it: dates stay strings."""


_StringDates.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _front(text: str) -> object:
    return yaml.load(text.split("---")[1], Loader=_StringDates)


def test_committed_schemas_are_the_generated_ones_and_valid_draft_2020_12(tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator

    done = run_main(["schema", "--out", str(tmp_path)], cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for name in ("channels", "post"):
        generated = json.loads((tmp_path / f"{name}.schema.json").read_text("utf-8"))
        committed = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text("utf-8"))
        assert generated == committed, "refresh them: cmflow schema --out schemas"
        Draft202012Validator.check_schema(generated)


def test_the_schemas_agree_with_validate_on_the_example_repository_and_fixtures(
    tmp_path: Path,
) -> None:
    from jsonschema import Draft202012Validator

    post_schema = Draft202012Validator(
        json.loads((ROOT / "schemas/post.schema.json").read_text("utf-8"))
    )
    channels_schema = Draft202012Validator(
        json.loads((ROOT / "schemas/channels.schema.json").read_text("utf-8"))
    )
    assert not list(
        channels_schema.iter_errors(
            yaml.load((ROOT / "channels.yaml").read_text("utf-8"), Loader=_StringDates)
        )
    )
    assert not list(channels_schema.iter_errors(yaml.load(CONFIG, Loader=_StringDates)))
    for path in sorted((ROOT / "content").rglob("*.md")):
        errors = list(post_schema.iter_errors(_front(path.read_text("utf-8"))))
        assert not errors, (path, errors[0].message)
    # A typo both underline and report.
    typo = "---\ndate: 2026-12-01 09:00\nchanels: [site]\npillar: education\n---\nTexte\n"
    assert list(post_schema.iter_errors(_front(typo)))
    root = write_repo(tmp_path / "r", {"typo.md": typo}, config=CONFIG)
    done = run_main(["validate", "--format", "json"], cwd=root)
    rules = {f["rule"] for f in json.loads(done.stdout)["findings"]}
    assert "frontmatter.unknown-field" in rules
    bad_status = "---\ndate: 2026-12-01 09:00\nchannels: [site]\nstatus: publié\n---\nx\n"
    assert list(post_schema.iter_errors(_front(bad_status)))


def test_a_country_without_known_holidays_is_said_not_silently_empty(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "r", POSTS, config=CONFIG.replace("country: FR", "country: ZZ"))
    done = run_main(
        ["calendar", "--from", "2026-11-30", "--weeks", "1", "--at", "2026-12-02 10:00"], cwd=root
    )
    assert done.returncode == 0, done.stderr
    assert "no public holidays known for country 'ZZ'" in done.stderr
