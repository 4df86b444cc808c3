"""Platform registry: specs (always loaded, cheap) and adapters (imported when publishing).

Adding a platform: one module in this folder with an `Adapter` class (see `base.Adapter`),
its `PlatformSpec` in `specs.py`, and one line in `ADAPTERS`.
"""

from __future__ import annotations

import importlib

from cmflow.platforms.base import Adapter, Context
from cmflow.platforms.specs import SPECS

# platform name -> module holding `Adapter`
ADAPTERS: dict[str, str] = {
    "feed": "cmflow.platforms.feed",
    "mastodon": "cmflow.platforms.mastodon",
    "bluesky": "cmflow.platforms.bluesky",
    "discord": "cmflow.platforms.discord",
    "slack": "cmflow.platforms.slack",
    "telegram": "cmflow.platforms.telegram",
}


def adapter_for(ctx: Context) -> Adapter:
    module = importlib.import_module(ADAPTERS[ctx.channel.platform])
    adapter: Adapter = module.Adapter(ctx)
    return adapter


__all__ = ["ADAPTERS", "SPECS", "adapter_for"]
