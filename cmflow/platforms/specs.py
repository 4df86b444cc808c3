"""Every platform's defaults, one table each (sources in ../shared/PLATFORMS.md).

Kept free of heavy imports: `cmflow validate` reads it on every run. Limits drift, so every
value here is a default that a channel's `rules` in channels.yaml may override.
"""

from __future__ import annotations

from cmflow.platforms.base import PlatformSpec

MB = 1_000_000
MIB = 1024 * 1024
IMAGES = ("image/jpeg", "image/png", "image/gif", "image/webp")

MASTODON = PlatformSpec(
    name="mastodon",
    label="Mastodon",
    counter="mastodon",
    url_length=23,
    defaults={
        "max_length": 500,
        "max_media": 4,
        "media_types": [*IMAGES, "video/mp4"],
        "max_media_bytes": 16_777_216,
    },
    required=("base_url", "token_env"),
    optional=("visibility", "language"),
    secrets=("token_env",),
    threads=True,
    alt_text=True,
    max_alt_length=1500,
    source="mastodon/documentation entities/Instance.md; status_length_validator.rb",
)

BLUESKY = PlatformSpec(
    name="bluesky",
    label="Bluesky",
    counter="graphemes",
    defaults={
        "max_length": 300,
        "max_media": 4,
        "media_types": list(IMAGES),
        "max_media_bytes": 2 * MB,
    },
    required=("handle", "password_env"),
    optional=("language",),
    secrets=("password_env",),
    default_base_url="https://bsky.social",
    threads=True,
    alt_text=True,
    max_alt_length=2000,
    shorten_links=27,
    max_tags=8,
    source="bluesky-social/atproto lexicons app/bsky/feed/post.json, embed/images.json",
)

LINKEDIN = PlatformSpec(
    name="linkedin",
    label="LinkedIn",
    counter="chars",
    defaults={
        "max_length": 3000,
        "max_media": 20,
        "media_types": ["image/jpeg", "image/png", "image/gif"],
    },
    required=("author", "token_env"),
    optional=("api_version",),
    secrets=("token_env",),
    default_base_url="https://api.linkedin.com/rest",
    alt_text=True,
    source="learn.microsoft.com posts-api; commentary limit third-party",
)

X = PlatformSpec(
    name="x",
    label="X",
    counter="x",
    url_length=23,
    defaults={
        "max_length": 280,
        "max_media": 4,
        "media_types": [*IMAGES, "video/mp4"],
        "max_media_bytes": 5 * MB,
    },
    required=("token_env",),
    secrets=("token_env",),
    default_base_url="https://api.x.com/2",
    threads=True,
    alt_text=True,
    max_alt_length=1000,
    source="docs.x.com counting-characters; x-api/media",
)

FACEBOOK = PlatformSpec(
    name="facebook",
    label="Facebook Page",
    counter="chars",
    defaults={"max_length": 63_206, "max_media": 10, "media_types": list(IMAGES)},
    required=("page_id", "token_env"),
    secrets=("token_env",),
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
    required=("user_id", "token_env", "media_base_url"),
    secrets=("token_env",),
    default_base_url="https://graph.facebook.com/v21.0",
    alt_text=True,
    source="instagram-platform content-publishing; error 2207004 (8 MiB JPEG)",
)

THREADS = PlatformSpec(
    name="threads",
    label="Threads",
    counter="threads",
    defaults={"max_length": 500, "max_media": 20, "media_types": ["image/jpeg", "image/png"]},
    required=("user_id", "token_env", "media_base_url"),
    secrets=("token_env",),
    default_base_url="https://graph.threads.net/v1.0",
    threads=True,
    source="developers.facebook.com/documentation/threads/posts",
)

DEVTO = PlatformSpec(
    name="devto",
    label="dev.to",
    counter="chars",
    defaults={"max_length": 800_000, "max_title_length": 128, "max_tags": 4, "max_media": 1},
    required=("token_env",),
    secrets=("token_env",),
    default_base_url="https://dev.to/api",
    titles=True,
    max_tags=4,
    source="forem/forem app/models/article.rb",
)

DISCORD = PlatformSpec(
    name="discord",
    label="Discord",
    counter="chars",
    defaults={
        "max_length": 2000,
        "max_media": 10,
        "media_types": [*IMAGES, "video/mp4"],
        "max_media_bytes": 10 * MIB,
    },
    required=("webhook_env",),
    secrets=("webhook_env",),
    alt_text=True,
    reconcilable=False,  # write-only: cannot list what was posted
    source="discord-api-docs developers/resources/webhook.mdx",
)

SLACK = PlatformSpec(
    name="slack",
    label="Slack",
    counter="chars",
    defaults={"max_length": 4000, "media_types": list(IMAGES)},
    required=("webhook_env",),
    optional=("media_base_url",),
    secrets=("webhook_env",),
    alt_text=True,
    reconcilable=False,  # write-only: cannot list what was posted
    source="humanwhocodes/crosspost src/strategies/slack.js (4,000)",
)

TELEGRAM = PlatformSpec(
    name="telegram",
    label="Telegram",
    counter="utf16",
    defaults={
        "max_length": 4096,
        "max_caption_length": 1024,
        "max_media": 10,
        "media_types": list(IMAGES),
        "max_media_bytes": 10 * MB,
    },
    required=("chat_id", "token_env"),
    secrets=("token_env",),
    default_base_url="https://api.telegram.org",
    threads=True,
    reconcilable=False,  # write-only: cannot list what was posted
    source="Bot API sendMessage (4,096) / sendPhoto caption (1,024), UTF-16 units",
)

FEED = PlatformSpec(
    name="feed",
    label="Atom feed + site",
    counter="chars",
    # No SVG: the site serves media as is, and an SVG opened in a browser runs its scripts.
    defaults={"media_types": [*IMAGES, "image/avif", "video/mp4"]},
    optional=("output_dir", "site_url", "title", "language"),
    titles=True,
    html=True,
    alt_text=True,
    source="RFC 4287",
)

SPECS: dict[str, PlatformSpec] = {
    s.name: s
    for s in (
        MASTODON,
        BLUESKY,
        LINKEDIN,
        X,
        FACEBOOK,
        INSTAGRAM,
        THREADS,
        DEVTO,
        DISCORD,
        SLACK,
        TELEGRAM,
        FEED,
    )
}
