"""dev.to (Forem): articles through `POST /api/articles`."""

from __future__ import annotations

from cmflow.platforms.spec import Capability, PlatformSpec, caps, token

SPEC = PlatformSpec(
    name="devto",
    label="dev.to",
    counter="chars",
    defaults={"max_length": 800_000, "max_title_length": 128, "max_tags": 4, "max_media": 1},
    keys=(token("environment variable holding the dev.to API key"),),
    capabilities=caps(Capability.TITLES, Capability.RECONCILES),
    default_base_url="https://dev.to/api",
    max_tags=4,
    source="forem/forem app/models/article.rb",
)
