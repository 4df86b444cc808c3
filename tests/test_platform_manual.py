"""Reminder channels (`platform: manual`): at the due time the person on duty gets the
ready-to-post text through the brand's Telegram, Discord, Slack or email channel (loopback
fakes and a real SMTP server), exactly once across reruns; the pair then waits until
`cmflow resolve --published URL` or `--skipped` closes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes import FakeSlack, after_commit_status
from tests.fakes.smtp import SMTP_PASSWORD, SMTP_USER, SmtpServer
from tests.media_samples import PNG
from tests.publishing import (
    DISCORD_ENV,
    TELEGRAM_ENV,
    Fakes,
    Site,
    discord_channel,
    own_text,
    post,
    site,
    telegram_channel,
)

FILES = "https://github.com/brulerie/contenu/blob/main"
MEDIA = "https://brulerie.example/media"
BODY = "Nouveau : le café d'Éthiopie est arrivé ☕ Passez le goûter samedi !"
SLACK_ENV = "CMFLOW_EQUIPE_SLACK"


def snap(notify: str, network: str = "snapchat", **extra: Any) -> dict[str, Any]:
    return {
        "platform": "manual",
        "network": network,
        "notify": notify,
        "files_url": FILES,
        "media_base_url": MEDIA,
        **extra,
    }


def brand(
    tmp_path: Path, fakes: Fakes, channels: dict[str, Any], posts: dict[str, str], **kw: Any
) -> Site:
    return site(
        tmp_path / "marque",
        channels,
        posts,
        env=fakes.env() | kw.pop("env", {}),
        secrets=fakes.secrets() + kw.pop("secrets", []),
        media={"media/ethiopie.png": PNG},
        **kw,
    )


def texts(fake: Any) -> list[str]:
    return [own_text(p) for p in fake.posts]


def test_reminder_goes_once_through_telegram_and_resolve_closes_the_pair(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = brand(
        tmp_path,
        fakes,
        {"snap": snap("equipe"), "equipe": telegram_channel(fakes.telegram)},
        {
            "ethiopie.md": post(
                ["snap"], BODY, media=[{"path": "media/ethiopie.png", "alt": "Sac de café"}]
            )
        },
    )
    run = s.publish()
    assert run.code == 0, run
    assert "waiting" in run.stdout
    [text] = texts(fakes.telegram)
    assert "À publier à la main sur Snapchat (snap)" in text
    assert BODY in text and f"({len(BODY)}/250 caractères)" in text
    assert f"{MEDIA}/ethiopie.png (alt : Sac de café)" in text
    assert f"{FILES}/content/ethiopie.md" in text
    assert "cmflow resolve ethiopie snap --published URL" in text
    record = s.record("ethiopie", "snap")
    assert record is not None and record["state"] == "waiting"
    assert s.actions()[("ethiopie", "snap")] == "waiting"

    again = s.publish()
    assert again.code == 0, again
    assert len(fakes.telegram.posts) == 1  # the reminder is never sent twice

    url = "https://www.snapchat.com/add/brulerie/story-1"
    done = s.run("resolve", "ethiopie", "snap", "--published", url)
    assert done.code == 0, done
    record = s.record("ethiopie", "snap")
    assert record is not None and record["state"] == "published"
    assert [(p["id"], p["url"]) for p in record["parts"]] == [("story-1", url)]
    assert record["handles"]["reminder"][0]["id"]  # the reminder's message, kept
    assert s.actions()[("ethiopie", "snap")] == "done"
    assert s.publish().code == 0 and len(fakes.telegram.posts) == 1
    s.assert_no_secret()


def test_long_whatsapp_text_is_split_for_discord_and_skipped_closes_it(
    tmp_path: Path, fakes: Fakes
) -> None:
    long_body = "\n\n".join(f"Paragraphe {i} : " + "mot " * 120 for i in range(6))
    s = brand(
        tmp_path,
        fakes,
        {"wa": snap("equipe", "whatsapp"), "equipe": discord_channel()},
        {"annonce.md": post(["wa"], long_body, title="Annonce")},
    )
    run = s.publish()
    assert run.code == 0, run
    sent = texts(fakes.discord)
    assert len(sent) >= 2 and all(len(t) <= 2000 for t in sent)
    assert "WhatsApp Channels" in sent[0]
    joined = " ".join(" ".join(t.split()) for t in sent)
    assert " ".join(long_body.split()) in joined
    assert s.publish().code == 0 and len(fakes.discord.posts) == len(sent)

    done = s.run("resolve", "annonce", "wa", "--skipped")
    assert done.code == 0, done
    assert s.state("annonce", "wa") == "skipped"
    assert s.actions()[("annonce", "wa")] == "skip"
    assert s.publish().code == 0 and len(fakes.discord.posts) == len(sent)
    s.assert_no_secret()


def test_reminder_with_an_unknown_outcome_is_never_resent(tmp_path: Path, fakes: Fakes) -> None:
    with FakeSlack() as slack:
        s = brand(
            tmp_path,
            fakes,
            {
                "messenger": snap("equipe", "messenger"),
                "equipe": {"platform": "slack", "webhook_env": SLACK_ENV},
            },
            {"a.md": post(["messenger"], BODY)},
            env={SLACK_ENV: slack.webhook_url},
            secrets=[slack.webhook_url],
        )
        slack.inject("POST", r"^/services/", after_commit_status(500, "rollup_error"), times=1)
        first = s.publish()
        assert first.code == 1, first
        assert s.state("a", "messenger") == "unknown"
        second = s.publish()
        assert s.state("a", "messenger") == "needs_human", second
        s.publish()
        assert len(slack.posts) == 1
        s.assert_no_secret()


def test_reminder_by_email_carries_the_claimed_message_id(
    tmp_path: Path, fakes: Fakes, smtp: SmtpServer
) -> None:
    letter = {
        "platform": "email",
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "from": "Cmflow <cm@brulerie.example>",
        "to": "astreinte@brulerie.example",
        "username_env": "CMFLOW_ASTREINTE_USER",
        "password_env": "CMFLOW_ASTREINTE_PASSWORD",
    }
    s = brand(
        tmp_path,
        fakes,
        {"story": snap("astreinte", "instagram-stories"), "astreinte": letter},
        {"a.md": post(["story"], BODY, title="Arrivage", media=[{"path": "media/ethiopie.png"}])},
        env={
            "CMFLOW_ASTREINTE_USER": SMTP_USER,
            "CMFLOW_ASTREINTE_PASSWORD": SMTP_PASSWORD,
            "SSL_CERT_FILE": str(smtp.cert),
        },
        secrets=[SMTP_PASSWORD],
    )
    run = s.publish()
    assert run.code == 0, run
    [got] = smtp.received
    msg = got.message
    record = s.record("a", "story")
    assert record is not None and record["state"] == "waiting"
    assert msg["Message-ID"] == record["handles"]["notify"]["message_id"]
    assert msg["Subject"] == "À publier sur Instagram Stories : Arrivage"
    plain = msg.get_body(("plain",))
    assert plain is not None and BODY in plain.get_content()
    assert s.publish().code == 0 and len(smtp.received) == 1
    s.assert_no_secret()


def test_notify_must_name_a_channel_that_can_carry_a_reminder(tmp_path: Path, fakes: Fakes) -> None:
    s = brand(
        tmp_path,
        fakes,
        {
            "snap": snap("equpe"),
            "story": snap("site", "instagram-stories"),
            "equipe": telegram_channel(fakes.telegram),
            "site": {"platform": "feed"},
        },
        {"a.md": post(["snap"], BODY, media=[{"path": "media/ethiopie.png"}])},
    )
    run = s.run("validate")
    assert run.code == 2, run
    assert "channels.yaml:" in run.output
    assert "notify 'equpe' is not another channel of this brand (did you mean 'equipe'?)" in (
        run.output
    )
    assert "notify 'site' is a Atom feed + site channel, which cannot carry it" in run.output


def test_text_is_counted_against_the_networks_limit(tmp_path: Path, fakes: Fakes) -> None:
    s = brand(
        tmp_path,
        fakes,
        {"snap": snap("equipe"), "equipe": telegram_channel(fakes.telegram)},
        {"a.md": post(["snap"], "x" * 251, media=[{"path": "media/ethiopie.png"}])},
    )
    run = s.run("validate", "--format", "json")
    found = [f for f in run.json()["findings"] if f["level"] == "error"]
    assert [f["rule"] for f in found] == ["channel.max-length"], found
    assert "251/250" in found[0]["message"]


def test_missing_notify_credential_defers_the_reminder(tmp_path: Path, fakes: Fakes) -> None:
    s = brand(
        tmp_path,
        fakes,
        {"snap": snap("equipe"), "equipe": telegram_channel(fakes.telegram)},
        {"a.md": post(["snap"], BODY, media=[{"path": "media/ethiopie.png"}])},
    )
    del s.env[TELEGRAM_ENV]
    run = s.publish()
    assert s.state("a", "snap") == "deferred", run
    assert TELEGRAM_ENV in run.output and fakes.telegram.posts == []
    assert DISCORD_ENV not in run.output


def test_a_brevo_campaign_channel_never_carries_a_reminder(tmp_path: Path, fakes: Fakes) -> None:
    campaign = {
        "platform": "email",
        "provider": "brevo",
        "base_url": "http://127.0.0.1:9/v3",  # never called
        "token_env": "CMFLOW_BREVO_KEY",
        "list_ids": [2],
        "sender": "Marque <lettre@brulerie.example>",
    }
    s = brand(
        tmp_path,
        fakes,
        {"snap": snap("lettre"), "lettre": campaign},
        {"a.md": post(["snap"], BODY, media=[{"path": "media/ethiopie.png"}])},
        env={"CMFLOW_BREVO_KEY": "xkeysib-0000000000"},
    )
    run = s.publish()
    record = s.record("a", "snap")
    assert record is not None and record["state"] == "failed", run
    assert "whole lists" in record["reason"]


def test_plan_lists_waiting_pairs_without_all(tmp_path: Path, fakes: Fakes) -> None:
    s = brand(
        tmp_path,
        fakes,
        {"snap": snap("equipe"), "equipe": telegram_channel(fakes.telegram)},
        {"a.md": post(["snap"], BODY, media=[{"path": "media/ethiopie.png"}])},
    )
    assert s.publish().code == 0
    plan = s.run("plan")
    assert plan.code == 0, plan
    assert "waiting" in plan.stdout and "cmflow resolve a snap --published URL" in plan.stdout


def test_media_links_point_at_the_sites_copy_without_media_base_url(
    tmp_path: Path, fakes: Fakes
) -> None:
    s = brand(
        tmp_path,
        fakes,
        {
            "snap": {"platform": "manual", "network": "snapchat", "notify": "equipe"},
            "equipe": telegram_channel(fakes.telegram),
            "site": {"platform": "feed", "site_url": "https://brulerie.example/actus"},
        },
        {"a.md": post(["snap", "site"], BODY, media=[{"path": "media/ethiopie.png"}])},
    )
    assert s.publish().code == 0
    [text] = [t for t in texts(fakes.telegram)]
    assert "- https://brulerie.example/actus/media/ethiopie.png" in text
    assert "Publication : content/a.md" in text
