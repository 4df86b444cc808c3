"""Specs of the platforms cmflow validates but cannot publish to yet (no adapter).

Each waits here until its adapter lands: then it moves, unchanged, into
`cmflow/platforms/<name>.py` as `SPEC`, and its line in `PLATFORMS` (see `__init__.py`)
names that module instead of `cmflow.platforms.specs:<NAME>`. Limits drift, so every
value here is a default that a channel's `rules` in channels.yaml may override.
"""

from __future__ import annotations

from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token

MIB = 1024 * 1024
IMAGES = ("image/jpeg", "image/png", "image/gif", "image/webp")
GRAPH_ID = r"[0-9]+"

FACEBOOK = PlatformSpec(
    name="facebook",
    label="Facebook Page",
    counter="chars",
    defaults={"max_length": 63_206, "max_media": 10, "media_types": list(IMAGES)},
    keys=(
        ConnKey(
            "page_id",
            "Facebook Page id",
            alt_kinds=("int",),
            required=True,
            pattern=GRAPH_ID,
            shape="a numeric Page id",
        ),
        token("environment variable holding the Page access token"),
    ),
    capabilities=caps(Capability.RECONCILES),
    default_base_url="https://graph.facebook.com/v21.0",
    source="developers.facebook.com pages-api/posts; length third-party",
)

INSTAGRAM = PlatformSpec(
    name="instagram",
    label="Instagram",
    counter="chars",
    defaults={
        "max_length": 2200,
        "max_hashtags": 30,
        "max_media": 10,
        "media_types": ["image/jpeg", "video/mp4"],
        "max_media_bytes": 8 * MIB,
        "require_media": True,
    },
    keys=(
        ConnKey(
            "user_id",
            "Instagram professional account id",
            alt_kinds=("int",),
            required=True,
            pattern=GRAPH_ID,
            shape="a numeric account id",
        ),
        token(),
        ConnKey(
            "media_base_url",
            "public URL where media/ is served (Instagram fetches media from it)",
            required=True,
            url=True,
        ),
    ),
    capabilities=caps(Capability.ALT_TEXT, Capability.PUBLIC_MEDIA, Capability.RECONCILES),
    default_base_url="https://graph.facebook.com/v21.0",
    source="instagram-platform content-publishing; error 2207004 (8 MiB JPEG)",
)

THREADS = PlatformSpec(
    name="threads",
    label="Threads",
    counter="threads",
    defaults={"max_length": 500, "max_media": 20, "media_types": ["image/jpeg", "image/png"]},
    keys=(
        ConnKey(
            "user_id",
            "Threads user id",
            alt_kinds=("int",),
            required=True,
            pattern=GRAPH_ID,
            shape="a numeric user id",
        ),
        token(),
        ConnKey(
            "media_base_url",
            "public URL where media/ is served (Threads fetches media from it)",
            required=True,
            url=True,
        ),
    ),
    capabilities=caps(Capability.THREADS, Capability.PUBLIC_MEDIA, Capability.RECONCILES),
    default_base_url="https://graph.threads.net/v1.0",
    source="developers.facebook.com/documentation/threads/posts",
)
