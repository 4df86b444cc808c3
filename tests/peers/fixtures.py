"""pytest fixtures for the real Bluesky PDS tier.

Use in a test module with::

    from tests.peers.fixtures import bluesky_pds  # noqa: F401

    def test_something(bluesky_pds: BlueskyPeer) -> None:
        ...

The fixture skips (with the reason from ``pds_available()``) when Node or the installed
``node_modules`` are missing, except with ``CMFLOW_REQUIRE_PDS=1``, where it fails instead.
One PDS and one account serve the whole pytest session, even when several modules import
the fixture (pytest builds one fixture per importing module; they share the server).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers.bluesky_pds import (
    PdsServer,
    create_account,
    create_app_password,
    pds_available,
)

HANDLE = "marque.test"
PASSWORD = "marque-main-password-123"
APP_PASSWORD_NAME = "cmflow-tests"


@dataclass(frozen=True)
class BlueskyPeer:
    """A running real PDS with one account ready for cmflow."""

    url: str  # PDS base URL, http://127.0.0.1:PORT
    plc_url: str  # PLC directory base URL
    handle: str  # "marque.test"
    did: str  # did:plc:...
    app_password: str  # what cmflow is configured with (xxxx-xxxx-xxxx-xxxx)
    password: str = field(repr=False)  # the account's main password
    start_seconds: float = 0.0  # how long the server took to come up


def require_pds() -> bool:
    return os.environ.get("CMFLOW_REQUIRE_PDS") == "1"


class _Shared:
    lock = threading.Lock()
    users = 0
    server: PdsServer | None = None
    peer: BlueskyPeer | None = None


def _acquire() -> BlueskyPeer:
    with _Shared.lock:
        if _Shared.peer is None:
            server = PdsServer().start()
            try:
                account = create_account(server.url, HANDLE, PASSWORD)
                app_password = create_app_password(
                    server.url, str(account["accessJwt"]), APP_PASSWORD_NAME
                )
            except BaseException:
                server.stop()
                raise
            _Shared.server = server
            _Shared.peer = BlueskyPeer(
                url=server.url,
                plc_url=server.plc_url,
                handle=str(account["handle"]),
                did=str(account["did"]),
                app_password=app_password,
                password=PASSWORD,
                start_seconds=server.start_seconds or 0.0,
            )
        _Shared.users += 1
        return _Shared.peer


def _release() -> None:
    with _Shared.lock:
        _Shared.users -= 1
        if _Shared.users <= 0:
            _stop_shared()


def _stop_shared() -> None:
    server, _Shared.server, _Shared.peer = _Shared.server, None, None
    _Shared.users = 0
    if server is not None:
        server.stop()


atexit.register(_stop_shared)  # safety net if the session ends abnormally


def skip_unless_pds() -> None:
    """Skip the current test/fixture when the PDS tier cannot run here.

    With ``CMFLOW_REQUIRE_PDS=1`` (CI machines that installed the tier) it fails instead.
    """
    reason = pds_available()
    if reason is not None:
        message = f"Bluesky PDS tier unavailable: {reason}"
        if require_pds():
            pytest.fail(f"{message} (CMFLOW_REQUIRE_PDS=1)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def bluesky_pds() -> Iterator[BlueskyPeer]:
    """A real PDS on 127.0.0.1 with the account ``marque.test`` and an app password."""
    skip_unless_pds()
    peer = _acquire()
    try:
        yield peer
    finally:
        _release()
