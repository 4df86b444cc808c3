"""X (API v2): posts through `POST /2/tweets`, threads through `reply.in_reply_to_tweet_id`."""

from __future__ import annotations

from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token

SPEC = PlatformSpec(
    name="x",
    label="X",
    counter="x",
    url_length=23,
    defaults={
        "max_length": 280,
        "max_media": 4,
        "media_types": ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"],
        "max_media_bytes": 5_000_000,
    },
    keys=(
        token("environment variable holding the OAuth 2.0 user access token"),
        ConnKey(
            "user_id",
            "the account's numeric id (else read from GET /2/users/me)",
            alt_kinds=("int",),
            pattern=r"[0-9]+",
            shape="a numeric user id",
        ),
    ),
    capabilities=caps(Capability.THREADS, Capability.ALT_TEXT, Capability.RECONCILES),
    default_base_url="https://api.x.com/2",
    max_alt_length=1000,
    source="docs.x.com counting-characters; x-api/media",
)
