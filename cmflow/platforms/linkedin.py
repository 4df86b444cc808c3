"""LinkedIn: posts through the Posts API (`POST /rest/posts`), images through the Images API."""

from __future__ import annotations

from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token

SPEC = PlatformSpec(
    name="linkedin",
    label="LinkedIn",
    counter="chars",
    defaults={
        "max_length": 3000,
        "max_media": 20,
        "media_types": ["image/jpeg", "image/png", "image/gif"],
    },
    keys=(
        ConnKey(
            "author",
            "urn:li:organization:... (a Page) or urn:li:person:... (a member)",
            required=True,
            pattern=r"urn:li:(organization|person):[A-Za-z0-9_-]+",
            shape="urn:li:organization:<id> or urn:li:person:<id>",
        ),
        token(),
        ConnKey(
            "api_version",
            "LinkedIn-Version header, YYYYMM",
            alt_kinds=("int",),
            pattern=r"20[0-9]{2}(0[1-9]|1[0-2])",
            shape="YYYYMM, e.g. 202511",
        ),
    ),
    capabilities=caps(Capability.ALT_TEXT, Capability.RECONCILES),
    default_base_url="https://api.linkedin.com/rest",
    source="learn.microsoft.com posts-api; commentary limit third-party",
)
