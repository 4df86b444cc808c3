"""Which platforms give metrics, and where their readers live.

Adding a platform: one module in this folder with a `Reader` class (see `base.Reader`) and
one line in `READERS`. Platforms that publish but give no metrics say why in `no_metrics`.
"""

from __future__ import annotations

import importlib

from cmflow.i18n import _
from cmflow.metrics.base import Reader, ReaderContext

# platform name -> module holding `Reader`
READERS: dict[str, str] = {
    "mastodon": "cmflow.metrics.mastodon",
    "bluesky": "cmflow.metrics.bluesky",
    "x": "cmflow.metrics.x",
    "linkedin": "cmflow.metrics.linkedin",
    "facebook": "cmflow.metrics.graph",
    "instagram": "cmflow.metrics.graph",
    "threads": "cmflow.metrics.graph",
    "devto": "cmflow.metrics.devto",
}


def no_metrics(platform: str) -> str | None:
    """Why cmflow reads no engagement from a platform that publishes, in words."""
    return {
        "discord": _("webhooks return no engagement (reactions need a bot)"),
        "slack": _("incoming webhooks return no message to read back"),
        "telegram": _("the Bot API gives no view or reaction counts for channel posts"),
        "feed": _("a static feed has no engagement; see the site traffic (analytics) instead"),
    }.get(platform)


def reader_for(ctx: ReaderContext) -> Reader:
    module = importlib.import_module(READERS[ctx.channel.platform])
    reader: Reader = module.Reader(ctx)
    return reader
