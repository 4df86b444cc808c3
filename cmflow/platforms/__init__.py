"""The platform registry: one line per platform, naming the module that describes it.

Adding a platform is one module and one line in `PLATFORMS`:

- `cmflow/platforms/<name>.py` defines `SPEC` (a `spec.PlatformSpec`: limits, counting,
  connection keys, capabilities) and, when cmflow can publish there, `Adapter` (see
  `base.Adapter`: `prepare`, `publish`, `reconcile`).
- The module is imported when a channel of that platform is validated, so its top level
  stays light: standard library, `cmflow.platforms.spec`/`base`, `cmflow.http` and the like.
  Anything heavier (`requests`, parsers) is imported inside the functions that publish, or
  under `TYPE_CHECKING` for annotations. (`tests/test_platform_registry.py` checks that
  validating imports neither `requests` nor any adapter's dependencies.)
- A line `"name": "cmflow.platforms.<name>"` uses the module's `SPEC` and `Adapter`. A line
  `"name": "module:ATTRIBUTE"` names a spec alone: the platform is validated only (`plan`
  and `publish` skip it). To give such a platform an adapter, move its spec into
  `cmflow/platforms/<name>.py` as `SPEC`, next to `Adapter`, and change its line to the
  module.
- The publisher and the scheduler never test platform names: they ask the spec
  (`spec.can(Capability.WRITES_FILES)`, `spec.required`, ...) and the registry
  (`can_publish`).

Nothing here imports `cmflow.config` (channels.yaml is checked against these specs).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from types import ModuleType
from typing import Any

from cmflow.i18n import _
from cmflow.platforms.spec import Capability, PlatformSpec

# platform name -> module holding `SPEC` (and `Adapter`), or "module:ATTRIBUTE" for a spec
# that has no adapter yet (validated only).
PLATFORMS: dict[str, str] = {
    "feed": "cmflow.platforms.feed",
    "mastodon": "cmflow.platforms.mastodon",
    "bluesky": "cmflow.platforms.bluesky",
    "discord": "cmflow.platforms.discord",
    "slack": "cmflow.platforms.slack",
    "telegram": "cmflow.platforms.telegram",
    "x": "cmflow.platforms.x",
    "linkedin": "cmflow.platforms.linkedin",
    "devto": "cmflow.platforms.devto",
    "youtube": "cmflow.platforms.youtube",
    "tiktok": "cmflow.platforms.tiktok",
    "email": "cmflow.platforms.newsletter",
    "manual": "cmflow.platforms.manual",
    "pinterest": "cmflow.platforms.pinterest",
    "facebook": "cmflow.platforms.facebook",
    "instagram": "cmflow.platforms.instagram",
    "threads": "cmflow.platforms.threads",
}


def names() -> tuple[str, ...]:
    """Every known platform name, sorted."""
    return tuple(sorted(PLATFORMS))


@cache
def _module(name: str) -> tuple[ModuleType, str | None]:
    target = PLATFORMS[name]
    module_name, _ignored, attribute = target.partition(":")
    return importlib.import_module(module_name), attribute or None


def spec(name: str) -> PlatformSpec | None:
    """The spec of platform `name`, or None when cmflow does not know it."""
    if name not in PLATFORMS:
        return None
    module, attribute = _module(name)
    found = getattr(module, attribute or "SPEC")
    if not isinstance(found, PlatformSpec) or found.name != name:
        raise TypeError(
            _("{target} does not hold the PlatformSpec of {name!r}").format(
                target=PLATFORMS[name], name=name
            )
        )
    return found


def all_specs() -> dict[str, PlatformSpec]:
    """Every platform's spec (imports every platform module: for `cmflow schema` and help)."""
    out: dict[str, PlatformSpec] = {}
    for name in names():
        found = spec(name)
        if found is not None:
            out[name] = found
    return out


def can_publish(name: str) -> bool:
    """Whether cmflow has an adapter for platform `name` (else it only validates it)."""
    if name not in PLATFORMS:
        return False
    module, attribute = _module(name)
    return attribute is None and hasattr(module, "Adapter")


def page_url(platform: str, settings: Mapping[str, Any], post_id: str) -> str | None:
    """The public URL a PAGES platform gives post `post_id` on a channel with `settings`
    (its module's `page_url`), e.g. the site page that dev.to names as canonical."""
    found = spec(platform)
    if found is None or not found.can(Capability.PAGES):
        return None
    module, _ignored = _module(platform)
    url = module.page_url(settings, post_id)
    return str(url) if url else None


def adapter_class(name: str) -> type:
    """The `Adapter` class of platform `name` (KeyError when it has none)."""
    if not can_publish(name):
        raise KeyError(name)
    module, _ignored = _module(name)
    cls: type = module.Adapter
    return cls


__all__ = [
    "PLATFORMS",
    "adapter_class",
    "all_specs",
    "can_publish",
    "names",
    "page_url",
    "spec",
]
