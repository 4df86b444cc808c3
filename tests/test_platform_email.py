"""The `email` platform (newsletter over SMTP) against a real SMTP server on loopback
(aiosmtpd, tests/fakes/smtp.py): STARTTLS with a certificate the client verifies, AUTH, the
letter parsed back with the standard `email` package, and a connection dropped after DATA
that is never followed by a second send."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import drop_after_commit
from tests.fakes.brevo import FakeBrevo
from tests.fakes.smtp import SMTP_PASSWORD, SMTP_USER, SmtpServer
from tests.media_samples import PNG
from tests.publishing import Site, post, site

USER, PASSWORD = SMTP_USER, SMTP_PASSWORD
USER_ENV, PASSWORD_ENV = "CMFLOW_LETTRE_USER", "CMFLOW_LETTRE_PASSWORD"
LIST = "abonnes@liste.brulerie.example"

BODY = (
    "Bonjour à tous,\n\nNotre **café d'Éthiopie** est arrivé. Réservez-le sur "
    "https://brulerie.example/boutique/ethiopie avant samedi.\n\n- moulu\n- en grains"
)


@pytest.fixture
def server(smtp: SmtpServer) -> SmtpServer:
    return smtp


def letter_channel(server: SmtpServer, **extra: Any) -> dict[str, Any]:
    return {
        "platform": "email",
        "smtp_host": server.host,
        "smtp_port": server.port,
        "security": "starttls",
        "from": "La Brûlerie <lettre@brulerie.example>",
        "to": LIST,
        "username_env": USER_ENV,
        "password_env": PASSWORD_ENV,
        "unsubscribe_url": "https://brulerie.example/desinscription",
        **extra,
    }


def letter_site(
    tmp_path: Path,
    server: SmtpServer,
    posts: dict[str, str],
    password: str = PASSWORD,
    **extra: Any,
) -> Site:
    channels = {"lettre": letter_channel(server, **extra)}
    return site(
        tmp_path / "marque",
        channels,
        posts,
        env={USER_ENV: USER, PASSWORD_ENV: password, "SSL_CERT_FILE": str(server.cert)},
        secrets=[PASSWORD],
        media={"media/ethiopie.png": PNG},
        editorial_line={
            "link_tracking": {
                "domains": ["brulerie.example"],
                "utm_source": "{channel}",
                "utm_medium": "email",
            }
        },
    )


def test_letter_is_sent_once_with_both_parts_headers_and_inline_image(
    tmp_path: Path, server: SmtpServer
) -> None:
    s = letter_site(
        tmp_path,
        server,
        {
            "ethiopie.md": post(
                ["lettre"],
                BODY,
                title="Arrivage : café d'Éthiopie",
                media=[{"path": "media/ethiopie.png", "alt": "Sac de café vert"}],
            )
        },
    )
    run = s.publish()
    assert run.code == 0, run
    assert len(server.received) == 1
    got = server.received[0]
    assert got.encrypted and got.login == USER
    assert got.rcpt_tos == [LIST] and got.mail_from == "lettre@brulerie.example"
    msg = got.message
    record = s.record("ethiopie", "lettre")
    assert record is not None and record["state"] == "published"
    # The Message-ID was chosen in the claim, before sending, and is the one received.
    assert msg["Message-ID"] == record["handles"]["message_id"] == record["parts"][0]["id"]
    assert msg["Subject"] == "Arrivage : café d'Éthiopie"
    assert msg["From"].addresses[0].display_name == "La Brûlerie"
    assert msg["List-Unsubscribe"] == "<https://brulerie.example/desinscription>"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html_part = msg.get_body(("html",))
    assert plain is not None and html_part is not None
    text = plain.get_content()
    assert "café d'Éthiopie" in text and "**" not in text
    assert "utm_source=lettre" in text and "utm_medium=email" in text
    assert "https://brulerie.example/desinscription" in text
    page = html_part.get_content()
    assert (
        "<strong>café d'Éthiopie</strong>" in page
        or "<strong>café d&#x27;Éthiopie</strong>" in page
    )
    assert "<li>moulu</li>" in page and "utm_source=lettre" in page
    related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    image = next(p for p in msg.walk() if p.get_content_type() == "image/png")
    assert image.get_content() == PNG
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in page and 'alt="Sac de café vert"' in page

    again = s.publish()
    assert again.code == 0, again
    assert len(server.received) == 1
    s.assert_no_secret()


def test_images_are_linked_from_media_base_url(tmp_path: Path, server: SmtpServer) -> None:
    s = letter_site(
        tmp_path,
        server,
        {"a.md": post(["lettre"], "Photo du jour", media=[{"path": "media/ethiopie.png"}])},
        media_base_url="https://brulerie.example/media",
    )
    assert s.publish().code == 0
    msg = server.received[0].message
    assert not [p for p in msg.walk() if p.get_content_maintype() == "image"]
    page = msg.get_body(("html",))
    assert page is not None
    assert 'src="https://brulerie.example/media/ethiopie.png"' in page.get_content()
    assert msg["Subject"] == "Photo du jour"


def test_connection_dropped_after_data_goes_to_a_human_and_is_never_resent(
    tmp_path: Path, server: SmtpServer
) -> None:
    s = letter_site(tmp_path, server, {"a.md": post(["lettre"], BODY, title="Arrivage")})
    server.drops = 1
    first = s.publish()
    assert first.code == 1, first
    record = s.record("a", "lettre")
    assert record is not None and record["state"] == "unknown"
    mid = record["handles"]["message_id"]
    assert len(server.with_id(mid)) == 1  # it did arrive: a resend would duplicate it

    second = s.publish()
    assert second.code == 1, second
    record = s.record("a", "lettre")
    assert record is not None and record["state"] == "needs_human"
    assert mid in record["reason"]
    third = s.publish()
    assert third.code == 1 and len(server.received) == 1
    assert s.actions()[("a", "lettre")] == "blocked"

    done = s.run("resolve", "a", "lettre", "--published", mid)
    assert done.code == 0, done
    assert s.state("a", "lettre") == "published"
    s.assert_no_secret()


def test_refused_login_needs_new_credentials_and_sends_nothing(
    tmp_path: Path, server: SmtpServer
) -> None:
    s = letter_site(tmp_path, server, {"a.md": post(["lettre"], BODY)}, password="mauvais-mot")
    run = s.publish()
    assert run.code == 1, run
    record = s.record("a", "lettre")
    assert record is not None and record["state"] == "deferred"
    assert PASSWORD_ENV in record["reason"] and "mauvais-mot" not in run.output
    assert server.received == []


def test_temporary_refusal_before_data_is_retried_later(tmp_path: Path, server: SmtpServer) -> None:
    s = letter_site(tmp_path, server, {"a.md": post(["lettre"], BODY)})
    server.refuse_rcpt = "450 4.2.1 Mailbox busy, try later"
    run = s.publish()
    record = s.record("a", "lettre")
    assert record is not None and record["state"] == "deferred", run
    assert "450" in record["reason"] and server.received == []
    server.refuse_rcpt = None
    again = s.publish()
    assert again.code == 0, again
    assert len(server.received) == 1


def test_untrusted_certificate_is_refused(tmp_path: Path, server: SmtpServer) -> None:
    s = letter_site(tmp_path, server, {"a.md": post(["lettre"], BODY)})
    del s.env["SSL_CERT_FILE"]
    run = s.publish()
    record = s.record("a", "lettre")
    assert run.code == 1 and record is not None and record["state"] == "failed", run
    assert "certificate" in record["reason"] and server.received == []


def test_password_is_never_sent_in_clear(tmp_path: Path, server: SmtpServer) -> None:
    s = letter_site(tmp_path, server, {"a.md": post(["lettre"], BODY)}, security="none")
    run = s.publish()
    record = s.record("a", "lettre")
    assert record is not None and record["state"] == "failed", run
    assert "unencrypted" in record["reason"] and server.received == []


def test_missing_list_address_is_named_by_plan(tmp_path: Path, server: SmtpServer) -> None:
    channel = letter_channel(server)
    del channel["to"]
    s = site(tmp_path / "m", {"lettre": channel}, {"a.md": post(["lettre"], BODY)})
    plan = s.plan()
    action = plan["actions"][0]
    assert action["action"] == "skip" and "`to`" in action["reason"]


# -- provider: brevo (a campaign to lists kept at Brevo) -------------------------------------

BREVO_KEY = "xkeysib-S3cr3t-0123456789abcdef"
BREVO_ENV = "CMFLOW_BREVO_KEY"
CAMPAIGNS = r"^/v3/emailCampaigns$"
SEND = r"^/v3/emailCampaigns/[0-9]+/sendNow$"


@pytest.fixture
def brevo() -> Iterator[FakeBrevo]:
    with FakeBrevo(api_key=BREVO_KEY) as server:
        yield server
        assert not server.errors


def brevo_site(tmp_path: Path, brevo: FakeBrevo, key: str = BREVO_KEY) -> Site:
    channels = {
        "lettre": {
            "platform": "email",
            "provider": "brevo",
            "base_url": f"{brevo.url}/v3",
            "token_env": BREVO_ENV,
            "list_ids": [2, 7],
            "sender": "La Brûlerie <lettre@brulerie.example>",
            "media_base_url": "https://brulerie.example/media",
        }
    }
    return site(
        tmp_path / "marque",
        channels,
        {
            "a.md": post(
                ["lettre"],
                BODY,
                title="Arrivage",
                media=[{"path": "media/ethiopie.png", "alt": "Sac"}],
            )
        },
        env={BREVO_ENV: key},
        secrets=[BREVO_KEY],
        media={"media/ethiopie.png": PNG},
    )


def test_brevo_campaign_is_created_then_sent_once(tmp_path: Path, brevo: FakeBrevo) -> None:
    s = brevo_site(tmp_path, brevo)
    run = s.publish()
    assert run.code == 0, run
    [campaign] = brevo.campaigns.values()
    assert campaign["status"] == "sent" and brevo.created == 1
    assert campaign["recipients"] == {"listIds": [2, 7]}
    assert campaign["sender"] == {"email": "lettre@brulerie.example", "name": "La Brûlerie"}
    assert campaign["subject"] == "Arrivage"
    page = campaign["htmlContent"]
    assert "<strong>café d" in page and "{{ unsubscribe }}" in page
    assert 'src="https://brulerie.example/media/ethiopie.png"' in page
    record = s.record("a", "lettre")
    assert record is not None and record["parts"][0]["id"] == str(campaign["id"])
    assert record["handles"]["part_handles"]["0"]["campaign_id"] == campaign["id"]
    assert brevo.requests_to("POST", CAMPAIGNS)[0].headers["api-key"] == BREVO_KEY
    assert s.publish().code == 0 and brevo.created == 1
    s.assert_no_secret()


def test_brevo_lost_send_answer_is_read_back_not_resent(tmp_path: Path, brevo: FakeBrevo) -> None:
    s = brevo_site(tmp_path, brevo)
    brevo.inject("POST", SEND, drop_after_commit())
    first = s.publish()
    assert first.code == 1 and s.state("a", "lettre") == "unknown", first
    second = s.publish()
    assert second.code == 0, second
    assert s.state("a", "lettre") == "published"
    assert brevo.created == 1 and len(brevo.requests_to("POST", SEND)) == 1


def test_brevo_unsent_draft_is_sent_without_a_second_campaign(
    tmp_path: Path, brevo: FakeBrevo
) -> None:
    s = brevo_site(tmp_path, brevo)
    brevo.inject("POST", CAMPAIGNS, drop_after_commit())  # created, answer lost
    first = s.publish()
    assert s.state("a", "lettre") == "unknown", first
    second = s.publish()
    assert second.code == 0, second
    assert len(brevo.campaigns) == 1 and brevo.created == 1
    assert len(brevo.requests_to("POST", CAMPAIGNS)) == 1


def test_brevo_refused_key_needs_new_credentials(tmp_path: Path, brevo: FakeBrevo) -> None:
    brevo.echo_secrets = True
    s = brevo_site(tmp_path, brevo, key="xkeysib-revoked-000000")
    run = s.publish()
    record = s.record("a", "lettre")
    assert record is not None and record["state"] == "deferred", run
    assert BREVO_ENV in record["reason"] and "xkeysib-revoked" not in run.output
    assert brevo.campaigns == {}
