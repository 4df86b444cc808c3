"""Loopback fakes of the platforms' HTTP APIs, with fault injection, for cmflow's tests.

Each fake is a real HTTP server on 127.0.0.1 (free port) in a background thread; use it as a
context manager and point the adapter's `base_url` at `server.url`::

    with FakeMastodon(token="t") as mastodon:
        mastodon.inject("POST", r"^/api/v1/statuses$", Fault.drop_after_commit())
        ...  # run the adapter against mastodon.url
        assert mastodon.created == 1

`FaultProxy` puts the same faults in front of a real server (e.g. a Bluesky PDS).
"""

from .base import (
    FakeServer,
    Fault,
    Headers,
    LoopbackServer,
    RateState,
    Recorded,
    Response,
    UploadedFile,
    after_commit_status,
    drop_after_commit,
    drop_before,
    json_response,
    route,
    stall_after_commit,
    status,
    text_response,
)
from .devto import FakeDevto
from .discord import FakeDiscord
from .linkedin import FakeLinkedIn
from .mastodon import FakeMastodon
from .pinterest import FakePinterest
from .proxy import FaultProxy, Forwarded
from .slack import FakeSlack
from .telegram import FakeTelegram
from .x import FakeX
from .youtube import FakeYouTube

__all__ = [
    "FakeDevto",
    "FakeDiscord",
    "FakeLinkedIn",
    "FakeMastodon",
    "FakePinterest",
    "FakeServer",
    "FakeSlack",
    "FakeTelegram",
    "FakeX",
    "FakeYouTube",
    "Fault",
    "FaultProxy",
    "Forwarded",
    "Headers",
    "LoopbackServer",
    "RateState",
    "Recorded",
    "Response",
    "UploadedFile",
    "after_commit_status",
    "drop_after_commit",
    "drop_before",
    "json_response",
    "route",
    "stall_after_commit",
    "status",
    "text_response",
]
