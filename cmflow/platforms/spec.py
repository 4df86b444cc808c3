"""What a platform declares about itself: limits, counting, connection keys, capabilities.

Plain data with no imports beyond the standard library: `cmflow validate` reads the spec of
every platform its channels use on each run, and the publisher asks a spec what the
platform can do (`spec.can(Capability.WRITES_FILES)`) instead of testing platform names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cmflow.i18n import _


class Capability(StrEnum):
    """What a platform's adapter does beyond sending one text post."""

    THREADS = "threads"  # chains replies into a thread (long text split, `thread: auto`)
    EDITS = "edits"  # can change a post once published
    METRICS = "metrics"  # can read a published post's engagement
    WRITES_FILES = "writes_files"  # writes files into the repository (`output_key`)
    PUBLIC_MEDIA = "public_media"  # the platform fetches media from public URLs
    RECONCILES = "reconciles"  # can find out whether an attempt with no answer landed
    TITLES = "titles"  # uses the post title
    HTML = "html"  # receives HTML rather than plain text
    ALT_TEXT = "alt_text"  # accepts alt text on images
    MARKDOWN = "markdown"  # receives the body as written (Markdown), not plain text
    PAGES = "pages"  # gives each post a page at a stable public URL (`page_url`): canonical
    NOTIFIES = "notifies"  # can carry a reminder to the person on duty (`notify:` targets)
    REMINDS = "reminds"  # a person posts it: the run sends a reminder, the pair then waits


@dataclass(frozen=True)
class ConnKey:
    """One connection key a channel of this platform may set in channels.yaml.

    A `required` key is needed to publish, not to validate: a channel without it yet is
    checked with the platform's limits, and `plan`/`publish` skip it naming the key. A value
    of the wrong type, or not matching `pattern`, is a configuration error."""

    name: str
    doc: str
    kind: str = "str"  # a schema kind: str, int, bool
    alt_kinds: tuple[str, ...] = ()
    required: bool = False
    secret: bool = False  # names an environment variable holding a secret
    pattern: str | None = None  # the shape a (string) value must have
    shape: str = ""  # that shape for humans, e.g. "urn:li:organization:<id>"
    choices: tuple[str, ...] = ()
    folder: bool = False  # a folder inside the repository
    url: bool = False  # an absolute http(s) URL (checked with base_url by cmflow.config)
    # The name of another channel of the brand whose platform can do this (`notify:`).
    channel_with: Capability | None = None

    def problem(self, value: Any) -> str | None:
        """Why `value` has the wrong shape (its type is checked by the schema), else None."""
        if isinstance(value, bool):
            return None
        text = str(value) if isinstance(value, str | int) else None
        if text is None:
            return None
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            return _("{name} must look like {shape} (got {value!r})").format(
                name=self.name, shape=self.shape or self.pattern, value=text
            )
        return None


def token(doc: str = "environment variable holding the access token") -> ConnKey:
    return ConnKey("token_env", doc, required=True, secret=True)


LANGUAGE = ConnKey("language", "language of this channel's posts (ISO 639-1)")


@dataclass(frozen=True)
class PlatformSpec:
    """One platform's facts and defaults; channels.yaml `rules` override the defaults."""

    name: str
    label: str
    counter: str  # a key of cmflow.counting.COUNTERS
    defaults: Mapping[str, Any]  # rule defaults: max_length, max_media, media_types, ...
    keys: tuple[ConnKey, ...] = ()  # connection keys (besides platform, base_url, rules)
    capabilities: frozenset[Capability] = frozenset()
    default_base_url: str | None = None
    output_key: str | None = None  # WRITES_FILES: the key naming the folder written
    output_default: str = "public"
    max_alt_length: int | None = None
    shorten_links: int | None = None  # display links shortened to this many characters
    url_length: int | None = None  # how much a URL counts, when the counter uses it
    max_tags: int | None = None
    source: str = ""  # where the limits come from
    # A boolean connection key that, when true, adds rule defaults: YouTube's
    # `shorts: true` -> {"max_video_seconds": 180, "video_orientation": "vertical_or_square"}.
    setting_rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    notice: str = ""  # what `cmflow plan` tells about every channel of this platform
    # A connection key whose value selects other defaults and required keys: the network a
    # reminder channel stands for, the provider of a newsletter. Unset: `variant_default`.
    variant_key: str | None = None
    variant_default: str = ""
    variant_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    variant_required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def key(self, name: str) -> ConnKey | None:
        return next((k for k in self.keys if k.name == name), None)

    @property
    def required(self) -> tuple[str, ...]:
        """Keys needed to publish (not to validate)."""
        return tuple(k.name for k in self.keys if k.required)

    def variant(self, settings: Mapping[str, Any]) -> str:
        """The value of `variant_key` in a channel's settings (its default when unset)."""
        if self.variant_key is None:
            return ""
        value = settings.get(self.variant_key, self.variant_default)
        return value if isinstance(value, str) else self.variant_default

    def defaults_for(self, settings: Mapping[str, Any]) -> Mapping[str, Any]:
        """The rule defaults of a channel with these settings (its variant's over the spec's)."""
        extra = self.variant_defaults.get(self.variant(settings))
        return {**self.defaults, **extra} if extra else self.defaults

    def required_for(self, settings: Mapping[str, Any]) -> tuple[str, ...]:
        """Keys a channel with these settings needs to publish (its variant's too)."""
        extra = self.variant_required.get(self.variant(settings), ())
        return (*self.required, *(k for k in extra if k not in self.required))

    @property
    def secrets(self) -> tuple[str, ...]:
        """Keys naming environment variables (token_env, ...)."""
        return tuple(k.name for k in self.keys if k.secret)

    @property
    def threads(self) -> bool:
        return Capability.THREADS in self.capabilities

    @property
    def reconcilable(self) -> bool:
        return Capability.RECONCILES in self.capabilities

    @property
    def titles(self) -> bool:
        return Capability.TITLES in self.capabilities

    @property
    def html(self) -> bool:
        return Capability.HTML in self.capabilities

    @property
    def alt_text(self) -> bool:
        return Capability.ALT_TEXT in self.capabilities


def caps(*names: Capability) -> frozenset[Capability]:
    return frozenset(names)
