"""Correcting a post after it went out, on LinkedIn (a partial update of `commentary`) and on a
Facebook Page (`POST /{page-post-id}` with `message`), end to end through `cmflow publish`
against the loopback fakes: the edit goes out once when the channel says `on_edit: update`,
is left alone (and flagged) by default, survives a 5xx, and an edit whose answer was lost is
read back, never sent twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeLinkedIn, FakeServer, Fault
from tests.fakes.facebook import FakeFacebook
from tests.fakes.linkedin import shown
from tests.meta import TOKEN as META_TOKEN
from tests.meta import TOKEN_ENV as META_ENV
from tests.publishing import Site, ago, post, site

BODY = "Atelier pâtisserie samedi à 10 h, inscriptions ouvertes. edit-42q"
FIXED = "Atelier pâtisserie samedi à 14 h, inscriptions ouvertes. edit-42q"
DATE = ago(hours=1)
LI_TOKEN = "AQV-linkedin-S3cr3t-edit-token-8c1f"
LI_ENV = "CMFLOW_LINKEDIN_TOKEN"
LI_AUTHOR = "urn:li:organization:2414183"


@dataclass
class Network:
    """One platform under test: its fake, its channel, and how to read what it shows."""

    name: str
    fake: FakeServer
    channel: Callable[..., dict[str, Any]]
    env: dict[str, str]
    edit_path: str  # the path of an edit request (regex)
    error_5xx: dict[str, Any]  # the platform's body for an internal error
    edits: Callable[[], list[dict[str, Any]]]  # the edits the platform applied
    text: Callable[[str], str]  # the text the post shows now, by id
    delete: Callable[[str], None]  # delete a post by hand on the platform
    tokens: set[str]  # the tokens the platform answers as expired

    def make_site(self, tmp_path: Path, **extra: Any) -> Site:
        return site(
            tmp_path / "repo",
            {"net": self.channel(**extra)},
            {"atelier.md": post(["net"], BODY, date=DATE)},
            env=self.env,
            secrets=list(self.env.values()),
        )

    def edit_requests(self) -> int:
        return len(self.fake.requests_to("POST", self.edit_path))


def _linkedin() -> Iterator[Network]:
    with FakeLinkedIn(token=LI_TOKEN, author=LI_AUTHOR) as fake:

        def channel(**extra: Any) -> dict[str, Any]:
            return {
                "platform": "linkedin",
                "base_url": f"{fake.url}/rest",
                "author": LI_AUTHOR,
                "token_env": LI_ENV,
                **extra,
            }

        yield Network(
            "linkedin",
            fake,
            channel,
            {LI_ENV: LI_TOKEN},
            r"^/rest/posts/urn:li:",
            {"status": 500, "code": "INTERNAL_SERVER_ERROR", "message": "Internal Server Error"},
            lambda: fake.edits,
            lambda urn: shown(str(fake.post(urn)["commentary"])) or "",
            fake.delete,
            fake.expired_tokens,
        )
        assert not fake.errors


def _facebook() -> Iterator[Network]:
    with FakeFacebook(token=META_TOKEN) as fake:

        def channel(**extra: Any) -> dict[str, Any]:
            return {
                "platform": "facebook",
                "base_url": f"{fake.url}/v25.0",
                "page_id": fake.page_id,
                "token_env": META_ENV,
                **extra,
            }

        def text(post_id: str) -> str:
            (found,) = [p for p in fake.feed if p["id"] == post_id]
            return str(found["message"])

        yield Network(
            "facebook",
            fake,
            channel,
            {META_ENV: META_TOKEN},
            r"^/v25\.0/[0-9]+_[0-9]+$",
            {
                "error": {
                    "message": "An unexpected error has occurred. Please retry your request later.",
                    "type": "OAuthException",
                    "code": 2,
                    "fbtrace_id": "AhQ9",
                }
            },
            lambda: fake.edits,
            text,
            fake.delete,
            fake.expired,
        )
        assert not fake.errors


@pytest.fixture(params=["linkedin", "facebook"])
def net(request: pytest.FixtureRequest) -> Iterator[Network]:
    yield from (_linkedin() if request.param == "linkedin" else _facebook())


def _shown(net: Network, s: Site) -> tuple[str, str]:
    """The published post's id and the text the platform shows for it now."""
    record = s.record("atelier", "net")
    assert record is not None, "no record"
    post_id = record["parts"][0]["id"]
    return post_id, net.text(post_id)


def test_the_edit_goes_out_once_across_two_runs(tmp_path: Path, net: Network) -> None:
    s = net.make_site(tmp_path, on_edit="update")
    assert s.publish().code == 0
    post_id, before = _shown(net, s)
    assert "10 h" in before and net.fake.created == 1

    s.write_post("atelier.md", post(["net"], FIXED, date=DATE))
    assert "the next publish run sends the change as an edit" in s.run("validate").stdout
    assert s.actions()[("atelier", "net")] == "update"
    first = s.publish()
    assert first.code == 0 and "updated" in first.stdout, first
    assert net.edits() == [{"id": post_id, "text": FIXED}]
    assert _shown(net, s) == (post_id, FIXED)
    record = s.record("atelier", "net")
    assert record is not None and record["state"] == "published"
    assert [h["event"] for h in record["history"]][-1] == "updated"

    again = s.publish()
    assert again.code == 0, again
    assert len(net.edits()) == 1 and net.edit_requests() == 1  # exactly once
    assert net.fake.created == 1  # edited in place, never a second post
    assert s.actions()[("atelier", "net")] == "done"
    s.assert_no_secret()


def test_by_default_the_edit_is_flagged_and_left_alone(tmp_path: Path, net: Network) -> None:
    s = net.make_site(tmp_path)
    assert s.publish().code == 0
    record = s.record("atelier", "net")
    assert record is not None
    url = record["parts"][0]["url"]
    s.write_post("atelier.md", post(["net"], FIXED, date=DATE))
    warned = s.run("validate")
    assert "set `on_edit: update` on net" in warned.stdout and url in warned.stdout, warned
    assert s.actions()[("atelier", "net")] == "done"
    assert s.publish().code == 0
    assert net.edits() == [] and net.edit_requests() == 0
    assert "10 h" in _shown(net, s)[1]


def test_a_5xx_during_the_edit_is_settled_then_sent_once(tmp_path: Path, net: Network) -> None:
    s = net.make_site(tmp_path, on_edit="update")
    assert s.publish().code == 0
    post_id, _ = _shown(net, s)
    s.write_post("atelier.md", post(["net"], FIXED, date=DATE))
    # The server fails before applying anything: the client cannot know it, so the outcome
    # is unknown and nothing is sent again in this run.
    net.fake.inject("POST", net.edit_path, Fault.status(500, net.error_5xx))
    failed = s.publish()
    assert failed.code == 1 and s.state("atelier", "net") == "unknown", failed
    assert net.edits() == [] and net.edit_requests() == 1
    assert s.actions()[("atelier", "net")] == "reconcile"
    # The next run reads the post back, sees the old text, and sends the edit: once.
    settled = s.publish()
    assert settled.code == 0, settled
    assert net.edits() == [{"id": post_id, "text": FIXED}] and net.edit_requests() == 2
    assert s.state("atelier", "net") == "published"
    assert _shown(net, s) == (post_id, FIXED)
    assert s.publish().code == 0 and net.edit_requests() == 2
    assert net.fake.created == 1


def test_an_edit_applied_but_unanswered_is_read_back_not_resent(
    tmp_path: Path, net: Network
) -> None:
    s = net.make_site(tmp_path, on_edit="update")
    assert s.publish().code == 0
    post_id, _ = _shown(net, s)
    s.write_post("atelier.md", post(["net"], FIXED, date=DATE))
    # The platform applies the edit, then the connection drops before the answer.
    net.fake.inject("POST", net.edit_path, Fault.drop_after_commit())
    lost = s.publish()
    assert lost.code == 1 and s.state("atelier", "net") == "unknown", lost
    assert net.edits() == [{"id": post_id, "text": FIXED}] and net.edit_requests() == 1
    settled = s.publish()
    assert settled.code == 0, settled
    assert net.edit_requests() == 1  # read back with a GET, not sent a second time
    assert len(net.edits()) == 1
    assert s.state("atelier", "net") == "published"
    record = s.record("atelier", "net")
    assert record is not None and [h["event"] for h in record["history"]][-1] == "updated"
    assert s.actions()[("atelier", "net")] == "done"


def test_an_edit_of_a_post_deleted_on_the_platform_is_refused_once(
    tmp_path: Path, net: Network
) -> None:
    s = net.make_site(tmp_path, on_edit="update")
    assert s.publish().code == 0
    post_id, _ = _shown(net, s)
    net.delete(post_id)
    s.write_post("atelier.md", post(["net"], FIXED, date=DATE))
    refused = s.publish()
    assert refused.code == 1 and "edit refused" in refused.stdout, refused
    assert "deleted" in refused.stdout
    assert s.state("atelier", "net") == "published"
    assert s.actions()[("atelier", "net")] == "done"  # not retried every run
    assert net.edits() == []


def test_an_edit_refused_for_an_expired_token_goes_out_once_it_is_renewed(
    tmp_path: Path, net: Network
) -> None:
    s = net.make_site(tmp_path, on_edit="update")
    assert s.publish().code == 0
    post_id, _ = _shown(net, s)
    s.write_post("atelier.md", post(["net"], FIXED, date=DATE))
    net.tokens.add(next(iter(net.env.values())))
    refused = s.publish()
    assert refused.code == 1 and "edit not sent" in refused.stdout, refused
    assert s.state("atelier", "net") == "published" and net.edits() == []
    assert s.actions()[("atelier", "net")] == "update"  # the credential, not the edit, was refused
    net.tokens.clear()
    renewed = s.publish()
    assert renewed.code == 0, renewed
    assert net.edits() == [{"id": post_id, "text": FIXED}]
    s.assert_no_secret()
