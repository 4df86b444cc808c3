"""The year's key dates a community manager plans around.

Three sources, merged and sorted:
- public holidays of the brand's country, from the maintained `holidays` library
  (https://github.com/vacanza/holidays), in the brand's language when it has it;
- a built-in list of world days and commercial moments, each with its source;
- the brand's own `events:` in channels.yaml (trade fairs, sales, launches), inline or in a
  YAML data file it names.

Pure: the dates of a period are computed from the period, no clock is read.
"""

from __future__ import annotations

import calendar as cal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

KIND_HOLIDAY = "holiday"
KIND_WORLD_DAY = "world-day"
KIND_EVENT = "event"


@dataclass(frozen=True, order=True)
class KeyDate:
    day: date
    name: str
    kind: str  # holiday | world-day | event
    until: date | None = None  # last day, for events that last several days
    source: str = ""
    slug: str = ""  # how `cmflow new --for` names it

    def covers(self, d: date) -> bool:
        return self.day <= d <= (self.until or self.day)


# (month, day, French name, English name, source)
_FIXED: tuple[tuple[int, int, str, str, str], ...] = (
    (
        1,
        24,
        "Journée internationale de l'éducation",
        "International Day of Education",
        "un.org/en/observances/education-day",
    ),
    (
        2,
        11,
        "Journée internationale des femmes et des filles de science",
        "International Day of Women and Girls in Science",
        "un.org/en/observances/women-and-girls-in-science-day",
    ),
    (2, 14, "Saint-Valentin", "Valentine's Day", "commercial tradition"),
    (
        3,
        8,
        "Journée internationale des droits des femmes",
        "International Women's Day",
        "un.org/en/observances/womens-day",
    ),
    (
        3,
        20,
        "Journée internationale du bonheur",
        "International Day of Happiness",
        "un.org/en/observances/happiness-day",
    ),
    (
        3,
        21,
        "Journée internationale des forêts",
        "International Day of Forests",
        "un.org/en/observances/forests-and-trees-day",
    ),
    (3, 22, "Journée mondiale de l'eau", "World Water Day", "un.org/en/observances/water-day"),
    (
        4,
        7,
        "Journée mondiale de la santé",
        "World Health Day",
        "who.int/campaigns/world-health-day",
    ),
    (4, 22, "Jour de la Terre", "Earth Day", "un.org/en/observances/earth-day"),
    (
        4,
        23,
        "Journée mondiale du livre et du droit d'auteur",
        "World Book and Copyright Day",
        "unesco.org/en/days/world-book-and-copyright",
    ),
    (
        5,
        3,
        "Journée mondiale de la liberté de la presse",
        "World Press Freedom Day",
        "un.org/en/observances/press-freedom-day",
    ),
    (5, 20, "Journée mondiale des abeilles", "World Bee Day", "un.org/en/observances/bee-day"),
    (
        6,
        5,
        "Journée mondiale de l'environnement",
        "World Environment Day",
        "un.org/en/observances/environment-day",
    ),
    (6, 8, "Journée mondiale de l'océan", "World Oceans Day", "un.org/en/observances/oceans-day"),
    (6, 21, "Fête de la musique", "Make Music Day", "fetedelamusique.culture.gouv.fr"),
    (
        6,
        30,
        "Journée mondiale des réseaux sociaux",
        "World Social Media Day",
        "Mashable, since 2010",
    ),
    (7, 17, "Journée mondiale des emojis", "World Emoji Day", "worldemojiday.com"),
    (
        8,
        12,
        "Journée internationale de la jeunesse",
        "International Youth Day",
        "un.org/en/observances/youth-day",
    ),
    (
        9,
        21,
        "Journée internationale de la paix",
        "International Day of Peace",
        "un.org/en/observances/international-day-peace",
    ),
    (
        10,
        1,
        "Journée internationale des personnes âgées",
        "International Day of Older Persons",
        "un.org/en/observances/older-persons-day",
    ),
    (
        10,
        10,
        "Journée mondiale de la santé mentale",
        "World Mental Health Day",
        "who.int/campaigns/world-mental-health-day",
    ),
    (10, 16, "Journée mondiale de l'alimentation", "World Food Day", "fao.org/world-food-day"),
    (10, 31, "Halloween", "Halloween", "tradition"),
    (11, 13, "Journée mondiale de la gentillesse", "World Kindness Day", "World Kindness Movement"),
    (
        11,
        19,
        "Journée internationale des hommes",
        "International Men's Day",
        "internationalmensday.com",
    ),
    (
        12,
        3,
        "Journée internationale des personnes handicapées",
        "International Day of Persons with Disabilities",
        "un.org/en/observances/day-of-persons-with-disabilities",
    ),
    (
        12,
        5,
        "Journée internationale des bénévoles",
        "International Volunteer Day",
        "un.org/en/observances/volunteer-day",
    ),
    (
        12,
        10,
        "Journée des droits de l'homme",
        "Human Rights Day",
        "un.org/en/observances/human-rights-day",
    ),
)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (0 = Monday) of a month; n = -1 for the last one."""
    days = [d for d in cal.Calendar().itermonthdates(year, month) if d.month == month]
    matching = [d for d in days if d.weekday() == weekday]
    return matching[n if n < 0 else n - 1]


def easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own names
    m = (a + 11 * h + 22 * l) // 451
    month = (h + l - 7 * m + 114) // 31
    return date(year, month, (h + l - 7 * m + 114) % 31 + 1)


def _black_friday(year: int) -> date:
    return _nth_weekday(year, 11, 3, 4) + timedelta(days=1)  # after the 4th Thursday


def _fete_des_meres_fr(year: int) -> date:
    # Last Sunday of May, or the first Sunday of June when it falls on Pentecost
    # (Code de l'action sociale et des familles, art. D215-1).
    last = _nth_weekday(year, 5, 6, -1)
    pentecost = easter(year) + timedelta(days=49)
    return last + timedelta(days=7) if last == pentecost else last


# (slug, French, English, rule, country or None for everywhere, source)
_MOVABLE: tuple[tuple[str, str, str, Callable[[int], date], str | None, str], ...] = (
    (
        "black-friday",
        "Black Friday",
        "Black Friday",
        _black_friday,
        None,
        "day after US Thanksgiving",
    ),
    (
        "cyber-monday",
        "Cyber Monday",
        "Cyber Monday",
        lambda y: _black_friday(y) + timedelta(days=3),
        None,
        "Monday after Black Friday",
    ),
    (
        "fete-des-meres",
        "Fête des mères",
        "Mother's Day (France)",
        _fete_des_meres_fr,
        "FR",
        "CASF art. D215-1",
    ),
    (
        "fete-des-peres",
        "Fête des pères",
        "Father's Day (France)",
        lambda y: _nth_weekday(y, 6, 6, 3),
        "FR",
        "third Sunday of June",
    ),
    (
        "soldes-hiver",
        "Début des soldes d'hiver",
        "Winter sales start (France)",
        lambda y: _nth_weekday(y, 1, 2, 2),
        "FR",
        "Code de commerce art. D310-15-2: second Wednesday of January",
    ),
    (
        "soldes-ete",
        "Début des soldes d'été",
        "Summer sales start (France)",
        lambda y: _nth_weekday(y, 6, 2, -1),
        "FR",
        "Code de commerce art. D310-15-2: last Wednesday of June",
    ),
)


def slugify(text: str) -> str:
    import re
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def holidays_known(country: str) -> bool:
    """Whether the `holidays` library knows this ISO 3166 country."""
    import holidays

    return country.upper() in holidays.list_supported_countries()


def world_days(
    start: date, end: date, *, language: str | None, country: str | None
) -> list[KeyDate]:
    fr = (language or "").startswith("fr")
    out: list[KeyDate] = []
    for year in range(start.year, end.year + 1):
        for month, day, name_fr, name_en, source in _FIXED:
            d = date(year, month, day)
            if start <= d <= end:
                out.append(
                    KeyDate(
                        d,
                        name_fr if fr else name_en,
                        KIND_WORLD_DAY,
                        None,
                        source,
                        slugify(name_en),
                    )
                )
        for slug, name_fr, name_en, rule, only, source in _MOVABLE:
            if only is not None and only != (country or "").upper():
                continue
            d = rule(year)
            if start <= d <= end:
                out.append(
                    KeyDate(d, name_fr if fr else name_en, KIND_WORLD_DAY, None, source, slug)
                )
    return out


def public_holidays(
    start: date, end: date, *, country: str | None, language: str | None
) -> list[KeyDate]:
    if not country:
        return []
    import holidays

    try:
        table = holidays.country_holidays(
            country.upper(), years=range(start.year, end.year + 1), language=language or None
        )
    except (NotImplementedError, KeyError):
        return []
    except ValueError:  # a language the library has no translation for
        table = holidays.country_holidays(country.upper(), years=range(start.year, end.year + 1))
    return [
        KeyDate(
            d,
            str(name),
            KIND_HOLIDAY,
            None,
            f"holidays library ({country.upper()})",
            slugify(str(name)),
        )
        for d, name in sorted(table.items())
        if start <= d <= end
    ]


def brand_events(events: Iterable[Mapping[str, Any]], start: date, end: date) -> list[KeyDate]:
    out: list[KeyDate] = []
    for ev in events:
        day, until = ev.get("date"), ev.get("until")
        if not isinstance(day, date):
            continue
        last = until if isinstance(until, date) else None
        if (last or day) < start or day > end:
            continue
        name = str(ev.get("name", ""))
        out.append(
            KeyDate(
                day,
                name,
                KIND_EVENT,
                last,
                str(ev.get("kind", "event")),
                str(ev.get("id") or slugify(name)),
            )
        )
    return out


def between(
    start: date,
    end: date,
    *,
    country: str | None,
    language: str | None,
    events: Iterable[Mapping[str, Any]] = (),
) -> list[KeyDate]:
    """Every key date from `start` to `end` (inclusive), sorted by day then name."""
    found = [
        *public_holidays(start, end, country=country, language=language),
        *world_days(start, end, language=language, country=country),
        *brand_events(events, start, end),
    ]
    return sorted(set(found))
