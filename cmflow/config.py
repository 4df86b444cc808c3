"""channels.yaml: load it, check it whole, and resolve each channel's effective rules."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cmflow import i18n, platforms, safefs, schema
from cmflow.errors import ConfigError
from cmflow.i18n import _
from cmflow.model import KeyPath, Level, Mark
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec
from cmflow.redact import unsendable
from cmflow.slots import Cadence, Slot
from cmflow.timeutil import Window, parse_duration, parse_window
from cmflow.video import parse_aspect
from cmflow.yamlload import YamlSyntaxError, byte_mark, parse

if TYPE_CHECKING:
    from cmflow.evergreen import Policy

CONFIG_NAME = "channels.yaml"
DEFAULT_CATCH_UP = timedelta(hours=48)


@dataclass(frozen=True)
class Mix:
    max_share: Mapping[str, float]
    window: timedelta


@dataclass(frozen=True)
class LinkTracking:
    domains: tuple[str, ...]
    params: Mapping[str, str]  # utm_source -> "{channel}", ...


@dataclass(frozen=True)
class Rules:
    """A channel's effective rules: platform defaults < editorial_line < channel rules."""

    pillars: tuple[str, ...] = ()
    require_pillar: bool = False
    forbidden_terms: tuple[str, ...] = ()
    required_hashtags: tuple[str, ...] = ()
    max_hashtags: int | None = None
    require_alt_text: bool = False
    mix: Mix | None = None
    link_tracking: LinkTracking | None = None
    max_length: int | None = None
    max_caption_length: int | None = None
    posting_windows: tuple[Window, ...] = ()
    max_per_day: int | None = None
    min_gap: timedelta | None = None
    max_media: int | None = None
    media_types: tuple[str, ...] = ()
    max_media_bytes: int | None = None
    require_media: bool = False
    catch_up: timedelta | None = None
    max_title_length: int | None = None
    max_tags: int | None = None
    max_video_bytes: int | None = None
    min_video_seconds: float | None = None
    max_video_seconds: float | None = None
    video_codecs: tuple[str, ...] = ()
    video_orientation: str | None = None
    video_aspect: str | None = None
    min_video_side: int | None = None
    max_video_side: int | None = None


@dataclass(frozen=True)
class Channel:
    name: str
    platform: str
    spec: PlatformSpec
    settings: Mapping[str, Any]  # connection keys as written (never secret values)
    rules: Rules
    mark: Mark
    language: str | None = None  # the channel's `language`, else the brand's
    brand: str | None = None  # channels.yaml `brand`: the display name when a channel has none

    def setting(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

    @property
    def base_url(self) -> str | None:
        url = self.settings.get("base_url") or self.spec.default_base_url
        return str(url).rstrip("/") if url else None

    @property
    def enabled(self) -> bool:
        return bool(self.settings.get("enabled", True))

    @property
    def output_dir(self) -> str | None:
        """The folder this channel writes into the repository (WRITES_FILES), else None."""
        key = self.spec.output_key
        if not key or not self.spec.can(Capability.WRITES_FILES):
            return None
        return str(self.settings.get(key, self.spec.output_default))

    def missing_keys(self) -> list[str]:
        """Connection keys needed to publish that channels.yaml does not set yet (a team
        may write and review posts before it has the account id)."""
        return [
            k
            for k in self.spec.required_for(self.settings)
            if k not in self.settings and not (k == "base_url" and self.spec.default_base_url)
        ]

    def missing_secrets(self, env: Mapping[str, str] | None = None) -> list[str]:
        """The environment variables this channel needs that are unset or hold a value that
        cannot be sent, even stripped (a line break inside, a character that is not
        Latin-1, a control character), each named with what is wrong: nothing is sent to
        the channel until they are fixed."""
        env = os.environ if env is None else env
        names = [str(self.settings[k]) for k in self.spec.secrets if k in self.settings]
        problems = []
        for name in names:
            value = env.get(name)
            if value is None or not value.strip():
                problems.append(name)
            elif (why := unsendable(value.strip())) is not None:
                # What is wrong and where, never the value (not even in part).
                problems.append(
                    _("{name} (its value {why}: set it again with the credential only)").format(
                        name=name, why=why
                    )
                )
        return problems

    def secrets(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """key -> value of every credential that can be sent. Stripped: a secret pasted with
        a trailing newline is unambiguous (and would otherwise end up in a header error
        message). A value that still cannot be sent (a line break inside, a character HTTP
        headers cannot carry) is left out, not repaired: `missing_secrets` reports it, so
        the channel is skipped before any claim, never half sent."""
        env = os.environ if env is None else env
        out = {}
        for k, v in self.settings.items():
            if k in self.spec.secrets:
                value = env.get(str(v), "").strip()
                if value and unsendable(value) is None:
                    out[k] = value
        return out

    def secret_texts(self, env: Mapping[str, str] | None = None) -> list[str]:
        """Every value this channel's credential variables hold, usable or not, for masking."""
        env = os.environ if env is None else env
        values = [env.get(str(v), "") for k, v in self.settings.items() if k in self.spec.secrets]
        return [x for v in values for x in {v, v.strip()} if x.strip()]


@dataclass(frozen=True)
class Config:
    root: Path
    path: Path
    timezone: ZoneInfo
    language: str | None
    catch_up: timedelta
    content_dir: str
    data_dir: str
    pillars: tuple[str, ...]
    channels: Mapping[str, Channel]
    levels: Mapping[str, Level]
    digest: str  # hash of channels.yaml, part of cache keys
    marks: Mapping[KeyPath, Mark] = field(default_factory=dict)
    country: str | None = None  # ISO 3166, for public holidays
    events: tuple[Mapping[str, Any], ...] = ()  # the brand's key dates, checked
    slots: Mapping[str, tuple[Slot, ...]] = field(default_factory=dict)  # channel -> slots
    cadence: Mapping[str, Cadence] = field(default_factory=dict)  # channel -> target rhythm
    evergreen: Mapping[str, Policy] = field(default_factory=dict)  # channel -> re-post policy
    # Metrics sections as written (checked by `schema`); `cmflow.metrics.settings` reads them.
    metrics: Mapping[str, Any] = field(default_factory=dict)
    analytics: Mapping[str, Any] | None = None
    competitors: Mapping[str, Any] = field(default_factory=dict)
    brand: str | None = None  # the brand's display name (`brand:`)

    def catch_up_for(self, channel: Channel) -> timedelta:
        """How late a due post may still go out on `channel` (its rules, else the brand's)."""
        return channel.rules.catch_up if channel.rules.catch_up is not None else self.catch_up

    def secret_values(self, env: Mapping[str, str] | None = None) -> list[str]:
        """Every secret value any channel reads, for redaction."""
        env = os.environ if env is None else env
        values = [v for ch in self.channels.values() for v in ch.secret_texts(env)]
        name = (self.analytics or {}).get("token_env")
        if isinstance(name, str) and env.get(name, "").strip():
            values.append(env[name].strip())
        return values


def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding channels.yaml."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise ConfigError(
        [
            _(
                "no {name} found in {folder} or its parents: run `cmflow init` or pass --root"
            ).format(name=CONFIG_NAME, folder=here)
        ]
    )


def load(root: Path, known_rules: set[str] | None = None) -> Config:
    """Load and check root/channels.yaml; raise ConfigError listing every problem."""
    path = root / CONFIG_NAME
    name = CONFIG_NAME
    try:
        # A regular file of the repository only: never a FIFO (a read would block) nor a
        # link into .git (where the CI keeps its token).
        raw = safefs.read_regular(path.parent, path.name)
    except safefs.UnsafePath as exc:
        raise ConfigError(
            [_("{file}: cannot read it: it {why}").format(file=name, why=exc)]
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        m = byte_mark(raw, exc.start)
        message = _("not UTF-8 text (byte {byte}): save it as UTF-8").format(
            byte=f"0x{raw[exc.start]:02x}"
        )
        raise ConfigError([_at(name, m, message)]) from None
    if "\r" in text:  # lines counted as posts count them (and as the end-of-file mark needs)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # The brand's problems in the brand's language (`cli.load_config` keeps it on after),
    # even those of a file YAML cannot read: its `language:` line is read from the text.
    _speak(_written_language(text))
    try:
        data, marks, _node = parse(text)
    except YamlSyntaxError as exc:
        message = _("invalid YAML: {problem}").format(problem=exc.message)
        raise ConfigError([_at(name, exc.mark, message)]) from None
    if data is None:
        data = {}
    _speak(data.get("language") if isinstance(data, dict) else None)
    problems = [_at(name, p.mark, p.message) for p in schema.check(data, schema.CONFIG_KEYS, marks)]
    if not isinstance(data, dict):
        raise ConfigError(problems)
    b = _Builder(name, data, marks, problems, known_rules)
    config = b.build(root, path, hashlib.sha256(raw).hexdigest())
    if problems:
        raise ConfigError(sorted(set(problems), key=_problem_order))
    return config


def _speak(language: object) -> None:
    """Speak the brand's `language` from now on (unless CMFLOW_LANG says otherwise)."""
    i18n.activate(i18n.choose(language if isinstance(language, str) else None))


_LANGUAGE_LINE = re.compile(r"^language:[ \t]*[\"']?([A-Za-z_-]+)", re.MULTILINE)


def _written_language(text: str) -> str | None:
    """The top-level `language:` written in a channels.yaml, before (or without) YAML."""
    m = _LANGUAGE_LINE.search(text)
    return m.group(1) if m else None


def _problem_order(text: str) -> tuple[int, int, str]:
    parts = text.split(":", 3)
    try:
        return (int(parts[1]), int(parts[2]), text)
    except (IndexError, ValueError):
        return (0, 0, text)


def _at(name: str, mark: Mark, message: str) -> str:
    return f"{name}:{mark.line}:{mark.column}: {message}"


class _Builder:
    """Turns checked YAML into a Config, adding semantic problems (zones, windows, ...)."""

    def __init__(
        self,
        name: str,
        data: dict[str, Any],
        marks: Mapping[KeyPath, Mark],
        problems: list[str],
        known_rules: set[str] | None,
    ) -> None:
        self.name, self.data, self.marks, self.problems = name, data, marks, problems
        self.known_rules = known_rules

    def error(self, path: KeyPath, message: str) -> None:
        mark = Mark(1, 1)
        for i in range(len(path), -1, -1):
            if path[:i] in self.marks:
                mark = self.marks[path[:i]]
                break
        self.problems.append(_at(self.name, mark, message))

    def build(self, root: Path, path: Path, digest: str) -> Config:
        d = self.data
        tz_name = d.get("timezone", "UTC")
        tz = ZoneInfo("UTC")
        if isinstance(tz_name, str):  # another type is already reported by the schema
            try:
                tz = ZoneInfo(tz_name)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                self.error(
                    ("timezone",),
                    _(
                        "unknown timezone {zone}: use a name from the time zone database "
                        "such as Europe/Paris"
                    ).format(zone=repr(tz_name)),
                )
        catch_up = self.duration(("catch_up",), d.get("catch_up"))
        catch_up = DEFAULT_CATCH_UP if catch_up is None else catch_up
        editorial = d.get("editorial_line") if isinstance(d.get("editorial_line"), dict) else {}
        assert isinstance(editorial, dict)
        raw_pillars = editorial.get("pillars")
        pillars = tuple(
            p for p in (raw_pillars if isinstance(raw_pillars, list) else ()) if isinstance(p, str)
        )
        channels: dict[str, Channel] = {}
        raw_channels = d.get("channels")
        if not raw_channels:
            self.error(
                ("channels",) if "channels" in d else (),
                _("define at least one channel under `channels:`"),
            )
        elif isinstance(raw_channels, dict):
            for cname, raw in raw_channels.items():
                if isinstance(raw, dict):
                    ch = self.channel(str(cname), raw, editorial, pillars)
                    if ch is not None:
                        channels[ch.name] = ch
        self.channel_refs(channels)
        levels: dict[str, Level] = {}
        for rule_id, level in (
            (d.get("levels") or {}).items() if isinstance(d.get("levels"), dict) else ()
        ):
            if self.known_rules is not None and rule_id not in self.known_rules:
                hint = schema.did_you_mean(str(rule_id), sorted(self.known_rules))
                self.error(
                    ("levels", rule_id),
                    _("unknown rule {rule}{hint}: `cmflow rules` lists them").format(
                        rule=repr(rule_id), hint=hint
                    ),
                )
            elif level is False or level == "off":
                levels[str(rule_id)] = "off"
            elif level in ("error", "warning"):
                levels[str(rule_id)] = level
        for key in ("content_dir", "data_dir"):
            self.inside(root, (key,), d.get(key))
        for cname, ch in channels.items():
            for conn in ch.spec.keys:
                if conn.folder:
                    self.inside(root, ("channels", cname, conn.name), ch.setting(conn.name))
        return Config(
            root=root,
            path=path,
            timezone=tz,
            language=d.get("language") if isinstance(d.get("language"), str) else None,
            catch_up=catch_up,
            content_dir=str(d.get("content_dir", "content")),
            data_dir=str(d.get("data_dir", "data")),
            pillars=pillars,
            channels=channels,
            levels=levels,
            digest=digest,
            marks=dict(self.marks),
            country=self.country(str(tz_name)),
            events=tuple(self.events(root)),
            slots={n: self.slots(n, ch) for n, ch in channels.items() if ch.setting("slots")},
            cadence={
                n: c
                for n, ch in channels.items()
                if (c := self.cadence(n, ch.setting("cadence"))) is not None
            },
            evergreen={
                n: p for n, ch in channels.items() if (p := self.evergreen(n, ch)) is not None
            },
            metrics=_section(d.get("metrics")) or {},
            analytics=_section(d.get("analytics")),
            competitors=_section(d.get("competitors")) or {},
            brand=d["brand"].strip()
            if isinstance(d.get("brand"), str) and d["brand"].strip()
            else None,
        )

    # -- planning: key dates, slots, cadence --------------------------------------------

    def country(self, zone: str) -> str | None:
        value = self.data.get("country")
        if isinstance(value, str):
            if not (len(value) == 2 and value.isalpha()):
                self.error(
                    ("country",),
                    _("country {country}: use a two-letter ISO code like FR").format(
                        country=repr(value)
                    ),
                )
                return None
            return value.upper()
        from cmflow.timeutil import country_for_timezone

        return country_for_timezone(zone)

    def events(self, root: Path) -> list[Mapping[str, Any]]:
        raw = self.data.get("events")
        if isinstance(raw, str):
            return self.events_file(root, raw)
        out: list[Mapping[str, Any]] = []
        for i, ev in enumerate(raw if isinstance(raw, list) else ()):
            checked = self.event(("events", i), ev)
            if checked is not None:
                out.append(checked)
        return out

    def events_file(self, root: Path, rel: str) -> list[Mapping[str, Any]]:
        from cmflow.errors import CmflowError

        self.inside(root, ("events",), rel)
        path = root / rel
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.error(
                ("events",),
                _("events file {file} cannot be read ({why}): check the path").format(
                    file=repr(rel), why=exc
                ),
            )
            return []
        try:
            data, marks, _node = parse(text)
        except (YamlSyntaxError, CmflowError) as exc:
            mark = getattr(exc, "mark", Mark(1, 1))
            self.problems.append(_at(rel, mark, _("invalid YAML: {problem}").format(problem=exc)))
            return []
        if isinstance(data, dict):
            data = data.get("events")
        if not isinstance(data, list):
            self.problems.append(_at(rel, Mark(1, 1), _("expected a list of events (date, name)")))
            return []
        out: list[Mapping[str, Any]] = []
        for i, ev in enumerate(data):
            for p in schema.check_value(
                ev, schema._EVENT, marks, (i,), marks.get((i,), Mark(1, 1))
            ):
                self.problems.append(_at(rel, p.mark, p.message))
            checked = self.event((i,), ev, report=False)
            if checked is not None:
                out.append(checked)
            elif isinstance(ev, dict) and "date" in ev and _as_date(ev["date"]) is None:
                mark = marks.get((i, "date"), Mark(1, 1))
                self.problems.append(
                    _at(
                        rel,
                        mark,
                        _("event date {date}: write it as 2027-03-10").format(
                            date=repr(ev["date"])
                        ),
                    )
                )
        return out

    def event(self, path: KeyPath, ev: Any, *, report: bool = True) -> Mapping[str, Any] | None:
        if not isinstance(ev, dict):
            return None
        day, until = _as_date(ev.get("date")), _as_date(ev.get("until"))
        if day is None or not isinstance(ev.get("name"), str):
            if report and "date" in ev and day is None:
                self.error(
                    (*path, "date"),
                    _("event date {date}: write it as 2027-03-10").format(
                        date=repr(ev.get("date"))
                    ),
                )
            return None
        if until is not None and until < day:
            if report:
                self.error((*path, "until"), _("an event ends on or after the day it starts"))
            return None
        return {**ev, "date": day, "until": until}

    def slots(self, name: str, ch: Channel) -> tuple[Slot, ...]:
        from cmflow.slots import parse_slot

        out: list[Slot] = []
        raw = ch.setting("slots")
        for i, text in enumerate(raw if isinstance(raw, list) else ()):
            try:
                out.append(parse_slot(str(text)))
            except ValueError as exc:
                self.error(("channels", name, "slots", i), str(exc))
        return tuple(out)

    def evergreen(self, name: str, ch: Channel) -> Policy | None:
        """The channel's re-post policy (`evergreen:`), its problems reported where written."""
        raw = ch.setting("evergreen")
        if not isinstance(raw, dict):
            return None  # absent, or a kind the schema reports
        from cmflow import evergreen
        from cmflow.i18n import _

        where: KeyPath = ("channels", name, "evergreen")
        if not evergreen.reposts_on(ch):
            self.error(
                where,
                _(
                    "channel {channel!r} ({platform}) keeps one copy of each post and is never "
                    "re-posted: remove `evergreen:` here"
                ).format(channel=name, platform=ch.spec.label),
            )
            return None
        good, problems = evergreen.check(raw)
        for key, message in problems:
            self.error((*where, key) if key else where, message)
        missing = [k for k in ("every", "times") if k not in raw]
        if missing:
            self.error(
                where,
                _("evergreen needs {keys}, e.g. {{every: 180d, times: 2}}").format(
                    keys=", ".join(missing)
                ),
            )
        if problems or missing:
            return None
        return evergreen.Policy(good["every"], good["times"])

    def cadence(self, name: str, value: Any) -> Cadence | None:
        if value is None:
            return None
        from cmflow.slots import parse_cadence

        try:
            return parse_cadence(str(value))
        except ValueError as exc:
            self.error(("channels", name, "cadence"), str(exc))
            return None

    def channel_refs(self, channels: Mapping[str, Channel]) -> None:
        """Keys naming another channel of the brand (`notify:`) name one that can do what
        the key needs (carry a reminder)."""
        for cname, ch in channels.items():
            for conn in ch.spec.keys:
                value = ch.setting(conn.name)
                if conn.channel_with is None or not isinstance(value, str):
                    continue
                able = sorted(n for n, c in channels.items() if c.spec.can(conn.channel_with))
                choices = (
                    ", ".join(able)
                    if able
                    else _("none yet: add a Slack, Discord, Telegram or email channel")
                )
                target = channels.get(value)
                if target is None or value == cname:
                    hint = schema.did_you_mean(value, able)
                    self.error(
                        ("channels", cname, conn.name),
                        _(
                            "{key} {value} is not another channel of this brand{hint} "
                            "(channels that can carry it: {choices})"
                        ).format(key=conn.name, value=repr(value), hint=hint, choices=choices),
                    )
                elif not target.spec.can(conn.channel_with):
                    self.error(
                        ("channels", cname, conn.name),
                        _(
                            "{key} {value} is a {platform} channel, which cannot carry it "
                            "(channels that can: {choices})"
                        ).format(
                            key=conn.name,
                            value=repr(value),
                            platform=target.spec.label,
                            choices=choices,
                        ),
                    )

    def inside(self, root: Path, path: KeyPath, value: Any) -> None:
        """Folders cmflow reads or writes must stay inside the repository."""
        if not isinstance(value, str):
            return
        # realpath, not Path.resolve: a link loop is refused when written, not a crash here.
        try:
            inside = Path(os.path.realpath(root / value)).is_relative_to(os.path.realpath(root))
        except ValueError:  # a NUL character
            inside = False
        if not inside:
            self.error(
                path,
                _("{key} {value} leaves the repository: use a folder inside it").format(
                    key=path[-1], value=repr(value)
                ),
            )

    def duration(self, path: KeyPath, value: Any) -> timedelta | None:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return None  # nothing written, or a type the schema already reports
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.error(path, str(exc))
            return None

    def channel(
        self, name: str, raw: dict[str, Any], editorial: dict[str, Any], pillars: tuple[str, ...]
    ) -> Channel | None:
        base: KeyPath = ("channels", name)
        platform = raw.get("platform")
        if not isinstance(platform, str):
            return None
        spec = platforms.spec(platform)
        if spec is None:
            known = platforms.names()
            hint = schema.did_you_mean(platform, known)
            self.error(
                (*base, "platform"),
                _("unknown platform {platform}{hint}; known: {known}").format(
                    platform=repr(platform), hint=hint, known=", ".join(known)
                ),
            )
            return None
        self.connection_keys(base, raw, spec)
        for key, value in raw.items():
            if key.endswith("_env") and isinstance(value, str):
                problem = _env_name_problem(key, value, _example_env(name, key))
                if problem:
                    self.error((*base, key), problem)
        for key in ("base_url", *(k.name for k in spec.keys if k.url)):
            url = raw.get(key)
            problem = _url_problem(key, url) if isinstance(url, str) else None
            if problem:
                self.error((*base, key), problem)
        merged: dict[str, Any] = dict(spec.defaults_for(raw))
        for key, extra in spec.setting_rules.items():
            if raw.get(key) is True:  # e.g. YouTube `shorts: true`: the Shorts limits
                merged.update(extra)
        merged.update({k: v for k, v in editorial.items() if v is not None})
        chan_rules = raw.get("rules") if isinstance(raw.get("rules"), dict) else {}
        assert isinstance(chan_rules, dict)
        merged.update({k: v for k, v in chan_rules.items() if v is not None})

        def where(key: str) -> KeyPath:
            return (*base, "rules", key) if key in chan_rules else ("editorial_line", key)

        rules = self.rules(merged, where, pillars)
        settings = {k: v for k, v in raw.items() if k != "rules"}
        language = raw.get("language") or self.data.get("language")
        return Channel(
            name,
            platform,
            spec,
            settings,
            rules,
            self.marks.get(base, Mark(1, 1)),
            str(language) if isinstance(language, str) else None,
            brand if isinstance(brand := self.data.get("brand"), str) and brand.strip() else None,
        )

    def connection_keys(self, base: KeyPath, raw: dict[str, Any], spec: PlatformSpec) -> None:
        """Check the keys `spec` declares: type and shape. One not set yet is no problem
        here: `plan` and `publish` skip the channel naming it (`Channel.missing_keys`)."""
        own = {k.name: k for k in spec.keys}
        takes = sorted({"base_url", *own})
        for key, value in raw.items():
            path: KeyPath = (*base, str(key))
            mark = self.marks.get(path, self.marks.get(base, Mark(1, 1)))
            if key in schema.CHANNEL_KEYS:
                continue  # platform, base_url, enabled, rules: checked by the schema
            conn = own.get(str(key))
            if conn is None:
                if any(s.key(str(key)) for s in _other_specs(spec.name)):
                    self.error(
                        path,
                        _("{key} does not apply to {platform} channels (it takes: {keys})").format(
                            key=repr(key), platform=spec.label, keys=", ".join(takes)
                        ),
                    )
                else:
                    known = [*schema.CHANNEL_KEYS, *own]
                    self.problems.append(
                        _at(self.name, mark, schema.unknown_key(path, mark, known).message)
                    )
                continue
            found = schema.check_value(value, _schema_key(conn), self.marks, path, mark)
            self.problems.extend(_at(self.name, p.mark, p.message) for p in found)
            if found:
                continue
            problem = conn.problem(value)
            if problem:
                self.error(path, problem)

    def rules(self, r: dict[str, Any], where: Any, pillars: tuple[str, ...]) -> Rules:
        windows: list[Window] = []
        raw_windows = r.get("posting_windows")
        for i, text in enumerate(raw_windows if isinstance(raw_windows, list) else ()):
            if not isinstance(text, str):
                continue  # reported by the schema
            try:
                windows.append(parse_window(text))
            except ValueError as exc:
                self.error((*where("posting_windows"), i), str(exc))
        for key in ("forbidden_terms", "required_hashtags"):
            raw_terms = r.get(key)
            for i, term in enumerate(raw_terms if isinstance(raw_terms, list) else ()):
                if isinstance(term, str) and not term.strip(" \t#"):
                    # It would be found everywhere (or nowhere): never what was meant.
                    self.error(
                        (*where(key), i),
                        _("{key}: an empty entry: write a word or remove the line").format(key=key),
                    )
        mix = None
        raw_mix = r.get("mix")
        if isinstance(raw_mix, dict):
            window = self.duration((*where("mix"), "window"), raw_mix.get("window", "14d"))
            shares = raw_mix.get("max_share")
            shares = shares if isinstance(shares, dict) else {}
            for pillar, share in shares.items():
                if pillars and pillar not in pillars:
                    hint = schema.did_you_mean(str(pillar), pillars)
                    self.error(
                        (*where("mix"), "max_share", pillar),
                        _("mix names pillar {pillar}, not in pillars{hint}").format(
                            pillar=repr(pillar), hint=hint
                        ),
                    )
                if (
                    isinstance(share, int | float)
                    and not isinstance(share, bool)
                    and not (0 <= share <= 1)
                ):
                    self.error(
                        (*where("mix"), "max_share", pillar),
                        _("a share is between 0 and 1 (0.3 = 30%), got {share}").format(
                            share=share
                        ),
                    )
            mix = Mix(
                {
                    str(k): float(v)
                    for k, v in shares.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                },
                window or timedelta(days=14),
            )
        tracking = None
        raw_lt = r.get("link_tracking")
        if isinstance(raw_lt, dict):
            params = {k: str(v) for k, v in raw_lt.items() if k.startswith("utm_")}
            domains = raw_lt.get("domains")
            tracking = LinkTracking(
                tuple(x.lower() for x in domains if isinstance(x, str))
                if isinstance(domains, list)
                else (),
                params,
            )
        for key in (
            "max_length",
            "max_hashtags",
            "max_per_day",
            "max_media",
            "max_media_bytes",
            "max_video_bytes",
            "min_video_seconds",
            "max_video_seconds",
        ):
            v = r.get(key)
            if isinstance(v, int | float) and not isinstance(v, bool) and v < 0:
                self.error(where(key), _("{key} cannot be negative").format(key=key))
        cap = r.get("max_per_day")
        if isinstance(cap, int) and not isinstance(cap, bool) and cap == 0:
            # No day could ever hold a post: the next free day would never be found.
            self.error(
                where("max_per_day"),
                _(
                    "max_per_day is at least 1: to post nothing on a channel, take it out of "
                    "the posts' channels"
                ),
            )
        aspect = r.get("video_aspect")
        if isinstance(aspect, str) and parse_aspect(aspect) is None:
            self.error(
                where("video_aspect"),
                _("video_aspect is written W:H, like 9:16 (got {aspect})").format(
                    aspect=repr(aspect)
                ),
            )

        def ints(key: str) -> int | None:
            v = r.get(key)
            return v if isinstance(v, int) and not isinstance(v, bool) else None

        def number(key: str) -> float | None:
            v = r.get(key)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return float(v)
            return None

        def string(key: str) -> str | None:
            v = r.get(key)
            return v if isinstance(v, str) else None

        def strs(key: str) -> tuple[str, ...]:
            v = r.get(key)
            return tuple(x for x in v if isinstance(x, str)) if isinstance(v, list) else ()

        return Rules(
            pillars=pillars,
            require_pillar=bool(r.get("require_pillar", False)),
            forbidden_terms=strs("forbidden_terms"),
            required_hashtags=tuple(
                h if h.startswith("#") else f"#{h}" for h in strs("required_hashtags")
            ),
            max_hashtags=ints("max_hashtags"),
            require_alt_text=bool(r.get("require_alt_text", False)),
            mix=mix,
            link_tracking=tracking,
            max_length=ints("max_length"),
            max_caption_length=ints("max_caption_length"),
            posting_windows=tuple(windows),
            max_per_day=ints("max_per_day"),
            min_gap=self.duration(where("min_gap"), r.get("min_gap")),
            max_media=ints("max_media"),
            media_types=strs("media_types"),
            max_media_bytes=ints("max_media_bytes"),
            require_media=bool(r.get("require_media", False)),
            catch_up=self.duration(where("catch_up"), r.get("catch_up")),
            max_title_length=ints("max_title_length"),
            max_tags=ints("max_tags"),
            max_video_bytes=ints("max_video_bytes"),
            min_video_seconds=number("min_video_seconds"),
            max_video_seconds=number("max_video_seconds"),
            video_codecs=tuple(c.lower() for c in strs("video_codecs")),
            video_orientation=string("video_orientation"),
            video_aspect=string("video_aspect"),
            min_video_side=ints("min_video_side"),
            max_video_side=ints("max_video_side"),
        )


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _other_specs(name: str) -> list[PlatformSpec]:
    """Every other platform's spec (loads them all: only on the error path)."""
    return [s for n, s in platforms.all_specs().items() if n != name]


def _schema_key(key: ConnKey) -> schema.Key:
    return schema.Key(key.kind, key.doc, choices=key.choices, alt_kinds=key.alt_kinds)


def schema_keys() -> dict[str, schema.Key]:
    """channels.yaml's keys with every platform's connection keys, for `cmflow schema`."""
    conn: dict[str, schema.Key] = {}
    for spec in platforms.all_specs().values():
        for key in spec.keys:
            if key.name not in conn:
                conn[key.name] = _schema_key(key)
    channel = schema.Key("map", "", keys={**schema.CHANNEL_KEYS, **dict(sorted(conn.items()))})
    channels = schema.Key("dict", "the brand's channels", item=channel)
    return {**schema.CONFIG_KEYS, "channels": channels}


def _section(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, dict) else None


def _example_env(channel: str, key: str) -> str:
    suffix = {"webhook_env": "WEBHOOK_URL", "password_env": "APP_PASSWORD"}.get(key, "TOKEN")
    stem = "".join(c if c.isalnum() else "_" for c in channel.upper())
    return f"CMFLOW_{stem}_{suffix}"


_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*\Z")
# Variables the system, the shell or the CI runner sets. A channel naming one would send its
# value to a platform (or into an error message): a pull request could otherwise exfiltrate
# the runner's own token (GITHUB_TOKEN, ACTIONS_RUNTIME_TOKEN, ...). A credential lives in a
# variable of its own, set from a repository secret.
_SYSTEM_ENV = frozenset(
    {
        "BASH_ENV", "CDPATH", "CI", "COLORTERM", "DISPLAY", "EDITOR", "ENV", "EUID", "GH_TOKEN",
        "GH_ENTERPRISE_TOKEN", "HOME", "HOSTNAME", "HOSTTYPE", "IFS", "LANG", "LANGUAGE",
        "LOGNAME", "MACHTYPE", "MAIL", "OLDPWD", "OSTYPE", "PAGER", "PATH", "PPID",
        "PROMPT_COMMAND", "PS1", "PS2", "PS4", "PWD", "SHELL", "SHELLOPTS", "SHLVL", "TEMP",
        "TERM", "TMP", "TMPDIR", "TZ", "UID", "USER", "USERNAME", "VISUAL",
    }
)  # fmt: skip
_SYSTEM_ENV_PREFIXES = (
    "ACTIONS_", "BASH_", "DYLD_", "GITHUB_", "GIT_", "LC_", "LD_", "PYTHON", "RUNNER_",
    "SSH_", "SUDO_", "XDG_",
)  # fmt: skip


def _env_name_problem(key: str, value: str, example: str) -> str | None:
    """Why `value` cannot be the environment variable named by `key`, or None."""
    if not _ENV_NAME.match(value):
        if value and _ENV_NAME.match(value.upper()) and value == value.lower():
            return _(
                "{key} {value}: write environment variable names in capitals, e.g. {upper}"
            ).format(key=key, value=repr(value), upper=value.upper())
        return _(
            "{key} names an environment variable (like {example}), not the secret itself: "
            "store the value as a repository secret under that name, and since it is now "
            "in git history, revoke it and create a new one"
        ).format(key=key, example=example)
    if value in _SYSTEM_ENV or value.startswith(_SYSTEM_ENV_PREFIXES):
        return _(
            "{key} {value} is a variable the system or the CI runner sets, not this "
            "channel's credential: name a variable of its own, like {example}, and set it "
            "from a repository secret"
        ).format(key=key, value=value, example=example)
    return None


def _url_problem(key: str, url: str) -> str | None:
    """Why `url` is not an absolute http(s) URL, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https"):
        return _("{key} must start with https:// (got {url})").format(key=key, url=repr(url))
    if not parts.hostname or any(c.isspace() or ord(c) < 32 for c in url):
        return _("{key} {url} is not a web address: write it like https://example.fr/path").format(
            key=key, url=repr(url)
        )
    return None
