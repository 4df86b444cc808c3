"""The two file formats, defined once as data: channels.yaml and a post's front-matter.

`check` walks parsed YAML against these definitions and reports every problem with its
position; `json_schema` exports the same definitions for editors (`cmflow schema`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cmflow.i18n import _
from cmflow.model import KeyPath, Mark

# Value kinds: str, int, number, bool, duration, date, list (of `item`), map (fixed `keys`),
# dict (free keys, each `item`), any.


@dataclass(frozen=True)
class Key:
    kind: str
    doc: str
    keys: Mapping[str, Key] = field(default_factory=dict)  # map: its keys
    item: Key | None = None  # list items / dict values
    choices: tuple[str, ...] = ()
    required: bool = False
    alt_kinds: tuple[str, ...] = ()  # other accepted kinds (e.g. a list OR a str)
    example: str = ""
    open: bool = False  # map: other keys are checked elsewhere (a channel's, by its platform)


def _k(kind: str, doc: str, **kw: Any) -> Key:
    return Key(kind, doc, **kw)


STR = _k("str", "")
STR_LIST = _k("list", "a list of strings", item=STR)

RULE_KEYS: dict[str, Key] = {
    "pillars": _k("list", "content pillars every post belongs to", item=STR),
    "require_pillar": _k("bool", "every post must name a pillar"),
    "forbidden_terms": _k("list", "terms never allowed (case and accents folded)", item=STR),
    "required_hashtags": _k("list", "hashtags every post must carry", item=STR),
    "max_hashtags": _k("int", "most hashtags a post may carry"),
    "require_alt_text": _k("bool", "every image needs alt text"),
    "mix": _k(
        "map",
        "content mix per rolling window",
        keys={
            "max_share": _k("dict", "pillar -> highest share (0-1)", item=_k("number", "")),
            "window": _k("duration", "rolling window, e.g. 14d"),
        },
    ),
    "link_tracking": _k(
        "map",
        "UTM parameters added to links to these domains",
        keys={
            "domains": _k("list", "domains whose links get UTM parameters", item=STR),
            "utm_source": _k("str", "placeholders: {channel} {platform} {campaign} {id}"),
            "utm_medium": _k("str", "e.g. social"),
            "utm_campaign": _k("str", "e.g. {campaign}"),
            "utm_content": _k("str", "optional"),
        },
    ),
    "max_length": _k("int", "longest text, counted the platform's way"),
    "posting_windows": _k("list", "allowed times, e.g. 'Tue-Thu 08:00-10:00'", item=STR),
    "max_per_day": _k("int", "most posts per day on the channel"),
    "min_gap": _k("duration", "shortest time between two posts on the channel, e.g. 20h"),
    "max_caption_length": _k("int", "longest text when the post carries media (Telegram)"),
    "max_media": _k("int", "most media per post"),
    "media_types": _k("list", "accepted media types, e.g. image/jpeg", item=STR),
    "max_media_bytes": _k("int", "largest media file in bytes"),
    "require_media": _k("bool", "every post needs media"),
    "max_video_bytes": _k("int", "largest video file in bytes (else max_media_bytes)"),
    "min_video_seconds": _k("number", "shortest video, in seconds"),
    "max_video_seconds": _k("number", "longest video, in seconds"),
    "video_codecs": _k("list", "accepted video codecs: h264, hevc, av1, vp9, vp8", item=STR),
    "video_orientation": _k(
        "str",
        "the picture a video must have",
        choices=("any", "vertical", "vertical_or_square", "horizontal"),
    ),
    "video_aspect": _k("str", "recommended aspect ratio, e.g. 9:16 (a warning when not)"),
    "min_video_side": _k("int", "smallest video width or height, in pixels"),
    "max_video_side": _k("int", "largest video width or height, in pixels"),
    "catch_up": _k("duration", "how late a due post may still go out"),
    "max_title_length": _k("int", "longest title"),
    "max_tags": _k("int", "most tags (dev.to: 4)"),
}

# The keys every channel may set. Its connection keys (token_env, author, ...) are declared
# by its platform (`PlatformSpec.keys`) and checked by `cmflow.config`.
CHANNEL_KEYS: dict[str, Key] = {
    "platform": _k("str", "which network", required=True),
    "base_url": _k("str", "API root (tests point it at a loopback server)"),
    "enabled": _k("bool", "false: validate but never publish"),
    "slots": _k("list", "queue slots in the brand's zone, e.g. 'Tue 09:00'", item=STR),
    "cadence": _k("str", "target rhythm, e.g. 3/week"),
    "evergreen": _k(
        "map",
        "re-post policy for posts that say `evergreen: true`",
        keys={
            "every": _k("duration", "time between two publications, at least 7d, e.g. 180d"),
            "times": _k("int", "how many re-posts after the first publication, e.g. 2"),
        },
    ),
    "on_edit": _k(
        "str",
        "update: send an edit of a published post where the platform can edit; "
        "warn (default): warn and leave it",
        choices=("update", "warn"),
    ),
    "rules": _k("map", "rules for this channel (override editorial_line)", keys=RULE_KEYS),
}
CHANNEL = _k("map", "", keys=CHANNEL_KEYS, open=True)

_EVENT = _k(
    "map",
    "a key date of the brand",
    keys={
        "date": _k("date", "first day, e.g. 2027-03-10", required=True),
        "until": _k("date", "last day, for events that last several days"),
        "name": _k("str", "what it is, e.g. Salon de l'agriculture", required=True),
        "kind": _k("str", "fair, sale, launch, … (free text)"),
        "id": _k("str", "short name for `cmflow new --for` (default: from the name)"),
    },
)

CONFIG_KEYS: dict[str, Key] = {
    "brand": _k("str", "the brand's display name (site title and feed author fallback)"),
    "country": _k("str", "ISO 3166 country for public holidays (default: from timezone)"),
    "events": _k(
        "list",
        "the brand's key dates, or the path of a YAML file listing them",
        item=_EVENT,
        alt_kinds=("str",),
    ),
    "timezone": _k("str", "IANA zone for naive dates, e.g. Europe/Paris"),
    "language": _k("str", "default post language (ISO 639-1)"),
    "catch_up": _k("duration", "how late a due post may still go out (default 48h)"),
    "content_dir": _k("str", "where posts live (default content)"),
    "data_dir": _k("str", "where cmflow writes the record and metrics (default data)"),
    "editorial_line": _k("map", "defaults for every channel", keys=RULE_KEYS),
    "channels": _k("dict", "the brand's channels", item=CHANNEL),
    "metrics": _k(
        "map",
        "engagement snapshots (cmflow metrics collect)",
        keys={
            "schedule": _k(
                "list",
                "post ages at which to snapshot engagement (default 1h, 24h, 7d, 30d)",
                item=_k("duration", ""),
            ),
            "appview": _k(
                "str", "Bluesky AppView for counts (default https://public.api.bsky.app)"
            ),
        },
    ),
    "analytics": _k(
        "map",
        "Google Analytics 4 source for site traffic per UTM campaign",
        keys={
            "property": _k("str", "GA4 property id (digits)", required=True, alt_kinds=("int",)),
            "token_env": _k(
                "str", "environment variable holding an OAuth access token", required=True
            ),
            "base_url": _k(
                "str", "Data API root (default https://analyticsdata.googleapis.com/v1beta)"
            ),
            "lookback": _k(
                "int", "days re-read on each run, as GA4 revises recent days (default 3)"
            ),
        },
    ),
    "competitors": _k(
        "dict",
        "public accounts set beside the brand's in reports",
        item=_k(
            "map",
            "",
            keys={
                "name": _k("str", "display name (default: the key)"),
                "bluesky": _k("str", "Bluesky handle, e.g. rival.bsky.social"),
                "mastodon": _k("str", "Mastodon account, e.g. rival@mastodon.social"),
                "mastodon_url": _k("str", "instance to ask (default: the account's own)"),
            },
        ),
    ),
    "levels": _k(
        "dict",
        "rule id -> error, warning or off",
        # YAML 1.1 reads a bare `off` as false: accept it as "off".
        item=_k("str", "", choices=("error", "warning", "off"), alt_kinds=("bool",)),
    ),
}

_MEDIA = _k(
    "map",
    "a media file",
    keys={
        "path": _k("str", "relative to the repository root", required=True),
        "alt": _k("str", "alt text describing the image"),
    },
)

_POST_FIELDS: dict[str, Key] = {
    "date": _k(
        "date",
        "when to publish; naive times are in channels.yaml timezone; a day alone or `next` "
        "takes a queue slot",
    ),
    "channels": _k("list", "where to publish", item=STR, alt_kinds=("str",)),
    "channel": _k("str", "one channel (instead of channels)"),
    "title": _k("str", "title, for channels that have titles (feed, dev.to)"),
    "status": _k("str", "draft or ready (default ready)", choices=("draft", "ready")),
    "id": _k("str", "stable identity (default: the file name)", alt_kinds=("int",)),
    "pillar": _k("str", "one of editorial_line.pillars"),
    "campaign": _k("str", "campaign, for UTM and reports"),
    "tags": _k("list", "tags (feed categories, dev.to tags)", item=STR),
    "media": _k("list", "images or videos", item=_MEDIA),
    "thread": _k("str", "auto: split long text into numbered parts", choices=("auto", "off")),
    "language": _k("str", "language of the post (ISO 639-1)"),
    "summary": _k("str", "short description (feed, dev.to)"),
    "series": _k("str", "series the post belongs to (dev.to)"),
    "evergreen": _k(
        "map",
        "post it again later: {every: 90d, times: 3}, or true for the channel's policy",
        keys={
            "every": _k("duration", "time between two publications, at least 7d, e.g. 90d"),
            "times": _k("int", "how many re-posts after the first publication, e.g. 3"),
        },
        alt_kinds=("bool",),
    ),
}

VARIANT_KEYS: dict[str, Key] = {
    **{k: v for k, v in _POST_FIELDS.items() if k not in ("date", "channels", "channel", "id")},
    "body": _k("str", "the body for this channel (Markdown)"),
}

FRONTMATTER_KEYS: dict[str, Key] = {
    **_POST_FIELDS,
    "variants": _k("dict", "per-channel overrides", item=_k("map", "overrides", keys=VARIANT_KEYS)),
}


def _kind_name(kind: str) -> str:
    """What a value kind is called in a message, in the current language (at call time:
    nothing is translated on import)."""
    names = {
        "str": _("a string"),
        "int": _("a whole number"),
        "number": _("a number"),
        "bool": _("true or false"),
        "duration": _("a duration like 48h"),
        "date": _("a date like 2026-11-24 09:30"),
        "list": _("a list"),
        "map": _("a mapping"),
        "dict": _("a mapping"),
    }
    return names.get(kind, kind)


def _either(words: list[str]) -> str:
    """`a list or a string`, in the current language."""
    out = words[0]
    for word in words[1:]:
        out = _("{first} or {second}").format(first=out, second=word)
    return out


@dataclass(frozen=True)
class Problem:
    path: KeyPath
    mark: Mark
    message: str
    unknown_key: bool = False


def _fits(kind: str, value: Any) -> bool:
    if kind == "any":
        return True
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "duration":
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    if kind == "date":
        return isinstance(value, str | date)
    if kind == "list":
        return isinstance(value, list)
    return isinstance(value, dict)


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return _(" (did you mean {name}?)").format(name=repr(close[0])) if close else ""


# Names people give networks, to the platform cmflow calls them (a user writes `twitter`, `fb`).
PLATFORM_ALIASES: dict[str, str] = {
    "twitter": "x",
    "tweet": "x",
    "fb": "facebook",
    "meta": "facebook",
    "insta": "instagram",
    "ig": "instagram",
    "li": "linkedin",
    "bsky": "bluesky",
    "toot": "mastodon",
    "masto": "mastodon",
    "fediverse": "mastodon",
    "tg": "telegram",
    "blog": "feed",
    "rss": "feed",
    "atom": "feed",
    "web": "feed",
    "website": "feed",
    "yt": "youtube",
    "tt": "tiktok",
    "dev.to": "devto",
}


def closest_channel(name: str, channels: Mapping[str, object]) -> str | None:
    """The defined channel `name` most likely means, or None when none is close: another
    case (`Mastodon`), a common name for its platform (`twitter` for x, `fb` for facebook),
    or a near spelling (`mastodn`). Far guesses mislead more than none (`twiter` is not
    `site`)."""
    lower = name.strip().lower()
    names = list(channels)
    for c in names:
        if c.lower() == lower:
            return c
    platform = PLATFORM_ALIASES.get(lower)
    if platform is None:
        near = difflib.get_close_matches(lower, list(PLATFORM_ALIASES), n=1, cutoff=0.8)
        platform = PLATFORM_ALIASES[near[0]] if near else lower
    for c in names:
        if c == platform or getattr(channels[c], "platform", None) == platform:
            return c
    close = difflib.get_close_matches(lower, [c.lower() for c in names], n=1, cutoff=0.75)
    if close:
        return next(c for c in names if c.lower() == close[0])
    return None


def channel_hint(name: str, channels: Mapping[str, object]) -> str:
    """` (did you mean 'x'?); defined: facebook, site` — the closest channel if one is close,
    always the channels that exist."""
    close = closest_channel(name, channels)
    mean = _(" (did you mean {name}?)").format(name=repr(close)) if close else ""
    platform = PLATFORM_ALIASES.get(name.strip().lower())
    if close is None and platform is not None:
        mean = _(" ({name} is the {platform} platform, and no channel uses it)").format(
            name=repr(name), platform=platform
        )
    if not channels:
        return mean + _("; no channel is defined yet")
    return mean + _("; the channels defined are {names}").format(names=", ".join(sorted(channels)))


def check(
    value: Any,
    keys: Mapping[str, Key],
    marks: Mapping[KeyPath, Mark],
    path: KeyPath = (),
    open: bool = False,
) -> list[Problem]:
    """Every problem of a mapping against its key definitions, in file order. With `open`,
    keys not in `keys` are left to the caller."""
    problems: list[Problem] = []
    here = marks.get(path, Mark(1, 1))
    if not isinstance(value, dict):
        return [
            Problem(path, here, _("expected a mapping, got {what}").format(what=_describe(value)))
        ]
    for name, key in keys.items():
        if key.required and name not in value:
            message = _("missing required key {key}").format(key=_dotted((*path, name)))
            problems.append(Problem(path, here, message))
    for name, sub in value.items():
        p = (*path, str(name))
        mark = marks.get(p, here)
        found = keys.get(str(name))
        if found is None and open:
            continue
        if found is None:
            message = _unknown(str(name), path, did_you_mean(str(name), tuple(keys)))
            problems.append(Problem(p, mark, message, True))
            continue
        problems.extend(check_value(sub, found, marks, p, mark))
    return problems


def unknown_key(path: KeyPath, mark: Mark, known: list[str] | tuple[str, ...]) -> Problem:
    """The problem of a key not in `known`, at `path` (its parent named, a close key hinted)."""
    name, parent = str(path[-1]), path[:-1]
    return Problem(path, mark, _unknown(name, parent, did_you_mean(name, known)), True)


def _unknown(name: str, parent: KeyPath, hint: str) -> str:
    """`unknown key 'pilar' in media[0] (did you mean 'path'?)`."""
    if parent:
        return _("unknown key {name} in {parent}{hint}").format(
            name=repr(name), parent=_dotted(parent), hint=hint
        )
    return _("unknown key {name}{hint}").format(name=repr(name), hint=hint)


def check_value(
    value: Any, key: Key, marks: Mapping[KeyPath, Mark], path: KeyPath, mark: Mark
) -> list[Problem]:
    if value is None and not key.required:
        message = _("{key} is empty: give a value or remove the key").format(key=_dotted(path))
        return [Problem(path, mark, message)]
    if not any(_fits(k, value) for k in (key.kind, *key.alt_kinds)):
        want = _either([_kind_name(k) for k in (key.kind, *key.alt_kinds)])
        message = _("{key} must be {kinds}, got {what}").format(
            key=_dotted(path), kinds=want, what=_describe(value)
        )
        return [Problem(path, mark, message)]
    if key.choices and isinstance(value, str) and value not in key.choices:
        message = _("{key} is {value}: use one of {options}{hint}").format(
            key=_dotted(path),
            value=repr(value),
            options=", ".join(key.choices),
            hint=did_you_mean(value, key.choices),
        )
        return [Problem(path, mark, message)]
    if key.kind == "map" and isinstance(value, dict):
        return check(value, key.keys, marks, path, key.open)
    out: list[Problem] = []
    if key.kind == "list" and isinstance(value, list) and key.item is not None:
        for i, item in enumerate(value):
            out.extend(check_value(item, key.item, marks, (*path, i), marks.get((*path, i), mark)))
    if key.kind == "dict" and isinstance(value, dict) and key.item is not None:
        for name, item in value.items():
            p = (*path, str(name))
            out.extend(check_value(item, key.item, marks, p, marks.get(p, mark)))
    return out


def passes(value: Any, key: Key) -> bool:
    """True when `check_value` would find nothing wrong with `value`: the quick answer for
    the common case, which builds no message and no path. False may also mean "unsure"
    (a non-text key): the caller then asks `check_value`, which says what is wrong."""
    if value is None:
        return False
    kind = key.kind
    if not _fits(kind, value) and not any(_fits(k, value) for k in key.alt_kinds):
        return False
    if key.choices and isinstance(value, str) and value not in key.choices:
        return False
    if kind == "map" and isinstance(value, dict):
        for name, sub in key.keys.items():
            if sub.required and name not in value:
                return False
        for name, item in value.items():
            if not isinstance(name, str):
                return False
            known = key.keys.get(name)
            if known is None:
                if key.open:
                    continue
                return False
            if not passes(item, known):
                return False
        return True
    item_key = key.item
    if item_key is None:
        return True
    if kind == "list" and isinstance(value, list):
        if item_key is STR:
            return all(isinstance(item, str) for item in value)
        return all(passes(item, item_key) for item in value)
    if kind == "dict" and isinstance(value, dict):
        return all(passes(item, item_key) for item in value.values())
    return True


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or _("the document")


def _describe(value: Any) -> str:
    if value is None:
        return _("nothing")
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, dict):
        return _("a mapping")
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    # The English names Python gives the kinds (str, int) stay as they are in English.
    if isinstance(value, str):
        return _("str {value}").format(value=text)
    if isinstance(value, int):
        return _("int {value}").format(value=text)
    if isinstance(value, float):
        return _("float {value}").format(value=text)
    return f"{type(value).__name__} {text}"


def json_schema(keys: Mapping[str, Key], title: str) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of a mapping, for editors and `cmflow schema`."""
    schema = _key_schema(Key("map", title, keys=keys))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, **schema}


def _key_schema(key: Key) -> dict[str, Any]:
    kinds = (key.kind, *key.alt_kinds)
    alts = [_one(k, key) for k in kinds]
    out: dict[str, Any] = alts[0] if len(alts) == 1 else {"anyOf": alts}
    if key.doc:
        out["description"] = key.doc
    return out


def _one(kind: str, key: Key) -> dict[str, Any]:
    if kind == "map":
        props = {name: _key_schema(k) for name, k in key.keys.items()}
        out: dict[str, Any] = {
            "type": "object",
            "properties": props,
            "additionalProperties": key.open,
        }
        req = [name for name, k in key.keys.items() if k.required]
        if req:
            out["required"] = req
        return out
    if kind == "dict":
        return {"type": "object", "additionalProperties": _key_schema(key.item or Key("any", ""))}
    if kind == "list":
        return {"type": "array", "items": _key_schema(key.item or Key("any", ""))}
    if kind == "str" and key.choices:
        return {"type": "string", "enum": list(key.choices)}
    simple: dict[str, dict[str, Any]] = {
        "str": {"type": "string"},
        "int": {"type": "integer"},
        "number": {"type": "number"},
        "bool": {"type": "boolean"},
        "duration": {"type": ["string", "number"], "pattern": r"^\d+(\.\d+)?\s*(s|m|min|h|d|w)$"},
        "date": {"type": "string"},
        "any": {},
    }
    return dict(simple[kind])
